/* webhook: the events file, followed and POSTed (node/webhook.h). */
#include "node/webhook.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LINE_MAX_BYTES (64 * 1024) /* an event line longer than this is skipped */
#define BACKOFF_MAX_S 300
#define IDLE_MS 200

struct target {
    char url[WEBHOOK_URL_MAX];
    int tls;
    char host[300], port[8], path[WEBHOOK_URL_MAX];
    char pos_path[PATH_MAX];
    uint64_t ino;        /* the events file (inode) pos is in; 0: the current one */
    uint64_t pos;        /* the offset of the next event to send */
    double retry_at;     /* monotonic seconds; 0: now */
    int backoff;         /* seconds; 0: none */
    int failing;         /* a failure was said: say the recovery */
};

struct webhook {
    struct webhook_config cfg;
    char events_path[PATH_MAX];
    char ca_file[PATH_MAX];
    struct target t[WEBHOOK_URLS_MAX];
    int n;
    SSL_CTX *ctx;
    pthread_t thread;
    atomic_int stop;
    _Atomic uint64_t sent, failed;
};

/* parse_url splits "http[s]://host[:port]/path" (no userinfo, no
 * fragment). Returns 1, or 0 with why. */
static int parse_url(const char *u, size_t ul, struct target *t, char *why, size_t wl) {
    if (ul >= WEBHOOK_URL_MAX) return snprintf(why, wl, "a URL is longer than %d bytes", WEBHOOK_URL_MAX - 1), 0;
    memcpy(t->url, u, ul);
    t->url[ul] = '\0';
    const char *rest;
    if (strncmp(t->url, "http://", 7) == 0) t->tls = 0, rest = t->url + 7;
    else if (strncmp(t->url, "https://", 8) == 0) t->tls = 1, rest = t->url + 8;
    else return snprintf(why, wl, "'%.80s' is not an http:// or https:// URL", t->url), 0;
    for (const char *p = t->url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
            return snprintf(why, wl, "'%.80s': spaces, controls, non-ASCII and '#' are not allowed", t->url), 0;
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    snprintf(t->path, sizeof(t->path), "%s", slash ? slash : "/");
    char hp[300];
    if (hl == 0 || hl >= sizeof(hp) || memchr(rest, '@', hl) != NULL)
        return snprintf(why, wl, "'%.80s': no host, or userinfo (not allowed)", t->url), 0;
    memcpy(hp, rest, hl);
    hp[hl] = '\0';
    char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
    if (colon != NULL && hp[0] == '[') colon++;
    snprintf(t->port, sizeof(t->port), "%s", t->tls ? "443" : "80");
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535) return snprintf(why, wl, "'%.80s': a bad port", t->url), 0;
        snprintf(t->port, sizeof(t->port), "%ld", port);
        *colon = '\0';
    }
    char *h = hp;
    if (h[0] == '[') {
        h++;
        size_t l = strlen(h);
        if (l == 0 || h[l - 1] != ']') return snprintf(why, wl, "'%.80s': a bad IPv6 address", t->url), 0;
        h[l - 1] = '\0';
    }
    if (h[0] == '\0') return snprintf(why, wl, "'%.80s': no host", t->url), 0;
    snprintf(t->host, sizeof(t->host), "%s", h);
    return 1;
}

static int split(const char *urls, struct target *t, int *n, char *why, size_t wl) {
    *n = 0;
    for (const char *p = urls;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (*n == WEBHOOK_URLS_MAX) return snprintf(why, wl, "at most %d URLs", WEBHOOK_URLS_MAX), 0;
        if (!parse_url(p, l, &t[*n], why, wl)) return 0;
        (*n)++;
        if (comma == NULL) return 1;
        p = comma + 1;
    }
}

int webhook_check(const char *urls, char *why, size_t wl) {
    struct target t[WEBHOOK_URLS_MAX];
    int n;
    return split(urls, t, &n, why, wl);
}

/* ---- the position of each URL ---- */

static void pos_save(const struct target *t) {
    char buf[64];
    struct rerr e;
    int n = snprintf(buf, sizeof(buf), "%llu %llu\n", (unsigned long long)t->ino, (unsigned long long)t->pos);
    /* Not synced, as before: it is written after every event, and a lost
     * position costs a repeated event, not a lost one. */
    if (!fs_write(t->pos_path, buf, (size_t)n, 0600, FS_NOSYNC, &e))
        rlog(LOG_WARN, "webhook.pos_failed", "webhook: %s (after a restart some events may be sent again)", e.msg);
}

/* pos_load: where this URL stopped. First use: the file's end (events
 * from before webhooks were set up are not sent). The file rotated while
 * the server was stopped: the new one from its start. */
