/* Unit tests of acme/validate: http-01, dns-01 and tls-alpn-01 against
 * servers this file runs on threads, bound to 127.0.0.1 ephemeral ports: an
 * HTTP server (behaviour chosen by the token), a UDP DNS responder (a fixed
 * zone below) and a TLS server with ALPN acme-tls/1 (certificate chosen by
 * the test). The resolver validation asks is the responder, so the names
 * here (*.test) never leave the machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "acme/validate.h"
#include "acme/vtls.h"

#define THUMB "Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHg"

static atomic_int stop;
static int http_port, dns_port, tls_port;
static pthread_t http_thr, dns_thr, tls_thr;
static int http_fd = -1, dns_fd = -1, tls_fd = -1;
static atomic_int loop_hits; /* requests for the "loop" token */

static void ka(const char *token, char *out, size_t cap) { snprintf(out, cap, "%s." THUMB, token); }

/* base64url(SHA-256(token "." THUMB)), as a dns-01 TXT record holds it. */
static void ka_digest_b64(const char *token, char *out) {
    char k[256];
    uint8_t md[32];
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ka(token, k, sizeof(k));
    SHA256((const uint8_t *)k, strlen(k), md);
    size_t o = 0;
    for (size_t i = 0; i < 32; i += 3) {
        uint32_t v = (uint32_t)md[i] << 16 | (i + 1 < 32 ? (uint32_t)md[i + 1] << 8 : 0) | (i + 2 < 32 ? md[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        if (i + 1 < 32) out[o++] = a[v >> 6 & 63];
        if (i + 2 < 32) out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

static int bind_local(int type, int *out_port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) abort();
    if (type == SOCK_STREAM && listen(fd, 64) != 0) abort();
    getsockname(fd, (struct sockaddr *)&a, &al);
    *out_port = ntohs(a.sin_port);
    return fd;
}

/* Waits for fd readable, checking the stop flag every 100 ms: 1 readable, 0 stop. */
static int wait_readable(int fd) {
    while (!atomic_load(&stop)) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) return 1;
    }
    return 0;
}

/* ---- the HTTP server ------------------------------------------------------ */

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int code, const char *extra, const char *body) {
    char h[1024];
    int n = snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s", code,
                     strlen(body), extra, body);
    send_all(fd, h, (size_t)n);
}

/* One connection: the token picks the answer. */
static void *http_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char req[4096], token[200] = "", body[512];
    size_t len = 0;
    req[0] = '\0';
    while (len < sizeof(req) - 1 && strstr(req, "\r\n\r\n") == NULL) {
        ssize_t r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        req[len] = '\0';
    }
    req[len] = '\0';
    sscanf(req, "GET /.well-known/acme-challenge/%199[A-Za-z0-9_-] ", token);
    if (strcmp(token, "good") == 0 || strcmp(token, "redirok") == 0) {
        ka(strcmp(token, "good") == 0 ? "good" : "redir", body, sizeof(body));
        strcat(body, " \r\n"); /* trailing whitespace is trimmed */
        reply(fd, 200, "", body);
    } else if (strcmp(token, "wrong") == 0) {
        reply(fd, 200, "", "wrong.not-the-thumbprint");
    } else if (strcmp(token, "loop") == 0) {
        atomic_fetch_add(&loop_hits, 1);
        reply(fd, 302, "Location: /.well-known/acme-challenge/loop\r\n", "");
    } else if (strcmp(token, "redir") == 0) {
        /* no port: 80, which validation maps to http_port */
        reply(fd, 302, "Location: http://www.a.test/.well-known/acme-challenge/redirok\r\n", "");
    } else if (strcmp(token, "badport") == 0) {
        reply(fd, 302, "Location: http://127.0.0.1:1/.well-known/acme-challenge/good\r\n", "");
    } else if (strcmp(token, "ftp") == 0) {
        reply(fd, 302, "Location: ftp://127.0.0.1/.well-known/acme-challenge/good\r\n", "");
    } else if (strcmp(token, "tlsredir") == 0) {
        /* https, no port: 443, mapped to tls_port, whose server answers HTTP when ALPN is not acme-tls/1 */
        reply(fd, 302, "Location: https://127.0.0.1/.well-known/acme-challenge/tlsredir\r\n", "");
    } else if (strcmp(token, "huge") == 0) {
        static char chunk[16384];
        memset(chunk, 'a', sizeof(chunk));
        send_all(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 38);
        for (int i = 0; i < 64; i++) send_all(fd, chunk, sizeof(chunk)); /* 1 MiB, no length */
    } else if (strcmp(token, "slow") == 0) {
        char c;
        while (recv(fd, &c, 1, 0) > 0) {} /* never answers; ends when the client gives up */
    } else {
        reply(fd, 404, "", "not found");
    }
    close(fd);
    return NULL;
}

