/* ca/internal.h: declarations private to the CA core.
 *
 * Index key layout (all integers big-endian, so that byte order is numeric
 * order; a serial is its minimal positive INTEGER content octets, and the
 * length byte in front makes byte order equal numeric order):
 *
 *   'a' name                          -> CA record (JSON)
 *   'x' ca_id:4 slen:1 serial         -> certificate record (binary, below)
 *   'r' ca_id:4 part:4 slen:1 serial  -> revocation entry (revoked certificates
 *                                        only: a CRL rebuild reads one range)
 *   'p' ca_id:4 part:4                -> the partition's CDP URI, byte for byte
 *   'u' ca_id:4 uri                   -> part:4 (imported CDPs)
 *   'i' ca_id:4 key                   -> idempotency: sha256(request):32 serial
 *   'o' seq:8                         -> operations-log record (JSON)
 *   'R' ca_id:4                        -> the CA's OCSP responder certificate (DER)
 *   'C' name                          -> admin API credential (JSON, ca/cred.c)
 *   'd' ca_id:4 part:4                -> u64: a number that grows with every change
 *                                        to the partition's revocation entries,
 *                                        written with them (a CRL records the
 *                                        one it was built from: key_part_change)
 *   'm' "next_ca_id"                  -> u32
 *   'm' "audit_head"                  -> seq:8 sha256:32 of the last 'o' record,
 *                                        written with it (ca/audit.c)
 */
#ifndef REVD_CA_INTERNAL_H
#define REVD_CA_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/store.h"
#include "common/hex.h"

#define K_CA 'a'
#define K_CERT 'x'
#define K_REVOKED 'r'
#define K_PART 'p'
#define K_EXTCDP 'u'
#define K_IDEM 'i'
#define K_OPLOG 'o'
#define K_META 'm'
#define K_RESPONDER 'R'
#define K_RESP 's'
#define K_PART_CHANGE 'd'

/* The largest key: 'r' + 4 + 4 + 1 + 21. */
#define KEY_MAX 64

struct ca {
    uint32_t id;
    char name[CA_NAME_MAX + 1];
    char parent[CA_NAME_MAX + 1]; /* "" root; "(external)" imported */
    enum ca_state state;
    enum ca_key_type key_type;
    char base_url[256];
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
    EVP_PKEY *key; /* loaded on first use */
    uint64_t slots; /* certificates bound to numbered partitions */
    uint64_t issued, revoked, held, imported;
    uint32_t next_ext_part; /* next partition number for an imported CDP */
    struct ca_responder *responder; /* loaded on first use (ca/responder.c) */
    int64_t purge_at;               /* deleted: the end of the restore window */
    enum ca_state state_before;     /* deleted: the state ca_restore gives back */
};

/* core_ca_publishes: whether ca's OCSP responses and CRLs are served at now
 * (it has a certificate, and is not purged nor past its restore window). */
int core_ca_publishes(const struct ca *ca, int64_t now);

struct ca_core {
    char *dir;
    struct store *st;
    struct ca **cas;
    size_t num_cas;
    uint32_t next_ca_id;
    uint64_t oplog_seq;      /* last given out */
    uint64_t responder_epoch; /* grows with every responder issued (ca_responder_epoch) */
    uint64_t oplog_durable;  /* last written */
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
    /* What changed in what is published, since ca_take_changes last ran. */
    struct ca_change *changes;
    size_t num_changes, cap_changes;
    int changes_full;
    int sign_threads; /* threads that sign OCSP responses in bulk (ca_ocsp_set_threads) */
    int64_t backdate; /* thisUpdate this long before the signature (ca_ocsp_set_backdate) */
};

/* core_changed notes that serial of ca has a new status (its responses
 * must be re-signed); core_changed_all that everything must be. */
void core_changed(struct ca_core *c, const struct ca *ca, const uint8_t *serial, size_t slen);
void core_changed_all(struct ca_core *c);

/* Certificate record, version 1:
 *   u8 version, u8 status, u8 reason, u8 flags, u32 partition,
 *   i64 not_before, i64 not_after, i64 revoked_at, i64 invalidity,
 *   u8 template_len, template, u32 der_len, der */