static void pos_load(struct target *t, const char *events_path) {
    struct stat st;
    int have = stat(events_path, &st) == 0;
    uint64_t size = have ? (uint64_t)st.st_size : 0, ino = have ? (uint64_t)st.st_ino : 0;
    FILE *f = fopen(t->pos_path, "r");
    unsigned long long i, v;
    int n = f ? fscanf(f, "%llu %llu", &i, &v) : 0;
    if (f) fclose(f);
    t->ino = ino;
    if (n == 2 && i == ino && v <= size) t->pos = v;
    else if (n == 2) t->pos = 0;
    else t->pos = size;
}

/* ---- one POST ---- */

/* Waits for fd to be ready for ev until deadline; 1 ready. */
static int wait_fd(int fd, short ev, double deadline) {
    for (;;) {
        double left = deadline - rtime_mono();
        if (left <= 0) return 0;
        struct pollfd p = {fd, ev, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return 0;
    }
}

static int dial(const struct target *t, double deadline, char *why, size_t wl) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0) return snprintf(why, wl, "cannot resolve %s: %s", t->host, gai_strerror(rc)), -1;
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        int err = 0;
        socklen_t el = sizeof(err);
        if (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline) ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            snprintf(why, wl, "cannot connect to %s:%s: %s", t->host, t->port,
                     err ? strerror(err) : errno == EINPROGRESS ? "timed out" : strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0 && why[0] == '\0') snprintf(why, wl, "cannot connect to %s:%s", t->host, t->port);
    return fd;
}

/* io: a write (or read when buf is for reading) over TLS or not, within the
 * deadline. Returns bytes, 0 at the end, -1 on failure. */
static long io(int fd, SSL *ssl, void *buf, size_t len, int writing, double deadline) {
    for (;;) {
        long n;
        short ev = writing ? POLLOUT : POLLIN;
        if (ssl != NULL) {
            n = writing ? SSL_write(ssl, buf, (int)len) : SSL_read(ssl, buf, (int)len);
            if (n > 0) return n;
            int err = SSL_get_error(ssl, (int)n);
            if (err == SSL_ERROR_ZERO_RETURN) return 0;
            if (err == SSL_ERROR_WANT_READ) ev = POLLIN;
            else if (err == SSL_ERROR_WANT_WRITE) ev = POLLOUT;
            else return -1;
        } else {
            n = writing ? (long)send(fd, buf, len, MSG_NOSIGNAL) : (long)recv(fd, buf, len, 0);
            if (n >= 0) return n;
            if (errno != EAGAIN && errno != EINTR) return -1;
        }
        if (!wait_fd(fd, ev, deadline)) return -1;
    }
}

/* post sends one event; 1 on a 2xx answer, else 0 with why. */
static int post(struct webhook *w, const struct target *t, const char *body, size_t len, const char *type, char *why,
                size_t wl) {
    why[0] = '\0';
    double deadline = rtime_mono() + w->cfg.timeout_s;
    int fd = dial(t, deadline, why, wl);
    if (fd < 0) return 0;
    SSL *ssl = NULL;
    int ok = 0;
    if (t->tls) {
        ssl = SSL_new(w->ctx);
        /* The name checked against the certificate: an IP address as an
         * iPAddress SAN (and no SNI, RFC 6066), else a DNS name. */
        unsigned char ip[16];
        int is_ip = inet_pton(AF_INET, t->host, ip) == 1 || inet_pton(AF_INET6, t->host, ip) == 1;
        if (ssl == NULL || !SSL_set_fd(ssl, fd) ||
            (is_ip ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), t->host)
                   : !SSL_set_tlsext_host_name(ssl, t->host) || !SSL_set1_host(ssl, t->host))) {
            snprintf(why, wl, "cannot set up TLS");
            goto out;
        }
        for (;;) {
            int r = SSL_connect(ssl);
            if (r == 1) break;
            int err = SSL_get_error(ssl, r);
            short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
            if (ev == 0 || !wait_fd(fd, ev, deadline)) {
                long v = SSL_get_verify_result(ssl);
                snprintf(why, wl, "TLS with %s failed: %s", t->host,
                         v != X509_V_OK ? X509_verify_cert_error_string(v) : "handshake");
                goto out;
            }
        }
    }
    char hostport[sizeof(t->host) + 16];
    int v6 = strchr(t->host, ':') != NULL;
    int dflt = strcmp(t->port, t->tls ? "443" : "80") == 0;
    snprintf(hostport, sizeof(hostport), "%s%s%s%s%s", v6 ? "[" : "", t->host, v6 ? "]" : "", dflt ? "" : ":",
             dflt ? "" : t->port);
    char head[1024 + WEBHOOK_URL_MAX];
    int hn = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: revd\r\nContent-Type: application/json\r\n"
                      "X-Revd-Event: %.60s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      t->path, hostport, type, len);
    if (hn <= 0 || (size_t)hn >= sizeof(head)) {
        snprintf(why, wl, "the request does not fit");
        goto out;
    }
    const char *parts[2] = {head, body};
    size_t lens[2] = {(size_t)hn, len};
    for (int i = 0; i < 2; i++)
        for (size_t off = 0; off < lens[i];) {
            long n = io(fd, ssl, (char *)parts[i] + off, lens[i] - off, 1, deadline);
            if (n <= 0) {
                snprintf(why, wl, "sending to %s failed", t->host);
                goto out;
            }
            off += (size_t)n;
        }
    /* The status line is enough: "HTTP/1.x NNN". */
    char ans[256];
    size_t got = 0;
    while (got < 12 || memchr(ans, '\n', got) == NULL) {
        long n = io(fd, ssl, ans + got, sizeof(ans) - 1 - got, 0, deadline);
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof(ans) - 1) break;
    }
    ans[got] = '\0';
    int status = 0;
    if (got < 12 || strncmp(ans, "HTTP/1.", 7) != 0 || sscanf(ans + 9, "%3d", &status) != 1) {
        snprintf(why, wl, "no HTTP answer from %s within %d s", t->host, w->cfg.timeout_s);
        goto out;
    }
    ok = status >= 200 && status < 300;
    if (!ok) snprintf(why, wl, "%s answered %d", t->host, status);
