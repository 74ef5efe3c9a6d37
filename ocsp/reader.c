/* reader: store reads off the shards' loops (ocsp/reader.h). */
#include "ocsp/reader.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/etag.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/spsc.h"
#include "ocsp/job.h"
#include "ocsp/store.h"

/* Each shard's queue holds at most its pool of jobs (ocsp/answer.h). */
#define READER_QUEUE 256
#define READER_THREADS_MAX 64

struct reader_thread {
    struct reader *r;
    int k, efd;
    pthread_t tid;
    int started;
    uint8_t run[STORE_RUN_MAX];
};

struct reader {
    int num_shards, threads;
    struct spsc *queues; /* one per shard */
    struct reader_thread *t;
    atomic_int stopping;
    _Atomic uint64_t reads, failures;
    _Atomic int64_t warned_at;
    void (*done)(void *arg, struct ocsp_job *job);
    void *done_arg;
};

/* Reads job's response: found (resp whole, its ETag and times), not found,
 * or tryLater (a failure, logged at most once a minute). */
static void read_one(struct reader_thread *t, struct ocsp_job *j) {
    struct reader *r = t->r;
    struct rerr e;
    struct ocsp_store_rec rec;
    const struct ocsp_job_cert *jc = &j->certs[0];
    int h = jc->hash == OCSP_HASH_SHA1 ? 0 : 1;
    j->found = 0;
    j->status = OCSP_UNAUTHORIZED;
    int got = ocsp_store_read(j->store, jc->serial, jc->serial_len, t->run, &rec, &e);
    atomic_fetch_add_explicit(&r->reads, 1, memory_order_relaxed);
    if (got > 0 && ocsp_store_assemble(j->store, &rec, h, j->resp, sizeof(j->resp), &j->resp_len) &&
        etag_of(j->resp, j->resp_len, j->etag)) {
        j->found = 1;
        j->status = OCSP_SUCCESSFUL;
        j->this_update = rec.this_update;
        j->next_update = rec.next_update;
        j->stripped_len = rec.stripped[h] ? rec.der_len[h] : j->resp_len;
        return;
    }
    if (got == 0) return;
    j->status = OCSP_TRY_LATER;
    atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed);
    int64_t now = rtime_now(), last = atomic_load(&r->warned_at);
    if (now - last >= 60 && atomic_compare_exchange_strong(&r->warned_at, &last, now))
        rlog(LOG_WARN, "ocsp.store_read_failed", "%s", got < 0 ? e.msg : "a stored response does not fit a job");
}

static void *reader_main(void *arg) {
    struct reader_thread *t = arg;
    struct reader *r = t->r;
    while (!atomic_load(&r->stopping)) {
        struct pollfd p = {t->efd, POLLIN, 0};
        poll(&p, 1, 100);
        uint64_t n;
        ssize_t got = read(t->efd, &n, sizeof(n));
        (void)got;
        for (int more = 1; more && !atomic_load(&r->stopping);) {
            more = 0;
            for (int i = t->k; i < r->num_shards; i += r->threads) {
                struct ocsp_job *j = spsc_pop(&r->queues[i]);
                if (j == NULL) continue;
                more = 1;
                read_one(t, j);
                struct ocsp_store *s = j->store;
                j->store = NULL;
                r->done(r->done_arg, j); /* the job is the shard's from here */
                ocsp_store_put(s);
            }
        }
    }
    return NULL;
}

struct reader *reader_new(int num_shards, int threads, struct rerr *e) {
    if (threads < 1) threads = 1;
    if (threads > READER_THREADS_MAX) threads = READER_THREADS_MAX;
    if (threads > num_shards) threads = num_shards;
    struct reader *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->queues = calloc((size_t)num_shards, sizeof(struct spsc))) == NULL ||
        (r->t = calloc((size_t)threads, sizeof(struct reader_thread))) == NULL) {
        if (r != NULL) free(r->queues);
        free(r);
        rerr_set(e, "out of memory");
        return NULL;
    }
    r->num_shards = num_shards;
    r->threads = threads;
    int ok = 1;
    for (int i = 0; i < num_shards; i++) ok = ok && spsc_init(&r->queues[i], READER_QUEUE);
    for (int k = 0; k < threads; k++) {
        r->t[k].r = r;
        r->t[k].k = k;
        r->t[k].efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ok = ok && r->t[k].efd >= 0;
    }
    if (!ok) {
        rerr_set(e, "cannot set up the store readers: %s", strerror(errno ? errno : ENOMEM));
        reader_free(r);
        return NULL;
    }
    return r;
}

int reader_start(struct reader *r, void (*done)(void *arg, struct ocsp_job *job), void *arg, struct rerr *e) {
    r->done = done;
    r->done_arg = arg;
    for (int k = 0; k < r->threads; k++) {
        if (pthread_create(&r->t[k].tid, NULL, reader_main, &r->t[k]) != 0)
            return rerr_set(e, "cannot start a store reader thread");
        pthread_setname_np(r->t[k].tid, "revd-reader"); /* for top -H */
        r->t[k].started = 1;
    }
    return 1;
}

int reader_submit(void *reader, struct ocsp_job *job) {
    struct reader *r = reader;
    if (!spsc_push(&r->queues[job->shard], job)) return 0;
    uint64_t one = 1;
    ssize_t n = write(r->t[job->shard % r->threads].efd, &one, sizeof(one)); /* EAGAIN: awake anyway */
    (void)n;
    return 1;
}

void reader_stats(const struct reader *r, uint64_t *reads, uint64_t *failures) {
    *reads = r == NULL ? 0 : atomic_load_explicit(&r->reads, memory_order_relaxed);
    *failures = r == NULL ? 0 : atomic_load_explicit(&r->failures, memory_order_relaxed);
}

void reader_stop(struct reader *r) {
    if (r == NULL) return;
    atomic_store(&r->stopping, 1);
    for (int k = 0; k < r->threads; k++)
        if (r->t[k].started) pthread_join(r->t[k].tid, NULL);
    for (int k = 0; k < r->threads; k++) r->t[k].started = 0;
}

void reader_free(struct reader *r) {
    if (r == NULL) return;
    reader_stop(r);
    for (int i = 0; i < r->num_shards; i++) {
        struct ocsp_job *j;
        while (r->queues[i].slots != NULL && (j = spsc_pop(&r->queues[i])) != NULL) {
            ocsp_store_put(j->store);
            j->store = NULL;
        }
        spsc_free(&r->queues[i]);
    }
    for (int k = 0; k < r->threads; k++)
        if (r->t[k].efd > 0) close(r->t[k].efd);
    free(r->t);
    free(r->queues);
    free(r);
}
