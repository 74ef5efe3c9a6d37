/* vpool: validation threads (acme/vpool.h). */
#include "acme/vpool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/rtime.h"

struct acme_vpool {
    struct acme_vconf cf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct acme_vjob *queue, *queue_tail, *done;
    int queued, stopping, efd, nthreads;
    pthread_t threads[ACME_VPOOL_THREADS_MAX];
};

/* validate: one job, with up to VALIDATE_TRIES attempts when an attempt
 * fails fast for want of a connection (the client's challenge server may
 * bind a moment after it told us to look: Go's acmeprobe does). A slow
 * failure (a timeout) is not tried again. */
#define VALIDATE_TRIES 3
#define FAST_FAIL_MS 1000

static int validate(struct acme_vpool *p, struct acme_vjob *j) {
    for (int i = 0;; i++) {
        memset(&j->result, 0, sizeof(j->result));
        int64_t t0 = rtime_mono_ms();
        if (acme_validate(&p->cf, j->type, j->id_type, j->id_value, j->token, j->key_authz, &j->result) == 1)
            return 1;
        int fast = rtime_mono_ms() - t0 < FAST_FAIL_MS;
        pthread_mutex_lock(&p->mu);
        int stopping = p->stopping;
        pthread_mutex_unlock(&p->mu);
        if (i + 1 == VALIDATE_TRIES || !fast || stopping || j->result.problem == NULL ||
            strcmp(j->result.problem, "connection") != 0)
            return 0;
        struct timespec pause = {i + 1, 0};
        nanosleep(&pause, NULL);
    }
}

static void *worker(void *arg) {
    struct acme_vpool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->queue == NULL && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (p->stopping) break;
        struct acme_vjob *j = p->queue;
        p->queue = j->next;
        if (p->queue == NULL) p->queue_tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        j->ok = validate(p, j);
        pthread_mutex_lock(&p->mu);
        j->next = p->done;
        p->done = j;
        acme_vpool_kick(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct acme_vpool *acme_vpool_new(int threads, const struct acme_vconf *cf, struct rerr *e) {
    if (threads < 1 || threads > ACME_VPOOL_THREADS_MAX) {
        rerr_set(e, "validation threads: %d is not between 1 and %d", threads, ACME_VPOOL_THREADS_MAX);
        return NULL;
    }
    struct acme_vpool *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    p->cf = *cf;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        rerr_set(e, "eventfd: out of descriptors");
        acme_vpool_free(p);
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            rerr_set(e, "cannot start a validation thread");
            acme_vpool_free(p);
            return NULL;
        }
        char name[16];
        snprintf(name, sizeof(name), "revd-acme-%d", i);
        pthread_setname_np(p->threads[i], name);
        p->nthreads++;
    }
    return p;
}

int acme_vpool_fd(const struct acme_vpool *p) { return p->efd; }

void acme_vpool_kick(struct acme_vpool *p) {
    uint64_t one = 1;
    if (write(p->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is full, so the fd is readable already. */
    }
}

int acme_vpool_submit(struct acme_vpool *p, const struct acme_vjob *job) {
    struct acme_vjob *j = malloc(sizeof(*j));
    if (j == NULL) return 0;
    *j = *job;
    j->next = NULL;
    pthread_mutex_lock(&p->mu);
    int ok = p->queued < ACME_VPOOL_QUEUE_MAX;
    if (ok) {
        if (p->queue_tail != NULL) p->queue_tail->next = j;
        else p->queue = j;
        p->queue_tail = j;
        p->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!ok) free(j);
    return ok;
}

struct acme_vjob *acme_vpool_done(struct acme_vpool *p) {
    uint64_t n;
    if (read(p->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing was signalled; the list may still hold jobs. */
    }
    pthread_mutex_lock(&p->mu);
    struct acme_vjob *d = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->mu);
    return d;
}

static void free_list(struct acme_vjob *j) {
    while (j != NULL) {
        struct acme_vjob *next = j->next;
        free(j);
        j = next;
    }
}

void acme_vpool_free(struct acme_vpool *p) {
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    free_list(p->queue);
    free_list(p->done);
    if (p->efd >= 0) close(p->efd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
