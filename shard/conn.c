/* conn: the shard core (shard/conn.h): connections, their requests parsed,
 * routed (the built-in /metrics and /healthz, then the registered routes)
 * and answered, the pool and its caps, lingering closes, the sweep and the
 * drain. */
#include "shard/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "shard/backend.h"
#include "shard/httpout.h"

int conn_iov(struct shard_conn *c) {
    int n = 0;
    if (c->out_len > c->out_off) c->iov[n++] = (struct iovec){c->out + c->out_off, c->out_len - c->out_off};
    if (c->ext != NULL && c->ext_off < c->ext_len)
        c->iov[n++] = (struct iovec){(void *)(uintptr_t)(c->ext + c->ext_off), c->ext_len - c->ext_off};
    memset(&c->msg, 0, sizeof(c->msg));
    c->msg.msg_iov = c->iov;
    c->msg.msg_iovlen = (size_t)n;
    return n;
}

int conn_sent(struct shard_conn *c, size_t n) {
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
        if (c->ext_off >= c->ext_len) conn_drop_ext(c);
    }
    return c->out_len == 0 && c->ext == NULL;
}

void conn_drop_ext(struct shard_conn *c) {
    if (c->ext != NULL && c->ext_put != NULL) c->ext_put(c->ext_ref);
    c->ext = NULL;
    c->ext_len = c->ext_off = 0;
    c->ext_put = NULL;
    c->ext_ref = NULL;
}

/* ---- answers ---- */

void conn_emit(struct shard_conn *c, size_t n) {
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

void conn_status(struct shard_conn *c, int status, int keep_alive) {
    conn_emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, status, NULL, NULL, 0, now_s(),
                                   keep_alive, 0));
}

/* ---- routes ---- */

/* GET /metrics: every shard's counters summed, with the CA-core's. */
static void answer_metrics(struct shard_conn *c, const struct http_request *r) {
    struct server *s = c->sh->srv;
    const struct shard_metrics *ms[256];
    int n = s->num_shards < 256 ? s->num_shards : 256;
    for (int i = 0; i < n; i++) ms[i] = &s->shards[i].m;
    static _Thread_local char text[ANSWER_MAX - 512];
    size_t len = metrics_render(ms, n, &s->core_metrics, text, sizeof(text));
    if (len == 0) return conn_status(c, 500, r->keep_alive);
    conn_emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, 200, "text/plain; version=0.0.4",
                                   (const uint8_t *)text, len, now_s(), r->keep_alive, r->method == HTTP_METHOD_HEAD));
}

static int target_is(const struct http_request *r, const char *s, size_t n) {
    return r->target_len == n && memcmp(r->target, s, n) == 0;
}

/* What a request is routed to: a registered route's index, or one of these. */
enum { RT_NONE = -1, RT_METRICS = -2, RT_HEALTHZ = -3 };

/* Whether the peer of c may read /metrics (metrics-allow): a system call,
 * on /metrics requests only. */
static int metrics_allowed(const struct shard_conn *c) {
    const struct server_config *cfg = &c->sh->srv->cfg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) != 0) return 0;
    return cidr_match(cfg->metrics_allow, cfg->num_metrics_allow, (const struct sockaddr *)&ss, sl);
}

static int route_matches(const struct server *s, size_t i, const struct http_request *r) {
    const struct shard_route *rt = &s->cfg.routes[i];
    size_t n = s->path_len[i], k = s->suffix_len[i];
    if (rt->match == SHARD_MATCH_EXACT) return target_is(r, rt->path, n);
    if (r->target_len < n || memcmp(r->target, rt->path, n) != 0) return 0;
    return rt->suffix == NULL ||
           (r->target_len > n + k && memcmp(r->target + r->target_len - k, rt->suffix, k) == 0);
}

static int route_of(const struct shard_conn *c, const struct http_request *r) {
    const struct server *s = c->sh->srv;
    if (target_is(r, "/metrics", 8) && !live_int(&s->live_no_metrics) && metrics_allowed(c)) return RT_METRICS;
    if (target_is(r, "/healthz", 8)) return RT_HEALTHZ;
    for (size_t i = 0; i < s->cfg.num_routes; i++)
        if (route_matches(s, i, r)) return (int)i;
    return RT_NONE;
}

