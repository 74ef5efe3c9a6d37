/* edge: an edge responder's feed (feed/edge.h). */
#include "feed/edge.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/rtime.h"
#include "crl/handler.h"
#include "crl/set.h"
#include "feed/edgedb.h"
#include "feed/edgestore.h"
#include "feed/msg.h"
#include "feed/nats.h"
#include "feed/verify.h"
#include "ocsp/answer.h"
#include "ocsp/gen.h"
#include "ocsp/store.h"
#include "ocsp/table.h"
#include "shard/metrics.h"
#include "shard/server.h"

/* Past this many items waiting, the delivery threads wait for the applier
 * (NATS flow control then holds the rest on the server). */
#define EDGE_QUEUE_MAX 20000
/* An overlay is folded into its CA's base table past EDGE_FOLD_MIN entries
 * and an eighth of the base, or past EDGE_FOLD_MAX. */
#define EDGE_FOLD_MIN 1024
#define EDGE_FOLD_MAX 16384
/* A large CA's store is written again from the database past this many
 * responses in its overlay. */
#define EDGE_STORE_FOLD 65536
/* How long a response waits for its CA's certificate (the CA stream is
 * read apart from the others). */
#define EDGE_CA_WAIT_MS 2000
/* A message whose CA's certificate has not come is kept aside (its
 * stream's recorded sequence held back before it) and checked again as
 * certificates come, for at most this long; then refused. A leaf's
 * mirrors fill independently: the CA's may lag the others'. */
#define EDGE_PARK_MAX_S 600

/* A CA the edge knows: shared with the delivery threads (under ca_mu). */
struct eca {
    uint32_t caid;
    char name[FEED_NAME_MAX + 1];
    struct feed_trust *trust;    /* never freed before the edge is */
    uint8_t *cert;               /* DER */
    size_t cert_len;
    uint64_t version;
    /* The applier's alone: */
    struct ocsp_table *base, *overlay;
    struct ocsp_store *store;    /* a large CA's responses (then base is NULL): feed/edgestore.h */
    uint64_t count;              /* certificates held */
    int count_dirty;
    struct ocsp_table_builder *batch; /* this batch's responses */
    _Atomic int in_gen;          /* published with its certificate (ca_set clears it) */
};

/* A message checked by a delivery thread, for the applier. */
struct item {
    struct item *next;
    natsMsg *msg;                /* owned; m's views point into it */
    struct feed_msg m;
    unsigned stream;
    uint64_t seq, pending;
    int refused;                 /* counted already; only its sequence is applied */
    double parked_at;            /* its CA's certificate not come yet: kept aside since (unpark) */
    int64_t this_update, next_update;
    uint64_t number;             /* CRL */
};

struct sub_ctx {
    struct feed_edge *x;
    unsigned stream;
    natsSubscription *sub;
};

struct feed_edge {
    struct feed_edge_config cfg;
    struct feed_anchors *anchors;
    struct edgedb *db;

    pthread_mutex_t ca_mu;
    pthread_cond_t ca_cv;
    struct eca **cas;
    size_t ncas;
    struct feed_trust **old_trusts; /* replaced, freed at the end */
    size_t nold;

    pthread_mutex_t mu;
    pthread_cond_t cv, room;
    struct item *head, **tail;
    size_t queued;
    int stop;

    /* The applier's. */
    pthread_t th;
    int started;
    struct server *srv;
    struct ocsp_answer *ans;
    int gen_slot, crl_slot;
    struct crl_set *crls;        /* the set served (reference) */
    struct metrics_core *m;
    struct item *parked;         /* messages waiting for their CA's certificate */
    double unparked_at;
    struct feed_nats *fn;
    struct sub_ctx subs[FEED_STREAMS];
    uint64_t seq[FEED_STREAMS], target[FEED_STREAMS], pending[FEED_STREAMS];
    int subscribed, bootstrapping, caught_up;
    int64_t hb_at_us;            /* the primary's clock in its last heartbeat */
    uint64_t hb_acked[FEED_STREAMS]; /* what it said JetStream had acknowledged then */
    int hb_complete;             /* and that it had sent all it had to */
    uint64_t applied, read_since_start;
    double started_at, progress_at;
    _Atomic uint64_t refused;
};

/* ---- the CAs (any thread, under ca_mu) ---- */

static struct eca *ca_find(struct feed_edge *x, uint32_t caid) {
    for (size_t i = 0; i < x->ncas; i++)
        if (x->cas[i]->caid == caid) return x->cas[i];
    return NULL;
}

/* ca_trust waits up to wait_s seconds for caid's certificate. Its trust
 * and name, or NULL. */
static struct feed_trust *ca_trust(struct feed_edge *x, uint32_t caid, int wait_s, char name[FEED_NAME_MAX + 1]) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_s;
    pthread_mutex_lock(&x->ca_mu);
    struct eca *c;
    while ((c = ca_find(x, caid)) == NULL && !x->stop)
        if (pthread_cond_timedwait(&x->ca_cv, &x->ca_mu, &until) != 0) break;
    struct feed_trust *t = c ? c->trust : NULL;
    if (c != NULL) memcpy(name, c->name, sizeof(c->name));
    pthread_mutex_unlock(&x->ca_mu);
    return t;
}

/* ca_set: a checked CA message (its trust made); the CA is added, or its
 * certificate replaced when the version is newer. 1 when it changed. */
