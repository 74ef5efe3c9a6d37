/* tlshttp: an HTTPS server with connection caps, deadlines and a
 * descriptor reserve (node/tlshttp.h). */
#include "node/tlshttp.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "common/log.h"

/* accept() failed for want of descriptors or memory, or a connection was
 * past the descriptor reserve: the listener rests this long, instead of
 * spinning on a listening socket that stays readable. */
#define ACCEPT_BACKOFF_MS 100
/* The listen backlog: what waits in the kernel while the listener rests. */
#define TLSHTTP_BACKLOG 128
/* libevent accepts until the backlog is empty, before any admission check
 * runs: the listener stops after this many, so that a burst cannot take
 * more descriptors than this past the reserve before it is checked. */
#define ACCEPT_BURST 16
/* A request's head (request line and headers), at most. */
#define TLSHTTP_MAX_HEADERS (16 * 1024)

/* How it works: evhttp makes each connection's bufferevent through bevcb
 * (which also counts it and, at the cap, stops the listener), an admission
 * check runs as soon as evhttp has given it its descriptor (the address,
 * the reserve, the per-address cap), and a timer per connection holds its
 * deadline. A connection refused or past its deadline gets an error event
 * on its bufferevent, on which evhttp frees it: whatever it was doing (the
 * TLS handshake, a request head or body, an answer), it goes at once. */

/* One connection, counted from its accept until its descriptor is closed.
 * It hangs off its SSL (ex_data), whose free (at the bufferevent's
 * finalization, when libevent closes the descriptor) uncounts it: the one
 * end every connection has, whoever closed it. */
struct aconn {
    struct tlshttp *t;   /* NULL once tlshttp_free ran (the SSL may outlive it by a loop turn) */
    struct bufferevent *bev;
    struct event *timer; /* first the admission check, then the current deadline */
    char source[NI_MAXHOST]; /* what the per-source cap counts (source_key) */
    int checked, admitted, closing; /* the admission check ran; it passed; it is being closed */
    struct aconn *prev, *next;
};

struct tlshttp {
    struct event_base *base;
    char name[64], log_key[64], setting[64];
    const struct events *events; /* the log events' names (event_names) */
    void (*on_request)(struct evhttp_request *, void *);
    void *arg;
    struct evhttp *http;
    SSL_CTX *ctx;
    struct evconnlistener *lev; /* owned by http */
    struct event *resume;       /* the end of a backoff */
    struct tlshttp_limits lim;
    long fd_limit;              /* RLIMIT_NOFILE's soft limit */
    int paused, backing_off;    /* the listener is disabled; for a backoff */
    int unchecked;              /* connections accepted whose admission check has not run */
    struct aconn *conns;        /* every connection counted, newest first */
    int nconns;
    struct tlshttp_stats stats;
    struct tlshttp *next_live;  /* in live */
};

/* The servers listening, for the listener's error callback: libevent hands
 * it evhttp's argument (evhttp_bind_listener sets the listener's callback
 * and argument to evhttp's own), not ours, and struct evhttp does not give
 * its generic callback's argument back; the callback finds its server by
 * listener here. The lock is for servers on different threads' bases; each
 * server is used, and freed, only on its own base's thread, so the one
 * found stays valid after the lock is let go. conn_idx is set under it
 * too, once. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tlshttp *live;
static int conn_idx = -1; /* SSL ex_data index of a struct aconn */

/* The log events' names, "<log_key>.<what>": rlog keeps the name's
 * pointer (its rate limit counts lines per name), so the names live as
 * long as the process, here, one row per log_key, set under live_lock. */
enum ev { EV_ACCEPT_FAILED, EV_REFUSED_FDS, EV_REFUSED_SOURCE, EV_OUT_OF_MEMORY, EV_NUM };
static const char *const ev_what[EV_NUM] = {"accept_failed", "refused_fds", "refused_source", "out_of_memory"};
#define LOG_KEYS_MAX 16
struct events {
    char key[32];
    char name[EV_NUM][48];
};
static struct events log_keys[LOG_KEYS_MAX];

/* event_names: log_key's row (made if new), or NULL when log_key is too
 * long or the table is full. Under live_lock. */
static const struct events *event_names(const char *log_key) {
    if (log_key[0] == '\0' || strlen(log_key) >= sizeof(log_keys[0].key)) return NULL;
    for (int i = 0; i < LOG_KEYS_MAX; i++) {
        if (log_keys[i].key[0] == '\0') {
            snprintf(log_keys[i].key, sizeof(log_keys[i].key), "%s", log_key);
            for (int k = 0; k < EV_NUM; k++)
                snprintf(log_keys[i].name[k], sizeof(log_keys[i].name[k]), "%s.%s", log_key, ev_what[k]);
        }
        if (strcmp(log_keys[i].key, log_key) == 0) return &log_keys[i];
    }
    return NULL;
}

