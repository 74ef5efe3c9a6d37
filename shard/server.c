#include "shard/server.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include "common/spsc.h"
#include "ocsp/gen.h"
#include "ocsp/job.h"
#include "ocsp/table.h"
#include "ocsp/getpath.h"
#include "ocsp/request.h"
#include "ocsp/response.h"
#include "shard/http.h"
#include "shard/httpout.h"
#include "shard/internal.h"
#include "crl/set.h"

/* ---- answers ---- */

/* emit accounts for an answer the writers put at out + out_len. A writer
 * returns 0 when the answer does not fit (a CA certificate larger than
 * ANSWER_MAX, say): then the client gets a 500 and the connection closes,
 * so pipelined answers never fall out of step with their requests. */
static void emit(struct conn *c, size_t n) {
    struct shard_metrics *m = &c->sh->m;
    if (n > 0) {
        /* Counted by the status the writer put there: "HTTP/1.1 NNN ". */
        const uint8_t *h = c->out + c->out_len;
        int status = n > 12 ? (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0') : 0;
        metrics_add(&m->requests[c->kind][metrics_code_index(status)], 1);
        c->out_len += n;
        return;
    }
    metrics_add(&m->requests[c->kind][metrics_code_index(500)], 1);
    static const char err[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                              "Cache-Control: max-age=0, no-cache\r\nConnection: close\r\n\r\n";
    if (OUT_CAP - c->out_len >= sizeof(err) - 1) {
        memcpy(c->out + c->out_len, err, sizeof(err) - 1);
        c->out_len += sizeof(err) - 1;
    }
    c->closing = 1;
}

static void answer_ocsp_error(struct conn *c, enum ocsp_resp_status st, int keep_alive, int head_only) {
    metrics_add(&c->sh->m.ocsp_status[st < 7 ? st : OCSP_INTERNAL_ERROR], 1);
    uint8_t body[5];
    size_t n = ocsp_response_error(st, body);
    emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "application/ocsp-response", body, n,
                             now_s(), keep_alive, head_only));
}

static void answer_status(struct conn *c, int status, int keep_alive) {
    emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, status, NULL, NULL, 0, now_s(), keep_alive,
                             0));
}

/* Writes a precomputed (or lane-signed) response with its caching heads,
 * or, when r's preconditions say so (r NULL: none, a lane's answer), 304
 * (GET, HEAD) or 412 (POST: RFC 9110 13.1.2). If-None-Match takes
 * precedence over If-Modified-Since, which GET and HEAD alone honour (RFC
 * 9110 13.2.2, 13.1.3). */
static void answer_stored(struct conn *c, const uint8_t *resp, size_t resp_len, const char *etag, int64_t this_update,
                          int64_t next_update, const uint8_t *serial, size_t serial_len, const struct http_request *r,
                          int keep_alive, int head_only) {
    int64_t now = now_s();
    if (now >= next_update) { /* never serve a response past its nextUpdate */
        bump(&c->sh->expired);
        answer_ocsp_error(c, OCSP_TRY_LATER, keep_alive, head_only);
        return;
    }
    metrics_add(&c->sh->m.ocsp_status[OCSP_SUCCESSFUL], 1);
    metrics_observe(&c->sh->m.age, MHK_AGE_S, now > this_update ? (uint64_t)(now - this_update) : 0);
    /* Caches keep it no longer than until it is re-signed (ocsp/table.h). */
    struct httpout_cache cache = {this_update, next_update,
                                  ocsp_refresh_at(serial, serial_len, this_update, next_update),
                                  live_i64(&c->sh->srv->live_max_age)};
    int get = r != NULL && (r->method == HTTP_METHOD_GET || r->method == HTTP_METHOD_HEAD);
    int64_t since;
    if (r != NULL && r->if_none_match != NULL && httpout_etag_matches(r->if_none_match, r->if_none_match_len, etag)) {
        if (get)
            emit(c, httpout_not_modified(c->out + c->out_len, OUT_CAP - c->out_len, etag, &cache, now, keep_alive));
        else
            answer_status(c, 412, keep_alive);
        return;
    }
    if (get && r->if_none_match == NULL && r->if_modified_since != NULL &&
        httpout_parse_date(r->if_modified_since, r->if_modified_since_len, &since) && since >= this_update) {
        emit(c, httpout_not_modified(c->out + c->out_len, OUT_CAP - c->out_len, etag, &cache, now, keep_alive));
        return;
    }
    emit(c, httpout_ocsp(c->out + c->out_len, OUT_CAP - c->out_len, resp, resp_len, etag, &cache, now, keep_alive,
                         head_only));
}

/* Takes a token from the shard's bucket (rate/shards per second, a tenth
 * of a second of burst, at least 8). */
static int lane_token(struct shard *sh) {
    double per_shard = (double)atomic_load_explicit(&sh->srv->live_rate, memory_order_relaxed) / sh->srv->num_shards;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    double dt = (double)(now.tv_sec - sh->refilled.tv_sec) + (now.tv_nsec - sh->refilled.tv_nsec) / 1e9;
    sh->refilled = now;
    double burst = per_shard / 10 > 8 ? per_shard / 10 : 8;
    sh->tokens += dt * per_shard;
    if (sh->tokens > burst) sh->tokens = burst;
    if (sh->tokens < 1) return 0;
    sh->tokens -= 1;
    return 1;
}

