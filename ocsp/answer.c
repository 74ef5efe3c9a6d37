/* answer: the OCSP answer policy (ocsp/answer.h). */
#include "ocsp/answer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rtime.h"
#include "common/spsc.h"
#include "ocsp/cache.h"
#include "ocsp/gen.h"
#include "ocsp/getpath.h"
#include "ocsp/job.h"
#include "ocsp/request.h"
#include "ocsp/response.h"
#include "ocsp/store.h"
#include "ocsp/table.h"
#include "shard/handler.h"
#include "shard/httpout.h"
#include "shard/server.h"

/* One shard's side: its jobs, the ring the lane hands them back on, its
 * token bucket and counters. Its shard's thread only, but for the ring's
 * producer end (the lane) and the counters' readers (ocsp_answer_stats). */
struct answer_shard {
    struct ocsp_answer *a;
    struct ocsp_job *jobs;
    struct ocsp_job *free_jobs[OCSP_ANSWER_JOBS];
    int num_free_jobs;
    struct spsc done;
    double tokens;
    struct timespec refilled;
    _Atomic uint64_t lane_jobs, lane_fallbacks, expired, store_reads, store_busy, store_inline;
    struct ocsp_cache *cache; /* NULL: none */
    uint8_t *run;             /* STORE_RUN_MAX: a run read without waiting (NULL: none) */
    char pad[64]; /* no cache line shared with the next shard's */
};

struct ocsp_answer {
    int slot, num_shards;
    int (*submit)(void *arg, struct ocsp_job *job); /* NULL: no lane */
    void *submit_arg;
    int (*read)(void *arg, struct ocsp_job *job); /* NULL: no readers */
    void *read_arg;
    int unknown_signed;
    /* The settings a reload may change (ocsp_answer_set_live), read with relaxed
     * loads: each on its own. */
    _Atomic uint32_t live_rate;
    atomic_int live_nonce_echo;
    struct server *srv; /* set as the server starts (answer_ctx) */
    struct answer_shard *shards;
};

/* A counter only its shard writes: no atomic read-modify-write. */
static void bump(_Atomic uint64_t *x) {
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}

static void answer_ocsp_error(struct shard_conn *c, enum ocsp_resp_status st, int keep_alive, int head_only) {
    metrics_add(&shard_metrics_of(c)->ocsp_status[st < 7 ? st : OCSP_INTERNAL_ERROR], 1);
    uint8_t body[5];
    size_t n = ocsp_response_error(st, body), cap;
    uint8_t *out = shard_out(c, &cap);
    shard_emit(c, httpout_uncached(out, cap, 200, "application/ocsp-response", body, n, rtime_now(), keep_alive,
                                   head_only));
}

/* Writes a precomputed (or lane-signed) response with its caching heads,
 * or, when r's preconditions say so (r NULL: none, a lane's answer), 304
 * (GET, HEAD) or 412 (POST: RFC 9110 13.1.2). If-None-Match takes
 * precedence over If-Modified-Since, which GET and HEAD alone honour (RFC
 * 9110 13.2.2, 13.1.3). */
static void answer_stored(struct shard_conn *c, struct answer_shard *as, const uint8_t *resp, size_t resp_len,
                          const char *etag, int64_t this_update, int64_t next_update, const uint8_t *serial,
                          size_t serial_len, const struct http_request *r, int keep_alive, int head_only) {
    int64_t now = rtime_now();
    if (now >= next_update) { /* never serve a response past its nextUpdate */
        bump(&as->expired);
        answer_ocsp_error(c, OCSP_TRY_LATER, keep_alive, head_only);
        return;
    }
    struct shard_metrics *m = shard_metrics_of(c);
    metrics_add(&m->ocsp_status[OCSP_SUCCESSFUL], 1);
    metrics_observe(&m->age, MHK_AGE_S, now > this_update ? (uint64_t)(now - this_update) : 0);
    /* Caches keep it no longer than until it is re-signed (ocsp/table.h). */
    struct httpout_cache cache = {this_update, next_update,
                                  ocsp_refresh_at(serial, serial_len, this_update, next_update), shard_max_age(c)};
    int get = r != NULL && (r->method == HTTP_METHOD_GET || r->method == HTTP_METHOD_HEAD);
    int64_t since;
    size_t cap;
    uint8_t *out = shard_out(c, &cap);
    if (r != NULL && r->if_none_match != NULL && httpout_etag_matches(r->if_none_match, r->if_none_match_len, etag)) {
        if (get) shard_emit(c, httpout_not_modified(out, cap, etag, &cache, now, keep_alive));
        else shard_status(c, 412, keep_alive);
        return;
    }
    if (get && r->if_none_match == NULL && r->if_modified_since != NULL &&
        httpout_parse_date(r->if_modified_since, r->if_modified_since_len, &since) && since >= this_update) {
        shard_emit(c, httpout_not_modified(out, cap, etag, &cache, now, keep_alive));
        return;
    }
    shard_emit(c, httpout_ocsp(out, cap, resp, resp_len, etag, &cache, now, keep_alive, head_only));
}

