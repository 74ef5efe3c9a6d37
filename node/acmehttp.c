/* acmehttp: the ACME server's listener (node/acmehttp.h). */
#include "node/acmehttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "acme/server.h"
#include "ca/ca.h"
#include "common/log.h"
#include "node/tlshttp.h"

#define PURGE_EVERY_S 60

struct acmehttp {
    struct acme *acme;
    struct tlshttp *http;
    struct event *wake, *purge;
    char base_url[256];
    char cert[4096], key[4096]; /* acme-cert, acme-key, read again on SIGHUP */
};

static void send_resp(struct acmehttp *h, struct evhttp_request *req, struct acme_resp *rs) {
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char link[600];
    evhttp_add_header(out, "Replay-Nonce", rs->nonce);
    evhttp_add_header(out, "Cache-Control", "no-store");
    snprintf(link, sizeof(link), "<%s/acme/directory>;rel=\"index\"", h->base_url);
    evhttp_add_header(out, "Link", link);
    for (int i = 0; i < rs->nlinks; i++) evhttp_add_header(out, "Link", rs->link[i]);
    if (rs->location[0]) evhttp_add_header(out, "Location", rs->location);
    if (rs->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", rs->retry_after);
        evhttp_add_header(out, "Retry-After", ra);
    }
    if (rs->content_type != NULL) evhttp_add_header(out, "Content-Type", rs->content_type);
    struct evbuffer *buf = evbuffer_new();
    if (buf != NULL && rs->body != NULL) evbuffer_add(buf, rs->body, rs->len);
    evhttp_send_reply(req, rs->status, tlshttp_phrase(rs->status), buf);
    evbuffer_free(buf);
}

static void on_request(struct evhttp_request *req, void *arg) {
    struct acmehttp *h = arg;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *host = NULL, source[96];
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    snprintf(source, sizeof(source), "%s:%u", host ? host : "?", (unsigned)port);
    struct acme_req rq = {
        .method = m == EVHTTP_REQ_GET ? "GET" : m == EVHTTP_REQ_HEAD ? "HEAD" : m == EVHTTP_REQ_POST ? "POST" : "other",
        .path = path && strlen(path) < 512 ? path : "/",
        .content_type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type"),
        .body = n > 0 ? evbuffer_pullup(in, (ev_ssize_t)n) : (const uint8_t *)"",
        .len = n,
        .source = source,
    };
    struct acme_resp rs;
    acme_handle(h->acme, &rq, &rs);
    send_resp(h, req, &rs);
    free(rs.body);
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
    struct acmehttp *h = arg;
    acme_drain(h->acme);
}

static void on_purge(evutil_socket_t fd, short what, void *arg) {
    struct acmehttp *h = arg;
    size_t n = acme_purge(h->acme);
    if (n > 0) rlog(LOG_INFO, "acme.nonces_purged", "ACME: %zu expired nonce marks purged", n);
}

static SSL_CTX *make_ctx(const char *cert, const char *key, struct rerr *e) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        rerr_ssl(e, "cannot make a TLS context");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        rerr_ssl(e, "--acme-cert %s / --acme-key %s: the certificate chain or its key cannot be loaded", cert, key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    return ctx;
}

static void config_of(const struct settings *o, const char *base_url, struct acme_config *cf) {
    memset(cf, 0, sizeof(*cf));
    cf->base_url = base_url;
    cf->eab_required = !o->acme_eab_optional;
    cf->ca = o->acme_ca;
    cf->tmpl = o->acme_template ? o->acme_template : "server";
    cf->v.http_port = o->acme_http_port;
    cf->v.tls_port = o->acme_tls_port;
    snprintf(cf->v.resolver, sizeof(cf->v.resolver), "%s", o->acme_resolver ? o->acme_resolver : "");
    cf->v.timeout_ms = o->acme_validation_timeout * 1000;
    cf->v.max_redirects = 10;
    cf->v.max_body = 8192;
    cf->validation_threads = o->acme_validation_threads;
    cf->orders_per_hour = o->acme_orders_per_hour;
    cf->accounts_per_hour = o->acme_accounts_per_hour;
    cf->max_days = o->acme_max_days;
}

struct acmehttp *acmehttp_start(struct event_base *base, struct ca_core *core, const struct settings *o,
                                void (*changed)(void *arg, const char *what), void *arg, struct rerr *e) {
    if (o->acme_cert == NULL || o->acme_key == NULL) {
        rerr_set(e, "--acme-listen needs --acme-cert FILE and --acme-key FILE (its TLS certificate and key)");
        return NULL;
    }
    struct ca_info info;
    if (o->acme_ca != NULL && !ca_info_get(core, o->acme_ca, &info, e)) {
        rerr_set(e, "--acme-ca %.64s: no such CA in this data directory (revd ca list)", o->acme_ca);
        return NULL;
    }
    struct acmehttp *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    snprintf(h->cert, sizeof(h->cert), "%s", o->acme_cert);
    snprintf(h->key, sizeof(h->key), "%s", o->acme_key);
    if (o->acme_url != NULL) snprintf(h->base_url, sizeof(h->base_url), "%s", o->acme_url);
    else snprintf(h->base_url, sizeof(h->base_url), "https://%s", o->acme_listen);
    size_t bl = strlen(h->base_url);
    if (bl > 0 && h->base_url[bl - 1] == '/') h->base_url[bl - 1] = '\0';
    struct acme_config cf;
    config_of(o, h->base_url, &cf);
    cf.changed = changed;
    cf.changed_arg = arg;
    SSL_CTX *ctx = NULL;
    struct tlshttp_limits lim = {o->acme_max_conns, o->acme_max_conns_per_source, o->admin_limits.handshake_timeout_s,
                                 o->admin_limits.request_timeout_s, o->admin_limits.fd_reserve};
    if ((h->acme = acme_new(core, &cf, e)) == NULL || (ctx = make_ctx(h->cert, h->key, e)) == NULL ||
        (h->http = tlshttp_start(base, "ACME server", "acme", "--acme-listen", o->acme_listen, ctx, &lim,
                                 ACME_READ_MAX, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST, on_request,
                                 h, e)) == NULL) {
        acmehttp_free(h);
        return NULL;
    }
    h->wake = event_new(base, acme_fd(h->acme), EV_READ | EV_PERSIST, on_wake, h);
    h->purge = event_new(base, -1, EV_PERSIST, on_purge, h);
    struct timeval every = {PURGE_EVERY_S, 0};
    if (h->wake == NULL || h->purge == NULL || event_add(h->wake, NULL) != 0 || event_add(h->purge, &every) != 0) {
        rerr_set(e, "out of memory");
        acmehttp_free(h);
        return NULL;
    }
    return h;
}

int acmehttp_reload_cert(struct acmehttp *h, struct rerr *e) {
    SSL_CTX *ctx = make_ctx(h->cert, h->key, e);
    if (ctx == NULL) return 0;
    tlshttp_set_ctx(h->http, ctx);
    return 1;
}

void acmehttp_free(struct acmehttp *h) {
    if (h == NULL) return;
    if (h->wake != NULL) event_free(h->wake);
    if (h->purge != NULL) event_free(h->purge);
    tlshttp_free(h->http);
    acme_free(h->acme);
    free(h);
}
