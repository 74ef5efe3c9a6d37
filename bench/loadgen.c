/* loadgen: a standalone HTTP/1.1 load generator for revd benchmarks.
 *
 *   loadgen --url http://127.0.0.1:PORT/PATH [--requests FILE] [--method GET|POST|mix]
 *           [--connections N] [--threads T] [--duration SECONDS | --count N] [--close]
 *           [--pipeline D] [--rate R] [--zipf S] [--serials N] [--json]
 *
 * Needs nothing beyond libc and libm (build: make loadgen). Each thread owns
 * its share of the connections and one epoll loop (edge-triggered); threads
 * share nothing until the end, when their counters and latency histograms are
 * merged. Requests are formatted once at start; a connection keeps a ring of
 * its in-flight requests (pointers into those buffers) and one read buffer, so
 * the steady state allocates nothing and costs one read and one sendmsg per
 * batch of responses.
 *
 * Closed loop (default): each connection keeps --pipeline requests in flight
 * and sends the next as soon as an answer arrives; latency is the service time
 * from send to the last byte of the response.
 * Open loop (--rate R): connection c of N sends its k-th request at
 * t0 + (k*N + c)/R; a request that cannot go out on time (the connection is
 * waiting on earlier answers, or reconnecting) waits, and its latency still
 * counts from the scheduled time, so a stalled server shows in the
 * percentiles instead of slowing the generator (no coordinated omission).
 *
 * The response reader is strict HTTP/1.1: status line, CRLF-terminated
 * header lines with token names, no obs-fold, no Transfer-Encoding (chunked
 * answers count as protocol errors), Content-Length required on a 200; 204 and
 * 304 carry no body; any other status without Content-Length is read until
 * the server closes.
 *
 * --serials N (bench/scale.sh): the requests name certificates across a
 * whole CA instead of the file's few lines. The file holds one request, a
 * template whose CertID serial is 16 octets and last (bench/mkreqs.py
 * writes one for `bench/scalegen serial 0`); each request sent is the
 * template with serial(i) of bench/scale.h, i drawn uniformly over
 * [0, N), or with --zipf S the popularity rank drawn Zipf(S) over N ranks
 * (rejection-inversion: no table) and mapped to i by a fixed pseudo-random
 * permutation. Each is formatted into its ring slot's own buffer when it
 * is queued (base64 and percent-encoding: well under a microsecond). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bench/scale.h"

#define NS_PER_S 1000000000ull
#define RBUF_CAP (16u * 1024)       /* per connection: a response head must fit (cap on header size) */
#define SCRATCH_CAP (256u * 1024)   /* per thread: large bodies are read here and dropped */
#define MAX_PIPELINE 1024u
#define MAX_CONNECTIONS 1000000u
#define MAX_THREADS 1024u
#define MAX_EVENTS 256
#define IOV_BATCH 64
#define REQ_TIMEOUT_NS (10 * NS_PER_S)  /* per request, and per connect */
#define CLOSE_WAIT_NS (1 * NS_PER_S)    /* how long to wait for the server's FIN after "Connection: close" */
#define RETRY_NS (10 * 1000000ull)      /* pause before reconnecting after a failed connect */
#define TICK_NS (10 * 1000000ull)       /* timeouts and retries are checked this often */
#define MAX_CONTENT_LENGTH (1ull << 50)
#define TIMER_IDX UINT32_MAX

/* Latency histogram, in microseconds: exact below 1024 us, then 128 buckets
 * per power of two (relative width 1/128 < 1%) up to 2^26 us (67 s); larger
 * values land in the last bucket (the exact maximum is kept aside). */
#define HIST_LINEAR 1024u
#define HIST_SUB_BITS 7u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_TOP_EXP 26u
#define HIST_BUCKETS (HIST_LINEAR + (HIST_TOP_EXP - 10u) * HIST_SUB)

enum method { M_GET = 0, M_POST = 1, M_MIX = 2 };

static struct config {
    const char *url, *requests_file;
    enum method method;
    uint32_t connections, threads, pipeline;
    double duration_s, rate, zipf;
    uint64_t count;   /* 0: run for duration_s */
    uint64_t serials; /* --serials N (0: the file's requests as they are) */
    int close_mode, json;
    /* Derived from the URL. */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char authority[512]; /* the Host header */
    char path[4096];
} cfg = {.method = M_GET, .connections = 50, .threads = 1, .pipeline = 1, .duration_s = 5.0};

/* The preformatted requests: req_off/req_len[method][i] index the arena. */
static struct reqset {
    uint8_t *arena;
    size_t arena_len, arena_cap;
    size_t num;
    size_t *off[2];
    uint32_t *len[2];
    double *cdf; /* Zipf cumulative weights; NULL: uniform */
} rs;

/* --serials: the template request and the parts of a GET around it. */
static struct gen {
    uint8_t der[512];
    size_t der_len;
    char head[4200], tail[700]; /* "GET PATH/", " HTTP/1.1 ... \r\n\r\n" */
    size_t head_len, tail_len;
    size_t cap; /* bytes one formatted request may take */
    struct scale_perm perm;
    struct scale_zipf zipf;
} gen;

struct stats {
    uint64_t requests, status[6], body_bytes;
    uint64_t err_connect, err_read, err_timeout, err_proto, unfinished;
    uint64_t lat_max_ns, lat_sum_ns;
    uint64_t hist[HIST_BUCKETS];
};

/* One request in flight on a connection: the bytes to send, the time its
 * latency counts from (scheduled time in open loop), and when it was queued
 * on this socket (for the timeout). */
struct entry {
    const uint8_t *buf;
    uint32_t len;
    uint64_t t_start, t_sent;
};

enum conn_state { S_IDLE, S_CONNECTING, S_OPEN, S_CLOSING };
enum fail_kind { F_CONNECT, F_READ, F_TIMEOUT, F_PROTO };

/* A connection. The ring holds n_inflight entries from head; the last
 * n_unsent of them are not fully written (wr_off bytes of the first are).
 * Read buffer invariant: rpos <= rlen <= RBUF_CAP. */
struct conn {
    int fd;
    enum conn_state state;
    uint32_t idx, gen, gi; /* index in the worker, socket generation, global index */
    struct entry *ring;
    uint32_t head, n_inflight, n_unsent;
    size_t wr_off;
    uint8_t *rbuf;
    size_t rpos, rlen, hscan;
    /* Response parser state. */
    int in_body, until_close, resp_close, status;
    uint64_t body_left;
    int sock_done; /* no more requests on this socket (--close) */
    int mix;
    uint8_t *gbuf; /* --serials: depth buffers of gen.cap bytes, one per ring slot */
    uint64_t t_state, retry_at;
    uint64_t k_enq, k_due, quota; /* open loop: requests taken, released by the schedule, allowed */
};

