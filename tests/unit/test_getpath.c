/* Unit tests of ocsp/getpath: the base64 request in the path of an OCSP GET.
 * Every spelling real clients send must decode to the same bytes; anything
 * else is refused. Each input is copied so that it ends right before a
 * PROT_NONE page, and each output buffer of out_cap bytes likewise, so a read
 * past len or a write past out_cap crashes the test. */
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

#include <openssl/evp.h>

#include "ocsp/getpath.h"

/* Three OCSP requests from `openssl ocsp -issuer ca.pem -serial ... -reqout`
 * against a throwaway P-256 CA:
 *   req1: SHA-1 CertID, serial 0x1234, no nonce (69 bytes: base64 unpadded,
 *         with '+' and '/');
 *   req2: SHA-1 CertID, serial 0x0102..12, nonce (122 bytes: one '=');
 *   req3: SHA-256 CertID, serial 0x0203, no nonce (97 bytes: "=="). */
static const uint8_t req1[] = {
  0x30, 0x43, 0x30, 0x41, 0x30, 0x3f, 0x30, 0x3d, 0x30, 0x3b, 0x30, 0x09,
  0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14, 0xb6,
  0x7b, 0x84, 0x6b, 0x32, 0x18, 0xef, 0xfc, 0x4f, 0xb8, 0xbe, 0x1c, 0x35,
  0xa3, 0xaf, 0x9f, 0x94, 0xe3, 0x9b, 0x18, 0x04, 0x14, 0x7f, 0x74, 0xe0,
  0xa3, 0x73, 0x06, 0x38, 0xe0, 0xd1, 0xca, 0x47, 0xb4, 0xe4, 0xcb, 0x04,
  0x45, 0xae, 0xe6, 0x7f, 0xfc, 0x02, 0x02, 0x12, 0x34
};
static const uint8_t req2[] = {
  0x30, 0x78, 0x30, 0x76, 0x30, 0x4f, 0x30, 0x4d, 0x30, 0x4b, 0x30, 0x09,
  0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14, 0xb6,
  0x7b, 0x84, 0x6b, 0x32, 0x18, 0xef, 0xfc, 0x4f, 0xb8, 0xbe, 0x1c, 0x35,
  0xa3, 0xaf, 0x9f, 0x94, 0xe3, 0x9b, 0x18, 0x04, 0x14, 0x7f, 0x74, 0xe0,
  0xa3, 0x73, 0x06, 0x38, 0xe0, 0xd1, 0xca, 0x47, 0xb4, 0xe4, 0xcb, 0x04,
  0x45, 0xae, 0xe6, 0x7f, 0xfc, 0x02, 0x12, 0x01, 0x02, 0x03, 0x04, 0x05,
  0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
  0x12, 0xa2, 0x23, 0x30, 0x21, 0x30, 0x1f, 0x06, 0x09, 0x2b, 0x06, 0x01,
  0x05, 0x05, 0x07, 0x30, 0x01, 0x02, 0x04, 0x12, 0x04, 0x10, 0x0b, 0x7e,
  0x7b, 0xa5, 0x43, 0x6e, 0x6c, 0x5b, 0xee, 0xe0, 0x60, 0x25, 0x18, 0x3e,
  0x8e, 0xad
};
static const uint8_t req3[] = {
  0x30, 0x5f, 0x30, 0x5d, 0x30, 0x5b, 0x30, 0x59, 0x30, 0x57, 0x30, 0x0d,
  0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
  0x00, 0x04, 0x20, 0x65, 0x9d, 0xd9, 0xb4, 0x2c, 0x0b, 0x53, 0x1e, 0x90,
  0x35, 0xc5, 0x69, 0xac, 0x4a, 0x68, 0xd9, 0x22, 0x60, 0xe2, 0xe1, 0x8a,
  0x65, 0x6d, 0xcb, 0x9e, 0x1f, 0xec, 0x9e, 0xac, 0x60, 0xf2, 0xad, 0x04,
  0x20, 0xf3, 0x8c, 0x49, 0xdc, 0x47, 0x01, 0x85, 0x79, 0x8c, 0xa7, 0xf8,
  0xfb, 0x6e, 0xc2, 0x9a, 0x64, 0x17, 0x94, 0xb3, 0x30, 0x39, 0xf6, 0xe0,
  0xb1, 0x94, 0x99, 0x65, 0x13, 0xf7, 0x47, 0xc8, 0x64, 0x02, 0x02, 0x02,
  0x03
};

