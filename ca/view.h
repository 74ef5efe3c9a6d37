/* view: the read-only way into the revocation index for the pipelines
 * (ocsp/, crl/). ca/ is the index's only writer and the only holder of
 * keys; everything else reads certificate records, a partition's revoked
 * range and the stored responses through the functions here, never
 * through ca/internal.h.
 *
 * Thread: as each function says. */
#ifndef REVD_CA_VIEW_H
#define REVD_CA_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

/* ---- certificate records and stored responses (ocsp/) ---- */

/* ca_view_ca: what the OCSP pipeline needs of one CA besides its issuer
 * hashes and signer (ca/responder.h): its number in the index and how many
 * certificates it holds (a size hint). ca_view_ca_get fills it for the CA
 * named name: 1, or 0 with e set (no such CA). CA-core thread. */
struct ca_view_ca {
    uint32_t id;
    uint64_t certificates; /* issued + imported: a size hint, not a count */
};
int ca_view_ca_get(const struct ca_core *c, const char *name, struct ca_view_ca *out, struct rerr *e);

/* ca_view_ca_cert: the certificate of CA name, DER, in *out (malloc'd,
 * caller frees), *out_len octets. 1, or 0 with e set (no such CA, pending,
 * out of memory). CA-core thread. */
int ca_view_ca_cert(const struct ca_core *c, const char *name, uint8_t **out, size_t *out_len, struct rerr *e);

/* A certificate record as the pipelines see it (the index's own encoding
 * stays in ca/). serial is a view whose lifetime the call that filled it
 * says; NULL where the caller already has the serial. */
struct ca_view_cert {
    const uint8_t *serial;
    size_t serial_len;
    enum cert_status status;
    uint8_t reason; /* RFC 5280 CRLReason; 0 unless revoked */
    int64_t not_before, not_after;
    int64_t revoked_at; /* 0 unless revoked (or on hold) */
};

/* What ca_view_cert_get found. */
enum ca_view_got {
    CA_VIEW_NONE,    /* no record: a serial the CA never issued */
    CA_VIEW_FOUND,   /* *out filled */
    CA_VIEW_DAMAGED, /* a record that does not decode */
    CA_VIEW_ERROR,   /* the index could not be read (e set) */
};

/* ca_view_cert_get reads the record of serial[0..serial_len) of the CA
 * numbered ca_id (ca_view_ca) into *out (out->serial NULL). Any thread: it
 * only reads the index, which RocksDB allows beside the CA-core thread's
 * writes. */
enum ca_view_got ca_view_cert_get(struct ca_core *c, uint32_t ca_id, const uint8_t *serial, size_t serial_len,
                                  struct ca_view_cert *out, struct rerr *e);

/* A walk over a CA's certificate records in serial order (the index's:
 * by length, then bytes), each with its stored responses record when it has
 * one (with_stored). ca_view_walk_new starts one for CA name: NULL with e
 * set. ca_view_walk_next returns 1 with *out filled (out->serial a view
 * valid until the next call) and *stored, *stored_len the stored record
 * (opaque to ca/: ocsp/precompute.c encodes it) or NULL, 0 at the end, -1
 * on a damaged record (e set). ca_view_walk_free accepts NULL. CA-core
 * thread. */
struct ca_view_walk;
struct ca_view_walk *ca_view_walk_new(struct ca_core *c, const char *name, int with_stored, struct rerr *e);
int ca_view_walk_next(struct ca_view_walk *w, struct ca_view_cert *out, const uint8_t **stored, size_t *stored_len,
                      struct rerr *e);
void ca_view_walk_free(struct ca_view_walk *w);

/* The one thing ocsp/ writes, through ca/: the stored responses of a
 * certificate (key_resp in docs/index.md), a cache of signatures. A batch
 * collects puts and drops for the CA numbered ca_id; ca_view_stored_write
 * applies them without syncing the WAL (a crash loses some: they are
 * signed again) and empties the batch: 1, or 0 with e set (the batch is
 * emptied too). ca_view_stored_new returns NULL on out of memory;
 * ca_view_stored_free accepts NULL. CA-core thread. */
struct ca_view_stored;
struct ca_view_stored *ca_view_stored_new(struct ca_core *c, uint32_t ca_id);
void ca_view_stored_put(struct ca_view_stored *b, const uint8_t *serial, size_t serial_len, const uint8_t *rec,
                        size_t rec_len);
void ca_view_stored_drop(struct ca_view_stored *b, const uint8_t *serial, size_t serial_len);
size_t ca_view_stored_count(const struct ca_view_stored *b);
int ca_view_stored_write(struct ca_view_stored *b, struct rerr *e);
void ca_view_stored_free(struct ca_view_stored *b);