static int ca_set(struct feed_edge *x, const struct feed_msg *m, struct feed_trust *t) {
    pthread_mutex_lock(&x->ca_mu);
    struct eca *c = ca_find(x, m->caid);
    int changed = 0;
    if (c == NULL) {
        struct eca **g = realloc(x->cas, (x->ncas + 1) * sizeof(*g));
        if (g != NULL && (c = calloc(1, sizeof(*c))) != NULL) {
            x->cas = g;
            x->cas[x->ncas++] = c;
            c->caid = m->caid;
        }
    }
    uint8_t *der = c ? malloc(m->der_len[0]) : NULL;
    struct feed_trust **old = c && c->trust ? realloc(x->old_trusts, (x->nold + 1) * sizeof(*old)) : NULL;
    if (old != NULL) x->old_trusts = old;
    if (c != NULL && der != NULL && (c->trust == NULL || old != NULL) && m->version > c->version) {
        if (c->trust != NULL) x->old_trusts[x->nold++] = c->trust;
        c->trust = t, t = NULL;
        memcpy(der, m->der[0], m->der_len[0]);
        free(c->cert);
        c->cert = der, der = NULL;
        c->cert_len = m->der_len[0];
        memcpy(c->name, m->name, m->name_len);
        c->name[m->name_len] = '\0';
        c->version = m->version;
        c->in_gen = 0;
        changed = 1;
    }
    pthread_cond_broadcast(&x->ca_cv);
    pthread_mutex_unlock(&x->ca_mu);
    free(der);
    feed_trust_free(t);
    return changed;
}

/* ---- checking a message (delivery threads, and the load at start) ---- */

/* check_ocsp: both responses are the CA's, about m's serial, for SHA-1 and
 * SHA-256 CertIDs, with the same times. */
static int check_ocsp(struct feed_edge *x, struct item *it, int wait_s, struct rerr *e) {
    char name[FEED_NAME_MAX + 1];
    struct feed_trust *t = ca_trust(x, it->m.caid, wait_s, name);
    if (t == NULL) {
        rerr_set(e, "no certificate of CA %u", it->m.caid);
        return -1;
    }
    int64_t now = rtime_now();
    struct feed_ocsp_info in[2];
    for (int h = 0; h < 2; h++) {
        if (!feed_verify_ocsp(t, it->m.der[h], it->m.der_len[h], now, &in[h], e)) return 0;
        if (in[h].hash != (h == 0 ? OCSP_HASH_SHA1 : OCSP_HASH_SHA256))
            return rerr_set(e, "response %d is not for a %s CertID", h, h ? "SHA-256" : "SHA-1");
        if (in[h].serial_len != it->m.serial_len || memcmp(in[h].serial, it->m.serial, it->m.serial_len) != 0)
            return rerr_set(e, "a response is about another serial than its message");
    }
    if (in[0].this_update != in[1].this_update || in[0].next_update != in[1].next_update ||
        in[0].status != in[1].status)
        return rerr_set(e, "the two responses disagree");
    if (feed_msg_shard(it->m.serial, it->m.serial_len) != it->stream)
        return rerr_set(e, "a response on another stream than its serial's");
    it->this_update = in[0].this_update, it->next_update = in[0].next_update;
    /* Its signed time orders it against the one held (the version is not signed). */
    int64_t pa = in[0].produced_at > in[1].produced_at ? in[0].produced_at : in[1].produced_at;
    it->number = pa > 0 ? (uint64_t)pa : 0;
    return 1;
}

static int check_crl(struct feed_edge *x, struct item *it, int wait_s, struct rerr *e) {
    char name[FEED_NAME_MAX + 1];
    struct feed_trust *t = ca_trust(x, it->m.caid, wait_s, name);
    if (t == NULL) {
        rerr_set(e, "no certificate of CA %u", it->m.caid);
        return -1;
    }
    /* Served at /crl/NAME/... or /crl/NAME.crl of its own CA only. */
    size_t nl = strlen(name);
    const char *p = it->m.name;
    if (it->m.name_len < 6 + nl || memcmp(p, "/crl/", 5) != 0 || memcmp(p + 5, name, nl) != 0 ||
        (p[5 + nl] != '/' && p[5 + nl] != '.'))
        return rerr_set(e, "a CRL of CA %s at another CA's path", name);
    struct feed_crl_info ci;
    if (!feed_verify_crl(t, it->m.der[0], it->m.der_len[0], &ci, e)) return 0;
    it->number = ci.number, it->this_update = ci.this_update, it->next_update = ci.next_update;
    return 1;
}

static int check_ca(struct feed_edge *x, struct item *it, struct rerr *e) {
    struct feed_trust *t = feed_trust_new(x->anchors, it->m.der[0], it->m.der_len[0], e);
    if (t == NULL) return 0;
    ca_set(x, &it->m, t);
    return 1;
}

/* check: 1 when it may be applied; 0 with e set (refused); -1 when its
 * CA's certificate has not come in wait_s seconds (parked, see unpark). */
static int check(struct feed_edge *x, struct item *it, const uint8_t *p, size_t len, int wait_s, struct rerr *e) {
    if (!feed_msg_decode(p, len, &it->m, e)) return 0;
    int meta = it->stream == FEED_STREAMS - 1, crl = it->stream == FEED_OCSP_STREAMS;
    switch (it->m.kind) {
    case FEED_OCSP:
        return !meta && !crl ? check_ocsp(x, it, wait_s, e) : rerr_set(e, "a response on a stream of another kind");
    case FEED_CRL: return crl ? check_crl(x, it, wait_s, e) : rerr_set(e, "a CRL on a stream of another kind");
    case FEED_CA: return meta ? check_ca(x, it, e) : rerr_set(e, "a CA certificate on a stream of another kind");
    case FEED_HB: return meta ? 1 : rerr_set(e, "a heartbeat on a stream of another kind");
    }
    return 0;
}

