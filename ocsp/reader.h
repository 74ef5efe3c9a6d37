/* reader: the threads that read responses from the CAs' stores
 * (ocsp/store.h) for the shards, so that a shard never blocks its loop on
 * the disk. A shard that misses its cache (ocsp/cache.h) hands a job
 * (ocsp/job.h, OCSP_JOB_READ) to its reader; the reader reads the run
 * (one pread), puts the whole response in the job and hands it back
 * through done (ocsp_answer_job_done: the shard's ring and wake-up).
 *
 * Each shard's queue is consumed by one reader thread (shard i by thread
 * i % threads): single producer, single consumer, no lock.
 *
 * Threads: reader_new, reader_start, reader_free on the thread that starts
 * the server; reader_submit from the queue's shard only. */
#ifndef REVD_OCSP_READER_H
#define REVD_OCSP_READER_H

#include <stdint.h>

#include "common/rerr.h"

struct reader;
struct ocsp_job;

/* reader_new: threads readers for num_shards shards. NULL with e set. */
struct reader *reader_new(int num_shards, int threads, struct rerr *e);

/* reader_start starts the threads; done(arg, job) hands each job back (on a
 * reader's thread). Returns 1, or 0 with e set. */
int reader_start(struct reader *r, void (*done)(void *arg, struct ocsp_job *job), void *arg, struct rerr *e);

/* reader_submit queues job (job->shard's queue; job->store a reference the
 * reader drops); never blocks. Returns 0 when the queue is full (the store
 * reference stays the caller's). */
int reader_submit(void *reader, struct ocsp_job *job);

/* reader_stats: reads done, and reads that failed (a read error or a
 * damaged run, each logged). Any thread. */
void reader_stats(const struct reader *r, uint64_t *reads, uint64_t *failures);

/* reader_stop stops the threads (done is not called again; reader_submit
 * stays safe until reader_free). */
void reader_stop(struct reader *r);

/* reader_free stops the threads (jobs not read are dropped with their store
 * references) and frees r. Accepts NULL. */
void reader_free(struct reader *r);

#endif