/* The change log (ca/chlog.h): one record for every status change that
 * what is published must follow, written in the same synced batch as the
 * change, numbered by a sequence that only grows (it survives restarts and
 * trims). A store of responses that keeps the last seq it had applied
 * finds, after a restart, exactly what changed since, without walking
 * every certificate. Numbers are normally gap-free, but a reader must not
 * rely on it. */
struct ca_view_change {
    uint64_t seq;
    uint32_t ca_id;            /* ca_view_ca.id; 0 with full: every CA */
    int full;                  /* 1: every certificate of CA ca_id (serial NULL) */
    const uint8_t *serial;     /* INTEGER content octets (1..21), a view valid during the call */
    size_t serial_len;
};

/* ca_view_changes_last: the sequence number of the last change record
 * written (0: none ever). CA-core thread. */
uint64_t ca_view_changes_last(struct ca_core *c);

/* ca_view_changes_since calls cb for each change record with seq > after,
 * in order (serial valid during the call); cb returns 1 to go on, 0 to
 * stop. Returns 1 (also when cb stopped), or 0 with e set (a damaged
 * record names its key). CA-core thread. */
int ca_view_changes_since(struct ca_core *c, uint64_t after, int (*cb)(void *arg, const struct ca_view_change *ch),
                          void *arg, struct rerr *e);

/* ca_view_changes_trim deletes the records with seq <= upto (the store no
 * longer needs them; upto past ca_view_changes_last counts as it). Written
 * without syncing the WAL: a crash may leave some, which is harmless. The
 * numbering goes on above upto even when no record is left. Returns 1, or
 * 0 with e set (part may be deleted). CA-core thread. */
int ca_view_changes_trim(struct ca_core *c, uint64_t upto, struct rerr *e);

/* ---- partitions and their revoked ranges (crl/) ----
 * What the CRL pipeline reads, and the few writes it asks ca/ for
 * (implemented in ca/view_crl.c). Every function here is for the CA-core
 * thread (or the command line's main thread): the thread that owns the
 * ca_core. A CA is named by its name; an unknown name is an error (e says
 * so, as everywhere in ca/).
 *
 * Partition URLs: ca/ binds each partition to its URL when it first issues
 * into it (the CDP, formatted by common/urls and stored byte for byte in
 * the index) and computes the CA-scope one the same way; crl/ never formats
 * a URL, it reads the bound one here and writes it as the IDP. So the IDP
 * of a CRL and the CDP of its certificates come from one place and cannot
 * drift, and ca/ does not depend on crl/.
 *
 * One exception to the thread rule: the reads here (ca_crl_issuer_get,
 * ca_crl_each_part, ca_crl_each_revoked, ca_crl_part_change,
 * ca_crl_state_get, ca_crl_verify) and the signer ca_crl_signer gave may be
 * called from other threads (crl/'s pool) while the thread that owns the
 * core waits for them and changes nothing meanwhile: they only read the
 * core, the index (RocksDB reads beside each other are safe) and the key.
 * Several threads may sign with one signer at once when
 * ca_crl_sign_parallel says so. ca_crl_signer (it may load the key) and
 * the writes stay on the owning thread. */

/* ca_crl_issuer: the CA as its CRLs name it. Pointers are borrowed from
 * the core: valid until the next call that changes it. */
struct ca_crl_issuer {
    const char *name, *base_url;
    const uint8_t *subject; /* the CA certificate's subject Name, DER: the CRL's issuer */
    size_t subject_len;
    const uint8_t *ski; /* its subjectKeyIdentifier octets (the CRL's AKI); NULL: none */
    size_t ski_len;
    int root;         /* a root of DIR (depth 1, no parent): its CA-scope CRL covers itself */
    int complete_crl; /* a --complete-crl CA: one CRL of every certificate */
};

/* ca_crl_issuer_get fills out for CA ca. Returns 1; 0 when the CA is
 * pending (no certificate yet; e says so); -1 when there is no such CA or
 * its name cannot be read (e set). */
int ca_crl_issuer_get(struct ca_core *c, const char *ca, struct ca_crl_issuer *out, struct rerr *e);

/* ca_crl_each_part calls cb for every partition of CA ca that has a CRL:
 * first the CA scope (URLS_PART_CA, common/urls.h), which always has one,
 * then the partitions bound so far in the index, in order. url[0..url_len)
 * is the partition's URL (never empty, under URLS_MAX octets), a view
 * valid during the call. cb returns 1 to go on, 0 to stop. Returns 1 (also
 * when cb stopped), or 0 with e set (no such CA, a damaged record). */
int ca_crl_each_part(struct ca_core *c, const char *ca,
                     int (*cb)(void *arg, uint32_t part, const char *url, size_t url_len), void *arg,
                     struct rerr *e);

