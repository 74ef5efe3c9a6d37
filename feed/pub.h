/* pub: the primary's side of the feed. Everything the primary serves goes
 * into NATS JetStream (feed/msg.h): every signed OCSP response (both
 * CertID forms of a certificate in one message), every CRL, every CA's
 * certificate, and a heartbeat each second.
 *
 * What is sent and when. The CA-core thread hands over each generation it
 * publishes (feed_pub_gen) and each CRL set (feed_pub_crls). A CA's
 * overlay is diffed against the one before (a response whose ETag
 * changed is sent); a CA whose base table or store changed is scanned for
 * the responses signed since the last generation (thisUpdate at or after
 * it, less the backdate). Messages go into the outbox, a FIFO the feed
 * thread drains in batches: js_PublishMsgAsync of at most FEED_PUB_BATCH
 * messages (a key at most once in a batch: its latest), then wait for
 * every acknowledgement; a batch that failed is sent again whole (the
 * Nats-Msg-Id de-duplicates what had been stored) before anything after
 * it, so a subject's last message in the stream is its latest version.
 *
 * Nothing lost. DIR/feed.pos (written atomically, about once a second and
 * at stop) records the watermark: every response with a thisUpdate before
 * it has been acknowledged by JetStream. A start scans every CA for the
 * responses at or after it and sends them again, with every CRL and CA
 * certificate; the index's change log (written in the same synced batch
 * as each status change) is what makes a start re-sign a change whose
 * response was lost, so a revocation acknowledged to the operator reaches
 * the stream even when revd or NATS died before it was sent. A first start
 * (no feed.pos) sends everything. When NATS is away, the outbox grows up to
 * FEED_PUB_OUTBOX_MAX bytes; past it, new messages are dropped and the
 * watermark stays put, and once the outbox has drained, a scan sends again
 * everything signed since.
 *
 * Versions: each message has the next value of a counter that starts a
 * start at max(now in microseconds, the recorded one + 10^9), so it only
 * grows, across restarts too; every message of one scan has the version of
 * its start (a live message for a key sent during a scan has a greater one,
 * and the scan then skips that key).
 *
 * Threads: feed_pub_new, _gen, _crls, _tick, _set_backdate and _free on the
 * CA-core thread; the feed thread (and nats.c's own) inside. */
#ifndef REVD_FEED_PUB_H
#define REVD_FEED_PUB_H

#include <stdint.h>

#include "common/rerr.h"

struct gen;
struct crl_set;
struct metrics_core;
struct feed_pub;

#define FEED_PUB_BATCH 512
#define FEED_PUB_OUTBOX_MAX (256u << 20)

struct feed_pub_config {
    const char *urls;    /* nats://HOST:PORT[,nats://HOST:PORT...] */
    const char *dir;     /* DIR: feed.pos lives there */
    int64_t backdate;    /* seconds responses are dated before they are signed */
};

/* feed_pub_new reads DIR/feed.pos and starts the feed thread, which
 * connects (and reconnects) on its own: a NATS that is not up yet is not an
 * error. m (may be NULL) gets the outbox's metrics. NULL with e set. */
struct feed_pub *feed_pub_new(const struct feed_pub_config *c, struct metrics_core *m, struct rerr *e);

/* feed_pub_gen: g is about to be published (CA-core thread; g is read
 * before the call returns, its tables referenced while scanned). */
void feed_pub_gen(struct feed_pub *p, const struct gen *g);

/* feed_pub_crls: s is the CRL set now served; g the current generation
 * (it names the CAs). */
void feed_pub_crls(struct feed_pub *p, const struct crl_set *s, const struct gen *g);

/* feed_pub_tick: between commands. position: the index's change-log
 * position (for the heartbeat). Goes on with a scan (a slice bounded by
 * the outbox's room), records the watermark. Returns the milliseconds it
 * wants to be called again in (10 while a scan goes on, else 1000). */
int feed_pub_tick(struct feed_pub *p, uint64_t position);

void feed_pub_set_backdate(struct feed_pub *p, int64_t backdate);

/* feed_pub_free sends what it can for up to two seconds, records the
 * watermark, stops the thread and frees. Accepts NULL. */
void feed_pub_free(struct feed_pub *p);

#endif