struct worker {
    uint32_t id, nconn, depth;
    pthread_t th;
    int ep;
    struct conn *conns;
    uint8_t *scratch;
    uint64_t rng;
    uint64_t work_left;      /* requests this thread may still start; UINT64_MAX with --duration */
    uint64_t inflight_total; /* entries in all rings */
    uint64_t sched_left;     /* open loop: slots the schedule still has to release */
    uint64_t cur_k;          /* open loop: the next slot is (cur_k, conns[cur_l]) */
    uint32_t cur_l;
    uint64_t t_end;
    struct stats st;
};

static atomic_int g_stop;
static uint64_t g_t0;
static double g_ns_per_req; /* open loop: 1e9 / rate */
static int g_open;
static pthread_barrier_t g_barrier;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "loadgen: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- random numbers: splitmix64, one state per thread, fixed seeds ---- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_double(uint64_t *s) {
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static size_t pick_request(struct worker *w) {
    if (rs.num == 1) return 0;
    double u = rng_double(&w->rng);
    if (rs.cdf == NULL) {
        size_t i = (size_t)(u * (double)rs.num);
        return i < rs.num ? i : rs.num - 1;
    }
    /* Smallest i with cdf[i] > u * total. */
    double x = u * rs.cdf[rs.num - 1];
    size_t lo = 0, hi = rs.num - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rs.cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static double rng_double_v(void *s) { return rng_double(s); }

/* pick_serial: --serials' next certificate index. */
static uint64_t pick_serial(struct worker *w) {
    if (cfg.zipf > 0) return scale_perm_at(&gen.perm, scale_zipf_draw(&gen.zipf, rng_double_v, &w->rng) - 1);
    uint64_t i = (uint64_t)(rng_double(&w->rng) * (double)cfg.serials);
    return i < cfg.serials ? i : cfg.serials - 1;
}

/* b64_pct writes standard base64 of p with '+', '/' and '=' percent-encoded
 * (as add_request's GET path); returns its length. */
static size_t b64_pct(const uint8_t *p, size_t n, char *out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {a[x >> 18], a[(x >> 12) & 63], i + 1 < n ? a[(x >> 6) & 63] : '=', i + 2 < n ? a[x & 63] : '='};
        for (int k = 0; k < 4; k++) {
            if (q[k] == '+') memcpy(out + o, "%2B", 3), o += 3;
            else if (q[k] == '/') memcpy(out + o, "%2F", 3), o += 3;
            else if (q[k] == '=') memcpy(out + o, "%3D", 3), o += 3;
            else out[o++] = q[k];
        }
    }
    return o;
}

/* gen_request formats the next --serials request (method m) into out
 * (gen.cap bytes); returns its length. */
static uint32_t gen_request(struct worker *w, uint8_t *out, int m) {
    uint64_t i = pick_serial(w);
    if (m == M_POST) {
        uint32_t len = rs.len[M_POST][0];
        memcpy(out, rs.arena + rs.off[M_POST][0], len);
        scale_serial(i, out + len - 16);
        return len;
    }
    uint8_t der[sizeof(gen.der)];
    memcpy(der, gen.der, gen.der_len);
    scale_serial(i, der + gen.der_len - 16);
    size_t o = gen.head_len;
    memcpy(out, gen.head, o);
    o += b64_pct(der, gen.der_len, (char *)out + o);
    memcpy(out + o, gen.tail, gen.tail_len);
    return (uint32_t)(o + gen.tail_len);
}

/* ---- latency histogram ---- */

static uint32_t hist_index(uint64_t us) {
    if (us < HIST_LINEAR) return (uint32_t)us;
    if (us >= (1ull << HIST_TOP_EXP)) return HIST_BUCKETS - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* 10 .. HIST_TOP_EXP-1 */
    uint64_t sub = (us >> (e - HIST_SUB_BITS)) - HIST_SUB;
    return HIST_LINEAR + (e - 10u) * HIST_SUB + (uint32_t)sub;
}

/* hist_top returns the highest value (us) that lands in bucket i. */
static uint64_t hist_top(uint32_t i) {
    if (i < HIST_LINEAR) return i;
    uint32_t k = i - HIST_LINEAR;
    unsigned e = 10u + k / HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + k % HIST_SUB) << (e - HIST_SUB_BITS);
    return lo + (1ull << (e - HIST_SUB_BITS)) - 1;
}

static void hist_record(struct stats *st, uint64_t ns) {
    st->hist[hist_index(ns / 1000)]++;
    st->lat_sum_ns += ns;
    if (ns > st->lat_max_ns) st->lat_max_ns = ns;
}

static uint64_t hist_percentile(const struct stats *st, double q) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) total += st->hist[i];
    if (total == 0) return 0;
    uint64_t want = (uint64_t)ceil(q * (double)total);
    if (want < 1) want = 1;
    uint64_t seen = 0, max_us = st->lat_max_ns / 1000;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += st->hist[i];
        if (seen >= want) {
            uint64_t v = hist_top(i);
            return v < max_us ? v : max_us;
        }
    }
    return max_us;
}

/* ---- strict HTTP/1.1 response head ---- */

struct resp_head {
    int status, has_length, close, keep_alive, http10;
    uint64_t length;
};

/* Byte classes for the response reader, filled by ctype_init at start. */
enum { C_TCHAR = 1, C_VALUE = 2 };
static uint8_t g_ctype[256];

static void ctype_init(void) {
    for (int ch = 0; ch < 256; ch++) {
        int alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (alnum || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL)) g_ctype[ch] |= C_TCHAR;
        /* field-value and reason-phrase: HTAB, SP, VCHAR, obs-text */
        if (ch == '\t' || (ch >= 0x20 && ch != 0x7f)) g_ctype[ch] |= C_VALUE;
    }
}

static int is_tchar(uint8_t ch) {
    return g_ctype[ch] & C_TCHAR;
}

static int name_is(const uint8_t *p, size_t n, const char *name) {
    return n == strlen(name) && strncasecmp((const char *)p, name, n) == 0;
}

/* parse_connection reads a Connection value: comma-separated tokens. */
static int parse_connection(const uint8_t *v, size_t n, struct resp_head *r) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < n && is_tchar(v[i])) i++;
        if (i == s) return i == n;
        if (name_is(v + s, i - s, "close")) r->close = 1;
        if (name_is(v + s, i - s, "keep-alive")) r->keep_alive = 1;
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        if (i < n && v[i] != ',') return 0;
    }
    return 1;
}

/* parse_head parses p[0..len), which ends with the CRLF CRLF that closes the
 * head. Returns 1 and fills out, or 0 if the head is not strict HTTP/1.x. */