/* Sends the question to the signing lane: the CertIDs ids[0..num) of CA
 * ca (num <= OCSP_JOB_MAX_CERTS), q's nonce when with_nonce. The
 * connection waits for the answer (server_job_done). Returns 0 when the
 * lane is off, over its rate or full: the caller answers without it. */
static int to_lane(struct conn *c, const struct gen_ca *ca, const struct ocsp_req *ids, size_t num,
                   const struct ocsp_req *q, const struct http_request *r, int with_nonce, int unknown_ok) {
    struct shard *sh = c->sh;
    const struct server_lane *ln = &sh->srv->cfg.lane;
    if (ln->submit == NULL || sh->num_free_jobs == 0 || !lane_token(sh)) return 0;
    struct ocsp_job *j = sh->free_jobs[--sh->num_free_jobs];
    j->shard = sh->index;
    j->conn = c;
    j->conn_id = c->id;
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
    if (!ln->submit(ln->arg, j)) {
        sh->free_jobs[sh->num_free_jobs++] = j;
        return 0;
    }
    bump(&sh->lane_jobs);
    c->waiting = 1;
    return 1;
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
static void answer_ocsp_several(struct conn *c, const struct gen *g, const struct ocsp_req *q,
                                const struct http_request *r) {
    int head_only = r->method == HTTP_METHOD_HEAD;
    struct shard_metrics *m = &c->sh->m;
    const struct server_lane *ln = &c->sh->srv->cfg.lane;
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
        if (gen_has_serial(ca, ids[i].serial, ids[i].serial_len)) num_known++;
        else metrics_add(&m->hostile[MH_UNKNOWN_SERIAL], 1);
    }
    if (num_known == 0 && !ln->unknown_signed) return answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
    int echo = live_int(&c->sh->srv->live_nonce_echo) && q->nonce != NULL;
    if (to_lane(c, ca, ids, num, q, r, echo, num_known > 0)) return;
    if (ln->submit != NULL) bump(&c->sh->lane_fallbacks);
    answer_ocsp_error(c, OCSP_TRY_LATER, r->keep_alive, head_only);
}

static void answer_ocsp(struct conn *c, const struct gen *g, const uint8_t *der, size_t len,
                        const struct http_request *r) {
    int head_only = r->method == HTTP_METHOD_HEAD;
    struct ocsp_req q;
    enum ocsp_req_result res = ocsp_request_parse(der, len, &q);
    struct shard_metrics *m = &c->sh->m;
    if (res == OCSP_REQ_MALFORMED) {
        bump(&c->sh->bad_requests);
        metrics_add(&m->hostile[MH_BAD_DER], 1);
        answer_ocsp_error(c, OCSP_MALFORMED_REQUEST, r->keep_alive, head_only);
        return;
    }
    if (res == OCSP_REQ_OK) metrics_add(&m->ocsp_requests[q.hash & 3][q.nonce != NULL], 1);
    if (q.num_requests > 1) return answer_ocsp_several(c, g, &q, r);
    /* An issuer revd does not serve: unauthorized (RFC 5019). */
    const struct gen_ca *ca = res == OCSP_REQ_OK ? gen_find_issuer(g, q.hash, q.name_hash, q.key_hash) : NULL;
    if (ca == NULL) {
        metrics_add(&m->hostile[MH_UNKNOWN_ISSUER], 1);
        answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
        return;
    }
    const struct server_lane *ln = &c->sh->srv->cfg.lane;
    const uint8_t *resp;
    size_t resp_len;
    const char *etag;
    int64_t this_update, next_update;
    /* The tables hold SHA-1 and SHA-256 CertIDs' responses. */
    int found = gen_find_response(ca, q.serial, q.serial_len, q.hash, &resp, &resp_len, &etag, &this_update,
                                  &next_update);
    int known = found || gen_has_serial(ca, q.serial, q.serial_len);
    if (!known) metrics_add(&m->hostile[MH_UNKNOWN_SERIAL], 1);
    int echo = live_int(&c->sh->srv->live_nonce_echo) && q.nonce != NULL;
    if (found && !echo) {
        answer_stored(c, resp, resp_len, etag, this_update, next_update, q.serial, q.serial_len, r, r->keep_alive,
                      head_only);
        return;
    }
    /* The lane signs what the tables cannot answer: a nonce to echo, a
     * SHA-384/512 CertID, a never-issued serial under --unknown signed. */
    int want = known || ln->unknown_signed;
    if (want && to_lane(c, ca, &q, 1, &q, r, echo, 0)) return;
    if (want && ln->submit != NULL) bump(&c->sh->lane_fallbacks);
    if (found) /* the lane is saturated: the precomputed answer, without the nonce */
        answer_stored(c, resp, resp_len, etag, this_update, next_update, q.serial, q.serial_len, r, r->keep_alive,
                      head_only);
    else if (known) /* SHA-384/512 while the lane is saturated */
        answer_ocsp_error(c, OCSP_TRY_LATER, r->keep_alive, head_only);
    else /* a serial this CA never issued: never good */
        answer_ocsp_error(c, OCSP_UNAUTHORIZED, r->keep_alive, head_only);
}

/* A CRL: its head into the output, its body sent from the blob itself
 * (up to a megabyte) with a reference held until it is. */
