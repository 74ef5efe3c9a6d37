/* shard/httpout: response heads and the RFC 5019 / 9919 caching rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <time.h>

#include "shard/httpout.h"

static const char etag[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* The value of header name in a head, or NULL. */
static const char *header(const char *h, const char *name, char *buf, size_t cap) {
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strstr(h, key);
    if (p == NULL) return NULL;
    p += strlen(key);
    const char *e = strstr(p, "\r\n");
    snprintf(buf, cap, "%.*s", (int)(e - p), p);
    return buf;
}

static void test_date(void **state) {
    char d[30];
    httpout_date(784111777, d); /* RFC 9110 5.6.7's example */
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    httpout_date(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_max_age(void **state) {
    struct httpout_cache c = {1000, 1000 + 4 * 86400, 1000 + 2 * 86400, 3600};
    assert_int_equal(httpout_max_age(&c, 1000), 3600);             /* the cap */
    c.max_age_cap = 10 * 86400;
    assert_int_equal(httpout_max_age(&c, 1000), 2 * 86400);        /* the refresh */
    c.refresh_at = c.next_update + 100;
    assert_int_equal(httpout_max_age(&c, 1000 + 86400), 3 * 86400); /* nextUpdate */
    assert_int_equal(httpout_max_age(&c, c.next_update + 1), 0);   /* never negative */
}

static void test_ocsp_200(void **state) {
    uint8_t out[2048], body[300];
    memset(body, 0x5a, sizeof(body));
    struct httpout_cache c = {1700000000, 1700000000 + 4 * 86400, 1700000000 + 2 * 86400, 3600};
    size_t n = httpout_ocsp(out, sizeof(out), body, sizeof(body), etag, &c, 1700000100, 1, 0);
    assert_true(n > sizeof(body));
    char h[2048], v[128];
    memcpy(h, out, n - sizeof(body));
    h[n - sizeof(body)] = '\0';
    assert_true(strncmp(h, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_string_equal(header(h, "Content-Type", v, sizeof(v)), "application/ocsp-response");
    assert_string_equal(header(h, "Content-Length", v, sizeof(v)), "300");
    assert_string_equal(header(h, "Last-Modified", v, sizeof(v)), "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_string_equal(header(h, "Expires", v, sizeof(v)), "Sat, 18 Nov 2023 22:13:20 GMT");
    assert_string_equal(header(h, "Date", v, sizeof(v)), "Tue, 14 Nov 2023 22:15:00 GMT");
    snprintf(v, sizeof(v), "\"%s\"", etag);
    char e2[128];
    assert_string_equal(header(h, "ETag", e2, sizeof(e2)), v);
    assert_string_equal(header(h, "Cache-Control", v, sizeof(v)), "max-age=3600, public, no-transform, must-revalidate");
    assert_null(header(h, "Connection", v, sizeof(v)));
    assert_true(strcmp(h + strlen(h) - 4, "\r\n\r\n") == 0);
    assert_memory_equal(out + n - sizeof(body), body, sizeof(body));
    /* HEAD: the same head, no body; close: a Connection header. */
    size_t hn = httpout_ocsp(out, sizeof(out), body, sizeof(body), etag, &c, 1700000100, 0, 1);
    assert_int_equal(hn, n - sizeof(body) + strlen("Connection: close\r\n"));
    out[hn] = '\0';
    assert_non_null(strstr((char *)out, "\r\nConnection: close\r\n\r\n"));
    /* Too small a buffer: nothing. */
    assert_int_equal(httpout_ocsp(out, n - 1, body, sizeof(body), etag, &c, 1700000100, 1, 0), 0);
    assert_int_equal(httpout_ocsp(out, 50, body, sizeof(body), etag, &c, 1700000100, 1, 0), 0);
}

static void test_304_and_uncached(void **state) {
    uint8_t out[1024];
    struct httpout_cache c = {1700000000, 1700000000 + 86400, 1700000000 + 43200, 3600};
    size_t n = httpout_not_modified(out, sizeof(out), etag, &c, 1700000000 + 43000, 1);
    assert_true(n > 0);
    out[n] = '\0';
    char v[128];
    assert_true(strncmp((char *)out, "HTTP/1.1 304 Not Modified\r\n", 27) == 0);
    assert_null(header((char *)out, "Content-Length", v, sizeof(v)));
    assert_string_equal(header((char *)out, "Cache-Control", v, sizeof(v)), "max-age=200, public, no-transform, must-revalidate");
    static const uint8_t unauthorized[5] = {0x30, 0x03, 0x0a, 0x01, 0x06};
    n = httpout_uncached(out, sizeof(out), 200, "application/ocsp-response", unauthorized, 5, 1700000000, 0, 0);
    assert_true(n > 5);
    assert_memory_equal(out + n - 5, unauthorized, 5);
    out[n - 5] = '\0';
    assert_string_equal(header((char *)out, "Cache-Control", v, sizeof(v)), "max-age=0, no-cache");
    assert_string_equal(header((char *)out, "Content-Length", v, sizeof(v)), "5");
    assert_string_equal(header((char *)out, "Connection", v, sizeof(v)), "close");
    n = httpout_uncached(out, sizeof(out), 400, NULL, NULL, 0, 1700000000, 0, 0);
    out[n] = '\0';
    assert_true(strncmp((char *)out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    assert_null(header((char *)out, "Content-Type", v, sizeof(v)));
    assert_string_equal(header((char *)out, "Content-Length", v, sizeof(v)), "0");
}

/* 405 carries Allow (RFC 9110 15.5.6: MUST); 412 has its reason phrase. */
static void test_405_allow_and_412(void **state) {
    uint8_t out[1024];
    char v[128];
    size_t n = httpout_not_allowed(out, sizeof(out), "GET, HEAD", 1700000000, 1);
    assert_true(n > 0);
    out[n] = '\0';
    assert_true(strncmp((char *)out, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    assert_string_equal(header((char *)out, "Allow", v, sizeof(v)), "GET, HEAD");
    assert_string_equal(header((char *)out, "Content-Length", v, sizeof(v)), "0");
    assert_null(header((char *)out, "Connection", v, sizeof(v)));
    assert_int_equal(httpout_not_allowed(out, 40, "POST", 1700000000, 1), 0); /* does not fit */
    n = httpout_uncached(out, sizeof(out), 412, NULL, NULL, 0, 1700000000, 1, 0);
    out[n] = '\0';
    assert_true(strncmp((char *)out, "HTTP/1.1 412 Precondition Failed\r\n", 34) == 0);
}

static void test_etag(void **state) {
    char q[200];
    snprintf(q, sizeof(q), "\"%s\"", etag);
    assert_true(httpout_etag_matches(q, strlen(q), etag));
    snprintf(q, sizeof(q), "W/\"%s\"", etag);
    assert_true(httpout_etag_matches(q, strlen(q), etag));
    snprintf(q, sizeof(q), "\"x\", \"y\" ,W/\"%s\"", etag);
    assert_true(httpout_etag_matches(q, strlen(q), etag));
    assert_true(httpout_etag_matches("*", 1, etag));
    assert_false(httpout_etag_matches("", 0, etag));
    assert_false(httpout_etag_matches("\"abc\"", 5, etag));
    snprintf(q, sizeof(q), "\"%.63s\"", etag); /* one short */
    assert_false(httpout_etag_matches(q, strlen(q), etag));
    snprintf(q, sizeof(q), "%s", etag); /* unquoted */
    assert_false(httpout_etag_matches(q, strlen(q), etag));
    snprintf(q, sizeof(q), "\"%s", etag); /* unterminated */
    assert_false(httpout_etag_matches(q, strlen(q), etag));
    /* The view is a length: bytes past it are not read. */
    snprintf(q, sizeof(q), "\"%s\"", etag);
    assert_false(httpout_etag_matches(q, strlen(q) - 1, etag));
}

/* The hand-made IMF-fixdate equals strftime's over gmtime, for times from
 * 1900 to 9999 (leap days, centuries, negative times included). */
static void test_date_vs_strftime(void **state) {
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t t = -2208988800LL + (int64_t)(x % (253402300799ULL + 2208988800ULL));
        if (i < 4) t = (int64_t[]){0, 951782400 /* 2000-02-29 */, -1, 253402300799LL}[i];
        char mine[30], ref[64];
        httpout_date(t, mine);
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(ref, sizeof(ref), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        assert_string_equal(mine, ref);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_date_vs_strftime),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_max_age),
        cmocka_unit_test(test_ocsp_200),
        cmocka_unit_test(test_304_and_uncached),
        cmocka_unit_test(test_405_allow_and_412),
        cmocka_unit_test(test_etag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
