/* precompute: the signed responses the shards serve without signing. For
 * every unexpired certificate of a CA, its responses for a SHA-1 and a
 * SHA-256 CertID, signed in bulk on a pool of threads (each with its own
 * copy of the CA's responder: ca/responder.h) or taken again from the
 * stored responses in the index (ca/view.h: a cache of signatures, so
 * that a restart does not sign everything); then a table per CA
 * (ocsp/table.h), an overlay of the responses re-signed since, and a
 * generation of every CA (ocsp/gen.h).
 *
 * Reads the index and writes the stored responses only through ca/view.h;
 * signs only through ca/signer.h. Every function returns 1, or 0 with e
 * set; what it makes is the caller's (ocsp_table_free, gen_free).
 *
 * Thread: the CA-core thread (it owns the ca_core; the sign pool's threads
 * live inside one call). */
#ifndef REVD_OCSP_PRECOMPUTE_H
#define REVD_OCSP_PRECOMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "ca/view.h"
#include "common/rerr.h"

struct ocsp_table;
struct ocsp_store;
struct ocsp_store_meta;
struct ocsp_store_rec;
struct gen;

struct ocsp_precompute_stats {
    uint64_t certificates, skipped_expired, responses, reused;
    double seconds;
};

/* Flags of ocsp_precompute. Signed responses are stored in the index
 * (key_resp: docs/index.md) so that a restart takes them again instead of
 * signing everything: OCSP_PRECOMPUTE_REUSE takes a stored response when it
 * still matches the certificate's status and stays valid for five more
 * minutes; OCSP_PRECOMPUTE_PERSIST stores what is signed (WAL not synced:
 * it is a cache) and drops the stored responses of expired certificates. */
#define OCSP_PRECOMPUTE_REUSE 1
#define OCSP_PRECOMPUTE_PERSIST 2

/* ocsp_precompute builds, for every unexpired certificate of CA ca, its
 * responses for a SHA-1 and a SHA-256 CertID (signed now: thisUpdate now
 * less the backdate, nextUpdate now + validity; or stored, per flags) into
 * a new table (*out). Signs with the CA's responder (created or rotated
 * first if needed). */
int ocsp_precompute(struct ca_core *c, const char *ca, int64_t validity, int flags, struct ocsp_table **out,
                    struct ocsp_precompute_stats *stats, struct rerr *e);

/* ocsp_precompute_overlay signs, for each change of CA ca among
 * changes[0..num), that certificate's responses (and stores them, as
 * OCSP_PRECOMPUTE_PERSIST), into a new overlay table (*out) that also keeps
 * every entry of old (may be NULL; not changed) not re-signed now. A change
 * is a status change or a refresh. *signed_count (may be NULL): the
 * certificates signed (a change whose record is missing or damaged is
 * skipped). */
int ocsp_precompute_overlay(struct ca_core *c, const char *ca, const struct ocsp_table *old,
                            const struct ca_change *changes, size_t num, int64_t validity, struct ocsp_table **out,
                            size_t *signed_count, struct rerr *e);

/* How a generation is made. */
struct ocsp_gen_opts {
    int64_t validity;
    /* A CA with more certificates than store_above is served from a store
     * (ocsp/store.h) in store_dir (DIR/ocsp), made there when missing:
     * store_dir NULL, none is. */
    const char *store_dir;
    uint64_t store_above;
};

/* ocsp_precompute_gen builds a generation (ocsp/gen.h) of every CA in DIR
 * that publishes (disabled ones too: they still publish status): issuer
 * hashes, certificate, and responses (stored ones reused, the rest signed
 * with o->validity and stored). A CA served from a store takes its store
 * file again when it is current (built for this CA, issuer and responder,
 * no response run out, no full change since), with an overlay of the
 * certificates changed since it was written (the change log: ca/view.h),
 * so that a restart reads no response back; else the store is written
 * again (its records reused where they still hold). The change log is then
 * trimmed to what the stores still need. *out is freed with gen_free;
 * stats (may be NULL) sums every CA's. */
int ocsp_precompute_gen(struct ca_core *c, const struct ocsp_gen_opts *o, struct gen **out,
                        struct ocsp_precompute_stats *stats, struct rerr *e);

/* ocsp_precompute_trim_changes trims the change log to what the stores of
 * g still need (the lowest position a store of g was written at; all of
 * it when g has none). Failures are logged: the log is only longer. */
void ocsp_precompute_trim_changes(struct ca_core *c, const struct gen *g);

/* ocsp_store_path_of: the store file of CA number ca_id in dir. */
void ocsp_store_path_of(const char *dir, uint32_t ca_id, char *out, size_t cap);

/* ocsp_precompute_store writes the store of CA name at path (replacing the
 * file whole): every unexpired certificate's responses, old's records
 * taken again where they still hold (old may be NULL), the rest signed
 * with validity on the sign pool, then opens it (*out). */
int ocsp_precompute_store(struct ca_core *c, const char *name, const char *path, int64_t validity,
                          const struct ocsp_store *old, struct ocsp_store **out, struct ocsp_precompute_stats *stats,
                          struct rerr *e);

/* A store being written a part at a time (ocsp/remerge.h; and
 * ocsp_precompute_store): records go in in serial order, copied or signed
 * (in batches on the sign pool, with its own copies of the responder, so
 * that it lives across calls). new: NULL with e set; the others return 1,
 * or 0 with e set (then only abort). commit writes, renames and opens the
 * store (*out) and frees b; abort removes the file and frees b. */
struct ocsp_store_build;
struct ocsp_store_build *ocsp_store_build_new(struct ca_core *c, const char *name, const char *path,
                                              int64_t validity, uint64_t built_seq, struct rerr *e);
int64_t ocsp_store_build_now(const struct ocsp_store_build *b);
/* usable: whether rec, from a store made with old, still answers for the
 * certificate r as it is (same status, this responder, valid long enough). */
int ocsp_store_build_usable(const struct ocsp_store_build *b, const struct ocsp_store_meta *old,
                            const struct ocsp_store_rec *rec, const struct ca_view_cert *r);
int ocsp_store_build_copy(struct ocsp_store_build *b, const struct ocsp_store_rec *rec, struct rerr *e);
int ocsp_store_build_sign(struct ocsp_store_build *b, const struct ca_view_cert *r, struct rerr *e);
/* resign: rec signed again with the status it records. */
int ocsp_store_build_resign(struct ocsp_store_build *b, const struct ocsp_store_rec *rec, struct rerr *e);
int ocsp_store_build_commit(struct ocsp_store_build *b, struct ocsp_store **out, struct ocsp_precompute_stats *stats,
                            struct rerr *e);
void ocsp_store_build_abort(struct ocsp_store_build *b);

#endif
