/* nats: the feed's one connection to NATS JetStream (nats.c, libnats),
 * and the streams of feed/msg.h.
 *
 * A connection reconnects on its own, forever (a NATS that goes away and
 * comes back is not an error the feed sees, only acknowledgements that
 * wait); feed_nats_connect fails only when no server answers at all.
 *
 * Threads: a struct feed_nats is used by the thread that made it (nats.c
 * runs its own threads underneath and calls the handlers given from them). */
#ifndef REVD_FEED_NATS_H
#define REVD_FEED_NATS_H

#include <stdint.h>

#include <nats/nats.h>

#include "common/rerr.h"

struct feed_nats;

/* feed_nats_connect connects to urls (comma-separated nats:// URLs); name
 * is the connection's name on the server; ack (may be NULL) is told of each
 * asynchronous publication's outcome (and destroys its message). NULL with
 * e set. */
struct feed_nats *feed_nats_connect(const char *urls, const char *name, jsPubAckHandler ack, void *arg,
                                    struct rerr *e);

/* feed_nats_streams makes the feed's streams where they are missing: on a
 * primary (hub_domain NULL), each with its subjects, one message kept per
 * subject, file storage, replicas as many as the cluster has servers (at
 * most 3); on an edge's local server (hub_domain: the JetStream domain of
 * the primary's cluster), a mirror of each of the hub's streams. Streams
 * that exist are left as they are. 1, or 0 with e set. */
int feed_nats_streams(struct feed_nats *n, const char *hub_domain, struct rerr *e);

jsCtx *feed_nats_js(struct feed_nats *n);
natsConnection *feed_nats_conn(struct feed_nats *n);

/* feed_nats_close closes and frees. Accepts NULL. */
void feed_nats_close(struct feed_nats *n);

/* feed_nats_now_us: the wall clock in microseconds. */
int64_t feed_nats_now_us(void);

#endif
