/* server: the shards. N threads, each pinned to a core, each with its own
 * SO_REUSEPORT listener, event loop (shard/backend.h: io_uring or
 * libevent), connection pool and counters; they share nothing mutable.
 *
 * What they serve is the serving process's business: it registers routes
 * (shard/route.h) before server_start, and publishes what its handlers read
 * (immutable snapshots: an OCSP generation, a CRL set) into numbered slots
 * with server_publish. shard/ never looks inside a slot: a handler reads
 * its slot's current pointer (shard_slot, shard/handler.h), valid until the
 * shard's next tick; a pointer swapped out is freed (with the free function
 * it was published with) once every shard has ticked past the swap.
 *
 * Built in: GET/HEAD /metrics (shard/metrics.h) and /healthz. Answers from
 * memory only: no lock, no disk, no signature on the request path. */
#ifndef REVD_SHARD_SERVER_H
#define REVD_SHARD_SERVER_H

#include <stdint.h>

#include "common/rerr.h"
#include "shard/config.h"

struct server;

/* server_route_add appends a copy of rt to cfg's routes (matched in the
 * order they were added, after /metrics and /healthz). Returns 1, or 0
 * when cfg holds SERVER_MAX_ROUTES already. Before server_start. */
int server_route_add(struct server_config *cfg, const struct shard_route *rt);

/* A published pointer and how it is freed (free_fn(p); NULL: never). */
struct server_slot {
    void *p;
    void (*free_fn)(void *p);
};

/* server_start binds every shard's listener and starts the threads, the
 * slots holding init[0..SERVER_SLOTS) (owned from then on, also on
 * failure). Returns the server, or NULL with e set (nothing left running).
 * Main thread. */
struct server *server_start(const struct server_config *cfg, const struct server_slot init[SERVER_SLOTS],
                            struct rerr *e);

/* server_uring_off_parse: list ("recv-multishot,poll-first"; "" and NULL:
 * none, as "none"; "all": every one) into a mask of SERVER_URING_* (shard/config.h)
 * in *out. Returns 1, or 0 with e naming the unknown feature and the known
 * ones. Any thread. */
int server_uring_off_parse(const char *list, unsigned *out, struct rerr *e);

/* server_io_name: the event loop the shards run on ("io_uring", "libevent"). */
const char *server_io_name(const struct server *s);

/* server_publish puts p (owned from then on; free_fn frees it) in slot
 * (0..SERVER_SLOTS): every shard reads it from its next request on. The
 * previous pointer is retired, and freed by a later server_publish or
 * server_reclaim once no shard can hold it (two shard ticks, about 100 ms).
 * Does not wait. Main (CA-core) thread. */
void server_publish(struct server *s, int slot, void *p, void (*free_fn)(void *p));

/* server_reclaim frees the retired pointers no shard can still read;
 * returns how many are left. Main (CA-core) thread. */
int server_reclaim(struct server *s);

/* server_wake rings shard's bell: on its thread, soon, the routes' wake
 * hooks run (shard/route.h). Any thread; never blocks. */
void server_wake(struct server *s, int shard);

/* server_stats: counters summed over the shards (read while they run: a
 * moment's view). */
struct server_stats {
    uint64_t requests, bad_requests, refused_conns;
};
void server_stats(const struct server *s, struct server_stats *out);

/* server_set_health: why (a string that outlives the server, ending in a
 * newline) makes /healthz answer 503 with it as the body, so that a load
 * balancer drains this server; NULL makes it answer 200 again. Any thread. */
void server_set_health(struct server *s, const char *why);

/* server_core_metrics: the CA-core thread's figures that /metrics also
 * reports (shard/metrics.h); written by that thread only. */
struct metrics_core *server_core_metrics(struct server *s);

/* server_set_live applies the settings of cfg a reload may change:
 * max_age, idle_timeout, read_timeout, no_metrics, and whatever the routes'
 * live hooks take from it. The others stay as at start. Shards see them
 * from their next request or tick. CA-core thread. */
void server_set_live(struct server *s, const struct server_config *cfg);

/* server_drain stops every shard accepting (their listeners are closed),
 * lets the requests in progress be answered and sent, closes each
 * connection as soon as it has nothing in progress, and waits until none
 * is open or timeout_ms has passed. Returns how many were still open
 * (server_stop then closes them). CA-core thread, before server_stop. */
int server_drain(struct server *s, int timeout_ms);

/* server_stop stops the shards, joins them and frees everything, the
 * slots' pointers included. Stop what may still call server_wake first. */
void server_stop(struct server *s);

#endif