/* Takes a token from the shard's bucket (rate/shards per second, a tenth
 * of a second of burst, at least 8). The coarse clock: once per lane
 * question, a few milliseconds of precision are plenty. */
static int lane_token(struct answer_shard *as) {
    const struct ocsp_answer *a = as->a;
    double per_shard = (double)atomic_load_explicit(&a->live_rate, memory_order_relaxed) / a->num_shards;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    double dt = (double)(now.tv_sec - as->refilled.tv_sec) + (now.tv_nsec - as->refilled.tv_nsec) / 1e9;
    as->refilled = now;
    double burst = per_shard / 10 > 8 ? per_shard / 10 : 8;
    as->tokens += dt * per_shard;
    if (as->tokens > burst) as->tokens = burst;
    if (as->tokens < 1) return 0;
    as->tokens -= 1;
    return 1;
}

/* Sends the question to the signing lane: the CertIDs ids[0..num) of CA
 * ca (num <= OCSP_JOB_MAX_CERTS), q's nonce when with_nonce. The
 * connection waits for the answer (ocsp_answer_job_done). Returns 0 when
 * the lane is off, over its rate or full: the caller answers without it. */
static int to_lane(struct shard_conn *c, struct answer_shard *as, const struct gen_ca *ca,
                   const struct ocsp_req *ids, size_t num, const struct ocsp_req *q, const struct http_request *r,
                   int with_nonce, int unknown_ok) {
    const struct ocsp_answer *a = as->a;
    if (a->submit == NULL || as->num_free_jobs == 0 || !lane_token(as)) return 0;
    struct ocsp_job *j = as->free_jobs[--as->num_free_jobs];
    j->kind = OCSP_JOB_SIGN;
    j->store = NULL;
    j->shard = shard_index(c);
    j->conn = c;
    j->ca_id = gen_ca_id(ca);
    j->num_certs = num;
    j->unknown_ok = unknown_ok;
    for (size_t i = 0; i < num; i++) { /* (the parser keeps serials within 21 octets) */
        j->certs[i].hash = ids[i].hash;
        memcpy(j->certs[i].serial, ids[i].serial, ids[i].serial_len);
        j->certs[i].serial_len = ids[i].serial_len;
    }
    j->nonce_len = 0;
    if (with_nonce && q->nonce != NULL && q->nonce_len <= sizeof(j->nonce)) {
        memcpy(j->nonce, q->nonce, q->nonce_len);
        j->nonce_len = q->nonce_len;
    }
    j->keep_alive = r->keep_alive;
    j->head_only = r->method == HTTP_METHOD_HEAD;
    /* The connection waits from here: the lane may answer before submit returns. */
    j->conn_id = shard_wait(c);
    if (!a->submit(a->submit_arg, j)) {
        shard_resume(c, j->conn_id); /* not waiting after all */
        as->free_jobs[as->num_free_jobs++] = j;
        return 0;
    }
    bump(&as->lane_jobs);
    return 1;
}

/* Sends a read of q's response (SHA-1 or SHA-256) from ca's store to the
 * readers; the connection waits (ocsp_answer_job_done). Returns 0 when no
 * job is free or the readers' queue is full. */