static void *http_main(void *arg) {
    while (wait_readable(http_fd)) {
        int c = accept(http_fd, NULL, NULL);
        if (c < 0) continue;
        pthread_t t;
        pthread_create(&t, NULL, http_conn, (void *)(intptr_t)c);
        pthread_detach(t);
    }
    return NULL;
}

/* ---- the DNS responder ---------------------------------------------------- */

struct zrec {
    const char *name;
    int type;
    const char *value; /* TXT: the value ("|" splits character-strings); CNAME: the target; A: the address */
};
static char digest_tok[48];
static struct zrec zone[16];

static void zone_init(void) {
    ka_digest_b64("tok", digest_tok);
    static char split[64];
    snprintf(split, sizeof(split), "%.10s|%s", digest_tok, digest_tok + 10);
    struct zrec z[] = {
        {"_acme-challenge.ok.test", ns_t_txt, digest_tok},
        {"_acme-challenge.bad.test", ns_t_txt, "not-the-digest"},
        {"_acme-challenge.multi.test", ns_t_txt, "first-wrong-value"},
        {"_acme-challenge.multi.test", ns_t_txt, split},
        {"_acme-challenge.a.test", ns_t_cname, "x.b.test"},
        {"x.b.test", ns_t_txt, digest_tok},
        {"_acme-challenge.loop.test", ns_t_cname, "_acme-challenge.loop.test"},
        {"_acme-challenge.notxt.test", ns_t_a, "127.0.0.1"},
        {"www.a.test", ns_t_a, "127.0.0.1"},
        {"tls.test", ns_t_a, "127.0.0.1"},
    };
    memcpy(zone, z, sizeof(z));
}

static size_t put_name(uint8_t *p, const char *name) {
    size_t o = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[o++] = (uint8_t)l;
        memcpy(p + o, name, l);
        o += l;
        name += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    return o;
}

/* One record for owner at offset 12 (the question's name), compressed. */
static size_t put_rr(uint8_t *p, const struct zrec *z) {
    size_t o = 0;
    p[o++] = 0xc0, p[o++] = 12;
    p[o++] = 0, p[o++] = (uint8_t)z->type, p[o++] = 0, p[o++] = 1;
    p[o++] = 0, p[o++] = 0, p[o++] = 0, p[o++] = 60;
    uint8_t *rdlen = p + o;
    o += 2;
    size_t start = o;
    if (z->type == ns_t_a) {
        inet_pton(AF_INET, z->value, p + o);
        o += 4;
    } else if (z->type == ns_t_cname) {
        o += put_name(p + o, z->value);
    } else {
        const char *s = z->value;
        for (;;) {
            const char *bar = strchr(s, '|');
            size_t l = bar ? (size_t)(bar - s) : strlen(s);
            p[o++] = (uint8_t)l;
            memcpy(p + o, s, l);
            o += l;
            if (!bar) break;
            s = bar + 1;
        }
    }
    rdlen[0] = (uint8_t)((o - start) >> 8), rdlen[1] = (uint8_t)(o - start);
    return o;
}

/* The answer to one query (q[0..n)) into a, its length. */
static size_t answer(const uint8_t *q, size_t n, uint8_t *a) {
    char name[256];
    size_t pos = 12, no = 0;
    if (n < 17) return 0;
    while (pos < n && q[pos] != 0 && q[pos] < 64 && pos + 1 + q[pos] < n && no + q[pos] + 2 < sizeof(name)) {
        if (no) name[no++] = '.';
        memcpy(name + no, q + pos + 1, q[pos]);
        no += q[pos];
        pos += 1 + q[pos];
    }
    name[no] = '\0';
    if (pos + 5 > n || q[pos] != 0) return 0;
    int qtype = q[pos + 1] << 8 | q[pos + 2];
    size_t qend = pos + 5, num = 0, o = qend, exists = 0;
    memcpy(a, q, qend);
    for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]) && zone[i].name; i++) {
        if (strcasecmp(zone[i].name, name) != 0) continue;
        exists = 1;
        if (zone[i].type == qtype || zone[i].type == ns_t_cname) {
            o += put_rr(a + o, &zone[i]);
            num++;
        }
    }
    a[2] = 0x81, a[3] = exists ? 0x80 : 0x83; /* QR RD, RA; NOERROR or NXDOMAIN */
    a[4] = 0, a[5] = 1, a[6] = 0, a[7] = (uint8_t)num;
    memset(a + 8, 0, 4);
    return o;
}