static void refuse(struct feed_edge *x, const char *subject, const char *why) {
    uint64_t n = atomic_fetch_add(&x->refused, 1);
    if (x->m != NULL) atomic_fetch_add_explicit(&x->m->feed.refused, 1, memory_order_relaxed);
    if (n < 100 || n % 10000 == 0)
        rlog(LOG_WARN, "edge.refused", "edge: refused a message on %s: %s (%" PRIu64 " refused so far)",
             subject ? subject : "?", why, n + 1);
}

/* on_msg: nats.c's delivery thread of one stream. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    struct sub_ctx *sc = closure;
    struct feed_edge *x = sc->x;
    (void)nc, (void)sub;
    struct item *it = calloc(1, sizeof(*it));
    jsMsgMetaData *md = NULL;
    if (it == NULL || natsMsg_GetMetaData(&md, msg) != NATS_OK) {
        free(it);
        natsMsg_Destroy(msg);
        return;
    }
    it->msg = msg;
    it->stream = sc->stream;
    it->seq = md->Sequence.Stream;
    it->pending = md->NumPending;
    jsMsgMetaData_Destroy(md);
    struct rerr e = {{0}};
    int ok = check(x, it, (const uint8_t *)natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
                   EDGE_CA_WAIT_MS / 1000, &e);
    if (ok == 0) {
        refuse(x, natsMsg_GetSubject(msg), e.msg);
        it->refused = 1;
    } else if (ok < 0) {
        it->parked_at = rtime_mono();
    }
    pthread_mutex_lock(&x->mu);
    while (x->queued >= EDGE_QUEUE_MAX && !x->stop) pthread_cond_wait(&x->room, &x->mu);
    *x->tail = it;
    x->tail = &it->next;
    x->queued++;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

/* ---- generations (the applier, or the main thread before it starts) ---- */

/* issuer_hashes: the CertID hashes of a CA certificate, for each hash. */
static int issuer_hashes(const uint8_t *der, size_t len, uint8_t nh[4][64], uint8_t kh[4][64]) {
    const unsigned char *p = der;
    X509 *c = d2i_X509(NULL, &p, (long)len);
    if (c == NULL) return 0;
    unsigned char *name = NULL;
    int nl = i2d_X509_NAME(X509_get_subject_name(c), &name);
    const ASN1_BIT_STRING *key = X509_get0_pubkey_bitstr(c);
    static const char *const md[4] = {"SHA1", "SHA256", "SHA384", "SHA512"};
    int ok = nl > 0 && key != NULL;
    for (int h = 0; ok && h < 4; h++) {
        memset(nh[h], 0, 64), memset(kh[h], 0, 64);
        ok = EVP_Q_digest(NULL, md[h], NULL, name, (size_t)nl, nh[h], NULL) &&
             EVP_Q_digest(NULL, md[h], NULL, key->data, (size_t)key->length, kh[h], NULL);
    }
    OPENSSL_free(name);
    X509_free(c);
    return ok;
}

/* make_gen: a generation of every CA with a certificate. NULL on out of memory. */
static struct gen *make_gen(struct feed_edge *x) {
    pthread_mutex_lock(&x->ca_mu);
    struct gen *g = gen_new(x->ncas ? x->ncas : 1);
    for (size_t i = 0; g != NULL && i < x->ncas; i++) {
        struct eca *c = x->cas[i];
        uint8_t nh[4][64], kh[4][64];
        uint8_t *der = malloc(c->cert_len);
        if (der == NULL || !issuer_hashes(c->cert, c->cert_len, nh, kh)) {
            free(der);
            continue;
        }
        memcpy(der, c->cert, c->cert_len);
        struct gen_ca *gc = gen_add_ca(g, c->name, c->caid);
        for (int h = 0; h < 4; h++) gen_ca_set_issuer(gc, (enum ocsp_hash)h, nh[h], kh[h]);
        gen_ca_set_cert(gc, der, c->cert_len);
        gen_ca_set_table(gc, ocsp_table_ref(c->base));
        if (c->store != NULL) gen_ca_set_store(gc, ocsp_store_ref(c->store));
        gen_ca_set_overlay(gc, ocsp_table_ref(c->overlay));
        c->in_gen = 1;
    }
    pthread_mutex_unlock(&x->ca_mu);
    return g;
}

/* The CA of caid for the applier (the delivery threads add, never remove). */
static struct eca *ca_get(struct feed_edge *x, uint32_t caid) {
    pthread_mutex_lock(&x->ca_mu);
    struct eca *c = ca_find(x, caid);
    pthread_mutex_unlock(&x->ca_mu);
    return c;
}

/* batch_add: a response of this batch into its CA's builder. */
static void batch_add(struct feed_edge *x, const struct feed_msg *m, int64_t tu, int64_t nu) {
    struct eca *c = ca_get(x, m->caid);
    if (c == NULL) return;
    if (c->batch == NULL && (c->batch = ocsp_table_builder_new(64)) == NULL) return;
    ocsp_table_builder_set_times(c->batch, tu, nu);
    const uint8_t *der[2] = {m->der[0], m->der[1]};
    struct rerr e;
    ocsp_table_builder_add(c->batch, m->serial, m->serial_len, der, m->der_len, &e);
}

static int to_store(struct feed_edge *x, struct eca *c);

/* fold_batches: each CA's batch over its overlay, the overlay into the base
 * once large. Returns whether anything changed. */