/* One revoked certificate of a partition, as the index keeps it. */
struct ca_crl_revoked {
    const uint8_t *serial; /* INTEGER content octets (1..21), a view valid during the call */
    size_t serial_len;
    int64_t revoked_at; /* Unix seconds */
    int reason;         /* CRLReason as stored (0: unspecified) */
    int64_t invalidity; /* Unix seconds; 0: none */
    int64_t not_after;  /* the certificate's; INT64_MAX for entries written before it was kept */
};

/* ca_crl_each_revoked calls cb for every revoked certificate of partition
 * part of CA ca, in serial order (numeric: shorter serials first), expired
 * ones included (crl/ decides what a CRL lists). cb returns 1 to go on, 0
 * to stop. Returns 1 (also when cb stopped), or 0 with e set. */
int ca_crl_each_revoked(struct ca_core *c, const char *ca, uint32_t part,
                        int (*cb)(void *arg, const struct ca_crl_revoked *r), void *arg, struct rerr *e);

/* ca_crl_part_change: a number that grows with every change to the revoked
 * certificates of partition part of CA ca (0: none since it was kept). A
 * CRL records the one it was built from: one built from an older number is
 * stale. Returns 1, or 0 with e set. */
int ca_crl_part_change(struct ca_core *c, const char *ca, uint32_t part, uint64_t *out, struct rerr *e);

/* The last CRL signed for a partition, as ca/ recorded it. */
struct ca_crl_state {
    uint64_t number;      /* cRLNumber; 0: none signed */
    int64_t this_update;  /* its thisUpdate */
    uint64_t built_from;  /* the partition change it was built from (0 for records older than that) */
};

/* ca_crl_state_get reads the last CRL recorded for partition part of CA ca.
 * Returns 1 with *out, 0 when none was (out zeroed), -1 with e set (no such
 * CA, an index error, a damaged record). */
int ca_crl_state_get(struct ca_core *c, const char *ca, uint32_t part, struct ca_crl_state *out, struct rerr *e);

/* ca_crl_verify: 1 when der[0..len) is a signed structure (SEQUENCE {
 * tbs, AlgorithmIdentifier, BIT STRING }, framing read strictly) whose
 * signature over tbs verifies with CA ca's certificate and the digest of
 * its key type; else 0 (the OpenSSL error queue may hold why). Cheaper
 * than parsing the whole CRL. */
int ca_crl_verify(struct ca_core *c, const char *ca, const uint8_t *der, size_t len);

/* ca_crl_signer fills out with the signer of CA ca's own key (loaded on
 * first use; ca/signer.h): the AlgorithmIdentifier of the CA's signatures,
 * key_hash of its public key, no certificate. The pointers stay valid until
 * the next call that changes the core. Returns 1, or 0 with e set (no such
 * CA, pending, no key). */
struct ca_signer;
int ca_crl_signer(struct ca_core *c, const char *ca, struct ca_signer *out, struct rerr *e);

/* ca_crl_record stores that CA ca signed the CRL st describes for
 * partition part, with its audit record ("crl-sign", result ok, params: a
 * JSON object, taken): one synced write, so a number is never given twice.
 * Refused (nothing stored, the refusal logged) when st->number is not above
 * the one recorded or st->this_update is before it. Returns 1, or 0 with e
 * set. */
int ca_crl_record(struct ca_core *c, const char *ca, uint32_t part, const struct ca_crl_state *st, json_t *params,
                  struct rerr *e);

/* One CRL of ca_crl_record_many. */
struct ca_crl_rec {
    const char *ca;
    uint32_t part;
    struct ca_crl_state st;
    json_t *params; /* the audit record's params, taken */
    int ok;         /* out: 1 when recorded */
};

/* ca_crl_record_many records the CRLs r[0..n) (each of a different
 * partition) as ca_crl_record does one, in one synced write: one refused
 * (its number not above the one recorded, or its thisUpdate before, or its
 * partition already earlier in r) gets
 * ok 0 and its refusal logged, the others ok 1 once the write is done.
 * Returns 1 when the write was done (also when some were refused), 0 with
 * e set when it failed (then nothing is recorded). */
int ca_crl_record_many(struct ca_core *c, struct ca_crl_rec *r, size_t n, struct rerr *e);

/* ca_crl_sign_parallel: 1 when several threads may sign with one signer
 * ca_crl_signer gave at once (the CA keys are in files: OpenSSL keys are
 * read-only once loaded, and each signature has its own context); 0 when a
 * key is in a PKCS#11 token, whose session signs one request at a time. */
int ca_crl_sign_parallel(const struct ca_core *c);

/* ca_crl_audit_failure writes the audit record of a CRL step that failed
 * after the CA key was used (op "crl-sign": signed, not numbered;
 * "crl-publish": numbered, its file not written): ca may be NULL, params
 * (a JSON object) taken, why the failure. */
void ca_crl_audit_failure(struct ca_core *c, const char *op, const char *ca, json_t *params, const struct rerr *why);

#endif