/* tlog logs event ev ("<log_key>.<what>") with the message "<name>: ...". */
__attribute__((format(printf, 4, 5))) static void tlog(const struct tlshttp *t, enum log_level level, enum ev ev,
                                                       const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rlog(level, t->events->name[ev], "%s: %s", t->name, msg);
}

static void listener_pause(struct tlshttp *t) {
    if (t->paused) return;
    evconnlistener_disable(t->lev);
    t->paused = 1;
}

static void listener_resume(struct tlshttp *t) {
    if (!t->paused || t->backing_off || t->nconns >= t->lim.max_conns || t->unchecked >= ACCEPT_BURST) return;
    evconnlistener_enable(t->lev);
    t->paused = 0;
}

static void backoff(struct tlshttp *t) {
    listener_pause(t);
    if (t->backing_off) return;
    t->backing_off = 1;
    struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};
    evtimer_add(t->resume, &tv);
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
    struct tlshttp *t = arg;
    t->backing_off = 0;
    listener_resume(t);
}

/* accept() failed and would fail again at once (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM...; libevent retries EAGAIN, EINTR and ECONNABORTED itself). */
static void on_accept_error(struct evconnlistener *lev, void *arg) {
    int err = EVUTIL_SOCKET_ERROR();
    struct tlshttp *t;
    pthread_mutex_lock(&live_lock);
    for (t = live; t != NULL && t->lev != lev; t = t->next_live) {}
    pthread_mutex_unlock(&live_lock);
    if (t == NULL) return;
    t->stats.accept_failures++;
    tlog(t, LOG_WARN, EV_ACCEPT_FAILED, "accept failed: %s; the listener rests %d ms",
         evutil_socket_error_to_string(err), ACCEPT_BACKOFF_MS);
    backoff(t);
}

/* conn_kill closes c now (evhttp frees it on the error event). When
 * evhttp has let go of the bufferevent already (bufferevent_free clears
 * its callbacks; the SSL, and so c, goes a little later, when libevent
 * finalizes it), there is nothing to trigger: its closing is under way. */
static void conn_kill(struct aconn *c) {
    if (c->closing) return;
    c->closing = 1;
    event_del(c->timer);
    bufferevent_event_cb ecb = NULL;
    bufferevent_getcb(c->bev, NULL, NULL, &ecb, NULL);
    if (ecb != NULL) bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING, 0);
}

/* conn_deadline: c must be done with what it does now within s seconds. */
static void conn_deadline(struct aconn *c, int s) {
    struct timeval tv = {s, 0};
    if (!c->closing) evtimer_add(c->timer, &tv);
}

/* The SSL's free: the descriptor is closed; c is uncounted and freed. */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    struct aconn *c = ptr;
    if (c == NULL) return;
    if (c->timer != NULL) event_free(c->timer);
    struct tlshttp *t = c->t;
    if (t != NULL) {
        if (!c->checked) t->unchecked--;
        if (c->prev != NULL) c->prev->next = c->next;
        else t->conns = c->next;
        if (c->next != NULL) c->next->prev = c->prev;
        t->nconns--;
        listener_resume(t);
    }
    free(c);
}

/* source_key writes what the per-source cap counts for a peer: an IPv4
 * address (also one mapped into IPv6), or an IPv6 address's /64, since
 * any IPv6 client holds a whole /64 and could use a new address for each
 * connection. 1, or 0 when the address is of no known family. */
static int source_key(const struct sockaddr_storage *ss, char *out, size_t out_len) {
    if (ss->ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)out_len) != NULL;
    if (ss->ss_family != AF_INET6) return 0;
    struct in6_addr a = ((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) return inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)out_len) != NULL;
    memset(&a.s6_addr[8], 0, 8);
    char host[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, &a, host, sizeof(host)) != NULL && snprintf(out, out_len, "%s/64", host) < (int)out_len;
}

/* admit: the checks that need the connection's descriptor, run once
 * evhttp has given it. */