/* What `base64 -w0` prints for them. */
static const char req1_b64[] =
    "MEMwQTA/MD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv/E+4vhw1o6+flOObGAQUf3Tgo3MGOODRyke05MsERa7mf/wCAhI0";
static const char req2_b64[] =
    "MHgwdjBPME0wSzAJBgUrDgMCGgUABBS2e4RrMhjv/E+4vhw1o6+flOObGAQUf3Tgo3MGOODRyke05MsERa7mf/wCEgECAwQF"
    "BgcICQoLDA0ODxAREqIjMCEwHwYJKwYBBQUHMAECBBIEEAt+e6VDbmxb7uBgJRg+jq0=";
static const char req3_b64[] =
    "MF8wXTBbMFkwVzANBglghkgBZQMEAgEFAAQgZZ3ZtCwLUx6QNcVprEpo2SJg4uGKZW3Lnh/snqxg8q0EIPOMSdxHAYV5jKf4"
    "+27CmmQXlLMwOfbgsZSZZRP3R8hkAgICAw==";

/* --- Guarded buffers ---------------------------------------------------- */

#include "tests/unit/guard.h"

/* getpath_decode(s, len) with the input and an output of out_cap bytes each
 * right before a PROT_NONE page. On success the bytes are copied to got
 * (which holds out_cap bytes). */
static int decode_guarded(const char *s, size_t len, size_t out_cap, uint8_t *got, size_t *got_len) {
    struct guard in, out;
    guard_alloc(&in, len);
    guard_alloc(&out, out_cap);
    memcpy(in.p, s, len);
    memset(out.p, 0xa5, out_cap);
    size_t n = (size_t)-1;
    int ok = getpath_decode((const char *)in.p, len, out.p, out_cap, &n);
    if (ok) {
        assert_true(n <= out_cap);
        memcpy(got, out.p, n);
        *got_len = n;
    }
    guard_free(&in);
    guard_free(&out);
    return ok;
}

/* --- Helpers ------------------------------------------------------------ */

/* s[0..len) decodes to want[0..want_len): with out_cap exactly want_len, with
 * room to spare, and not with one byte less. */
static void decodes_n(const char *s, size_t len, const uint8_t *want, size_t want_len) {
    uint8_t got[GETPATH_MAX];
    size_t got_len = 0;
    if (!decode_guarded(s, len, want_len, got, &got_len))
        fail_msg("getpath_decode refused '%.*s' (out_cap %zu)", (int)len, s, want_len);
    if (got_len != want_len || memcmp(got, want, want_len) != 0)
        fail_msg("getpath_decode('%.*s') gave %zu bytes, expected %zu", (int)len, s, got_len, want_len);
    got_len = 0;
    if (!decode_guarded(s, len, GETPATH_MAX, got, &got_len))
        fail_msg("getpath_decode refused '%.*s' (out_cap %d)", (int)len, s, GETPATH_MAX);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    if (want_len > 0 && decode_guarded(s, len, want_len - 1, got, &got_len))
        fail_msg("getpath_decode('%.*s') fit %zu bytes in out_cap %zu", (int)len, s, want_len, want_len - 1);
}

static void decodes(const char *s, const uint8_t *want, size_t want_len) { decodes_n(s, strlen(s), want, want_len); }

static void refused_n(const char *s, size_t len) {
    uint8_t got[GETPATH_MAX];
    size_t got_len = 0;
    if (decode_guarded(s, len, GETPATH_MAX, got, &got_len))
        fail_msg("getpath_decode accepted '%.*s' (%zu bytes)", (int)len, s, got_len);
}