static void answer_crl(struct conn *c, const struct gen *g, const struct http_request *r) {
    const char *q = memchr(r->target, '?', r->target_len);
    size_t plen = q ? (size_t)(q - r->target) : r->target_len;
    struct crl_blob *b = crl_set_find(g->crls, r->target, plen);
    if (b == NULL) return answer_status(c, 404, r->keep_alive);
    int64_t now = now_s();
    struct httpout_cache cache = {b->this_update, b->next_update, b->refresh_at, live_i64(&c->sh->srv->live_max_age)};
    int64_t since;
    if ((r->if_none_match != NULL && httpout_etag_matches(r->if_none_match, r->if_none_match_len, b->etag)) ||
        (r->if_none_match == NULL && r->if_modified_since != NULL &&
         httpout_parse_date(r->if_modified_since, r->if_modified_since_len, &since) && since >= b->this_update)) {
        emit(c, httpout_not_modified(c->out + c->out_len, OUT_CAP - c->out_len, b->etag, &cache, now, r->keep_alive));
        return;
    }
    size_t h = httpout_crl_head(c->out + c->out_len, OUT_CAP - c->out_len, b->len, b->etag, &cache, now,
                                r->keep_alive);
    emit(c, h);
    if (h == 0 || r->method == HTTP_METHOD_HEAD) return;
    c->ext = crl_blob_ref(b);
    c->ext_off = 0;
}

int conn_iov(struct conn *c) {
    int n = 0;
    if (c->out_len > c->out_off) c->iov[n++] = (struct iovec){c->out + c->out_off, c->out_len - c->out_off};
    if (c->ext != NULL && c->ext_off < c->ext->len)
        c->iov[n++] = (struct iovec){c->ext->der + c->ext_off, c->ext->len - c->ext_off};
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    return n;
}

int conn_sent(struct conn *c, size_t n) {
    size_t a = c->out_len - c->out_off;
    if (n <= a) {
        c->out_off += n;
        n = 0;
    } else {
        c->out_off = c->out_len;
        n -= a;
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (c->ext != NULL) {
        c->ext_off += n;
        if (c->ext_off >= c->ext->len) conn_drop_ext(c);
    }
    return c->out_len == 0 && c->ext == NULL;
}

void conn_drop_ext(struct conn *c) {
    crl_blob_put(c->ext);
    c->ext = NULL;
    c->ext_off = 0;
}

/* GET /metrics: every shard's counters summed, with the CA-core's. */
static void answer_metrics(struct conn *c, const struct http_request *r) {
    struct server *s = c->sh->srv;
    const struct shard_metrics *ms[256];
    int n = s->num_shards < 256 ? s->num_shards : 256;
    for (int i = 0; i < n; i++) ms[i] = &s->shards[i].m;
    static _Thread_local char text[ANSWER_MAX - 512];
    size_t len = metrics_render(ms, n, &s->core_metrics, text, sizeof(text));
    if (len == 0) return answer_status(c, 500, r->keep_alive);
    emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "text/plain; version=0.0.4",
                             (const uint8_t *)text, len, now_s(), r->keep_alive, r->method == HTTP_METHOD_HEAD));
}

static int target_is(const struct http_request *r, const char *s) {
    size_t n = strlen(s);
    return r->target_len == n && memcmp(r->target, s, n) == 0;
}

static int starts(const struct http_request *r, const char *s) {
    size_t n = strlen(s);
    return r->target_len >= n && memcmp(r->target, s, n) == 0;
}

/* The resources, with the methods each takes (RFC 9110 15.5.6: a 405
 * lists them in Allow). */
enum route { ROUTE_NONE, ROUTE_METRICS, ROUTE_HEALTHZ, ROUTE_CA_CERT, ROUTE_CRL, ROUTE_OCSP_POST, ROUTE_OCSP_GET };

/* Whether the peer of c may read /metrics (metrics-allow): a system call,
 * on /metrics requests only. */
static int metrics_allowed(const struct conn *c) {
    const struct server_config *cfg = &c->sh->srv->cfg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) != 0) return 0;
    return cidr_match(cfg->metrics_allow, cfg->num_metrics_allow, (const struct sockaddr *)&ss, sl);
}

static enum route route_of(const struct conn *c, const struct http_request *r) {
    if (target_is(r, "/metrics") && !live_int(&c->sh->srv->live_no_metrics) && metrics_allowed(c))
        return ROUTE_METRICS;
    if (target_is(r, "/healthz")) return ROUTE_HEALTHZ;
    if (starts(r, "/ca/") && r->target_len > 8 && memcmp(r->target + r->target_len - 4, ".der", 4) == 0)
        return ROUTE_CA_CERT;
    if (starts(r, "/crl/")) return ROUTE_CRL;
    if (target_is(r, "/ocsp") || target_is(r, "/ocsp/")) return ROUTE_OCSP_POST;
    if (starts(r, "/ocsp/")) return ROUTE_OCSP_GET;
    return ROUTE_NONE;
}

static const char *route_allows(enum route rt) { return rt == ROUTE_OCSP_POST ? "POST" : "GET, HEAD"; }

static enum metric_kind route_kind(enum route rt) {
    switch (rt) {
    case ROUTE_METRICS: return MK_METRICS;
    case ROUTE_HEALTHZ: return MK_HEALTHZ;
    case ROUTE_CA_CERT: return MK_CA_CERT;
    case ROUTE_CRL: return MK_CRL;
    case ROUTE_OCSP_POST: return MK_OCSP_POST;
    case ROUTE_OCSP_GET: return MK_OCSP_GET;
    case ROUTE_NONE: break;
    }
    return MK_OTHER;
}

