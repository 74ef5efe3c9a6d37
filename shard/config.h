/* config: what the serving process tells server_start (shard/server.h):
 * where to listen, the event loop, the threads, the timeouts and caps, and
 * the routes it registered (shard/route.h). Plain data; the caller owns it
 * and server_start copies it. */
#ifndef REVD_SHARD_CONFIG_H
#define REVD_SHARD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/cidr.h"
#include "shard/route.h"

#define SERVER_MAX_CONNS_PER_SHARD 4096
/* Defaults: a connection with nothing to answer is closed after the idle
 * timeout since its last bytes; one holding part of a request, after the
 * read timeout since that request began (slow senders). */
#define SERVER_IDLE_TIMEOUT_S 30
#define SERVER_READ_TIMEOUT_S 10

/* Routes one server takes (shard/route.h), and published slots
 * (server_publish). */
#define SERVER_MAX_ROUTES 8
#define SERVER_SLOTS 4

enum server_io {
    SERVER_IO_AUTO,     /* io_uring, or libevent where io_uring is unavailable (said once) */
    SERVER_IO_URING,    /* io_uring or fail */
    SERVER_IO_LIBEVENT, /* libevent */
};

/* io_uring features the shards use where the kernel has them (each is
 * tried, and left out when refused: shard/loop_uring.c). */
enum server_uring_feature {
    SERVER_URING_DEFER_TASKRUN = 1 << 0,   /* completions run only when the shard waits (6.1) */
    SERVER_URING_RECV_MULTISHOT = 1 << 1,  /* one receive per connection, into provided buffers (6.0) */
    SERVER_URING_ACCEPT_MULTISHOT = 1 << 2, /* one accept per listener (5.19) */
    SERVER_URING_POLL_FIRST = 1 << 3,      /* a plain receive waits for data before trying (5.19) */
    SERVER_URING_LINKED_CLOSE = 1 << 4,    /* a last answer's send and the close in one submission */
};

struct server_config {
    const char *listen; /* "127.0.0.1:8080", "[::1]:8080" */
    enum server_io io;
    /* io_uring features to leave out, as a kernel without them would (for
     * tests of the fallbacks): NULL or names separated by commas, as
     * server_uring_off_parse takes them. */
    const char *uring_off;
    int threads;        /* 0: one per core */
    /* The cores the shards run on, one core each, round robin (shard i on
     * shard_cpus[i % num_shard_cpus]); num_shard_cpus 0: the shards are not
     * pinned. Read by server_start only (the caller's array). */
    const int *shard_cpus;
    int num_shard_cpus;
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
    /* The registered routes, in the order they are matched (server_route_add). */
    struct shard_route routes[SERVER_MAX_ROUTES];
    size_t num_routes;
};

#endif
