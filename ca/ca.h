/* ca: the CA core. It owns DIR: the revocation index (RocksDB, DIR/index),
 * the CA keys (DIR/keys, mode 0600) and the CA certificate files (DIR/ca).
 * It is the index's only writer; every fact it acknowledges is on disk
 * (synced WAL) before the call returns, together with its operations-log
 * record, in one atomic batch.
 *
 * Thread: one thread at a time per ca_core (the CA-core thread of
 * `revd serve`, or the command line's main thread). Nothing here is called
 * from a shard. Private keys never leave this folder.
 *
 * Returns: 1 on success, 0 on failure with e set to a message for the user. */
#ifndef REVD_CA_CA_H
#define REVD_CA_CA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/hex.h"
#include "common/rerr.h"
#include "common/urls.h"

#define CA_NAME_MAX 64
#define CA_MAX_DEPTH 5
/* A --complete-crl CA refuses to issue past this many certificates. */
#define CA_COMPLETE_CRL_MAX 1000000
#define CA_DEFAULT_CRL_MAX_BYTES 1000000

struct ca_core;

enum ca_key_type { CA_KEY_EC_P256, CA_KEY_EC_P384, CA_KEY_RSA_2048, CA_KEY_RSA_3072, CA_KEY_RSA_4096 };
/* deleted: issues nothing, still publishes until purge_at (the restore
 * window); purged: its keys destroyed, publishes nothing, its records kept. */
enum ca_state { CA_STATE_ACTIVE, CA_STATE_DISABLED, CA_STATE_PENDING, CA_STATE_DELETED, CA_STATE_PURGED };
enum cert_status { CERT_GOOD = 0, CERT_REVOKED = 1 };

int ca_key_type_parse(const char *s, enum ca_key_type *out);
const char *ca_key_type_name(enum ca_key_type t);
const char *ca_state_name(enum ca_state s);

/* ca_name_valid: 1 to 64 of [a-z0-9._-], starting with a letter or digit. */
int ca_name_valid(const char *name, struct rerr *e);

/* ca_core_open opens DIR (create=1 makes it, and its index, if absent).
 * *out is freed with ca_core_free. */
int ca_core_open(const char *dir, int create, struct ca_core **out, struct rerr *e);
void ca_core_free(struct ca_core *c);
const char *ca_core_dir(const struct ca_core *c);

/* Name constraints (RFC 5280 4.2.1.10) of a subordinate CA: at most
 * CA_NC_MAX of each kind. DNS: a domain ("example.test": it and every name
 * under it; ".example.test": only names under it). IP: a prefix
 * ("192.0.2.0/24", "2001:db8::/32"; host bits past the prefix refused).
 * Refusals of an issuance for them start with CA_NC_REASON ": ". */
#define CA_NC_MAX 64
#define CA_NC_REASON "PCA_NAME_CONSTRAINTS_VALIDATION"
enum ca_nc_kind { CA_NC_PERMIT_DNS, CA_NC_EXCLUDE_DNS, CA_NC_PERMIT_IP, CA_NC_EXCLUDE_IP, CA_NC_KINDS };
/* ca_nc_kind_name: "permit-dns", "exclude-dns", "permit-ip", "exclude-ip". */
const char *ca_nc_kind_name(enum ca_nc_kind k);

struct ca_create_params {
    const char *name;
    const char *parent;      /* NULL: self-signed root */
    const char *subject;     /* "/CN=.../O=..." */
    enum ca_key_type key;
    int days;                /* 0: default (root 3650, sub 1825, clamped to the parent) */
    const char *base_url;    /* NULL: http://127.0.0.1:8080 */
    uint32_t partition_size; /* 0: the default for crl_max_bytes */
    int complete_crl;
    uint32_t crl_max_bytes;  /* 0: CA_DEFAULT_CRL_MAX_BYTES */
    int path_len;            /* -1: root none, sub 0 */
    const char *key_uri;     /* non-NULL: the CA key is this object in a PKCS#11 token (ca/pkcs11.h),
                                 and key is taken from it */
    /* name constraints (subordinates only): nc[k][0..num_nc[k]) borrowed;
     * num_nc[k] > CA_NC_MAX is refused without reading nc[k] */
    const char *const *nc[CA_NC_KINDS];
    size_t num_nc[CA_NC_KINDS];
};

/* ca_create makes a root (parent NULL) or a subordinate of a CA in DIR. */
int ca_create(struct ca_core *c, const struct ca_create_params *p, struct rerr *e);

