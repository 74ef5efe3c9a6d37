/* Unit tests of the common/ bricks: hex serials, times, CRL reasons, base
 * URLs and the URLs built from them, atomic files and safe file creation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/cidr.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

/* ---- hex ---------------------------------------------------------------- */

/* Parses s and checks that it gives exactly the want_len bytes of want. */
static void serial_is(const char *s, const uint8_t *want, size_t want_len) {
    uint8_t out[HEX_SERIAL_MAX + 1];
    size_t out_len = 999;
    memset(out, 0xAA, sizeof(out));
    if (!hex_parse_serial(s, out, &out_len)) fail_msg("hex_parse_serial refused '%s'", s);
    assert_int_equal(out_len, want_len);
    assert_memory_equal(out, want, want_len);
}

static void serial_refused(const char *s) {
    uint8_t out[HEX_SERIAL_MAX + 1];
    size_t out_len = 999;
    if (hex_parse_serial(s, out, &out_len)) fail_msg("hex_parse_serial accepted '%s'", s);
}

static void test_hex_parse_serial_valid(void **state) {
    serial_is("01", (const uint8_t[]){0x01}, 1);
    serial_is("1", (const uint8_t[]){0x01}, 1);
    serial_is("0x0102", (const uint8_t[]){0x01, 0x02}, 2);
    serial_is("0X0a0B", (const uint8_t[]){0x0a, 0x0b}, 2);
    serial_is("01:02:03", (const uint8_t[]){0x01, 0x02, 0x03}, 3);
    serial_is("0x7f:FF", (const uint8_t[]){0x7f, 0xff}, 2);
    /* Odd digit counts: a leading 0 is implied. */
    serial_is("abc", (const uint8_t[]){0x0a, 0xbc}, 2);
    serial_is("12345", (const uint8_t[]){0x01, 0x23, 0x45}, 3);
    /* Leading zero octets (and digits) are dropped. */
    serial_is("000001", (const uint8_t[]){0x01}, 1);
    serial_is("00:00:7f", (const uint8_t[]){0x7f}, 1);
    serial_is("0x000000000000000000000000000000000000000000000000000042",
              (const uint8_t[]){0x42}, 1);
    /* The top bit set: a 0x00 in front keeps the INTEGER positive. */
    serial_is("80", (const uint8_t[]){0x00, 0x80}, 2);
    serial_is("ff:ff", (const uint8_t[]){0x00, 0xff, 0xff}, 3);
    serial_is("0x00FF", (const uint8_t[]){0x00, 0xff}, 2);
    serial_is("00:80:00", (const uint8_t[]){0x00, 0x80, 0x00}, 3);
    /* An odd count never has the top bit set in its first (half) octet. */
    serial_is("fff", (const uint8_t[]){0x0f, 0xff}, 2);

    /* 20 octets, top bit clear: the largest accepted. */
    uint8_t want[20];
    memset(want, 0xff, sizeof(want));
    want[0] = 0x7f;
    serial_is("7fffffffffffffffffffffffffffffffffffffff", want, 20);
    serial_is("00007fffffffffffffffffffffffffffffffffffffff", want, 20);
    /* 19 octets with the top bit set: 20 with its 0x00. */
    uint8_t want19[20];
    memset(want19, 0x80, sizeof(want19));
    want19[0] = 0x00;
    serial_is("80808080808080808080808080808080808080", want19, 20);
}

