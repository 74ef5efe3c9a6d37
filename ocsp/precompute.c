/* precompute: signing every response of a CA in bulk, taking stored ones
 * again, overlays and generations (ocsp/precompute.h). Moved from
 * ca/responder.c: ca/ lends the records (ca/view.h) and the signer
 * (ca/signer.h, ca/responder.h); the encoding of stored responses is ours. */
#include "ocsp/precompute.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/responder.h"
#include "ca/signer.h"
#include "ca/view.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"
#include "ocsp/gen.h"
#include "ocsp/request.h"
#include "ocsp/response.h"
#include "ocsp/store.h"
#include "ocsp/table.h"

/* ca/ numbers its digests as we number CertID hashes, and its default
 * backdate is ours (ca/responder.h). */
_Static_assert((int)CA_DIGEST_SHA1 == (int)OCSP_HASH_SHA1 && (int)CA_DIGEST_SHA256 == (int)OCSP_HASH_SHA256 &&
                   (int)CA_DIGEST_SHA384 == (int)OCSP_HASH_SHA384 && (int)CA_DIGEST_SHA512 == (int)OCSP_HASH_SHA512,
               "enum ca_digest follows enum ocsp_hash");
_Static_assert(CA_OCSP_BACKDATE_DEFAULT_S == OCSP_BACKDATE_S, "one default backdate");

/* Big-endian integers of the stored record. */
static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* What signing a CA's responses needs, gathered once. */
struct signing {
    struct ca_core *c;
    uint32_t ca_id;
    uint64_t certificates; /* ca_view_ca: a size hint */
    struct ca_signer signer;
    uint8_t nh[2][64], kh[2][64];
    int64_t now, validity, backdate;
    struct ca_view_stored *persist; /* NULL: what is signed is not stored */
};

static const enum ocsp_hash table_hashes[2] = {OCSP_HASH_SHA1, OCSP_HASH_SHA256};