static void refused(const char *s) { refused_n(s, strlen(s)); }

/* Standard base64 of in[0..n) into b64 (NUL-terminated); returns its length. */
static size_t b64_std(const uint8_t *in, size_t n, char *b64, size_t cap) {
    assert_true(cap >= 4 * ((n + 2) / 3) + 1);
    int r = EVP_EncodeBlock((unsigned char *)b64, in, (int)n);
    assert_true(r >= 0);
    assert_int_equal((size_t)r, 4 * ((n + 2) / 3));
    return (size_t)r;
}

/* The spellings of one standard base64 string. */
enum spelling {
    SP_STD,         /* as EVP_EncodeBlock writes it */
    SP_URLENC_UP,   /* '+' '/' '=' as %2B %2F %3D */
    SP_URLENC_LOW,  /* %2b %2f %3d */
    SP_B64URL,      /* '-' '_', padded */
    SP_B64URL_NOPAD,
    SP_STD_NOPAD,
    SP_URLENC_NOPAD,
    SP_PARTIAL_PAD, /* one '=' of two */
    SP_SLASH1,      /* "/" + standard */
    SP_SLASH2,      /* "//" + url-encoded */
    SP_SLASH3,      /* "///" + base64url, unpadded */
    SP_ALL_ESCAPED, /* every character as %XX, alternating case */
    SP_MIXTURE,     /* a bit of everything */
    SP_COUNT
};

static const char *const spelling_names[SP_COUNT] = {
    "standard", "url-encoded (upper)", "url-encoded (lower)", "base64url", "base64url unpadded",
    "standard unpadded", "url-encoded unpadded", "partial padding", "one slash", "two slashes",
    "three slashes", "all escaped", "mixture",
};

static void put(char *dst, size_t *n, size_t cap, const char *s) {
    size_t l = strlen(s);
    assert_true(*n + l < cap);
    memcpy(dst + *n, s, l);
    *n += l;
    dst[*n] = '\0';
}

static void put_esc(char *dst, size_t *n, size_t cap, unsigned char c, int lower) {
    char e[4];
    snprintf(e, sizeof(e), lower ? "%%%02x" : "%%%02X", c);
    put(dst, n, cap, e);
}

/* Writes spelling sp of the standard base64 b64 into dst. Returns 0 when
 * the spelling does not exist for this input (partial padding needs "=="). */
static int spell(enum spelling sp, const char *b64, char *dst, size_t cap) {
    size_t n = 0, len = strlen(b64), npad = 0;
    while (npad < len && b64[len - 1 - npad] == '=') npad++;
    dst[0] = '\0';
    switch (sp) {
    case SP_SLASH1: put(dst, &n, cap, "/"); break;
    case SP_SLASH2: put(dst, &n, cap, "//"); break;
    case SP_SLASH3: put(dst, &n, cap, "///"); break;
    case SP_PARTIAL_PAD:
        if (npad != 2) return 0;
        break;
    default: break;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b64[i];
        char one[2] = {(char)c, '\0'};
        int special = c == '+' || c == '/' || c == '=';
        switch (sp) {
        case SP_STD:
        case SP_SLASH1:
            put(dst, &n, cap, one);
            break;
        case SP_URLENC_UP:
        case SP_SLASH2:
            if (special) put_esc(dst, &n, cap, c, 0);
            else put(dst, &n, cap, one);
            break;
        case SP_URLENC_LOW:
            if (special) put_esc(dst, &n, cap, c, 1);
            else put(dst, &n, cap, one);
            break;
        case SP_B64URL:
        case SP_B64URL_NOPAD:
        case SP_SLASH3:
            if (c == '=' && sp != SP_B64URL) break;
            one[0] = c == '+' ? '-' : c == '/' ? '_' : (char)c;
            put(dst, &n, cap, one);
            break;
        case SP_STD_NOPAD:
            if (c != '=') put(dst, &n, cap, one);
            break;
        case SP_URLENC_NOPAD:
            if (c == '=') break;
            if (special) put_esc(dst, &n, cap, c, 0);
            else put(dst, &n, cap, one);
            break;
        case SP_PARTIAL_PAD:
            if (c == '=' && i == len - 1) break;
            put(dst, &n, cap, one);
            break;
        case SP_ALL_ESCAPED:
            put_esc(dst, &n, cap, c, (int)(i & 1));
            break;
        case SP_MIXTURE:
            /* '+' and '/' rotate through every spelling; every seventh
             * letter is escaped; the padding is half '=', half %3d. */
            if (c == '+') {
                static const char *const plus[] = {"+", "-", "%2B", "%2b"};
                put(dst, &n, cap, plus[i % 4]);
            } else if (c == '/') {
                static const char *const slash[] = {"/", "_", "%2F", "%2f"};
                /* A raw '/' first would be a separator: not there. */
                put(dst, &n, cap, slash[i == 0 ? 1 + i % 3 : i % 4]);
            } else if (c == '=') {
                put(dst, &n, cap, (len - i) % 2 ? "=" : "%3d");
            } else if (i % 7 == 3) {
                put_esc(dst, &n, cap, c, (int)(i % 2));
            } else {
                put(dst, &n, cap, one);
            }
            break;
        default:
            fail();
        }
    }
    return 1;
}

