/* server: the shards. N threads, each pinned to a core, each with its own
 * SO_REUSEPORT listener, event loop (io_uring: shard/loop_uring.c; or
 * libevent: shard/loop_ev.c), connection pool and counters; they share
 * nothing mutable. What they serve is an
 * immutable generation (ocsp/gen.h) read through an atomic pointer; a new
 * one is published with server_publish, which frees the old one only after
 * every shard has ticked past the swap (a shard holds no pointer into a
 * generation across loop iterations).
 *
 * Routes: GET/HEAD /healthz; GET/HEAD /ca/NAME.der; POST /ocsp (and /ocsp/);
 * GET /ocsp/{base64 of the DER request}. Answers from memory only: no lock,
 * no disk, no signature on the request path. */
#ifndef REVD_SHARD_SERVER_H
#define REVD_SHARD_SERVER_H

#include <stdint.h>

#include "common/cidr.h"
#include "common/rerr.h"

struct gen;
struct server;
struct ocsp_job;

/* The signing lane as the shards see it (ca/lane.h): questions the tables
 * cannot answer go there, within a rate, and come back through
 * server_job_done. */
struct server_lane {
    int (*submit)(void *arg, struct ocsp_job *job); /* NULL: no lane */
    void *arg;
    int nonce_echo;     /* --nonce echo: a request's nonce gets a fresh response */
    int unknown_signed; /* --unknown signed: a never-issued serial gets "unknown" */
    uint32_t rate;      /* signatures per second, all shards together */
};

#define SERVER_MAX_CONNS_PER_SHARD 4096
/* Defaults: a connection with nothing to answer is closed after the idle
 * timeout since its last bytes; one holding part of a request, after the
 * read timeout since that request began (slow senders). */
#define SERVER_IDLE_TIMEOUT_S 30
#define SERVER_READ_TIMEOUT_S 10

enum server_io {
    SERVER_IO_AUTO,     /* io_uring, or libevent where io_uring is unavailable (said once) */
    SERVER_IO_URING,    /* io_uring or fail */
    SERVER_IO_LIBEVENT, /* libevent */
};

struct server_config {
    const char *listen; /* "127.0.0.1:8080", "[::1]:8080" */
    enum server_io io;
    int threads;        /* 0: one per core */
    int64_t max_age;    /* Cache-Control cap (default 3600; 0: max-age=0) */
    int idle_timeout, read_timeout; /* seconds; 0: the defaults above */
    int no_metrics;     /* 1: GET /metrics answers 404 */
    /* Who may GET /metrics (others get 404, as with no_metrics); at start
     * only. num_metrics_allow 0: loopback only (127.0.0.0/8, ::1). */
    struct cidr metrics_allow[CIDR_LIST_MAX];
    size_t num_metrics_allow;
    /* Descriptors the shards leave free under the open-file limit (read at
     * start): a connection whose descriptor is past the line is treated as
     * one past the cap, so a flood on the public port never takes what the
     * control socket, the index and the CRL files need. 0: none. */
    int fd_reserve;
    struct server_lane lane;
};

/* Jobs in flight per shard: past that (or past the rate) the shard answers
 * without the lane. */
#define SERVER_LANE_JOBS 64

/* server_start binds every shard's listener and starts the threads serving
 * g (the server owns it from then on). Returns the server, or NULL with e
 * set (nothing left running). Main thread. */
struct server *server_start(const struct server_config *cfg, struct gen *g, struct rerr *e);

/* server_io_name: the event loop the shards run on ("io_uring", "libevent"). */
const char *server_io_name(const struct server *s);

/* server_publish swaps in g (owned from then on): every shard answers from
 * it from the next request on. The previous generation is retired, and
 * freed by a later server_publish or server_reclaim once no shard can hold
 * a pointer into it (two shard ticks, about 100 ms). Does not wait. Main
 * (CA-core) thread. */
void server_publish(struct server *s, struct gen *g);

/* server_reclaim frees the retired generations no shard can still read;
 * returns how many are left. Main (CA-core) thread. */
int server_reclaim(struct server *s);

/* server_job_done hands an answered job back to its shard (the lane's
 * thread; arg is the server). Never blocks. */
void server_job_done(void *arg, struct ocsp_job *job);

/* server_stats: counters summed over the shards (read while they run: a
 * moment's view). */
struct server_stats {
    uint64_t requests, bad_requests, refused_conns, lane_jobs, lane_fallbacks, expired;
};
void server_stats(const struct server *s, struct server_stats *out);

/* server_core_metrics: the CA-core thread's figures that /metrics also
 * reports (shard/metrics.h); written by that thread only. */
struct metrics_core *server_core_metrics(struct server *s);

/* server_set_live applies the settings of cfg a reload may change:
 * max_age, lane.rate (when the server has a lane), lane.nonce_echo,
 * idle_timeout, read_timeout, no_metrics. The others stay as at start.
 * Shards see them from their next request or tick. CA-core thread. */
void server_set_live(struct server *s, const struct server_config *cfg);

/* server_drain stops every shard accepting (their listeners are closed),
 * lets the requests in progress be answered and sent, closes each
 * connection as soon as it has nothing in progress, and waits until none
 * is open or timeout_ms has passed. Returns how many were still open
 * (server_stop then closes them). CA-core thread, before server_stop. */
int server_drain(struct server *s, int timeout_ms);

/* server_stop stops the shards, joins them and frees everything. */
void server_stop(struct server *s);

#endif
