/* make: one CRL of a CA made from the revocation index: its revoked
 * certificates read through ca/view.h, encoded by crl/build, signed by the
 * CA key through the signer ca/ lends (ca_crl_signer), checked, numbered
 * (ca_crl_record: the number is stored with the synced WAL, never given
 * twice) and archived (crl/archive) before anything can publish it.
 *
 * Returns 1, or 0 with e set. Thread: the thread that owns the ca_core
 * (the CA-core thread of `revd serve`, or the command line's); the threads
 * crl_make_many starts read the index and sign while it waits. */
#ifndef REVD_CRL_MAKE_H
#define REVD_CRL_MAKE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"
#include "crl/file.h"
#include "crl/partition.h"

#define CRL_VALIDITY_DEFAULT_S (7 * 86400)

/* crl_make makes the CRL of ref (from crl_partition_list) of CA ca: the
 * revoked certificates of that partition that have not expired by now,
 * thisUpdate now (never before the last one's), nextUpdate now + validity,
 * the next CRL number (going on from a published file ahead of the index).
 * Before it returns, the CRL's signature is checked against the CA
 * certificate, its number is checked to be higher and its thisUpdate not
 * earlier than the last one's, the number is stored, and the CRL is
 * archived. On failure nothing is stored, out->der is NULL. On success
 * free out->der. */
int crl_make(struct ca_core *c, const char *ca, const struct crl_ref *ref, int64_t validity, struct crl *out,
             struct rerr *e);

/* One CRL of a batch (crl_make_many). */
struct crl_job {
    const char *ca;     /* in: the CA's name (the caller keeps it) */
    struct crl_ref ref; /* in: which CRL (from crl_partition_list) */
    struct crl out;     /* out: the CRL when ok (free out.der) */
    int ok;             /* out */
    struct rerr err;    /* out: why not, when !ok */
    void *work;         /* private to crl_make_many */
};

/* crl_make_many makes the CRLs of jobs[0..n) (each of a different
 * partition) as crl_make makes one, and fills each job's outcome: reading,
 * encoding, signing, checking and compressing for the archive run on up to
 * threads threads (1 when the CA key is in a token: ca_crl_sign_parallel);
 * the numbers are then stored in one synced write (ca_crl_record_many) and
 * each CA's archive appended with one fsync, on the calling thread, in job
 * order. A job that fails leaves the others made. Returns how many were. */
size_t crl_make_many(struct ca_core *c, struct crl_job *jobs, size_t n, int64_t validity, int threads);

/* crl_last: the number and thisUpdate of the last CRL made for ref. Returns
 * 1, 0 when none was (zeros), -1 with e set. */
int crl_last(struct ca_core *c, const char *ca, const struct crl_ref *ref, uint64_t *number, int64_t *this_update,
             struct rerr *e);

#endif
