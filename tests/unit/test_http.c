/* Unit tests of shard/http: HTTP/1.x request framing.
 *
 * Every call goes through parse_g(), which copies the input so that it ends
 * right before a PROT_NONE page (a read past len crashes the test), checks
 * that every view lies inside the copy, and moves the views back onto the
 * caller's string so they can be compared after the copy is unmapped.
 * Most checks also parse every prefix of the input (check_prefixes): each
 * must give AGAIN, or the very answer the whole input gives, as a shard
 * that receives the request a byte at a time would see it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shard/http.h"

/* An OCSP request from `openssl ocsp -issuer ca.pem -serial 0x1234 -reqout`
 * (SHA-1 CertID, no nonce), as POSTed; and its base64 for the GET form. It
 * holds bytes a text parser might trip on (0x00, 0x0a-like values, 0xff). */
static const uint8_t ocsp_req[] = {
  0x30, 0x43, 0x30, 0x41, 0x30, 0x3f, 0x30, 0x3d, 0x30, 0x3b, 0x30, 0x09,
  0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14, 0xb6,
  0x7b, 0x84, 0x6b, 0x32, 0x18, 0xef, 0xfc, 0x4f, 0xb8, 0xbe, 0x1c, 0x35,
  0xa3, 0xaf, 0x9f, 0x94, 0xe3, 0x9b, 0x18, 0x04, 0x14, 0x7f, 0x74, 0xe0,
  0xa3, 0x73, 0x06, 0x38, 0xe0, 0xd1, 0xca, 0x47, 0xb4, 0xe4, 0xcb, 0x04,
  0x45, 0xae, 0xe6, 0x7f, 0xfc, 0x02, 0x02, 0x12, 0x34
};
#define OCSP_GET_PATH \
    "/ocsp/MEMwQTA%2FMD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv%2FE%2B4vhw1o6%2BflOObGAQUf3Tgo3MGOODRyke05MsERa7mf%2FwCAhI0"

/* --- Guarded buffers ---------------------------------------------------- */

#include "tests/unit/guard.h"

/* --- Parsing helpers ---------------------------------------------------- */

/* A view p[0..n) of the copy at base (len bytes) lies inside it; moved onto
 * orig. NULL stays NULL (and then n is 0). */
static const void *rebase(const void *p, size_t n, const uint8_t *base, size_t len, const void *orig) {
    if (p == NULL) {
        assert_int_equal(n, 0);
        return NULL;
    }
    const uint8_t *q = p;
    assert_true(q >= base && q <= base + len);
    assert_true(n <= (size_t)(base + len - q));
    return (const uint8_t *)orig + (q - base);
}

/* http_parse(s[0..len)) on a guarded copy; the views are checked to be
 * inside the copy and moved onto s. */
static enum http_result parse_g(const void *s, size_t len, struct http_request *out) {
    struct guard g;
    guard_alloc(&g, len);
    if (len > 0) memcpy(g.p, s, len);
    memset(out, 0x5a, sizeof(*out));
    enum http_result res = http_parse(g.p, len, out);
    assert_true(res == HTTP_AGAIN || res == HTTP_DONE || res == HTTP_ERROR);
    if (res == HTTP_DONE) {
        assert_true(out->consumed > 0 && out->consumed <= len);
        assert_int_equal(out->error_status, 0);
        assert_non_null(out->target);
        /* The static "/" of an absolute-form target without a path stays. */
        if (!(out->target_len == 1 && out->target[0] == '/' &&
              ((const uint8_t *)out->target < g.p || (const uint8_t *)out->target >= g.p + len)))
            out->target = rebase(out->target, out->target_len, g.p, out->consumed, s);
        out->host = rebase(out->host, out->host_len, g.p, out->consumed, s);
        out->chunked = rebase(out->chunked, out->chunked_len, g.p, out->consumed, s);
        out->content_type = rebase(out->content_type, out->content_type_len, g.p, out->consumed, s);
        out->if_none_match = rebase(out->if_none_match, out->if_none_match_len, g.p, out->consumed, s);
        out->if_modified_since =
            rebase(out->if_modified_since, out->if_modified_since_len, g.p, out->consumed, s);
        out->body = rebase(out->body, out->body_len, g.p, out->consumed, s);
        /* The body is the end of what the request used. */
        if (out->body != NULL) assert_ptr_equal(out->body + out->body_len, (const uint8_t *)s + out->consumed);
        if (out->chunked != NULL) {
            assert_null(out->body);
            assert_ptr_equal(out->chunked + out->chunked_len, (const uint8_t *)s + out->consumed);
        }
        assert_int_equal(out->head_len + out->body_len + out->chunked_len, out->consumed);
        assert_true(out->keep_alive == 0 || out->keep_alive == 1);
        assert_true(out->minor_version == 0 || out->minor_version == 1);
    } else if (res == HTTP_ERROR) {
        static const int statuses[] = {400, 411, 413, 414, 431, 501, 505};
        int known = 0;
        for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) known |= out->error_status == statuses[i];
        if (!known) fail_msg("error_status %d", out->error_status);
    }
    guard_free(&g);
    return res;
}

static void same_request(const struct http_request *a, const struct http_request *b) {
    assert_int_equal(a->method, b->method);
    assert_ptr_equal(a->target, b->target);
    assert_int_equal(a->target_len, b->target_len);
    assert_int_equal(a->minor_version, b->minor_version);
    assert_int_equal(a->keep_alive, b->keep_alive);
    assert_ptr_equal(a->content_type, b->content_type);
    assert_int_equal(a->content_type_len, b->content_type_len);
    assert_ptr_equal(a->if_none_match, b->if_none_match);
    assert_int_equal(a->if_none_match_len, b->if_none_match_len);
    assert_ptr_equal(a->if_modified_since, b->if_modified_since);
    assert_int_equal(a->if_modified_since_len, b->if_modified_since_len);
    assert_ptr_equal(a->body, b->body);
    assert_int_equal(a->body_len, b->body_len);
    assert_int_equal(a->consumed, b->consumed);
    assert_int_equal(a->error_status, b->error_status);
    assert_ptr_equal(a->host, b->host);
    assert_int_equal(a->host_len, b->host_len);
    assert_int_equal(a->expect_continue, b->expect_continue);
    assert_ptr_equal(a->chunked, b->chunked);
    assert_int_equal(a->chunked_len, b->chunked_len);
    assert_int_equal(a->head_len, b->head_len);
}

static const char *res_name(enum http_result r) {
    return r == HTTP_AGAIN ? "AGAIN" : r == HTTP_DONE ? "DONE" : r == HTTP_ERROR ? "ERROR" : "?";
}

/* Every prefix of s[0..len) gives AGAIN or the whole input's answer (full,
 * *whole), and once it gives that answer every longer prefix does too. For a
 * DONE, exactly the prefixes of at least `consumed` bytes are DONE. */
static void check_prefixes(const void *s, size_t len, enum http_result full, const struct http_request *whole) {
    int decided = 0;
    for (size_t k = 0; k < len; k++) {
        struct http_request r;
        enum http_result res = parse_g(s, k, &r);
        if (res == HTTP_AGAIN) {
            if (decided) fail_msg("prefix of %zu bytes: AGAIN after a shorter one was %s", k, res_name(full));
            if (full == HTTP_DONE && k >= whole->consumed) fail_msg("prefix of %zu bytes: AGAIN, not DONE", k);
            continue;
        }
        if (res != full)
            fail_msg("prefix of %zu of %zu bytes: %s (%d), the whole: %s (%d)", k, len, res_name(res), r.error_status,
                     res_name(full), whole->error_status);
        same_request(&r, whole);
        decided = 1;
    }
}