static void admit(struct aconn *c) {
    struct tlshttp *t = c->t;
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 || !source_key(&ss, c->source, sizeof(c->source)))
        return conn_kill(c); /* gone already */
    /* evhttp over TLS writes an answer's head and body as two records:
     * with Nagle's algorithm the second waits for the client's delayed ACK
     * (about 40 ms a request, measured by bench/acme.sh). */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Descriptors are numbered lowest free first: one past the line means
     * fewer than fd_reserve are left to the rest of the process (the
     * control socket, the index, the CRL files). (No client address here:
     * docs/config.md.) */
    if ((long)fd >= t->fd_limit - t->lim.fd_reserve) {
        t->stats.refused_fds++;
        tlog(t, LOG_WARN, EV_REFUSED_FDS, "a connection refused: descriptor %d is past the reserve "
             "(open-file limit %ld, fd-reserve %d; %d %s connections open); the listener rests %d ms",
             (int)fd, t->fd_limit, t->lim.fd_reserve, t->nconns - 1, t->log_key, ACCEPT_BACKOFF_MS);
        backoff(t);
        return conn_kill(c);
    }
    if (t->nconns > t->lim.max_conns) { /* the cap was lowered by a reload */
        t->stats.refused_total++;
        return conn_kill(c);
    }
    int same = 0;
    for (struct aconn *d = t->conns; d != NULL; d = d->next)
        if (d != c && d->admitted && !d->closing && strcmp(d->source, c->source) == 0) same++;
    if (same >= t->lim.max_conns_per_source) {
        t->stats.refused_source++;
        tlog(t, LOG_WARN, EV_REFUSED_SOURCE, "a connection refused: %d open from its address "
             "(%s-max-conns-per-source)", same, t->log_key);
        return conn_kill(c);
    }
    c->admitted = 1;
    conn_deadline(c, t->lim.handshake_timeout_s);
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg) {
    struct aconn *c = arg;
    struct tlshttp *t = c->t;
    if (t == NULL) return;
    if (!c->checked) {
        c->checked = 1;
        t->unchecked--;
        admit(c);
        listener_resume(t);
        return;
    }
    t->stats.deadline_closed++;
    conn_kill(c);
}

SSL *tlshttp_ssl(struct evhttp_request *req) {
    struct evhttp_connection *conn = req != NULL ? evhttp_request_get_connection(req) : NULL;
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    return bev ? bufferevent_openssl_get_ssl(bev) : NULL; /* NULL for a bufferevent that is not OpenSSL's */
}

/* conn_of: the connection a request came on; NULL if none is counted. */
static struct aconn *conn_of(struct evhttp_request *req) {
    SSL *ssl = tlshttp_ssl(req);
    return ssl ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

/* on_request: the request is in whole: from now, its answer must be sent
 * and the next request read within the request deadline. */
static void on_request(struct evhttp_request *req, void *arg) {
    struct tlshttp *t = arg;
    struct aconn *c = conn_of(req);
    if (c != NULL) conn_deadline(c, t->lim.request_timeout_s);
    t->on_request(req, t->arg);
}

/* bevcb: evhttp accepted a connection and asks for its bufferevent (its
 * descriptor comes right after). NULL would make evhttp speak plain HTTP
 * on it; that happens only out of memory, and tlshttp_ssl is NULL for its
 * requests (the admin API refuses them, as it refuses any request without
 * a client certificate). */
static struct bufferevent *bevcb(struct event_base *base, void *arg) {
    struct tlshttp *t = arg;
    struct aconn *c = calloc(1, sizeof(*c));
    SSL *ssl = c != NULL ? SSL_new(t->ctx) : NULL;
    if (ssl == NULL || (c->timer = evtimer_new(base, on_conn_timer, c)) == NULL ||
        !SSL_set_ex_data(ssl, conn_idx, c)) {
        if (c != NULL && c->timer != NULL) event_free(c->timer);
        free(c);
        SSL_free(ssl);
        tlog(t, LOG_WARN, EV_OUT_OF_MEMORY, "out of memory for a new connection");
        return NULL;
    }
    /* From here the SSL owns c: freeing it frees c (conn_gone). */
    c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        tlog(t, LOG_WARN, EV_OUT_OF_MEMORY, "out of memory for a new connection");
        return NULL;
    }
    c->t = t;
    c->next = t->conns;
    if (t->conns != NULL) t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    t->unchecked++;
    if (t->nconns >= t->lim.max_conns || t->unchecked >= ACCEPT_BURST)
        listener_pause(t); /* the next wait in the kernel's queue */
    event_active(c->timer, EV_TIMEOUT, 0); /* admit, once evhttp has set its descriptor */
    return c->bev;
}

void tlshttp_set_limits(struct tlshttp *t, const struct tlshttp_limits *lim) {
    t->lim = *lim;
    struct rlimit rl;
    t->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < LONG_MAX
                      ? (long)rl.rlim_cur
                      : LONG_MAX;
    evhttp_set_timeout(t->http, t->lim.request_timeout_s);
    if (t->nconns >= t->lim.max_conns) listener_pause(t);
    else listener_resume(t);
}

void tlshttp_set_ctx(struct tlshttp *t, SSL_CTX *ctx) {
    /* Each open connection's SSL holds a reference to its own context. */
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
}

void tlshttp_stats(const struct tlshttp *t, struct tlshttp_stats *out) {
    *out = t->stats;
    out->open = (unsigned long long)t->nconns;
}

/* listen_addr resolves listen ("ADDRESS:PORT", "[V6]:PORT") into *out_ai
 * (freeaddrinfo it). 1, or 0 with e set. */