out:
    if (ssl != NULL) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
    close(fd);
    return ok;
}

/* ---- the thread ---- */

/* Sends what the file holds after t->pos, until a failure. Returns 1 when
 * it sent or skipped anything. */
static int drain(struct webhook *w, struct target *t, int fd) {
    static _Thread_local char buf[LINE_MAX_BYTES + 1];
    ssize_t n = pread(fd, buf, LINE_MAX_BYTES, (off_t)t->pos);
    if (n <= 0) return 0;
    int progress = 0;
    size_t off = 0;
    while (!atomic_load(&w->stop)) {
        char *nl = memchr(buf + off, '\n', (size_t)n - off);
        if (nl == NULL) {
            if (off == 0 && n == LINE_MAX_BYTES) { /* one line over the cap: skipped */
                rlog(LOG_WARN, "webhook.line_skipped", "webhook %s: an event line over %d bytes skipped", t->url, LINE_MAX_BYTES);
                t->pos += (uint64_t)n; /* the rest of it is skipped at the next newline */
                progress = 1;
            }
            break;
        }
        size_t len = (size_t)(nl - (buf + off));
        json_error_t je;
        json_t *ev = json_loadb(buf + off, len, 0, &je);
        json_int_t sev = json_integer_value(json_object_get(ev, "severity"));
        const char *type = json_string_value(json_object_get(ev, "type"));
        char tbuf[64];
        snprintf(tbuf, sizeof(tbuf), "%s", type ? type : "unknown");
        json_decref(ev);
        if (ev == NULL) rlog(LOG_WARN, "webhook.line_skipped", "webhook %s: an events line that is not JSON skipped", t->url);
        if (ev != NULL && sev >= w->cfg.min_severity) {
            char why[700];
            if (!post(w, t, buf + off, len, tbuf, why, sizeof(why))) {
                atomic_fetch_add(&w->failed, 1);
                t->backoff = t->backoff ? (t->backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : t->backoff * 2) : 1;
                t->retry_at = rtime_mono() + t->backoff;
                if (!t->failing || t->backoff >= BACKOFF_MAX_S)
                    rlog(LOG_WARN, "webhook.failed", "webhook %s: %s (retrying the same event in %d s)", t->url, why,
                            t->backoff);
                t->failing = 1;
                return progress;
            }
            atomic_fetch_add(&w->sent, 1);
            if (t->failing) rlog(LOG_INFO, "webhook.recovered", "webhook %s: delivering again", t->url);
            t->failing = 0;
            t->backoff = 0;
        }
        off += len + 1;
        t->pos += len + 1;
        pos_save(t);
        progress = 1;
    }
    return progress;
}

/* The thread. It keeps the events file open: when the path names another
 * file (a rotation), a URL still behind on the old one reads it to its end
 * through the old descriptor, and moves to the new file once the old one
 * has stopped growing for ROTATE_SETTLE_S (revd writes to it until SIGHUP
 * makes it open the new one). */
#define ROTATE_SETTLE_S 2.0