static int fold_batches(struct feed_edge *x) {
    int changed = 0;
    /* The delivery threads may add a CA meanwhile: a copy of the list. */
    pthread_mutex_lock(&x->ca_mu);
    size_t n = x->ncas;
    struct eca **cas = malloc((n ? n : 1) * sizeof(*cas));
    if (cas != NULL) memcpy(cas, x->cas, n * sizeof(*cas));
    pthread_mutex_unlock(&x->ca_mu);
    if (cas == NULL) return 0;
    for (size_t i = 0; i < n; i++) {
        struct eca *c = cas[i];
        if (!c->in_gen) changed = 1;
        if (c->batch == NULL) continue;
        struct ocsp_table *b = ocsp_table_builder_finish(c->batch);
        c->batch = NULL;
        struct ocsp_table *ov = b ? ocsp_table_merge(c->overlay, b) : NULL;
        ocsp_table_free(b);
        if (ov == NULL) continue; /* out of memory: what is stored is served after the next start */
        ocsp_table_free(c->overlay);
        c->overlay = ov;
        size_t on = ocsp_table_count(ov);
        /* A CA past store_above goes into a store; a store is written
         * again once its overlay is large. */
        if ((c->store == NULL && c->count > x->cfg.store_above) || (c->store != NULL && on >= EDGE_STORE_FOLD)) {
            to_store(x, c);
            changed = 1;
            continue;
        }
        /* The overlay is copied at each batch, the base at each fold: fold
         * a small CA's early, a large one's at EDGE_FOLD_MAX. */
        if (c->store == NULL &&
            (on >= EDGE_FOLD_MAX || (on >= EDGE_FOLD_MIN && on >= ocsp_table_count(c->base) / 8))) {
            struct ocsp_table *nb = ocsp_table_merge(c->base, ov);
            if (nb != NULL) {
                ocsp_table_free(c->base);
                ocsp_table_free(c->overlay);
                c->base = nb, c->overlay = NULL;
            }
        }
        changed = 1;
    }
    free(cas);
    return changed;
}

/* to_store: c's responses from the database into its store file (its
 * table and overlay dropped: the store has them). 1, or 0 (said). */
static int to_store(struct feed_edge *x, struct eca *c) {
    struct rerr e = {{0}};
    uint64_t n;
    double t0 = rtime_mono();
    struct ocsp_store *st = edgestore_write(x->db, c->caid, c->cert, c->cert_len, x->cfg.store_dir, &n, &e);
    if (st == NULL) {
        rlog(LOG_ERR, "edge.store_failed", "edge: CA %s: its response store: %s", c->name, e.msg);
        return 0;
    }
    ocsp_store_put(c->store);
    ocsp_table_free(c->base);
    ocsp_table_free(c->overlay);
    c->store = st, c->base = NULL, c->overlay = NULL, c->count = n, c->in_gen = 0;
    rlog(LOG_INFO, "edge.store", "edge: CA %s: %" PRIu64 " certificates in its response store (%.2f s)", c->name, n,
         rtime_mono() - t0);
    return 1;
}

/* load_responses: c's responses from the database: into a store when
 * there are more than store_above, else its base table. How many. */
static uint64_t load_responses(struct feed_edge *x, struct eca *c) {
    c->count = edgedb_count(x->db, c->caid);
    if (c->count > x->cfg.store_above && to_store(x, c)) return c->count;
    struct edgedb_iter *it = edgedb_iter_new_ca(x->db, c->caid);
    struct edgedb_rec r;
    struct rerr e;
    uint64_t n = 0;
    while (it != NULL && edgedb_iter_next(it, &r)) {
        struct feed_msg m;
        if (!feed_msg_decode(r.payload, r.len, &m, &e) || m.kind != FEED_OCSP) continue;
        batch_add(x, &m, r.this_update, r.next_update);
        n++;
    }
    edgedb_iter_free(it);
    struct ocsp_table *t = c->batch ? ocsp_table_builder_finish(c->batch) : NULL;
    c->batch = NULL;
    if (t != NULL) {
        ocsp_table_free(c->base);
        ocsp_table_free(c->overlay);
        c->base = t, c->overlay = NULL;
    }
    return n;
}

/* load: every CA and response and CRL the database holds, into tables and
 * *crls. The anchors are checked again (a file may have changed). */
static void load(struct feed_edge *x, struct crl_set **crls) {
    struct edgedb_rec r;
    struct rerr e;
    struct edgedb_iter *it = edgedb_iter_new(x->db, 'a');
    while (it != NULL && edgedb_iter_next(it, &r)) {
        struct item i0 = {.stream = FEED_STREAMS - 1};
        if (check(x, &i0, r.payload, r.len, 0, &e) != 1) rlog(LOG_WARN, "edge.load_refused", "edge: a stored CA: %s", e.msg);
    }
    edgedb_iter_free(it);
    uint64_t n = 0;
    for (size_t i = 0; i < x->ncas; i++) n += load_responses(x, x->cas[i]);
    it = edgedb_iter_new(x->db, 'l');
    struct crl_set *s = crl_set_with(NULL, NULL, 0);
    while (s != NULL && it != NULL && edgedb_iter_next(it, &r)) {
        struct feed_msg m;
        if (!feed_msg_decode(r.payload, r.len, &m, &e) || m.kind != FEED_CRL) continue;
        char path[FEED_NAME_MAX + 1];
        memcpy(path, m.name, m.name_len);
        path[m.name_len] = '\0';
        struct crl_blob *b = crl_blob_new(path, m.der[0], m.der_len[0], r.number, r.this_update, r.next_update,
                                          m.refresh_at);
        struct crl_set *s2 = b ? crl_set_with(s, &b, 1) : NULL;
        crl_blob_put(b);
        if (s2 != NULL) crl_set_free(s), s = s2;
    }
    edgedb_iter_free(it);
    *crls = s;
    x->applied = n;
}