static void *dns_main(void *arg) {
    uint8_t q[512], a[2048];
    while (wait_readable(dns_fd)) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(dns_fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
        if (n <= 0) continue;
        size_t al = answer(q, (size_t)n, a);
        if (al > 0) sendto(dns_fd, a, al, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

/* ---- the TLS server ------------------------------------------------------- */

static EVP_PKEY *tls_key;
static X509 *tls_cert;          /* the certificate the next handshake shows */
static atomic_int tls_no_alpn;  /* 1: the server does not agree ALPN */
static pthread_mutex_t sni_mu = PTHREAD_MUTEX_INITIALIZER;
static char sni_seen[256];

static int on_alpn(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg) {
    if (atomic_load(&tls_no_alpn)) return SSL_TLSEXT_ERR_NOACK;
    if (inlen == 11 && memcmp(in, "\x0a" "acme-tls/1", 11) == 0) {
        *out = in + 1;
        *outlen = 10;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; /* an HTTPS client (http-01 redirected): no ALPN, HTTP/1.1 */
}

static int on_sni(SSL *s, int *al, void *arg) {
    const char *n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    pthread_mutex_lock(&sni_mu);
    snprintf(sni_seen, sizeof(sni_seen), "%s", n ? n : "");
    pthread_mutex_unlock(&sni_mu);
    return SSL_TLSEXT_ERR_OK;
}

static void *tls_main(void *arg) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_sni);
    while (wait_readable(tls_fd)) {
        int c = accept(tls_fd, NULL, NULL);
        if (c < 0) continue;
        struct timeval tv = {5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        SSL *s = SSL_new(ctx);
        SSL_use_certificate(s, tls_cert);
        SSL_use_PrivateKey(s, tls_key);
        SSL_set_fd(s, c);
        if (SSL_accept(s) == 1) {
            const unsigned char *sel = NULL;
            unsigned sel_len = 0;
            char b[2048];
            SSL_get0_alpn_selected(s, &sel, &sel_len);
            if (sel_len == 0 && SSL_read(s, b, sizeof(b)) > 0) { /* https: the http-01 answer */
                static const char rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 52\r\nConnection: close\r\n\r\n"
                                          "tlsredir." THUMB;
                SSL_write(s, rsp, (int)sizeof(rsp) - 1);
                SSL_shutdown(s);
            } else {
                SSL_read(s, b, 1); /* until the client closes */
            }
        }
        SSL_free(s);
        ERR_clear_error();
        close(c);
    }
    SSL_CTX_free(ctx);
    return NULL;
}

/* A self-signed certificate: san (X509V3 syntax), and the acmeIdentifier
 * extension over token's key authorization (flip: one digest byte changed). */
static X509 *make_cert(const char *san, const char *token, int critical, int flip) {
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"acme", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, tls_key);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    char k[256];
    uint8_t der[34] = {0x04, 0x20};
    ka(token, k, sizeof(k));
    SHA256((const uint8_t *)k, strlen(k), der + 2);
    der[33] ^= (uint8_t)flip;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, der, sizeof(der));
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    e = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, os);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(os);
    X509_sign(x, tls_key, EVP_sha256());
    return x;
}

/* ---- setup ---------------------------------------------------------------- */

static int setup(void **state) {
    signal(SIGPIPE, SIG_IGN); /* as revd does (node/ctl.c): a peer that hangs up is no signal */
    zone_init();
    tls_key = EVP_EC_gen("P-256");
    tls_cert = make_cert("DNS:tls.test", "tok", 1, 0);
    http_fd = bind_local(SOCK_STREAM, &http_port);
    dns_fd = bind_local(SOCK_DGRAM, &dns_port);
    tls_fd = bind_local(SOCK_STREAM, &tls_port);
    pthread_create(&http_thr, NULL, http_main, NULL);
    pthread_create(&dns_thr, NULL, dns_main, NULL);
    pthread_create(&tls_thr, NULL, tls_main, NULL);
    return 0;
}

