/* pub: the primary's side of the feed (feed/pub.h). */
#include "feed/pub.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nats/nats.h>

#include "common/fsutil.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/rtime.h"
#include "crl/set.h"
#include "feed/msg.h"
#include "feed/nats.h"
#include "ocsp/gen.h"
#include "ocsp/store.h"
#include "ocsp/table.h"
#include "shard/metrics.h"

/* One message in the outbox, encoded. */
struct obox {
    struct obox *next;
    uint64_t no;  /* its place in the order of enqueueing */
    uint64_t key; /* feed_msg_key: a batch holds a key once */
    char subject[FEED_SUBJECT_MAX];
    char msgid[48];
    size_t len;
    uint8_t data[];
};

/* What was last seen of a CA (CA-core thread). */
struct seen {
    uint32_t caid;
    struct ocsp_table *table;    /* references: what a resync scans */
    struct ocsp_store *store;
    uint32_t store_uid;
    struct ocsp_table *overlay;  /* a reference: the one the next is diffed against */
    int64_t base_at;             /* when its table or store last changed */
    int cert_sent;
};

/* One CA of a scan: its tables and store referenced until done. */
struct scan_ca {
    uint32_t caid;
    struct ocsp_table *t;        /* base table (reference), or NULL */
    struct ocsp_store *store;    /* reference, or NULL */
    int64_t since;               /* responses with thisUpdate >= since */
};

struct scan {
    uint64_t version;
    struct scan_ca *cas;
    size_t n, i;
    size_t pos;                  /* in cas[i].t */
    struct ocsp_store_scan *sc;  /* over cas[i].store */
};

struct feed_pub {
    char *urls;
    char pos_path[PATH_MAX];
    int64_t backdate;
    struct metrics_core *m;

    /* CA-core thread. */
    uint64_t version;
    struct seen *seen;
    size_t nseen;
    struct crl_set *crls;        /* the set last sent (reference) */
    struct scan *scan;           /* the scan going on, or NULL */
    struct scan *next_scan;      /* the one after it (CAs appended while one runs) */
    uint64_t *skip;              /* keys sent live during the scan (open addressing, 0 empty) */
    size_t skip_cap, skip_num;
    int64_t watermark;           /* as recorded */
    int64_t start_since;         /* the watermark read at start: a CA's first scan starts there */
    int64_t pos_written;         /* monotonic ms */
    int64_t resync_since;        /* INT64_MAX: none */
    uint64_t enq_no;             /* messages enqueued */
    uint8_t buf[FEED_CRL_MAX + 4096];

    /* Shared under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct obox *head, **tail;
    size_t bytes, depth;
    int stop;
    int64_t oldest_at;           /* monotonic ms the head was queued */
    uint64_t position;
    int inflight;                /* the feed thread holds a batch taken from head */

    /* Feed thread. */
    pthread_t th;
    int started;
    _Atomic uint64_t ack_errors;
    /* The heartbeat's "complete": no scan to do (the CA-core thread's
     * word) and every message up to scan_until acknowledged (acked_no, the
     * feed thread's). */
    _Atomic int scanning;
    _Atomic uint64_t scan_until, acked_no;
    _Atomic uint64_t acked[FEED_STREAMS]; /* the last sequence acknowledged of each stream */
};

/* The position file: "watermark version\n". */
static void pos_write(struct feed_pub *p, int64_t w) {
    char line[64];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %" PRIu64 "\n", w, p->version);
    struct rerr e;
    if (!fs_write_atomic(p->pos_path, line, (size_t)n, 0600, &e))
        rlog(LOG_WARN, "feed.pos_failed", "feed: cannot record its position: %s", e.msg);
    p->watermark = w;
    p->pos_written = rtime_mono_ms();
}

/* pos_read: 1 with the watermark and version of the file, 0 when there is
 * none (a first start). */
static int pos_read(struct feed_pub *p, int64_t *w, uint64_t *v) {
    uint8_t *b;
    size_t n;
    struct rerr e;
    if (!fs_read_file(p->pos_path, 256, &b, &n, &e)) return 0;
    long long ww;
    unsigned long long vv;
    int ok = sscanf((char *)b, "%lld %llu", &ww, &vv) == 2;
    free(b);
    if (!ok) rlog(LOG_WARN, "feed.pos_damaged", "feed: %s is damaged: everything is sent again", p->pos_path);
    *w = ww, *v = vv;
    return ok;
}

