/* backend: the event loop a shard runs on, behind one small table of
 * operations (as Redis's ae_*.c or nginx's event actions): io_uring
 * (shard/loop_uring.c, the default) and libevent (shard/loop_ev.c, the
 * fallback). Each keeps its own state private to its .c: a shard's in
 * shard->io, a connection's around the struct shard_conn it makes
 * (conn_new). The shard core (shard/conn.h) calls the backend only
 * through this table, and the backends call the core's functions.
 *
 * Threads: probe, shard_init, shard_stop and shard_free on the thread
 * starting or stopping the server; the rest on the shard's own thread. */
#ifndef REVD_SHARD_BACKEND_H
#define REVD_SHARD_BACKEND_H

#include "common/rerr.h"

struct shard;
struct shard_conn;

struct shard_backend {
    const char *name; /* "io_uring", "libevent" */
    int wake_nonblock; /* the shard's wake eventfd is made non-blocking */
    /* probe (NULL: always there): whether it works here; *why says why not. */
    int (*probe)(const char **why);
    /* shard_init prepares sh's loop (its listener and wake_fd are open):
     * 1, or 0 with e set. shard_main is the shard's thread. */
    int (*shard_init)(struct shard *sh, struct rerr *e);
    void *(*shard_main)(void *sh);
    /* At stop: shard_stop before the connections are freed (what is in
     * flight on their buffers is cancelled), shard_free after. Both accept
     * a shard whose init failed or never ran. */
    void (*shard_stop)(struct shard *sh);
    void (*shard_free)(struct shard *sh);
    /* conn_new: a zeroed connection carrying the backend's own state (the
     * pool's warm-up; NULL: out of memory); conn_free frees it. */
    struct shard_conn *(*conn_new)(struct shard *sh);
    void (*conn_free)(struct shard_conn *c);
    /* kick goes on with c after its input or output changed outside the
     * loop's callbacks; close closes it (now, or once nothing is in flight). */
    void (*kick)(struct shard_conn *c);
    void (*close)(struct shard_conn *c);
};

extern const struct shard_backend shard_backend_uring, shard_backend_ev;

#endif