static void *run(void *arg) {
    struct webhook *w = arg;
    int cur = -1, old = -1;
    uint64_t cur_ino = 0, old_ino = 0, old_size = 0;
    double old_grew = 0;
    while (!atomic_load(&w->stop)) {
        struct stat ps;
        if (stat(w->events_path, &ps) == 0 && (cur < 0 || (uint64_t)ps.st_ino != cur_ino)) {
            int fd = open(w->events_path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                if (cur >= 0) {
                    if (old >= 0) { /* a second rotation before a URL caught up */
                        rlog(LOG_WARN, "webhook.lost", "webhooks: the events file rotated twice while a URL was "
                                                       "behind: what it had not sent of the older file is lost");
                        close(old);
                    }
                    old = cur, old_ino = cur_ino, old_size = 0, old_grew = rtime_mono();
                }
                cur = fd;
                cur_ino = (uint64_t)ps.st_ino;
            }
        }
        int progress = 0, on_old = 0;
        double now = rtime_mono();
        for (int i = 0; cur >= 0 && i < w->n && !atomic_load(&w->stop); i++) {
            struct target *t = &w->t[i];
            if (t->ino == 0) t->ino = cur_ino;
            if (t->ino == cur_ino) {
                struct stat st;
                if (fstat(cur, &st) == 0 && t->pos > (uint64_t)st.st_size) { /* truncated in place */
                    rlog(LOG_WARN, "webhook.truncated", "webhook %s: the events file was truncated: from its start",
                         t->url);
                    t->pos = 0;
                }
                if (now >= t->retry_at) progress |= drain(w, t, cur);
            } else if (old >= 0 && t->ino == old_ino) {
                on_old = 1;
                if (now >= t->retry_at) progress |= drain(w, t, old);
                struct stat st;
                if (fstat(old, &st) == 0 && (uint64_t)st.st_size != old_size) old_size = (uint64_t)st.st_size,
                                                                                old_grew = now;
                if (t->pos >= old_size && now - old_grew >= ROTATE_SETTLE_S) {
                    t->ino = cur_ino;
                    t->pos = 0;
                    pos_save(t);
                }
            } else { /* a file this process never had open: rotated while stopped */
                t->ino = cur_ino;
                t->pos = 0;
                pos_save(t);
            }
        }
        if (old >= 0 && !on_old) {
            close(old);
            old = -1;
        }
        if (!progress) {
            struct timespec ts = {0, IDLE_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (cur >= 0) close(cur);
    if (old >= 0) close(old);
    return NULL;
}

struct webhook *webhook_start(const struct webhook_config *cfg, struct rerr *e) {
    struct webhook *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    snprintf(w->events_path, sizeof(w->events_path), "%s", cfg->events_path);
    w->cfg.events_path = w->events_path;
    if (w->cfg.timeout_s <= 0) w->cfg.timeout_s = 10;
    char why[200];
    if (!split(cfg->urls, w->t, &w->n, why, sizeof(why))) {
        rerr_set(e, "webhook-url: %s", why);
        free(w);
        return NULL;
    }
    for (int i = 0; i < w->n; i++) {
        uint8_t h[32];
        SHA256((const uint8_t *)w->t[i].url, strlen(w->t[i].url), h);
        snprintf(w->t[i].pos_path, sizeof(w->t[i].pos_path), "%s/webhook-%02x%02x%02x%02x%02x%02x.pos", cfg->dir, h[0],
                 h[1], h[2], h[3], h[4], h[5]);
        pos_load(&w->t[i], w->events_path);
    }
    w->ctx = SSL_CTX_new(TLS_client_method());
    int ok = w->ctx != NULL && SSL_CTX_set_min_proto_version(w->ctx, TLS1_2_VERSION);
    if (ok && cfg->ca_file != NULL) ok = SSL_CTX_load_verify_locations(w->ctx, cfg->ca_file, NULL) == 1;
    else if (ok) ok = SSL_CTX_set_default_verify_paths(w->ctx) == 1;
    if (!ok) {
        rerr_ssl(e, "webhook-ca %s: cannot be loaded", cfg->ca_file ? cfg->ca_file : "(the system's)");
        SSL_CTX_free(w->ctx);
        free(w);
        return NULL;
    }
    SSL_CTX_set_verify(w->ctx, SSL_VERIFY_PEER, NULL);
    int rc = pthread_create(&w->thread, NULL, run, w);
    if (rc == 0) pthread_setname_np(w->thread, "revd-webhook"); /* for top -H */
    if (rc != 0) {
        rerr_set(e, "cannot start the webhook thread: %s", strerror(rc));
        SSL_CTX_free(w->ctx);
        free(w);
        return NULL;
    }
    return w;
}

void webhook_stats(const struct webhook *w, uint64_t *sent, uint64_t *failed) {
    *sent = w ? atomic_load(&w->sent) : 0;
    *failed = w ? atomic_load(&w->failed) : 0;
}

void webhook_stop(struct webhook *w) {
    if (w == NULL) return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    SSL_CTX_free(w->ctx);
    free(w);
}