/* What /metrics counts a request as: its resource's kind, or "other" for
 * a method none of them takes. */
static enum metric_kind method_kind(const struct http_request *r, enum route rt) {
    if (r->method == HTTP_METHOD_OTHER || r->method == HTTP_METHOD_UNKNOWN) return MK_OTHER;
    return route_kind(rt);
}

/* The status r is refused with before its body is looked at (501 for a
 * method we do not know, 404, 405), or 0 when it is answered. Also what a
 * request that expects 100-continue is told at once. */
static int refusal(const struct conn *c, const struct http_request *r, enum route *out_rt) {
    *out_rt = route_of(c, r);
    if (r->method == HTTP_METHOD_UNKNOWN) return 501; /* RFC 9110 9.1 */
    if (*out_rt == ROUTE_NONE) return 404;
    int get = r->method == HTTP_METHOD_GET || r->method == HTTP_METHOD_HEAD;
    if (*out_rt == ROUTE_OCSP_POST ? r->method != HTTP_METHOD_POST : !get) return 405;
    return 0;
}

/* Answers a refusal (refusal's status): 405 with its Allow. */
static void answer_refusal(struct conn *c, int status, enum route rt, int keep_alive) {
    if (status == 405)
        emit(c, httpout_not_allowed(c->out + c->out_len, OUT_CAP - c->out_len, route_allows(rt), now_s(), keep_alive));
    else
        answer_status(c, status, keep_alive);
}

static void handle(struct conn *c, const struct http_request *r) {
    /* The generation is read once per request; it stays valid for this
     * callback (server_publish waits for a tick before freeing). */
    const struct gen *g = atomic_load_explicit(&c->sh->srv->current, memory_order_acquire);
    int head_only = r->method == HTTP_METHOD_HEAD;
    bump(&c->sh->requests);
    enum route rt;
    int refused = refusal(c, r, &rt);
    c->kind = method_kind(r, rt);
    if (refused != 0) return answer_refusal(c, refused, rt, r->keep_alive);
    switch (rt) {
    case ROUTE_METRICS:
        return answer_metrics(c, r);
    case ROUTE_HEALTHZ: {
        static const uint8_t ok[] = "ok\n";
        emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "text/plain", ok, 3, now_s(),
                                 r->keep_alive, head_only));
        return;
    }
    case ROUTE_CA_CERT: {
        const struct gen_ca *ca = gen_find_name(g, r->target + 4, r->target_len - 8);
        if (ca == NULL) return answer_status(c, 404, r->keep_alive);
        size_t cert_len;
        const uint8_t *cert = gen_ca_cert(ca, &cert_len);
        emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "application/pkix-cert", cert,
                                 cert_len, now_s(), r->keep_alive, head_only));
        return;
    }
    case ROUTE_CRL:
        return answer_crl(c, g, r);
    case ROUTE_OCSP_POST:
        return answer_ocsp(c, g, r->body, r->body_len, r);
    case ROUTE_OCSP_GET: {
        uint8_t der[OCSP_REQ_MAX_BYTES];
        size_t len;
        const char *q = memchr(r->target, '?', r->target_len);
        size_t plen = (q ? (size_t)(q - r->target) : r->target_len) - 6;
        if (!getpath_decode(r->target + 6, plen, der, sizeof(der), &len)) {
            bump(&c->sh->bad_requests);
            metrics_add(&c->sh->m.hostile[MH_BAD_DER], 1);
            answer_ocsp_error(c, OCSP_MALFORMED_REQUEST, r->keep_alive, head_only);
            return;
        }
        return answer_ocsp(c, g, der, len, r);
    }
    case ROUTE_NONE:
        break;
    }
    answer_status(c, 404, r->keep_alive);
}

/* ---- connections ---- */

_Noreturn void shard_fatal(struct shard *sh, const char *what, int err) {
    rlog(LOG_ERR, "shard.fatal", "shard %d: %s: %s; stopping the server", sh->index, what, strerror(err));
    fflush(stderr);
    _exit(70);
}

/* A request whose head is in and whose body is not, with "Expect:
 * 100-continue": the client waits for a word before it sends the body (RFC
 * 9110 10.1.1). It gets "100 Continue", or at once the final status it
 * would get after the body, and the connection closes (gracefully: what
 * body it sends meanwhile is read and dropped). */
static void expect_continue(struct conn *c, const struct http_request *r) {
    enum route rt;
    int refused = refusal(c, r, &rt);
    if (refused != 0) {
        c->kind = method_kind(r, rt);
        bump(&c->sh->requests);
        answer_refusal(c, refused, rt, 0);
        c->closing = c->linger = 1;
        c->in_len = 0;
        return;
    }
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    memcpy(c->out + c->out_len, cont, sizeof(cont) - 1); /* (room: conn_process's ANSWER_MAX) */
    c->out_len += sizeof(cont) - 1;
    c->continued = 1;
}