/* ---- the outbox (CA-core thread puts, the feed thread takes) ---- */

/* enqueue encodes m as the next message. */
static void enqueue(struct feed_pub *p, const struct feed_msg *m) {
    size_t n = feed_msg_size(m);
    if (n == 0) return;
    pthread_mutex_lock(&p->mu);
    int full = p->bytes + n > FEED_PUB_OUTBOX_MAX;
    pthread_mutex_unlock(&p->mu);
    if (full) { /* sent again by a scan once drained */
        if (p->resync_since == INT64_MAX) {
            rlog(LOG_WARN, "feed.outbox_full", "feed: the outbox is full (%u MiB): messages are dropped for now and "
                 "sent again by a scan once NATS takes them", FEED_PUB_OUTBOX_MAX >> 20);
            p->resync_since = rtime_now() - p->backdate - 2;
        }
        return;
    }
    struct obox *o = malloc(sizeof(*o) + n);
    if (o == NULL) {
        if (p->resync_since == INT64_MAX) p->resync_since = rtime_now() - p->backdate - 2;
        return;
    }
    o->next = NULL;
    o->no = ++p->enq_no;
    o->key = feed_msg_key(m);
    o->len = feed_msg_encode(m, o->data, n);
    feed_msg_subject(m, o->subject, NULL);
    snprintf(o->msgid, sizeof(o->msgid), "%016" PRIx64 ".%" PRIu64, o->key, m->version);
    pthread_mutex_lock(&p->mu);
    if (p->head == NULL) p->oldest_at = rtime_mono_ms();
    *p->tail = o;
    p->tail = &o->next;
    p->bytes += n;
    p->depth++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* skip set: the keys sent live while a scan runs. */
static int skip_has(const struct feed_pub *p, uint64_t k) {
    if (p->skip_cap == 0) return 0;
    k |= 1;
    for (size_t i = k & (p->skip_cap - 1);; i = (i + 1) & (p->skip_cap - 1)) {
        if (p->skip[i] == 0) return 0;
        if (p->skip[i] == k) return 1;
    }
}

static void skip_add(struct feed_pub *p, uint64_t k) {
    if (p->scan == NULL) return;
    if (2 * (p->skip_num + 1) > p->skip_cap) {
        size_t cap = p->skip_cap ? 2 * p->skip_cap : 1024;
        uint64_t *t = calloc(cap, sizeof(*t));
        if (t == NULL) return; /* the scan may then send an older one first: edges keep the newer version */
        uint64_t *old = p->skip;
        size_t ocap = p->skip_cap;
        p->skip = t, p->skip_cap = cap, p->skip_num = 0;
        for (size_t i = 0; i < ocap; i++)
            if (old[i]) skip_add(p, old[i]);
        free(old);
    }
    k |= 1;
    size_t i = k & (p->skip_cap - 1);
    while (p->skip[i] != 0 && p->skip[i] != k) i = (i + 1) & (p->skip_cap - 1);
    if (p->skip[i] == 0) p->skip[i] = k, p->skip_num++;
}

/* send_ocsp: the responses of serial in t (both hashes) as one message. */
static int send_ocsp(struct feed_pub *p, uint32_t caid, const struct ocsp_table *t, const uint8_t *serial,
                     size_t serial_len, uint64_t version, int live) {
    struct feed_msg m = {.kind = FEED_OCSP, .version = version, .caid = caid, .serial = serial,
                         .serial_len = serial_len};
    if (!ocsp_table_find(t, serial, serial_len, OCSP_HASH_SHA1, &m.der[0], &m.der_len[0]) ||
        !ocsp_table_find(t, serial, serial_len, OCSP_HASH_SHA256, &m.der[1], &m.der_len[1]))
        return 0;
    if (live) skip_add(p, feed_msg_key(&m));
    else if (skip_has(p, feed_msg_key(&m) | 1)) return 0;
    enqueue(p, &m);
    return 1;
}

/* ---- scans ---- */

static void scan_free(struct scan *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->n; i++) {
        ocsp_table_free(s->cas[i].t);
        ocsp_store_put(s->cas[i].store);
    }
    ocsp_store_scan_free(s->sc);
    free(s->cas);
    free(s);
}