static unsigned route_methods(const struct server *s, int rt) {
    return rt >= 0 ? s->cfg.routes[rt].methods : SHARD_GET | SHARD_HEAD;
}

/* The Allow header of a 405 (RFC 9110 15.5.6): the methods the resource takes. */
static const char *route_allows(unsigned m) {
    static const char *const allow[8] = {"", "GET", "HEAD", "GET, HEAD", "POST", "GET, POST", "HEAD, POST",
                                         "GET, HEAD, POST"};
    return allow[m & 7];
}

static unsigned method_bit(enum http_method m) {
    switch (m) {
    case HTTP_METHOD_GET: return SHARD_GET;
    case HTTP_METHOD_HEAD: return SHARD_HEAD;
    case HTTP_METHOD_POST: return SHARD_POST;
    case HTTP_METHOD_OTHER:
    case HTTP_METHOD_UNKNOWN: break;
    }
    return 0;
}

/* What /metrics counts a request as: its resource's kind, or "other" for
 * a method none of them takes. */
static enum metric_kind method_kind(const struct server *s, const struct http_request *r, int rt) {
    if (r->method == HTTP_METHOD_OTHER || r->method == HTTP_METHOD_UNKNOWN) return MK_OTHER;
    switch (rt) {
    case RT_NONE: return MK_OTHER;
    case RT_METRICS: return MK_METRICS;
    case RT_HEALTHZ: return MK_HEALTHZ;
    }
    return s->cfg.routes[rt].kind;
}

/* The status r is refused with before its body is looked at (501 for a
 * method we do not know, 404, 405), or 0 when it is answered. Also what a
 * request that expects 100-continue is told at once. */
static int refusal(const struct shard_conn *c, const struct http_request *r, int *out_rt) {
    *out_rt = route_of(c, r);
    if (r->method == HTTP_METHOD_UNKNOWN) return 501; /* RFC 9110 9.1 */
    if (*out_rt == RT_NONE) return 404;
    if ((method_bit(r->method) & route_methods(c->sh->srv, *out_rt)) == 0) return 405;
    return 0;
}

/* Answers a refusal (refusal's status): 405 with its Allow. */
static void answer_refusal(struct shard_conn *c, int status, int rt, int keep_alive) {
    if (status == 405)
        conn_emit(c, httpout_not_allowed(c->out + c->out_len, OUT_CAP - c->out_len,
                                          route_allows(route_methods(c->sh->srv, rt)), now_s(), keep_alive));
    else
        conn_status(c, status, keep_alive);
}

static void handle(struct shard_conn *c, const struct http_request *r) {
    struct shard *sh = c->sh;
    bump(&sh->requests);
    int rt;
    int refused = refusal(c, r, &rt);
    c->kind = method_kind(sh->srv, r, rt);
    if (refused != 0) return answer_refusal(c, refused, rt, r->keep_alive);
    if (rt == RT_METRICS) return answer_metrics(c, r);
    if (rt == RT_HEALTHZ) {
        static const uint8_t ok[] = "ok\n";
        const char *why = atomic_load_explicit(&sh->srv->unhealthy, memory_order_acquire);
        conn_emit(c, httpout_uncached(c->out + c->out_len, OUT_CAP - c->out_len, why ? 503 : 200, "text/plain",
                                       why ? (const uint8_t *)why : ok, why ? strlen(why) : 3, now_s(), r->keep_alive,
                                       r->method == HTTP_METHOD_HEAD));
        return;
    }
    sh->srv->cfg.routes[rt].handle(c, r, sh->ctx[rt]);
}