static int signing_init(struct ca_core *c, const char *name, int64_t validity, int persist, struct signing *sg,
                        struct rerr *e) {
    memset(sg, 0, sizeof(*sg));
    if (!ca_responder_signer(c, name, &sg->signer, e)) return 0;
    for (int h = 0; h < 2; h++)
        if (!ca_issuer_hashes(c, name, (enum ca_digest)table_hashes[h], sg->nh[h], sg->kh[h], e)) return 0;
    struct ca_view_ca vc;
    if (!ca_view_ca_get(c, name, &vc, e)) return 0;
    sg->c = c;
    sg->ca_id = vc.id;
    sg->certificates = vc.certificates;
    sg->now = rtime_now();
    sg->validity = validity;
    sg->backdate = ca_ocsp_backdate(c);
    if (persist && (sg->persist = ca_view_stored_new(c, vc.id)) == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* Stored responses are a cache of signatures: written without syncing the
 * WAL (a crash loses some, and they are signed again), in batches. */
#define PERSIST_BATCH 1024

static int signing_flush(struct signing *sg, struct rerr *e) {
    if (sg->persist == NULL) return 1;
    return ca_view_stored_write(sg->persist, e);
}

static int signing_done(struct signing *sg, int ok, struct rerr *e) {
    if (ok) ok = signing_flush(sg, e);
    ca_view_stored_free(sg->persist);
    sg->persist = NULL;
    return ok;
}

/* The stored record of a certificate's responses (ikey_resp), version 2:
 *   u8 version, u8 status, u8 reason, u8 0, i64 revoked_at, i64 thisUpdate,
 *   i64 nextUpdate, the SHA-1 issuer key hash (20), the SHA-1 responder
 *   key hash (20), then per CertID hash (SHA-1, SHA-256): u32 length, the
 *   response DER.
 * It is taken again only while status, reason and revocation time are
 * those of the certificate record, the issuer key is the same, the
 * responder that signed it is the current one (a revoked responder's
 * responses are all signed again), its validity is within the one
 * configured now (a shorter --validity takes effect at start), and it
 * ends no later than the certificate. Version 1 records (no responder key
 * hash) are signed again. The format is on disk: change it only with a
 * new version. */
#define SREC_VERSION 2
#define SREC_FIXED 72

static uint8_t srec_reason(const struct ca_view_cert *r) { return r->status == CERT_REVOKED ? r->reason : 0; }
static int64_t srec_revoked_at(const struct ca_view_cert *r) {
    return r->status == CERT_REVOKED ? r->revoked_at : 0;
}

static int persist_put(struct signing *sg, const uint8_t *serial, size_t slen, const struct ca_view_cert *r,
                       int64_t tu, int64_t nu, const uint8_t *const der[2], const size_t len[2], struct rerr *e) {
    uint8_t buf[SREC_FIXED + 2 * (4 + 8192)];
    uint8_t *p = buf;
    *p++ = SREC_VERSION;
    *p++ = (uint8_t)r->status;
    *p++ = srec_reason(r);
    *p++ = 0;
    put64(p, (uint64_t)srec_revoked_at(r));
    put64(p + 8, (uint64_t)tu);
    put64(p + 16, (uint64_t)nu);
    memcpy(p + 24, sg->kh[0], 20);
    memcpy(p + 44, sg->signer.key_hash, 20);
    p += 64;
    for (int h = 0; h < 2; h++) {
        put32(p, (uint32_t)len[h]);
        memcpy(p + 4, der[h], len[h]);
        p += 4 + len[h];
    }
    ca_view_stored_put(sg->persist, serial, slen, buf, (size_t)(p - buf));
    return ca_view_stored_count(sg->persist) < PERSIST_BATCH || signing_flush(sg, e);
}

/* A stored record still usable for r: not expiring within this margin,
 * not from the future. */
#define REUSE_MARGIN_S 300

static int srec_usable(const struct signing *sg, const struct ca_view_cert *r, const uint8_t *v, size_t vl,
                       const uint8_t *der[2], size_t len[2], int64_t *this_update, int64_t *next_update) {
    if (vl < SREC_FIXED || v[0] != SREC_VERSION || v[1] != (uint8_t)r->status || v[2] != srec_reason(r) || v[3] != 0)
        return 0;
    if ((int64_t)get64(v + 4) != srec_revoked_at(r) || memcmp(v + 28, sg->kh[0], 20) != 0 ||
        memcmp(v + 48, sg->signer.key_hash, 20) != 0)
        return 0;
    *this_update = (int64_t)get64(v + 12);
    *next_update = (int64_t)get64(v + 20);
    if (*this_update > sg->now + 60 || *next_update <= sg->now + REUSE_MARGIN_S) return 0;
    if (*next_update > r->not_after || *next_update - *this_update > sg->validity + sg->backdate) return 0;
    size_t off = 68;
    for (int h = 0; h < 2; h++) {
        if (vl - off < 4) return 0;
        size_t l = get32(v + off);
        if (l == 0 || l > vl - off - 4) return 0;
        der[h] = v + off + 4;
        len[h] = l;
        off += 4 + l;
    }
    return off == vl;
}

/* Signing in bulk: certificates are gathered in batches of SIGN_BATCH,
 * each batch signed by up to ca_ocsp_threads threads (each with its own
 * copy of the responder: a signing context is for one thread), then added
 * to the table and stored in order, on the calling thread. */
#define SIGN_BATCH 512
#define SIGN_THREADS_MAX 256
#define SIGN_RESP_MAX 8192

struct sign_item {
    uint8_t serial[21];
    size_t slen;
    struct ca_view_cert r; /* status, reason, revoked_at, not_after (serial not kept) */
    int copy;              /* der taken as it is (from a store): not signed */
    int stripped[2];       /* copy: der[h] lacks the store's suffix */
    int64_t this_update, next_update;
    size_t len[2];
    uint8_t der[2][SIGN_RESP_MAX];
};

struct sign_pool {
    struct signing *sg;
    struct ocsp_table_builder *b;  /* where signed responses go: a table, */
    struct ocsp_store_writer *w;   /* or a store (b NULL) */
    uint64_t *responses;
    int threads;
    /* [0]: none, the caller signs with sg->signer; unless own0: a pool that
     * lives across calls (a store being rewritten) has a copy for [0] too,
     * since a rotation between calls frees what sg->signer points to. */
    struct ca_responder *resp[SIGN_THREADS_MAX];
    int own0;
    struct sign_item *items; /* being gathered */
    size_t n, cap;
    /* A store's pool (own0) signs a batch on its threads while the caller
     * gathers the next into the other buffer and writes the one before:
     * the walk and the file never leave the signers idle. */
    struct sign_item *spare, *inflight; /* inflight: the batch being signed */
    size_t inflight_n;
    struct sign_part *parts;
    pthread_t tid[SIGN_THREADS_MAX];
    int started[SIGN_THREADS_MAX];
};

struct sign_part {
    struct sign_pool *p;
    struct sign_item *items;
    size_t n;
    int k, ok;
};

static int sign_item(const struct signing *sg, const struct ca_signer *signer, struct sign_item *it) {
    uint8_t certid[256];
    if (!ocsp_times(sg->now, sg->validity, sg->backdate, it->r.not_after, &it->this_update, &it->next_update))
        return 0;
    for (int h = 0; h < 2; h++) {
        size_t cl;
        if (!ocsp_certid_build(table_hashes[h], sg->nh[h], sg->kh[h], it->serial, it->slen, certid, sizeof(certid),
                               &cl))
            return 0;
        const struct ca_view_cert *r = &it->r;
        struct ocsp_single one = {certid, cl, r->status == CERT_REVOKED ? OCSP_REVOKED : OCSP_GOOD, r->revoked_at, -1,
                                  it->this_update, it->next_update};
        /* unspecified is sent as no reason (RFC 5280 5.3.1). */
        if (r->status == CERT_REVOKED && r->reason != 0) one.reason = r->reason;
        if (!ocsp_response_sign(signer, &one, sg->now, NULL, 0, it->der[h], SIGN_RESP_MAX, &it->len[h])) return 0;
    }
    return 1;
}

static void *sign_part_run(void *arg) {
    struct sign_part *pt = arg;
    struct sign_pool *p = pt->p;
    struct ca_signer own;
    const struct ca_signer *signer = &p->sg->signer;
    if (pt->k > 0 || p->own0) {
        ca_responder_signer_of(p->resp[pt->k], &own);
        signer = &own;
    }
    size_t lo = pt->n * (size_t)pt->k / (size_t)p->threads, hi = pt->n * (size_t)(pt->k + 1) / (size_t)p->threads;
    pt->ok = 1;
    for (size_t i = lo; i < hi && pt->ok; i++)
        if (!pt->items[i].copy) pt->ok = sign_item(p->sg, signer, &pt->items[i]);
    return NULL;
}

static int pool_init(struct sign_pool *p, struct signing *sg, const char *name, struct ocsp_table_builder *b,
                     uint64_t *responses, size_t expect, int own0, struct rerr *e) {
    memset(p, 0, sizeof(*p));
    if (own0) {
        if ((p->resp[0] = ca_responder_copy(sg->c, name, e)) == NULL) return 0;
        p->own0 = 1;
    }
    p->sg = sg;
    p->b = b;
    p->responses = responses;
    p->cap = expect < SIGN_BATCH ? (expect > 0 ? expect : 1) : SIGN_BATCH;
    p->items = malloc(p->cap * sizeof(struct sign_item));
    p->parts = calloc(SIGN_THREADS_MAX, sizeof(*p->parts));
    if (p->items == NULL || p->parts == NULL) return rerr_set(e, "out of memory");
    if (own0 && (p->spare = malloc(p->cap * sizeof(struct sign_item))) == NULL) return rerr_set(e, "out of memory");
    /* Threads only where there is enough to share: 64 certificates each. */
    int threads = ca_ocsp_threads(sg->c);
    int t = threads > 0 ? threads : 1;
    if ((size_t)t > p->cap / 64 + 1) t = (int)(p->cap / 64 + 1);
    if (t > SIGN_THREADS_MAX) t = SIGN_THREADS_MAX;
    p->threads = 1;
    for (int k = 1; k < t; k++) {
        /* The responder signing_init made current: no rotation here, which
         * would free what sg->signer points to. */
        if ((p->resp[k] = ca_responder_copy(sg->c, name, e)) == NULL) return 0;
        p->threads++;
    }
    return 1;
}

/* Waits for the batch being signed (its results dropped). */
static void pool_join(struct sign_pool *p) {
    for (int k = 0; k < p->threads && p->inflight_n > 0; k++)
        if (p->started[k]) {
            pthread_join(p->tid[k], NULL);
            p->started[k] = 0;
        }
    p->inflight_n = 0;
}

static void pool_free(struct sign_pool *p) {
    pool_join(p);
    for (int k = p->own0 ? 0 : 1; k < p->threads; k++) ca_responder_put(p->resp[k]);
    free(p->items);
    free(p->spare);
    free(p->parts);
    p->items = p->spare = NULL;
    p->parts = NULL;
}

/* Signs what is gathered, then adds it to the table and stores it. */
/* Adds what items[0..n) hold, signed, to the table or the store, in order. */
static int pool_write(struct sign_pool *p, struct sign_item *items, size_t n, struct rerr *e) {
    struct signing *sg = p->sg;
    for (size_t i = 0; i < n; i++) {
        struct sign_item *it = &items[i];
        const uint8_t *der[2] = {it->der[0], it->der[1]};
        if (p->w != NULL) {
            struct ocsp_store_rec rec = {it->serial, it->slen, (uint8_t)it->r.status, srec_reason(&it->r),
                                         srec_revoked_at(&it->r), it->r.not_after, it->this_update,
                                         it->next_update, {der[0], der[1]}, {it->len[0], it->len[1]},
                                         {it->copy && it->stripped[0], it->copy && it->stripped[1]}};
            if (!ocsp_store_writer_add(p->w, &rec, e)) return 0;
            if (!it->copy) *p->responses += 2;
            continue;
        }
        ocsp_table_builder_set_times(p->b, it->this_update, it->next_update);
        if (!ocsp_table_builder_add(p->b, it->serial, it->slen, der, it->len, e)) return 0;
        if (sg->persist != NULL &&
            !persist_put(sg, it->serial, it->slen, &it->r, it->this_update, it->next_update, der, it->len, e))
            return 0;
        *p->responses += 2;
    }
    return 1;
}

/* The batch being signed, finished and written. */
static int pool_land(struct sign_pool *p, struct rerr *e) {
    size_t n = p->inflight_n;
    if (n == 0) return 1;
    int ok = 1;
    for (int k = 0; k < p->threads; k++) {
        if (p->started[k]) pthread_join(p->tid[k], NULL);
        else if (k > 0 || p->spare != NULL) sign_part_run(&p->parts[k]); /* no thread: that part here */
        p->started[k] = 0;
        ok = ok && p->parts[k].ok;
    }
    p->inflight_n = 0;
    if (!ok) return rerr_set(e, "signing a response failed");
    return pool_write(p, p->inflight, n, e);
}

/* Signs what is gathered, then adds it to the table or store: at once, on
 * this thread and the pool's; or, for a store's pool, on the pool's alone
 * while the caller goes on (written by the next flush, or pool_drain). */
static int pool_flush(struct sign_pool *p, struct rerr *e) {
    if (p->spare != NULL && !pool_land(p, e)) return 0;
    if (p->n == 0) return 1;
    int first = p->spare != NULL ? 0 : 1; /* at once: part 0 is this thread's */
    for (int k = 0; k < p->threads; k++) p->parts[k] = (struct sign_part){p, p->items, p->n, k, 0};
    for (int k = first; k < p->threads; k++)
        if ((p->started[k] = pthread_create(&p->tid[k], NULL, sign_part_run, &p->parts[k]) == 0))
            pthread_setname_np(p->tid[k], "revd-sign"); /* for top -H */
    p->inflight = p->items;
    p->inflight_n = p->n;
    p->n = 0;
    if (p->spare != NULL) { /* gather the next batch meanwhile */
        p->items = p->spare;
        p->spare = p->inflight;
        return 1;
    }
    sign_part_run(&p->parts[0]);
    return pool_land(p, e);
}

/* pool_drain: everything gathered signed and written. */
static int pool_drain(struct sign_pool *p, struct rerr *e) { return pool_flush(p, e) && pool_land(p, e); }

/* sign_into gathers one certificate record to sign (its responses are in
 * the table once the batch is flushed). */
static int sign_into(struct sign_pool *p, const uint8_t *serial, size_t slen, const struct ca_view_cert *r,
                     struct rerr *e) {
    if (slen == 0 || slen > 21) return rerr_set(e, "serial of %zu octets", slen);
    struct sign_item *it = &p->items[p->n++];
    memcpy(it->serial, serial, slen);
    it->slen = slen;
    it->r = *r;
    it->r.serial = NULL;
    it->copy = 0;
    return p->n < p->cap || pool_flush(p, e);
}

/* pool_copy gathers a store record to keep as it is (in order with what
 * is signed; a store pool only). */
static int pool_copy(struct sign_pool *p, const struct ocsp_store_rec *rec, struct rerr *e) {
    if (rec->serial_len == 0 || rec->serial_len > 21) return rerr_set(e, "serial of %zu octets", rec->serial_len);
    struct sign_item *it = &p->items[p->n];
    for (int h = 0; h < 2; h++) {
        if (rec->der_len[h] > SIGN_RESP_MAX) return rerr_set(e, "a stored response of %zu octets", rec->der_len[h]);
        memcpy(it->der[h], rec->der[h], rec->der_len[h]);
        it->len[h] = rec->der_len[h];
        it->stripped[h] = rec->stripped[h];
    }
    p->n++;
    memcpy(it->serial, rec->serial, rec->serial_len);
    it->slen = rec->serial_len;
    memset(&it->r, 0, sizeof(it->r));
    it->r.status = (enum cert_status)rec->status;
    it->r.reason = rec->reason;
    it->r.revoked_at = rec->revoked_at;
    it->r.not_after = rec->not_after;
    it->this_update = rec->this_update;
    it->next_update = rec->next_update;
    it->copy = 1;
    return p->n < p->cap || pool_flush(p, e);
}

int ocsp_precompute(struct ca_core *c, const char *name, int64_t validity, int flags, struct ocsp_table **out,
                    struct ocsp_precompute_stats *stats, struct rerr *e) {
    memset(stats, 0, sizeof(*stats));
    double t0 = rtime_mono();
    struct signing sg;
    if (!signing_init(c, name, validity, (flags & OCSP_PRECOMPUTE_PERSIST) != 0, &sg, e))
        return signing_done(&sg, 0, e);
    struct ocsp_table_builder *b = ocsp_table_builder_new((size_t)sg.certificates);
    if (b == NULL) return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    struct sign_pool pool;
    if (!pool_init(&pool, &sg, name, b, &stats->responses, SIGN_BATCH, 0, e)) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e);
    }
    struct ca_view_walk *w =
        ca_view_walk_new(c, name, (flags & (OCSP_PRECOMPUTE_REUSE | OCSP_PRECOMPUTE_PERSIST)) != 0, e);
    int ok = w != NULL;
    struct ca_view_cert r;
    const uint8_t *sv;
    size_t svl;
    int got;
    while (ok && (got = ca_view_walk_next(w, &r, &sv, &svl, e)) != 0) {
        if (got < 0) {
            ok = 0;
            break;
        }
        if (r.not_after <= sg.now) {
            stats->skipped_expired++;
            if (sv != NULL && sg.persist != NULL) { /* no longer answered: drop it */
                ca_view_stored_drop(sg.persist, r.serial, r.serial_len);
                if (ca_view_stored_count(sg.persist) >= PERSIST_BATCH) ok = signing_flush(&sg, e);
            }
            continue;
        }
        const uint8_t *der[2];
        size_t len[2];
        int64_t tu, nu;
        if (sv != NULL && (flags & OCSP_PRECOMPUTE_REUSE) && srec_usable(&sg, &r, sv, svl, der, len, &tu, &nu)) {
            ocsp_table_builder_set_times(b, tu, nu);
            ok = ocsp_table_builder_add(b, r.serial, r.serial_len, der, len, e);
            stats->reused++;
        } else {
            ok = sign_into(&pool, r.serial, r.serial_len, &r, e);
        }
        stats->certificates++;
    }
    if (ok) ok = pool_flush(&pool, e);
    pool_free(&pool);
    ca_view_walk_free(w);
    ok = signing_done(&sg, ok, e);
    if (!ok) {
        ocsp_table_builder_free(b);
        return 0;
    }
    *out = ocsp_table_builder_finish(b);
    stats->seconds = rtime_mono() - t0;
    if (*out == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* qsort order of two changes (pointers to them): by serial, in the
 * index's key order (by length, then bytes). */
static int change_cmp(const void *a, const void *b) {
    const struct ca_change *x = *(const struct ca_change *const *)a, *y = *(const struct ca_change *const *)b;
    size_t al = x->serial_len, bl = y->serial_len;
    int c = memcmp(x->serial, y->serial, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

int ocsp_precompute_overlay(struct ca_core *c, const char *name, const struct ocsp_table *old,
                            const struct ca_change *changes, size_t num, int64_t validity, struct ocsp_table **out,
                            size_t *signed_count, struct rerr *e) {
    if (signed_count != NULL) *signed_count = 0;
    struct signing sg;
    if (!signing_init(c, name, validity, 1, &sg, e)) return signing_done(&sg, 0, e);
    struct ocsp_table_builder *b = ocsp_table_builder_new(num);
    if (b == NULL) return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    uint64_t responses = 0;
    struct sign_pool pool;
    if (!pool_init(&pool, &sg, name, b, &responses, num, 0, e)) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e);
    }
    /* This CA's changes, by serial: the same serial twice in one batch is
     * signed once (from its record as it is now). */
    const struct ca_change **mine = malloc((num + 1) * sizeof(*mine));
    size_t nmine = 0;
    if (mine == NULL) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    }
    for (size_t i = 0; i < num; i++)
        if (strcmp(changes[i].ca, name) == 0) mine[nmine++] = &changes[i];
    qsort(mine, nmine, sizeof(*mine), change_cmp);
    int ok = 1;
    for (size_t k = 0; ok && k < nmine; k++) {
        const struct ca_change *ch = mine[k];
        if (k + 1 < nmine && change_cmp(&mine[k], &mine[k + 1]) == 0) continue;
        struct ca_view_cert r;
        enum ca_view_got got = ca_view_cert_get(c, sg.ca_id, ch->serial, ch->serial_len, &r, e);
        if (got == CA_VIEW_ERROR) ok = 0;
        else if (got == CA_VIEW_FOUND) {
            /* An expired certificate has nothing to sign (its last response
             * ends at its notAfter); the next full generation drops it. */
            if (r.not_after > sg.now) ok = sign_into(&pool, ch->serial, ch->serial_len, &r, e);
            if (signed_count != NULL) (*signed_count)++;
        }
    }
    free(mine);
    if (ok) ok = pool_flush(&pool, e);
    pool_free(&pool);
    ok = signing_done(&sg, ok, e);
    if (!ok) {
        ocsp_table_builder_free(b);
        return 0;
    }
    struct ocsp_table *fresh = ocsp_table_builder_finish(b);
    if (fresh == NULL) return rerr_set(e, "out of memory");
    if (old == NULL) {
        *out = fresh;
        return 1;
    }
    /* The older overlay entries that were not just re-signed stay. */
    struct ocsp_table *merged = ocsp_table_merge(old, fresh);
    ocsp_table_free(fresh);
    if (merged == NULL) return rerr_set(e, "out of memory");
    *out = merged;
    return 1;
}

static void trim_changes(struct ca_core *c, const struct gen *g, uint64_t last);

void ocsp_store_path_of(const char *dir, uint32_t ca_id, char *out, size_t cap) {
    snprintf(out, cap, "%s/%u.store", dir, (unsigned)ca_id);
}

/* The changes of one CA since a store was written: its serials, or full. */
struct since {
    uint32_t ca_id;
    const char *name;
    int full;
    uint64_t first; /* the first record's number (0: none seen) */
    struct ca_change *list;
    size_t n, cap;
};

static int since_add(void *arg, const struct ca_view_change *ch) {
    struct since *s = arg;
    if (s->first == 0) s->first = ch->seq;
    if (ch->full && (ch->ca_id == 0 || ch->ca_id == s->ca_id)) {
        s->full = 1;
        return 0;
    }
    if (ch->ca_id != s->ca_id || ch->serial_len == 0 || ch->serial_len > sizeof(s->list[0].serial)) return 1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct ca_change *l = realloc(s->list, cap * sizeof(*l));
        if (l == NULL) {
            s->full = 1; /* out of memory: the store is written again */
            return 0;
        }
        s->list = l;
        s->cap = cap;
    }
    struct ca_change *c = &s->list[s->n++];
    snprintf(c->ca, sizeof(c->ca), "%s", s->name);
    memcpy(c->serial, ch->serial, ch->serial_len);
    c->serial_len = ch->serial_len;
    return 1;
}