/* scan_add: CA caid's base table or store, from since, into the scan to
 * come (one is made when needed). */
static void scan_add(struct feed_pub *p, uint32_t caid, const struct ocsp_table *t, struct ocsp_store *st,
                     int64_t since) {
    struct scan *s = p->next_scan;
    if (s == NULL && (s = p->next_scan = calloc(1, sizeof(*s))) == NULL) goto oom;
    struct scan_ca *g = realloc(s->cas, (s->n + 1) * sizeof(*g));
    if (g == NULL) goto oom;
    s->cas = g;
    g[s->n++] = (struct scan_ca){caid, ocsp_table_ref((struct ocsp_table *)t), st ? ocsp_store_ref(st) : NULL, since};
    atomic_store(&p->scanning, 1);
    return;
oom:
    if (p->resync_since > since) p->resync_since = since;
}

/* scan_store_step: up to n records of the store of c. 1 while more, 0 when done. */
static int scan_store_step(struct feed_pub *p, struct scan *s, struct scan_ca *c, size_t n) {
    struct rerr e;
    if (s->sc == NULL && (s->sc = ocsp_store_scan_new(c->store, &e)) == NULL) goto fail;
    uint8_t *resp[2] = {p->buf, p->buf + FEED_RESPONSE_MAX};
    for (size_t k = 0; k < n; k++) {
        struct ocsp_store_rec r;
        int got = ocsp_store_scan_next(s->sc, &r, &e);
        if (got < 0) goto fail;
        if (got == 0) break;
        if (r.this_update < c->since) continue;
        struct feed_msg m = {.kind = FEED_OCSP, .version = s->version, .caid = c->caid, .serial = r.serial,
                             .serial_len = r.serial_len};
        int ok = 1;
        for (int h = 0; h < 2; h++) {
            ok &= ocsp_store_assemble(c->store, &r, h, resp[h], FEED_RESPONSE_MAX, &m.der_len[h]);
            m.der[h] = resp[h];
        }
        if (ok && !skip_has(p, feed_msg_key(&m))) enqueue(p, &m);
        if (k + 1 == n) return 1;
    }
    ocsp_store_scan_free(s->sc);
    s->sc = NULL;
    return 0;
fail:
    rlog(LOG_ERR, "feed.scan_failed", "feed: reading a response store to send it: %s", e.msg);
    ocsp_store_scan_free(s->sc);
    s->sc = NULL;
    return 0;
}

/* scan_step sends up to n more responses of the scan. 1 when it is done. */
static int scan_step(struct feed_pub *p, size_t n) {
    struct scan *s = p->scan;
    while (s->i < s->n && n > 0) {
        struct scan_ca *c = &s->cas[s->i];
        if (c->store != NULL) {
            if (scan_store_step(p, s, c, n)) return 0;
        } else {
            const uint8_t *serial;
            size_t len;
            int64_t tu, nu;
            while (n > 0 && ocsp_table_next(c->t, &s->pos, &serial, &len, &tu, &nu)) {
                if (tu >= c->since) send_ocsp(p, c->caid, c->t, serial, len, s->version, 0);
                n--;
            }
            if (n == 0) return 0;
        }
        s->i++, s->pos = 0;
    }
    return s->i >= s->n;
}

/* scans_go: the next slice of the scan going on (one is started from the
 * one to come). Returns whether a scan remains. */
static int scans_go(struct feed_pub *p) {
    if (p->scan == NULL && p->next_scan != NULL) {
        p->scan = p->next_scan;
        p->next_scan = NULL;
        p->scan->version = ++p->version;
        p->skip_num = 0;
        if (p->skip) memset(p->skip, 0, p->skip_cap * sizeof(*p->skip));
    }
    if (p->scan == NULL) return 0;
    /* A slice: what the outbox has room for, at most 20,000 responses. */
    pthread_mutex_lock(&p->mu);
    size_t room = p->bytes < FEED_PUB_OUTBOX_MAX / 2 ? (FEED_PUB_OUTBOX_MAX / 2 - p->bytes) / 2048 : 0;
    pthread_mutex_unlock(&p->mu);
    if (room > 20000) room = 20000;
    if (room > 0 && scan_step(p, room)) {
        scan_free(p->scan);
        p->scan = NULL;
        atomic_store(&p->scan_until, p->enq_no);
        rlog(LOG_INFO, "feed.scanned", "feed: the responses to send again are in the outbox");
    }
    return p->scan != NULL || p->next_scan != NULL;
}