/* ca_csr makes the key of a CA whose parent is outside revd and returns its
 * CSR as PEM in *out_pem (malloc'd; caller frees). The CA is pending until
 * ca_import_cert. Uses name, subject, key, base_url and the CRL options. */
int ca_csr(struct ca_core *c, const struct ca_create_params *p, char **out_pem, struct rerr *e);

/* ca_import_cert activates a pending CA with the certificate its outside
 * parent signed (PEM or DER) and that parent's chain (PEM, ending in a root). */
int ca_import_cert(struct ca_core *c, const char *name, const uint8_t *cert, size_t cert_len,
                   const uint8_t *chain, size_t chain_len, struct rerr *e);

int ca_set_enabled(struct ca_core *c, const char *name, int enabled, struct rerr *e);

struct ca_recertify_params {
    const char *name;
    int days; /* 0: default (root 3650, sub 1825, clamped to the parent) */
    /* new name constraints (a subordinate); none given: the old
     * certificate's are kept. As in struct ca_create_params. */
    const char *const *nc[CA_NC_KINDS];
    size_t num_nc[CA_NC_KINDS];
};

/* ca_recertify gives CA name a new certificate for the same key and
 * subject, from its parent in DIR (a root: self-signed), with a new
 * validity and, when given, new name constraints; certificates it issued
 * still verify under it, and its CRLs and OCSP responses (same name, same
 * key) stay valid. The old certificate stays in the parent's records and
 * is copied to DIR/ca/archive/NAME-SERIAL.pem; the chains of the CAs
 * under it are rebuilt on the new one. Refused for a pending, deleted or
 * purged CA and one whose parent is outside revd. */
int ca_recertify(struct ca_core *c, const struct ca_recertify_params *p, struct rerr *e);

/* ca_bundle_pem: the certificate of CA name and those of its parents up to
 * the root, root last, as PEM in *out_pem (malloc'd; caller frees), and
 * how many certificates in *num. */
int ca_bundle_pem(const struct ca_core *c, const char *name, char **out_pem, int *num, struct rerr *e);

/* ca_delete deletes a CA with a restore window of restore_days (7 to
 * 3650): it issues nothing from now on, its status stays published (and
 * revocable) until the window ends, then ca_purge_due destroys its keys.
 * Refused while a CA under it is not deleted. */
#define CA_RESTORE_DAYS_MIN 7
#define CA_RESTORE_DAYS_MAX 3650
int ca_delete(struct ca_core *c, const char *name, int restore_days, struct rerr *e);

/* ca_restore undoes ca_delete within the window: the CA is as it was. */
int ca_restore(struct ca_core *c, const char *name, struct rerr *e);

/* ca_purge_due purges every deleted CA whose window ended by now: its key
 * files (CA and OCSP responder) are removed, it publishes nothing more;
 * its records and audit log stay. *purged: how many. */
int ca_purge_due(struct ca_core *c, int64_t now, size_t *purged, struct rerr *e);

struct ca_info {
    const char *name, *parent, *subject, *base_url, *cert_path;
    enum ca_state state;
    enum ca_key_type key;
    int depth, path_len, complete_crl;
    uint32_t partition_size, crl_max_bytes;
    int64_t not_before, not_after;
    uint64_t issued, revoked, held, imported;
    int64_t purge_at; /* deleted: when the restore window ends */
    int publishes;    /* its OCSP responses and CRLs are served now */
};

/* ca_count / ca_info_at enumerate the CAs in creation order; ca_info_get
 * finds one by name. The strings stay valid until the next call that changes
 * the core. */
size_t ca_count(const struct ca_core *c);
void ca_info_at(const struct ca_core *c, size_t i, struct ca_info *out);
int ca_info_get(const struct ca_core *c, const char *name, struct ca_info *out, struct rerr *e);

/* ca_info_json: a CA as the CLI (`ca list --json`, `ca show --json`) and
 * the admin API show it: a new object, with restore_until when deleted and,
 * with with_path, the certificate's path in DIR (not for remote callers). */
json_t *ca_info_json(const struct ca_info *i, int with_path);

struct ca_issue_params {
    const char *ca;
    const char *template_name; /* NULL: end-entity */
    const uint8_t *csr;        /* PEM or DER */
    size_t csr_len;
    int64_t validity;          /* seconds; 0: default (90 days) */
    const char *san;           /* NULL: the CSR's; else "DNS:x,IP:y,email:z,URI:u" */
    const char *idempotency_key;
    int path_len;              /* sub-ca template; -1: 0 */
    int with_chain;
};

