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
#include "common/rerr.h"

struct ocsp_table;
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

/* ocsp_precompute_gen builds a generation (ocsp/gen.h) of every CA in DIR
 * that publishes (disabled ones too: they still publish status): issuer
 * hashes, certificate, and responses (stored ones reused, the rest signed
 * with validity and stored). *out is freed with gen_free; stats (may be
 * NULL) sums every CA's. */
int ocsp_precompute_gen(struct ca_core *c, int64_t validity, struct gen **out, struct ocsp_precompute_stats *stats,
                        struct rerr *e);

#endif