static int to_reader(struct shard_conn *c, struct answer_shard *as, const struct gen_ca *ca,
                     const struct ocsp_req *q, const struct http_request *r) {
    const struct ocsp_answer *a = as->a;
    if (a->read == NULL || as->num_free_jobs == 0) return 0;
    struct ocsp_job *j = as->free_jobs[--as->num_free_jobs];
    j->kind = OCSP_JOB_READ;
    j->store = ocsp_store_ref(gen_ca_store(ca));
    j->store_uid = ocsp_store_uid(j->store);
    j->shard = shard_index(c);
    j->conn = c;
    j->ca_id = gen_ca_id(ca);
    j->num_certs = 1;
    j->unknown_ok = 0;
    j->certs[0].hash = q->hash;
    memcpy(j->certs[0].serial, q->serial, q->serial_len);
    j->certs[0].serial_len = q->serial_len;
    j->nonce_len = 0;
    j->keep_alive = r->keep_alive;
    j->head_only = r->method == HTTP_METHOD_HEAD;
    j->conn_id = shard_wait(c);
    if (!a->read(a->read_arg, j)) {
        shard_resume(c, j->conn_id);
        ocsp_store_put(j->store);
        j->store = NULL;
        as->free_jobs[as->num_free_jobs++] = j;
        return 0;
    }
    bump(&as->store_reads);
    return 1;
}

/* A CA whose responses are on disk: q (SHA-1 or SHA-256, no nonce to echo)
 * from the shard's cache, else read. tryLater when the readers are full. */
static void answer_from_store(struct shard_conn *c, struct answer_shard *as, const struct gen_ca *ca,
                              const struct ocsp_req *q, const struct http_request *r) {
    const struct ocsp_store *st = gen_ca_store(ca);
    int h = q->hash == OCSP_HASH_SHA1 ? 0 : 1;
    struct ocsp_cache_hit hit;
    uint8_t buf[OCSP_JOB_RESP_MAX];
    size_t slen;
    const uint8_t *suffix = ocsp_store_suffix(st, &slen);
    if (ocsp_cache_get(as->cache, ocsp_store_uid(st), h, q->serial, q->serial_len, &hit) &&
        hit.der_len + slen <= sizeof(buf)) {
        if (!hit.stripped) slen = 0;
        metrics_add(&shard_metrics_of(c)->ocsp_store[MS_CACHE], 1);
        memcpy(buf, hit.der, hit.der_len);
        memcpy(buf + hit.der_len, suffix, slen);
        answer_stored(c, as, buf, hit.der_len + slen, hit.etag, hit.this_update, hit.next_update, q->serial,
                      q->serial_len, r, r->keep_alive, r->method == HTTP_METHOD_HEAD);
        return;
    }
    /* In the page cache: read here (RWF_NOWAIT never waits for the disk). */
    struct ocsp_store_rec rec;
    struct rerr e;
    int got = as->run != NULL ? ocsp_store_read_nowait(st, q->serial, q->serial_len, as->run, &rec, &e) : -2;
    char etag[ETAG_LEN + 1];
    size_t len;
    if (got == 1 && ocsp_store_assemble(st, &rec, h, buf, sizeof(buf), &len) && etag_of(buf, len, etag)) {
        bump(&as->store_inline);
        metrics_add(&shard_metrics_of(c)->ocsp_store[MS_PAGE_CACHE], 1);
        ocsp_cache_put(as->cache, ocsp_store_uid(st), h, q->serial, q->serial_len, rec.der[h], rec.der_len[h],
                       rec.stripped[h], etag, rec.this_update, rec.next_update);
        answer_stored(c, as, buf, len, etag, rec.this_update, rec.next_update, q->serial, q->serial_len, r,
                      r->keep_alive, r->method == HTTP_METHOD_HEAD);
        return;
    }
    if (got == 0) { /* never issued (or expired): as a table's miss */
        metrics_add(&shard_metrics_of(c)->hostile[MH_UNKNOWN_SERIAL], 1);
        if (as->a->unknown_signed && to_lane(c, as, ca, q, 1, q, r, 0, 0)) return;
        if (as->a->unknown_signed && as->a->submit != NULL) bump(&as->lane_fallbacks);
        return answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, r->method == HTTP_METHOD_HEAD);
    }
    if (to_reader(c, as, ca, q, r)) { /* not cached, or damaged: the reader says so */
        metrics_add(&shard_metrics_of(c)->ocsp_store[MS_READER], 1);
        return;
    }
    metrics_add(&shard_metrics_of(c)->ocsp_store[MS_BUSY], 1);
    bump(&as->store_busy);
    answer_ocsp_error(c, OCSP_TRY_LATER, r->keep_alive, r->method == HTTP_METHOD_HEAD);
}

