/* natsping: proves the NATS topology of docs/edge.md end to end, with the
 * same calls an edge makes (libnats, nats.c 3.4.1).
 *
 *   natsping HUBURLS LEAFURL [REPLICAS]
 *
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

/* Polls the leaf's mirror until subj holds data; prints how long it took. */
static int leaf_read(jsCtx *js, const char *subj, const char *data) {
    int64_t start = nats_Now();
    while (nats_Now() - start < WAIT_MS) {
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        if (js_GetLastMsg(&m, js, "NATSPING", subj, NULL, &jerr) == NATS_OK) {
            int ok = natsMsg_GetDataLength(m) == (int)strlen(data) &&
                     memcmp(natsMsg_GetData(m), data, strlen(data)) == 0;
            natsMsg_Destroy(m);
            if (!ok) {
                fprintf(stderr, "natsping: leaf: %s holds other data than was published\n", subj);
                return 0;
            }
            printf("leaf: read %s from the mirror after %lld ms\n", subj, (long long)(nats_Now() - start));
            return 1;
        }
        nats_Sleep(20);
    }
    fprintf(stderr, "natsping: leaf: %s did not reach the mirror within %d ms\n", subj, WAIT_MS);
    return 0;
}

int main(int argc, char **argv) {
    natsConnection *hub = NULL, *leaf = NULL;
    jsCtx *hjs = NULL, *ljs = NULL;
    jsErrCode jerr = 0;
    int ok = 0;
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: natsping HUBURLS LEAFURL [REPLICAS]\n");
        return 2;
    }
    int replicas = argc == 4 ? atoi(argv[3]) : 3;
    natsStatus s = natsConnection_ConnectTo(&hub, argv[1]);
    if (s != NATS_OK) { fail("connect to the hub", s, 0); goto out; }
    s = natsConnection_ConnectTo(&leaf, argv[2]);
    if (s != NATS_OK) { fail("connect to the leaf", s, 0); goto out; }
    if (natsConnection_JetStream(&hjs, hub, NULL) != NATS_OK || natsConnection_JetStream(&ljs, leaf, NULL) != NATS_OK) {
        fail("JetStream context", NATS_NO_MEMORY, 0);
        goto out;
    }
    ok = hub_stream(hjs, replicas) && publish(hjs, "natsping.a", "one") && leaf_mirror(ljs) &&
         leaf_read(ljs, "natsping.a", "one") && publish(hjs, "natsping.b", "two") &&
         leaf_read(ljs, "natsping.b", "two");
out:
    if (ljs) js_DeleteStream(ljs, "NATSPING", NULL, &jerr);
    if (hjs) js_DeleteStream(hjs, "NATSPING", NULL, &jerr);
    jsCtx_Destroy(ljs);
    jsCtx_Destroy(hjs);
    natsConnection_Destroy(leaf);
    natsConnection_Destroy(hub);
    nats_Close();
    if (ok) printf("natsping: ok\n");
    return ok ? 0 : 1;
}