/* Every spelling of the base64 of in[0..n) decodes to in. A standard
 * base64 that starts with '/' (first byte 0xfc..0xff) is no DER request;
 * raw, that '/' is taken for a separator, so the spellings that keep it raw
 * are checked to not give in back. */
static void all_spellings_decode(const uint8_t *in, size_t n) {
    char b64[4 * GETPATH_MAX], s[4 * GETPATH_MAX];
    b64_std(in, n, b64, sizeof(b64));
    for (int sp = 0; sp < SP_COUNT; sp++) {
        if (!spell((enum spelling)sp, b64, s, sizeof(s))) continue;
        if (b64[0] == '/' && (sp == SP_STD || sp == SP_SLASH1 || sp == SP_STD_NOPAD || sp == SP_PARTIAL_PAD)) {
            uint8_t got[GETPATH_MAX];
            size_t got_len = 0;
            if (decode_guarded(s, strlen(s), GETPATH_MAX, got, &got_len) && got_len == n &&
                memcmp(got, in, n) == 0)
                fail_msg("'%s' (%s) kept its leading '/'", s, spelling_names[sp]);
            continue;
        }
        size_t len = strlen(s);
        if (len > GETPATH_MAX) {
            refused_n(s, len);
            continue;
        }
        uint8_t got[GETPATH_MAX];
        size_t got_len = 0;
        if (!decode_guarded(s, len, n, got, &got_len))
            fail_msg("%zu bytes: refused the %s spelling '%s'", n, spelling_names[sp], s);
        decodes_n(s, len, in, n);
    }
}

/* --- Tests -------------------------------------------------------------- */

/* The guard page works: reading the byte after a guarded input faults. */
static void test_guard_page_faults(void **state) { guard_check_faults(); }