static int teardown(void **state) {
    atomic_store(&stop, 1);
    pthread_join(http_thr, NULL);
    pthread_join(dns_thr, NULL);
    pthread_join(tls_thr, NULL);
    close(http_fd);
    close(dns_fd);
    close(tls_fd);
    X509_free(tls_cert);
    EVP_PKEY_free(tls_key);
    return 0;
}

static struct acme_vconf conf(void) {
    struct acme_vconf c = {http_port, tls_port, "", 3000, 5, 8192};
    snprintf(c.resolver, sizeof(c.resolver), "127.0.0.1:%d", dns_port);
    return c;
}

static struct acme_vresult last; /* the last run's result */

/* 1 when the last run's detail mentions what. */
static int said(const char *what) { return strstr(last.detail, what) != NULL; }

/* Validates and returns the problem ("" when valid). */
static const char *run(const struct acme_vconf *c, enum acme_chal_type t, const char *id_type, const char *id,
                       const char *token) {
    struct acme_vresult r;
    char k[256];
    ka(token, k, sizeof(k));
    memset(&r, 0, sizeof(r));
    int ok = acme_validate(c, t, id_type, id, token, k, &r);
    last = r;
    if (ok) {
        assert_null(r.problem);
        return "";
    }
    assert_non_null(r.problem);
    assert_true(r.detail[0] != '\0');
    return r.problem;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- http-01 -------------------------------------------------------------- */

static void test_http_valid(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "good"), "");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "www.a.test", "good"), ""); /* A from the responder */
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "WWW.A.test", "good"), "");
}

static void test_http_wrong_and_404(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "wrong"), "incorrectResponse");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "missing"), "unauthorized");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "nx.a.test", "good"), "dns");
}

static void test_http_redirects(void **state) {
    struct acme_vconf c = conf();
    atomic_store(&loop_hits, 0);
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "loop"), "connection");
    assert_true(said("more than 5 redirects"));
    assert_int_equal(atomic_load(&loop_hits), c.max_redirects + 1); /* the first GET and max_redirects more */
    c.max_redirects = 0;
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "redir"), "connection");
    c.max_redirects = 1; /* to http://www.a.test/... (port 80: http_port), resolved by the responder */
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "redir"), "");
    /* to https on tls_port, a self-signed certificate: not verified (RFC 8555 8.3) */
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "tlsredir"), "");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "badport"), "connection");
    assert_true(said("port 1 "));
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "ftp"), "connection");
    assert_true(said("scheme"));
}

static void test_http_slow(void **state) {
    struct acme_vconf c = conf();
    c.timeout_ms = 500;
    int64_t t0 = now_ms();
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "slow"), "connection");
    assert_true(now_ms() - t0 < c.timeout_ms + 5000); /* it gives up: a generous bound, not a speed test */
}

static void test_http_huge(void **state) {
    struct acme_vconf c = conf();
    c.max_body = 100;
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "huge"), "incorrectResponse");
    assert_true(said("longer than 100 bytes"));
    /* a right answer over the cap fails too */
    c.max_body = 10;
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "good"), "incorrectResponse");
}

static void test_http_refused(void **state) {
    struct acme_vconf c = conf();
    int port = 0, fd = bind_local(SOCK_STREAM, &port);
    close(fd); /* nothing listens there now */
    c.http_port = port;
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "good"), "connection");
}

/* ---- dns-01 --------------------------------------------------------------- */

static void test_dns_valid(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "ok.test", "tok"), "");
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "*.ok.test", "tok"), "");   /* the base name */
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "multi.test", "tok"), ""); /* strings joined; one of two */
}

static void test_dns_wrong(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "bad.test", "tok"), "unauthorized");
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "ok.test", "other"), "unauthorized");
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "notxt.test", "tok"), "unauthorized");
}

static void test_dns_cname(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "a.test", "tok"), ""); /* x.b.test asked for */
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "loop.test", "tok"), "dns");
    assert_true(said("CNAME"));
}