/* Takes CA name's store st again if it is current, with an overlay of
 * what changed since (*over, may be NULL). Returns 1 taken, 0 not current
 * (why in *why), -1 on an error (e). */
static int store_again(struct ca_core *c, const char *name, const struct ocsp_gen_opts *o, struct ocsp_store *st,
                       struct ocsp_table **over, const char **why, struct rerr *e) {
    const struct ocsp_store_meta *m = ocsp_store_meta(st);
    struct signing sg;
    *over = NULL;
    if (!signing_init(c, name, o->validity, 0, &sg, e)) return signing_done(&sg, 0, e) - 1;
    signing_done(&sg, 1, e);
    *why = NULL;
    if (m->ca_id != sg.ca_id || memcmp(m->issuer_kh, sg.kh[0], 20) != 0) *why = "another CA key";
    else if (memcmp(m->responder_kh, sg.signer.key_hash, 20) != 0) *why = "another responder";
    else if (m->window > sg.validity + sg.backdate) *why = "a longer validity";
    else if (ocsp_store_count(st) > 0 && m->next_update_min <= sg.now + REUSE_MARGIN_S) *why = "responses run out";
    else if (m->built_seq > ca_view_changes_last(c)) *why = "newer than the index";
    if (*why != NULL) return 0;
    struct since s = {sg.ca_id, name, 0, 0, NULL, 0, 0};
    uint64_t last = ca_view_changes_last(c);
    struct rerr le;
    if (!ca_view_changes_since(c, m->built_seq, since_add, &s, &le)) {
        free(s.list);
        rlog(LOG_WARN, "ocsp.change_log_unreadable", "%s", le.msg);
        *why = "the change log could not be read";
        return 0;
    }
    /* The log is numbered without gaps but for what a trim took from its
     * start: a store older than what is left missed changes. */
    if (last > m->built_seq && s.first != m->built_seq + 1) *why = "changes since then are no longer logged";
    else if (s.full) *why = "a full change since";
    if (*why != NULL) {
        free(s.list);
        return 0;
    }
    int ok = s.n == 0 || ocsp_precompute_overlay(c, name, NULL, s.list, s.n, o->validity, over, NULL, e);
    free(s.list);
    return ok ? 1 : -1;
}

