/* conn: the shard core, shared by the server (shard/server.c: start,
 * publish, stop), the handler API (shard/handler.c) and the two event-loop
 * backends (shard/backend.h): a shard, its connections and their request
 * processing (parse, route, answer), the pool, the caps, lingering closes,
 * the idle sweep and the drain. Not for use outside shard/.
 *
 * Thread: everything of a shard and its connections belongs to the shard's
 * thread, except the atomics noted. */
#ifndef REVD_SHARD_CONN_H
#define REVD_SHARD_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "shard/config.h"
#include "shard/http.h"
#include "shard/metrics.h"

/* A connection's input holds one request at most (head and framed body
 * together: the parser's window), and what follows it in the same reads. */
#define IN_CAP HTTP_MAX_REQUEST
#define OUT_CAP (64 * 1024)
/* Room one answer needs (SHARD_ANSWER_MAX, shard/handler.h). Reading
 * pauses while less is free. */
#define ANSWER_MAX (16 * 1024)

/* Shards tick this often: the slots' reclaim counts ticks; the io_uring
 * loop sweeps idle connections on them. */
#define TICK_MS 50

struct shard;
struct shard_backend;

struct shard_conn {
    struct shard *sh;
    int fd;       /* -1: in the pool */
    uint64_t id;  /* the shard's count of accepted connections when this one came */
    int waiting;  /* a handler answers later (shard_wait): requests after it wait */
    int closing;  /* close once the output is written */
    int linger;   /* ... gracefully: shut down sending, read and drop
                     what comes, then close (shard_linger_start) */
    int lingering; /* doing so, since the answer was sent */
    int64_t linger_until; /* seconds: it closes then at the latest */
    size_t linger_bytes;  /* dropped so far */
    int continued; /* "100 Continue" was sent for the request in `in` */
    int dead;      /* shut down: closed by the backend once nothing is in flight */
    size_t in_len, out_len, out_off;
    /* A large body sent from where it lives (a CRL), after out: a
     * reference held (ext_ref, dropped with ext_put) until it is sent;
     * nothing more is answered meanwhile (shard_body_ref). */
    const uint8_t *ext;
    size_t ext_len, ext_off;
    void (*ext_put)(void *ref);
    void *ext_ref;
    struct iovec iov[2]; /* sendmsg: out, then ext (conn_iov) */
    struct msghdr msg;
    int64_t last_active;      /* seconds: when bytes last came (the sweep) */
    int64_t partial_since;    /* seconds: when the unfinished request in `in` began; 0: none */
    enum metric_kind kind;    /* what the request being answered asked for */
    uint64_t answered;        /* requests answered on this connection (eviction spares these first) */
    uint64_t t0_ns;           /* when it was complete in `in` (the latency histogram) */
    struct shard_conn *next_free;
    struct shard_conn *next_all; /* every connection the shard ever made, for stop */
    /* The shard's silent list (linked while silent): connections that have
     * sent nothing yet, oldest first; the cap evicts from its head. */
    struct shard_conn *silent_prev, *silent_next;
    int silent;
    uint8_t in[IN_CAP];
    uint8_t out[OUT_CAP];
};

struct shard {
    struct server *srv;
    int index, listen_fd;
    pthread_t thread;
    struct shard_conn *free_conns, *all_conns;
    struct shard_conn *silent_head, *silent_tail; /* see struct shard_conn */
    int64_t no_victim_until; /* a scan for an idle connection found none: none is looked for until then */
    size_t num_conns;
    _Atomic uint64_t ticks;
    uint64_t next_conn_id;
    int wake_fd; /* an eventfd: server_wake and server_stop ring it */
    void *ctx[SERVER_MAX_ROUTES]; /* each route's context for this shard */
    void *io; /* the backend's own (shard/backend.h) */
    int accept_paused; /* out of descriptors or memory: accepting again at the next tick */
    int drain_seen;    /* draining: the listener is closed; idle connections close at each tick */
    /* counters (issue #6 exports them); written by the shard only */
    _Atomic uint64_t requests, bad_requests, refused_conns;
    struct shard_metrics m; /* GET /metrics (shard/metrics.h) */
};

/* A pointer swapped out of a slot, freed once every shard has ticked twice
 * since (seen: the shards' tick counters at the swap). */
struct retired {
    void *p;
    void (*free_fn)(void *p);
    struct retired *next;
    uint64_t seen[];
};

struct server {
    struct server_config cfg;
    const struct shard_backend *be;
    unsigned uring_off; /* cfg.uring_off, parsed: SERVER_URING_* */
    long fd_line; /* a connection's descriptor at or past it is over the reserve (cfg.fd_reserve) */
    _Atomic(void *) slots[SERVER_SLOTS];
    void (*slot_free[SERVER_SLOTS])(void *p); /* CA-core thread only */
    struct retired *retired; /* CA-core thread only */
    size_t path_len[SERVER_MAX_ROUTES], suffix_len[SERVER_MAX_ROUTES]; /* the routes' strings' */
    int wakes[SERVER_MAX_ROUTES]; /* the routes whose wake hook runs (distinct hook and context) */
    int num_wakes;
    atomic_int stopping;
    int num_shards;
    struct shard *shards;
    struct metrics_core core_metrics; /* written by the CA-core thread */
    /* The settings a reload may change (server_set_live), read by the
     * shards with relaxed loads: each on its own, no pairing needed. */
    _Atomic int64_t live_max_age;
    atomic_int live_idle_timeout, live_read_timeout, live_no_metrics;
    atomic_int draining; /* server_drain: stop accepting, close idle connections */
    _Atomic(const char *) unhealthy; /* server_set_health: NULL, or why /healthz answers 503 */
};