static void test_dns_no_record(void **state) {
    struct acme_vconf c = conf();
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "nothing.test", "tok"), "dns");
    assert_true(said("NXDOMAIN"));
    int port = 0, fd = bind_local(SOCK_DGRAM, &port);
    close(fd); /* no resolver there */
    snprintf(c.resolver, sizeof(c.resolver), "127.0.0.1:%d", port);
    c.timeout_ms = 1000;
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "ok.test", "tok"), "dns");
    fd = bind_local(SOCK_DGRAM, &port); /* a resolver that never answers */
    snprintf(c.resolver, sizeof(c.resolver), "127.0.0.1:%d", port);
    int64_t t0 = now_ms();
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "dns", "a.test", "tok"), "dns");
    assert_true(said("timeout") || said("timed out"));
    assert_true(now_ms() - t0 < c.timeout_ms + 5000); /* it gives up: a generous bound, not a speed test */
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "www.a.test", "good"), "dns");
    close(fd);
}

/* ---- tls-alpn-01 ---------------------------------------------------------- */

static const char *tls_run(X509 *cert, int no_alpn, const char *id_type, const char *id) {
    struct acme_vconf c = conf();
    X509 *old = tls_cert;
    tls_cert = cert; /* the server thread is idle between tests */
    atomic_store(&tls_no_alpn, no_alpn);
    const char *p = run(&c, ACME_CHAL_TLSALPN01, id_type, id, "tok");
    tls_cert = old;
    atomic_store(&tls_no_alpn, 0);
    X509_free(cert);
    return p;
}

static void test_tls_valid(void **state) {
    assert_string_equal(tls_run(make_cert("DNS:tls.test", "tok", 1, 0), 0, "dns", "tls.test"), "");
    pthread_mutex_lock(&sni_mu);
    assert_string_equal(sni_seen, "tls.test");
    pthread_mutex_unlock(&sni_mu);
    assert_string_equal(tls_run(make_cert("DNS:TLS.Test", "tok", 1, 0), 0, "dns", "tls.test"), "");
}

static void test_tls_bad_cert(void **state) {
    assert_string_equal(tls_run(make_cert("DNS:tls.test", "tok", 1, 1), 0, "dns", "tls.test"), "unauthorized");
    assert_true(said("SHA-256"));
    assert_string_equal(tls_run(make_cert("DNS:tls.test", "other", 1, 0), 0, "dns", "tls.test"), "unauthorized");
    assert_true(said("SHA-256"));
    assert_string_equal(tls_run(make_cert("DNS:tls.test", "tok", 0, 0), 0, "dns", "tls.test"), "unauthorized");
    assert_true(said("not critical"));
    assert_string_equal(tls_run(make_cert("DNS:tls.test,DNS:other.test", "tok", 1, 0), 0, "dns", "tls.test"),
                        "unauthorized");
    assert_true(said("2 entries"));
    assert_string_equal(tls_run(make_cert("DNS:other.test", "tok", 1, 0), 0, "dns", "tls.test"), "unauthorized");
}

static void test_tls_no_alpn(void **state) {
    assert_string_equal(tls_run(make_cert("DNS:tls.test", "tok", 1, 0), 1, "dns", "tls.test"), "tls");
    assert_true(said("ALPN"));
}

static void test_tls_ip(void **state) {
    pthread_mutex_lock(&sni_mu);
    sni_seen[0] = '\0';
    pthread_mutex_unlock(&sni_mu);
    assert_string_equal(tls_run(make_cert("IP:127.0.0.1", "tok", 1, 0), 0, "ip", "127.0.0.1"), "");
    pthread_mutex_lock(&sni_mu);
    assert_string_equal(sni_seen, "1.0.0.127.in-addr.arpa");
    pthread_mutex_unlock(&sni_mu);
    assert_string_equal(tls_run(make_cert("IP:127.0.0.2", "tok", 1, 0), 0, "ip", "127.0.0.1"), "unauthorized");
    assert_string_equal(tls_run(make_cert("DNS:127.0.0.1", "tok", 1, 0), 0, "ip", "127.0.0.1"), "unauthorized");
}

/* ---- threads ------------------------------------------------------------ */

/* One worker: each challenge type once; the number that came out right. */
static void *worker(void *arg) {
    struct acme_vconf c = conf();
    struct acme_vresult r;
    char k[256];
    intptr_t right = 0;
    ka("good", k, sizeof(k));
    right += acme_validate(&c, ACME_CHAL_HTTP01, "dns", "www.a.test", "good", k, &r) == 1;
    right += acme_validate(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "wrong", "wrong.x", &r) == 0;
    ka("tok", k, sizeof(k));
    right += acme_validate(&c, ACME_CHAL_DNS01, "dns", "a.test", "tok", k, &r) == 1;
    right += acme_validate(&c, ACME_CHAL_DNS01, "dns", "bad.test", "tok", k, &r) == 0;
    right += acme_validate(&c, ACME_CHAL_TLSALPN01, "dns", "tls.test", "tok", k, &r) == 1;
    return (void *)right;
}