void conn_process(struct conn *c) {
    int consumed = 0;
    while (!c->closing && !c->waiting && c->ext == NULL && c->in_len > 0 && OUT_CAP - c->out_len >= ANSWER_MAX) {
        struct http_request r;
        enum http_result res = http_parse(c->in, c->in_len, &r);
        if (res == HTTP_AGAIN) {
            if (r.head_len > 0 && r.expect_continue && !c->continued) expect_continue(c, &r);
            break;
        }
        c->kind = MK_OTHER;
        if (res == HTTP_ERROR) {
            bump(&c->sh->bad_requests);
            int big = r.error_status == 413 || r.error_status == 414 || r.error_status == 431;
            metrics_add(&c->sh->m.hostile[big ? MH_OVERSIZED : MH_BAD_HTTP], 1);
            answer_status(c, r.error_status, 0);
            /* What the client sent past what we read is read and dropped
             * before the close, or the close would reset the connection
             * and the client might lose the status (RFC 9112 9.6). */
            c->closing = c->linger = 1;
            c->in_len = 0;
            break;
        }
        if (r.chunked != NULL) { /* in place: the framing is consumed with the request */
            uint8_t *b = c->in + (r.chunked - c->in);
            r.body_len = http_chunked_decode(b, r.chunked_len, b);
            r.body = r.body_len > 0 ? b : NULL;
        }
        c->t0_ns = now_ns();
        c->answered++;
        handle(c, &r);
        if (!c->waiting) metrics_observe(&c->sh->m.latency, MHK_LATENCY_NS, now_ns() - c->t0_ns);
        /* Waiting for the lane, the connection closes after its answer. */
        if (!r.keep_alive && !c->waiting) c->closing = 1;
        memmove(c->in, c->in + r.consumed, c->in_len - r.consumed);
        c->in_len -= r.consumed;
        c->continued = 0;
        consumed = 1;
    }
    /* The read timeout runs from the first byte of an unfinished request. */
    if (c->in_len == 0) c->partial_since = 0;
    else if (consumed || c->partial_since == 0) c->partial_since = c->last_active;
}

int shard_linger_start(struct conn *c) {
    if (shutdown(c->fd, SHUT_WR) != 0) return 0;
    c->lingering = 1;
    c->linger_until = now_s() + SHARD_LINGER_S;
    c->linger_bytes = 0;
    c->in_len = 0;
    c->partial_since = 0;
    return 1;
}

int shard_linger_more(struct conn *c, size_t n) {
    c->linger_bytes += n;
    return c->linger_bytes <= SHARD_LINGER_BYTES;
}

void shard_sweep(struct shard *sh, void (*close_fn)(struct conn *c)) {
    int64_t now = now_s();
    int read_timeout = live_int(&sh->srv->live_read_timeout), idle_timeout = live_int(&sh->srv->live_idle_timeout);
    for (struct conn *c = sh->all_conns; c != NULL; c = c->next_all) {
        if (c->fd < 0 || c->dead || c->waiting) continue;
        if (c->lingering) {
            if (now >= c->linger_until) close_fn(c);
            continue;
        }
        if (c->partial_since != 0 && now - c->partial_since >= read_timeout) {
            metrics_add(&sh->m.hostile[MH_READ_TIMEOUT], 1);
            close_fn(c);
        } else if (now - c->last_active >= idle_timeout) {
            metrics_add(&sh->m.idle_closed, 1);
            close_fn(c);
        }
    }
}

/* A connection that has asked nothing yet may have its first request on
 * the way (it connected just before the drain): it has this long. */
#define DRAIN_GRACE_S 2

int shard_drain_tick(struct shard *sh, void (*close_fn)(struct conn *c)) {
    if (!atomic_load_explicit(&sh->srv->draining, memory_order_acquire)) return 0;
    int64_t now = now_s();
    for (struct conn *c = sh->all_conns; c != NULL; c = c->next_all) {
        if (c->fd < 0 || c->dead || c->waiting || c->in_len > 0 || c->out_len > 0 || c->ext != NULL) continue;
        if (c->answered == 0 && now - c->last_active < DRAIN_GRACE_S) continue;
        close_fn(c);
    }
    if (sh->drain_seen) return 0;
    sh->drain_seen = 1;
    return 1;
}

void shard_accept_rest(struct shard *sh, int sock_flags, void (*start)(struct shard *sh, struct conn *c)) {
    /* The listener is non-blocking (listen_socket): this ends at an empty queue. */
    for (int i = 0; i < SERVER_MAX_CONNS_PER_SHARD; i++) {
        int fd = accept4(sh->listen_fd, NULL, NULL, sock_flags);
        if (fd < 0 && (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)) continue; /* that one only */
        if (fd < 0) return; /* the queue is empty (EAGAIN), or no descriptor is left */
        struct conn *c = shard_conn_take(sh, fd);
        if (c != NULL) start(sh, c);
    }
}

static void kick(struct conn *c) {
    if (c->sh->srv->uring) uring_kick(c);
    else ev_kick(c);
}

/* At the cap, an idle connection (nothing received, nothing to send, no
 * lane job) makes room: a flood of idle connections cannot keep new
 * clients out. Closing may finish later (io_uring): a little slack past the
 * cap covers those. */
#define CONN_SLACK 256

static void silent_unlink(struct conn *c) {
    if (!c->silent) return;
    struct shard *sh = c->sh;
    if (c->silent_prev != NULL) c->silent_prev->silent_next = c->silent_next;
    else sh->silent_head = c->silent_next;
    if (c->silent_next != NULL) c->silent_next->silent_prev = c->silent_prev;
    else sh->silent_tail = c->silent_prev;
    c->silent_prev = c->silent_next = NULL;
    c->silent = 0;
}

static void silent_append(struct conn *c) {
    struct shard *sh = c->sh;
    c->silent_next = NULL;
    c->silent_prev = sh->silent_tail;
    if (sh->silent_tail != NULL) sh->silent_tail->silent_next = c;
    else sh->silent_head = c;
    sh->silent_tail = c;
    c->silent = 1;
}