#define CREC_FIXED 40
#define CREC_F_IMPORTED 1
#define CREC_F_CA 2
#define CREC_F_INVALIDITY 4

struct crec {
    uint8_t status, reason, flags;
    uint32_t partition;
    int64_t not_before, not_after, revoked_at, invalidity;
    char template_name[32];
    const uint8_t *der; /* view into the encoded record */
    uint32_t der_len;
};

/* crec_encode returns a malloc'd record in *out. crec_decode parses one
 * strictly; der points into p. Both return 1/0. */
int crec_encode(const struct crec *r, uint8_t **out, size_t *out_len);
int crec_decode(const uint8_t *p, size_t len, struct crec *out);

/* The revocation entry value: i64 revoked_at, u8 reason, u8 has_invalidity,
 * i64 invalidity, i64 not_after (the certificate's: it leaves the CRL once
 * expired). Entries written before not_after was kept are 18 octets. */
#define REV_VALUE_LEN_V1 18
#define REV_VALUE_LEN 26
void rev_value_encode(const struct crec *r, uint8_t out[REV_VALUE_LEN]);

size_t key_cert(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen);
size_t key_revoked(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part, const uint8_t *serial,
                   size_t slen);
size_t key_part(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part);
/* key_part_change: the partition's change number ('d'); core_part_change
 * reads it (0: never changed since this key exists). */
size_t key_part_change(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part);
int core_part_change(struct ca_core *c, uint32_t ca_id, uint32_t part, uint64_t *out, struct rerr *e);
/* key_resp: the signed OCSP responses of a certificate (encoded by
 * ocsp/precompute.c, written through ca/view.c). */
size_t key_resp(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen);

void put_u32(uint8_t *p, uint32_t v);
uint32_t get_u32(const uint8_t *p);
void put_u64(uint8_t *p, uint64_t v);
uint64_t get_u64(const uint8_t *p);

struct ca *core_find(const struct ca_core *c, const char *name);
/* core_find_or_err finds name, or sets e to say there is no such CA. */
struct ca *core_find_or_err(const struct ca_core *c, const char *name, struct rerr *e);

/* core_put_ca adds the CA record to b. */
int core_put_ca(struct ca_core *c, struct store_batch *b, const struct ca *ca);

/* core_oplog adds an operations-log record to b: time, op, CA, serial (may
 * be NULL), params (a JSON object it takes ownership of, may be NULL) and
 * result ("ok" or the error). */
void core_oplog(struct ca_core *c, struct store_batch *b, const char *op, const char *ca,
                const uint8_t *serial, size_t slen, json_t *params, const char *result);

/* core_event_pending queues the event an operations-log record (just
 * encoded, so c->oplog_seq is its seq) makes, if any; core_events_flush
 * writes the queue when durable, and empties it. */
void core_event_pending(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial, size_t slen,
                        json_t *params);
void core_events_flush(struct ca_core *c, int durable);

/* core_oplog_rollback forgets the records given out since the last
 * successful write (it failed); core_oplog_written makes them the durable
 * ones. core_oplog_head fills the 'm' "audit_head" key and value for the
 * last record given out; returns the key length. */
void core_oplog_rollback(struct ca_core *c);
void core_oplog_written(struct ca_core *c);
#define AUDIT_HEAD_LEN 40
size_t core_oplog_head(const struct ca_core *c, uint8_t key[16], uint8_t val[AUDIT_HEAD_LEN]);

/* core_oplog_encode is core_oplog's record: it fills key and returns the
 * malloc'd JSON value (takes params). core_ca_encode likewise for a CA record. */
char *core_oplog_encode(struct ca_core *c, uint8_t key[9], const char *op, const char *ca,
                        const uint8_t *serial, size_t slen, json_t *params, const char *result);
char *core_ca_encode(const struct ca *ca, uint8_t key[1 + CA_NAME_MAX], size_t *key_len);

/* core_chain_unrevoked: 1 when no certificate on the path from ca up to
 * the top of DIR is revoked or on hold at its parent; else 0 with e set. */
int core_chain_unrevoked(struct ca_core *c, const struct ca *ca, struct rerr *e);

/* core_commit writes b synced. On failure the log sequence numbers it gave
 * out are taken back, so the log stays gap-free. Returns 1, or 0 with e set. */
