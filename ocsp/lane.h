/* lane: the signing lane. One thread, outside the shards, that signs OCSP
 * responses on demand for the questions the precomputed tables cannot
 * answer (ocsp/job.h): a nonce to echo, a SHA-384/512 CertID, a serial
 * never issued (signed "unknown" under --unknown signed), a request with
 * several CertIDs (one response with a SingleResponse each). The shards bound
 * what they send (a token bucket and a fixed pool of jobs each: ocsp/answer.c) and
 * fall back to the precomputed answer when the lane is saturated, so a
 * flood of such questions never slows the main path.
 *
 * The lane reads the certificate's status from the index (RocksDB reads
 * are safe beside the CA-core thread's writes) and signs with its own copy
 * of each CA's responder (ca/responder.h): the keys stay in ca/.
 *
 * Threads: lane_new, lane_update, lane_start and lane_free on the CA-core
 * thread; lane_submit from any one shard per queue (shard index). */
#ifndef REVD_CA_LANE_H
#define REVD_CA_LANE_H

#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

struct lane;
struct ocsp_job;

/* lane_new makes a lane for num_shards shards, signing responses valid
 * for validity seconds; unknown_signed: a serial the CA never issued gets a
 * signed "unknown" (else unauthorized). NULL with e set on failure. */
struct lane *lane_new(struct ca_core *c, int num_shards, int64_t validity, int unknown_signed, struct rerr *e);

/* lane_set_times: responses the lane signs from now on are valid for
 * validity seconds, their thisUpdate backdate seconds before the
 * signature (a reload; lane_new takes the core's backdate). Any thread. */
void lane_set_times(struct lane *l, int64_t validity, int64_t backdate);

/* lane_update takes the CAs as they are now (issuer hashes, responders:
 * after a publication, since signing may have rotated a responder).
 * Returns 1, or 0 with e set (the lane keeps the previous ones). */
int lane_update(struct lane *l, struct ca_core *c, struct rerr *e);

/* lane_start starts the thread; done(arg, job) hands each answered job back
 * (called on the lane's thread). */
int lane_start(struct lane *l, void (*done)(void *arg, struct ocsp_job *job), void *arg, struct rerr *e);

/* lane_submit queues job (job->shard's queue); never blocks. Returns 0 when
 * that queue is full. Shard job->shard only. */
int lane_submit(void *lane, struct ocsp_job *job);

/* lane_signed: responses signed so far (any thread). */
uint64_t lane_signed(const struct lane *l);

/* lane_stop stops the thread (jobs not answered are dropped; done is not
 * called again). lane_submit stays safe until lane_free. */
void lane_stop(struct lane *l);

/* lane_free stops the thread if it runs and frees the lane. */
void lane_free(struct lane *l);

#endif