/* A request with several CertIDs (RFC 6960 4.2.2.3: a SingleResponse for
 * each; RFC 5019 clients send one). The tables hold one CertID's responses,
 * so the lane signs one response for all of them, and the rule is:
 *   - at most OCSP_JOB_MAX_CERTS of them, every hash one revd answers, all
 *     of one issuer it serves (a delegated responder speaks for its own CA
 *     only: no one response could be authoritative for two); else
 *     unauthorized;
 *   - a serial the CA never issued (or expired) is answered "unknown"
 *     (RFC 6960 2.2) beside at least one it did issue, so that one unknown
 *     CertID, first or not, never withholds the others' answers; when none
 *     was issued the request is answered as one such serial alone is:
 *     unauthorized, or "unknown" under --unknown signed (never a way around
 *     --unknown unauthorized);
 *   - the lane off or saturated: tryLater.
 * Answered for this request only (not cached), as a nonce's answer is. */
static void answer_ocsp_several(struct shard_conn *c, struct answer_shard *as, const struct gen *g,
                                const struct ocsp_req *q, const struct http_request *r) {
    int head_only = r->method == HTTP_METHOD_HEAD;
    struct shard_metrics *m = shard_metrics_of(c);
    const struct ocsp_answer *a = as->a;
    struct ocsp_req ids[OCSP_JOB_MAX_CERTS];
    const struct gen_ca *ca = NULL;
    size_t num = q->num_requests, num_known = 0;
    if (num > OCSP_JOB_MAX_CERTS) return answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
    for (size_t i = 0; i < num; i++) {
        const struct gen_ca *ci = NULL;
        if (ocsp_request_get(q, i, &ids[i]) == OCSP_REQ_OK)
            ci = gen_find_issuer(g, ids[i].hash, ids[i].name_hash, ids[i].key_hash);
        if (ci == NULL || (ca != NULL && ci != ca)) {
            metrics_add(&m->hostile[MH_UNKNOWN_ISSUER], 1);
            return answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
        }
        ca = ci;
        /* A CA on disk: the lane finds out (OCSP_JOB_UNKNOWN_IF_ANY). */
        if (gen_ca_store(ca) != NULL || gen_has_serial(ca, ids[i].serial, ids[i].serial_len)) num_known++;
        else metrics_add(&m->hostile[MH_UNKNOWN_SERIAL], 1);
    }
    if (num_known == 0 && !a->unknown_signed) return answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
    int echo = atomic_load_explicit(&a->live_nonce_echo, memory_order_relaxed) && q->nonce != NULL;
    if (to_lane(c, as, ca, ids, num, q, r, echo,
                gen_ca_store(ca) != NULL ? OCSP_JOB_UNKNOWN_IF_ANY : num_known > 0))
        return;
    if (a->submit != NULL) bump(&as->lane_fallbacks);
    answer_ocsp_error(c, OCSP_TRY_LATER, r->keep_alive, head_only);
}

/* Answers the DER OCSPRequest der[0..len) (a POST's body, or a GET's
 * decoded path) from the generation g. */
