/* pool: threads started for one batch and joined before it returns
 * (crl/pool.h). A batch is a few hundred CRLs at most: starting a thread
 * costs tens of microseconds, a CRL a millisecond or more. */
#include "crl/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

struct pool_run {
    _Atomic size_t next;
    size_t n;
    void (*fn)(void *arg, size_t i);
    void *arg;
};

static void *worker(void *arg) {
    struct pool_run *r = arg;
    for (size_t i; (i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->n;) r->fn(r->arg, i);
    return NULL;
}

void crl_pool_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg) {
    struct pool_run r = {0, n, fn, arg};
    if (threads > CRL_POOL_MAX) threads = CRL_POOL_MAX;
    if ((size_t)threads > n) threads = (int)n;
    pthread_t tid[CRL_POOL_MAX];
    int started[CRL_POOL_MAX] = {0};
    for (int k = 1; k < threads; k++)
        if ((started[k] = pthread_create(&tid[k], NULL, worker, &r) == 0))
            pthread_setname_np(tid[k], "revd-crl"); /* for top -H */
    worker(&r); /* the caller's share; a thread that did not start leaves it more */
    for (int k = 1; k < threads; k++)
        if (started[k]) pthread_join(tid[k], NULL);
}

int crl_pool_threads(int threads) {
    if (threads > 0) return threads < CRL_POOL_MAX ? threads : CRL_POOL_MAX;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores < CRL_POOL_MAX ? (int)cores : CRL_POOL_MAX;
}