static void test_real_requests_literal(void **state) {
    decodes(req1_b64, req1, sizeof(req1));
    decodes(req2_b64, req2, sizeof(req2));
    decodes(req3_b64, req3, sizeof(req3));

    /* As RFC 6960 A.1 clients (and OpenSSL's ocsp -url with GET) send them. */
    decodes("MEMwQTA%2FMD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv%2FE%2B4vhw1o6%2BflOObGAQUf3Tgo3MGOODRyke05MsERa7mf%2FwCAhI0",
            req1, sizeof(req1));
    decodes("MEMwQTA%2fMD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv%2fE%2b4vhw1o6%2bflOObGAQUf3Tgo3MGOODRyke05MsERa7mf%2fwCAhI0",
            req1, sizeof(req1));
    decodes("MEMwQTA_MD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv_E-4vhw1o6-flOObGAQUf3Tgo3MGOODRyke05MsERa7mf_wCAhI0",
            req1, sizeof(req1));
    decodes("//MEMwQTA/MD0wOzAJBgUrDgMCGgUABBS2e4RrMhjv_E%2B4vhw1o6-flOObGAQUf3Tgo3MGOODRyke05MsERa7mf%2fwCAhI0",
            req1, sizeof(req1));
    /* '//' inside is two base64 characters, not a separator. */
    static const uint8_t ff[] = {0xff, 0xff, 0xff};
    decodes("%2F///", ff, 3);
    decodes("_///", ff, 3);
    decodes("/_//_", ff, 3);
    decodes("//%2f/%2F/", ff, 3);

    /* req3 ends in "Aw==": every way to write that. */
    static const char *const req3_tails[] = {"Aw==", "Aw", "Aw=", "Aw%3D%3D", "Aw%3d=", "Aw=%3D", "A%77%3D%3d"};
    for (size_t i = 0; i < sizeof(req3_tails) / sizeof(req3_tails[0]); i++) {
        char s[256];
        size_t head = strlen(req3_b64) - 4;
        snprintf(s, sizeof(s), "%.*s%s", (int)head, req3_b64, req3_tails[i]);
        decodes(s, req3, sizeof(req3));
    }
}

static void test_real_requests_spellings(void **state) {
    all_spellings_decode(req1, sizeof(req1));
    all_spellings_decode(req2, sizeof(req2));
    all_spellings_decode(req3, sizeof(req3));
}

/* Arbitrary byte strings of 0..70 bytes, three of each length (one starting
 * with 0x30 as DER does, one with 0xfc..0xff, whose standard base64 starts
 * with '/'). */
static void test_arbitrary_spellings(void **state) {
    uint32_t x = 0x12345678;
    for (size_t n = 0; n <= 70; n++) {
        for (int v = 0; v < 3; v++) {
            uint8_t in[80];
            for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                in[i] = (uint8_t)(x >> 16);
            }
            if (n > 0 && v == 1) in[0] = 0x30;
            if (n > 0 && v == 2) in[0] = (uint8_t)(0xfc | (in[0] & 3));
            all_spellings_decode(in, n);
        }
    }
}

static void test_empty(void **state) {
    /* No base64 characters: no bytes (the request parser refuses that). */
    static const uint8_t none[1];
    decodes("", none, 0);
    decodes("/", none, 0);
    decodes("///", none, 0);
    uint8_t b = 0;
    size_t n = 7;
    assert_int_equal(getpath_decode(NULL, 0, &b, 0, &n), 1);
    assert_int_equal(n, 0);
    refused("=");
    refused("==");
    refused("/=");
    refused("%3D");
}

static void test_bad_characters(void **state) {
    static const char *const bad[] = {
        "MEMw MEMw", " MEMw", "MEMw ", "MEMw\t", "MEMw\n", "MEMw\r\n", "ME*w", "MEMw*", "ME.w", "ME,w",
        "ME?w", "ME&w", "ME#w", "ME!w", "ME~w", "ME\\w", "ME:w", "ME@w", "ME\"w", "ME\x7fw", "ME\x80w",
        "ME\xc3\xa9w", "ME\xffw",
        /* Bad or truncated escapes. */
        "%zz", "MEMw%zz", "MEMw%2", "MEMw%", "%", "%2", "ME%g0", "ME%0g", "ME%-1", "ME% 2B", "ME%+2B",
        /* Escapes of what is not base64. */
        "MEMw%20", "ME%20w", "ME%00w", "ME%0Aw", "ME%2Ew", "ME%FFw", "ME%25w",
        /* No double decoding: %252B is "%2B" once decoded, and '%' is refused. */
        "MEMw%252B",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) refused(bad[i]);
    /* A NUL inside: s is length-delimited. */
    refused_n("ME\0w", 4);
    refused_n("MEMw\0", 5);
    /* A truncated escape at the very end of the buffer (the guard page is
     * right after '%' or "%2"). */
    refused_n("MEMw%2B", 6);
    refused_n("MEMw%2B", 5);
    refused_n("MEMw%2BAA", 6);
}