static void answer_ocsp(struct shard_conn *c, struct answer_shard *as, const struct gen *g, const uint8_t *der,
                        size_t len, const struct http_request *r) {
    int head_only = r->method == HTTP_METHOD_HEAD;
    struct ocsp_req q;
    enum ocsp_req_result res = ocsp_request_parse(der, len, &q);
    struct shard_metrics *m = shard_metrics_of(c);
    const struct ocsp_answer *a = as->a;
    if (res == OCSP_REQ_MALFORMED) {
        shard_count_bad(c);
        metrics_add(&m->hostile[MH_BAD_DER], 1);
        answer_ocsp_error(c, OCSP_MALFORMED_REQUEST, r->keep_alive, head_only);
        return;
    }
    if (res == OCSP_REQ_OK) metrics_add(&m->ocsp_requests[q.hash & 3][q.nonce != NULL], 1);
    if (q.num_requests > 1) return answer_ocsp_several(c, as, g, &q, r);
    /* An issuer revd does not serve: unauthorized (RFC 5019). */
    const struct gen_ca *ca = res == OCSP_REQ_OK ? gen_find_issuer(g, q.hash, q.name_hash, q.key_hash) : NULL;
    if (ca == NULL) {
        metrics_add(&m->hostile[MH_UNKNOWN_ISSUER], 1);
        answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
        return;
    }
    const uint8_t *resp;
    size_t resp_len;
    const char *etag;
    int64_t this_update, next_update;
    /* The tables hold SHA-1 and SHA-256 CertIDs' responses. */
    int found = gen_find_response(ca, q.serial, q.serial_len, q.hash, &resp, &resp_len, &etag, &this_update,
                                  &next_update);
    int echo = atomic_load_explicit(&a->live_nonce_echo, memory_order_relaxed) && q.nonce != NULL;
    if (!found && gen_ca_store(ca) != NULL && !echo && (q.hash == OCSP_HASH_SHA1 || q.hash == OCSP_HASH_SHA256))
        return answer_from_store(c, as, ca, &q, r);
    /* On disk, a serial is known to the lane (it reads the index). */
    int known = found || gen_ca_store(ca) != NULL || gen_has_serial(ca, q.serial, q.serial_len);
    if (!known) metrics_add(&m->hostile[MH_UNKNOWN_SERIAL], 1);
    if (found && !echo) {
        answer_stored(c, as, resp, resp_len, etag, this_update, next_update, q.serial, q.serial_len, r,
                      r->keep_alive, head_only);
        return;
    }
    /* The lane signs what the tables cannot answer: a nonce to echo, a
     * SHA-384/512 CertID, a never-issued serial under --unknown signed. */
    int want = known || a->unknown_signed;
    if (want && to_lane(c, as, ca, &q, 1, &q, r, echo, 0)) return;
    if (want && a->submit != NULL) bump(&as->lane_fallbacks);
    if (found) /* the lane is saturated: the precomputed answer, without the nonce */
        answer_stored(c, as, resp, resp_len, etag, this_update, next_update, q.serial, q.serial_len, r,
                      r->keep_alive, head_only);
    else if (known) /* SHA-384/512 while the lane is saturated */
        answer_ocsp_error(c, OCSP_TRY_LATER, r->keep_alive, head_only);
    else /* a serial this CA never issued: never good */
        answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
}

/* POST /ocsp, /ocsp/: the body is the request. The generation is read
 * once per request; it stays valid for this call (shard/handler.h). */
static void handle_post(struct shard_conn *c, const struct http_request *r, void *ctx) {
    struct answer_shard *as = ctx;
    answer_ocsp(c, as, shard_slot(c, as->a->slot), r->body, r->body_len, r);
}

/* GET /ocsp/{base64}: the path is the request (RFC 6960 A.1), decoded into
 * the stack. */
static void handle_get(struct shard_conn *c, const struct http_request *r, void *ctx) {
    struct answer_shard *as = ctx;
    uint8_t der[OCSP_REQ_MAX_BYTES];
    size_t len;
    const char *q = memchr(r->target, '?', r->target_len);
    size_t plen = (q ? (size_t)(q - r->target) : r->target_len) - 6;
    if (!getpath_decode(r->target + 6, plen, der, sizeof(der), &len)) {
        shard_count_bad(c);
        metrics_add(&shard_metrics_of(c)->hostile[MH_BAD_DER], 1);
        answer_ocsp_error(c, OCSP_MALFORMED_REQUEST, r->keep_alive, r->method == HTTP_METHOD_HEAD);
        return;
    }
    answer_ocsp(c, as, shard_slot(c, as->a->slot), der, len, r);
}

/* GET /ca/NAME.der: an issuer's certificate (AIA caIssuers). */
static void handle_ca_cert(struct shard_conn *c, const struct http_request *r, void *ctx) {
    struct answer_shard *as = ctx;
    const struct gen *g = shard_slot(c, as->a->slot);
    const struct gen_ca *ca = gen_find_name(g, r->target + 4, r->target_len - 8);
    if (ca == NULL) return shard_status(c, 404, r->keep_alive);
    size_t cap, cert_len;
    const uint8_t *cert = gen_ca_cert(ca, &cert_len);
    uint8_t *out = shard_out(c, &cap);
    shard_emit(c, httpout_uncached(out, cap, 200, "application/pkix-cert", cert, cert_len, rtime_now(),
                                   r->keep_alive, r->method == HTTP_METHOD_HEAD));
}

/* A read came back (its connection waits): a response found goes in the
 * cache; a serial the store does not have is never issued (or expired):
 * signed "unknown" by the lane under --unknown signed, else unauthorized
 * (answer_wake). Returns 1 when the job went on to the lane. */