static int parse_head(const uint8_t *p, size_t len, struct resp_head *out) {
    memset(out, 0, sizeof(*out));
    /* status-line = HTTP-version SP 3DIGIT SP reason-phrase CRLF */
    if (len < 16 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') return 0;
    out->http10 = p[7] == '0';
    for (int k = 9; k < 12; k++)
        if (p[k] < '0' || p[k] > '9') return 0;
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (out->status < 100 || out->status > 599) return 0;
    size_t i = 12;
    if (p[i] == ' ') {
        for (i++; i < len && p[i] != '\r'; i++)
            if (!(g_ctype[p[i]] & C_VALUE)) return 0;
    }
    if (i + 1 >= len || p[i] != '\r' || p[i + 1] != '\n') return 0;
    i += 2;
    /* *( field-name ":" OWS field-value OWS CRLF ) CRLF */
    for (;;) {
        if (i + 1 >= len) return 0;
        if (p[i] == '\r') return p[i + 1] == '\n' && i + 2 == len;
        size_t ns = i;
        while (i < len && is_tchar(p[i])) i++;
        if (i == ns || i >= len || p[i] != ':') return 0; /* also rejects obs-fold (leading SP/HTAB) */
        size_t nl = i - ns;
        i++;
        while (i < len && (p[i] == ' ' || p[i] == '\t')) i++;
        size_t vs = i;
        for (; i < len && p[i] != '\r'; i++)
            if (!(g_ctype[p[i]] & C_VALUE)) return 0;
        if (i + 1 >= len || p[i + 1] != '\n') return 0;
        size_t ve = i;
        while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
        i += 2;
        const uint8_t *v = p + vs, *name = p + ns;
        size_t vn = ve - vs;
        if (name_is(name, nl, "content-length")) {
            if (vn == 0 || vn > 16) return 0;
            uint64_t x = 0;
            for (size_t k = 0; k < vn; k++) {
                if (v[k] < '0' || v[k] > '9') return 0;
                x = x * 10 + (uint64_t)(v[k] - '0');
            }
            if (x > MAX_CONTENT_LENGTH || (out->has_length && x != out->length)) return 0;
            out->has_length = 1;
            out->length = x;
        } else if (name_is(name, nl, "transfer-encoding")) {
            return 0; /* chunked bodies are not supported */
        } else if (name_is(name, nl, "connection")) {
            if (!parse_connection(v, vn, out)) return 0;
        }
    }
}

/* ---- connections ---- */

static uint64_t time_of(uint64_t k, uint32_t gi) {
    return g_t0 + (uint64_t)(((double)k * (double)cfg.connections + (double)gi) * g_ns_per_req);
}

static void conn_close(struct conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = S_IDLE;
    c->rpos = c->rlen = c->hscan = 0;
    c->in_body = c->until_close = c->resp_close = 0;
    c->sock_done = 0;
}

/* drop_backlog fails the open-loop requests that are due on a connection the
 * server refused: they count as connect errors instead of piling up. */
static void drop_backlog(struct worker *w, struct conn *c) {
    if (!g_open || c->k_due <= c->k_enq) return;
    uint64_t n = c->k_due - c->k_enq;
    w->st.err_connect += n;
    if (w->work_left != UINT64_MAX) w->work_left -= n;
    c->k_enq = c->k_due;
}

/* fail_conn drops the connection and counts each request in flight on it as
 * failed; the connection reconnects when there is work (after RETRY_NS if the
 * connect itself failed). */
static void fail_conn(struct worker *w, struct conn *c, enum fail_kind kind, uint64_t now) {
    uint64_t n = c->n_inflight;
    if (n == 0 && kind == F_PROTO) n = 1; /* bytes nobody asked for */
    switch (kind) {
    case F_CONNECT: w->st.err_connect += n; break;
    case F_TIMEOUT: w->st.err_timeout += n; w->st.err_read += n; break;
    case F_PROTO: w->st.err_proto += n; w->st.err_read += n; break;
    case F_READ: w->st.err_read += n; break;
    }
    w->inflight_total -= c->n_inflight;
    c->head = c->n_inflight = c->n_unsent = 0;
    c->wr_off = 0;
    conn_close(c);
    c->retry_at = kind == F_CONNECT ? now + RETRY_NS : 0;
    if (kind == F_CONNECT) drop_backlog(w, c);
}

static int start_connect(struct worker *w, struct conn *c, uint64_t now) {
    int fd = socket(cfg.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, (const struct sockaddr *)&cfg.addr, cfg.addr_len);
    if (r < 0 && errno != EINPROGRESS) goto fail;
    c->gen++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = ((uint64_t)c->gen << 32) | c->idx};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) goto fail;
    c->fd = fd;
    c->state = r == 0 ? S_OPEN : S_CONNECTING;
    c->t_state = now;
    c->sock_done = 0;
    return 1;
fail:
    if (fd >= 0) close(fd);
    c->retry_at = now + RETRY_NS;
    return 0;
}

static int has_work(const struct worker *w, const struct conn *c) {
    if (w->work_left == 0 || atomic_load_explicit(&g_stop, memory_order_relaxed)) return 0;
    return !g_open || c->k_enq < c->k_due;
}

/* take_work consumes one request of the budget; returns the time its latency
 * counts from. */
static uint64_t take_work(struct worker *w, struct conn *c, uint64_t now) {
    if (w->work_left != UINT64_MAX) w->work_left--;
    return g_open ? time_of(c->k_enq++, c->gi) : now;
}

static void enqueue(struct worker *w, struct conn *c, uint64_t now) {
    size_t i = pick_request(w);
    int m = (int)cfg.method;
    if (cfg.method == M_MIX) m = c->mix ^= 1;
    uint32_t slot = c->head + c->n_inflight;
    if (slot >= w->depth) slot -= w->depth;
    struct entry *e = &c->ring[slot];
    if (cfg.serials) {
        uint8_t *b = c->gbuf + (size_t)slot * gen.cap;
        e->buf = b;
        e->len = gen_request(w, b, m);
    } else {
        e->buf = rs.arena + rs.off[m][i];
        e->len = rs.len[m][i];
    }
    e->t_start = take_work(w, c, now);
    e->t_sent = now;
    c->n_inflight++;
    c->n_unsent++;
    w->inflight_total++;
}

/* flush writes the unsent entries, several in one sendmsg when pipelining. */
static void flush(struct worker *w, struct conn *c, uint64_t now) {
    while (c->n_unsent > 0) {
        struct iovec iov[IOV_BATCH];
        uint32_t at = c->head + c->n_inflight - c->n_unsent;
        if (at >= w->depth) at -= w->depth;
        size_t total = 0;
        int niov = 0;
        for (uint32_t k = 0; k < c->n_unsent && niov < IOV_BATCH; k++) {
            const struct entry *e = &c->ring[at];
            size_t skip = k == 0 ? c->wr_off : 0;
            iov[niov].iov_base = (void *)(e->buf + skip);
            iov[niov].iov_len = e->len - skip;
            total += e->len - skip;
            niov++;
            if (++at == w->depth) at = 0;
        }
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)niov};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return; /* EPOLLOUT edge will come */
            fail_conn(w, c, F_READ, now);
            return;
        }
        size_t left = (size_t)n;
        while (left > 0) {
            uint32_t s = c->head + c->n_inflight - c->n_unsent;
            if (s >= w->depth) s -= w->depth;
            size_t rem = c->ring[s].len - c->wr_off;
            if (left >= rem) {
                left -= rem;
                c->wr_off = 0;
                c->n_unsent--;
            } else {
                c->wr_off += left;
                left = 0;
            }
        }
        if ((size_t)n < total) return; /* socket buffer full */
    }
}

