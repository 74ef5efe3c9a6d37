/* shard/internal.h: what the server (shard/server.c: answers, connections'
 * request processing, start, publish, stop) shares with its two event-loop
 * backends, io_uring (shard/loop_uring.c, the default) and libevent
 * (shard/loop_ev.c, the fallback). Not for use outside shard/.
 *
 * Thread: everything of a shard and its connections belongs to the shard's
 * thread, except the atomics noted. */
#ifndef REVD_SHARD_INTERNAL_H
#define REVD_SHARD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <liburing.h>

#include "common/rerr.h"
#include "common/spsc.h"
#include "shard/http.h"
#include "shard/metrics.h"
#include "shard/server.h"

/* A connection's input holds one request at most (head and framed body
 * together: the parser's window), and what follows it in the same reads. */
#define IN_CAP HTTP_MAX_REQUEST
#define OUT_CAP (64 * 1024)
/* Room one answer needs: the largest body (a CA certificate or response)
 * and its head. Reading pauses while less is free. */
#define ANSWER_MAX (16 * 1024)

/* Shards tick this often: the generation reclaim counts ticks; the
 * io_uring loop sweeps idle connections on them. */
#define TICK_MS 50

struct shard;
struct crl_blob;
struct event;
struct event_base;

struct conn {
    struct shard *sh;
    int fd;       /* -1: in the pool */
    uint64_t id;  /* the shard's count of accepted connections when this one came */
    int waiting;  /* a job is at the signing lane: requests after it wait */
    int closing;  /* close once the output is written */
    int linger;   /* ... gracefully: shut down sending, read and drop
                     what comes, then close (shard_linger_start) */
    int lingering; /* doing so, since the answer was sent */
    int64_t linger_until; /* seconds: it closes then at the latest */
    size_t linger_bytes;  /* dropped so far */
    int continued; /* "100 Continue" was sent for the request in `in` */
    size_t in_len, out_len, out_off;
    /* A large body sent from where it lives (a CRL), after out: a
     * reference held until it is sent; nothing more is answered meanwhile. */
    struct crl_blob *ext;
    size_t ext_off;
    struct iovec iov[2]; /* io_uring sendmsg: out, then ext */
    struct msghdr msg;
    /* libevent */
    struct event *ev_read, *ev_write;
    /* io_uring */
    int recv_busy, send_busy; /* an operation is in flight */
    int dead;                 /* shut down: closed once nothing is in flight */
    int64_t last_active;      /* seconds: when bytes last came (the sweep) */
    int64_t partial_since;    /* seconds: when the unfinished request in `in` began; 0: none */
    enum metric_kind kind;    /* what the request being answered asked for */
    uint64_t answered;        /* requests answered on this connection (eviction spares these first) */
    uint64_t t0_ns;           /* when it was complete in `in` (the latency histogram) */
    struct conn *next_free;
    struct conn *next_all; /* every connection the shard ever made, for stop */
    /* The shard's silent list (linked while silent): connections that have
     * sent nothing yet, oldest first; the cap evicts from its head. */
    struct conn *silent_prev, *silent_next;
    int silent;
    uint8_t in[IN_CAP];
    uint8_t out[OUT_CAP];
};

struct shard {
    struct server *srv;
    int index, listen_fd;
    pthread_t thread;
    struct conn *free_conns, *all_conns;
    struct conn *silent_head, *silent_tail; /* see struct conn */
    int64_t no_victim_until; /* a scan for an idle connection found none: none is looked for until then */
    size_t num_conns;
    _Atomic uint64_t ticks;
    uint64_t next_conn_id;
    /* The signing lane: a fixed pool of jobs, the ring answered jobs come
     * back on (the lane pushes), its eventfd, and a token bucket. */
    struct ocsp_job *jobs;
    struct ocsp_job *free_jobs[SERVER_LANE_JOBS];
    int num_free_jobs;
    struct spsc done;
    int done_fd;
    double tokens;
    struct timespec refilled;
    /* libevent */
    struct event_base *base;
    struct event *ev_accept, *ev_tick, *ev_done;
    /* io_uring */
    struct io_uring ring;
    int ring_ok;
    uint64_t done_buf;
    struct __kernel_timespec tick_ts;
    int stop_seen;
    int no_multishot;  /* the kernel has no multishot accept: plain accepts */
    int accept_paused; /* out of descriptors or memory: accepting again at the next tick */
    int drain_seen;    /* draining: the listener is closed; idle connections close at each tick */
    void (*evict)(struct conn *c); /* the backend's close, for making room at the cap */
    /* counters (issue #6 exports them); written by the shard only */
    _Atomic uint64_t requests, bad_requests, refused_conns, lane_jobs, lane_fallbacks, expired;
    struct shard_metrics m; /* GET /metrics (shard/metrics.h) */
};