static int read_done(struct answer_shard *as, struct shard_conn *c, struct ocsp_job *j) {
    const struct ocsp_job_cert *jc = &j->certs[0];
    if (j->found) {
        ocsp_cache_put(as->cache, j->store_uid, jc->hash == OCSP_HASH_SHA1 ? 0 : 1, jc->serial, jc->serial_len,
                       j->resp, j->stripped_len, j->stripped_len != j->resp_len, j->etag, j->this_update,
                       j->next_update);
        return 0;
    }
    if (j->status != OCSP_UNAUTHORIZED) return 0; /* tryLater: the store could not be read */
    metrics_add(&shard_metrics_of(c)->hostile[MH_UNKNOWN_SERIAL], 1);
    const struct ocsp_answer *a = as->a;
    if (!a->unknown_signed || a->submit == NULL || !lane_token(as)) return 0;
    j->kind = OCSP_JOB_SIGN;
    j->unknown_ok = 0;
    if (!a->submit(a->submit_arg, j)) return 0;
    bump(&as->lane_jobs);
    return 1;
}

/* The lane's answers, on the shard's thread (its wake hook): each to its
 * connection if it still waits; the job back to the pool. */
static void answer_wake(void *ctx) {
    struct answer_shard *as = ctx;
    struct ocsp_job *j;
    while ((j = spsc_pop(&as->done)) != NULL) {
        struct shard_conn *c = shard_resume(j->conn, j->conn_id);
        if (c == NULL) { /* the connection went away */
            as->free_jobs[as->num_free_jobs++] = j;
            continue;
        }
        if (j->kind == OCSP_JOB_READ && read_done(as, c, j)) continue; /* on to the lane */
        int one_off = j->nonce_len > 0 || j->num_certs > 1; /* for this request only: not for caches */
        if (j->status == OCSP_SUCCESSFUL && one_off) /* answer_stored counts the others */
            metrics_add(&shard_metrics_of(c)->ocsp_status[OCSP_SUCCESSFUL], 1);
        if (j->status != OCSP_SUCCESSFUL) {
            answer_ocsp_error(c, j->status, j->keep_alive, j->head_only);
        } else if (one_off) {
            size_t cap;
            uint8_t *out = shard_out(c, &cap);
            shard_emit(c, httpout_uncached(out, cap, 200, "application/ocsp-response", j->resp, j->resp_len,
                                           rtime_now(), j->keep_alive, j->head_only));
        } else {
            answer_stored(c, as, j->resp, j->resp_len, j->etag, j->this_update, j->next_update, j->certs[0].serial,
                          j->certs[0].serial_len, NULL, j->keep_alive, j->head_only);
        }
        int keep_alive = j->keep_alive;
        as->free_jobs[as->num_free_jobs++] = j;
        shard_resumed(c, keep_alive);
    }
}

void ocsp_answer_job_done(void *arg, struct ocsp_job *job) {
    struct ocsp_answer *a = arg;
    /* The job is the shard's again once pushed (it may be reused at once):
     * read nothing of it after. The ring holds the whole pool: it cannot be
     * full. */
    int shard = job->shard;
    spsc_push(&a->shards[shard].done, job);
    server_wake(a->srv, shard);
}

static void *answer_ctx(void *arg, struct server *s, int shard) {
    struct ocsp_answer *a = arg;
    if (shard >= a->num_shards) return NULL;
    a->srv = s;
    return &a->shards[shard];
}

int ocsp_answer_set_store(struct ocsp_answer *a, int (*read)(void *arg, struct ocsp_job *job), void *read_arg,
                          size_t cache_bytes, struct rerr *e) {
    a->read = read;
    a->read_arg = read_arg;
    for (int i = 0; i < a->num_shards; i++) {
        if (cache_bytes > 0 && (a->shards[i].cache = ocsp_cache_new(cache_bytes)) == NULL)
            return rerr_set(e, "no room for a response cache of %zu bytes per shard", cache_bytes);
        if ((a->shards[i].run = malloc(STORE_RUN_MAX)) == NULL) return rerr_set(e, "out of memory");
    }
    return 1;
}

void ocsp_answer_set_live(struct ocsp_answer *a, const struct ocsp_answer_config *conf) {
    atomic_store_explicit(&a->live_rate, conf->rate, memory_order_relaxed);
    atomic_store_explicit(&a->live_nonce_echo, conf->nonce_echo, memory_order_relaxed);
}

