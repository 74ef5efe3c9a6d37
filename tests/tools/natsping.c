/* natsping: proves the NATS topology of docs/edge.md end to end, with the
 * same calls an edge makes (libnats, nats.c 3.4.1).
 *
 *   natsping HUBURLS LEAFURL [REPLICAS]       the whole check, below
 *   natsping setup HUBURLS LEAFURL REPLICAS   steps 1-2 without the publish
 *   natsping pub HUBURLS SUBJECT DATA         publish one message at the hub
 *   natsping read URL SUBJECT DATA            wait (10 s) until the stream
 *                                             NATSPING at URL holds DATA on
 *                                             SUBJECT (leaf mirror or hub)
 *   natsping clean HUBURLS LEAFURL            delete both streams
 *
 * The whole check:
 * 1. On the hub (HUBURLS, comma-separated, JetStream domain "hub"): creates
 *    the stream NATSPING (subjects natsping.>, REPLICAS copies, default 3,
 *    one message kept per subject) and publishes natsping.a.
 * 2. On the leaf (LEAFURL, its own JetStream domain): creates NATSPING as a
 *    mirror of the hub's, reached through the API prefix "$JS.hub.API" with
 *    DeliverPrefix "" (NULL crashes nats.c 3.4.1: shared/notes/nats.md).
 * 3. Reads natsping.a back from the leaf's mirror (it came across when the
 *    mirror started), then publishes natsping.b at the hub and reads it back
 *    from the leaf (it came live).
 * 4. Deletes both streams.
 * The steps one by one let a test stop servers between them (failure modes).
 *
 * Prints one line per step with the time it took; exit 0 when every step
 * worked, 1 otherwise with the reason on stderr, 2 on usage. A test tool:
 * single-threaded, blocking, nothing here is linked into revd. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 10000 /* how long a message may take to reach the leaf */

static int fail(const char *what, natsStatus s, jsErrCode jerr) {
    fprintf(stderr, "natsping: %s: %s (JetStream error %d)\n", what, natsStatus_GetText(s), (int)jerr);
    return 0;
}

/* Creates the hub's stream NATSPING with num_replicas copies, replacing any
 * left by an earlier run. 1 on success. */
static int hub_stream(jsCtx *js, int num_replicas) {
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[] = {"natsping.>"};
    js_DeleteStream(js, "NATSPING", NULL, &jerr);
    jsStreamConfig_Init(&cfg);
    cfg.Name = "NATSPING";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = num_replicas;
    cfg.MaxMsgsPerSubject = 1;
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (s != NATS_OK) return fail("hub: create stream NATSPING", s, jerr);
    printf("hub: stream NATSPING, %d replicas, leader %s\n", (int)si->Config->Replicas,
           si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "(single server)");
    jsStreamInfo_Destroy(si);
    return 1;
}

/* Creates the leaf's NATSPING as a mirror of the hub's (domain "hub"). */
static int leaf_mirror(jsCtx *js) {
    jsStreamConfig cfg;
    jsStreamSource src;
    jsExternalStream ext;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    js_DeleteStream(js, "NATSPING", NULL, &jerr);
    jsExternalStream_Init(&ext);
    ext.APIPrefix = "$JS.hub.API";
    ext.DeliverPrefix = "";
    jsStreamSource_Init(&src);
    src.Name = "NATSPING";
    src.External = &ext;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "NATSPING";
    cfg.Storage = js_FileStorage;
    cfg.Mirror = &src;
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (s != NATS_OK) return fail("leaf: create mirror NATSPING", s, jerr);
    jsStreamInfo_Destroy(si);
    printf("leaf: mirror NATSPING of $JS.hub.API NATSPING\n");
    return 1;
}

static int publish(jsCtx *js, const char *subj, const char *data) {
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Publish(&pa, js, subj, data, (int)strlen(data), NULL, &jerr);
    if (s != NATS_OK) return fail("hub: publish", s, jerr);
    printf("hub: published %s (stream seq %llu)\n", subj, (unsigned long long)pa->Sequence);
    jsPubAck_Destroy(pa);
    return 1;
}

/* Polls the stream NATSPING at js until subj holds data (an older value may
 * come first: a mirror lags), up to WAIT_MS; prints how long it took. */
