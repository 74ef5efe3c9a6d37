/* edge: an edge responder's feed. It reads the streams of its local NATS
 * server (feed/msg.h; on a leaf node, mirrors of the primary's cluster's
 * streams that it makes when missing), checks every message
 * (feed/verify.h), keeps the newest version of each key in its own
 * database (feed/edgedb.h) with each stream's last sequence, and hands
 * the shards generations (ocsp/gen.h) and CRL sets (crl/set.h) built from
 * them, as the primary's CA-core thread does: same bytes, same times, so
 * the same answers and headers.
 *
 * Start. With a database that holds responses, the first generation is
 * built from it before the shards start (served at once) and each stream
 * is read from the sequence after the one recorded. With an empty one the
 * edge bootstraps: it reads every stream from its start into the database,
 * then builds the generation once (a progress line every few seconds).
 *
 * Fail safe. A key's message is kept only when its version is above the
 * one held (a CRL's number too): a replayed or reordered older message
 * never replaces a newer one. What fails a check is refused, counted and
 * logged, never stored. The shards never answer with a response past its
 * nextUpdate (tryLater) nor a CRL past its own (503). /healthz answers 503
 * while bootstrapping, catching up, or when the primary's heartbeat is
 * older than heartbeat_max_age (server_set_health), while the shards go on
 * answering what has not expired.
 *
 * Threads: feed_edge_open and feed_edge_free on the serving process's main
 * thread; feed_edge_start starts the applier thread, which from then on
 * is the only one to build and publish generations and CRL sets and to
 * reclaim them (server_reclaim): the edge's CA-core thread. nats.c's
 * delivery threads check messages and hand them to it. */
#ifndef REVD_FEED_EDGE_H
#define REVD_FEED_EDGE_H

#include <stdint.h>

#include "common/rerr.h"

struct gen;
struct crl_set;
struct server;
struct ocsp_answer;
struct feed_edge;

struct feed_edge_config {
    const char *urls;          /* the local NATS server(s) */
    const char *dir;           /* EDGEDIR: edge.db */
    const char *hub_domain;    /* NULL, or the JetStream domain the local server mirrors */
    const char *trust;         /* PEM file of the anchors */
    int64_t heartbeat_max_age; /* seconds */
    const char *store_dir;     /* EDGEDIR/ocsp: large CAs' response stores (feed/edgestore.h) */
    uint64_t store_above;      /* a CA with more certificates is served from a store */
};

/* feed_edge_open opens EDGEDIR's database and the anchors, and builds the
 * first generation and CRL set from what the database holds (*g and *crls,
 * for the caller to put in the server's slots; never NULL). NULL with e
 * set. */
struct feed_edge *feed_edge_open(const struct feed_edge_config *c, struct gen **g, struct crl_set **crls,
                                 struct rerr *e);

/* feed_edge_start: srv serves the generations in gen_slot and the CRL sets
 * in crl_slot; ans (for its counts) answers OCSP. Starts the applier,
 * which connects (again and again until it can) and reads. 1, or 0 with e
 * set. */
int feed_edge_start(struct feed_edge *x, struct server *srv, int gen_slot, int crl_slot, struct ocsp_answer *ans,
                    struct rerr *e);

/* feed_edge_stop stops reading and the applier (what it applied is in the
 * database); feed_edge_free frees (after the server stopped). Both accept
 * NULL. */
void feed_edge_stop(struct feed_edge *x);
void feed_edge_free(struct feed_edge *x);

#endif