/* ---- the generation and the CRLs (CA-core thread) ---- */

static struct seen *seen_of(struct feed_pub *p, uint32_t caid) {
    for (size_t i = 0; i < p->nseen; i++)
        if (p->seen[i].caid == caid) return &p->seen[i];
    struct seen *g = realloc(p->seen, (p->nseen + 1) * sizeof(*g));
    if (g == NULL) return NULL;
    p->seen = g;
    g[p->nseen] = (struct seen){.caid = caid, .base_at = INT64_MIN};
    return &g[p->nseen++];
}

/* diff_overlay sends each response of now whose ETag differs in before. */
static void diff_overlay(struct feed_pub *p, uint32_t caid, const struct ocsp_table *now, const struct ocsp_table *before) {
    size_t pos = 0;
    const uint8_t *serial;
    size_t len;
    int64_t tu, nu;
    while (ocsp_table_next(now, &pos, &serial, &len, &tu, &nu)) {
        const uint8_t *d0, *d1;
        size_t l0, l1;
        const char *e0, *e1;
        if (before != NULL && ocsp_table_find_etag(before, serial, len, OCSP_HASH_SHA256, &d1, &l1, &e1) &&
            ocsp_table_find_etag(now, serial, len, OCSP_HASH_SHA256, &d0, &l0, &e0) && strcmp(e0, e1) == 0)
            continue;
        send_ocsp(p, caid, now, serial, len, ++p->version, 1);
    }
}

/* send_ca: the CA's certificate and name. */
static void send_ca(struct feed_pub *p, const struct gen_ca *ca) {
    size_t len;
    const uint8_t *der = gen_ca_cert(ca, &len);
    const char *name = gen_ca_name(ca);
    if (der == NULL || len == 0) return;
    struct feed_msg m = {.kind = FEED_CA, .version = ++p->version, .caid = gen_ca_id(ca), .name = name,
                         .name_len = strlen(name), .der = {der}, .der_len = {len}};
    enqueue(p, &m);
}

void feed_pub_gen(struct feed_pub *p, const struct gen *g) {
    int64_t now = rtime_now();
    for (size_t i = 0; i < g->num; i++) {
        const struct gen_ca *ca = gen_ca_at(g, i);
        struct seen *s = seen_of(p, gen_ca_id(ca));
        if (s == NULL) {
            p->resync_since = INT64_MIN;
            continue;
        }
        if (!s->cert_sent) send_ca(p, ca), s->cert_sent = 1;
        const struct ocsp_table *t = gen_ca_table(ca), *ov = gen_ca_overlay(ca);
        struct ocsp_store *st = gen_ca_store(ca);
        uint32_t uid = st ? ocsp_store_uid(st) : 0;
        if (t != s->table || uid != s->store_uid) {
            /* A new base: what was signed since the last one (less the
             * backdate) is sent again; the rest went before. */
            int64_t since = s->base_at == INT64_MIN ? p->start_since : s->base_at - p->backdate - 2;
            if (t != NULL || st != NULL) scan_add(p, s->caid, t, st, since);
            ocsp_table_free(s->table);
            ocsp_store_put(s->store);
            s->table = ocsp_table_ref((struct ocsp_table *)t), s->store = st ? ocsp_store_ref(st) : NULL;
            s->store_uid = uid, s->base_at = now;
        }
        if (ov != s->overlay) {
            if (ov != NULL) diff_overlay(p, s->caid, ov, s->overlay);
            ocsp_table_free(s->overlay);
            s->overlay = ocsp_table_ref((struct ocsp_table *)ov);
        }
    }
}

/* ca_of_path: the CA a CRL path "/crl/NAME/..." belongs to. */
static const struct gen_ca *ca_of_path(const struct gen *g, const char *path) {
    if (strncmp(path, "/crl/", 5) != 0) return NULL;
    const char *name = path + 5, *end = strchr(name, '/');
    if (end == NULL) end = strchr(name, '.');
    return end ? gen_find_name(g, name, (size_t)(end - name)) : NULL;
}