/* A CA's responses from its store: the file again when current, else
 * written again (stats: what was signed). */
static int gen_store(struct ca_core *c, struct gen_ca *gc, const char *name, uint32_t id,
                     const struct ocsp_gen_opts *o, struct ocsp_precompute_stats *st, struct rerr *e) {
    char path[4096];
    ocsp_store_path_of(o->store_dir, id, path, sizeof(path));
    if (!fs_mkdirs(o->store_dir, 0700, e)) return 0;
    int err;
    struct rerr oe;
    struct ocsp_store *old = ocsp_store_open(path, &err, &oe);
    if (old == NULL && err != ENOENT) rlog(LOG_WARN, "ocsp.store_unusable", "%s; writing it again from the index", oe.msg);
    const char *why = "none yet";
    struct ocsp_table *over = NULL;
    int again = old != NULL ? store_again(c, name, o, old, &over, &why, e) : 0;
    if (again < 0) {
        ocsp_store_put(old);
        return 0;
    }
    if (again) {
        gen_ca_set_store(gc, old);
        gen_ca_set_overlay(gc, over);
        st->certificates = ocsp_store_count(old);
        st->reused = st->certificates;
        return 1;
    }
    if (old != NULL) rlog(LOG_INFO, "ocsp.store_rewrite", "the response store of CA %s is written again: %s", name, why);
    struct ocsp_store *fresh = NULL;
    int ok = ocsp_precompute_store(c, name, path, o->validity, old, &fresh, st, e);
    ocsp_store_put(old);
    if (ok) gen_ca_set_store(gc, fresh);
    return ok;
}