static inline int64_t live_i64(const _Atomic int64_t *x) { return atomic_load_explicit(x, memory_order_relaxed); }
static inline int live_int(const atomic_int *x) { return atomic_load_explicit(x, memory_order_relaxed); }

/* A counter only its shard writes: no atomic read-modify-write. */
static inline void bump(_Atomic uint64_t *x) {
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline int64_t now_s(void) { return (int64_t)time(NULL); }

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* shard_loop_turned: the loop's turn that began at t0_ns (now_ns() as its
 * wait returned) is done, its next wait comes: the turn is counted in the
 * stall histogram and maximum. One clock read; a turn, not a request. */
static inline void shard_loop_turned(struct shard *sh, uint64_t t0_ns) {
    uint64_t d = now_ns() - t0_ns;
    metrics_observe(&sh->m.loop_stall, MHK_LATENCY_NS, d);
    metrics_max(&sh->m.loop_stall_max, d);
}

/* shard_fatal: a shard's loop cannot go on (its listener would keep
 * taking connections nobody answers, and slots could no longer be
 * reclaimed): says so and ends the process. Does not return. */
_Noreturn void shard_fatal(struct shard *sh, const char *what, int err);

/* conn_emit and conn_status: shard_emit and shard_status (shard/handler.h),
 * for the core's own answers. */
void conn_emit(struct shard_conn *c, size_t n);
void conn_status(struct shard_conn *c, int status, int keep_alive);

/* conn_process parses and answers the complete requests in c's input while
 * its output has room for another answer and it is not waiting. */
void conn_process(struct shard_conn *c);

/* shard_conn_take: a connection for fd from the shard's pool (NULL: over
 * the cap or out of memory; fd is then closed). shard_conn_put returns it
 * (fd already closed). */
struct shard_conn *shard_conn_take(struct shard *sh, int fd);
void shard_conn_put(struct shard_conn *c);

/* conn_iov fills c->iov (and c->msg) with what is left to send: the
 * output buffer, then the external body. Returns the iovec count. */
int conn_iov(struct shard_conn *c);

/* conn_sent advances past n octets sent; when the external body is done
 * its reference is dropped. Returns 1 when everything is sent. */
int conn_sent(struct shard_conn *c, size_t n);

/* conn_drop_ext drops the external body (a connection closing). */
void conn_drop_ext(struct shard_conn *c);

/* A graceful close (after a 4xx for a request we did not read whole, RFC
 * 9112 9.6; as nginx's lingering close): once the answer is sent, the
 * sending side is shut down and what the client still sends is read and
 * dropped, for SHARD_LINGER_S at most (in whole seconds, ended by the
 * once-a-second sweep: 1 to 3 s) and SHARD_LINGER_BYTES at most, then the
 * connection closes. Closing at once with unread input would reset it, and
 * the client could lose the status. */
#define SHARD_LINGER_S 2
#define SHARD_LINGER_BYTES (256 * 1024)

/* shard_linger_start: c's answer is sent and c->linger is set: shuts down
 * its sending side and starts lingering. Returns 1, or 0 when the
 * connection should simply close (the shutdown failed). */
int shard_linger_start(struct shard_conn *c);

/* shard_linger_more: n more bytes were read and dropped while lingering.
 * Returns 1 to go on reading, 0 to close now (past SHARD_LINGER_BYTES). */
int shard_linger_more(struct shard_conn *c, size_t n);

/* shard_sweep closes (with the backend's close) the connections past the
 * idle or the read timeout, or done lingering. The backends call it once a
 * second. */
void shard_sweep(struct shard *sh);

/* shard_drain_tick: while the server drains, closes every connection with
 * nothing in progress: no request begun, nothing to send, no answer
 * awaited (one that has asked nothing yet gets DRAIN_GRACE_S, counted in
 * whole seconds, so 1 to 2 s, from its accept for its first request).
 * Returns 1 the first time it sees the drain (the backend then stops
 * accepting and closes its listener). */
int shard_drain_tick(struct shard *sh);

/* shard_conn_heard: n bytes came into c->in (the loops call it after each
 * receive): it is no longer silent, and active now. */
void shard_conn_heard(struct shard_conn *c, size_t n);

/* shard_accept_rest accepts (accept4 with sock_flags) every connection
 * waiting in the listener's queue and hands each to start, so that closing
 * the listener at the drain resets none that the kernel had completed. */
void shard_accept_rest(struct shard *sh, int sock_flags, void (*start)(struct shard *sh, struct shard_conn *c));

/* shard_woken: the wake eventfd was read: runs the routes' wake hooks. */
void shard_woken(struct shard *sh);

/* shard_stopping: whether server_stop asked the loops to end. */
static inline int shard_stopping(const struct shard *sh) { return atomic_load(&sh->srv->stopping); }

#endif