/* ca_issue issues a certificate from a CSR. *out_pem (malloc'd) holds the
 * certificate, and with with_chain the issuing CA and its parents short of
 * the root. The certificate is in the index when this returns. */
int ca_issue(struct ca_core *c, const struct ca_issue_params *p, char **out_pem, struct rerr *e);

/* ca_name_allowed: 1 when a certificate of CA ca may carry the name (type
 * "dns" or "ip", value "www.example.test" / "*.example.test" / "192.0.2.1"
 * / an IPv6 literal) under the name constraints of ca and of its ancestors
 * in DIR (read from each CA certificate's nameConstraints extension); 0
 * with e set ("PCA_NAME_CONSTRAINTS_VALIDATION: ..."; also for a value
 * that is no DNS name or IP address); -1 when ca is unknown (e set).
 * ca_issue applies the same check to every dNSName and iPAddress it would
 * issue, and to a subject CN that is a DNS name or an IP address.
 * CA-core thread. */
int ca_name_allowed(struct ca_core *c, const char *ca, const char *type, const char *value, struct rerr *e);

/* A serial as INTEGER content octets. */
struct ca_serial {
    uint8_t bytes[HEX_SERIAL_MAX + 1];
    size_t len;
};

/* ca_revoke_many revokes serials[0..n) of CA ca with one reason, in one
 * atomic, synced write: all of them or none (a serial the CA never issued,
 * one already revoked, a CA certificate, a serial listed twice: nothing is
 * revoked, and e names it). One log record per certificate. At most
 * CA_REVOKE_MANY_MAX serials. */
#define CA_REVOKE_MANY_MAX 200000
int ca_revoke_many(struct ca_core *c, const char *ca, const struct ca_serial *serials, size_t n, int reason,
                   int64_t invalidity, struct rerr *e);

/* ca_revoke revokes serial with an RFC 5280 reason; invalidity 0: none.
 * A revoked certificate stays revoked; one on hold may be revoked for good.
 * Revoking the certificate of a CA in DIR (through its parent) also
 * disables that CA, in the same write (see ca_notice). */
int ca_revoke(struct ca_core *c, const char *ca, const uint8_t *serial, size_t serial_len,
              int reason, int64_t invalidity, struct rerr *e);

/* ca_notice returns what the last successful call also did that the user
 * should hear of (e.g. "CA x is now disabled: ..."), or "" . */
const char *ca_notice(const struct ca_core *c);

/* ca_unhold releases a certificateHold; any other revocation is refused. */
int ca_unhold(struct ca_core *c, const char *ca, const uint8_t *serial, size_t serial_len,
              struct rerr *e);

struct ca_cert_status {
    int found;
    enum cert_status status;
    int reason;
    int64_t revoked_at, invalidity, not_before, not_after;
    uint32_t partition;
    char crl_url[URLS_MAX];
};

/* ca_cert_pem: the certificate with this serial (PEM, malloc'd in *pem).
 * Returns 1, 0 when the CA never issued it (e says so; imported
 * certificates have no certificate bytes: 0 too), -1 on an index error. */
int ca_cert_pem(struct ca_core *c, const char *ca, const uint8_t *serial, size_t serial_len, char **pem,
                struct rerr *e);

/* ca_status: found=0 for a serial this CA never issued (not an error). */
int ca_status(struct ca_core *c, const char *ca, const uint8_t *serial, size_t serial_len,
              struct ca_cert_status *out, struct rerr *e);

struct ca_report_row {
    const uint8_t *serial;
    size_t serial_len;
    const char *subject;  /* "" when unknown (imported) */
    const char *sans;     /* "DNS:a;IP:b" */
    const char *template_name;
    int64_t not_before, not_after, revoked_at;
    int revoked, reason;
    uint32_t partition;
};

/* ca_report calls cb for every certificate of ca, in serial order, that was
 * issued or revoked at or after since (0: all). cb returns 1 to go on. */
int ca_report(struct ca_core *c, const char *ca, int64_t since,
              int (*cb)(void *arg, const struct ca_report_row *row), void *arg, struct rerr *e);

struct ca_import_result {
    uint64_t rows, revoked;
    double seconds;
};

/* The rows ca_import_csv sorts in memory at a time by default (48 bytes a
 * row, 16 more while sorting: about 256 MB); a larger file is sorted in
 * runs on disk, under DIR/import.tmp.PID (about 50 bytes a row). */
