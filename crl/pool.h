/* pool (crl_pool_*): a CRL batch's work spread over threads. The calling
 * thread runs its share and waits for the others before it returns, so
 * whatever it owns (the ca_core) stays still meanwhile; items are handed
 * out one at a time from a shared counter (CRLs differ in size: a full
 * partition is a hundred times an almost empty one).
 *
 * Thread: any; fn runs on the caller and on up to threads - 1 threads
 * started for the call, each item exactly once. */
#ifndef REVD_CRL_POOL_H
#define REVD_CRL_POOL_H

#include <stddef.h>

/* At most this many threads per call. */
#define CRL_POOL_MAX 64

/* crl_pool_run calls fn(arg, i) for every i in [0, n), on up to threads
 * threads (fewer when there are fewer items; the caller's own when a
 * thread cannot be started), and returns when every call has returned. */
void crl_pool_run(size_t n, int threads, void (*fn)(void *arg, size_t i), void *arg);

/* crl_pool_threads: the threads to use when none are set (threads <= 0):
 * the online cores, at most CRL_POOL_MAX. */
int crl_pool_threads(int threads);

#endif
