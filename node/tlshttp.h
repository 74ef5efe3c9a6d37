/* tlshttp: an HTTPS server (libevent's evhttp over OpenSSL bufferevents)
 * that unauthenticated clients cannot turn against the thread it runs on
 * or against the rest of the process: what the admin API (node/admin.c)
 * and the ACME server stand on, each on its own listener.
 *
 * libevent 2.1 has no connection cap (evhttp_set_max_connections came in
 * 2.2) and its timeouts restart on every byte, so tlshttp counts
 * connections itself: connections are capped in all and per source (an
 * IPv4 address, an IPv6 /64), each has deadlines that bytes do not extend
 * (the handshake and first request; each request's answer and the next
 * request), the listener leaves descriptors in reserve for the rest of the
 * process and backs off when accept() fails for want of descriptors or
 * memory, instead of spinning on a listener that stays readable. A
 * connection is counted from its accept until its descriptor is closed.
 * Past a cap the newest connection is closed at once (and, at the total
 * cap, the listener stops accepting until one closes): evicting an older
 * one instead would let a flood of new connections cut every handshake in
 * progress, a legitimate client's too, while the deadlines already bound
 * how long any connection holds its place.
 *
 * Ownership: tlshttp_start takes the SSL_CTX (freed by tlshttp_free, or
 * when tlshttp_set_ctx replaces it, or by tlshttp_start itself when it
 * fails); each open connection's SSL keeps its own reference. The event
 * base is the caller's and must outlive the tlshttp.
 *
 * Returns: tlshttp_start returns NULL with e set on failure (a message for
 * the user, naming the setting); the rest cannot fail.
 *
 * Thread: the thread that owns base (the CA-core thread for the admin API
 * and the ACME server), for every call and every callback. Several tlshttp
 * may run in one process, on one base or on several. */
#ifndef REVD_NODE_TLSHTTP_H
#define REVD_NODE_TLSHTTP_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "common/rerr.h"

struct tlshttp;
struct event_base;
struct evhttp_request;

/* The limits of one listener (for the admin API: the settings
 * admin-max-conns, admin-max-conns-per-source, admin-handshake-timeout,
 * admin-request-timeout, fd-reserve; docs/config.md). */
struct tlshttp_limits {
    int max_conns;            /* in all */
    int max_conns_per_source; /* per client address (an IPv6 /64) */
    int handshake_timeout_s;  /* from accept until the first request is read whole (TLS, head, body) */
    int request_timeout_s;    /* from a request until its answer is sent and the next one read whole */
    int fd_reserve;           /* descriptors left to the rest of the process: a connection whose descriptor is
                               * past RLIMIT_NOFILE - fd_reserve is refused */
};

/* Connections open now; refused at a cap (total, per source, the
 * descriptor reserve), closed at a deadline, accept() failures, since the
 * start. */
struct tlshttp_stats {
    unsigned long long open, refused_total, refused_source, refused_fds, deadline_closed, accept_failures;
};

/* tlshttp_start listens on listen ("127.0.0.1:8443", "[::1]:8443") and
 * serves HTTPS with ctx (taken, even on failure). name: what log lines say
 * ("admin API", "ACME server"); log_key: the prefix of the log events'
 * names ("admin" gives admin.accept_failed, admin.refused_fds,
 * admin.refused_source, admin.out_of_memory); setting: the setting that
 * errors name ("--admin-listen"). on_request(req, arg) is evhttp's generic
 * callback; before it runs, the connection's request deadline is set.
 * max_body: evhttp_set_max_body_size (evhttp answers 413 past it); methods:
 * evhttp_set_allowed_methods (EVHTTP_REQ_ bits). lim: not NULL (copied).
 * Returns the server, or NULL with e set. name and setting are copied
 * (each cut at 63 bytes); log_key is at most 31 bytes, and a process uses
 * at most 16 different ones (their event names are kept for the process's
 * life: common/log.h's rate limit holds on to them). */
struct tlshttp *tlshttp_start(struct event_base *base, const char *name, const char *log_key, const char *setting,
                              const char *listen, SSL_CTX *ctx, const struct tlshttp_limits *lim, size_t max_body,
                              int methods, void (*on_request)(struct evhttp_request *, void *), void *arg,
                              struct rerr *e);

/* tlshttp_set_limits applies new limits (SIGHUP) to the connections open
 * and to come; the descriptor limit (RLIMIT_NOFILE) is read again too. */
void tlshttp_set_limits(struct tlshttp *t, const struct tlshttp_limits *lim);

/* tlshttp_set_ctx: connections accepted from now use ctx (taken; the old
 * one is freed); those open keep theirs. */
void tlshttp_set_ctx(struct tlshttp *t, SSL_CTX *ctx);

/* tlshttp_stats fills out with t's counts. */
void tlshttp_stats(const struct tlshttp *t, struct tlshttp_stats *out);

/* tlshttp_ssl: the TLS connection req came on (get0: owned by the
 * connection, valid while req is), or NULL if none. */
SSL *tlshttp_ssl(struct evhttp_request *req);

/* tlshttp_free stops listening and closes every connection (their SSLs may
 * be freed a loop turn later, by libevent). NULL is accepted. */
void tlshttp_free(struct tlshttp *t);

/* tlshttp_phrase: the reason phrase of an HTTP status (RFC 9110). */
const char *tlshttp_phrase(int status);

#endif