/* ---- the applier ---- */

/* older: why it does not replace what is held (its version held, its
 * signed number: a response's producedAt, a CRL's cRLNumber): NULL when it
 * is newer, "" when it is the same one again (not counted), else the
 * reason it is refused. The version, which is not signed, only orders
 * messages whose signed numbers are equal: a replayed older response or
 * CRL is refused whatever version it claims. */
static const char *older(const struct item *it, uint64_t held, uint64_t number) {
    if (it->m.kind == FEED_CA) return it->m.version > held ? NULL : it->m.version == held ? "" : "an older version";
    if (it->number < number)
        return it->m.kind == FEED_CRL ? "a lower CRL number than the one held" : "signed before the response held";
    if (it->number > number) return NULL;
    if (it->m.kind == FEED_CRL) return ""; /* the same number: the same CRL sent again */
    return it->m.version > held ? NULL : it->m.version == held ? "" : "an older version of the response held";
}

/* apply_one: an item into the database batch and the CA's builder (or the
 * CRLs to add). Its version is checked against what is held. */
static void apply_one(struct feed_edge *x, struct item *it, struct crl_blob **blobs, size_t *nb) {
    const struct feed_msg *m = &it->m;
    if (m->kind == FEED_HB) {
        if (m->sent_at_us > x->hb_at_us) {
            x->hb_at_us = m->sent_at_us;
            memcpy(x->hb_acked, m->acked, sizeof(x->hb_acked));
            x->hb_complete = m->complete == 1;
        }
        return;
    }
    uint64_t held, number;
    if (edgedb_version(x->db, m, &held, &number) < 0) return;
    const char *why = held ? older(it, held, number) : NULL;
    if (why != NULL) {
        char subject[FEED_SUBJECT_MAX];
        feed_msg_subject(m, subject, NULL);
        if (why[0] != '\0') refuse(x, subject, why);
        return;
    }
    if (m->kind == FEED_OCSP && held == 0) { /* a certificate it did not hold */
        struct eca *c = ca_get(x, m->caid);
        if (c != NULL) c->count++, c->count_dirty = 1;
    }
    const uint8_t *p = (const uint8_t *)natsMsg_GetData(it->msg);
    edgedb_put(x->db, m, p, (size_t)natsMsg_GetDataLength(it->msg), it->this_update, it->next_update, it->number);
    x->applied++;
    if (x->m != NULL) metrics_add(&x->m->feed.applied, 1);
    if (x->bootstrapping) return;
    if (m->kind == FEED_OCSP) {
        batch_add(x, m, it->this_update, it->next_update);
    } else if (m->kind == FEED_CRL && *nb < 256) {
        char path[FEED_NAME_MAX + 1];
        memcpy(path, m->name, m->name_len);
        path[m->name_len] = '\0';
        struct crl_blob *b = crl_blob_new(path, m->der[0], m->der_len[0], it->number, it->this_update,
                                          it->next_update, m->refresh_at);
        if (b != NULL) blobs[(*nb)++] = b;
    }
}

/* dedupe: a key twice in one batch keeps its newest, by the order of
 * older() (the others are marked refused without a count). */
static void dedupe(struct item *list, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    struct item **t = calloc(cap, sizeof(*t));
    if (t == NULL) return; /* then the database's version check orders them */
    for (struct item *a = list; a != NULL; a = a->next) {
        if (a->refused || a->m.kind == FEED_HB) continue;
        uint64_t k = feed_msg_key(&a->m);
        size_t i = (size_t)(k ^ (k >> 29)) & (cap - 1);
        while (t[i] != NULL && feed_msg_key(&t[i]->m) != k) i = (i + 1) & (cap - 1);
        if (t[i] == NULL) {
            t[i] = a;
        } else if (a->number > t[i]->number || (a->number == t[i]->number && a->m.version > t[i]->m.version)) {
            t[i]->refused = 2;
            t[i] = a;
        } else {
            a->refused = 2;
        }
    }
    free(t);
}

/* publish: the new generation and CRLs to the shards. */
static void publish(struct feed_edge *x, struct crl_blob **blobs, size_t nb) {
    if (fold_batches(x)) {
        struct gen *g = make_gen(x);
        if (g != NULL) server_publish(x->srv, x->gen_slot, g, ocsp_answer_free_gen);
    }
    if (nb > 0) {
        struct crl_set *s = crl_set_with(x->crls, blobs, nb);
        if (s != NULL) {
            crl_set_free(x->crls);
            x->crls = s;
            server_publish(x->srv, x->crl_slot, crl_set_ref(s), crl_handler_free_set);
        }
    }
    for (size_t i = 0; i < nb; i++) crl_blob_put(blobs[i]);
}

/* apply: a list of items, in one database write; fresh: just read (not
 * taken back from the parked ones). */