/* pump (re)connects when there is something to send, tops the ring up to the
 * pipeline depth, and writes. */
static void pump(struct worker *w, struct conn *c, uint64_t now) {
    if (c->state == S_CLOSING || now < c->retry_at) return;
    if (c->state == S_IDLE && c->n_inflight > 0 && !start_connect(w, c, now)) {
        fail_conn(w, c, F_CONNECT, now); /* requests taken back from a closed socket */
        return;
    }
    while (c->n_inflight < w->depth && !c->sock_done && has_work(w, c)) {
        if (c->state == S_IDLE && !start_connect(w, c, now)) {
            take_work(w, c, now); /* the request this connection was for fails */
            w->st.err_connect++;
            drop_backlog(w, c);
            return;
        }
        enqueue(w, c, now);
        if (cfg.close_mode) c->sock_done = 1;
    }
    if (c->state == S_OPEN && c->n_unsent > 0) flush(w, c, now);
}

/* response_done completes the response at the ring's head. Returns 0 when
 * it closed the socket. */
static int response_done(struct worker *w, struct conn *c, uint64_t now) {
    struct entry *e = &c->ring[c->head];
    int early = c->n_unsent == c->n_inflight; /* answered before we finished sending it */
    hist_record(&w->st, now > e->t_start ? now - e->t_start : 0);
    w->st.requests++;
    w->st.status[c->status / 100]++;
    if (++c->head == w->depth) c->head = 0;
    c->n_inflight--;
    w->inflight_total--;
    if (early) {
        c->n_unsent--;
        c->wr_off = 0;
    }
    c->in_body = c->until_close = 0;
    if (c->resp_close || early || (cfg.close_mode && c->n_inflight == 0)) {
        if (c->n_inflight == 0 && c->resp_close && !early) {
            /* The server closes: wait for its FIN, so that the TIME_WAIT
             * state stays on its side and our ports do not run out. */
            c->state = S_CLOSING;
            c->t_state = now;
            return 1;
        }
        /* Requests still in the ring go again on a new connection; their
         * latency keeps counting from the first try. */
        conn_close(c);
        c->n_unsent = c->n_inflight;
        c->wr_off = 0;
        for (uint32_t k = 0, s = c->head; k < c->n_inflight; k++, s = s + 1 == w->depth ? 0 : s + 1)
            c->ring[s].t_sent = now;
        c->retry_at = 0;
        return 0;
    }
    return 1;
}

/* parse consumes what the read buffer holds. Returns 0 when the socket was
 * closed. */
static int parse(struct worker *w, struct conn *c, uint64_t now) {
    while (c->rpos < c->rlen) {
        if (c->state == S_CLOSING) { /* bytes after the last answer: dropped */
            c->rpos = c->rlen;
            return 1;
        }
        if (!c->in_body) {
            if (c->n_inflight == 0) {
                fail_conn(w, c, F_PROTO, now);
                return 0;
            }
            const uint8_t *p = c->rbuf + c->rpos;
            size_t avail = c->rlen - c->rpos, from = c->hscan > 3 ? c->hscan - 3 : 0;
            const uint8_t *end = memmem(p + from, avail - from, "\r\n\r\n", 4);
            if (end == NULL) {
                /* Fail now, not at the timeout, on what can never become a
                 * head: another protocol, or lines ending in a bare LF. */
                int bad = memcmp(p, "HTTP/1.", avail < 7 ? avail : 7) != 0;
                for (size_t k = from; k < avail && !bad; k++)
                    bad = p[k] == '\n' && (k == 0 || p[k - 1] != '\r');
                if (bad) {
                    fail_conn(w, c, F_PROTO, now);
                    return 0;
                }
                c->hscan = avail;
                return 1;
            }
            size_t hlen = (size_t)(end - p) + 4;
            c->hscan = 0;
            struct resp_head r;
            if (!parse_head(p, hlen, &r) || r.status < 200 || (r.status == 200 && !r.has_length)) {
                fail_conn(w, c, F_PROTO, now);
                return 0;
            }
            c->rpos += hlen;
            c->status = r.status;
            c->resp_close = r.close || (r.http10 && !r.keep_alive);
            c->in_body = 1;
            c->until_close = 0;
            if (r.status == 204 || r.status == 304)
                c->body_left = 0;
            else if (r.has_length)
                c->body_left = r.length;
            else
                c->until_close = 1;
            if (!c->until_close && c->body_left == 0) {
                if (!response_done(w, c, now)) return 0;
                continue;
            }
        }
        size_t avail = c->rlen - c->rpos;
        if (c->until_close) {
            w->st.body_bytes += avail;
            c->rpos = c->rlen;
            return 1;
        }
        size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
        c->rpos += take;
        c->body_left -= take;
        w->st.body_bytes += take;
        if (c->body_left == 0 && !response_done(w, c, now)) return 0;
    }
    return 1;
}

static void on_eof(struct worker *w, struct conn *c, uint64_t now) {
    if (c->in_body && c->until_close) { /* the close ends this body */
        c->resp_close = 1;
        response_done(w, c, now);
        if (c->fd >= 0) conn_close(c);
        return;
    }
    if (c->state == S_CLOSING || (c->n_inflight == 0 && !c->in_body && c->rpos == c->rlen)) {
        conn_close(c); /* an idle connection, or the close we waited for */
        return;
    }
    fail_conn(w, c, F_READ, now);
}

/* on_readable reads until the socket is drained (edge-triggered). A short
 * read means the queue was empty, unless the peer closed or failed (drain). */
static void on_readable(struct worker *w, struct conn *c, int drain, uint64_t now) {
    for (;;) {
        uint8_t *dst;
        size_t want;
        int direct = 0;
        if (c->in_body && !c->until_close && c->rpos == c->rlen && c->body_left >= RBUF_CAP) {
            dst = w->scratch; /* never past this body: the rest stays in the socket */
            want = c->body_left < SCRATCH_CAP ? (size_t)c->body_left : SCRATCH_CAP;
            direct = 1;
        } else {
            if (c->rpos == c->rlen) {
                c->rpos = c->rlen = 0;
            } else if (c->rpos > 0 && (c->rlen == RBUF_CAP || c->rpos >= RBUF_CAP / 2)) {
                memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
                c->rlen -= c->rpos;
                c->rpos = 0;
            }
            dst = c->rbuf + c->rlen;
            want = RBUF_CAP - c->rlen;
            if (want == 0) { /* a response head larger than RBUF_CAP */
                fail_conn(w, c, F_PROTO, now);
                return;
            }
        }
        ssize_t n = read(c->fd, dst, want);
        if (n > 0) {
            if (direct) {
                c->body_left -= (uint64_t)n;
                w->st.body_bytes += (uint64_t)n;
                if (c->body_left == 0 && !response_done(w, c, now)) return;
            } else {
                c->rlen += (size_t)n;
                if (!parse(w, c, now)) return;
            }
            if ((size_t)n < want && !drain) return;
            continue;
        }
        if (n == 0) {
            on_eof(w, c, now);
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) fail_conn(w, c, F_READ, now);
        return;
    }
}