/* Validations on several threads at once (the resolver state, curl and the
 * TLS client are per call). */
static void test_threads(void **state) {
    pthread_t t[6];
    for (int i = 0; i < 6; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 6; i++) {
        void *right = NULL;
        pthread_join(t[i], &right);
        assert_int_equal((intptr_t)right, 5);
    }
}

/* ---- arguments and pure parts --------------------------------------------- */

static void test_args(void **state) {
    struct acme_vconf c = conf();
    struct acme_vresult r;
    char longtok[200];
    memset(longtok, 'a', 129);
    longtok[129] = '\0';
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "*.www.a.test", "good"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_DNS01, "ip", "127.0.0.1", "tok"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "a..test", "good"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "dns", "a/b.test", "good"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "300.0.0.1", "good"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "email", "x@y.test", "good"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "go/od"), "malformed");
    assert_string_equal(run(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", longtok), "malformed");
    assert_int_equal(acme_validate(&c, ACME_CHAL_HTTP01, "ip", "127.0.0.1", "good", "bad.THUMB", &r), 0);
    assert_string_equal(r.problem, "malformed");
}

static void test_resolver_ok(void **state) {
    struct rerr e;
    assert_int_equal(acme_vconf_resolver_ok("", &e), 1);
    assert_int_equal(acme_vconf_resolver_ok("127.0.0.1", &e), 1);
    assert_int_equal(acme_vconf_resolver_ok("10.0.0.53:5353", &e), 1);
    assert_int_equal(acme_vconf_resolver_ok("127.0.0.1:0", &e), 0);
    assert_int_equal(acme_vconf_resolver_ok("127.0.0.1:65536", &e), 0);
    assert_int_equal(acme_vconf_resolver_ok("127.0.0.1:", &e), 0);
    assert_int_equal(acme_vconf_resolver_ok("dns.test:53", &e), 0);
    assert_int_equal(acme_vconf_resolver_ok("::1", &e), 0);
    assert_true(strstr(e.msg, "acme-resolver") != NULL);
}

static void test_sni_names(void **state) {
    struct acme_vid id = {0};
    char s[80];
    id.is_ip = 1;
    id.ip.family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8::567:89ab", id.ip.a);
    acme_vtls_sni(&id, s, sizeof(s));
    /* RFC 8738 section 6's example */
    assert_string_equal(s, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

static void test_dns_parse_malformed(void **state) {
    struct acme_vdns_ans *ans = malloc(sizeof(*ans));
    uint8_t msg[512], q[64] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t ql = 12 + put_name(q + 12, "_acme-challenge.ok.test");
    q[ql++] = 0, q[ql++] = 16, q[ql++] = 0, q[ql++] = 1;
    size_t n = answer(q, ql, msg);
    assert_true(n > ql);
    assert_int_equal(acme_vdns_parse(msg, n, "_acme-challenge.ok.test", ns_t_txt, 8, ans), 1);
    assert_int_equal(ans->num_rr, 1);
    for (size_t cut = 0; cut < n; cut++) /* every truncation is refused, none read past */
        assert_int_equal(acme_vdns_parse(msg, cut, "_acme-challenge.ok.test", ns_t_txt, 8, ans), 0);
    free(ans);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_valid),       cmocka_unit_test(test_http_wrong_and_404),
        cmocka_unit_test(test_http_redirects),   cmocka_unit_test(test_http_slow),
        cmocka_unit_test(test_http_huge),        cmocka_unit_test(test_http_refused),
        cmocka_unit_test(test_dns_valid),        cmocka_unit_test(test_dns_wrong),
        cmocka_unit_test(test_dns_cname),        cmocka_unit_test(test_dns_no_record),
        cmocka_unit_test(test_tls_valid),        cmocka_unit_test(test_tls_bad_cert),
        cmocka_unit_test(test_tls_no_alpn),      cmocka_unit_test(test_tls_ip),
        cmocka_unit_test(test_threads),          cmocka_unit_test(test_args),             cmocka_unit_test(test_resolver_ok),
        cmocka_unit_test(test_sni_names),        cmocka_unit_test(test_dns_parse_malformed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