static void apply(struct feed_edge *x, struct item *list, int fresh) {
    struct crl_blob *blobs[256];
    size_t nb = 0, n = 0;
    /* Parked ones aside first: they stay until their CA's certificate comes. */
    struct item *ready = NULL, **tail = &ready;
    while (list != NULL) {
        struct item *it = list;
        list = it->next;
        it->next = NULL;
        if (it->seq > x->seq[it->stream]) x->seq[it->stream] = it->seq;
        if (fresh) x->pending[it->stream] = it->pending, x->read_since_start++;
        if (it->parked_at > 0) {
            it->next = x->parked, x->parked = it;
        } else {
            *tail = it, tail = &it->next, n++;
        }
    }
    dedupe(ready, n);
    for (struct item *it = ready; it != NULL; it = it->next)
        if (!it->refused) apply_one(x, it, blobs, &nb);
    /* Each stream's sequence, held back before its first parked message
     * (a restart reads it again). */
    uint64_t upto[FEED_STREAMS];
    memcpy(upto, x->seq, sizeof(upto));
    for (struct item *it = x->parked; it != NULL; it = it->next)
        if (it->seq - 1 < upto[it->stream]) upto[it->stream] = it->seq - 1;
    for (unsigned i = 0; i < FEED_STREAMS; i++) edgedb_put_seq(x->db, i, upto[i]);
    pthread_mutex_lock(&x->ca_mu);
    for (size_t i = 0; i < x->ncas; i++)
        if (x->cas[i]->count_dirty) edgedb_put_count(x->db, x->cas[i]->caid, x->cas[i]->count), x->cas[i]->count_dirty = 0;
    pthread_mutex_unlock(&x->ca_mu);
    struct rerr e;
    if (!edgedb_commit(x->db, &e)) rlog(LOG_ERR, "edge.write_failed", "edge: %s", e.msg);
    while (ready != NULL) {
        struct item *next = ready->next;
        natsMsg_Destroy(ready->msg);
        free(ready);
        ready = next;
    }
    if (!x->bootstrapping) publish(x, blobs, nb);
}

/* meta_read_at: now, when the CA stream (the hub's, for a mirror) has
 * been read to its end as it stands now; 0 when it has not (or cannot be
 * asked). */
static double meta_read_at(struct feed_edge *x) {
    const unsigned meta = FEED_STREAMS - 1;
    double now = rtime_mono();
    jsOptions ho;
    jsOptions_Init(&ho);
    ho.Domain = x->cfg.hub_domain;
    ho.Wait = 1000;
    jsStreamInfo *si = NULL;
    jsErrCode code = 0;
    if (x->fn == NULL || js_GetStreamInfo(&si, feed_nats_js(x->fn), feed_stream_name(meta), &ho, &code) != NATS_OK)
        return 0;
    int read = x->seq[meta] >= si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return read ? now : 0;
}

/* unpark checks the parked messages again (their CA's certificate may have
 * come), at most twice a second: those that pass, or fail, or waited past
 * EDGE_PARK_MAX_S (refused) go to be applied. */
static void unpark(struct feed_edge *x) {
    if (x->parked == NULL || rtime_mono() - x->unparked_at < 0.5) return;
    x->unparked_at = rtime_mono();
    double meta_read = meta_read_at(x);
    struct item *keep = NULL, *go = NULL, **tail = &go;
    while (x->parked != NULL) {
        struct item *it = x->parked;
        x->parked = it->next;
        it->next = NULL;
        struct rerr e = {{0}};
        const uint8_t *p = (const uint8_t *)natsMsg_GetData(it->msg);
        int ok = check(x, it, p, (size_t)natsMsg_GetDataLength(it->msg), 0, &e);
        /* The CA stream read as far as it went after this one came (the
         * primary sends a CA's certificate before its responses): there is
         * no certificate for it. */
        int none = meta_read > it->parked_at;
        if (ok < 0 && !none && rtime_mono() - it->parked_at < EDGE_PARK_MAX_S) {
            it->next = keep, keep = it;
            continue;
        }
        if (ok != 1) {
            refuse(x, natsMsg_GetSubject(it->msg), e.msg);
            it->refused = 1;
        }
        it->parked_at = 0;
        *tail = it, tail = &it->next;
    }
    x->parked = keep;
    if (go != NULL) apply(x, go, 0);
}

/* ---- connecting and reading ---- */

/* subscribe: the streams, the CA stream first (its certificates check
 * the rest), each from the sequence after the one recorded. */
static int subscribe(struct feed_edge *x, struct rerr *e) {
    jsCtx *js = feed_nats_js(x->fn);
    static const unsigned order[FEED_STREAMS] = {FEED_STREAMS - 1, 0, 1, 2, 3, FEED_OCSP_STREAMS};
    /* Where a stream stands: a mirror keeps its origin's sequences, so
     * the hub's own stream says how far there is to read (a mirror just
     * made is empty); the local one when the hub does not answer. */
    jsOptions ho;
    jsOptions_Init(&ho);
    ho.Domain = x->cfg.hub_domain;
    ho.Wait = 2000;
    for (unsigned k = 0; k < FEED_STREAMS; k++) {
        unsigned i = order[k];
        jsStreamInfo *si = NULL;
        jsErrCode code = 0;
        if (js_GetStreamInfo(&si, js, feed_stream_name(i), NULL, &code) != NATS_OK)
            return rerr_set(e, "no stream %s on the local NATS server yet (%d)", feed_stream_name(i), (int)code);
        x->target[i] = si->State.LastSeq;
        jsStreamInfo_Destroy(si);
        if (x->cfg.hub_domain != NULL && js_GetStreamInfo(&si, js, feed_stream_name(i), &ho, &code) == NATS_OK) {
            if (si->State.LastSeq > x->target[i]) x->target[i] = si->State.LastSeq;
            jsStreamInfo_Destroy(si);
        }
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = feed_stream_name(i);
        so.Ordered = true;
        if (x->seq[i] > 0) {
            so.Config.DeliverPolicy = js_DeliverByStartSequence;
            so.Config.OptStartSeq = x->seq[i] + 1;
            rlog(LOG_INFO, "edge.resumed", "edge: stream %s from sequence %" PRIu64 " (%" PRIu64 " in it now)",
                 feed_stream_name(i), x->seq[i] + 1, x->target[i]);
        }
        x->subs[i] = (struct sub_ctx){x, i, NULL};
        natsStatus s = js_Subscribe(&x->subs[i].sub, js, feed_stream_subject(i), on_msg, &x->subs[i], NULL, &so, &code);
        /* No limit in nats.c's queue: it would drop what a slow check left
         * waiting (JetStream's flow control bounds it instead). */
        if (s == NATS_OK) s = natsSubscription_SetPendingLimits(x->subs[i].sub, -1, -1);
        if (s != NATS_OK)
            return rerr_set(e, "cannot read the stream %s: %s (%d)", feed_stream_name(i), natsStatus_GetText(s),
                            (int)code);
    }
    return 1;
}