int core_commit(struct ca_core *c, struct store_batch *b, struct rerr *e);

/* core_oplog_failure writes a failed operation's record on its own. */
void core_oplog_failure(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial,
                        size_t slen, json_t *params, const struct rerr *why);

/* core_ca_key loads (once) the CA's private key from DIR/keys. */
EVP_PKEY *core_ca_key(struct ca_core *c, struct ca *ca, struct rerr *e);

/* core_partition_url writes the CDP of partition part of ca. */
int core_partition_url(const struct ca *ca, uint32_t part, char out[256]);

/* core_default_partition_size: the most certificates whose fully revoked CRL
 * (every entry with a reason and an invalidity date) stays within max_bytes. */
uint32_t core_default_partition_size(uint32_t max_bytes, size_t issuer_name_len, size_t url_len,
                                     enum ca_key_type key);

/* core_new_serial draws a 16-octet positive serial unused in ca. */
int core_new_serial(struct ca_core *c, const struct ca *ca, uint8_t out[16], struct rerr *e);

const EVP_MD *core_sig_md(enum ca_key_type t);

/* core_asn1_time converts an ASN1_TIME to Unix seconds (0 if unreadable). */
int64_t core_asn1_time(const ASN1_TIME *t);

/* core_add_ca takes ownership of ca; core_ca_free frees one not added. */
void core_add_ca(struct ca_core *c, struct ca *ca);
void core_ca_free(struct ca *ca);
struct ca_responder;
void core_responder_free(struct ca_responder *r);

/* core_responder_retire: when serial is that of ca's current OCSP
 * responder, issues a new responder now (its own synced write) and marks
 * every response to be signed again (core_changed_all); *retired says
 * whether it did. Called by a revocation before it is written. CA-core
 * thread. Returns 1, or 0 with e set (nothing retired). */
int core_responder_retire(struct ca_core *c, struct ca *ca, const uint8_t *serial, size_t slen, int *retired,
                          struct rerr *e);

/* certbuild: one X.509 certificate, built and signed. Borrowed pointers. */
#define CB_KU_DIGITAL_SIGNATURE 1
#define CB_KU_KEY_ENCIPHERMENT 2
#define CB_KU_KEY_CERT_SIGN 4
#define CB_KU_CRL_SIGN 8

struct certbuild {
    X509_NAME *subject;
    EVP_PKEY *pubkey;         /* used when spki is NULL */
    X509_PUBKEY *spki;        /* copied as it is (no re-encoding): the CSR's */
    const uint8_t *serial;
    size_t serial_len;
    int64_t not_before, not_after;
    X509 *issuer_cert; /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    enum ca_key_type issuer_type;
    int is_ca, path_len; /* path_len -1: none */
    int ku;
    const char *eku; /* "serverAuth,clientAuth"; NULL: none */
    int ocsp_nocheck;
    const char *cdp, *ocsp_url, *ca_issuers_url; /* NULL: omitted */
    GENERAL_NAMES *san;
    STACK_OF(X509_EXTENSION) *extra; /* passthrough: added as they are */
};

/* certbuild_sign returns the signed certificate, or NULL with e set. */
X509 *certbuild_sign(const struct certbuild *b, struct rerr *e);

/* subject_parse reads "/CN=x/O=y" into a new X509_NAME (caller frees). */
X509_NAME *subject_parse(const char *s, struct rerr *e);

/* csr_parse_check parses a CSR (PEM or DER, at most 64 KiB), checks its key
 * (RSA 2048..16384, EC P-256/P-384/P-521, Ed25519) and its self-signature.
 * Returns the request (caller frees) and sets *is_rsa, or NULL with e set. */
X509_REQ *csr_parse_check(const uint8_t *p, size_t len, int *is_rsa, struct rerr *e);

/* san_parse reads "DNS:x,IP:y,email:z,URI:u" (at most 100 names) into new
 * GENERAL_NAMES (caller frees), or NULL with e set. */
GENERAL_NAMES *san_parse(const char *s, struct rerr *e);

/* x509_pem returns a malloc'd PEM string of x; der_to_pem wraps DER
 * certificate bytes as PEM without parsing them. */
char *x509_pem(X509 *x);
char *der_to_pem(const uint8_t *der, size_t len);

#endif
