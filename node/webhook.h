/* webhook: events (docs/events.md) POSTed to URLs, one request per event,
 * from the events file itself: a thread follows the file, and each URL
 * keeps its own position (DIR/webhook-HASH.pos), so that a URL that is down
 * holds back only itself and an event written while the server was
 * stopped is still sent after it starts. A failed POST (no connection, a
 * TLS failure, a status that is not 2xx, no answer within the timeout) is
 * retried, the same event again, after 1 s, 2 s, 4 s ... up to 5 minutes;
 * delivery is at least once, in order, per URL.
 *
 * Thread: webhook_start and webhook_stop on the CA-core thread; the sender
 * is its own thread and touches nothing else of revd. */
#ifndef REVD_CMD_WEBHOOK_H
#define REVD_CMD_WEBHOOK_H

#include <stdint.h>

#include "common/rerr.h"

#define WEBHOOK_URLS_MAX 4
#define WEBHOOK_URL_MAX 512

struct webhook;

struct webhook_config {
    const char *urls;        /* "http://a/x,https://b/y": at most WEBHOOK_URLS_MAX */
    const char *ca_file;     /* PEM bundle to check https servers; NULL: the system's */
    const char *events_path; /* the events file to follow */
    const char *dir;         /* DIR: where the positions are kept */
    int timeout_s;           /* per request (connect, TLS, send, answer) */
    int min_severity;        /* events below it are skipped */
};

/* webhook_check validates urls (scheme http or https, a host, at most
 * WEBHOOK_URLS_MAX, each under WEBHOOK_URL_MAX); 1, or 0 with why. */
int webhook_check(const char *urls, char *why, size_t wl);

/* webhook_start starts the sender. NULL with e set on failure. */
struct webhook *webhook_start(const struct webhook_config *cfg, struct rerr *e);

/* webhook_stats: events delivered and failed attempts, all URLs. */
void webhook_stats(const struct webhook *w, uint64_t *sent, uint64_t *failed);

/* webhook_stop ends the sender (within its timeout) and frees it. */
void webhook_stop(struct webhook *w);

#endif
