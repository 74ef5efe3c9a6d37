/* natsread: the NATS floor of an edge's bootstrap (bench/edge.sh). It
 * reads the feed's streams (feed/msg.h: REVD_OCSP_0..3, REVD_CRL,
 * REVD_META, or the ones named) from their start with an ordered
 * consumer each, all at once as the edge does, and checks nothing: it
 * counts messages and bytes until every stream reached the last sequence
 * it had when subscribed, then prints one JSON line (held: the messages
 * the streams held at the start; fewer read than held, in a stream that
 * nothing rewrote meanwhile, means messages were lost on the way;
 * slow_consumer_events: nats.c's NATS_SLOW_CONSUMER errors). --delay-us D
 * sleeps D us in each message's callback: a reader as slow as a checking
 * edge, to see what NATS does to one; --stall K MS blocks the callback MS
 * ms every K messages of a stream (an edge's delivery thread waiting for
 * room in its applier's queue). --watch SUBJECT instead prints, until
 * killed, "REALTIME_NS SUBJECT SIZE" for each message published on SUBJECT
 * (a core subscription: when each message reached the server):
 *
 *   natsread [--url nats://127.0.0.1:4222] [STREAM...]
 *   {"messages": M, "bytes": B, "seconds": S, "msgs_per_s": R,
 *    "streams": {"REVD_OCSP_0": {"messages": .., "bytes": .., "min": .., "max": ..,
 *                "last_seq": ..}, ...}}
 *
 * bytes: payload bytes (natsMsg_GetDataLength), headers and subjects not
 * counted. seconds: from before the connection to the last message.
 * Exit 0, or 1 with a line on stderr. Standalone: libnats only (the
 * Makefile links it with -lnats, as loadgen). Threads: main, and nats.c's
 * delivery threads in on_msg. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#define NR_MAX 16

struct stream {
    const char *name;
    char subject[256];
    uint64_t target, held, seen_seq, msgs, bytes, min, max; /* held: State.Msgs at the start */
    natsSubscription *sub;
};

static struct stream st[NR_MAX];
static int nst;
static int left; /* streams not caught up */
static double done_at;
static unsigned delay_us;       /* --delay-us: a slow reader, as a checking edge is */
static unsigned stall_every, stall_ms; /* --stall K MS: a callback blocked MS ms every K messages */
static atomic_uint slow_events; /* nats.c's NATS_SLOW_CONSUMER errors (messages dropped) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    struct stream *s = closure;
    (void)nc, (void)sub;
    jsMsgMetaData *md = NULL;
    uint64_t seq = 0, len = (uint64_t)natsMsg_GetDataLength(msg);
    if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
        seq = md->Sequence.Stream;
        jsMsgMetaData_Destroy(md);
    }
    natsMsg_Destroy(msg);
    if (delay_us) usleep(delay_us);
    if (stall_every && s->msgs % stall_every == stall_every - 1) usleep(stall_ms * 1000u);
    pthread_mutex_lock(&mu);
    int was = s->seen_seq >= s->target;
    s->msgs++, s->bytes += len;
    if (s->min == 0 || len < s->min) s->min = len;
    if (len > s->max) s->max = len;
    if (seq > s->seen_seq) s->seen_seq = seq;
    if (!was && s->seen_seq >= s->target && --left == 0) {
        done_at = now_s();
        pthread_cond_signal(&cv);
    }
    pthread_mutex_unlock(&mu);
}

static void on_err(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure) {
    (void)nc, (void)sub, (void)closure;
    if (err == NATS_SLOW_CONSUMER) atomic_fetch_add(&slow_events, 1);
    else fprintf(stderr, "natsread: asynchronous error: %s\n", natsStatus_GetText(err));
}

/* --watch: a plain (core NATS) subscription's arrivals, one line each. */
static void on_watch(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc, (void)sub, (void)closure;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("%lld%09ld %s %d\n", (long long)ts.tv_sec, ts.tv_nsec, natsMsg_GetSubject(msg), natsMsg_GetDataLength(msg));
    fflush(stdout);
    natsMsg_Destroy(msg);
}

static int fail(const char *what, natsStatus s, jsErrCode code) {
    fprintf(stderr, "natsread: %s: %s (%d)\n", what, natsStatus_GetText(s), (int)code);
    return 1;
}

