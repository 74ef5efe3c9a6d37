/* core: the CA core's state, the bottom of ca/: struct ca_core (DIR, the
 * index, the CAs, the operations log's position, the keys' secrets) and
 * struct ca (one CA record, loaded). Finding a CA, the public getters of
 * ca.h (ca_count, ca_info_*, ca_core_dir, ca_notice) and the names of key
 * types and states live here; opening and freeing a core is ca/open.c.
 *
 * It calls no other unit of ca/: a CA's OCSP responder (ca/responder.c) is
 * freed through the hook the responder unit sets with it (responder_free),
 * so that the bottom never names the units above it.
 *
 * Ownership: struct ca_core owns its CAs (core_add_ca); a CA owns its
 * strings, certificate, key and responder. Thread: the CA-core thread
 * (nothing here locks). */
#ifndef REVD_CA_CORE_H
#define REVD_CA_CORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "common/rerr.h"
#include "common/urls.h"

struct store;
struct ca_responder;

struct ca {
    uint32_t id;
    char name[CA_NAME_MAX + 1];
    char parent[CA_NAME_MAX + 1]; /* "" root; "(external)" imported */
    enum ca_state state;
    enum ca_key_type key_type;
    char base_url[URLS_MAX];
    uint32_t partition_size; /* 0 when complete_crl */
    int complete_crl;
    uint32_t crl_max_bytes;
    int depth;    /* 1: root */
    int path_len; /* -1: unconstrained */
    int64_t created, not_before, not_after;
    char *subject;
    char *cert_pem;  /* NULL while pending */
    char *chain_pem; /* parents up to the root; "" for a root */
    char *cert_path;
    X509 *cert;
    EVP_PKEY *key; /* loaded on first use (ca/keyring.c) */
    uint64_t slots; /* certificates bound to numbered partitions */
    uint64_t issued, revoked, held, imported;
    uint32_t next_ext_part; /* next partition number for an imported CDP */
    struct ca_responder *responder; /* loaded on first use (ca/responder.c) */
    /* Frees responder: set by ca/responder.c with responder (NULL while
     * responder is NULL), so that core_ca_free need not call up into it. */
    void (*responder_free)(struct ca_responder *r);
    int64_t purge_at;               /* deleted: the end of the restore window */
    enum ca_state state_before;     /* deleted: the state ca_restore gives back */
};

struct ca_core {
    char *dir;
    struct store *st;
    struct ca **cas;
    size_t num_cas;
    uint32_t next_ca_id;
    uint64_t oplog_seq;      /* last given out */
    uint64_t responder_epoch; /* grows with every responder issued (ca_responder_epoch) */
    uint64_t oplog_durable;  /* last written */
    uint64_t chlog_seq, chlog_durable; /* the change log (ca/chlog.c): last given out, last written */
    /* The SHA-256 of the last record given out, and of the last written:
     * each record carries its predecessor's (ca/audit.c). */
    uint8_t oplog_hash[32], oplog_hash_durable[32];
    char principal[128], source[160]; /* who asks, and from where (ca_set_actor) */
    /* Events (ca/events.c): the file, and the lines of records not yet durable. */
    char events_path[PATH_MAX];
    int events_fd; /* -1: opened on the next event */
    uint64_t events_failures;
    char *ev_pending;
    size_t ev_pending_len;
    char *passphrase; /* NULL: keys are written in the clear (ca/keyfile.c); cleansed when freed */
    size_t passphrase_len;
    char *old_passphrase; /* during ca_rekey: keys not yet rewritten open with it */
    size_t old_passphrase_len;
    char *p11_module, *p11_pin; /* keys in a PKCS#11 token (ca/pkcs11.c); the PIN cleansed when freed */
    int p11_used;               /* a token key was loaded: the engine goes with the core. Not after
                                   a failed load only: libp11 0.4.12's finish then orphans what the
                                   failed search allocated (LeakSanitizer), while the engine left
                                   to OpenSSL's exit frees it */
    char notice[768];   /* what the last call also did, for the user */
    /* What changed in what is published, since ca_take_changes last ran (ca/changes.c). */
    struct ca_change *changes;
    size_t num_changes, cap_changes;
    int changes_full;
    int sign_threads; /* threads that sign OCSP responses in bulk (ca_ocsp_set_threads) */
    int64_t backdate; /* thisUpdate this long before the signature (ca_ocsp_set_backdate) */
};

/* core_find returns the CA named name (borrowed), or NULL: not found is a
 * result. core_find_or_err is the same, with e set to say there is no such
 * CA when there is none. */
struct ca *core_find(const struct ca_core *c, const char *name);
struct ca *core_find_or_err(const struct ca_core *c, const char *name, struct rerr *e);

/* core_ca_publishes: whether ca's OCSP responses and CRLs are served at now
 * (it has a certificate, and is not purged nor past its restore window). */
int core_ca_publishes(const struct ca *ca, int64_t now);

/* core_add_ca takes ownership of ca (aborts when out of memory: the CA is
 * already written). core_ca_free frees one not added (NULL is fine);
 * core_ca_drop_responder frees ca's responder, if any, and forgets it. */
void core_add_ca(struct ca_core *c, struct ca *ca);
void core_ca_free(struct ca *ca);
void core_ca_drop_responder(struct ca *ca);

/* core_state_parse reads a state's name (ca_state_name); anything unknown
 * is CA_STATE_PENDING. */
enum ca_state core_state_parse(const char *s);

#endif