static int listen_addr(const char *setting, const char *listen, struct addrinfo **out_ai, struct rerr *e) {
    char host[128];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host) || *end != '\0' || port < 1 ||
        port > 65535)
        return rerr_set(e, "%s '%s': expected ADDRESS:PORT (127.0.0.1:8443)", setting, listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%ld", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(host, portstr, &hints, out_ai);
    if (gai != 0) return rerr_set(e, "%s %s: %s", setting, listen, gai_strerror(gai));
    return 1;
}

/* bind_listener makes t's listener (our own, not evhttp's, which would
 * hide it, so that it can rest), made disabled, and gives it to evhttp.
 * 1, or 0 with e set. */
static int bind_listener(struct tlshttp *t, const char *listen, struct rerr *e) {
    struct addrinfo *ai = NULL;
    if (!listen_addr(t->setting, listen, &ai, e)) return 0;
    t->lev = evconnlistener_new_bind(t->base, NULL, NULL,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                         LEV_OPT_DISABLED,
                                     TLSHTTP_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    int err = errno;
    freeaddrinfo(ai);
    if (t->lev == NULL) return rerr_set(e, "%s %s: cannot listen: %s", t->setting, listen, strerror(err));
    if (evhttp_bind_listener(t->http, t->lev) == NULL) {
        evconnlistener_free(t->lev);
        t->lev = NULL;
        return rerr_set(e, "out of memory");
    }
    evconnlistener_set_error_cb(t->lev, on_accept_error);
    t->paused = 1; /* made disabled: tlshttp_set_limits enables it */
    return 1;
}

struct tlshttp *tlshttp_start(struct event_base *base, const char *name, const char *log_key, const char *setting,
                              const char *listen, SSL_CTX *ctx, const struct tlshttp_limits *lim, size_t max_body,
                              int methods, void (*on_request_cb)(struct evhttp_request *, void *), void *arg,
                              struct rerr *e) {
    struct tlshttp *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        SSL_CTX_free(ctx);
        rerr_set(e, "out of memory");
        return NULL;
    }
    t->base = base;
    t->ctx = ctx;
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->log_key, sizeof(t->log_key), "%s", log_key);
    snprintf(t->setting, sizeof(t->setting), "%s", setting);
    t->on_request = on_request_cb;
    t->arg = arg;
    pthread_mutex_lock(&live_lock);
    if (conn_idx < 0) conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
    int idx_ok = conn_idx >= 0;
    t->events = event_names(t->log_key);
    pthread_mutex_unlock(&live_lock);
    if (t->events == NULL) {
        rerr_set(e, "%s: log key '%s': too long, or more than %d keys", t->name, log_key, LOG_KEYS_MAX);
        tlshttp_free(t);
        return NULL;
    }
    if (!idx_ok || (t->http = evhttp_new(base)) == NULL || (t->resume = evtimer_new(base, on_resume, t)) == NULL) {
        rerr_set(e, "out of memory");
        tlshttp_free(t);
        return NULL;
    }
    evhttp_set_bevcb(t->http, bevcb, t);
    evhttp_set_gencb(t->http, on_request, t);
    evhttp_set_max_body_size(t->http, (ev_ssize_t)max_body);
    evhttp_set_max_headers_size(t->http, TLSHTTP_MAX_HEADERS);
    evhttp_set_allowed_methods(t->http, methods); /* ev_uint16_t in 2.1, wider in 2.2 */
    if (!bind_listener(t, listen, e)) {
        tlshttp_free(t);
        return NULL;
    }
    pthread_mutex_lock(&live_lock);
    t->next_live = live;
    live = t;
    pthread_mutex_unlock(&live_lock);
    tlshttp_set_limits(t, lim);
    return t;
}

void tlshttp_free(struct tlshttp *t) {
    if (t == NULL) return;
    pthread_mutex_lock(&live_lock);
    for (struct tlshttp **p = &live; *p != NULL; p = &(*p)->next_live)
        if (*p == t) {
            *p = t->next_live;
            break;
        }
    pthread_mutex_unlock(&live_lock);
    /* The connections' SSLs are freed when libevent finalizes them, maybe
     * after this: they forget t (conn_gone then only frees them). */
    for (struct aconn *c = t->conns, *next; c != NULL; c = next) {
        next = c->next;
        c->t = NULL;
        event_free(c->timer);
        c->timer = NULL;
    }
    t->conns = NULL;
    if (t->resume != NULL) event_free(t->resume);
    if (t->http != NULL) evhttp_free(t->http);
    SSL_CTX_free(t->ctx);
    free(t);
}

const char *tlshttp_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 422: return "Unprocessable Content";
    case 500: return "Internal Server Error";
    }
    return "Status";
}