/* s[0..len) is one complete request (with maybe more after it): DONE,
 * checked for every prefix. */
static struct http_request done_n(const void *s, size_t len) {
    struct http_request r;
    enum http_result res = parse_g(s, len, &r);
    if (res != HTTP_DONE)
        fail_msg("'%.*s': %s (%d), not DONE", (int)(len > 300 ? 300 : len), (const char *)s, res_name(res),
                 r.error_status);
    check_prefixes(s, len, res, &r);
    return r;
}

static struct http_request done(const char *s) { return done_n(s, strlen(s)); }

/* s[0..len) is refused with status, at the latest at its end; every prefix
 * gives AGAIN or the same. */
static void refused_n(const void *s, size_t len, int status) {
    struct http_request r;
    enum http_result res = parse_g(s, len, &r);
    if (res != HTTP_ERROR || r.error_status != status)
        fail_msg("'%.*s': %s (%d), expected ERROR %d", (int)(len > 300 ? 300 : len), (const char *)s,
                 res_name(res), r.error_status, status);
    check_prefixes(s, len, res, &r);
}

static void refused(const char *s, int status) { refused_n(s, strlen(s), status); }

/* s is incomplete: AGAIN, and so is every prefix. */
static void again_n(const void *s, size_t len) {
    struct http_request r;
    enum http_result res = parse_g(s, len, &r);
    if (res != HTTP_AGAIN)
        fail_msg("'%.*s': %s (%d), expected AGAIN", (int)(len > 300 ? 300 : len), (const char *)s, res_name(res),
                 r.error_status);
    check_prefixes(s, len, res, &r);
}

static void again(const char *s) { again_n(s, strlen(s)); }

/* The view p[0..n) is the string want. */
static void view_is(const char *p, size_t n, const char *want) {
    if (want == NULL) {
        assert_null(p);
        assert_int_equal(n, 0);
        return;
    }
    assert_non_null(p);
    if (n != strlen(want) || memcmp(p, want, n) != 0) fail_msg("view '%.*s', expected '%s'", (int)n, p, want);
}

/* A growable string for the long inputs of the cap tests. */
struct str {
    char *p;
    size_t len, cap;
};