/* One CA of a new generation: its issuer hashes, certificate and table
 * (or store). */
static int gen_add(struct ca_core *c, struct gen *g, const char *name, const struct ocsp_gen_opts *o,
                   struct ocsp_precompute_stats *stats, struct rerr *e) {
    struct ca_view_ca vc;
    if (!ca_view_ca_get(c, name, &vc, e)) return 0;
    struct gen_ca *gc = gen_add_ca(g, name, vc.id);
    for (int h = 0; h <= OCSP_HASH_SHA512; h++) {
        uint8_t nh[64] = {0}, kh[64] = {0};
        if (!ca_issuer_hashes(c, name, (enum ca_digest)h, nh, kh, e)) return 0;
        gen_ca_set_issuer(gc, (enum ocsp_hash)h, nh, kh);
    }
    uint8_t *der;
    size_t dl;
    if (!ca_view_ca_cert(c, name, &der, &dl, e)) return 0;
    gen_ca_set_cert(gc, der, dl);
    struct ocsp_precompute_stats st = {0};
    if (o->store_dir != NULL && vc.certificates > o->store_above) {
        if (!gen_store(c, gc, name, vc.id, o, &st, e)) return 0;
    } else {
        struct ocsp_table *t = NULL;
        if (!ocsp_precompute(c, name, o->validity, OCSP_PRECOMPUTE_REUSE | OCSP_PRECOMPUTE_PERSIST, &t, &st, e))
            return 0;
        gen_ca_set_table(gc, t);
    }
    if (stats != NULL) {
        stats->certificates += st.certificates;
        stats->reused += st.reused;
        stats->responses += st.responses;
        stats->skipped_expired += st.skipped_expired;
    }
    return 1;
}