static void test_padding(void **state) {
    /* "MQ" is 0x31; "MTI" is "12"; "MTIz" is "123". */
    static const uint8_t one[] = {0x31}, two[] = {0x31, 0x32}, three[] = {0x31, 0x32, 0x33};
    decodes("MQ==", one, 1);
    decodes("MQ=", one, 1);
    decodes("MQ", one, 1);
    decodes("MTI=", two, 2);
    decodes("MTI", two, 2);
    decodes("MTIz", three, 3);
    decodes("MTIzMQ==", (const uint8_t *)"1231", 4);

    /* Too many '='. */
    refused("MQ===");
    refused("MQ====");
    refused("MTI==");
    refused("MTIz=");
    refused("MTIz==");
    refused("MTIz====");
    refused("MQ%3D%3D%3D");
    /* '=' anywhere but at the end. */
    refused("MQ==MQ==");
    refused("MQ=MQ");
    refused("M=Q=");
    refused("=MQ=");
    refused("==MQ");
    refused("MTIz=MTIz");
    refused("MQ%3DMQ");
    refused("MQ=/");
    refused("MQ=%41");
    /* A leading '=' is no separator. */
    refused("=MTIz");
}

static void test_impossible_lengths(void **state) {
    /* len % 4 == 1 once the padding is removed. */
    refused("M");
    refused("M=");
    refused("M==");
    refused("M===");
    refused("MTIzM");
    refused("MTIzM=");
    refused("MTIzM==");
    refused("MTIzM===");
    refused("/M");
    refused("%4D");
    refused("MTIz/");
    /* req1 is 92 characters; one more is impossible. */
    char s[128];
    snprintf(s, sizeof(s), "%sA", req1_b64);
    refused(s);
}

static void test_noncanonical_trailing_bits(void **state) {
    static const uint8_t one[] = {0x31}, two[] = {0x31, 0x32};
    /* "MQ": Q = 16 = 0b010000, the low four bits are not data. */
    decodes("MQ==", one, 1);
    static const char *const q[] = {"MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "Ma", "Mb", "Mc", "Md", "Me", "Mf"};
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char s[8];
        snprintf(s, sizeof(s), "%s", q[i]);
        refused(s);
        snprintf(s, sizeof(s), "%s==", q[i]);
        refused(s);
        snprintf(s, sizeof(s), "%s=", q[i]);
        refused(s);
    }
    /* "MTI": I = 8 = 0b001000, the low two bits are not data. */
    decodes("MTI=", two, 2);
    refused("MTJ=");
    refused("MTK=");
    refused("MTL");
    refused("MTL%3D");
    /* The last character of a base64url spelling too: '_' is 63. */
    refused("M_");
    refused("MT_");
    refused("M-");
    /* And of req3 ("...Aw==" -> "...Ax=="). */
    char s[256];
    size_t head = strlen(req3_b64) - 4;
    snprintf(s, sizeof(s), "%.*sAx==", (int)head, req3_b64);
    refused(s);
    snprintf(s, sizeof(s), "%.*sAx", (int)head, req3_b64);
    refused(s);
}