void feed_pub_crls(struct feed_pub *p, const struct crl_set *s, const struct gen *g) {
    if (s == p->crls) return;
    for (size_t i = 0; i < crl_set_count(s); i++) {
        struct crl_blob *b = crl_set_at(s, i);
        size_t pl = strlen(b->path);
        if (p->crls != NULL && crl_set_find(p->crls, b->path, pl) == b) continue;
        const struct gen_ca *ca = ca_of_path(g, b->path);
        if (ca == NULL) continue;
        struct feed_msg m = {.kind = FEED_CRL, .version = ++p->version, .caid = gen_ca_id(ca), .name = b->path,
                             .name_len = pl, .refresh_at = b->refresh_at, .der = {b->der}, .der_len = {b->len}};
        enqueue(p, &m);
    }
    crl_set_free(p->crls);
    p->crls = crl_set_ref((struct crl_set *)s);
}

/* ---- the feed thread ---- */

/* ack: nats.c's thread, for each message published (destroys it). */
static void ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *arg) {
    struct feed_pub *p = arg;
    (void)js;
    if (pa != NULL) {
        for (unsigned i = 0; i < FEED_STREAMS; i++)
            if (pa->Stream != NULL && strcmp(pa->Stream, feed_stream_name(i)) == 0) {
                uint64_t was = atomic_load(&p->acked[i]);
                while (pa->Sequence > was && !atomic_compare_exchange_weak(&p->acked[i], &was, pa->Sequence)) {
                }
            }
    } else if (pae != NULL && atomic_fetch_add(&p->ack_errors, 1) == 0) { /* said once */
        rlog(LOG_WARN, "feed.publish_failed", "feed: JetStream refused a message: %s (%d)",
             pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err), (int)pae->ErrCode);
    }
    natsMsg_Destroy(msg);
}

/* take_batch: up to FEED_PUB_BATCH messages from the head, a key once
 * (its last). Left in the outbox until acknowledged. */
static size_t take_batch(struct feed_pub *p, struct obox **out) {
    size_t n = 0;
    for (struct obox *o = p->head; o != NULL && n < FEED_PUB_BATCH; o = o->next) {
        size_t j = 0;
        while (j < n && out[j]->key != o->key) j++;
        out[j] = o; /* a later one of the same key replaces the earlier */
        if (j == n) n++;
    }
    return n;
}

/* drop_batch removes from the head the messages up to and including the
 * last one taken (those it replaced in the batch go too). */
static void drop_batch(struct feed_pub *p, struct obox *const *b, size_t n) {
    struct obox *last = NULL;
    size_t seen = 0;
    /* The batch covers a prefix of the outbox: walk it until every message taken is passed. */
    for (struct obox *o = p->head; o != NULL && seen < n; o = o->next) {
        for (size_t j = 0; j < n; j++)
            if (b[j] == o) seen++;
        last = o;
    }
    while (p->head != NULL) {
        struct obox *o = p->head;
        p->head = o->next;
        p->bytes -= o->len;
        p->depth--;
        int end = o == last;
        atomic_store(&p->acked_no, o->no);
        free(o);
        if (end) break;
    }
    if (p->head == NULL) p->tail = &p->head;
    p->oldest_at = rtime_mono_ms();
}

/* publish_batch sends b[0..n) and waits for every acknowledgement. 1 when
 * every one came back positive. */
static int publish_batch(struct feed_pub *p, jsCtx *js, struct obox *const *b, size_t n) {
    uint64_t errs = atomic_load(&p->ack_errors);
    size_t sent = 0;
    for (; sent < n; sent++) {
        natsMsg *msg = NULL;
        if (natsMsg_Create(&msg, b[sent]->subject, NULL, (const char *)b[sent]->data, (int)b[sent]->len) != NATS_OK)
            break;
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = b[sent]->msgid;
        natsStatus s = js_PublishMsgAsync(js, &msg, &po);
        natsMsg_Destroy(msg);
        if (s != NATS_OK) break;
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = 5000;
    if (js_PublishAsyncComplete(js, &wait) != NATS_OK) {
        natsMsgList pending;
        if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) natsMsgList_Destroy(&pending);
        return 0;
    }
    return sent == n && atomic_load(&p->ack_errors) == errs;
}