void ocsp_precompute_trim_changes(struct ca_core *c, const struct gen *g) { trim_changes(c, g, ca_view_changes_last(c)); }

/* Trims the change log to what the stores of g still need. */
static void trim_changes(struct ca_core *c, const struct gen *g, uint64_t last) {
    uint64_t upto = last;
    for (size_t i = 0; i < g->num; i++) {
        const struct ocsp_store *st = gen_ca_store(gen_ca_at(g, i));
        if (st != NULL && ocsp_store_meta(st)->built_seq < upto) upto = ocsp_store_meta(st)->built_seq;
    }
    struct rerr e;
    if (upto > 0 && !ca_view_changes_trim(c, upto, &e))
        rlog(LOG_WARN, "ocsp.changes_trim_failed", "trimming the change log: %s", e.msg);
}

/* Removes what a store writer killed mid-way left (NAME.store.tmp.*:
 * common/fsutil.h's temporary names): nothing opens them. */
static void store_dir_clean(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *t = strstr(de->d_name, ".store.tmp.");
        if (t == NULL || t == de->d_name) continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            rlog(LOG_INFO, "ocsp.store_tmp_removed", "removed %s/%s, left by a store write that did not finish", dir,
                 de->d_name);
    }
    closedir(d);
}

int ocsp_precompute_gen(struct ca_core *c, const struct ocsp_gen_opts *o, struct gen **out,
                        struct ocsp_precompute_stats *stats, struct rerr *e) {
    double t0 = rtime_mono();
    if (o->store_dir != NULL) store_dir_clean(o->store_dir);
    if (stats != NULL) memset(stats, 0, sizeof(*stats));
    uint64_t last = ca_view_changes_last(c);
    size_t num = ca_count(c);
    struct gen *g = gen_new(num);
    if (g == NULL) return rerr_set(e, "out of memory");
    for (size_t i = 0; i < num; i++) {
        struct ca_info info;
        ca_info_at(c, i, &info);
        if (!info.publishes) continue; /* pending, purged: nothing to answer for */
        char name[CA_NAME_MAX + 1]; /* info's strings last until the core changes: signing may */
        snprintf(name, sizeof(name), "%s", info.name);
        if (!gen_add(c, g, name, o, stats, e)) {
            gen_free(g); /* the partly built CA too */
            return 0;
        }
    }
    trim_changes(c, g, last);
    *out = g;
    if (stats != NULL) stats->seconds = rtime_mono() - t0;
    return 1;
}