#define CA_IMPORT_CHUNK_ROWS 4000000
#define CA_IMPORT_CHUNK_ROWS_MAX 200000000

/* ca_import_csv loads an inventory (docs/cli.md) from path, in memory
 * bounded by chunk_rows (0: CA_IMPORT_CHUNK_ROWS), not by the file. The
 * file is parsed and checked whole before anything is written to the
 * index; progress lines go to progress (may be NULL). */
int ca_import_csv(struct ca_core *c, const char *ca, const char *path, size_t chunk_rows, FILE *progress,
                  struct ca_import_result *out, struct rerr *e);

struct ca_change {
    char ca[CA_NAME_MAX + 1];
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t serial_len;
};

/* ca_take_changes hands over what changed in the published status since
 * its last call: *out (malloc'd, caller frees; may be NULL) holds *num
 * certificates whose status changed. Returns 1 when the change is larger
 * than that (a new CA, a bulk import, too many to list): then everything
 * is to be re-published. */
int ca_take_changes(struct ca_core *c, struct ca_change **out, size_t *num);

/* ca_oplog calls cb with every operations-log record (JSON text, len bytes)
 * from sequence number from_seq on, in order. cb returns 1 to go on. */
int ca_oplog(struct ca_core *c, uint64_t from_seq,
             int (*cb)(void *arg, uint64_t seq, const char *json, size_t len), void *arg,
             struct rerr *e);

/* ca_set_passphrase: the passphrase private keys are encrypted with at
 * rest (ca/keyfile.h), copied (at least 12 bytes, at most 1024; a final
 * newline is not part of it). Keys written from now on are encrypted;
 * existing plain keys stay so until ca_encrypt_keys. */
#define CA_PASSPHRASE_MIN 12
int ca_set_passphrase(struct ca_core *c, const char *pass, size_t len, struct rerr *e);

/* ca_set_pkcs11: the PKCS#11 module (an absolute path; NULL: the engine's
 * default) and the user PIN (len bytes, a final newline dropped; NULL: none)
 * with which keys kept in a token are loaded (ca/pkcs11.h), copied. */
int ca_set_pkcs11(struct ca_core *c, const char *module, const char *pin, size_t len, struct rerr *e);

/* ca_encrypt_keys rewrites every plain private key of DIR (DIR/keys,
 * DIR/admin) encrypted with the passphrase; *done and *already count them. */
int ca_encrypt_keys(struct ca_core *c, size_t *done, size_t *already, struct rerr *e);

/* ca_rekey rewrites every private key of DIR encrypted with new_pass (12
 * to 1024 bytes), reading each with the current passphrase (or in the
 * clear). Each file is replaced atomically; keys are read with the new
 * passphrase first, then the current one, so that a run cut short is
 * finished by running it again. The new passphrase is the core's after. */
int ca_rekey(struct ca_core *c, const char *new_pass, size_t new_len, size_t *done, struct rerr *e);

/* ca_reload_keys re-reads the private key of every CA that has a
 * certificate from DIR/keys (a key replaced on disk, a restored backup),
 * and drops the cached OCSP responders (re-read from the index on next
 * use). A key that does not load or does not match its certificate is
 * reported through problem (if not NULL) and the CA keeps the key it had.
 * Returns the number of keys loaded. */
size_t ca_reload_keys(struct ca_core *c, void (*problem)(void *arg, const char *msg), void *arg);

/* ---- events (ca/events.c) ----
 * One JSON object per line, appended to DIR/events.jsonl: time, type,
 * severity (0 info, 1-39 low, 40-69 medium, 70-89 high, 90-100 critical)
 * and its level word, ca, serial, principal, details, and audit_seq when
 * it comes from an audit-log record. Types: cert.issued (80 when a root
 * issues anything but a CA certificate), cert.revoked, cert.released,
 * ca.created, ca.disabled, ca.enabled, ca.deleted, ca.restored, ca.purged,
 * ocsp.signer_rotated, cert.expiring, cert.expired, crl.publish_failed. */
struct json_t;
const char *ca_severity_label(int severity);
/* ca_events_set_path: where events go ("" or NULL: DIR/events.jsonl). */
void ca_events_set_path(struct ca_core *c, const char *path);
/* ca_events_path: the file events go to. */
void ca_events_path(const struct ca_core *c, char *out, size_t size);
/* ca_events_reopen: the file is opened again at the next event (after a
 * log rotation). */