void shard_conn_heard(struct conn *c, size_t n) {
    c->in_len += n;
    c->last_active = now_s();
    silent_unlink(c);
}

static int idle(const struct conn *c) {
    return c->fd >= 0 && !c->dead && !c->waiting && c->in_len == 0 && c->out_len == 0 && c->ext == NULL;
}

/* The victim: the oldest connection that has sent nothing (the silent
 * list's head: a client's fresh connection is the newest, it goes last),
 * else the idle one that was active the longest ago, then the oldest. The
 * first is O(1), so a flood of silent connections costs no scan of the
 * others; the second scans, at most once a second when it finds none. */
static struct conn *victim_of(struct shard *sh) {
    while (sh->silent_head != NULL) {
        struct conn *c = sh->silent_head;
        silent_unlink(c);
        if (idle(c)) return c;
    }
    int64_t now = now_s();
    if (now < sh->no_victim_until) return NULL;
    struct conn *victim = NULL;
    for (struct conn *c = sh->all_conns; c != NULL; c = c->next_all)
        if (idle(c) && (victim == NULL || c->last_active < victim->last_active ||
                        (c->last_active == victim->last_active && c->id < victim->id)))
            victim = c;
    if (victim == NULL) sh->no_victim_until = now + 1;
    return victim;
}

struct conn *shard_conn_take(struct shard *sh, int fd) {
    /* Descriptors are numbered lowest free first: one past the line means
     * fewer than fd_reserve are left to the control socket, the index and
     * the CRL files. The newcomer is closed at once (an eviction's close
     * may finish later, under io_uring, and would not free its descriptor
     * in time), and an idle connection, if there is one, makes room for the
     * next. */
    if ((long)fd >= sh->srv->fd_line) {
        struct conn *victim = sh->evict != NULL ? victim_of(sh) : NULL;
        if (victim != NULL) {
            sh->evict(victim);
            metrics_add(&sh->m.hostile[MH_CONN_EVICTED], 1);
        }
        bump(&sh->refused_conns);
        metrics_add(&sh->m.hostile[MH_CONN_REFUSED], 1);
        close(fd);
        return NULL;
    }
    if (sh->num_conns >= SERVER_MAX_CONNS_PER_SHARD) {
        struct conn *victim =
            sh->evict != NULL && sh->num_conns < SERVER_MAX_CONNS_PER_SHARD + CONN_SLACK ? victim_of(sh) : NULL;
        if (victim != NULL) {
            sh->evict(victim);
            metrics_add(&sh->m.hostile[MH_CONN_EVICTED], 1);
        } else {
            bump(&sh->refused_conns);
            metrics_add(&sh->m.hostile[MH_CONN_REFUSED], 1);
            close(fd);
            return NULL;
        }
    }
    struct conn *c = sh->free_conns; /* (TCP_NODELAY comes from the listener) */
    if (c != NULL) {
        sh->free_conns = c->next_free;
    } else {
        /* Warm-up: connections come from the pool after their first use. */
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            return NULL;
        }
        c->sh = sh;
        c->next_all = sh->all_conns;
        sh->all_conns = c;
    }
    c->fd = fd;
    c->ext = NULL;
    c->ext_off = 0;
    c->id = ++sh->next_conn_id;
    c->answered = 0;
    c->in_len = c->out_len = c->out_off = 0;
    c->closing = c->waiting = 0;
    c->continued = c->linger = c->lingering = 0;
    c->linger_bytes = 0;
    c->recv_busy = c->send_busy = c->dead = 0;
    c->last_active = now_s();
    c->partial_since = 0;
    silent_append(c);
    sh->num_conns++;
    metrics_add(&sh->m.conns_accepted, 1);
    atomic_store_explicit(&sh->m.conns_open, sh->num_conns, memory_order_relaxed);
    return c;
}

void shard_conn_put(struct conn *c) {
    struct shard *sh = c->sh;
    silent_unlink(c);
    conn_drop_ext(c);
    c->fd = -1;
    sh->num_conns--;
    atomic_store_explicit(&sh->m.conns_open, sh->num_conns, memory_order_relaxed);
    c->next_free = sh->free_conns;
    sh->free_conns = c;
}

/* ---- the signing lane's answers ---- */

void server_job_done(void *arg, struct ocsp_job *job) {
    struct server *s = arg;
    struct shard *sh = &s->shards[job->shard];
    /* The ring holds the whole pool: it cannot be full. */
    spsc_push(&sh->done, job);
    uint64_t one = 1;
    ssize_t n = write(sh->done_fd, &one, sizeof(one));
    (void)n;
}