static int leaf_read(jsCtx *js, const char *subj, const char *data) {
    int64_t start = nats_Now();
    int seen_other = 0;
    while (nats_Now() - start < WAIT_MS) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        if (js_GetLastMsg(&m, js, "NATSPING", subj, NULL, &jerr) == NATS_OK) {
            int ok = natsMsg_GetDataLength(m) == (int)strlen(data) &&
                     memcmp(natsMsg_GetData(m), data, strlen(data)) == 0;
            natsMsg_Destroy(m);
            if (ok) {
                printf("leaf: read %s from the mirror after %lld ms\n", subj, (long long)(nats_Now() - start));
                return 1;
            }
            seen_other = 1;
        }
        nats_Sleep(20);
    }
    fprintf(stderr, "natsping: leaf: %s did not reach the mirror within %d ms%s\n", subj, WAIT_MS,
            seen_other ? " (it holds an older value)" : "");
    return 0;
}

static natsConnection *nc_hub, *nc_leaf;
static jsCtx *js_hub, *js_leaf;

/* Connects to url (a comma-separated list: natsConnection_ConnectTo tries
 * each) and makes its JetStream context. */
static int attach(const char *url, natsConnection **nc, jsCtx **js) {
    natsStatus s = natsConnection_ConnectTo(nc, url);
    if (s == NATS_OK) s = natsConnection_JetStream(js, *nc, NULL);
    if (s != NATS_OK) {
        fprintf(stderr, "natsping: connect to %s: %s\n", url, natsStatus_GetText(s));
        return 0;
    }
    return 1;
}

static int run(int argc, char **argv) {
    jsErrCode jerr = 0;
    const char *cmd = argv[1];
    if (strcmp(cmd, "setup") == 0 && argc == 5)
        return attach(argv[2], &nc_hub, &js_hub) && attach(argv[3], &nc_leaf, &js_leaf) &&
               hub_stream(js_hub, atoi(argv[4])) && leaf_mirror(js_leaf);
    if (strcmp(cmd, "pub") == 0 && argc == 5)
        return attach(argv[2], &nc_hub, &js_hub) && publish(js_hub, argv[3], argv[4]);
    if (strcmp(cmd, "read") == 0 && argc == 5)
        return attach(argv[2], &nc_leaf, &js_leaf) && leaf_read(js_leaf, argv[3], argv[4]);
    if (strcmp(cmd, "clean") == 0 && argc == 4) {
        if (attach(argv[3], &nc_leaf, &js_leaf)) js_DeleteStream(js_leaf, "NATSPING", NULL, &jerr);
        if (attach(argv[2], &nc_hub, &js_hub)) js_DeleteStream(js_hub, "NATSPING", NULL, &jerr);
        return 1;
    }
    if (argc != 3 && argc != 4) return -1;
    int ok = attach(argv[1], &nc_hub, &js_hub) && attach(argv[2], &nc_leaf, &js_leaf) &&
             hub_stream(js_hub, argc == 4 ? atoi(argv[3]) : 3) && publish(js_hub, "natsping.a", "one") &&
             leaf_mirror(js_leaf) && leaf_read(js_leaf, "natsping.a", "one") &&
             publish(js_hub, "natsping.b", "two") && leaf_read(js_leaf, "natsping.b", "two");
    if (js_leaf) js_DeleteStream(js_leaf, "NATSPING", NULL, &jerr);
    if (js_hub) js_DeleteStream(js_hub, "NATSPING", NULL, &jerr);
    return ok;
}

int main(int argc, char **argv) {
    int ok = argc >= 3 ? run(argc, argv) : -1;
    if (ok < 0) {
        fprintf(stderr, "usage: natsping HUBURLS LEAFURL [REPLICAS] | setup HUBURLS LEAFURL REPLICAS |\n"
                        "       pub HUBURLS SUBJECT DATA | read URL SUBJECT DATA | clean HUBURLS LEAFURL\n");
        return 2;
    }
    jsCtx_Destroy(js_leaf);
    jsCtx_Destroy(js_hub);
    natsConnection_Destroy(nc_leaf);
    natsConnection_Destroy(nc_hub);
    nats_Close();
    if (ok) printf("natsping: ok\n");
    return ok ? 0 : 1;
}