static void on_event(struct worker *w, uint64_t data, uint32_t events, uint64_t now) {
    struct conn *c = &w->conns[(uint32_t)data];
    if (c->fd < 0 || c->gen != (uint32_t)(data >> 32)) return; /* for a socket closed in this batch */
    if (c->state == S_CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
            fail_conn(w, c, F_CONNECT, now);
            return;
        }
        c->state = S_OPEN;
        c->t_state = now;
    }
    if (c->state == S_OPEN && (events & EPOLLOUT) && c->n_unsent > 0) flush(w, c, now);
    if (c->fd >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(w, c, (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, now);
    pump(w, c, now);
}

/* housekeeping: timeouts, the wait for FINs, and retries after failed connects. */
static void housekeeping(struct worker *w, uint64_t now) {
    for (uint32_t i = 0; i < w->nconn; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == S_CONNECTING && now - c->t_state > REQ_TIMEOUT_NS)
            fail_conn(w, c, F_CONNECT, now);
        else if (c->state == S_OPEN && c->n_inflight > 0 && now - c->ring[c->head].t_sent > REQ_TIMEOUT_NS)
            fail_conn(w, c, F_TIMEOUT, now);
        else if (c->state == S_CLOSING && now - c->t_state > CLOSE_WAIT_NS)
            conn_close(c);
        if (c->state == S_IDLE) pump(w, c, now);
    }
}

/* release_due hands the open-loop slots that are due to their connections;
 * returns the time of the next one (UINT64_MAX: none left). */
static uint64_t release_due(struct worker *w, uint64_t now) {
    while (w->sched_left > 0) {
        struct conn *c = &w->conns[w->cur_l];
        uint64_t t = time_of(w->cur_k, c->gi);
        if (t > now) return t;
        if (w->cur_k < c->quota) {
            c->k_due = w->cur_k + 1;
            if (w->sched_left != UINT64_MAX) w->sched_left--;
            pump(w, c, now);
        }
        if (++w->cur_l == w->nconn) {
            w->cur_l = 0;
            w->cur_k++;
        }
    }
    return UINT64_MAX;
}

static int wait_events(int ep, struct epoll_event *evs, uint64_t ns) {
    static atomic_int no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S)};
        int n = epoll_pwait2(ep, evs, MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        atomic_store(&no_pwait2, 1); /* kernel before 5.11: millisecond timeouts (rounded down: spins) */
    }
    return epoll_wait(ep, evs, MAX_EVENTS, (int)(ns / 1000000));
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); /* the default 50 us slack would blur the schedule */
    pthread_barrier_wait(&g_barrier);
    pthread_barrier_wait(&g_barrier); /* main has set g_t0 */
    uint64_t deadline = cfg.count ? UINT64_MAX : g_t0 + (uint64_t)(cfg.duration_s * 1e9);
    uint64_t now = now_ns(), next_tick = now + TICK_NS;
    if (!g_open)
        for (uint32_t i = 0; i < w->nconn; i++) pump(w, &w->conns[i], now);
    for (;;) {
        now = now_ns();
        if (now >= deadline || atomic_load_explicit(&g_stop, memory_order_relaxed)) break;
        if (now >= next_tick) {
            housekeeping(w, now);
            next_tick = now + TICK_NS;
        }
        uint64_t wake = next_tick < deadline ? next_tick : deadline;
        if (g_open) {
            uint64_t t = release_due(w, now);
            if (t < wake) wake = t;
        }
        if (w->work_left == 0 && w->inflight_total == 0) break;
        now = now_ns();
        int n = wait_events(w->ep, evs, wake > now ? wake - now : 0);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        /* A fresh time per event: a batch holds up to MAX_EVENTS connections,
         * and one time for all would shift both ends of their latencies by
         * the time spent on the events before them. */
        for (int i = 0; i < n; i++) {
            now = now_ns();
            on_event(w, evs[i].data.u64, evs[i].events, now);
        }
    }
    w->t_end = now;
    w->st.unfinished = w->inflight_total;
    for (uint32_t i = 0; i < w->nconn; i++) {
        struct conn *c = &w->conns[i];
        if (g_open && c->k_due > c->k_enq) w->st.unfinished += c->k_due - c->k_enq;
        if (c->fd >= 0) close(c->fd);
    }
    return NULL;
}

/* ---- setup ---- */

static void usage(FILE *f) {
    fputs("usage: loadgen --url http://HOST:PORT/PATH [options]\n"
          "  --requests FILE      one base64 DER OCSP request per line; GET sends PATH/<url-encoded base64>,\n"
          "                       POST sends the DER to PATH; without it: GET PATH as is\n"
          "  --method M           GET (default), POST or mix (alternate, per connection)\n"
          "  --connections N      connections in all (default 50)\n"
          "  --threads T          threads, each with its own epoll loop (default 1)\n"
          "  --duration SECONDS   run time (default 5)\n"
          "  --count N            total requests instead of a duration\n"
          "  --close              one connection per request (Connection: close)\n"
          "  --pipeline D         requests in flight per keep-alive connection (default 1)\n"
          "  --rate R             open loop: R requests/s in all, latency from the scheduled send time\n"
          "  --zipf S             draw requests with Zipf(S) popularity, line 1 the most popular\n"
          "                       (default: uniform; fixed seeds, reproducible)\n"
          "  --serials N          the file's one request is a template: each request asks for serial(i) of\n"
          "                       bench/scale.h, i uniform over [0, N), or with --zipf its popularity rank\n"
          "                       Zipf over N (ranks to serials by a fixed pseudo-random permutation)\n"
          "  --json               one JSON object on stdout instead of the text report\n"
          "Without --rate the loop is closed and latency is service time (send to last byte).\n",
          f);
}

static void bad_usage(const char *msg, const char *arg) {
    fprintf(stderr, "loadgen: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') bad_usage(opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) bad_usage(opt, s);
    return v;
}

static double parse_pos_double(const char *opt, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0) || !isfinite(v)) bad_usage(opt, s);
    return v;
}