void shard_woken(struct shard *sh) {
    const struct server *s = sh->srv;
    for (int i = 0; i < s->num_wakes; i++) s->cfg.routes[s->wakes[i]].wake(sh->ctx[s->wakes[i]]);
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
/* A request whose head is in and whose body is not, with "Expect:
 * 100-continue": the client waits for a word before it sends the body (RFC
 * 9110 10.1.1). It gets "100 Continue", or at once the final status it
 * would get after the body, and the connection closes (gracefully: what
 * body it sends meanwhile is read and dropped). */
static void expect_continue(struct shard_conn *c, const struct http_request *r) {
    int rt;
    int refused = refusal(c, r, &rt);
    if (refused != 0) {
        c->kind = method_kind(c->sh->srv, r, rt);
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

void conn_process(struct shard_conn *c) {
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
            conn_status(c, r.error_status, 0);
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
        /* Waiting (shard_wait), it closes after its answer (shard_resumed). */
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

int shard_linger_start(struct shard_conn *c) {
    if (shutdown(c->fd, SHUT_WR) != 0) return 0;
    c->lingering = 1;
    c->linger_until = now_s() + SHARD_LINGER_S;
    c->linger_bytes = 0;
    c->in_len = 0;
    c->partial_since = 0;
    return 1;
}

int shard_linger_more(struct shard_conn *c, size_t n) {
    c->linger_bytes += n;
    return c->linger_bytes <= SHARD_LINGER_BYTES;
}

void shard_sweep(struct shard *sh) {
    void (*close_fn)(struct shard_conn *c) = sh->srv->be->close;
    int64_t now = now_s();
    int read_timeout = live_int(&sh->srv->live_read_timeout), idle_timeout = live_int(&sh->srv->live_idle_timeout);
    for (struct shard_conn *c = sh->all_conns; c != NULL; c = c->next_all) {
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

int shard_drain_tick(struct shard *sh) {
    if (!atomic_load_explicit(&sh->srv->draining, memory_order_acquire)) return 0;
    int64_t now = now_s();
    for (struct shard_conn *c = sh->all_conns; c != NULL; c = c->next_all) {
        if (c->fd < 0 || c->dead || c->waiting || c->in_len > 0 || c->out_len > 0 || c->ext != NULL) continue;
        if (c->answered == 0 && now - c->last_active < DRAIN_GRACE_S) continue;
        sh->srv->be->close(c);
    }
    if (sh->drain_seen) return 0;
    sh->drain_seen = 1;
    return 1;
}

void shard_accept_rest(struct shard *sh, int sock_flags, void (*start)(struct shard *sh, struct shard_conn *c)) {
    /* The listener is non-blocking (listen_socket): this ends at an empty queue. */
    for (int i = 0; i < SERVER_MAX_CONNS_PER_SHARD; i++) {
        int fd = accept4(sh->listen_fd, NULL, NULL, sock_flags);
        if (fd < 0 && (errno == ECONNABORTED || errno == EINTR || errno == EPROTO)) continue; /* that one only */
        if (fd < 0) return; /* the queue is empty (EAGAIN), or no descriptor is left */
        struct shard_conn *c = shard_conn_take(sh, fd);
        if (c != NULL) start(sh, c);
    }
}


/* At the cap, an idle connection (nothing received, nothing to send, no
 * lane job) makes room: a flood of idle connections cannot keep new
 * clients out. Closing may finish later (io_uring): a little slack past the
 * cap covers those. */
#define CONN_SLACK 256

static void silent_unlink(struct shard_conn *c) {
    if (!c->silent) return;
    struct shard *sh = c->sh;
    if (c->silent_prev != NULL) c->silent_prev->silent_next = c->silent_next;
    else sh->silent_head = c->silent_next;
    if (c->silent_next != NULL) c->silent_next->silent_prev = c->silent_prev;
    else sh->silent_tail = c->silent_prev;
    c->silent_prev = c->silent_next = NULL;
    c->silent = 0;
}

static void silent_append(struct shard_conn *c) {
    struct shard *sh = c->sh;
    c->silent_next = NULL;
    c->silent_prev = sh->silent_tail;
    if (sh->silent_tail != NULL) sh->silent_tail->silent_next = c;
    else sh->silent_head = c;
    sh->silent_tail = c;
    c->silent = 1;
}

void shard_conn_heard(struct shard_conn *c, size_t n) {
    c->in_len += n;
    c->last_active = now_s();
    silent_unlink(c);
}

static int idle(const struct shard_conn *c) {
    return c->fd >= 0 && !c->dead && !c->waiting && c->in_len == 0 && c->out_len == 0 && c->ext == NULL;
}

/* The victim: the oldest connection that has sent nothing (the silent
 * list's head: a client's fresh connection is the newest, it goes last),
 * else the idle one that was active the longest ago, then the oldest. The
 * first is O(1), so a flood of silent connections costs no scan of the
 * others; the second scans, at most once a second when it finds none. */
static struct shard_conn *victim_of(struct shard *sh) {
    while (sh->silent_head != NULL) {
        struct shard_conn *c = sh->silent_head;
        silent_unlink(c);
        if (idle(c)) return c;
    }
    int64_t now = now_s();
    if (now < sh->no_victim_until) return NULL;
    struct shard_conn *victim = NULL;
    for (struct shard_conn *c = sh->all_conns; c != NULL; c = c->next_all)
        if (idle(c) && (victim == NULL || c->last_active < victim->last_active ||
                        (c->last_active == victim->last_active && c->id < victim->id)))
            victim = c;
    if (victim == NULL) sh->no_victim_until = now + 1;
    return victim;
}

struct shard_conn *shard_conn_take(struct shard *sh, int fd) {
    /* Descriptors are numbered lowest free first: one past the line means
     * fewer than fd_reserve are left to the control socket, the index and
     * the CRL files. The newcomer is closed at once (an eviction's close
     * may finish later, under io_uring, and would not free its descriptor
     * in time), and an idle connection, if there is one, makes room for the
     * next. */
    if ((long)fd >= sh->srv->fd_line) {
        struct shard_conn *victim = victim_of(sh);
        if (victim != NULL) {
            sh->srv->be->close(victim);
            metrics_add(&sh->m.hostile[MH_CONN_EVICTED], 1);
        }
        bump(&sh->refused_conns);
        metrics_add(&sh->m.hostile[MH_CONN_REFUSED], 1);
        close(fd);
        return NULL;
    }
    if (sh->num_conns >= SERVER_MAX_CONNS_PER_SHARD) {
        struct shard_conn *victim =
            sh->num_conns < SERVER_MAX_CONNS_PER_SHARD + CONN_SLACK ? victim_of(sh) : NULL;
        if (victim != NULL) {
            sh->srv->be->close(victim);
            metrics_add(&sh->m.hostile[MH_CONN_EVICTED], 1);
        } else {
            bump(&sh->refused_conns);
            metrics_add(&sh->m.hostile[MH_CONN_REFUSED], 1);
            close(fd);
            return NULL;
        }
    }
    struct shard_conn *c = sh->free_conns; /* (TCP_NODELAY comes from the listener) */
    if (c != NULL) {
        sh->free_conns = c->next_free;
    } else {
        /* Warm-up: connections come from the pool after their first use. */
        c = sh->srv->be->conn_new(sh);
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
    c->ext_len = c->ext_off = 0;
    c->ext_put = NULL;
    c->ext_ref = NULL;
    c->id = ++sh->next_conn_id;
    c->answered = 0;
    c->in_len = c->out_len = c->out_off = 0;
    c->closing = c->waiting = 0;
    c->continued = c->linger = c->lingering = 0;
    c->linger_bytes = 0;
    c->dead = 0;
    c->last_active = now_s();
    c->partial_since = 0;
    silent_append(c);
    sh->num_conns++;
    metrics_add(&sh->m.conns_accepted, 1);
    atomic_store_explicit(&sh->m.conns_open, sh->num_conns, memory_order_relaxed);
    return c;
}

void shard_conn_put(struct shard_conn *c) {
    struct shard *sh = c->sh;
    silent_unlink(c);
    conn_drop_ext(c);
    c->fd = -1;
    sh->num_conns--;
    atomic_store_explicit(&sh->m.conns_open, sh->num_conns, memory_order_relaxed);
    c->next_free = sh->free_conns;
    sh->free_conns = c;
}