void shard_done_drain(struct shard *sh) {
    struct ocsp_job *j;
    while ((j = spsc_pop(&sh->done)) != NULL) {
        struct conn *c = j->conn;
        if (c->fd >= 0 && !c->dead && c->id == j->conn_id && c->waiting) {
            c->waiting = 0;
            int one_off = j->nonce_len > 0 || j->num_certs > 1; /* for this request only: not for caches */
            if (j->status == OCSP_SUCCESSFUL && one_off) /* answer_stored counts the others */
                metrics_add(&sh->m.ocsp_status[OCSP_SUCCESSFUL], 1);
            if (j->status != OCSP_SUCCESSFUL)
                answer_ocsp_error(c, j->status, j->keep_alive, j->head_only);
            else if (one_off)
                emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "application/ocsp-response",
                                         j->resp, j->resp_len, now_s(), j->keep_alive, j->head_only));
            else
                answer_stored(c, j->resp, j->resp_len, j->etag, j->this_update, j->next_update, j->certs[0].serial,
                              j->certs[0].serial_len, NULL, j->keep_alive, j->head_only);
            metrics_observe(&sh->m.latency, MHK_LATENCY_NS, now_ns() - c->t0_ns);
            if (!j->keep_alive) c->closing = 1;
            sh->free_jobs[sh->num_free_jobs++] = j;
            kick(c);
            continue;
        }
        sh->free_jobs[sh->num_free_jobs++] = j; /* the connection went away */
    }
}

/* ---- start, publish, stop ---- */

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len) {
    char host[128];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host)) return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof(*a);
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

static int listen_socket(const struct sockaddr_storage *ss, socklen_t len, struct rerr *e, const char *what) {
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        /* Linux gives accepted connections the listener's TCP_NODELAY: one
         * system call here instead of one per connection. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
        rerr_set(e, "--listen %s: %s", what, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void free_shards(struct server *s) {
    for (int i = 0; i < s->num_shards; i++) {
        struct shard *sh = &s->shards[i];
        /* The ring first: it cancels what is in flight on the connections'
         * buffers. */
        if (s->uring) uring_shard_free(sh);
        while (sh->all_conns != NULL) {
            struct conn *c = sh->all_conns;
            sh->all_conns = c->next_all;
            if (c->fd >= 0) close(c->fd);
            conn_drop_ext(c);
            ev_conn_free(c);
            free(c);
        }
        if (!s->uring) ev_shard_free(sh);
        if (sh->done_fd >= 0) close(sh->done_fd);
        spsc_free(&sh->done);
        free(sh->jobs);
        if (sh->listen_fd >= 0) close(sh->listen_fd);
    }
    free(s->shards);
}

struct server *server_start(const struct server_config *cfg, struct gen *g, struct rerr *e) {
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!parse_listen(cfg->listen, &ss, &sl)) {
        rerr_set(e, "--listen '%s': expected ADDRESS:PORT (127.0.0.1:8080, [::1]:8080)", cfg->listen);
        gen_free(g);
        return NULL;
    }
    struct server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rerr_set(e, "out of memory");
        gen_free(g);
        return NULL;
    }
    s->cfg = *cfg;
    struct rlimit rl;
    s->fd_line = LONG_MAX;
    if (cfg->fd_reserve > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)LONG_MAX)
        s->fd_line = (long)rl.rlim_cur - cfg->fd_reserve;
    if (s->cfg.num_metrics_allow == 0) { /* loopback only */
        size_t n;
        char why[128];
        if (!cidr_parse_list("127.0.0.0/8,::1", s->cfg.metrics_allow, CIDR_LIST_MAX, &n, why, sizeof(why))) abort();
        s->cfg.num_metrics_allow = n;
    }
    server_set_live(s, cfg);
    const char *why = NULL;
    s->uring = cfg->io != SERVER_IO_LIBEVENT && uring_probe(&why);
    if (!s->uring && cfg->io == SERVER_IO_URING) {
        rerr_set(e, "--io uring: io_uring is unavailable here (%s)", why);
        free(s);
        gen_free(g);
        return NULL;
    }
    if (!s->uring && cfg->io == SERVER_IO_AUTO)
        rlog(LOG_WARN, "shard.no_io_uring", "io_uring is unavailable here (%s): the shards run on libevent", why);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->num_shards = cfg->threads > 0 ? cfg->threads : (int)(cores > 0 ? cores : 1);
    s->shards = calloc((size_t)s->num_shards, sizeof(struct shard));
    if (s->shards == NULL) {
        rerr_set(e, "out of memory");
        free(s);
        gen_free(g);
        return NULL;
    }
    atomic_store(&s->current, g);
    int ok = 1;
    for (int i = 0; i < s->num_shards; i++) {
        struct shard *sh = &s->shards[i];
        sh->srv = s;
        sh->index = i;
        sh->listen_fd = -1;
        sh->done_fd = -1;
    }
    for (int i = 0; i < s->num_shards && ok; i++) {
        struct shard *sh = &s->shards[i];
        sh->listen_fd = listen_socket(&ss, sl, e, cfg->listen);
        if (sh->listen_fd < 0) {
            ok = 0;
            break;
        }
        sh->jobs = calloc(SERVER_LANE_JOBS, sizeof(struct ocsp_job));
        /* io_uring reads it (a non-blocking eventfd may complete a read with
         * -EAGAIN on some kernels); libevent reads it when readable. */
        sh->done_fd = eventfd(0, EFD_CLOEXEC | (s->uring ? 0 : EFD_NONBLOCK));
        if (sh->jobs == NULL || sh->done_fd < 0 || !spsc_init(&sh->done, SERVER_LANE_JOBS)) {
            rerr_set(e, "cannot set up a shard: %s", strerror(errno ? errno : ENOMEM));
            ok = 0;
            break;
        }
        for (int k = 0; k < SERVER_LANE_JOBS; k++) sh->free_jobs[k] = &sh->jobs[k];
        sh->num_free_jobs = SERVER_LANE_JOBS;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &sh->refilled);
        sh->tokens = 1e18; /* a full bucket: clamped to the burst on first use */
        ok = s->uring ? uring_shard_init(sh, e) : ev_shard_init(sh, e);
    }
    if (!ok) {
        free_shards(s);
        gen_free(g);
        free(s);
        return NULL;
    }
    for (int i = 0; i < s->num_shards; i++) {
        struct shard *sh = &s->shards[i];
        int rc = pthread_create(&sh->thread, NULL, s->uring ? uring_shard_main : ev_shard_main, sh);
        if (rc != 0) shard_fatal(sh, "cannot start its thread", rc);
        if (cores > 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(i % cores, &set);
            pthread_setaffinity_np(sh->thread, sizeof(set), &set);
        }
    }
    return s;
}