/* long: connect, subscribe, wait, print: one straight line reads best. */
int main(int argc, char **argv) {
    const char *url = "nats://127.0.0.1:4222", *watch = NULL;
    static const char *def[] = {"REVD_OCSP_0", "REVD_OCSP_1", "REVD_OCSP_2", "REVD_OCSP_3", "REVD_CRL", "REVD_META"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) url = argv[++i];
        else if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc) watch = argv[++i];
        else if (strcmp(argv[i], "--delay-us") == 0 && i + 1 < argc) delay_us = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--stall") == 0 && i + 2 < argc) {
            stall_every = (unsigned)atoi(argv[++i]);
            stall_ms = (unsigned)atoi(argv[++i]);
        }
        else if (argv[i][0] == '-' || nst == NR_MAX) {
            fprintf(stderr, "usage: natsread [--url nats://HOST:PORT] [--delay-us D] [--stall K MS] [STREAM...]\n"
                            "       natsread [--url nats://HOST:PORT] --watch SUBJECT\n");
            return 2;
        } else st[nst++].name = argv[i];
    }
    if (nst == 0)
        for (nst = 0; nst < 6; nst++) st[nst].name = def[nst];
    double t0 = now_s();
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsErrCode code = 0;
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = natsOptions_SetURL(o, url);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(o, on_err, NULL);
    if (s == NATS_OK) s = natsConnection_Connect(&nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK) return fail("connect", s, 0);
    if (watch != NULL) { /* until killed */
        natsSubscription *ws = NULL;
        if ((s = natsConnection_Subscribe(&ws, nc, watch, on_watch, NULL)) != NATS_OK) return fail(watch, s, 0);
        for (;;) pause();
    }
    if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) return fail("jetstream", s, 0);
    for (int i = 0; i < nst; i++) { /* the targets first: a stream caught up at once counts right */
        jsStreamInfo *si = NULL;
        if ((s = js_GetStreamInfo(&si, js, st[i].name, NULL, &code)) != NATS_OK) return fail(st[i].name, s, code);
        st[i].target = si->State.LastSeq;
        st[i].held = si->State.Msgs;
        if (si->Config == NULL || si->Config->SubjectsLen < 1) return fail(st[i].name, NATS_ERR, 0);
        snprintf(st[i].subject, sizeof(st[i].subject), "%s", si->Config->Subjects[0]);
        if (st[i].target > 0) left++;
        jsStreamInfo_Destroy(si);
    }
    for (int i = 0; i < nst; i++) {
        if (st[i].target == 0) continue;
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = st[i].name;
        so.Ordered = true;
        if ((s = js_Subscribe(&st[i].sub, js, st[i].subject, on_msg, &st[i], NULL, &so, &code)) != NATS_OK)
            return fail(st[i].name, s, code);
    }
    pthread_mutex_lock(&mu);
    while (left > 0) pthread_cond_wait(&cv, &mu);
    if (done_at == 0) done_at = now_s();
    pthread_mutex_unlock(&mu);
    double secs = done_at - t0;
    uint64_t msgs = 0, bytes = 0;
    for (int i = 0; i < nst; i++) natsSubscription_Unsubscribe(st[i].sub);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nst; i++) msgs += st[i].msgs, bytes += st[i].bytes;
    uint64_t held = 0;
    for (int i = 0; i < nst; i++) held += st[i].held;
    printf("{\"messages\": %" PRIu64 ", \"held\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"seconds\": %.4f, \"msgs_per_s\": %.0f, "
           "\"slow_consumer_events\": %u, \"delay_us\": %u, \"streams\": {",
           msgs, held, bytes, secs, secs > 0 ? (double)msgs / secs : 0.0, atomic_load(&slow_events), delay_us);
    for (int i = 0; i < nst; i++)
        printf("%s\"%s\": {\"messages\": %" PRIu64 ", \"held\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"min\": %" PRIu64 ", \"max\": %" PRIu64
               ", \"last_seq\": %" PRIu64 "}",
               i ? ", " : "", st[i].name, st[i].msgs, st[i].held, st[i].bytes, st[i].min, st[i].max, st[i].target);
    printf("}}\n");
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nst; i++) natsSubscription_Destroy(st[i].sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}