void ca_events_reopen(struct ca_core *c);
/* ca_event writes one event now; takes details (may be NULL). */
void ca_event(struct ca_core *c, const char *type, int severity, const char *ca, const uint8_t *serial, size_t slen,
              struct json_t *details);
/* ca_expiry_scan: at most once a day (the last scan's time is kept in the
 * index), a cert.expiring event for every unrevoked certificate whose
 * notAfter is within warn_days, and a cert.expired event for each whose
 * notAfter passed since the last scan. Counts in *expiring, *expired. */
int ca_expiry_scan(struct ca_core *c, int64_t now, int warn_days, uint64_t *expiring, uint64_t *expired,
                   struct rerr *e);

/* ---- the audit log (ca/audit.c) ----
 * The operations log is the audit log: every state change, refused ones
 * included, and every use of a CA key for a certificate or a CRL, one JSON
 * record each (seq, time, op, ca, serial, params, result, principal,
 * source, prev). prev is the SHA-256 (hex) of the previous record's stored
 * bytes (64 zeros for the first), and 'm' "audit_head" holds the last
 * record's seq and hash, written with it: an edited, removed or reordered
 * record breaks the chain or the head. */

/* ca_set_actor names who makes the calls that follow and from where
 * ("uid:1000(alice)", "unix pid=42"); copied, truncated to fit. */
void ca_set_actor(struct ca_core *c, const char *principal, const char *source);

/* Records of the front ends in front of the CA core (the ACME server's
 * accounts, orders, authorizations, nonces): opaque values under a
 * namespace ns (1 to 16 bytes, "acme") and a key (1 to CA_REC_KEY_MAX
 * bytes, no NUL), in the index (ca/rec.c). The core never reads them.
 *
 * ca_rec_write applies puts[0..n) (val NULL: a delete) in one atomic
 * batch: with audit_op, together with that audit-log record (ca, params
 * taken, may be NULL) and synced; without, synced when sync. 1, or 0 with
 * e set (nothing applied). ca_rec_get: 1 with *val (malloc'd, caller
 * frees), 0 absent, -1 error. ca_rec_scan calls cb for each record whose
 * key starts with prefix, in byte order, until cb returns 0; 1, or 0 with e
 * set. CA-core thread. */
#define CA_REC_KEY_MAX 256
#define CA_REC_VALUE_MAX (256 * 1024)
struct ca_rec_put {
    const char *key;
    const void *val; /* NULL: delete */
    size_t len;
};
int ca_rec_write(struct ca_core *c, const char *ns, const struct ca_rec_put *puts, size_t n, const char *audit_op,
                 const char *audit_ca, json_t *audit_params, int sync, struct rerr *e);
int ca_rec_get(struct ca_core *c, const char *ns, const char *key, uint8_t **val, size_t *len, struct rerr *e);
int ca_rec_scan(struct ca_core *c, const char *ns, const char *prefix,
                int (*cb)(void *arg, const char *key, size_t key_len, const uint8_t *val, size_t len), void *arg,
                struct rerr *e);

/* ca_audit_refused records a call refused before it reached the CA core
 * (the admin API's role and scope checks) under the current actor: op,
 * ca (may be NULL), params (a JSON object, taken; may be NULL), why. */
void ca_audit_refused(struct ca_core *c, const char *op, const char *ca, struct json_t *params, const char *why);

/* ca_audit_note records a step that changes no CA state but belongs in the
 * audit log (an approval asked for or granted, a CRL rebuild asked for),
 * with result "ok", under the current actor. params taken. */
void ca_audit_note(struct ca_core *c, const char *op, const char *ca, struct json_t *params);

struct ca_audit_result {
    uint64_t records;   /* records read */
    uint64_t unchained; /* leading records written before the chain (no prev) */
    uint64_t last_seq;
    char head[65];      /* hex SHA-256 of the last record */
    uint64_t problems;
};

/* ca_audit_verify walks the whole log and calls problem(arg, seq, msg) for
 * each thing wrong (seq 0: not about one record). With anchor_seq > 0,
 * record anchor_seq must hash to anchor_hex (a head saved earlier).
 * Returns 1 when the log could be read (problems counted in out), 0 with e
 * set when the index could not. */
int ca_audit_verify(struct ca_core *c, uint64_t anchor_seq, const char *anchor_hex,
                    void (*problem)(void *arg, uint64_t seq, const char *msg), void *arg,
                    struct ca_audit_result *out, struct rerr *e);

#endif