const char *server_io_name(const struct server *s) { return s->uring ? "io_uring" : "libevent"; }

void server_publish(struct server *s, struct gen *g) {
    struct gen *old = atomic_exchange_explicit(&s->current, g, memory_order_acq_rel);
    struct retired *r = malloc(sizeof(*r) + (size_t)s->num_shards * sizeof(uint64_t));
    if (r == NULL) {
        /* Out of memory: wait out the shards here instead. */
        uint64_t seen[1];
        for (int i = 0; i < s->num_shards; i++) {
            seen[0] = atomic_load(&s->shards[i].ticks);
            while (atomic_load(&s->shards[i].ticks) < seen[0] + 2 && !atomic_load(&s->stopping)) {
                struct timespec ts = {0, 5 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        gen_free(old);
        return;
    }
    r->gen = old;
    for (int i = 0; i < s->num_shards; i++) r->seen[i] = atomic_load(&s->shards[i].ticks);
    r->next = s->retired;
    s->retired = r;
    server_reclaim(s);
}

int server_reclaim(struct server *s) {
    int left = 0;
    for (struct retired **p = &s->retired; *p != NULL;) {
        struct retired *r = *p;
        /* Each shard ticks between callbacks: once every shard has ticked
         * twice after the swap, none is inside a callback that loaded the
         * old generation. */
        int done = 1;
        for (int i = 0; i < s->num_shards && done; i++)
            done = atomic_load_explicit(&s->shards[i].ticks, memory_order_acquire) >= r->seen[i] + 2;
        if (!done) {
            left++;
            p = &r->next;
            continue;
        }
        *p = r->next;
        gen_free(r->gen);
        free(r);
    }
    return left;
}

void server_stats(const struct server *s, struct server_stats *out) {
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < s->num_shards; i++) {
        const struct shard *sh = &s->shards[i];
        out->requests += atomic_load_explicit(&sh->requests, memory_order_relaxed);
        out->bad_requests += atomic_load_explicit(&sh->bad_requests, memory_order_relaxed);
        out->refused_conns += atomic_load_explicit(&sh->refused_conns, memory_order_relaxed);
        out->lane_jobs += atomic_load_explicit(&sh->lane_jobs, memory_order_relaxed);
        out->lane_fallbacks += atomic_load_explicit(&sh->lane_fallbacks, memory_order_relaxed);
        out->expired += atomic_load_explicit(&sh->expired, memory_order_relaxed);
    }
}

struct metrics_core *server_core_metrics(struct server *s) { return &s->core_metrics; }

void server_set_live(struct server *s, const struct server_config *cfg) {
    atomic_store_explicit(&s->live_max_age, cfg->max_age < 0 ? 3600 : cfg->max_age, memory_order_relaxed);
    atomic_store_explicit(&s->live_rate, cfg->lane.rate, memory_order_relaxed);
    atomic_store_explicit(&s->live_nonce_echo, cfg->lane.nonce_echo, memory_order_relaxed);
    atomic_store_explicit(&s->live_idle_timeout, cfg->idle_timeout > 0 ? cfg->idle_timeout : SERVER_IDLE_TIMEOUT_S,
                          memory_order_relaxed);
    atomic_store_explicit(&s->live_read_timeout, cfg->read_timeout > 0 ? cfg->read_timeout : SERVER_READ_TIMEOUT_S,
                          memory_order_relaxed);
    atomic_store_explicit(&s->live_no_metrics, cfg->no_metrics, memory_order_relaxed);
}

int server_drain(struct server *s, int timeout_ms) {
    atomic_store_explicit(&s->draining, 1, memory_order_release);
    for (int waited = 0;; waited += 20) {
        uint64_t open = 0;
        for (int i = 0; i < s->num_shards; i++)
            open += atomic_load_explicit(&s->shards[i].m.conns_open, memory_order_relaxed);
        if (open == 0 || waited >= timeout_ms) return (int)open;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void server_stop(struct server *s) {
    if (s == NULL) return;
    atomic_store(&s->stopping, 1);
    /* Wake every loop now rather than at its next tick: a libevent loop
     * sleeps on a timer whose clock can jump (a clock stepped back under
     * libfaketime left one asleep for a day). */
    for (int i = 0; i < s->num_shards; i++) {
        uint64_t one = 1;
        ssize_t n = write(s->shards[i].done_fd, &one, sizeof(one));
        (void)n;
    }
    for (int i = 0; i < s->num_shards; i++) pthread_join(s->shards[i].thread, NULL);
    free_shards(s); /* closes the connections still open */
    while (s->retired != NULL) {
        struct retired *r = s->retired;
        s->retired = r->next;
        gen_free(r->gen);
        free(r);
    }
    gen_free(atomic_load(&s->current));
    free(s);
}