static void str_add(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void str_add(struct str *s, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (s->p != NULL && (size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        s->cap = (s->len + (size_t)n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
}

static void str_fill(struct str *s, char c, size_t n) {
    if (s->p == NULL || s->cap - s->len <= n) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memset(s->p + s->len, c, n);
    s->len += n;
    s->p[s->len] = '\0';
}

/* --- Tests -------------------------------------------------------------- */

/* The guard page works: reading the byte after a guarded input faults. */
static void test_guard_page_faults(void **state) { guard_check_faults(); }

static void test_methods_and_versions(void **state) {
    static const char *const reqs[] = {
        "GET /ocsp HTTP/1.1\r\nHost: ocsp.example\r\n\r\n",
        "HEAD /ocsp HTTP/1.1\r\nHost: ocsp.example\r\n\r\n",
        "POST /ocsp HTTP/1.1\r\nHost: ocsp.example\r\nContent-Length: 0\r\n\r\n",
        "PUT /ocsp HTTP/1.1\r\nHost: ocsp.example\r\n\r\n",
        "GET /ocsp HTTP/1.0\r\n\r\n",
        "HEAD /ocsp HTTP/1.0\r\n\r\n",
        "POST /ocsp HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
        "PUT /ocsp HTTP/1.0\r\n\r\n",
    };
    static const enum http_method methods[] = {HTTP_METHOD_GET, HTTP_METHOD_HEAD, HTTP_METHOD_POST,
                                               HTTP_METHOD_OTHER};
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct http_request r = done(reqs[i]);
        assert_int_equal(r.method, methods[i % 4]);
        view_is(r.target, r.target_len, "/ocsp");
        assert_int_equal(r.minor_version, i < 4 ? 1 : 0);
        assert_int_equal(r.keep_alive, i < 4 ? 1 : 0);
        assert_int_equal(r.consumed, strlen(reqs[i]));
        view_is(r.content_type, r.content_type_len, NULL);
        view_is(r.if_none_match, r.if_none_match_len, NULL);
        view_is(r.if_modified_since, r.if_modified_since_len, NULL);
        assert_null(r.body);
        assert_int_equal(r.body_len, 0);
    }

    /* The other methods RFC 9110 defines, and PATCH: known, not served
     * (the caller answers 405 with Allow). Methods are case-sensitive
     * tokens: any other token, other spellings too, is a method we do not
     * know (the caller answers 501, RFC 9110 9.1). */
    static const char *const others[] = {"PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "%s /x HTTP/1.0\r\n\r\n", others[i]);
        struct http_request r = done(s);
        assert_int_equal(r.method, HTTP_METHOD_OTHER);
        view_is(r.target, r.target_len, "/x");
    }
    static const char *const unknown[] = {"get", "Get", "POSt", "put", "GETS", "GE", "BREW", "PROPFIND",
                                          "X-Custom!#$%&'*+-.^_`|~09"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        char s[128];
        snprintf(s, sizeof(s), "%s /x HTTP/1.0\r\n\r\n", unknown[i]);
        struct http_request r = done(s);
        assert_int_equal(r.method, HTTP_METHOD_UNKNOWN);
        view_is(r.target, r.target_len, "/x");
    }
    /* Another method with a body: it is consumed all the same. */
    struct http_request r = done("DELETE /x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    assert_int_equal(r.method, HTTP_METHOD_OTHER);
    assert_int_equal(r.body_len, 3);
    r = done("BREW /x HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    assert_int_equal(r.method, HTTP_METHOD_UNKNOWN);
    assert_int_equal(r.body_len, 3);

    /* A real OCSP GET (RFC 6960 A.1). */
    r = done("GET " OCSP_GET_PATH " HTTP/1.1\r\nHost: ocsp.example.com\r\nUser-Agent: OpenSSL\r\n"
             "Accept: */*\r\n\r\n");
    view_is(r.target, r.target_len, OCSP_GET_PATH);

    /* Targets: any printable ASCII after the '/'. */
    r = done("GET /a/b?c=d&e=%20f#g!$'()*+,;=:@~[]{}|\\^`\"<> HTTP/1.0\r\n\r\n");
    view_is(r.target, r.target_len, "/a/b?c=d&e=%20f#g!$'()*+,;=:@~[]{}|\\^`\"<>");
    r = done("GET / HTTP/1.0\r\n\r\n");
    view_is(r.target, r.target_len, "/");
    r = done("GET // HTTP/1.0\r\n\r\n");
    view_is(r.target, r.target_len, "//");
}

static void test_ocsp_post(void **state) {
    static const char head[] = "POST /ocsp HTTP/1.1\r\nHost: ocsp.example.com\r\nUser-Agent: OpenSSL\r\n"
                               "Accept: */*\r\nContent-Type: application/ocsp-request\r\n"
                               "Content-Length: 69\r\n\r\n";
    uint8_t s[sizeof(head) - 1 + sizeof(ocsp_req)];
    memcpy(s, head, sizeof(head) - 1);
    memcpy(s + sizeof(head) - 1, ocsp_req, sizeof(ocsp_req));
    struct http_request r = done_n(s, sizeof(s));
    assert_int_equal(r.method, HTTP_METHOD_POST);
    view_is(r.target, r.target_len, "/ocsp");
    view_is(r.content_type, r.content_type_len, "application/ocsp-request");
    assert_int_equal(r.keep_alive, 1);
    assert_ptr_equal(r.body, s + sizeof(head) - 1);
    assert_int_equal(r.body_len, sizeof(ocsp_req));
    assert_memory_equal(r.body, ocsp_req, sizeof(ocsp_req));
    assert_int_equal(r.consumed, sizeof(s));
    /* Without its last byte: AGAIN (check_prefixes did each of them). */
    again_n(s, sizeof(s) - 1);
    again_n(s, sizeof(head) - 1);
}

static void test_keep_alive(void **state) {
    static const struct {
        const char *conn; /* the Connection lines, "" for none */
        int ka10, ka11;   /* keep_alive with HTTP/1.0 and HTTP/1.1 */
    } cases[] = {
        {"", 0, 1},
        {"Connection: close\r\n", 0, 0},
        {"Connection: keep-alive\r\n", 1, 1},
        {"Connection: Keep-Alive\r\n", 1, 1},
        {"connection: KEEP-ALIVE\r\n", 1, 1},
        {"CONNECTION: Close\r\n", 0, 0},
        {"Connection: keep-alive, close\r\n", 0, 0},
        {"Connection: close, keep-alive\r\n", 0, 0},
        {"Connection: keep-alive\r\nConnection: close\r\n", 0, 0},
        {"Connection: close\r\nConnection: keep-alive\r\n", 0, 0},
        {"Connection: Upgrade, HTTP2-Settings\r\n", 0, 1},
        {"Connection: TE, keep-alive\r\n", 1, 1},
        {"Connection: ,, close ,\t,\r\n", 0, 0},
        {"Connection:keep-alive\r\n", 1, 1},
        {"Connection: \t keep-alive \t\r\n", 1, 1},
        {"Connection:\r\n", 0, 1},
        {"Connection: closed\r\n", 0, 1},
        {"Connection: keep-alives\r\n", 0, 1},
        {"Connection: clos\r\n", 0, 1},
        {"Connection: keepalive\r\n", 0, 1},
        /* A value that merely contains the word is no "close" token. */
        {"X-Connection: close\r\n", 0, 1},
        {"Keep-Alive: timeout=5\r\n", 0, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[256];
        snprintf(s, sizeof(s), "GET / HTTP/1.0\r\n%s\r\n", cases[i].conn);
        struct http_request r = done(s);
        if (r.keep_alive != cases[i].ka10) fail_msg("HTTP/1.0 with '%s': keep_alive %d", cases[i].conn, r.keep_alive);
        snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].conn);
        r = done(s);
        if (r.keep_alive != cases[i].ka11) fail_msg("HTTP/1.1 with '%s': keep_alive %d", cases[i].conn, r.keep_alive);
    }
    /* A Connection value that is no token list. */
    refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: close;x\r\n\r\n", 400);
    refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep alive\r\n\r\n", 400);
    refused("GET / HTTP/1.1\r\nHost: h\r\nConnection: \"close\"\r\n\r\n", 400);
    refused("GET / HTTP/1.0\r\nConnection: close/1\r\n\r\n", 400);
}

static void test_optional_views(void **state) {
    struct http_request r =
        done("GET /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/ocsp-request\r\n"
             "If-None-Match: \"abc\", W/\"def\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n");
    view_is(r.content_type, r.content_type_len, "application/ocsp-request");
    view_is(r.if_none_match, r.if_none_match_len, "\"abc\", W/\"def\"");
    view_is(r.if_modified_since, r.if_modified_since_len, "Sun, 06 Nov 1994 08:49:37 GMT");

    /* Names in any case; OWS around the value trimmed, inside kept. */
    r = done("GET /x HTTP/1.1\r\ncontent-TYPE:\t application/ocsp-request ; q=1 \t\r\nhost: h\r\n"
             "IF-NONE-MATCH:*\r\nif-modified-since:   Sun,  06 Nov 1994 08:49:37 GMT\t\r\n\r\n");
    view_is(r.content_type, r.content_type_len, "application/ocsp-request ; q=1");
    view_is(r.if_none_match, r.if_none_match_len, "*");
    view_is(r.if_modified_since, r.if_modified_since_len, "Sun,  06 Nov 1994 08:49:37 GMT");

    /* Present but empty: a view of length 0, not NULL. */
    r = done("GET /x HTTP/1.1\r\nHost: h\r\nContent-Type:\r\nIf-None-Match: \t \r\nIf-Modified-Since:\n\r\n");
    view_is(r.content_type, r.content_type_len, "");
    view_is(r.if_none_match, r.if_none_match_len, "");
    view_is(r.if_modified_since, r.if_modified_since_len, "");

    /* Only the first of a name that resembles one. */
    r = done("GET /x HTTP/1.1\r\nHost: h\r\nContent-Types: a\r\nX-Content-Type: b\r\nIf-None-Match2: c\r\n\r\n");
    view_is(r.content_type, r.content_type_len, NULL);
    view_is(r.if_none_match, r.if_none_match_len, NULL);

    /* obs-text (bytes 0x80-0xff) is allowed in values. */
    r = done("GET /x HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"\xc3\xa9\xff\"\r\n\r\n");
    view_is(r.if_none_match, r.if_none_match_len, "\"\xc3\xa9\xff\"");

    /* A view cannot span two lines: a second one is refused. */
    refused("GET /x HTTP/1.1\r\nHost: h\r\nContent-Type: a\r\ncontent-type: a\r\n\r\n", 400);
    refused("GET /x HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n", 400);
    refused("GET /x HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: a\r\nIf-Modified-Since: a\r\n\r\n", 400);
}

static void test_bodies(void **state) {
    /* POST with a body that holds CR, LF, NUL and a whole request. */
    static const char s1[] = "POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\n\r\n\0\nGET / HTTP/1.0\r\n\r\nxxxx";
    struct http_request r = done_n(s1, sizeof(s1) - 1);
    assert_int_equal(r.body_len, 26);
    assert_ptr_equal(r.body, (const uint8_t *)s1 + sizeof(s1) - 1 - 26);
    assert_int_equal(r.consumed, sizeof(s1) - 1);

    /* Content-Length: 0: no body (NULL), consumed is the head. */
    r = done("POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_null(r.body);
    assert_int_equal(r.body_len, 0);
    r = done("POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n");
    assert_null(r.body);

    /* Leading zeros are still a plain decimal. */
    r = done("POST /ocsp HTTP/1.0\r\nContent-Length: 0003\r\n\r\nabc");
    assert_int_equal(r.body_len, 3);

    /* GET and HEAD with a body: taken, so that the next request is found. */
    r = done("GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
    assert_int_equal(r.method, HTTP_METHOD_GET);
    assert_int_equal(r.body_len, 5);
    view_is((const char *)r.body, r.body_len, "hello");
    r = done("HEAD /x HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi");
    assert_int_equal(r.body_len, 2);
    again("GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhell");
    /* GET without Content-Length has no body, whatever follows. */
    r = done("GET /x HTTP/1.0\r\n\r\nhello");
    assert_int_equal(r.consumed, strlen("GET /x HTTP/1.0\r\n\r\n"));
    assert_null(r.body);

    /* More bytes than the body: they are the next request's. */
    static const char s2[] = "POST /ocsp HTTP/1.0\r\nContent-Length: 3\r\n\r\nabcPOST";
    struct http_request r2;
    assert_int_equal(parse_g(s2, sizeof(s2) - 1, &r2), HTTP_DONE);
    assert_int_equal(r2.consumed, sizeof(s2) - 1 - 4);
    view_is((const char *)r2.body, r2.body_len, "abc");
}

/* Pipelined requests: parsed one after another by dropping `consumed`. */
static void test_pipelining(void **state) {
    static const char pipe[] = "GET /ocsp/MEMw HTTP/1.1\r\nHost: h\r\n\r\n"
                               "POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd"
                               "HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nzz"
                               "\r\n" /* a stray CRLF after a body (RFC 9112 2.2) */
                               "GET /y HTTP/1.0\nConnection: keep-alive\n\n"
                               "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                               "GET /partial HTTP/1.1\r\nHo";
    static const struct {
        enum http_method m;
        const char *target;
        const char *body;
        int ka;
    } want[] = {
        {HTTP_METHOD_GET, "/ocsp/MEMw", NULL, 1},  {HTTP_METHOD_POST, "/ocsp", "abcd", 1},
        {HTTP_METHOD_HEAD, "/x", "zz", 1},         {HTTP_METHOD_GET, "/y", NULL, 1},
        {HTTP_METHOD_GET, "/last", NULL, 0},
    };
    const char *p = pipe;
    size_t left = sizeof(pipe) - 1;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct http_request r = done_n(p, left);
        assert_int_equal(r.method, want[i].m);
        view_is(r.target, r.target_len, want[i].target);
        view_is((const char *)r.body, r.body_len, want[i].body);
        assert_int_equal(r.keep_alive, want[i].ka);
        assert_true(r.consumed <= left);
        p += r.consumed;
        left -= r.consumed;
    }
    assert_string_equal(p, "GET /partial HTTP/1.1\r\nHo");
    again_n(p, left);

    /* Two requests glued with no gap at all. */
    static const char two[] = "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
    struct http_request r = done(two);
    assert_int_equal(r.consumed, (sizeof(two) - 1) / 2);
    r = done(two + r.consumed);
    view_is(r.target, r.target_len, "/b");
}

/* Each request split at every byte offset: AGAIN for each prefix until it is
 * complete, then the same DONE (done() does this for every request in these
 * tests; here it is spelled out on its own, byte by byte, as a shard
 * reading one byte per read() would call it). */
static void test_split_every_offset(void **state) {
    static const char *const reqs[] = {
        "POST /ocsp HTTP/1.1\r\nHost: ocsp.example\r\nContent-Type: application/ocsp-request\r\n"
        "Content-Length: 10\r\nConnection: close\r\n\r\n0123456789",
        "GET " OCSP_GET_PATH " HTTP/1.0\nIf-None-Match: \"x\"\nIf-Modified-Since: today\n\n",
        "\r\n\nHEAD / HTTP/1.1\r\nHost:\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        size_t len = strlen(reqs[i]);
        struct http_request whole;
        assert_int_equal(parse_g(reqs[i], len, &whole), HTTP_DONE);
        assert_int_equal(whole.consumed, len);
        for (size_t k = 0; k < len; k++) {
            struct http_request r;
            enum http_result res = parse_g(reqs[i], k, &r);
            if (res != HTTP_AGAIN) fail_msg("request %zu cut at %zu: %s", i, k, res_name(res));
        }
        /* And with the rest arriving after it (the next request's bytes). */
        struct str s = {0};
        str_add(&s, "%s%s", reqs[i], "GET / HTTP/1.1\r\n");
        struct http_request r, alone;
        assert_int_equal(parse_g(s.p, s.len, &r), HTTP_DONE);
        assert_int_equal(parse_g(s.p, len, &alone), HTTP_DONE);
        same_request(&r, &alone);
        assert_int_equal(r.consumed, whole.consumed);
        free(s.p);
    }
}

static void test_bare_lf(void **state) {
    struct http_request r = done("GET /a HTTP/1.1\nHost: h\nContent-Type: t\n\n");
    view_is(r.target, r.target_len, "/a");
    view_is(r.content_type, r.content_type_len, "t");
    assert_int_equal(r.consumed, strlen("GET /a HTTP/1.1\nHost: h\nContent-Type: t\n\n"));
    /* Mixed line ends. */
    r = done("POST /a HTTP/1.1\r\nHost: h\nContent-Length: 2\r\n\nab");
    view_is((const char *)r.body, r.body_len, "ab");
    r = done("GET /a HTTP/1.0\n\r\n");
    assert_int_equal(r.consumed, 18);
    r = done("GET /a HTTP/1.0\r\n\n");
    assert_int_equal(r.consumed, 18);
    /* Trailing OWS before a bare LF is trimmed as before CRLF. */
    r = done("GET /a HTTP/1.0\nIf-None-Match: x \t\n\n");
    view_is(r.if_none_match, r.if_none_match_len, "x");
    /* Empty lines before the request line, of either kind. */
    r = done("\r\n\n\r\nGET /a HTTP/1.0\r\n\r\n");
    assert_int_equal(r.consumed, 5 + 19);
    view_is(r.target, r.target_len, "/a");
    again("\r\n\r\n\n");
    /* A bare CR is no line end. */
    refused("GET /a HTTP/1.0\r\r\n\r\n", 400);
    refused("GET /a HTTP/1.0\rX", 400);
    refused("GET /a HTTP/1.0\r\nHost: h\r\r\n\r\n", 400);
    refused("GET /a HTTP/1.0\r\nHost: h\r\n\rX", 400);
    refused("GET /a HTTP/1.0\r\nHost: a\rb\r\n\r\n", 400);
    refused("\rGET /a HTTP/1.0\r\n\r\n", 400);
    refused("\r\r\n", 400);
}

static void test_request_line_errors(void **state) {
    static const struct {
        const char *s;
        int status;
    } cases[] = {
        /* Method. */
        {" GET / HTTP/1.0\r\n\r\n", 400},
        {"G(T / HTTP/1.0\r\n\r\n", 400},
        {"GET\t/ HTTP/1.0\r\n\r\n", 400},
        {"GET  / HTTP/1.0\r\n\r\n", 400},
        {"GET\r\n\r\n", 400},
        {"G\x80T / HTTP/1.0\r\n\r\n", 400},
        {"\x16\x03\x01\x02", 400}, /* the start of a TLS ClientHello */
        {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},              /* the HTTP/2 preface */
        /* Target: origin-form only, printable ASCII. */
        {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http:/h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET httpss://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400},    /* an empty host */
        {"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://:80/x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400}, /* userinfo */
        {"GET http://h\"/x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://h/\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET http://h HTTP/1.1\r\n\r\n", 400}, /* still a Host in 1.1 (RFC 9112 3.2) */
        {"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET ocsp HTTP/1.0\r\n\r\n", 400},
        {"GET  HTTP/1.0\r\n\r\n", 400},
        {"GET /a\tb HTTP/1.0\r\n\r\n", 400},
        {"GET /a\x01 HTTP/1.0\r\n\r\n", 400},
        {"GET /a\x7f HTTP/1.0\r\n\r\n", 400},
        {"GET /\xc3\xa9 HTTP/1.0\r\n\r\n", 400},
        {"GET /a\r\n\r\n", 400},  /* HTTP/0.9 */
        {"GET /a\n\n", 400},
        {"GET /a b HTTP/1.0\r\n\r\n", 400},
        {"GET /a  HTTP/1.0\r\n\r\n", 400},
        /* Version. */
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\n\r\n", 505},
        {"GET / HTTP/9.9\n\n", 505},
        {"GET / HTTP/1.10\r\n\r\n", 400},
        {"GET / HTTP/2.0x\r\n\r\n", 400},
        {"GET / HTTP/2.0\rx", 400},
        {"GET / HTTP/11.1\r\n\r\n", 400},
        {"GET / HTTP/1\r\n\r\n", 400},
        {"GET / HTTP/2\r\n\r\n", 400},
        {"GET / HTTP/1.\r\n\r\n", 400},
        {"GET / HTTP/1,1\r\n\r\n", 400},
        {"GET / HTTP/a.b\r\n\r\n", 400},
        {"GET / http/1.1\r\n\r\n", 400},
        {"GET / HTTPS/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\n\r\n", 400},
        {"GET / HTTP/1.1\t\r\n\r\n", 400},
        {"GET / \r\n\r\n", 400},
        {"GET / HTTP/1.0 extra\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) refused(cases[i].s, cases[i].status);
    /* Early: garbage is refused before the line ends. */
    refused("GET / HTTQ", 400);
    refused("GET x", 400);
    refused("G@", 400);
    refused("GET / HTTP/1.x", 400);
    /* Not early where a later byte could still change the answer. */
    again("GET / HTTP/2.0");
    again("GET / HTTP/2.0\r");
    refused("GET / HTTP/2.0\n", 505);
}

static void test_field_errors(void **state) {
    static const struct {
        const char *fields; /* after "GET / HTTP/1.1\r\nHost: h\r\n", before the empty line */
        int status;
    } cases[] = {
        /* Line syntax. */
        {"NoColon\r\n", 400},
        {"No Colon: x\r\n", 400},
        {"Name : x\r\n", 400},
        {"Name\t: x\r\n", 400},
        {": x\r\n", 400},
        {"Na(me: x\r\n", 400},
        {"Na\x80me: x\r\n", 400},
        {"Name: x\r\n folded\r\n", 400},
        {"Name: x\r\n\tfolded\r\n", 400},
        {"Name: a\x01z\r\n", 400},
        {"Name: a\x7fz\r\n", 400},
        {"Name: a\x1bz\r\n", 400},
        {"Name: \x0b\r\n", 400},
        {"Name: \x0c\r\n", 400},
        /* Content-Length: a plain decimal, once. */
        {"Content-Length: -1\r\n", 400},
        {"Content-Length: +1\r\n", 400},
        {"Content-Length: 1.0\r\n", 400},
        {"Content-Length: 0x10\r\n", 400},
        {"Content-Length: 1 2\r\n", 400},
        {"Content-Length: 1,1\r\n", 400},
        {"Content-Length: 1, 1\r\n", 400},
        {"Content-Length:\r\n", 400},
        {"Content-Length:  \r\n", 400},
        {"Content-Length: \"1\"\r\n", 400},
        {"Content-Length: 1\r\nContent-Length: 1\r\n", 400},
        {"Content-Length: 1\r\ncontent-length: 2\r\n", 400},
        {"Content-Length: 99999999999999999999999x\r\n", 400},
        /* Transfer-Encoding: a last coding other than chunked leaves no
         * length (400, RFC 9112 6.3); chunked twice, 400; a coding we do
         * not decode before chunked, 501; with Content-Length (either
         * order) 400. */
        {"Transfer-Encoding: identity\r\n", 400},
        {"Transfer-Encoding:\r\n", 400},
        {"Transfer-Encoding: ,\r\n", 400},
        {"Transfer-Encoding: chunked, gzip\r\n", 400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", 400},
        {"Transfer-Encoding: chunked, chunked\r\n", 400},
        {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
        {"Transfer-Encoding: chunked;x=1\r\n", 400},
        {"Transfer-Encoding: \"chunked\"\r\n", 400},
        {"transfer-encoding: gzip, chunked\r\n", 501},
        {"transfer-encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501},
        {"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", 400},
        {"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", 400},
        /* Host, once. */
        {"Host: h2\r\n", 400},
        {"HOST: h\r\n", 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[256];
        snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", cases[i].fields);
        refused(s, cases[i].status);
    }
    /* A NUL in a value. */
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nName: a\0z\r\n\r\n";
    refused_n(nul, sizeof(nul) - 1, 400);
    /* Whitespace between the request line and the first field. */
    refused("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400);
    /* HTTP/1.1 needs a Host (RFC 9112 3.2); HTTP/1.0 does not. */
    refused("GET / HTTP/1.1\r\n\r\n", 400);
    refused("GET / HTTP/1.1\r\nHosts: h\r\n\r\n", 400);
    refused("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400);
    done("GET / HTTP/1.0\r\n\r\n");
    done("GET / HTTP/1.1\r\nhOsT: \r\n\r\n");
    /* POST needs a length or chunks: 411. */
    refused("POST /ocsp HTTP/1.1\r\nHost: h\r\n\r\n", 411);
    refused("POST /ocsp HTTP/1.0\r\n\r\n", 411);
    /* Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 6.1). */
    refused("POST /ocsp HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400);
    /* Other methods without a length simply have no body. */
    done("PUT /ocsp HTTP/1.1\r\nHost: h\r\n\r\n");
    /* Errors come as early as the bytes show them. */
    refused("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n", 400);
    refused("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n", 400);
    refused("GET / HTTP/1.1\r\nBad Name", 400);
    refused("GET / HTTP/1.1\r\nName: \x01", 400);
    again("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n");
}

static void test_target_cap(void **state) {
    /* RFC 9110 4.1: at least 8,000 octets of request-line. (It was 1,024.) */
    assert_true(HTTP_MAX_TARGET >= 8000);
    struct str big = {0};
    str_add(&big, "GET %s?pad=", OCSP_GET_PATH);
    str_fill(&big, 'p', 8000 - (big.len - 4));
    size_t t_len = big.len - 4;
    str_add(&big, " HTTP/1.1\r\nHost: ocsp.example.com\r\nUser-Agent: OpenSSL\r\nAccept: */*\r\n\r\n");
    struct http_request r0 = done_n(big.p, big.len);
    assert_int_equal(r0.target_len, 8000);
    assert_int_equal(t_len, 8000);
    free(big.p);

    /* HTTP_MAX_TARGET bytes: fine; one more: 414, as soon as it arrives. */
    for (size_t n = HTTP_MAX_TARGET - 1; n <= HTTP_MAX_TARGET + 1; n++) {
        struct str s = {0};
        str_add(&s, "GET /");
        str_fill(&s, 'a', n - 1);
        size_t target_end = s.len;
        str_add(&s, " HTTP/1.0\r\n\r\n");
        struct http_request r;
        if (n <= HTTP_MAX_TARGET) {
            r = done_n(s.p, s.len);
            assert_int_equal(r.target_len, n);
        } else {
            refused_n(s.p, s.len, 414);
            /* Early: the byte one over the cap is enough. */
            assert_int_equal(parse_g(s.p, target_end, &r), HTTP_ERROR);
            assert_int_equal(r.error_status, 414);
            assert_int_equal(parse_g(s.p, target_end - 1, &r), HTTP_AGAIN);
        }
        free(s.p);
    }
}

/* A head of exactly `len` bytes: a request line, filler fields, and a last
 * field whose value pads it out. */
static void make_head(struct str *s, size_t len, const char *eol) {
    size_t el = strlen(eol);
    str_add(s, "GET /ocsp HTTP/1.1%sHost: h%s", eol, eol);
    while (s->len + 1000 + 2 * el < len) {
        str_add(s, "X-Filler: ");
        str_fill(s, 'f', 400);
        str_add(s, "%s", eol);
    }
    str_add(s, "X-Last: ");
    assert_true(s->len + 2 * el < len);
    str_fill(s, 'z', len - s->len - 2 * el);
    str_add(s, "%s%s", eol, eol);
    assert_int_equal(s->len, len);
}

static void test_head_cap(void **state) {
    for (int lf = 0; lf < 2; lf++) {
        const char *eol = lf ? "\n" : "\r\n";
        /* Exactly HTTP_MAX_HEAD: DONE (the end of the head is the last byte). */
        struct str s = {0};
        make_head(&s, HTTP_MAX_HEAD, eol);
        struct http_request r = done_n(s.p, s.len);
        assert_int_equal(r.consumed, HTTP_MAX_HEAD);
        /* With the next request glued on. */
        str_add(&s, "GET / HTTP/1.0\r\n\r\n");
        struct http_request r2;
        assert_int_equal(parse_g(s.p, s.len, &r2), HTTP_DONE);
        same_request(&r, &r2);
        free(s.p);

        /* One more: 431, and already at HTTP_MAX_HEAD bytes. */
        s = (struct str){0};
        make_head(&s, HTTP_MAX_HEAD + 1, eol);
        refused_n(s.p, s.len, 431);
        assert_int_equal(parse_g(s.p, HTTP_MAX_HEAD, &r), HTTP_ERROR);
        assert_int_equal(r.error_status, 431);
        assert_int_equal(parse_g(s.p, HTTP_MAX_HEAD - 1, &r), HTTP_AGAIN);
        free(s.p);
    }

    /* A head that never ends: AGAIN below the cap, 431 at it and past it. */
    struct str s = {0};
    str_add(&s, "GET / HTTP/1.1\r\nX: ");
    str_fill(&s, 'x', 2 * HTTP_MAX_HEAD);
    struct http_request r;
    assert_int_equal(parse_g(s.p, HTTP_MAX_HEAD - 1, &r), HTTP_AGAIN);
    assert_int_equal(parse_g(s.p, HTTP_MAX_HEAD, &r), HTTP_ERROR);
    assert_int_equal(r.error_status, 431);
    assert_int_equal(parse_g(s.p, s.len, &r), HTTP_ERROR);
    assert_int_equal(r.error_status, 431);
    free(s.p);

    /* Nothing but empty lines counts too. */
    s = (struct str){0};
    for (size_t i = 0; i < HTTP_MAX_HEAD / 2; i++) str_add(&s, "\r\n");
    refused_n(s.p, s.len, 431);
    free(s.p);

    /* The cap ending between CR and LF: the head would be one over. */
    s = (struct str){0};
    make_head(&s, HTTP_MAX_HEAD + 1, "\r\n");
    s.p[HTTP_MAX_HEAD] = 'X'; /* the last LF: whatever it is, it is past the cap */
    assert_int_equal(parse_g(s.p, s.len, &r), HTTP_ERROR);
    assert_int_equal(r.error_status, 431);
    free(s.p);

    /* A head and its body share HTTP_MAX_REQUEST (the connection's
     * buffer): a head that leaves room for its Content-Length is fine, one
     * byte more is 413 at the end of the head, before any body. */
    for (int over = 0; over < 2; over++) {
        s = (struct str){0};
        str_add(&s, "POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\nX: ", HTTP_MAX_BODY);
        str_fill(&s, 'h', HTTP_MAX_REQUEST - HTTP_MAX_BODY - s.len - 4 + (size_t)over);
        str_add(&s, "\r\n\r\n");
        size_t head_len = s.len;
        assert_int_equal(head_len, HTTP_MAX_REQUEST - HTTP_MAX_BODY + (size_t)over);
        str_fill(&s, 'b', HTTP_MAX_BODY);
        if (!over) {
            r = done_n(s.p, s.len);
            assert_int_equal(r.body_len, HTTP_MAX_BODY);
            assert_int_equal(r.consumed, HTTP_MAX_REQUEST);
        } else {
            refused_n(s.p, s.len, 413);
            assert_int_equal(parse_g(s.p, head_len, &r), HTTP_ERROR);
            assert_int_equal(r.error_status, 413);
        }
        free(s.p);
    }
}

static void test_fields_cap(void **state) {
    /* HTTP_MAX_HEADERS fields (Host among them): fine; one more: 431, as
     * soon as its first byte is seen. */
    for (size_t n = HTTP_MAX_HEADERS - 1; n <= HTTP_MAX_HEADERS + 1; n++) {
        struct str s = {0};
        str_add(&s, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (size_t i = 1; i < n; i++) str_add(&s, "X-%zu: %zu\r\n", i, i);
        size_t before_last = s.len;
        str_add(&s, "\r\n");
        if (n <= HTTP_MAX_HEADERS) {
            done_n(s.p, s.len);
        } else {
            refused_n(s.p, s.len, 431);
        }
        if (n == HTTP_MAX_HEADERS + 1) {
            struct http_request r;
            assert_int_equal(parse_g(s.p, before_last - strlen("X-64: 64\r\n") + 1, &r), HTTP_ERROR);
            assert_int_equal(r.error_status, 431);
            assert_int_equal(parse_g(s.p, before_last - strlen("X-64: 64\r\n"), &r), HTTP_AGAIN);
        }
        free(s.p);
    }
    /* The fields the parser acts on count like any other. */
    struct str s = {0};
    str_add(&s, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n");
    for (size_t i = 2; i < HTTP_MAX_HEADERS; i++) str_add(&s, "Connection: keep-alive\r\n");
    str_add(&s, "\r\n");
    done_n(s.p, s.len);
    s.len -= 2;
    str_add(&s, "Content-Type: x\r\n\r\n");
    refused_n(s.p, s.len, 431);
    free(s.p);
}

static void test_body_cap(void **state) {
    /* HTTP_MAX_BODY: fine. */
    struct str s = {0};
    str_add(&s, "POST /ocsp HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n", HTTP_MAX_BODY);
    size_t head_len = s.len;
    str_fill(&s, 'b', HTTP_MAX_BODY);
    struct http_request r = done_n(s.p, s.len);
    assert_int_equal(r.body_len, HTTP_MAX_BODY);
    assert_ptr_equal(r.body, (const uint8_t *)s.p + head_len);
    free(s.p);

    /* One more: 413 at the end of the Content-Length line, before the rest
     * of the head, let alone the body. */
    static const char *const over[] = {"4097", "04097", "10000", "4294967296", "18446744073709551615",
                                       "18446744073709551616", "99999999999999999999999999999999999999"};
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        char line[256];
        snprintf(line, sizeof(line), "POST /ocsp HTTP/1.1\r\nContent-Length: %s\r\n", over[i]);
        refused(line, 413);
        again_n(line, strlen(line) - 1);
        char full[512];
        snprintf(full, sizeof(full), "%sHost: h\r\n\r\nabc", line);
        refused(full, 413);
    }
    /* GET with a body over the cap: 413 too (it could not be skipped). */
    refused("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4097\r\n\r\n", 413);
    /* Many leading zeros are still small. */
    struct str z = {0};
    str_add(&z, "POST /ocsp HTTP/1.0\r\nContent-Length: ");
    str_fill(&z, '0', 100);
    str_add(&z, "4096\r\n\r\n");
    str_fill(&z, 'b', HTTP_MAX_BODY);
    r = done_n(z.p, z.len);
    assert_int_equal(r.body_len, HTTP_MAX_BODY);
    free(z.p);
}

/* Transfer-Encoding: chunked (RFC 9112 7.1): accepted, its data decoded in
 * place; strict and capped. */
static void test_chunked(void **state) {
    static const char head[] = "POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const size_t hl = sizeof(head) - 1;
    static const char *const ok[][2] = {
        {"5\r\nhello\r\n0\r\n\r\n", "hello"},
        {"0\r\n\r\n", ""},
        {"000\r\n\r\n", ""},
        {"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", "hello"},
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"},
        {"a\r\n0123456789\r\n00000\r\n\r\n", "0123456789"},
        {"00000005\r\nhello\r\n0\r\n\r\n", "hello"},                 /* 8 digits */
        {"5;ext\r\nhello\r\n0;last=1\r\n\r\n", "hello"},             /* extensions */
        {"5 ; a = b ;c;d=\"q \\\" ;\"\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5\t;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello"},
        {"5\r\nhello\r\n0\r\nX-Trailer: t\r\nY:\r\n\r\n", "hello"},  /* trailers, dropped */
        {"3\r\n\r\n\n\r\n0\r\n\r\n", "\r\n\n"},                       /* data is data */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct str s = {0};
        str_add(&s, "%s%s", head, ok[i][0]);
        struct http_request r = done_n(s.p, s.len);
        assert_int_equal(r.method, HTTP_METHOD_POST);
        assert_null(r.body);
        assert_int_equal(r.body_len, 0);
        assert_int_equal(r.head_len, hl);
        assert_ptr_equal(r.chunked, (const uint8_t *)s.p + hl);
        assert_int_equal(r.chunked_len, strlen(ok[i][0]));
        assert_int_equal(r.consumed, s.len);
        /* Decoded in place, as a shard does. */
        uint8_t *b = (uint8_t *)s.p + hl;
        size_t n = http_chunked_decode(b, r.chunked_len, b);
        if (n != strlen(ok[i][1]) || memcmp(b, ok[i][1], n) != 0)
            fail_msg("'%s': decoded '%.*s', expected '%s'", ok[i][0], (int)n, (const char *)b, ok[i][1]);
        free(s.p);
    }

    /* An OCSP request in chunks of 7, and a request pipelined after it. */
    struct str s = {0};
    str_add(&s, "%s", head);
    for (size_t i = 0; i < sizeof(ocsp_req); i += 7) {
        size_t k = sizeof(ocsp_req) - i < 7 ? sizeof(ocsp_req) - i : 7;
        str_add(&s, "%zx\r\n", k);
        str_fill(&s, 'x', k);
        memcpy(s.p + s.len - k, ocsp_req + i, k);
        str_add(&s, "\r\n");
    }
    str_add(&s, "0\r\n\r\n");
    size_t one = s.len;
    str_add(&s, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
    struct http_request r;
    assert_int_equal(parse_g(s.p, s.len, &r), HTTP_DONE);
    assert_int_equal(r.consumed, one);
    check_prefixes(s.p, s.len, HTTP_DONE, &r);
    uint8_t *b = (uint8_t *)s.p + r.head_len;
    assert_int_equal(http_chunked_decode(b, r.chunked_len, b), sizeof(ocsp_req));
    assert_memory_equal(b, ocsp_req, sizeof(ocsp_req));
    r = done(s.p + one);
    view_is(r.target, r.target_len, "/healthz");
    free(s.p);

    /* With any method; keep-alive as usual. */
    r = done("GET /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nz\r\n0\r\n\r\n");
    assert_int_equal(r.method, HTTP_METHOD_GET);
    assert_int_equal(r.keep_alive, 0);
    assert_non_null(r.chunked);

    /* Strict: CRLF only, hex only, grammar of extensions and trailers. */
    static const struct {
        const char *body;
        int status;
    } bad[] = {
        {"5\nhello\r\n0\r\n\r\n", 400},            /* a bare LF after the size */
        {"5\r\nhello\n0\r\n\r\n", 400},            /* ... after the data */
        {"5\r\nhello\r\n0\n\r\n", 400},            /* ... after the last chunk */
        {"5\r\nhello\r\n0\r\n\n", 400},            /* ... at the end */
        {"5\r\nhelloX\r\n0\r\n\r\n", 400},         /* data longer than its size */
        {"5\r\nhell\r\n0\r\n\r\n", 400},           /* shorter: its CRLF is data */
        {"5\rhello\r\n0\r\n\r\n", 400},
        {"\r\n", 400},                              /* no size */
        {"g\r\n", 400},
        {"-5\r\n", 400},
        {"+5\r\n", 400},
        {"0x5\r\n", 400},
        {"5 \r\nhello\r\n0\r\n\r\n", 400},          /* whitespace, not before ';' */
        {"5;\r\n", 400},                            /* an extension without a name */
        {"5;a=\r\n", 400},
        {"5;a=\"x\r\n", 400},                       /* an unterminated quoted string */
        {"5;a=\"\x01\"\r\n", 400},
        {"5;a b\r\n", 400},
        {"5;a=b c\r\n", 400},
        {"000000005\r\n", 400},                     /* 9 digits */
        {"5\r\nhello\r\n0\r\nNo Colon\r\n\r\n", 400},
        {"5\r\nhello\r\n0\r\nX: a\r\n folded\r\n\r\n", 400},
        {"5\r\nhello\r\n0\r\nX: a\nY: b\r\n\r\n", 400},
        {"5\r\nhello\r\n0\r\nX: \x01\r\n\r\n", 400},
        {"1001\r\n", 413},                          /* 4,097 bytes of data */
        {"FFFFFFFF\r\n", 413},
        {"800\r\n", 0},                             /* (filled in below: 2,048 + 2,049) */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) - 1; i++) {
        struct str t = {0};
        str_add(&t, "%s%s", head, bad[i].body);
        refused_n(t.p, t.len, bad[i].status);
        free(t.p);
    }
    /* The data of all chunks together is capped: 2,048 + 2,048 is fine,
     * 2,048 + 2,049 is 413 at the second size's last digit. */
    for (int over = 0; over < 2; over++) {
        struct str t = {0};
        str_add(&t, "%s800\r\n", head);
        str_fill(&t, 'a', 2048);
        str_add(&t, "\r\n%x\r\n", 2048 + over);
        str_fill(&t, 'b', 2048 + (size_t)over);
        str_add(&t, "\r\n0\r\n\r\n");
        if (!over) {
            r = done_n(t.p, t.len);
            uint8_t *d = (uint8_t *)t.p + r.head_len;
            assert_int_equal(http_chunked_decode(d, r.chunked_len, d), HTTP_MAX_BODY);
        } else {
            refused_n(t.p, t.len, 413);
        }
        free(t.p);
    }
    /* Early: 413 as soon as the digits make it too large. */
    refused("POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1001", 413);
    again("POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100");
    /* The trailer section is capped: HTTP_MAX_TRAILER bytes, 431 past them. */
    for (int over = 0; over < 2; over++) {
        struct str t = {0};
        str_add(&t, "%s0\r\nX: ", head);
        str_fill(&t, 't', HTTP_MAX_TRAILER - 5 + (size_t)over);
        str_add(&t, "\r\n\r\n");
        if (!over) done_n(t.p, t.len);
        else refused_n(t.p, t.len, 431);
        free(t.p);
    }
    /* The framing is capped with the head (HTTP_MAX_REQUEST): one-byte
     * chunks with long extensions never end within it, 413. */
    s = (struct str){0};
    str_add(&s, "%s", head);
    while (s.len < HTTP_MAX_REQUEST + 100) {
        str_add(&s, "1;e=");
        str_fill(&s, 'e', 200);
        str_add(&s, "\r\nz\r\n");
    }
    assert_int_equal(parse_g(s.p, HTTP_MAX_REQUEST - 1, &r), HTTP_AGAIN);
    assert_int_equal(parse_g(s.p, HTTP_MAX_REQUEST, &r), HTTP_ERROR);
    assert_int_equal(r.error_status, 413);
    free(s.p);
    /* Incomplete: AGAIN at each spot. */
    again("POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
    again("POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"x");
    again("POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n");
    /* The decoder stops at what the parser would refuse and never reads
     * past len (guarded). */
    static const char *const junk[] = {"", "5", "5\r\nhel", "zz\r\n", "FFFFFFFF\r\nab", "5\r\nhello\r\n3"};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        struct guard g;
        size_t n = strlen(junk[i]);
        guard_alloc(&g, n);
        memcpy(g.p, junk[i], n);
        assert_true(http_chunked_decode(g.p, n, g.p) <= 5);
        guard_free(&g);
    }
}

/* Expect: 100-continue (RFC 9110 10.1.1): noted in HTTP/1.1, and told
 * with AGAIN once the head is complete and the body is not, with the
 * head's fields, so the caller can answer before the body comes. */
static void test_expect_continue(void **state) {
    static const char h[] = "POST /ocsp HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    struct http_request r;
    for (size_t k = 0; k < sizeof(h) - 1; k++) {
        assert_int_equal(parse_g(h, k, &r), HTTP_AGAIN);
        assert_int_equal(r.head_len, 0);
        assert_int_equal(r.expect_continue, 0);
    }
    assert_int_equal(parse_g(h, sizeof(h) - 1, &r), HTTP_AGAIN);
    assert_int_equal(r.head_len, sizeof(h) - 1);
    assert_int_equal(r.expect_continue, 1);
    assert_int_equal(r.method, HTTP_METHOD_POST);
    assert_int_equal(r.target_len, 5);
    assert_int_equal(r.consumed, 0);
    assert_null(r.body);
    struct str s = {0};
    str_add(&s, "%shello", h);
    r = done_n(s.p, s.len);
    assert_int_equal(r.expect_continue, 1);
    view_is((const char *)r.body, r.body_len, "hello");
    free(s.p);
    /* Chunked too. */
    static const char hc[] =
        "POST /ocsp HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n5\r\nhe";
    assert_int_equal(parse_g(hc, sizeof(hc) - 1, &r), HTTP_AGAIN);
    assert_int_equal(r.expect_continue, 1);
    assert_true(r.head_len > 0);
    /* In a list, any case; other expectations are not it. */
    r = done("POST / HTTP/1.1\r\nHost: h\r\nExpect: foo, 100-CONTINUE\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.expect_continue, 1);
    r = done("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue=1\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(r.expect_continue, 0);
    /* HTTP/1.0: ignored (RFC 9110 10.1.1). */
    assert_int_equal(parse_g("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
                             strlen("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"), &r),
                     HTTP_AGAIN);
    assert_true(r.head_len > 0);
    assert_int_equal(r.expect_continue, 0);
    /* A body over the cap is refused at its Content-Length line, so the
     * caller answers 413 at once rather than 100 Continue. */
    refused("POST /ocsp HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n", 413);
}

/* Absolute-form targets (RFC 9112 3.2.2): the path is the target, the
 * authority the host (7.2), whatever Host says. */
static void test_absolute_form(void **state) {
    struct http_request r = done("GET http://ocsp.example:8080" OCSP_GET_PATH " HTTP/1.1\r\nHost: other\r\n\r\n");
    view_is(r.target, r.target_len, OCSP_GET_PATH);
    view_is(r.host, r.host_len, "ocsp.example:8080");
    r = done("POST HTTPS://[::1]:443/ocsp?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    view_is(r.target, r.target_len, "/ocsp?x=1");
    view_is(r.host, r.host_len, "[::1]:443");
    r = done("GET hTtP://a.b-c_d~e%41!$&'()*+,;=/ HTTP/1.0\r\n\r\n");
    view_is(r.target, r.target_len, "/");
    view_is(r.host, r.host_len, "a.b-c_d~e%41!$&'()*+,;=");
    /* An empty path is "/". */
    r = done("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n");
    view_is(r.target, r.target_len, "/");
    r = done("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n");
    view_is(r.target, r.target_len, "/");
    /* Origin-form: the host is Host's value. */
    r = done("GET /x HTTP/1.1\r\nHost: ocsp.example\r\n\r\n");
    view_is(r.host, r.host_len, "ocsp.example");
    r = done("GET /x HTTP/1.0\r\n\r\n");
    assert_null(r.host);
    /* The target cap counts the scheme and authority too. */
    struct str s = {0};
    str_add(&s, "GET http://");
    str_fill(&s, 'h', HTTP_MAX_TARGET - 7);
    size_t at_cap = s.len;
    str_add(&s, "/x HTTP/1.0\r\n\r\n");
    refused_n(s.p, s.len, 414);
    assert_int_equal(parse_g(s.p, at_cap, &r), HTTP_AGAIN);
    assert_int_equal(parse_g(s.p, at_cap + 1, &r), HTTP_ERROR);
    free(s.p);
}

/* HTTP/1.x with x > 1 is processed as HTTP/1.1 (RFC 9112 2.3). */
static void test_later_minor_versions(void **state) {
    struct http_request r = done("GET /ocsp HTTP/1.2\r\nHost: h\r\n\r\n");
    assert_int_equal(r.minor_version, 1);
    assert_int_equal(r.keep_alive, 1);
    r = done("GET /ocsp HTTP/1.9\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_int_equal(r.minor_version, 1);
    assert_int_equal(r.keep_alive, 0);
    refused("GET /ocsp HTTP/1.2\r\n\r\n", 400); /* a Host, as in 1.1 */
    refused("GET /ocsp HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    refused("GET /ocsp HTTP/1.x\r\nHost: h\r\n\r\n", 400);
}

/* Inputs that end right before the guard page at each interesting spot:
 * a CR whose LF is not there yet, the middle of a name, of "HTTP/", of a
 * Content-Length value. (parse_g guards every call; these are the spots an
 * off-by-one would read past.) */
static void test_ends_at_guard(void **state) {
    static const char *const cut[] = {
        "", "\r", "\n", "G", "GET", "GET ", "GET /", "GET /x", "GET /x ", "GET /x H", "GET /x HTTP/",
        "GET /x HTTP/1", "GET /x HTTP/1.", "GET /x HTTP/1.1", "GET /x HTTP/1.1\r", "GET /x HTTP/1.1\r\n",
        "GET /x HTTP/1.1\r\nH", "GET /x HTTP/1.1\r\nHost", "GET /x HTTP/1.1\r\nHost:", "GET /x HTTP/1.1\r\nHost: ",
        "GET /x HTTP/1.1\r\nHost: h", "GET /x HTTP/1.1\r\nHost: h \t", "GET /x HTTP/1.1\r\nHost: h\r",
        "GET /x HTTP/1.1\r\nHost: h\r\n", "GET /x HTTP/1.1\r\nHost: h\r\n\r",
        "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) again(cut[i]);
    struct http_request r;
    assert_int_equal(http_parse(NULL, 0, &r), HTTP_AGAIN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_page_faults),
        cmocka_unit_test(test_methods_and_versions),
        cmocka_unit_test(test_ocsp_post),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_optional_views),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_split_every_offset),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_request_line_errors),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_target_cap),
        cmocka_unit_test(test_head_cap),
        cmocka_unit_test(test_fields_cap),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_ends_at_guard),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_later_minor_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