static void connect_and_read(struct feed_edge *x) {
    struct rerr e = {{0}};
    static int said;
    if (x->fn == NULL && (x->fn = feed_nats_connect(x->cfg.urls, "revd edge", NULL, NULL, &e)) == NULL) goto fail;
    if (x->cfg.hub_domain != NULL && !feed_nats_streams(x->fn, x->cfg.hub_domain, &e)) goto fail;
    if (!subscribe(x, &e)) goto fail;
    x->subscribed = 1;
    rlog(LOG_INFO, "edge.connected", "edge: reading the feed from %s", x->cfg.urls);
    return;
fail:
    for (unsigned i = 0; i < FEED_STREAMS; i++) {
        natsSubscription_Destroy(x->subs[i].sub);
        x->subs[i].sub = NULL;
    }
    if (!said++) rlog(LOG_WARN, "edge.connect_failed", "edge: %s (retrying every second)", e.msg);
}

/* health: what /healthz says, and the lag metrics. */
static void health(struct feed_edge *x) {
    int64_t age = x->hb_at_us ? (feed_nats_now_us() - x->hb_at_us) / 1000000 : -1;
    uint64_t lag = 0;
    for (unsigned i = 0; i < FEED_STREAMS; i++) lag += x->pending[i];
    const char *why = NULL;
    if (!x->subscribed) why = "not connected to NATS\n";
    else if (x->bootstrapping) why = "bootstrapping\n";
    else if (!x->caught_up) why = "catching up\n";
    else if (age < 0) why = "no heartbeat from the primary yet\n";
    else if (age > x->cfg.heartbeat_max_age) why = "the primary's heartbeat is too old\n";
    server_set_health(x->srv, why);
    if (x->m == NULL) return;
    atomic_store_explicit(&x->m->feed.lag_messages, lag, memory_order_relaxed);
    atomic_store_explicit(&x->m->feed.lag_s, age < 0 ? 0 : (uint64_t)age, memory_order_relaxed);
    struct ocsp_answer_stats as;
    ocsp_answer_stats(x->ans, &as);
    atomic_store_explicit(&x->m->feed.stale, as.expired + crl_handler_stale(), memory_order_relaxed);
}

/* caught_up: every stream read to where it stood when subscribed, and
 * to what the primary's last heartbeat said JetStream had acknowledged
 * (a mirror just made is empty when subscribed to), a heartbeat that said
 * the primary had sent everything (a primary just started may not have). */
static int caught_up(const struct feed_edge *x) {
    for (unsigned i = 0; i < FEED_STREAMS; i++)
        if (x->seq[i] < x->target[i] || x->seq[i] < x->hb_acked[i]) return 0;
    return x->subscribed && x->hb_at_us != 0 && x->hb_complete && x->parked == NULL;
}

/* bootstrap_done: the generation built once from what was read. */
static void bootstrap_done(struct feed_edge *x) {
    struct crl_set *crls = NULL;
    load(x, &crls);
    struct gen *g = make_gen(x);
    if (g != NULL) server_publish(x->srv, x->gen_slot, g, ocsp_answer_free_gen);
    if (crls != NULL) {
        crl_set_free(x->crls);
        x->crls = crls;
        server_publish(x->srv, x->crl_slot, crl_set_ref(crls), crl_handler_free_set);
    }
    x->bootstrapping = 0;
    if (x->m != NULL) atomic_store_explicit(&x->m->feed.bootstrap, x->read_since_start, memory_order_relaxed);
    double s = rtime_mono() - x->started_at;
    rlog(LOG_INFO, "edge.ready", "edge: serving %" PRIu64 " certificates of %zu CAs after %" PRIu64
         " messages in %.1f s (%.0f/s)", x->applied, x->ncas, x->read_since_start, s,
         s > 0 ? (double)x->read_since_start / s : 0.0);
}

static void progress(struct feed_edge *x) {
    if (rtime_mono() - x->progress_at < 5) return;
    x->progress_at = rtime_mono();
    uint64_t total = 0;
    for (unsigned i = 0; i < FEED_STREAMS; i++)
        total += x->hb_acked[i] > x->target[i] ? x->hb_acked[i] : x->target[i];
    rlog(LOG_INFO, "edge.bootstrap", "edge: bootstrapping: %" PRIu64 " messages read of about %" PRIu64 " (%.0f/s)",
         x->read_since_start, total, (double)x->read_since_start / (rtime_mono() - x->started_at));
    if (x->m != NULL) atomic_store_explicit(&x->m->feed.bootstrap, x->read_since_start, memory_order_relaxed);
}

/* long: the applier's loop (connect, wait, take, apply, publish, health)
 * reads best whole. */
