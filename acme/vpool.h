/* vpool: the threads that validate ACME challenges (acme/validate.h),
 * which wait on other people's servers and so never run on the CA-core
 * thread. A job that fails fast for want of a connection is tried again,
 * up to 3 times, 1 s then 2 s apart. Jobs go in by acme_vpool_submit; finished jobs come back through
 * acme_vpool_done, and the pool's eventfd (acme_vpool_fd) turns readable
 * whenever one finishes, for the CA-core thread's event loop to wake on.
 *
 * Ownership: the pool copies each job; acme_vpool_done hands the finished
 * ones to the caller (free() each). Thread: acme_vpool_* from one thread
 * (the CA-core thread); the workers touch only the queues, under the
 * pool's mutex. Returns: 1/0 unless said. */
#ifndef REVD_ACME_VPOOL_H
#define REVD_ACME_VPOOL_H

#include "acme/store.h"
#include "acme/validate.h"
#include "common/rerr.h"

#define ACME_VPOOL_QUEUE_MAX 1024
#define ACME_VPOOL_THREADS_MAX 64

struct acme_vjob {
    char authz[ACME_ID_LEN + 1];
    enum acme_chal_type type;
    char id_type[4];
    char id_value[256];
    char token[132];
    char key_authz[256];
    int ok;                     /* set by the pool */
    struct acme_vresult result; /* set by the pool when !ok */
    struct acme_vjob *next;
};

struct acme_vpool;

/* acme_vpool_new starts threads workers validating with cf (copied). */
struct acme_vpool *acme_vpool_new(int threads, const struct acme_vconf *cf, struct rerr *e);
/* acme_vpool_fd: readable while finished jobs wait; acme_vpool_done
 * drains it. */
int acme_vpool_fd(const struct acme_vpool *p);
/* acme_vpool_kick makes the fd readable (the owner has work of its own
 * for the next turn of its loop). */
void acme_vpool_kick(struct acme_vpool *p);
/* acme_vpool_submit queues a copy of job; 0 when ACME_VPOOL_QUEUE_MAX wait. */
int acme_vpool_submit(struct acme_vpool *p, const struct acme_vjob *job);
/* acme_vpool_done: the finished jobs (a list through next), or NULL. */
struct acme_vjob *acme_vpool_done(struct acme_vpool *p);
/* acme_vpool_free stops the workers (each finishes its job: at most the
 * validation timeout) and drops what is queued. */
void acme_vpool_free(struct acme_vpool *p);

#endif
