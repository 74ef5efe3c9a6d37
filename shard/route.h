/* route: what the serving process registers with the shards, in the manner
 * of h2o's lib/handler: a path (exact, or a prefix with an optional
 * suffix), the methods it takes, the kind /metrics counts its requests as,
 * and the function that answers, with its per-shard context. shard/ routes
 * a request to the first registered route that matches (after its own
 * /metrics and /healthz) and knows nothing of what the handler serves.
 *
 * A route is plain data, copied by server_route_add (shard/server.h)
 * before server_start; arg and what ctx_of returns belong to the
 * registrant and outlive the server.
 *
 * Threads: handle and wake run on the shard's thread with that shard's
 * context; ctx_of on the thread calling server_start. */
#ifndef REVD_SHARD_ROUTE_H
#define REVD_SHARD_ROUTE_H

#include "shard/http.h"
#include "shard/metrics.h"

struct server;
struct server_config;
struct shard_conn;

enum shard_match {
    SHARD_MATCH_EXACT,  /* the request-target is path */
    SHARD_MATCH_PREFIX, /* it starts with path (and, with a suffix, ends with
                           it, something between the two) */
};

/* Methods a route takes; any other is answered 405 with an Allow header
 * naming these (RFC 9110 15.5.6). */
#define SHARD_GET 1u
#define SHARD_HEAD 2u
#define SHARD_POST 4u

/* shard_handle_fn answers r (complete, its body in place) on c through
 * shard/handler.h, with ctx its shard's context. The views in r are valid
 * for the call only. It must answer (or shard_wait) before returning. */
typedef void shard_handle_fn(struct shard_conn *c, const struct http_request *r, void *ctx);

struct shard_route {
    const char *path; /* a static string */
    enum shard_match match;
    const char *suffix; /* SHARD_MATCH_PREFIX only; NULL: none */
    unsigned methods;   /* SHARD_GET | ... */
    enum metric_kind kind;
    shard_handle_fn *handle;
    void *arg;
    /* ctx_of: shard's context (index 0..num_shards) for a server s being
     * started; NULL fails the start. NULL ctx_of: arg for every shard. */
    void *(*ctx_of)(void *arg, struct server *s, int shard);
    /* wake (may be NULL): server_wake rang the shard (work handed back to
     * it from another thread, shard/server.h). Called once per distinct
     * (wake, context) among the routes. */
    void (*wake)(void *ctx);
};

#endif