/* ---- stores (ocsp/store.h) ---- */

struct ocsp_store_build {
    struct signing sg;
    struct sign_pool pool;
    struct ocsp_store_writer *w;
    char path[4096];
    uint64_t responses, copied;
    double t0;
};

void ocsp_store_build_abort(struct ocsp_store_build *b) {
    if (b == NULL) return;
    pool_free(&b->pool);
    ocsp_store_writer_abort(b->w);
    signing_done(&b->sg, 0, NULL);
    free(b);
}

struct ocsp_store_build *ocsp_store_build_new(struct ca_core *c, const char *name, const char *path,
                                              int64_t validity, uint64_t built_seq, struct rerr *e) {
    struct ocsp_store_build *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    b->t0 = rtime_mono();
    snprintf(b->path, sizeof(b->path), "%s", path);
    if (!signing_init(c, name, validity, 0, &b->sg, e) ||
        !pool_init(&b->pool, &b->sg, name, NULL, &b->responses, SIGN_BATCH, 1, e)) {
        ocsp_store_build_abort(b);
        return NULL;
    }
    uint8_t suffix[16384];
    size_t slen;
    if (!ocsp_response_certs_block(&b->sg.signer, suffix, sizeof(suffix), &slen)) {
        rerr_set(e, "the responder certificate is too large");
        ocsp_store_build_abort(b);
        return NULL;
    }
    struct ocsp_store_meta m = {.ca_id = b->sg.ca_id, .built_seq = built_seq, .created = b->sg.now};
    memcpy(m.issuer_kh, b->sg.kh[0], 20);
    memcpy(m.responder_kh, b->sg.signer.key_hash, 20);
    if ((b->w = ocsp_store_writer_open(path, &m, suffix, slen, e)) == NULL) {
        ocsp_store_build_abort(b);
        return NULL;
    }
    b->pool.w = b->w;
    return b;
}