static void parse_url(void) {
    const char *u = cfg.url;
    if (strncmp(u, "http://", 7) != 0) bad_usage("--url must start with http://", u);
    u += 7;
    size_t alen = strcspn(u, "/?#");
    if (alen == 0 || alen >= sizeof(cfg.authority)) bad_usage("--url: bad host", cfg.url);
    memcpy(cfg.authority, u, alen);
    cfg.authority[alen] = '\0';
    const char *path = u + alen;
    if (*path == '#' || *path == '?') bad_usage("--url: the path must start with /", cfg.url);
    if (*path == '\0') path = "/";
    if (strlen(path) >= sizeof(cfg.path) - 1) bad_usage("--url: path too long", cfg.url);
    for (const char *q = path; *q; q++)
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f || *q == '#')
            bad_usage("--url: the path must be percent-encoded, without a fragment", cfg.url);
    strcpy(cfg.path, path);

    char host[512], port[16] = "80";
    const char *colon;
    if (cfg.authority[0] == '[') {
        const char *rb = strchr(cfg.authority, ']');
        if (rb == NULL) bad_usage("--url: bad IPv6 literal", cfg.url);
        snprintf(host, sizeof(host), "%.*s", (int)(rb - cfg.authority - 1), cfg.authority + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] != '\0' && rb[1] != ':') bad_usage("--url: bad host", cfg.url);
    } else {
        colon = strchr(cfg.authority, ':');
        snprintf(host, sizeof(host), "%.*s", (int)(colon ? (size_t)(colon - cfg.authority) : alen), cfg.authority);
    }
    if (colon != NULL) {
        if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port)) bad_usage("--url: bad port", cfg.url);
        parse_u64("--url: bad port", colon + 1, 1, 65535);
        strcpy(port, colon + 1);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "loadgen: %s: cannot resolve %s (%s)\n", cfg.url, host, gai_strerror(rc));
        exit(1);
    }
    memcpy(&cfg.addr, res->ai_addr, res->ai_addrlen);
    cfg.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
}

static void arena_put(const void *p, size_t n) {
    if (rs.arena_cap - rs.arena_len < n) {
        size_t cap = rs.arena_cap ? rs.arena_cap : 65536;
        while (cap - rs.arena_len < n) cap *= 2;
        uint8_t *a = realloc(rs.arena, cap);
        if (a == NULL) {
            fprintf(stderr, "loadgen: out of memory for requests (%zu bytes)\n", cap);
            exit(1);
        }
        rs.arena = a;
        rs.arena_cap = cap;
    }
    memcpy(rs.arena + rs.arena_len, p, n);
    rs.arena_len += n;
}

static void arena_str(const char *s) {
    arena_put(s, strlen(s));
}

static int b64_value(int ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

/* b64_decode decodes standard base64 with padding; out holds at least
 * n/4*3 bytes. Returns 1, or 0 if s is not canonical base64. */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len) {
    if (n == 0 || n % 4 != 0) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = b64_value((unsigned char)s[i + k])) < 0) return 0;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(x >> 16);
        if (pad < 2) out[o++] = (uint8_t)(x >> 8);
        if (pad < 1) out[o++] = (uint8_t)x;
    }
    *out_len = o;
    return 1;
}

/* The end of the request head shared by all requests. */
static void arena_head_tail(void) {
    arena_str(" HTTP/1.1\r\nHost: ");
    arena_str(cfg.authority);
    arena_str("\r\nUser-Agent: revd-loadgen\r\n");
    if (cfg.close_mode) arena_str("Connection: close\r\n");
}

static void add_request(size_t i, const char *b64, const uint8_t *der, size_t der_len) {
    if (cfg.method != M_POST) { /* GET <path>/<url-encoded base64> */
        rs.off[M_GET][i] = rs.arena_len;
        arena_str("GET ");
        arena_str(cfg.path);
        if (b64 != NULL) {
            if (cfg.path[strlen(cfg.path) - 1] != '/') arena_str("/");
            for (const char *q = b64; *q; q++) {
                if (*q == '+')
                    arena_str("%2B");
                else if (*q == '/')
                    arena_str("%2F");
                else if (*q == '=')
                    arena_str("%3D");
                else
                    arena_put(q, 1);
            }
        }
        arena_head_tail();
        arena_str("\r\n");
        rs.len[M_GET][i] = (uint32_t)(rs.arena_len - rs.off[M_GET][i]);
    }
    if (cfg.method != M_GET) {
        char cl[64];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", der_len);
        rs.off[M_POST][i] = rs.arena_len;
        arena_str("POST ");
        arena_str(cfg.path);
        arena_head_tail();
        arena_str("Content-Type: application/ocsp-request\r\n");
        arena_str(cl);
        arena_put(der, der_len);
        rs.len[M_POST][i] = (uint32_t)(rs.arena_len - rs.off[M_POST][i]);
    }
}

/* gen_init: --serials' template (the file's one request, its serial last
 * and 16 octets) and the parts of a GET around it. */