static void *applier(void *arg) {
    struct feed_edge *x = arg;
    double tried = -10;
    for (;;) {
        if (!x->subscribed && rtime_mono() - tried >= 1) {
            tried = rtime_mono();
            connect_and_read(x);
        }
        pthread_mutex_lock(&x->mu);
        if (x->head == NULL && !x->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&x->cv, &x->mu, &ts);
        }
        struct item *list = x->head;
        x->head = NULL, x->tail = &x->head, x->queued = 0;
        int stop = x->stop;
        pthread_cond_broadcast(&x->room);
        pthread_mutex_unlock(&x->mu);
        if (list != NULL) apply(x, list, 1);
        unpark(x);
        if (stop) break;
        if (x->bootstrapping) progress(x);
        if (!x->caught_up && caught_up(x)) {
            x->caught_up = 1;
            if (x->bootstrapping) bootstrap_done(x);
            else rlog(LOG_INFO, "edge.caught_up", "edge: caught up: %" PRIu64 " messages read since start",
                      x->read_since_start);
        }
        health(x);
        server_reclaim(x->srv);
    }
    return NULL;
}

/* ---- start and stop (main thread) ---- */

struct feed_edge *feed_edge_open(const struct feed_edge_config *c, struct gen **g, struct crl_set **crls,
                                 struct rerr *e) {
    struct feed_edge *x = calloc(1, sizeof(*x));
    if (x == NULL) return rerr_set(e, "out of memory"), NULL;
    x->cfg = *c;
    x->tail = &x->head;
    pthread_mutex_init(&x->mu, NULL);
    pthread_mutex_init(&x->ca_mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    pthread_cond_init(&x->room, NULL);
    pthread_cond_init(&x->ca_cv, NULL);
    if (c->trust == NULL) {
        rerr_set(e, "an edge needs --trust FILE: the certificates its CAs must chain to");
        goto fail;
    }
    if ((x->anchors = feed_anchors_load(c->trust, e)) == NULL || (x->db = edgedb_open(c->dir, e)) == NULL) goto fail;
    for (unsigned i = 0; i < FEED_STREAMS; i++) x->seq[i] = edgedb_seq(x->db, i);
    load(x, crls);
    x->bootstrapping = x->applied == 0 && x->ncas == 0;
    if (!x->bootstrapping) rlog(LOG_INFO, "edge.loaded", "edge: serving %" PRIu64 " certificates of %zu CAs from %s/edge.db",
                                x->applied, x->ncas, c->dir);
    x->applied = 0;
    x->crls = crl_set_ref(*crls);
    if (*crls == NULL || (*g = make_gen(x)) == NULL) {
        rerr_set(e, "out of memory");
        goto fail;
    }
    return x;
fail:
    feed_edge_free(x);
    return NULL;
}

int feed_edge_start(struct feed_edge *x, struct server *srv, int gen_slot, int crl_slot, struct ocsp_answer *ans,
                    struct rerr *e) {
    x->srv = srv, x->gen_slot = gen_slot, x->crl_slot = crl_slot, x->ans = ans;
    x->m = server_core_metrics(srv);
    atomic_store_explicit(&x->m->feed.role, 2, memory_order_relaxed);
    x->started_at = x->progress_at = rtime_mono();
    server_set_health(srv, x->bootstrapping ? "bootstrapping\n" : "catching up\n");
    if (pthread_create(&x->th, NULL, applier, x) != 0) return rerr_set(e, "cannot start the edge's applier");
    pthread_setname_np(x->th, "revd-applier"); /* for top -H */
    x->started = 1;
    return 1;
}

void feed_edge_stop(struct feed_edge *x) {
    if (x == NULL || !x->started) return;
    for (unsigned i = 0; i < FEED_STREAMS; i++) natsSubscription_Unsubscribe(x->subs[i].sub);
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_cond_broadcast(&x->room);
    pthread_mutex_unlock(&x->mu);
    pthread_mutex_lock(&x->ca_mu);
    pthread_cond_broadcast(&x->ca_cv);
    pthread_mutex_unlock(&x->ca_mu);
    pthread_join(x->th, NULL);
    x->started = 0;
    for (unsigned i = 0; i < FEED_STREAMS; i++) {
        natsSubscription_Destroy(x->subs[i].sub);
        x->subs[i].sub = NULL;
    }
    feed_nats_close(x->fn);
    x->fn = NULL;
    rlog(LOG_INFO, "edge.stats", "edge: %" PRIu64 " messages read, %" PRIu64 " applied, %" PRIu64 " refused",
         x->read_since_start, x->applied, (uint64_t)atomic_load(&x->refused));
}

void feed_edge_free(struct feed_edge *x) {
    if (x == NULL) return;
    feed_edge_stop(x);
    while (x->head != NULL) {
        struct item *n = x->head->next;
        natsMsg_Destroy(x->head->msg);
        free(x->head);
        x->head = n;
    }
    while (x->parked != NULL) {
        struct item *n = x->parked->next;
        natsMsg_Destroy(x->parked->msg);
        free(x->parked);
        x->parked = n;
    }
    for (size_t i = 0; i < x->ncas; i++) {
        struct eca *c = x->cas[i];
        feed_trust_free(c->trust);
        free(c->cert);
        ocsp_table_free(c->base);
        ocsp_table_free(c->overlay);
        ocsp_store_put(c->store);
        ocsp_table_builder_free(c->batch);
        free(c);
    }
    for (size_t i = 0; i < x->nold; i++) feed_trust_free(x->old_trusts[i]);
    free(x->old_trusts);
    free(x->cas);
    crl_set_free(x->crls);
    edgedb_close(x->db);
    feed_anchors_free(x->anchors);
    pthread_mutex_destroy(&x->mu);
    pthread_mutex_destroy(&x->ca_mu);
    pthread_cond_destroy(&x->cv);
    pthread_cond_destroy(&x->room);
    pthread_cond_destroy(&x->ca_cv);
    free(x);
}
