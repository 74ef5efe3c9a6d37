/* nats: the feed's connection and streams (feed/nats.h). */
#include "feed/nats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "feed/msg.h"

struct feed_nats {
    natsConnection *nc;
    jsCtx *js;
};

int64_t feed_nats_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* async_error: nats.c's asynchronous errors (a slow consumer, a
 * permission refused), said in the log. nats.c's thread. */
static void async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg) {
    (void)nc, (void)arg;
    rlog(LOG_WARN, "feed.nats_error", "feed: NATS: %s%s%s", natsStatus_GetText(err), sub ? " on " : "",
         sub ? natsSubscription_GetSubject(sub) : "");
}

/* split copies urls into at most 16 pointers (into a copy the caller frees). */
static int split(const char *urls, char **copy, const char *out[16]) {
    int n = 0;
    if ((*copy = strdup(urls)) == NULL) return 0;
    for (char *save = NULL, *t = strtok_r(*copy, ",", &save); t != NULL && n < 16; t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

struct feed_nats *feed_nats_connect(const char *urls, const char *name, jsPubAckHandler ack, void *arg,
                                    struct rerr *e) {
    struct feed_nats *n = calloc(1, sizeof(*n));
    natsOptions *o = NULL;
    char *copy = NULL;
    const char *servers[16];
    int ns = split(urls, &copy, servers);
    natsStatus s = n == NULL || ns == 0 ? NATS_NO_MEMORY : natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetServers(o, servers, ns);
    if (s == NATS_OK) s = natsOptions_SetName(o, name);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, 64 << 20);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, async_error, NULL);
    if (s == NATS_OK) s = natsConnection_Connect(&n->nc, o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.MaxPending = 4096;
    jo.PublishAsync.AckHandler = ack;
    jo.PublishAsync.AckHandlerClosure = arg;
    if (s == NATS_OK) s = natsConnection_JetStream(&n->js, n->nc, &jo);
    natsOptions_Destroy(o);
    free(copy);
    if (s != NATS_OK) {
        rerr_set(e, "cannot connect to NATS at %s: %s", urls, natsStatus_GetText(s));
        feed_nats_close(n);
        return NULL;
    }
    return n;
}

/* replicas: the servers the connection knows of (the cluster), at most 3. */
static int replicas(natsConnection *nc) {
    char **servers = NULL;
    int count = 0;
    if (natsConnection_GetServers(nc, &servers, &count) != NATS_OK) return 1;
    for (int i = 0; i < count; i++) free(servers[i]);
    free(servers);
    return count >= 3 ? 3 : 1;
}

static int add_stream(struct feed_nats *n, unsigned i, const char *hub_domain, int r, struct rerr *e) {
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    const char *subject = feed_stream_subject(i);
    char api[96];
    jsStreamSource mirror = {0};
    jsExternalStream ext = {0};
    c.Name = feed_stream_name(i);
    c.Storage = js_FileStorage;
    c.Duplicates = (int64_t)120 * 1000000000; /* de-duplication window: 2 minutes */
    c.MaxMsgsPerSubject = 1; /* the latest of each key (a mirror too) */
    if (hub_domain != NULL) {
        snprintf(api, sizeof(api), "$JS.%s.API", hub_domain);
        ext.APIPrefix = api;
        ext.DeliverPrefix = ""; /* nats.c 3.4.1 crashes on NULL (notes/nats.md) */
        mirror.Name = c.Name;
        mirror.External = &ext;
        c.Mirror = &mirror;
    } else {
        c.Subjects = &subject;
        c.SubjectsLen = 1;
        c.Replicas = r;
    }
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, c.Name, NULL, &code);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return 1;
    }
    s = js_AddStream(&si, n->js, &c, NULL, &code);
    if (s == NATS_OK) jsStreamInfo_Destroy(si);
    if (s != NATS_OK && code != JSStreamNameExistErr)
        return rerr_set(e, "cannot make the stream %s: %s (%d)", c.Name, natsStatus_GetText(s), (int)code);
    return 1;
}

int feed_nats_streams(struct feed_nats *n, const char *hub_domain, struct rerr *e) {
    int r = replicas(n->nc);
    for (unsigned i = 0; i < FEED_STREAMS; i++)
        if (!add_stream(n, i, hub_domain, r, e)) return 0;
    return 1;
}

jsCtx *feed_nats_js(struct feed_nats *n) { return n->js; }
natsConnection *feed_nats_conn(struct feed_nats *n) { return n->nc; }

void feed_nats_close(struct feed_nats *n) {
    if (n == NULL) return;
    jsCtx_Destroy(n->js);
    if (n->nc != NULL) {
        natsConnection_Close(n->nc);
        natsConnection_Destroy(n->nc);
    }
    free(n);
}