int64_t ocsp_store_build_now(const struct ocsp_store_build *b) { return b->sg.now; }

int ocsp_store_build_usable(const struct ocsp_store_build *b, const struct ocsp_store_meta *old,
                            const struct ocsp_store_rec *rec, const struct ca_view_cert *r) {
    const struct signing *sg = &b->sg;
    if (old->ca_id != sg->ca_id || memcmp(old->issuer_kh, sg->kh[0], 20) != 0 ||
        memcmp(old->responder_kh, sg->signer.key_hash, 20) != 0)
        return 0;
    if (rec->status != (uint8_t)r->status || rec->reason != srec_reason(r) || rec->revoked_at != srec_revoked_at(r))
        return 0;
    if (rec->this_update > sg->now + 60 || rec->next_update <= sg->now + REUSE_MARGIN_S) return 0;
    return rec->next_update <= r->not_after && rec->next_update - rec->this_update <= sg->validity + sg->backdate;
}

int ocsp_store_build_copy(struct ocsp_store_build *b, const struct ocsp_store_rec *rec, struct rerr *e) {
    b->copied++;
    return pool_copy(&b->pool, rec, e);
}

int ocsp_store_build_sign(struct ocsp_store_build *b, const struct ca_view_cert *r, struct rerr *e) {
    return sign_into(&b->pool, r->serial, r->serial_len, r, e);
}

int ocsp_store_build_resign(struct ocsp_store_build *b, const struct ocsp_store_rec *rec, struct rerr *e) {
    struct ca_view_cert r = {0};
    r.serial = rec->serial;
    r.serial_len = rec->serial_len;
    r.status = (enum cert_status)rec->status;
    r.reason = rec->reason;
    r.revoked_at = rec->revoked_at;
    r.not_after = rec->not_after;
    return sign_into(&b->pool, rec->serial, rec->serial_len, &r, e);
}

int ocsp_store_build_commit(struct ocsp_store_build *b, struct ocsp_store **out, struct ocsp_precompute_stats *stats,
                            struct rerr *e) {
    int ok = pool_drain(&b->pool, e);
    pool_free(&b->pool);
    memset(&b->pool, 0, sizeof(b->pool));
    if (ok) ok = ocsp_store_writer_commit(b->w, e); /* frees the writer either way */
    else ocsp_store_writer_abort(b->w);
    b->w = NULL;
    signing_done(&b->sg, ok, e);
    if (ok && (*out = ocsp_store_open(b->path, NULL, e)) == NULL) ok = 0;
    if (stats != NULL) {
        stats->responses += b->responses;
        stats->reused += b->copied;
        stats->seconds = rtime_mono() - b->t0;
    }
    free(b);
    return ok;
}

int ocsp_precompute_store(struct ca_core *c, const char *name, const char *path, int64_t validity,
                          const struct ocsp_store *old, struct ocsp_store **out, struct ocsp_precompute_stats *stats,
                          struct rerr *e) {
    memset(stats, 0, sizeof(*stats));
    struct ocsp_store_build *b = ocsp_store_build_new(c, name, path, validity, ca_view_changes_last(c), e);
    if (b == NULL) return 0;
    struct ca_view_walk *w = ca_view_walk_new(c, name, 0, e);
    struct ocsp_store_scan *sc = old != NULL ? ocsp_store_scan_new(old, e) : NULL;
    int ok = w != NULL && (old == NULL || sc != NULL);
    struct ocsp_store_rec orec;
    int have = ok && sc != NULL ? ocsp_store_scan_next(sc, &orec, e) : 0;
    if (have < 0) have = 0; /* a damaged old store: everything is signed again */
    struct ca_view_cert r;
    const uint8_t *sv;
    size_t svl;
    int got;
    while (ok && (got = ca_view_walk_next(w, &r, &sv, &svl, e)) != 0) {
        if (got < 0) {
            ok = 0;
            break;
        }
        if (r.not_after <= ocsp_store_build_now(b)) {
            stats->skipped_expired++;
            continue;
        }
        while (have > 0 && ocsp_store_serial_cmp(orec.serial, orec.serial_len, r.serial, r.serial_len) < 0)
            if ((have = ocsp_store_scan_next(sc, &orec, e)) < 0) have = 0;
        if (have > 0 && ocsp_store_serial_cmp(orec.serial, orec.serial_len, r.serial, r.serial_len) == 0 &&
            ocsp_store_build_usable(b, ocsp_store_meta(old), &orec, &r))
            ok = ocsp_store_build_copy(b, &orec, e);
        else
            ok = ocsp_store_build_sign(b, &r, e);
        stats->certificates++;
    }
    ocsp_store_scan_free(sc);
    ca_view_walk_free(w);
    if (!ok) {
        ocsp_store_build_abort(b);
        return 0;
    }
    uint64_t certs = stats->certificates, expired = stats->skipped_expired;
    ok = ocsp_store_build_commit(b, out, stats, e);
    stats->certificates = certs;
    stats->skipped_expired = expired;
    return ok;
}