static void heartbeat(struct feed_pub *p, jsCtx *js, uint64_t position) {
    struct feed_msg m = {.kind = FEED_HB, .sent_at_us = (int64_t)(feed_nats_now_us()), .position = position};
    m.version = (uint64_t)m.sent_at_us;
    m.complete = !atomic_load(&p->scanning) && atomic_load(&p->acked_no) >= atomic_load(&p->scan_until);
    for (unsigned i = 0; i < FEED_STREAMS; i++) m.acked[i] = atomic_load(&p->acked[i]);
    uint8_t b[128];
    char subject[FEED_SUBJECT_MAX];
    size_t n = feed_msg_encode(&m, b, sizeof(b));
    feed_msg_subject(&m, subject, NULL);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    jsPubAck *pa = NULL;
    if (js_Publish(&pa, js, subject, b, (int)n, &po, NULL) == NATS_OK) jsPubAck_Destroy(pa);
}

/* The metrics of the outbox (the feed thread writes them). */
static void gauges(struct feed_pub *p) {
    if (p->m == NULL) return;
    pthread_mutex_lock(&p->mu);
    uint64_t depth = p->depth;
    int64_t age = p->head ? (rtime_mono_ms() - p->oldest_at) / 1000 : 0;
    pthread_mutex_unlock(&p->mu);
    atomic_store_explicit(&p->m->feed.outbox_depth, depth, memory_order_relaxed);
    atomic_store_explicit(&p->m->feed.outbox_age_s, (uint64_t)age, memory_order_relaxed);
}

/* long: the feed thread's loop in one place: connect, batch, wait, retry, beat. */
static void *feed_thread(void *arg) {
    struct feed_pub *p = arg;
    struct feed_nats *fn = NULL;
    struct obox **batch = malloc(FEED_PUB_BATCH * sizeof(*batch));
    int64_t beat = 0, streams_tried = 0;
    int backoff = 0, streams_ok = 0, streams_said = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (p->head == NULL && !p->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        }
        int stop = p->stop;
        uint64_t position = p->position;
        size_t n = batch ? take_batch(p, batch) : 0;
        p->inflight = n > 0;
        pthread_mutex_unlock(&p->mu);
        gauges(p);
        if (stop && (n == 0 || fn == NULL)) break;
        if (fn == NULL) {
            struct rerr e;
            fn = feed_nats_connect(p->urls, "revd primary", ack, p, &e);
            if (fn == NULL) {
                if (backoff++ == 0) rlog(LOG_WARN, "feed.connect_failed", "feed: %s (retrying)", e.msg);
                pthread_mutex_lock(&p->mu);
                p->inflight = 0;
                pthread_mutex_unlock(&p->mu);
                struct timespec d = {0, 500 * 1000000L};
                nanosleep(&d, NULL);
                continue;
            }
            backoff = 0;
            streams_ok = 0;
        }
        /* The streams, made where missing: tried again each second until
         * it works (an R3 stream is refused while a node of three is down). */
        if (!streams_ok && rtime_mono_ms() - streams_tried >= 1000) {
            struct rerr e;
            streams_tried = rtime_mono_ms();
            streams_ok = feed_nats_streams(fn, 0, &e);
            if (!streams_ok && streams_said++ == 0)
                rlog(LOG_WARN, "feed.streams_failed", "feed: %s (retrying every second)", e.msg);
            if (streams_ok && streams_said) rlog(LOG_INFO, "feed.streams", "feed: the streams are there"), streams_said = 0;
        }
        jsCtx *js = feed_nats_js(fn);
        if (rtime_mono_ms() - beat >= 1000) {
            heartbeat(p, js, position);
            beat = rtime_mono_ms();
        }
        if (n == 0) continue;
        /* Not while disconnected: nats.c would only buffer them. */
        int ok = natsConnection_Status(feed_nats_conn(fn)) == NATS_CONN_STATUS_CONNECTED &&
                 publish_batch(p, js, batch, n);
        pthread_mutex_lock(&p->mu);
        if (ok) drop_batch(p, batch, n);
        p->inflight = 0;
        pthread_mutex_unlock(&p->mu);
        if (p->m != NULL) {
            if (ok) metrics_add(&p->m->feed.published, n);
            else metrics_add(&p->m->feed.publish_errors, 1);
        }
        if (!ok) {
            struct timespec d = {0, 200 * 1000000L};
            nanosleep(&d, NULL);
        }
    }
    free(batch);
    feed_nats_close(fn);
    return NULL;
}