static void gen_init(void) {
    if (rs.num != 1) {
        fprintf(stderr, "loadgen: --serials wants a file of one request (the template), %s has %zu\n",
                cfg.requests_file, rs.num);
        exit(2);
    }
    /* The base64 of the template went into the GET line: decode it back
     * from the POST body, or re-read the line. */
    FILE *f = fopen(cfg.requests_file, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = f != NULL ? getline(&line, &cap, f) : -1;
    if (f != NULL) fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
    if (n <= 0 || (size_t)n / 4 * 3 > sizeof(gen.der) || !b64_decode(line, (size_t)n, gen.der, &gen.der_len) ||
        gen.der_len < 20 || gen.der[gen.der_len - 18] != 0x02 || gen.der[gen.der_len - 17] != 0x10) {
        fprintf(stderr, "loadgen: %s: --serials needs a request whose CertID serial is 16 octets and last "
                        "(no nonce): bench/mkreqs.py ISSUER <(bench/scalegen serial 0) OUT\n",
                cfg.requests_file);
        exit(2);
    }
    free(line);
    gen.head_len = (size_t)snprintf(gen.head, sizeof(gen.head), "GET %s%s", cfg.path,
                                    cfg.path[strlen(cfg.path) - 1] != '/' ? "/" : "");
    gen.tail_len = (size_t)snprintf(gen.tail, sizeof(gen.tail), " HTTP/1.1\r\nHost: %s\r\nUser-Agent: revd-loadgen\r\n%s\r\n",
                                    cfg.authority, cfg.close_mode ? "Connection: close\r\n" : "");
    gen.cap = gen.head_len + (gen.der_len + 2) / 3 * 12 + gen.tail_len;
    if (cfg.method != M_GET && rs.len[M_POST][0] > gen.cap) gen.cap = rs.len[M_POST][0];
    gen.perm = scale_perm_make(cfg.serials, 0x5ca1e5eedull);
    if (cfg.zipf > 0) gen.zipf = scale_zipf_make(cfg.serials, cfg.zipf);
}

static void load_requests(void) {
    size_t cap = 1024;
    for (int m = 0; m < 2; m++) {
        rs.off[m] = xmalloc(cap * sizeof(size_t));
        rs.len[m] = xmalloc(cap * sizeof(uint32_t));
    }
    if (cfg.requests_file == NULL) {
        rs.num = 1;
        add_request(0, NULL, NULL, 0);
        return;
    }
    FILE *f = fopen(cfg.requests_file, "r");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", cfg.requests_file, strerror(errno));
        exit(1);
    }
    char *line = NULL;
    size_t line_cap = 0, lineno = 0;
    ssize_t n;
    uint8_t *der = NULL;
    size_t der_cap = 0;
    while ((n = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
        if (n == 0) continue;
        if ((size_t)n / 4 * 3 > der_cap) {
            der_cap = (size_t)n / 4 * 3 + 64;
            free(der);
            der = xmalloc(der_cap);
        }
        size_t der_len;
        if (!b64_decode(line, (size_t)n, der, &der_len) || der_len < 2 || der[0] != 0x30) {
            fprintf(stderr,
                    "loadgen: %s:%zu: not the base64 of a DER OCSP request (expected one base64 SEQUENCE per "
                    "line, as `base64 -w0 req.der` writes)\n",
                    cfg.requests_file, lineno);
            exit(1);
        }
        if (rs.num == cap) {
            cap *= 2;
            for (int m = 0; m < 2; m++) {
                size_t *o = realloc(rs.off[m], cap * sizeof(size_t));
                uint32_t *l = realloc(rs.len[m], cap * sizeof(uint32_t));
                if (o == NULL || l == NULL) {
                    fprintf(stderr, "loadgen: out of memory for %zu requests\n", cap);
                    exit(1);
                }
                rs.off[m] = o;
                rs.len[m] = l;
            }
        }
        add_request(rs.num++, line, der, der_len);
    }
    if (ferror(f)) {
        fprintf(stderr, "loadgen: %s: read error: %s\n", cfg.requests_file, strerror(errno));
        exit(1);
    }
    fclose(f);
    free(line);
    free(der);
    if (rs.num == 0) {
        fprintf(stderr, "loadgen: %s: no requests in the file (one base64 DER request per line)\n",
                cfg.requests_file);
        exit(1);
    }
    if (cfg.serials) return gen_init();
    if (cfg.zipf > 0) {
        rs.cdf = xmalloc(rs.num * sizeof(double));
        double sum = 0;
        for (size_t i = 0; i < rs.num; i++) {
            sum += pow((double)(i + 1), -cfg.zipf);
            rs.cdf[i] = sum;
        }
    }
}

static void parse_args(int argc, char **argv) {
    enum { O_URL = 256, O_REQ, O_METHOD, O_CONN, O_THREADS, O_DUR, O_COUNT, O_CLOSE, O_PIPE, O_RATE, O_ZIPF,
           O_SERIALS, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"url", required_argument, NULL, O_URL},
        {"requests", required_argument, NULL, O_REQ},
        {"method", required_argument, NULL, O_METHOD},
        {"connections", required_argument, NULL, O_CONN},
        {"threads", required_argument, NULL, O_THREADS},
        {"duration", required_argument, NULL, O_DUR},
        {"count", required_argument, NULL, O_COUNT},
        {"close", no_argument, NULL, O_CLOSE},
        {"pipeline", required_argument, NULL, O_PIPE},
        {"rate", required_argument, NULL, O_RATE},
        {"zipf", required_argument, NULL, O_ZIPF},
        {"serials", required_argument, NULL, O_SERIALS},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int have_duration = 0, o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case O_URL: cfg.url = optarg; break;
        case O_REQ: cfg.requests_file = optarg; break;
        case O_METHOD:
            if (strcasecmp(optarg, "GET") == 0)
                cfg.method = M_GET;
            else if (strcasecmp(optarg, "POST") == 0)
                cfg.method = M_POST;
            else if (strcasecmp(optarg, "mix") == 0)
                cfg.method = M_MIX;
            else
                bad_usage("--method must be GET, POST or mix", optarg);
            break;
        case O_CONN: cfg.connections = (uint32_t)parse_u64("--connections", optarg, 1, MAX_CONNECTIONS); break;
        case O_THREADS: cfg.threads = (uint32_t)parse_u64("--threads", optarg, 1, MAX_THREADS); break;
        case O_DUR:
            cfg.duration_s = parse_pos_double("--duration", optarg);
            if (cfg.duration_s > 1e7) bad_usage("--duration", optarg);
            have_duration = 1;
            break;
        case O_COUNT: cfg.count = parse_u64("--count", optarg, 1, UINT64_MAX / 2); break;
        case O_CLOSE: cfg.close_mode = 1; break;
        case O_PIPE: cfg.pipeline = (uint32_t)parse_u64("--pipeline", optarg, 1, MAX_PIPELINE); break;
        case O_RATE: cfg.rate = parse_pos_double("--rate", optarg); break;
        case O_ZIPF: cfg.zipf = parse_pos_double("--zipf", optarg); break;
        case O_SERIALS: cfg.serials = parse_u64("--serials", optarg, 1, 1ull << 56); break;
        case O_JSON: cfg.json = 1; break;
        case O_HELP: usage(stdout); exit(0);
        default: bad_usage("unknown option or missing value", optind > 1 ? argv[optind - 1] : NULL);
        }
    }
    if (optind < argc) bad_usage("unexpected argument", argv[optind]);
    if (cfg.url == NULL) bad_usage("--url is required", NULL);
    if (have_duration && cfg.count) bad_usage("--duration and --count exclude each other", NULL);
    if (cfg.close_mode && cfg.pipeline > 1) bad_usage("--close sends one request per connection: no --pipeline", NULL);
    if (cfg.threads > cfg.connections) bad_usage("--threads must not exceed --connections", NULL);
    if (cfg.requests_file == NULL && cfg.method != M_GET)
        bad_usage("--method POST or mix needs --requests (the bodies)", NULL);
    if (cfg.requests_file == NULL && cfg.zipf > 0) bad_usage("--zipf needs --requests", NULL);
    if (cfg.requests_file == NULL && cfg.serials) bad_usage("--serials needs --requests (the template)", NULL);
}

static void on_sigint(int sig) {
    (void)sig;
    atomic_store(&g_stop, 1);
}

static void raise_nofile(uint64_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        fprintf(stderr, "loadgen: warning: the open-file limit (%llu) is below the %" PRIu64
                        " descriptors needed; raise ulimit -n\n",
                (unsigned long long)rl.rlim_cur, need);
}

static const char *method_name(void) {
    return cfg.method == M_GET ? "GET" : cfg.method == M_POST ? "POST" : "GET+POST";
}