static void test_out_cap(void **state) {
    uint8_t got[GETPATH_MAX];
    size_t n = 0;
    /* The exact size fits, one less does not (decodes_n checks this for
     * every spelling); and with nothing to write, out_cap 0 is fine. */
    assert_int_equal(decode_guarded(req1_b64, strlen(req1_b64), sizeof(req1), got, &n), 1);
    assert_int_equal(n, sizeof(req1));
    assert_int_equal(decode_guarded(req1_b64, strlen(req1_b64), sizeof(req1) - 1, got, &n), 0);
    assert_int_equal(decode_guarded(req1_b64, strlen(req1_b64), 0, got, &n), 0);
    assert_int_equal(decode_guarded(req3_b64, strlen(req3_b64), sizeof(req3) - 1, got, &n), 0);
    assert_int_equal(decode_guarded(req2_b64, strlen(req2_b64), 1, got, &n), 0);
    assert_int_equal(decode_guarded("", 0, 0, got, &n), 1);
    assert_int_equal(n, 0);

    /* Nothing is written when the output does not fit. */
    uint8_t buf[8];
    memset(buf, 0xa5, sizeof(buf));
    n = 99;
    assert_int_equal(getpath_decode("MTIzNDU2", 8, buf, 5, &n), 0);
    for (size_t i = 0; i < sizeof(buf); i++) assert_int_equal(buf[i], 0xa5);
    assert_int_equal(getpath_decode("MTIzNDU2", 8, buf, 6, &n), 1);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, "123456", 6);
    assert_int_equal(buf[6], 0xa5);
}

static void test_length_cap(void **state) {
    /* GETPATH_MAX characters of base64 (6,144 bytes): accepted. The cap
     * is the shards' request-target cap, RFC 9110 4.1's 8,000 octets and
     * more (it was 1,024: a long GET path got 414). */
    _Static_assert(GETPATH_MAX == 8192, "the numbers below are for 8192");
    static uint8_t in[GETPATH_MAX];
    for (size_t i = 0; i < sizeof(in); i++) in[i] = (uint8_t)(i * 7 + 0x30);
    static char b64[2 * GETPATH_MAX], s[2 * GETPATH_MAX];
    size_t n = GETPATH_MAX / 4 * 3;
    assert_int_equal(b64_std(in, n, b64, sizeof(b64)), GETPATH_MAX);
    decodes_n(b64, GETPATH_MAX, in, n);

    /* The cap is on len, leading '/' included: one more, refused. */
    s[0] = '/';
    memcpy(s + 1, b64, GETPATH_MAX);
    refused_n(s, GETPATH_MAX + 1);
    decodes_n(s + 1, GETPATH_MAX, in, n);
    memset(s, '/', GETPATH_MAX + 1);
    memcpy(s + GETPATH_MAX + 1 - 4, "MQ==", 4);
    refused_n(s, GETPATH_MAX + 1);
    decodes_n(s + 1, GETPATH_MAX, (const uint8_t *)"1", 1);

    /* 6,147 bytes: 8,196 characters, refused. */
    assert_int_equal(b64_std(in, n + 3, b64, sizeof(b64)), GETPATH_MAX + 4);
    refused_n(b64, GETPATH_MAX + 4);
    /* A huge len is refused before anything is read. */
    uint8_t got[8];
    size_t m = 0;
    assert_int_equal(getpath_decode(b64, (size_t)-1, got, sizeof(got), &m), 0);
    assert_int_equal(getpath_decode(b64, GETPATH_MAX + 1, got, sizeof(got), &m), 0);

    /* An escape counts as its three characters: 2,730 "%41" and "AA" are
     * 8,192 characters (2,049 zero bytes); 2,731 and "A" are 8,194, refused
     * although they are the same 2,732 base64 characters. */
    static const uint8_t zeros[2049];
    size_t k = 0;
    for (int i = 0; i < 2730; i++, k += 3) memcpy(s + k, "%41", 3);
    memcpy(s + k, "AA", 2);
    decodes_n(s, k + 2, zeros, sizeof(zeros));
    memcpy(s + k, "%41A", 4);
    refused_n(s, k + 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_page_faults),
        cmocka_unit_test(test_real_requests_literal),
        cmocka_unit_test(test_real_requests_spellings),
        cmocka_unit_test(test_arbitrary_spellings),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_characters),
        cmocka_unit_test(test_padding),
        cmocka_unit_test(test_impossible_lengths),
        cmocka_unit_test(test_noncanonical_trailing_bits),
        cmocka_unit_test(test_out_cap),
        cmocka_unit_test(test_length_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