/* ---- the CA-core thread's side ---- */

struct feed_pub *feed_pub_new(const struct feed_pub_config *c, struct metrics_core *m, struct rerr *e) {
    struct feed_pub *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->urls = strdup(c->urls)) == NULL) {
        free(p);
        return rerr_set(e, "out of memory"), NULL;
    }
    snprintf(p->pos_path, sizeof(p->pos_path), "%s/feed.pos", c->dir);
    p->backdate = c->backdate;
    p->m = m;
    p->tail = &p->head;
    p->resync_since = INT64_MAX;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    int64_t w;
    uint64_t v = 0;
    int64_t now_us = feed_nats_now_us();
    if (pos_read(p, &w, &v)) {
        /* Everything signed at or after w is sent again (feed_pub_gen's
         * first look at each CA scans from there). */
        p->watermark = p->start_since = w;
        rlog(LOG_INFO, "feed.resume", "feed: sending again what was signed since %" PRId64 " (its recorded watermark)", w);
    } else {
        p->watermark = p->start_since = INT64_MIN;
        rlog(LOG_INFO, "feed.first", "feed: no %s: every response, CRL and CA certificate is sent", p->pos_path);
    }
    p->version = v + 1000000000ull > (uint64_t)now_us ? v + 1000000000ull : (uint64_t)now_us;
    if (m != NULL) atomic_store_explicit(&m->feed.role, 1, memory_order_relaxed);
    if (pthread_create(&p->th, NULL, feed_thread, p) != 0) {
        feed_pub_free(p);
        return rerr_set(e, "cannot start the feed thread"), NULL;
    }
    pthread_setname_np(p->th, "revd-feed"); /* for top -H */
    p->started = 1;
    return p;
}

int feed_pub_tick(struct feed_pub *p, uint64_t position) {
    int scanning = scans_go(p);
    atomic_store(&p->scanning, scanning || p->resync_since != INT64_MAX);
    pthread_mutex_lock(&p->mu);
    p->position = position;
    int empty = p->head == NULL && !p->inflight;
    pthread_mutex_unlock(&p->mu);
    int64_t now = rtime_now();
    if (empty && p->resync_since != INT64_MAX && !scanning) {
        /* What was dropped while the outbox was full: every CA again from there. */
        int64_t since = p->resync_since;
        p->resync_since = INT64_MAX;
        for (size_t i = 0; i < p->nseen; i++)
            if (p->seen[i].table != NULL || p->seen[i].store != NULL)
                scan_add(p, p->seen[i].caid, p->seen[i].table, p->seen[i].store, since);
        rlog(LOG_INFO, "feed.resync", "feed: the outbox drained: sending again what was signed since %" PRId64, since);
    }
    /* The watermark moves up only when nothing is waiting: whatever is
     * signed from now on is dated after now - backdate. */
    int64_t w = p->watermark;
    if (empty && !scanning && p->resync_since == INT64_MAX) w = now - p->backdate - 2;
    if (w != p->watermark && rtime_mono_ms() - p->pos_written >= 1000) pos_write(p, w);
    return scanning ? 10 : 1000;
}

void feed_pub_set_backdate(struct feed_pub *p, int64_t backdate) { p->backdate = backdate; }

void feed_pub_free(struct feed_pub *p) {
    if (p == NULL) return;
    if (p->started) {
        /* Up to two seconds to send what is waiting. */
        for (int i = 0; i < 20; i++) {
            pthread_mutex_lock(&p->mu);
            int empty = p->head == NULL && !p->inflight;
            pthread_mutex_unlock(&p->mu);
            if (empty) break;
            struct timespec d = {0, 100 * 1000000L};
            nanosleep(&d, NULL);
        }
        feed_pub_tick(p, p->position);
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
    }
    while (p->head != NULL) {
        struct obox *o = p->head;
        p->head = o->next;
        free(o);
    }
    scan_free(p->scan);
    scan_free(p->next_scan);
    for (size_t i = 0; i < p->nseen; i++) {
        ocsp_table_free(p->seen[i].overlay);
        ocsp_table_free(p->seen[i].table);
        ocsp_store_put(p->seen[i].store);
    }
    free(p->seen);
    free(p->skip);
    crl_set_free(p->crls);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->urls);
    free(p);
}