static void report(const struct stats *st, double secs) {
    double rps = secs > 0 ? (double)st->requests / secs : 0;
    double mbps = secs > 0 ? (double)st->body_bytes / secs / 1e6 : 0;
    uint64_t p50 = hist_percentile(st, 0.50), p90 = hist_percentile(st, 0.90), p99 = hist_percentile(st, 0.99),
             p999 = hist_percentile(st, 0.999), max_us = st->lat_max_ns / 1000;
    double mean_us = st->requests ? (double)st->lat_sum_ns / (double)st->requests / 1000 : 0;
    if (cfg.json) {
        printf("{\"requests\":%" PRIu64 ",\"seconds\":%.6f,\"rps\":%.1f,\"body_bytes\":%" PRIu64
               ",\"mbps\":%.3f,\"status_2xx\":%" PRIu64 ",\"status_3xx\":%" PRIu64 ",\"status_4xx\":%" PRIu64
               ",\"status_5xx\":%" PRIu64 ",\"errors_connect\":%" PRIu64 ",\"errors_read\":%" PRIu64
               ",\"errors_timeout\":%" PRIu64 ",\"errors_protocol\":%" PRIu64 ",\"unfinished\":%" PRIu64
               ",\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
               ",\"max_us\":%" PRIu64 ",\"mean_us\":%.1f,\"open_loop\":%s}\n",
               st->requests, secs, rps, st->body_bytes, mbps, st->status[2], st->status[3], st->status[4],
               st->status[5], st->err_connect, st->err_read, st->err_timeout, st->err_proto, st->unfinished, p50,
               p90, p99, p999, max_us, mean_us, g_open ? "true" : "false");
        return;
    }
    printf("target            %s %s%s (%zu request%s%s)\n", method_name(), cfg.url,
           cfg.requests_file && cfg.method != M_POST ? "/..." : "", rs.num, rs.num == 1 ? "" : "s",
           cfg.serials ? (cfg.zipf > 0 ? ", serials of a CA, Zipf" : ", serials of a CA, uniform")
           : rs.cdf ? ", Zipf" : rs.num > 1 ? ", uniform" : "");
    printf("setup             %u thread%s, %u connection%s, %s, pipeline %u\n", cfg.threads,
           cfg.threads == 1 ? "" : "s", cfg.connections, cfg.connections == 1 ? "" : "s",
           cfg.close_mode ? "connection per request" : "keep-alive", cfg.pipeline);
    if (g_open)
        printf("mode              open loop, %.0f requests/s scheduled\n", cfg.rate);
    else
        printf("mode              closed loop\n");
    printf("requests          %" PRIu64 " in %.3f s\n", st->requests, secs);
    printf("requests/s        %.1f\n", rps);
    printf("body              %.3f MB/s (%" PRIu64 " bytes)\n", mbps, st->body_bytes);
    printf("status 2xx        %" PRIu64 "\n", st->status[2]);
    printf("status 3xx        %" PRIu64 "\n", st->status[3]);
    printf("status 4xx        %" PRIu64 "\n", st->status[4]);
    printf("status 5xx        %" PRIu64 "\n", st->status[5]);
    printf("errors connect    %" PRIu64 "\n", st->err_connect);
    printf("errors read       %" PRIu64 " (of which timeouts %" PRIu64 ", protocol %" PRIu64 ")\n", st->err_read,
           st->err_timeout, st->err_proto);
    printf("unfinished        %" PRIu64 " (in flight or due at the end; not counted)\n", st->unfinished);
    if (g_open)
        printf("latency           open loop: from the scheduled send time (includes queueing behind a slow server)\n");
    else
        printf("latency           closed-loop service time: send to last byte (hides server stalls; see --rate)\n");
    printf("latency p50       %" PRIu64 " us\n", p50);
    printf("latency p90       %" PRIu64 " us\n", p90);
    printf("latency p99       %" PRIu64 " us\n", p99);
    printf("latency p99.9     %" PRIu64 " us\n", p999);
    printf("latency max       %" PRIu64 " us\n", max_us);
    printf("latency mean      %.1f us\n", mean_us);
}

int main(int argc, char **argv) {
    ctype_init();
    parse_args(argc, argv);
    parse_url();
    load_requests();
    g_open = cfg.rate > 0;
    g_ns_per_req = g_open ? 1e9 / cfg.rate : 0;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    raise_nofile((uint64_t)cfg.connections + 64 + cfg.threads);

    uint32_t depth = cfg.close_mode ? 1 : cfg.pipeline;
    struct worker *ws = xmalloc(cfg.threads * sizeof(*ws));
    struct conn *conns = xmalloc((size_t)cfg.connections * sizeof(*conns));
    struct entry *rings = xmalloc((size_t)cfg.connections * depth * sizeof(*rings));
    uint8_t *rbufs = xmalloc((size_t)cfg.connections * RBUF_CAP);
    uint8_t *gbufs = cfg.serials ? xmalloc((size_t)cfg.connections * depth * gen.cap) : NULL;
    uint64_t base = cfg.count / cfg.connections, extra = cfg.count % cfg.connections;
    uint32_t gi = 0;
    for (uint32_t t = 0; t < cfg.threads; t++) {
        struct worker *w = &ws[t];
        w->id = t;
        w->depth = depth;
        w->nconn = cfg.connections / cfg.threads + (t < cfg.connections % cfg.threads);
        w->conns = conns + gi;
        w->scratch = xmalloc(SCRATCH_CAP);
        w->rng = 0x5eed0000ull + t;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (w->ep < 0) die("epoll_create1");
        uint64_t total = 0;
        for (uint32_t i = 0; i < w->nconn; i++, gi++) {
            struct conn *c = &w->conns[i];
            c->fd = -1;
            c->idx = i;
            c->gi = gi;
            c->ring = rings + (size_t)gi * depth;
            c->rbuf = rbufs + (size_t)gi * RBUF_CAP;
            c->gbuf = gbufs != NULL ? gbufs + (size_t)gi * depth * gen.cap : NULL;
            c->quota = cfg.count ? base + (gi < extra) : UINT64_MAX;
            total += cfg.count ? c->quota : 0;
        }
        w->work_left = cfg.count ? total : UINT64_MAX;
        w->sched_left = w->work_left;
    }
    if (pthread_barrier_init(&g_barrier, NULL, cfg.threads + 1) != 0) die("pthread_barrier_init");
    for (uint32_t t = 0; t < cfg.threads; t++) {
        errno = pthread_create(&ws[t].th, NULL, worker_main, &ws[t]);
        if (errno != 0) die("pthread_create");
    }
    pthread_barrier_wait(&g_barrier);
    g_t0 = now_ns();
    pthread_barrier_wait(&g_barrier);

    struct stats *sum = xmalloc(sizeof(*sum));
    uint64_t t_end = g_t0;
    for (uint32_t t = 0; t < cfg.threads; t++) {
        pthread_join(ws[t].th, NULL);
        const struct stats *s = &ws[t].st;
        sum->requests += s->requests;
        for (int k = 0; k < 6; k++) sum->status[k] += s->status[k];
        sum->body_bytes += s->body_bytes;
        sum->err_connect += s->err_connect;
        sum->err_read += s->err_read;
        sum->err_timeout += s->err_timeout;
        sum->err_proto += s->err_proto;
        sum->unfinished += s->unfinished;
        sum->lat_sum_ns += s->lat_sum_ns;
        if (s->lat_max_ns > sum->lat_max_ns) sum->lat_max_ns = s->lat_max_ns;
        for (uint32_t i = 0; i < HIST_BUCKETS; i++) sum->hist[i] += s->hist[i];
        if (ws[t].t_end > t_end) t_end = ws[t].t_end;
        close(ws[t].ep);
    }
    report(sum, (double)(t_end - g_t0) / 1e9);
    pthread_barrier_destroy(&g_barrier);
    for (uint32_t t = 0; t < cfg.threads; t++) free(ws[t].scratch);
    free(sum);
    free(ws);
    free(conns);
    free(rings);
    free(rbufs);
    free(gbufs);
    for (int m = 0; m < 2; m++) {
        free(rs.off[m]);
        free(rs.len[m]);
    }
    free(rs.cdf);
    free(rs.arena);
    return 0;
}