/* A generation swapped out, freed once every shard has ticked twice since
 * (seen: the shards' tick counters at the swap). */
struct retired {
    struct gen *gen;
    struct retired *next;
    uint64_t seen[];
};

struct server {
    struct server_config cfg;
    long fd_line; /* a connection's descriptor at or past it is over the reserve (cfg.fd_reserve) */
    int uring; /* the backend: 1 io_uring, 0 libevent */
    _Atomic(struct gen *) current;
    struct retired *retired; /* CA-core thread only */
    atomic_int stopping;
    int num_shards;
    struct shard *shards;
    struct metrics_core core_metrics; /* written by the CA-core thread */
    /* The settings a reload may change (server_set_live), read by the
     * shards with relaxed loads: each on its own, no pairing needed. */
    _Atomic int64_t live_max_age;
    _Atomic uint32_t live_rate;
    atomic_int live_nonce_echo, live_idle_timeout, live_read_timeout, live_no_metrics;
    atomic_int draining; /* server_drain: stop accepting, close idle connections */
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

/* shard_fatal: a shard's loop cannot go on (its listener would keep
 * taking connections nobody answers, and generations could no longer be
 * reclaimed): says so and ends the process. Does not return. */
_Noreturn void shard_fatal(struct shard *sh, const char *what, int err);

/* conn_process parses and answers the complete requests in c's input while
 * its output has room for another answer and it is not waiting for the
 * lane (server.c). */
void conn_process(struct conn *c);

/* shard_conn_take: a connection for fd from the shard's pool (NULL: over
 * the cap or out of memory; fd is then closed). shard_conn_put returns it
 * (fd already closed). */
struct conn *shard_conn_take(struct shard *sh, int fd);
void shard_conn_put(struct conn *c);

/* conn_iov fills c->iov (and c->msg) with what is left to send: the
 * output buffer, then the external body. Returns the iovec count. */
int conn_iov(struct conn *c);

/* conn_sent advances past n octets sent; when the external body is done
 * its reference is dropped. Returns 1 when everything is sent. */
int conn_sent(struct conn *c, size_t n);

/* conn_drop_ext drops the external body (a connection closing). */
void conn_drop_ext(struct conn *c);

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
int shard_linger_start(struct conn *c);

/* shard_linger_more: n more bytes were read and dropped while lingering.
 * Returns 1 to go on reading, 0 to close now (past SHARD_LINGER_BYTES). */
int shard_linger_more(struct conn *c, size_t n);

/* shard_sweep closes (with close_fn) the connections past the idle or the
 * read timeout, or done lingering. The backends call it once a second. */
void shard_sweep(struct shard *sh, void (*close_fn)(struct conn *c));

/* shard_drain_tick: while the server drains, closes (with close_fn) every
 * connection with nothing in progress: no request begun, nothing to send,
 * no lane job (one that has asked nothing yet gets DRAIN_GRACE_S, counted
 * in whole seconds, so 1 to 2 s, from its accept for its first request).
 * Returns 1 the first time it sees the drain (the backend then stops
 * accepting and closes its listener). */
int shard_drain_tick(struct shard *sh, void (*close_fn)(struct conn *c));

/* shard_conn_heard: n bytes came into c->in (the loops call it after each
 * receive): it is no longer silent, and active now. */
void shard_conn_heard(struct conn *c, size_t n);

/* shard_accept_rest accepts (accept4 with sock_flags) every connection
 * waiting in the listener's queue and hands each to start, so that closing
 * the listener at the drain resets none that the kernel had completed. */
void shard_accept_rest(struct shard *sh, int sock_flags, void (*start)(struct shard *sh, struct conn *c));

/* shard_done_drain answers the connections whose lane jobs came back, then
 * kicks each (the backend's continue). */
void shard_done_drain(struct shard *sh);

/* The backends. *_init prepares a shard's loop (the listener and done_fd
 * are open); *_main is its thread; *_kick goes on with a connection after
 * its input or output changed outside the loop's callbacks; *_conn_free
 * and *_shard_free release what the backend made. */
int ev_shard_init(struct shard *sh, struct rerr *e);
void *ev_shard_main(void *arg);
void ev_kick(struct conn *c);
void ev_conn_free(struct conn *c);
void ev_shard_free(struct shard *sh);

/* uring_probe: whether io_uring works here (a ring can be made, with the
 * operations the loop uses); *why says why not. */
int uring_probe(const char **why);
int uring_shard_init(struct shard *sh, struct rerr *e);
void *uring_shard_main(void *arg);
void uring_kick(struct conn *c);
void uring_shard_free(struct shard *sh);

#endif