struct ocsp_answer *ocsp_answer_new(int num_shards, int slot, const struct ocsp_answer_config *ln,
                                    int (*submit)(void *arg, struct ocsp_job *job), void *submit_arg,
                                    struct rerr *e) {
    struct ocsp_answer *a = calloc(1, sizeof(*a));
    /* Aligned as the rings in it ask (common/spsc.h): a cache line each. */
    size_t size = (size_t)num_shards * sizeof(*a->shards);
    if (a == NULL || (a->shards = aligned_alloc(_Alignof(struct answer_shard), size)) == NULL) {
        free(a);
        rerr_set(e, "out of memory");
        return NULL;
    }
    memset(a->shards, 0, size);
    a->slot = slot;
    a->num_shards = num_shards;
    a->submit = submit;
    a->submit_arg = submit_arg;
    a->unknown_signed = ln->unknown_signed;
    atomic_init(&a->live_rate, ln->rate);
    atomic_init(&a->live_nonce_echo, ln->nonce_echo);
    for (int i = 0; i < num_shards; i++) {
        struct answer_shard *as = &a->shards[i];
        as->a = a;
        as->jobs = calloc(OCSP_ANSWER_JOBS, sizeof(struct ocsp_job));
        if (as->jobs == NULL || !spsc_init(&as->done, OCSP_ANSWER_JOBS)) {
            ocsp_answer_free(a);
            rerr_set(e, "out of memory");
            return NULL;
        }
        for (int k = 0; k < OCSP_ANSWER_JOBS; k++) as->free_jobs[k] = &as->jobs[k];
        as->num_free_jobs = OCSP_ANSWER_JOBS;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &as->refilled);
        as->tokens = 1e18; /* a full bucket: clamped to the burst on first use */
    }
    return a;
}

int ocsp_answer_register(struct ocsp_answer *a, struct server_config *cfg) {
    const struct shard_route routes[] = {
        {"/ca/", SHARD_MATCH_PREFIX, ".der", SHARD_GET | SHARD_HEAD, MK_CA_CERT, handle_ca_cert, a, answer_ctx,
         answer_wake},
        {"/ocsp", SHARD_MATCH_EXACT, NULL, SHARD_POST, MK_OCSP_POST, handle_post, a, answer_ctx, answer_wake},
        {"/ocsp/", SHARD_MATCH_EXACT, NULL, SHARD_POST, MK_OCSP_POST, handle_post, a, answer_ctx, answer_wake},
        {"/ocsp/", SHARD_MATCH_PREFIX, NULL, SHARD_GET | SHARD_HEAD, MK_OCSP_GET, handle_get, a, answer_ctx,
         answer_wake},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!server_route_add(cfg, &routes[i])) return 0;
    return 1;
}

void ocsp_answer_free_gen(void *g) { gen_free(g); }

void ocsp_answer_stats(const struct ocsp_answer *a, struct ocsp_answer_stats *out) {
    memset(out, 0, sizeof(*out));
    for (int i = 0; a != NULL && i < a->num_shards; i++) {
        const struct answer_shard *as = &a->shards[i];
        out->lane_jobs += atomic_load_explicit(&as->lane_jobs, memory_order_relaxed);
        out->lane_fallbacks += atomic_load_explicit(&as->lane_fallbacks, memory_order_relaxed);
        out->expired += atomic_load_explicit(&as->expired, memory_order_relaxed);
        out->store_reads += atomic_load_explicit(&as->store_reads, memory_order_relaxed);
        out->store_busy += atomic_load_explicit(&as->store_busy, memory_order_relaxed);
        out->store_inline += atomic_load_explicit(&as->store_inline, memory_order_relaxed);
        struct ocsp_cache_stats cs = {0};
        ocsp_cache_stats(as->cache, &cs);
        out->cache_hits += cs.hits;
        out->cache_misses += cs.misses;
        out->cache_evictions += cs.evictions;
        out->cache_bytes += ocsp_cache_bytes(as->cache);
    }
}

void ocsp_answer_free(struct ocsp_answer *a) {
    if (a == NULL) return;
    for (int i = 0; i < a->num_shards; i++) {
        spsc_free(&a->shards[i].done);
        for (int k = 0; a->shards[i].jobs != NULL && k < OCSP_ANSWER_JOBS; k++) ocsp_store_put(a->shards[i].jobs[k].store);
        free(a->shards[i].jobs);
        ocsp_cache_free(a->shards[i].cache);
        free(a->shards[i].run);
    }
    free(a->shards);
    free(a);
}
