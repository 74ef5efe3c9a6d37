/* answer: the OCSP answer policy, a handler registered with the shards
 * (shard/route.h): POST /ocsp (and /ocsp/), GET /ocsp/{base64 of the DER
 * request} (ocsp/getpath.h), and GET/HEAD /ca/NAME.der (the issuers'
 * certificates, for AIA caIssuers). It reads the published generation
 * (ocsp/gen.h) from its shard slot, answers from the precomputed tables
 * (the stored response, with ETag, If-None-Match and If-Modified-Since),
 * and hands what they cannot answer (a nonce to echo, a SHA-384/512
 * CertID, a never-issued serial under --unknown signed, several CertIDs)
 * to the signing lane (ocsp/lane.h) as a job (ocsp/job.h), within a token
 * bucket and a fixed pool of jobs per shard; the lane's answers come back
 * through ocsp_answer_job_done and are sent on the shard's thread.
 *
 * A CA whose responses are on disk (ocsp/store.h: gen_ca_store) is
 * answered from the shard's cache (ocsp/cache.h); on a miss, from the
 * page cache when its run is all there (a read that never waits:
 * RWF_NOWAIT), else through a read job to the store readers
 * (ocsp/reader.h), which come back the same way: the shard never waits
 * for the disk.
 *
 * Ownership: the serving process makes one struct ocsp_answer before
 * server_start, registers it, and frees it after server_stop (and after the
 * lane stopped: it calls ocsp_answer_job_done). No allocation, lock or copy
 * beyond the job's on the request path.
 *
 * Threads: ocsp_answer_new, _register, _stats and _free on the serving
 * process's main (CA-core) thread; ocsp_answer_job_done on the lane's and
 * the readers'; the handlers on the shards'. */
#ifndef REVD_OCSP_ANSWER_H
#define REVD_OCSP_ANSWER_H

#include <stdint.h>

#include "common/rerr.h"
#include "shard/config.h"

struct ocsp_answer;
struct ocsp_job;

/* Jobs in flight per shard: past that (or past the rate) the shard answers
 * without the lane. */
#define OCSP_ANSWER_JOBS 128

/* The answer's settings (revd serve's nonce, unknown and sign-rate). */
struct ocsp_answer_config {
    int nonce_echo;     /* --nonce echo: a request's nonce gets a fresh response */
    int unknown_signed; /* --unknown signed: a never-issued serial gets "unknown" */
    uint32_t rate;      /* signatures per second, all shards together; 0: no lane */
};

/* ocsp_answer_new: the answer policy for num_shards shards reading the
 * generation in slot (server_publish), with settings ln (nonce_echo, rate:
 * also at each reload; unknown_signed: at start only). submit (NULL: no
 * lane) queues a job to the signing lane (lane_submit, with submit_arg).
 * NULL with e set on out of memory. */
struct ocsp_answer *ocsp_answer_new(int num_shards, int slot, const struct ocsp_answer_config *ln,
                                    int (*submit)(void *arg, struct ocsp_job *job), void *submit_arg,
                                    struct rerr *e);

/* ocsp_answer_set_store: the stores' readers (reader_submit with arg) and
 * each shard's cache of cache_bytes (0: none). Before server_start; 1, or 0
 * with e set. */
int ocsp_answer_set_store(struct ocsp_answer *a, int (*read)(void *arg, struct ocsp_job *job), void *read_arg,
                          size_t cache_bytes, struct rerr *e);

/* ocsp_answer_set_live applies a reload's sign-rate and nonce (unknown
 * takes a restart): the shards see them on their next request. The thread
 * that made a. */
void ocsp_answer_set_live(struct ocsp_answer *a, const struct ocsp_answer_config *conf);

/* ocsp_answer_register adds a's routes to cfg (server_route_add): /ca/,
 * then POST /ocsp, /ocsp/, then GET /ocsp/. Returns 1, or 0 when cfg has
 * no room. */
int ocsp_answer_register(struct ocsp_answer *a, struct server_config *cfg);

/* ocsp_answer_job_done hands an answered job back to its shard (the lane's
 * done callback; arg is the struct ocsp_answer). Never blocks. */
void ocsp_answer_job_done(void *arg, struct ocsp_job *job);

/* ocsp_answer_free_gen frees a published generation (server_publish's
 * free function for the generation's slot; accepts NULL). */
void ocsp_answer_free_gen(void *g);

/* ocsp_answer_stats: counters summed over the shards (a moment's view). */
struct ocsp_answer_stats {
    uint64_t lane_jobs;      /* questions sent to the lane */
    uint64_t lane_fallbacks; /* answered without it (off, over its rate, full) */
    uint64_t expired;        /* tryLater: the stored response was past its nextUpdate */
    uint64_t store_reads;    /* read jobs sent (cache misses not in the page cache) */
    uint64_t store_inline;   /* cache misses read on the shard (in the page cache: RWF_NOWAIT) */
    uint64_t store_busy;     /* tryLater: the readers' queue was full */
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t cache_bytes;    /* all shards' caches */
};
void ocsp_answer_stats(const struct ocsp_answer *a, struct ocsp_answer_stats *out);

/* ocsp_answer_free frees a (NULL: nothing). After server_stop and lane_stop. */
void ocsp_answer_free(struct ocsp_answer *a);

#endif