static void test_hex_parse_serial_invalid(void **state) {
    serial_refused("");
    serial_refused("0");
    serial_refused("00");
    serial_refused("00:00:00");
    serial_refused("0x");
    serial_refused("0x0");
    serial_refused("0x00");
    serial_refused(":");
    serial_refused("0x:");
    serial_refused("xyz");
    serial_refused("12g4");
    serial_refused("-1");
    serial_refused("+1");
    serial_refused(" 01");
    serial_refused("01 ");
    serial_refused("0x0x1");
    serial_refused("x01");
    serial_refused("01\n");
    /* 21 octets. */
    serial_refused("010000000000000000000000000000000000000000");
    /* 20 octets with the top bit set: 21 with the 0x00 (RFC 5280: at most 20). */
    serial_refused("8000000000000000000000000000000000000000");
    serial_refused("ffffffffffffffffffffffffffffffffffffffff");
    /* Far too long, in digits and in octets. */
    char longs[400];
    memset(longs, '1', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    serial_refused(longs);
    /* Long runs of leading zeros are fine; the value is what counts. */
    char zeros[400];
    memset(zeros, '0', sizeof(zeros) - 1);
    zeros[sizeof(zeros) - 3] = '4';
    zeros[sizeof(zeros) - 2] = '2';
    zeros[sizeof(zeros) - 1] = '\0';
    serial_is(zeros, (const uint8_t[]){0x42}, 1);
}

static void test_hex_encode(void **state) {
    char out[64];
    memset(out, 'x', sizeof(out));
    hex_encode((const uint8_t[]){0x00, 0xab, 0x1f, 0x90}, 4, out);
    assert_string_equal(out, "00AB1F90");
    memset(out, 'x', sizeof(out));
    hex_encode(NULL, 0, out);
    assert_string_equal(out, "");
    /* Round trip through the parser for a full-size serial. */
    uint8_t s[HEX_SERIAL_MAX];
    for (size_t i = 0; i < sizeof(s); i++) s[i] = (uint8_t)(0x71 - i * 3);
    hex_encode(s, sizeof(s), out);
    assert_int_equal(strlen(out), 40);
    uint8_t back[HEX_SERIAL_MAX + 1];
    size_t bl;
    assert_true(hex_parse_serial(out, back, &bl));
    assert_int_equal(bl, sizeof(s));
    assert_memory_equal(back, s, sizeof(s));
}

/* As `openssl x509 -serial` prints serials: without the 0x00 that only
 * keeps a top-bit-set INTEGER positive. */
static void test_hex_encode_serial(void **state) {
    char out[2 * (HEX_SERIAL_MAX + 1) + 1];
    hex_encode_serial((const uint8_t[]){0x00, 0x80, 0x01}, 3, out);
    assert_string_equal(out, "8001");
    hex_encode_serial((const uint8_t[]){0x00, 0xff}, 2, out);
    assert_string_equal(out, "FF");
    hex_encode_serial((const uint8_t[]){0x7f, 0x01}, 2, out);
    assert_string_equal(out, "7F01");
    hex_encode_serial((const uint8_t[]){0x00, 0x7f}, 2, out); /* not minimal: kept as is */
    assert_string_equal(out, "007F");
    hex_encode_serial((const uint8_t[]){0x00}, 1, out);
    assert_string_equal(out, "00");
    hex_encode_serial((const uint8_t[]){0x01}, 1, out);
    assert_string_equal(out, "01");
    /* What hex_parse_serial gives back for what it prints. */
    uint8_t s[HEX_SERIAL_MAX + 1];
    size_t sl;
    assert_true(hex_parse_serial("ff:01", s, &sl));
    assert_int_equal(sl, 3);
    hex_encode_serial(s, sl, out);
    assert_string_equal(out, "FF01");
    uint8_t back[HEX_SERIAL_MAX + 1];
    size_t bl;
    assert_true(hex_parse_serial(out, back, &bl));
    assert_int_equal(bl, sl);
    assert_memory_equal(back, s, sl);
}

/* ---- rtime -------------------------------------------------------------- */

static void time_is(const char *s, int64_t want) {
    int64_t t = 12345;
    if (!rtime_parse(s, &t)) fail_msg("rtime_parse refused '%s'", s);
    if (t != want) fail_msg("rtime_parse('%s') = %lld, want %lld", s, (long long)t, (long long)want);
}

static void time_refused(const char *s) {
    int64_t t = 12345;
    if (rtime_parse(s, &t)) fail_msg("rtime_parse accepted '%s' as %lld", s, (long long)t);
}

static void test_rtime_parse_valid(void **state) {
    time_is("1970-01-01T00:00:00Z", 0);
    time_is("1970-01-01", 0);
    time_is("@0", 0);
    time_is("2000-01-01", 946684800);
    time_is("2000-01-01T00:00:00Z", 946684800);
    time_is("2024-02-29T12:34:56Z", 1709210096);
    time_is("2024-05-01T10:00:00Z", 1714557600);
    time_is("2030-01-01", 1893456000);
    time_is("@1700000000", 1700000000);
    time_is("@000000000042", 42);
    time_is("@253402300799", 253402300799);
    time_is("1950-01-01", -631152000);
    time_is("1950-01-01T00:00:00Z", -631152000);
    time_is("9999-12-31T23:59:59Z", 253402300799);
    /* Leap days: divisible by 4, by 400; and the last second of days. */
    time_is("2000-02-29", 951782400);
    time_is("1952-02-29", -562982400);
    time_is("2023-12-31T23:59:59Z", 1704067199);
    time_is("2023-02-28T23:59:59Z", 1677628799);
    time_is("2024-12-31T23:59:59Z", 1735689599);
}

static void test_rtime_parse_invalid(void **state) {
    /* Dates that do not exist. */
    time_refused("2023-02-29");
    time_refused("2100-02-29");
    time_refused("2024-02-30");
    time_refused("2024-04-31");
    time_refused("2024-06-31");
    time_refused("2024-09-31");
    time_refused("2024-11-31");
    time_refused("2024-01-32");
    time_refused("2024-01-00");
    time_refused("2024-00-10");
    time_refused("2024-13-01");
    /* Out-of-range time fields. */
    time_refused("2024-01-01T24:00:00Z");
    time_refused("2024-01-01T23:60:00Z");
    time_refused("2024-01-01T23:59:60Z");
    time_refused("2024-01-01T99:99:99Z");
    /* Before 1950; after 9999 (the @ form). */
    time_refused("1949-12-31");
    time_refused("1949-12-31T23:59:59Z");
    time_refused("0000-01-01");
    time_refused("@253402300800");
    time_refused("@1234567890123");
    /* Wrong shapes and trailing garbage. */
    time_refused("");
    time_refused("@");
    time_refused("@-1");
    time_refused("@1e5");
    time_refused("@12 ");
    time_refused("@ 12");
    time_refused("2024-01-01 ");
    time_refused("2024-01-01x");
    time_refused(" 2024-01-01");
    time_refused("2024-01-01T00:00:00Z ");
    time_refused("2024-01-01T00:00:00ZZ");
    time_refused("2024-01-01T00:00:00");
    time_refused("2024-01-01T00:00:00+00:00");
    time_refused("2024-01-01 00:00:00Z");
    time_refused("2024-01-01t00:00:00z");
    time_refused("2024-01-01T00:00Z");
    time_refused("2024/01/01");
    time_refused("2024-1-01");
    time_refused("24-01-01");
    time_refused("+024-01-01");
    time_refused("2024-01-+1");
    time_refused("2024-01-01T0:00:000Z");
    time_refused("yesterday");
}

static void test_rtime_parse_n(void **state) {
    int64_t t = 0;
    /* Only len bytes are read: what follows does not matter. */
    assert_true(rtime_parse_n("2024-02-29GARBAGE", 10, &t));
    assert_int_equal(t, 1709164800);
    assert_true(rtime_parse_n("@1700000000999", 11, &t));
    assert_int_equal(t, 1700000000);
    /* An exact-size buffer with no NUL after it. */
    char *buf = malloc(20);
    assert_non_null(buf);
    memcpy(buf, "2024-02-29T12:34:56Z", 20);
    assert_true(rtime_parse_n(buf, 20, &t));
    assert_int_equal(t, 1709210096);
    assert_false(rtime_parse_n(buf, 19, &t));
    assert_false(rtime_parse_n(buf, 11, &t));
    assert_false(rtime_parse_n(buf, 0, &t));
    free(buf);
    assert_false(rtime_parse_n("@", 1, &t));
    /* A NUL inside the length is not a digit. */
    assert_false(rtime_parse_n("@12\0" "45", 6, &t));
    assert_false(rtime_parse_n("2024-01-01\0" "00:00:00Z", 20, &t));
}

static void test_rtime_format_round_trip(void **state) {
    char out[21];
    rtime_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    rtime_format(1709210096, out);
    assert_string_equal(out, "2024-02-29T12:34:56Z");
    rtime_format(-631152000, out);
    assert_string_equal(out, "1950-01-01T00:00:00Z");
    rtime_format(253402300799, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    static const int64_t ts[] = {0, 1, 59, 86399, 951868799, 951868800, 1709164800,
                                 1709251199, 4107542399, -631152000, -1, 253402300799,
                                 1893456000, 2147483647, 2147483648};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        rtime_format(ts[i], out);
        assert_int_equal(strlen(out), 20);
        int64_t back = 0;
        if (!rtime_parse(out, &back)) fail_msg("rtime_parse refused its own '%s'", out);
        assert_int_equal(back, ts[i]);
    }
    /* A walk over 1950..2100, one step a little over 3 days, crossing every
     * month end and leap day. */
    for (int64_t t = -631152000; t < 4102444800; t += 273601) {
        rtime_format(t, out);
        int64_t back = 0;
        if (!rtime_parse(out, &back) || back != t)
            fail_msg("round trip of %lld via '%s' gave %lld", (long long)t, out, (long long)back);
    }
    assert_int_equal(rtime_from_civil(2024, 2, 29, 12, 34, 56), 1709210096);
    int64_t now = rtime_now();
    assert_true(now > 1700000000);
}

/* ---- reason ------------------------------------------------------------- */

static void test_reason_names(void **state) {
    static const struct {
        const char *name;
        int code;
    } all[] = {
        {"unspecified", 0},         {"keyCompromise", 1},        {"cACompromise", 2},
        {"affiliationChanged", 3},  {"superseded", 4},           {"cessationOfOperation", 5},
        {"certificateHold", 6},     {"privilegeWithdrawn", 9},   {"aACompromise", 10},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int code = -1;
        if (!reason_parse(all[i].name, &code)) fail_msg("reason_parse refused '%s'", all[i].name);
        assert_int_equal(code, all[i].code);
        assert_non_null(reason_name(all[i].code));
        assert_string_equal(reason_name(all[i].code), all[i].name);
        assert_non_null(strstr(reason_list(), all[i].name));
        /* Case-insensitive: all upper and all lower case. */
        char up[64], low[64];
        size_t n = strlen(all[i].name);
        for (size_t j = 0; j <= n; j++) {
            char ch = all[i].name[j];
            up[j] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
            low[j] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        code = -1;
        assert_true(reason_parse(up, &code));
        assert_int_equal(code, all[i].code);
        code = -1;
        assert_true(reason_parse(low, &code));
        assert_int_equal(code, all[i].code);
    }
    assert_string_equal(reason_name(8), "removeFromCRL");
    assert_null(reason_name(7));
    assert_null(reason_name(-1));
    assert_null(reason_name(11));
    assert_null(strstr(reason_list(), "removeFromCRL"));
}

static void test_reason_refused(void **state) {
    static const char *const bad[] = {"removeFromCRL", "REMOVEFROMCRL", "removefromcrl", "",
                                      "keyCompromise ", " keyCompromise", "key-compromise",
                                      "keyCompromis", "keyCompromisee", "1", "7", "8",
                                      "hold", "revoked", "unused"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int code = 1234;
        if (reason_parse(bad[i], &code)) fail_msg("reason_parse accepted '%s' as %d", bad[i], code);
        assert_int_equal(code, 1234);
    }
}

/* ---- urls --------------------------------------------------------------- */

static void base_is(const char *in, const char *want) {
    char out[URLS_MAX];
    struct rerr e = {{0}};
    if (!urls_normalize_base(in, out, &e)) fail_msg("urls_normalize_base('%s') refused: %s", in, e.msg);
    assert_string_equal(out, want);
    /* The canonical form is a fixed point. */
    char again[URLS_MAX];
    assert_true(urls_normalize_base(out, again, &e));
    assert_string_equal(again, out);
}

static void base_refused(const char *in) {
    char out[URLS_MAX];
    struct rerr e = {{0}};
    if (urls_normalize_base(in, out, &e)) fail_msg("urls_normalize_base accepted '%s' as '%s'", in, out);
    if (e.msg[0] == '\0') fail_msg("urls_normalize_base('%s') gave no message", in);
}

static void test_urls_normalize_ok(void **state) {
    base_is("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    base_is("HTTP://Example.COM", "http://example.com");
    base_is("HtTpS://OCSP.Example.Com:8443", "https://ocsp.example.com:8443");
    /* The path keeps its case: servers may tell them apart. */
    base_is("https://Example.com/Revd/PKI", "https://example.com/Revd/PKI");
    base_is("http://example.com/", "http://example.com");
    base_is("http://example.com/pki/", "http://example.com/pki");
    base_is("http://example.com/pki///", "http://example.com/pki");
    base_is("http://[::1]:8080/x", "http://[::1]:8080/x");
    base_is("http://a-b.example/p_q/r~s/t.u", "http://a-b.example/p_q/r~s/t.u");
    /* URLS_BASE_MAX characters is the longest: the longest URL built on it
     * (a 64-character CA name, partition 4294967295) still fits URLS_MAX. */
    char in[256];
    strcpy(in, "http://example.com/");
    size_t n = strlen(in);
    memset(in + n, 'a', URLS_BASE_MAX - n);
    in[URLS_BASE_MAX] = '\0';
    base_is(in, in);
    char url[URLS_MAX];
    char name[65];
    memset(name, 'n', 64);
    name[64] = '\0';
    assert_true(urls_crl_partition(in, name, 4294967295u, url));
    assert_int_equal(strlen(url), strlen(in) + 5 + 64 + 15);
    in[URLS_BASE_MAX] = 'a';
    in[URLS_BASE_MAX + 1] = '\0';
    base_refused(in);
}

static void test_urls_normalize_refused(void **state) {
    base_refused("");
    base_refused("example.com");
    base_refused("ftp://example.com");
    base_refused("file:///etc/passwd");
    base_refused("ldap://example.com");
    base_refused("httpx://example.com");
    base_refused("http:/example.com");
    base_refused("http//example.com");
    base_refused("http://example.com/a?b=c");
    base_refused("http://example.com?x");
    base_refused("http://example.com/#frag");
    base_refused("http://example.com#frag");
    base_refused("http://example.com/a%20b");
    base_refused("http://example.com/%2e%2e");
    base_refused("http://user@example.com");
    base_refused("http://user:pw@example.com/");
    base_refused("http://example.com/a@b");
    base_refused("http://exa mple.com");
    base_refused("http://example.com/a b");
    base_refused("http://example.com ");
    base_refused(" http://example.com");
    base_refused("http://example.com/a\tb");
    base_refused("http://example.com/\xc3\xa9");
    base_refused("http://");
    base_refused("https://");
    base_refused("http:///pki");
    base_refused("http://example.com//pki");
    base_refused("http://example.com/a//b");
    base_refused("http://example.com/a\\b");
    base_refused("http://example.com/a\"b");
    /* 192 characters. */
    char in[256];
    strcpy(in, "http://example.com/");
    size_t n = strlen(in);
    memset(in + n, 'a', 192 - n);
    in[192] = '\0';
    base_refused(in);
}

/* A port without a host name is still an empty host. */
static void test_urls_normalize_empty_host_with_port(void **state) {
    base_refused("http://:8080");
    base_refused("http://:8080/pki");
}

/* The port, when there is one, is a number. */
static void test_urls_normalize_bad_port(void **state) {
    base_refused("http://example.com:http");
    base_refused("http://example.com:80:80");
    base_refused("http://example.com:");
}

static void test_urls_builders(void **state) {
    char out[URLS_MAX];
    const char *base = "http://h.example:8080/p";
    assert_true(urls_crl_partition(base, "sub", 7, out));
    assert_string_equal(out, "http://h.example:8080/p/crl/sub/7.crl");
    assert_true(urls_crl_partition(base, "sub", 0, out));
    assert_string_equal(out, "http://h.example:8080/p/crl/sub/0.crl");
    assert_true(urls_crl_partition(base, "sub", 4294967294u, out));
    assert_string_equal(out, "http://h.example:8080/p/crl/sub/4294967294.crl");
    assert_true(urls_crl_complete(base, "sub", out));
    assert_string_equal(out, "http://h.example:8080/p/crl/sub.crl");
    assert_true(urls_crl_ca_scope(base, "sub", out));
    assert_string_equal(out, "http://h.example:8080/p/crl/sub/ca.crl");
    assert_true(urls_ocsp(base, out));
    assert_string_equal(out, "http://h.example:8080/p/ocsp");
    assert_true(urls_ca_issuers(base, "sub", out));
    assert_string_equal(out, "http://h.example:8080/p/ca/sub.der");
    assert_true(urls_ocsp("https://x", out));
    assert_string_equal(out, "https://x/ocsp");

    /* The cap: 255 characters fit, 256 do not. */
    char big[URLS_MAX + 8];
    strcpy(big, "http://");
    memset(big + 7, 'a', 250 - 7);
    big[250] = '\0';
    assert_true(urls_ocsp(big, out));
    assert_int_equal(strlen(out), 255);
    big[250] = 'a';
    big[251] = '\0';
    assert_false(urls_ocsp(big, out));
    assert_false(urls_crl_partition(big, "sub", 1, out));
    assert_false(urls_crl_complete(big, "sub", out));
    assert_false(urls_crl_ca_scope(big, "sub", out));
    assert_false(urls_ca_issuers(big, "sub", out));
}

/* ---- fsutil ------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(p);
}

static int tmpdir_setup(void **state) {
    char *d = strdup("/tmp/revd-test-common-XXXXXX");
    if (d == NULL || mkdtemp(d) == NULL) return -1;
    *state = d;
    return 0;
}

static int tmpdir_teardown(void **state) {
    char *d = *state;
    nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
    return 0;
}

static int count_entries(const char *dir) {
    DIR *dp = opendir(dir);
    if (dp == NULL) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    closedir(dp);
    return n;
}

static void test_fs_round_trip(void **state) {
    const char *dir = *state;
    char path[512];
    snprintf(path, sizeof(path), "%s/f.bin", dir);
    struct rerr e = {{0}};
    static const uint8_t data[] = {'h', 'i', 0, 1, 2, 0xff, '\n', 'x'};
    assert_true(fs_write_atomic(path, data, sizeof(data), 0600, &e));
    uint8_t *got = NULL;
    size_t got_len = 0;
    assert_true(fs_read_file(path, 1024, &got, &got_len, &e));
    assert_int_equal(got_len, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    assert_int_equal(got[got_len], '\0');
    free(got);
    /* Replaced whole; no temporary file is left beside it. */
    assert_true(fs_write_atomic(path, "second", 6, 0600, &e));
    assert_true(fs_read_file(path, 1024, &got, &got_len, &e));
    assert_int_equal(got_len, 6);
    assert_string_equal((char *)got, "second");
    free(got);
    assert_int_equal(count_entries(dir), 1);
    /* An empty file. */
    assert_true(fs_write_atomic(path, "", 0, 0600, &e));
    got = NULL;
    assert_true(fs_read_file(path, 1024, &got, &got_len, &e));
    assert_non_null(got);
    assert_int_equal(got_len, 0);
    assert_int_equal(got[0], '\0');
    free(got);
}

static void test_fs_modes(void **state) {
    const char *dir = *state;
    char path[512];
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    struct rerr e = {{0}};
    mode_t old = umask(077);
    struct stat st;
    /* The mode is what was asked for, whatever the umask. */
    assert_true(fs_write_atomic(path, "k", 1, 0644, &e));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_true(fs_write_atomic(path, "k", 1, 0600, &e));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(0);
    assert_true(fs_write_atomic(path, "k", 1, 0640, &e));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    umask(old);
    assert_true(S_ISREG(st.st_mode));
}

static void test_fs_size_cap(void **state) {
    const char *dir = *state;
    char path[512];
    snprintf(path, sizeof(path), "%s/capped", dir);
    struct rerr e = {{0}};
    char data[1000];
    memset(data, 'z', sizeof(data));
    assert_true(fs_write_atomic(path, data, sizeof(data), 0600, &e));
    uint8_t *got = NULL;
    size_t got_len = 0;
    /* Exactly at the cap: accepted. */
    assert_true(fs_read_file(path, sizeof(data), &got, &got_len, &e));
    assert_int_equal(got_len, sizeof(data));
    free(got);
    /* One byte over: refused, and the message says so. */
    got = NULL;
    e.msg[0] = '\0';
    assert_false(fs_read_file(path, sizeof(data) - 1, &got, &got_len, &e));
    assert_null(got);
    assert_non_null(strstr(e.msg, "too large"));
    assert_false(fs_read_file(path, 0, &got, &got_len, &e));
}

static void test_fs_errors(void **state) {
    const char *dir = *state;
    char path[512];
    struct rerr e = {{0}};
    uint8_t *got = NULL;
    size_t got_len = 0;
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_false(fs_read_file(path, 1024, &got, &got_len, &e));
    assert_non_null(strstr(e.msg, "cannot open"));
    /* A directory is not a file. */
    e.msg[0] = '\0';
    assert_false(fs_read_file(dir, 1024, &got, &got_len, &e));
    assert_non_null(strstr(e.msg, "not a regular file"));
    /* Writing into a directory that does not exist. */
    snprintf(path, sizeof(path), "%s/no/such/f", dir);
    e.msg[0] = '\0';
    assert_false(fs_write_atomic(path, "x", 1, 0600, &e));
    assert_true(e.msg[0] != '\0');
    /* fs_mkdirs makes the parents, and is happy when they exist. */
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    assert_true(fs_mkdirs(path, 0700, &e));
    assert_true(fs_mkdirs(path, 0700, &e));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(path, sizeof(path), "%s/a/b/c/f", dir);
    assert_true(fs_write_atomic(path, "deep", 4, 0600, &e));
    assert_true(fs_read_file(path, 16, &got, &got_len, &e));
    assert_string_equal((char *)got, "deep");
    free(got);
}

/* Writes s to path (the test's own files). */
static void put(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static int holds(const char *path, const char *want) {
    uint8_t *got = NULL;
    size_t got_len = 0;
    struct rerr e;
    if (!fs_read_file(path, 1024, &got, &got_len, &e)) return 0;
    int ok = got_len == strlen(want) && memcmp(got, want, got_len) == 0;
    free(got);
    return ok;
}

/* Issue 13: a symlink planted at the name the old writer used for its
 * temporary file (PATH.tmp.PID), or at the final name, is never followed:
 * the file it points to keeps its bytes. */
static void test_fs_planted_symlinks(void **state) {
    const char *dir = *state;
    char victim[512], path[512], planted[600];
    struct rerr e = {{0}};
    struct stat st;
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    put(victim, "precious");
    snprintf(path, sizeof(path), "%s/out", dir);
    snprintf(planted, sizeof(planted), "%s.tmp.%ld", path, (long)getpid());
    assert_int_equal(symlink(victim, planted), 0);
    assert_true(fs_write_atomic(path, "new", 3, 0600, &e));
    assert_true(holds(victim, "precious"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(holds(path, "new"));
    assert_int_equal(lstat(planted, &st), 0); /* left as it was */
    assert_true(S_ISLNK(st.st_mode));
    /* At the final name: rename replaces the link itself. */
    snprintf(path, sizeof(path), "%s/out2", dir);
    assert_int_equal(symlink(victim, path), 0);
    assert_true(fs_write_atomic(path, "mine", 4, 0600, &e));
    assert_true(holds(victim, "precious"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_true(holds(path, "mine"));
}

/* fs_tmp_open: a fresh random name each time (NAME.tmp.<16 hex>), created
 * with the mode asked for; abort leaves nothing, commit leaves the file. */
static void test_fs_tmp_names(void **state) {
    const char *dir = *state;
    char path[512];
    struct rerr e = {{0}};
    struct fs_tmp a, b;
    struct stat st;
    snprintf(path, sizeof(path), "%s/r.csv", dir);
    assert_true(fs_tmp_open(&a, path, 0600, 0, &e));
    assert_true(fs_tmp_open(&b, path, 0600, 0, &e));
    assert_string_not_equal(a.tmp, b.tmp);
    assert_int_equal(strlen(a.tmp), strlen("r.csv.tmp.") + 16);
    assert_memory_equal(a.tmp, "r.csv.tmp.", 10);
    assert_int_equal(strspn(a.tmp + 10, "0123456789abcdef"), 16);
    assert_int_equal(fstat(a.fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_entries(dir), 2);
    fs_tmp_abort(&b);
    assert_int_equal(count_entries(dir), 1);
    assert_int_equal(write(a.fd, "x,y\n", 4), 4);
    assert_true(fs_tmp_commit(&a, &e));
    assert_int_equal(count_entries(dir), 1);
    assert_true(holds(path, "x,y\n"));
    /* A name with no room for the suffix is refused, not cut. */
    char longp[600];
    snprintf(longp, sizeof(longp), "%s/%0240d", dir, 7);
    e.msg[0] = '\0';
    assert_false(fs_tmp_open(&a, longp, 0600, 0, &e));
    assert_non_null(strstr(e.msg, "too long"));
}

/* Directories: one of revd's own must be ours and writable by no one
 * else; one the user named must not be writable by all without the sticky
 * bit; FS_TIGHTEN makes ours 0700. */
static void test_fs_dirs(void **state) {
    const char *dir = *state;
    char sub[512], path[600];
    struct rerr e = {{0}};
    struct stat st;
    snprintf(sub, sizeof(sub), "%s/open", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/f", sub);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_false(fs_write_atomic(path, "x", 1, 0600, &e));
    assert_non_null(strstr(e.msg, "chmod go-w"));
    assert_non_null(strstr(e.msg, sub));
    assert_false(fs_write(path, "x", 1, 0600, FS_NAMED, &e));
    assert_non_null(strstr(e.msg, "every user may write"));
    assert_int_equal(count_entries(sub), 0);
    assert_int_equal(chmod(sub, 01777), 0); /* sticky, as /tmp: fine for a named path */
    assert_true(fs_write(path, "x", 1, 0600, FS_NAMED, &e));
    assert_false(fs_write_atomic(path, "x", 1, 0600, &e));
    assert_int_equal(chmod(sub, 0770), 0); /* group-writable: not ours alone */
    assert_false(fs_dir_check(sub, 0, &e));
    assert_int_equal(chmod(sub, 0755), 0);
    assert_true(fs_dir_check(sub, 0, &e));
    assert_true(fs_write_atomic(path, "y", 1, 0600, &e));
    /* The data directory: tightened to 0700. */
    assert_true(fs_dir_check(sub, FS_TIGHTEN, &e));
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    if (geteuid() != 0) return; /* another owner needs root to make */
    assert_int_equal(chown(sub, 65534, 65534), 0);
    assert_int_equal(chmod(sub, 0755), 0);
    e.msg[0] = '\0';
    assert_false(fs_dir_check(sub, 0, &e));
    assert_non_null(strstr(e.msg, "owned by uid 65534"));
    assert_non_null(strstr(e.msg, "chown 0 "));
    assert_false(fs_dir_check(sub, FS_TIGHTEN, &e));
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755); /* not another user's to change */
    assert_false(fs_write_atomic(path, "z", 1, 0600, &e));
    assert_true(holds(path, "y"));
}

/* fs_open_append: a regular file of ours with one link, never a symlink,
 * FIFO or another user's file. */
static void test_fs_append(void **state) {
    const char *dir = *state;
    char path[512], other[512];
    struct rerr e = {{0}};
    struct stat st;
    int fd = -1;
    snprintf(path, sizeof(path), "%s/events.jsonl", dir);
    assert_true(fs_open_append(path, 0600, &fd, &e));
    assert_int_equal(write(fd, "a\n", 2), 2);
    close(fd);
    assert_true(fs_open_append(path, 0600, &fd, &e));
    assert_int_equal(write(fd, "b\n", 2), 2);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    close(fd);
    assert_true(holds(path, "a\nb\n"));
    /* A hard link to it: refused. */
    snprintf(other, sizeof(other), "%s/link", dir);
    assert_int_equal(link(path, other), 0);
    assert_false(fs_open_append(path, 0600, &fd, &e));
    assert_non_null(strstr(e.msg, "2 links"));
    unlink(other);
    /* A symlink: refused, its target untouched. */
    snprintf(other, sizeof(other), "%s/sym", dir);
    assert_int_equal(symlink(path, other), 0);
    e.msg[0] = '\0';
    assert_false(fs_open_append(other, 0600, &fd, &e));
    assert_non_null(strstr(e.msg, "symbolic link"));
    assert_true(holds(path, "a\nb\n"));
    /* A FIFO: refused at once (no reader would hold the thread forever). */
    snprintf(other, sizeof(other), "%s/fifo", dir);
    assert_int_equal(mkfifo(other, 0600), 0);
    assert_false(fs_open_append(other, 0600, &fd, &e));
    if (geteuid() != 0) return;
    assert_int_equal(chown(path, 65534, 65534), 0);
    e.msg[0] = '\0';
    assert_false(fs_open_append(path, 0600, &fd, &e));
    assert_non_null(strstr(e.msg, "owned by uid 65534"));
}

/* cidr: the metrics-allow lists, and matching peers (IPv4-mapped IPv6 as
 * IPv4). */
static int match4(const struct cidr *l, size_t n, const char *a) {
    struct sockaddr_in s = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
    return cidr_match(l, n, (struct sockaddr *)&s, sizeof(s));
}

static int match6(const struct cidr *l, size_t n, const char *a) {
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
    return cidr_match(l, n, (struct sockaddr *)&s, sizeof(s));
}

static void test_cidr(void **state) {
    (void)state;
    struct cidr l[CIDR_LIST_MAX];
    size_t n;
    char why[160], text[64];
    assert_true(cidr_parse_list(" 10.0.0.0/8 ,192.168.1.7, 2001:db8::/32,::1", l, CIDR_LIST_MAX, &n, why, sizeof(why)));
    assert_int_equal(n, 4);
    cidr_format(&l[0], text);
    assert_string_equal(text, "10.0.0.0/8");
    cidr_format(&l[1], text);
    assert_string_equal(text, "192.168.1.7/32");
    assert_true(match4(l, n, "10.255.0.1"));
    assert_false(match4(l, n, "11.0.0.1"));
    assert_true(match4(l, n, "192.168.1.7"));
    assert_false(match4(l, n, "192.168.1.8"));
    assert_true(match6(l, n, "2001:db8:ffff::1"));
    assert_false(match6(l, n, "2001:db9::1"));
    assert_true(match6(l, n, "::1"));
    assert_false(match6(l, n, "::2"));
    assert_true(match6(l, n, "::ffff:10.1.2.3")); /* an IPv4 peer on a dual-stack socket */
    assert_false(match6(l, n, "::ffff:11.1.2.3"));
    /* Odd prefix lengths. */
    assert_true(cidr_parse_list("172.16.0.0/12", l, CIDR_LIST_MAX, &n, why, sizeof(why)));
    assert_true(match4(l, n, "172.31.255.255"));
    assert_false(match4(l, n, "172.32.0.0"));
    assert_true(cidr_parse_list("any", l, CIDR_LIST_MAX, &n, why, sizeof(why)));
    assert_int_equal(n, 2);
    assert_true(match4(l, n, "8.8.8.8"));
    assert_true(match6(l, n, "2a00::1"));
    static const char *const bad[] = {
        "", "10.0.0.1/8", "300.0.0.0", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1",
        "10.0.0.0,,::1", "10.0.0.0,", "fe80::1%lo", "localhost", "10.0.0.0/8 x", "2001:db8::1/32",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (cidr_parse_list(bad[i], l, CIDR_LIST_MAX, &n, why, sizeof(why))) fail_msg("accepted '%s'", bad[i]);
        assert_true(why[0] != '\0');
    }
    /* At most CIDR_LIST_MAX. */
    char many[1024] = "";
    for (int i = 0; i <= CIDR_LIST_MAX; i++) snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.%d.0.0/16", i ? "," : "", i);
    assert_false(cidr_parse_list(many, l, CIDR_LIST_MAX, &n, why, sizeof(why)));
}

/* bytes: big-endian, so that the index's byte order is numeric order. */
static void test_bytes(void **state) {
    (void)state;
    uint8_t b[8];
    bytes_put_u32(b, 0x01020304u);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(bytes_get_u32(b), 0x01020304u);
    bytes_put_u64(b, 0x8000000000000001ull);
    assert_memory_equal(b, "\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    assert_true(bytes_get_u64(b) == 0x8000000000000001ull);
    uint8_t lo[4], hi[4];
    bytes_put_u32(lo, 255);
    bytes_put_u32(hi, 256);
    assert_true(memcmp(lo, hi, 4) < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_parse_serial_valid),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_hex_parse_serial_invalid),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_encode_serial),
        cmocka_unit_test(test_rtime_parse_valid),
        cmocka_unit_test(test_rtime_parse_invalid),
        cmocka_unit_test(test_rtime_parse_n),
        cmocka_unit_test(test_rtime_format_round_trip),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_reason_refused),
        cmocka_unit_test(test_urls_normalize_ok),
        cmocka_unit_test(test_urls_normalize_refused),
        cmocka_unit_test(test_urls_normalize_empty_host_with_port),
        cmocka_unit_test(test_urls_normalize_bad_port),
        cmocka_unit_test(test_urls_builders),
        cmocka_unit_test_setup_teardown(test_fs_round_trip, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_modes, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_size_cap, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_errors, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_planted_symlinks, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_tmp_names, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_dirs, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_fs_append, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
