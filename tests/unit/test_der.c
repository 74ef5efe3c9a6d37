/* Unit tests of common/der: the strict DER cursor (every length form, the
 * encodings DER forbids, truncation at every byte, nothing consumed on
 * failure) and the builder (nesting, lengths across each length-octet
 * boundary, the sticky error), then builder -> cursor round trips.
 *
 * Every input the cursor reads is first copied so that it ends right before
 * a PROT_NONE page: a read one byte too far is a SIGSEGV, in any build. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/der.h"

/* ---- inputs that end at a PROT_NONE page --------------------------------- */

#include "tests/unit/guard.h"

/* ---- the cursor ------------------------------------------------------------ */

/* Reads one element from p[0..len) with der_get_any, guarded: 1 and the
 * tag, header length and contents length when it is accepted and fills the
 * input exactly. On refusal, checks that nothing was consumed or written. */
static int read_one(const uint8_t *p, size_t len, unsigned *out_tag, size_t *out_hdr, size_t *out_len) {
    struct guard g;
    guard_init(&g, p, len);
    struct der d, in = {(const uint8_t *)1, 7}, el = {(const uint8_t *)1, 7};
    unsigned tag = 0xdead;
    der_init(&d, g.p, g.len);
    int ok = der_get_any(&d, &tag, &in, &el);
    if (ok) {
        assert_ptr_equal(el.p, g.p);
        assert_ptr_equal(in.p + in.len, el.p + el.len);
        assert_ptr_equal(d.p, el.p + el.len);
        assert_int_equal(d.len, g.len - el.len);
        if (out_tag) *out_tag = tag;
        if (out_hdr) *out_hdr = (size_t)(in.p - el.p);
        if (out_len) *out_len = in.len;
        ok = d.len == 0 ? 1 : 2; /* 2: accepted with bytes left over */
    } else {
        /* Nothing consumed, nothing written. */
        assert_ptr_equal(d.p, g.p);
        assert_int_equal(d.len, g.len);
        assert_int_equal(tag, 0xdead);
        assert_ptr_equal(in.p, (const uint8_t *)1);
        assert_int_equal(in.len, 7);
        assert_ptr_equal(el.p, (const uint8_t *)1);
        assert_int_equal(el.len, 7);
    }
    guard_free(&g);
    return ok;
}

static void refused(const uint8_t *p, size_t len) {
    if (read_one(p, len, NULL, NULL, NULL) != 0) {
        char hex[64] = "";
        for (size_t i = 0; i < len && i < 16; i++) snprintf(hex + 3 * i, 4, "%02x ", p[i]);
        fail_msg("der_get_any accepted %s(%zu bytes)", hex, len);
    }
}

#define REFUSED(...)                                               \
    do {                                                           \
        static const uint8_t in_[] = {__VA_ARGS__};                \
        refused(in_, sizeof(in_));                                 \
    } while (0)

/* Writes a minimal DER header for (tag, len) into out; returns its length. */
static size_t header(uint8_t *out, unsigned tag, size_t len) {
    out[0] = (uint8_t)tag;
    if (len < 0x80) {
        out[1] = (uint8_t)len;
        return 2;
    }
    size_t n = 0;
    for (size_t v = len; v; v >>= 8) n++;
    out[1] = (uint8_t)(0x80 | n);
    for (size_t i = 0; i < n; i++) out[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
    return 2 + n;
}

static const size_t LENGTHS[] = {0,   1,     2,     126,   127,      128,      129,     255,
                                 256, 257,   65535, 65536, 65537,    16777215, 16777216};

static void test_every_length_form(void **state) {
    for (size_t i = 0; i < sizeof(LENGTHS) / sizeof(LENGTHS[0]); i++) {
        size_t len = LENGTHS[i];
        uint8_t *buf = malloc(6 + len);
        assert_non_null(buf);
        size_t hdr = header(buf, DER_OCTET_STRING, len);
        for (size_t j = 0; j < len; j++) buf[hdr + j] = (uint8_t)j;
        unsigned tag;
        size_t got_hdr, got_len;
        assert_int_equal(read_one(buf, hdr + len, &tag, &got_hdr, &got_len), 1);
        assert_int_equal(tag, DER_OCTET_STRING);
        assert_int_equal(got_hdr, hdr);
        assert_int_equal(got_len, len);
        /* One byte short: refused, whatever the length form. */
        refused(buf, hdr + len - 1);
        free(buf);
    }
}

static void test_non_minimal_lengths(void **state) {
    uint8_t buf[8 + 300];
    memset(buf, 0x41, sizeof(buf));
    /* Long form for what the short form holds. */
    buf[0] = 0x04, buf[1] = 0x81, buf[2] = 0x05;
    refused(buf, 3 + 5);
    buf[2] = 0x7f;
    refused(buf, 3 + 127);
    buf[2] = 0x00;
    refused(buf, 3);
    /* 0x81 0x80: the first length that needs the long form. */
    buf[2] = 0x80;
    assert_int_equal(read_one(buf, 3 + 128, NULL, NULL, NULL), 1);
    /* A leading zero length octet. */
    buf[1] = 0x82, buf[2] = 0x00, buf[3] = 0x80;
    refused(buf, 4 + 128);
    buf[3] = 0xff;
    refused(buf, 4 + 255);
    buf[1] = 0x82, buf[2] = 0x01, buf[3] = 0x00;
    assert_int_equal(read_one(buf, 4 + 256, NULL, NULL, NULL), 1);
    buf[1] = 0x83, buf[2] = 0x00, buf[3] = 0x01, buf[4] = 0x00;
    refused(buf, 5 + 256);
    buf[1] = 0x84, buf[2] = 0x00, buf[3] = 0x00, buf[4] = 0x01, buf[5] = 0x00;
    refused(buf, 6 + 256);
}

static void test_length_octet_limits(void **state) {
    /* Five length octets: over the limit, even for a small value, even when
     * minimal, even when the bytes are there. */
    uint8_t buf[16];
    memset(buf, 0, sizeof(buf));
    buf[0] = 0x04, buf[1] = 0x85, buf[2] = 0x00, buf[3] = 0x00, buf[4] = 0x00, buf[5] = 0x00, buf[6] = 0x01;
    refused(buf, 8);
    REFUSED(0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00);
    REFUSED(0x04, 0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00);
    /* Four octets, declaring more than there is. */
    REFUSED(0x04, 0x84, 0x01, 0x00, 0x00, 0x00, 0x41, 0x41);
    REFUSED(0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 0x41);
    /* Indefinite length (BER), with or without its end-of-contents. */
    REFUSED(0x30, 0x80, 0x05, 0x00, 0x00, 0x00);
    REFUSED(0x24, 0x80, 0x04, 0x01, 0x41, 0x00, 0x00);
    REFUSED(0x30, 0x80);
    /* 0xff: the reserved length octet. */
    REFUSED(0x04, 0xff, 0x41);
    /* No length octet at all. */
    REFUSED(0x04);
    refused((const uint8_t *)"", 0);
}

static void test_tags(void **state) {
    /* High tag numbers: number 31 in the identifier octet, in every class. */
    REFUSED(0x1f, 0x01, 0x00);
    REFUSED(0x1f, 0x1f, 0x00);
    REFUSED(0x3f, 0x20, 0x00);
    REFUSED(0x5f, 0x20, 0x00);
    REFUSED(0x9f, 0x20, 0x00);
    REFUSED(0xbf, 0x81, 0x00, 0x00);
    REFUSED(0xff, 0x7f, 0x00);
    /* [UNIVERSAL 0] is BER's end-of-contents, never a DER element. */
    REFUSED(0x00, 0x00);
    REFUSED(0x20, 0x00);
    /* Tag number 30, the highest low one, in every class. */
    static const uint8_t ok_tags[] = {0x1e, 0x3e, 0x5e, 0x7e, 0x9e, 0xbe, 0xde, 0xfe, 0x80, 0xa0, 0x01};
    for (size_t i = 0; i < sizeof(ok_tags); i++) {
        uint8_t buf[2] = {ok_tags[i], 0x00};
        unsigned tag;
        assert_int_equal(read_one(buf, 2, &tag, NULL, NULL), 1);
        assert_int_equal(tag, ok_tags[i]);
    }

    /* der_get: the tag must match; der_get with a high tag never matches. */
    static const uint8_t seq[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    static const uint8_t hi[] = {0x1f, 0x00};
    struct der d, out;
    der_init(&d, seq, sizeof(seq));
    assert_false(der_get(&d, DER_SET, &out));
    assert_false(der_get(&d, DER_SEQUENCE & ~DER_CONSTRUCTED, &out));
    assert_ptr_equal(d.p, seq);
    assert_int_equal(d.len, sizeof(seq));
    assert_true(der_get(&d, DER_SEQUENCE, &out));
    assert_int_equal(d.len, 0);
    assert_int_equal(out.len, 3);
    assert_ptr_equal(out.p, seq + 2);
    der_init(&d, hi, sizeof(hi));
    assert_false(der_get(&d, 0x1f, &out));
    assert_false(der_get_any(&d, NULL, NULL, NULL));
    assert_int_equal(d.len, 2);
}

/* A valid nested element with a long-form length, cut at every byte. */
static void test_truncation_everywhere(void **state) {
    uint8_t buf[400];
    size_t n = 0;
    /* SEQUENCE { OCTET STRING (300 bytes), [0] { INTEGER 1 }, NULL } */
    size_t inner = 4 + 300 + 5 + 2;
    n += header(buf + n, DER_SEQUENCE, inner);
    n += header(buf + n, DER_OCTET_STRING, 300);
    for (int i = 0; i < 300; i++) buf[n++] = (uint8_t)i;
    static const uint8_t tail[] = {0xa0, 0x03, 0x02, 0x01, 0x01, 0x05, 0x00};
    memcpy(buf + n, tail, sizeof(tail));
    n += sizeof(tail);
    assert_int_equal(read_one(buf, n, NULL, NULL, NULL), 1);
    for (size_t cut = 0; cut < n; cut++) refused(buf, cut);
    /* The inner elements, truncated, inside a complete-looking outer view. */
    struct guard g;
    guard_init(&g, buf, n);
    struct der d, seq, os, ctx;
    der_init(&d, g.p, g.len);
    assert_true(der_get(&d, DER_SEQUENCE, &seq));
    assert_true(der_get(&seq, DER_OCTET_STRING, &os));
    assert_int_equal(os.len, 300);
    assert_true(der_get(&seq, DER_CONTEXT(0) | DER_CONSTRUCTED, &ctx));
    uint32_t v = 0;
    assert_true(der_get_small_uint(&ctx, DER_INTEGER, &v));
    assert_int_equal(v, 1);
    assert_int_equal(ctx.len, 0);
    assert_true(der_get(&seq, DER_NULL, &os));
    assert_int_equal(os.len, 0);
    assert_int_equal(seq.len, 0);
    guard_free(&g);
}

/* Trailing bytes are the caller's business: the cursor reads one element. */
static void test_leftover(void **state) {
    static const uint8_t two[] = {0x05, 0x00, 0x05, 0x00};
    assert_int_equal(read_one(two, sizeof(two), NULL, NULL, NULL), 2);
}

static void test_peek_optional(void **state) {
    static const uint8_t in[] = {0xa0, 0x03, 0x02, 0x01, 0x02, 0x30, 0x00};
    struct guard g;
    guard_init(&g, in, sizeof(in));
    struct der d, out;
    int present = -1;
    der_init(&d, g.p, g.len);
    assert_true(der_peek(&d, 0xa0));
    assert_false(der_peek(&d, 0xa1));
    assert_true(der_get_optional(&d, 0xa1, &present, &out));
    assert_int_equal(present, 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(d.len, sizeof(in));
    assert_true(der_get_optional(&d, 0xa0, &present, &out));
    assert_int_equal(present, 1);
    assert_int_equal(out.len, 3);
    assert_true(der_peek(&d, DER_SEQUENCE));
    assert_true(der_get(&d, DER_SEQUENCE, &out));
    assert_false(der_peek(&d, DER_SEQUENCE)); /* empty */
    assert_true(der_get_optional(&d, DER_SEQUENCE, &present, &out));
    assert_int_equal(present, 0);
    guard_free(&g);

    /* Present but malformed: 0, nothing consumed. */
    static const uint8_t bad[] = {0xa0, 0x05, 0x02, 0x01};
    guard_init(&g, bad, sizeof(bad));
    der_init(&d, g.p, g.len);
    assert_false(der_get_optional(&d, 0xa0, &present, &out));
    assert_ptr_equal(d.p, g.p);
    assert_int_equal(d.len, sizeof(bad));
    guard_free(&g);
}

static int integer_ok(const uint8_t *p, size_t len) {
    struct guard g;
    guard_init(&g, p, len);
    struct der d, out;
    der_init(&d, g.p, g.len);
    int ok = der_get_integer(&d, &out);
    if (ok) {
        assert_int_equal(d.len, 0);
        assert_ptr_equal(out.p, g.p + 2);
    } else {
        assert_int_equal(d.len, g.len);
    }
    guard_free(&g);
    return ok;
}

#define INT_OK(...) assert_true(integer_ok((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})))
#define INT_BAD(...) assert_false(integer_ok((const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})))

static void test_integer(void **state) {
    INT_OK(0x02, 0x01, 0x00);
    INT_OK(0x02, 0x01, 0x7f);
    INT_OK(0x02, 0x01, 0x80); /* -128 */
    INT_OK(0x02, 0x01, 0xff); /* -1 */
    INT_OK(0x02, 0x02, 0x00, 0x80);
    INT_OK(0x02, 0x02, 0xff, 0x7f);
    INT_OK(0x02, 0x03, 0x01, 0x00, 0x00);
    INT_BAD(0x02, 0x00);                   /* no content octet */
    INT_BAD(0x02, 0x02, 0x00, 0x7f);       /* superfluous 0x00 */
    INT_BAD(0x02, 0x02, 0x00, 0x00);
    INT_BAD(0x02, 0x02, 0xff, 0x80);       /* superfluous 0xff */
    INT_BAD(0x02, 0x02, 0xff, 0xff);
    INT_BAD(0x0a, 0x01, 0x01);             /* ENUMERATED is not INTEGER */
    INT_BAD(0x22, 0x01, 0x01);             /* constructed */
    INT_BAD(0x02, 0x02, 0x01);             /* truncated */
}

static int small_uint(unsigned tag, const uint8_t *p, size_t len, uint32_t *out) {
    struct guard g;
    guard_init(&g, p, len);
    struct der d;
    der_init(&d, g.p, g.len);
    *out = 0xabcdef01u;
    int ok = der_get_small_uint(&d, tag, out);
    if (ok) {
        assert_int_equal(d.len, 0);
    } else {
        assert_int_equal(d.len, g.len);
        assert_int_equal(*out, 0xabcdef01u);
    }
    guard_free(&g);
    return ok;
}

static void test_small_uint(void **state) {
    static const struct {
        uint8_t in[8];
        size_t len;
        int ok;
        uint32_t v;
    } cases[] = {
        {{0x02, 0x01, 0x00}, 3, 1, 0},
        {{0x02, 0x01, 0x7f}, 3, 1, 127},
        {{0x02, 0x02, 0x00, 0x80}, 4, 1, 128},
        {{0x02, 0x02, 0x01, 0x00}, 4, 1, 256},
        {{0x02, 0x04, 0x7f, 0xff, 0xff, 0xff}, 6, 1, 0x7fffffff},
        {{0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff}, 7, 1, 0xffffffffu},
        {{0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00}, 7, 0, 0}, /* 2^32 */
        {{0x02, 0x06, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00}, 8, 0, 0},
        {{0x02, 0x01, 0xff}, 3, 0, 0},                         /* -1 */
        {{0x02, 0x01, 0x80}, 3, 0, 0},
        {{0x02, 0x02, 0x00, 0x01}, 4, 0, 0},                   /* not minimal */
        {{0x02, 0x00}, 2, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t v;
        int ok = small_uint(DER_INTEGER, cases[i].in, cases[i].len, &v);
        if (ok != cases[i].ok) fail_msg("case %zu: der_get_small_uint returned %d", i, ok);
        if (ok) assert_int_equal(v, cases[i].v);
        /* The same as an ENUMERATED, read with that tag only. */
        uint8_t e[8];
        memcpy(e, cases[i].in, cases[i].len);
        e[0] = DER_ENUMERATED;
        assert_int_equal(small_uint(DER_ENUMERATED, e, cases[i].len, &v), cases[i].ok);
        if (ok) assert_int_equal(v, cases[i].v);
        assert_false(small_uint(DER_INTEGER, e, cases[i].len, &v));
    }
}

static int get_bool(const uint8_t *p, size_t len, int *out) {
    struct guard g;
    guard_init(&g, p, len);
    struct der d;
    der_init(&d, g.p, g.len);
    int ok = der_get_bool(&d, out);
    assert_int_equal(d.len, ok ? 0 : g.len);
    guard_free(&g);
    return ok;
}

static void test_bool(void **state) {
    int v = -1;
    assert_true(get_bool((const uint8_t[]){0x01, 0x01, 0x00}, 3, &v));
    assert_int_equal(v, 0);
    assert_true(get_bool((const uint8_t[]){0x01, 0x01, 0xff}, 3, &v));
    assert_int_equal(v, 1);
    assert_false(get_bool((const uint8_t[]){0x01, 0x01, 0x01}, 3, &v)); /* BER TRUE */
    assert_false(get_bool((const uint8_t[]){0x01, 0x01, 0x80}, 3, &v));
    assert_false(get_bool((const uint8_t[]){0x01, 0x00}, 2, &v));
    assert_false(get_bool((const uint8_t[]){0x01, 0x02, 0x00, 0x00}, 4, &v));
    assert_false(get_bool((const uint8_t[]){0x02, 0x01, 0x00}, 3, &v));
    assert_false(get_bool((const uint8_t[]){0x01, 0x01}, 2, &v));
}

static void test_oid_eq(void **state) {
    static const uint8_t sha1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
    static const uint8_t in[] = {0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a};
    struct der d, o;
    der_init(&d, in, sizeof(in));
    assert_true(der_get(&d, DER_OID, &o));
    assert_true(der_oid_eq(&o, sha1, sizeof(sha1)));
    assert_false(der_oid_eq(&o, sha1, sizeof(sha1) - 1));
    o.len--;
    assert_false(der_oid_eq(&o, sha1, sizeof(sha1)));
    assert_true(der_oid_eq(&o, sha1, sizeof(sha1) - 1));
}

/* ---- the builder ----------------------------------------------------------- */

static void bytes_equal(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

#define BYTES_ARE(buf, len, ...)                                                           \
    bytes_equal(buf, len, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void test_builder_nesting(void **state) {
    uint8_t buf[64];
    struct derb b;
    size_t len = 0;
    derb_init(&b, buf, sizeof(buf));
    derb_open(&b, DER_SEQUENCE);
    derb_add_uint(&b, DER_INTEGER, 5);
    derb_open(&b, DER_CONTEXT(0) | DER_CONSTRUCTED);
    derb_open(&b, DER_SET);
    derb_close(&b);
    derb_add(&b, DER_NULL, NULL, 0);
    derb_close(&b);
    derb_raw(&b, (const uint8_t[]){0x01, 0x01, 0xff}, 3);
    derb_close(&b);
    assert_true(derb_finish(&b, &len));
    BYTES_ARE(buf, len, 0x30, 0x0c, 0x02, 0x01, 0x05, 0xa0, 0x04, 0x31, 0x00, 0x05, 0x00, 0x01, 0x01,
              0xff);

    /* Every depth up to DER_MAX_DEPTH, then one more: err. */
    derb_init(&b, buf, sizeof(buf));
    for (int i = 0; i < DER_MAX_DEPTH; i++) derb_open(&b, DER_SEQUENCE);
    for (int i = 0; i < DER_MAX_DEPTH; i++) derb_close(&b);
    assert_true(derb_finish(&b, &len));
    assert_int_equal(len, 2 * DER_MAX_DEPTH);
    for (int i = 0; i < DER_MAX_DEPTH; i++) {
        assert_int_equal(buf[2 * i], 0x30);
        assert_int_equal(buf[2 * i + 1], 2 * (DER_MAX_DEPTH - 1 - i));
    }
    derb_init(&b, buf, sizeof(buf));
    for (int i = 0; i <= DER_MAX_DEPTH; i++) derb_open(&b, DER_SEQUENCE);
    assert_true(b.err);
    for (int i = 0; i <= DER_MAX_DEPTH; i++) derb_close(&b);
    assert_false(derb_finish(&b, &len));
}

static void test_builder_unbalanced(void **state) {
    uint8_t buf[16];
    struct derb b;
    size_t len = 12345;
    derb_init(&b, buf, sizeof(buf));
    derb_close(&b);
    assert_true(b.err);
    derb_add(&b, DER_NULL, NULL, 0); /* sticky: nothing more is written */
    assert_int_equal(b.len, 0);
    assert_false(derb_finish(&b, &len));
    assert_int_equal(len, 12345);

    derb_init(&b, buf, sizeof(buf));
    derb_open(&b, DER_SEQUENCE);
    derb_close(&b);
    derb_close(&b);
    assert_false(derb_finish(&b, &len));

    /* Left open. */
    derb_init(&b, buf, sizeof(buf));
    derb_open(&b, DER_SEQUENCE);
    assert_false(derb_finish(&b, &len));

    /* Tags the cursor would refuse are not written either. */
    derb_init(&b, buf, sizeof(buf));
    derb_add(&b, 0x1f, NULL, 0);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, sizeof(buf));
    derb_open(&b, 0xbf);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, sizeof(buf));
    derb_add(&b, 0x100 | DER_NULL, NULL, 0);
    assert_false(derb_finish(&b, &len));
}

static void test_builder_overflow(void **state) {
    uint8_t buf[300];
    struct derb b;
    size_t len;
    /* Exactly full: fine. */
    derb_init(&b, buf, 4);
    derb_add(&b, DER_OCTET_STRING, (const uint8_t *)"ab", 2);
    assert_true(derb_finish(&b, &len));
    assert_int_equal(len, 4);
    /* One byte over, in the contents and in the header. */
    derb_init(&b, buf, 4);
    derb_add(&b, DER_OCTET_STRING, (const uint8_t *)"abc", 3);
    assert_true(b.err);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, 1);
    derb_add(&b, DER_NULL, NULL, 0);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, 1);
    derb_open(&b, DER_SEQUENCE);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, NULL, 0);
    derb_raw(&b, (const uint8_t *)"x", 1);
    assert_false(derb_finish(&b, &len));
    /* The contents fit, but the long-form length does not: err at close. */
    uint8_t body[128];
    memset(body, 0x55, sizeof(body));
    derb_init(&b, buf, 2 + 128);
    derb_open(&b, DER_SEQUENCE);
    derb_raw(&b, body, 128);
    assert_false(b.err);
    derb_close(&b);
    assert_true(b.err);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, 3 + 128);
    derb_open(&b, DER_SEQUENCE);
    derb_raw(&b, body, 128);
    derb_close(&b);
    assert_true(derb_finish(&b, &len));
    assert_int_equal(len, 131);
    BYTES_ARE(buf, 3, 0x30, 0x81, 0x80);
    /* Sticky: later calls that would fit do nothing. */
    derb_init(&b, buf, 3);
    derb_add(&b, DER_OCTET_STRING, body, 2);
    derb_add(&b, DER_NULL, NULL, 0);
    assert_int_equal(b.len, 0);
    assert_false(derb_finish(&b, &len));
}

/* Content lengths across each length-octet boundary, written by open/close
 * (moving the contents) inside an outer element that grows too, and by
 * derb_add; both read back with the cursor. */
static void test_builder_length_boundaries(void **state) {
    static const size_t lens[] = {0, 1, 127, 128, 129, 255, 256, 65535, 65536, 65537, 70000};
    size_t cap = 150000;
    uint8_t *buf = malloc(cap), *body = malloc(cap), *want = malloc(cap);
    assert_non_null(buf);
    assert_non_null(body);
    assert_non_null(want);
    for (size_t i = 0; i < cap; i++) body[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i], len;
        struct derb b;
        derb_init(&b, buf, cap);
        derb_open(&b, DER_SEQUENCE);
        derb_add(&b, DER_BOOLEAN, (const uint8_t[]){0xff}, 1);
        derb_open(&b, DER_CONTEXT(3) | DER_CONSTRUCTED);
        derb_raw(&b, body, n);
        derb_close(&b);
        derb_add(&b, DER_OCTET_STRING, body, n);
        derb_close(&b);
        assert_true(derb_finish(&b, &len));

        /* The expected bytes, from the reference header writer. */
        uint8_t h1[8], h2[8], h0[8];
        size_t l1 = header(h1, DER_CONTEXT(3) | DER_CONSTRUCTED, n);
        size_t l2 = header(h2, DER_OCTET_STRING, n);
        size_t inner = 3 + l1 + n + l2 + n;
        size_t l0 = header(h0, DER_SEQUENCE, inner);
        size_t w = 0;
        memcpy(want + w, h0, l0), w += l0;
        memcpy(want + w, (const uint8_t[]){0x01, 0x01, 0xff}, 3), w += 3;
        memcpy(want + w, h1, l1), w += l1;
        memcpy(want + w, body, n), w += n;
        memcpy(want + w, h2, l2), w += l2;
        memcpy(want + w, body, n), w += n;
        bytes_equal(buf, len, want, w);

        struct guard g;
        guard_init(&g, buf, len);
        struct der d, seq, ctx, os;
        int v;
        der_init(&d, g.p, g.len);
        assert_true(der_get(&d, DER_SEQUENCE, &seq));
        assert_int_equal(d.len, 0);
        assert_true(der_get_bool(&seq, &v));
        assert_true(v);
        assert_true(der_get(&seq, DER_CONTEXT(3) | DER_CONSTRUCTED, &ctx));
        assert_int_equal(ctx.len, n);
        assert_true(n == 0 || memcmp(ctx.p, body, n) == 0);
        assert_true(der_get(&seq, DER_OCTET_STRING, &os));
        assert_int_equal(os.len, n);
        assert_true(n == 0 || memcmp(os.p, body, n) == 0);
        assert_int_equal(seq.len, 0);
        guard_free(&g);
    }
    free(buf);
    free(body);
    free(want);
}

/* The largest contents (2^24 + a bit): four length octets, moved by close. */
static void test_builder_large(void **state) {
    size_t n = 16777216 + 5, cap = n + 16, len;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    struct derb b;
    derb_init(&b, buf, cap);
    derb_open(&b, DER_SEQUENCE);
    uint8_t chunk[4096];
    memset(chunk, 0x42, sizeof(chunk));
    size_t left = n;
    while (left > 0) {
        size_t k = left < sizeof(chunk) ? left : sizeof(chunk);
        derb_raw(&b, chunk, k);
        left -= k;
    }
    derb_close(&b);
    assert_true(derb_finish(&b, &len));
    assert_int_equal(len, 6 + n);
    BYTES_ARE(buf, 6, 0x30, 0x84, 0x01, 0x00, 0x00, 0x05);
    assert_int_equal(buf[6], 0x42);
    assert_int_equal(buf[len - 1], 0x42);
    unsigned tag;
    size_t hdr, clen;
    assert_int_equal(read_one(buf, len, &tag, &hdr, &clen), 1);
    assert_int_equal(hdr, 6);
    assert_int_equal(clen, n);
    free(buf);
}

static void test_add_uint(void **state) {
    static const struct {
        uint64_t v;
        uint8_t want[12];
        size_t len;
    } cases[] = {
        {0, {0x02, 0x01, 0x00}, 3},
        {1, {0x02, 0x01, 0x01}, 3},
        {0x7f, {0x02, 0x01, 0x7f}, 3},
        {0x80, {0x02, 0x02, 0x00, 0x80}, 4},
        {0xff, {0x02, 0x02, 0x00, 0xff}, 4},
        {0x100, {0x02, 0x02, 0x01, 0x00}, 4},
        {0x7fff, {0x02, 0x02, 0x7f, 0xff}, 4},
        {0x8000, {0x02, 0x03, 0x00, 0x80, 0x00}, 5},
        {0xffffffffu, {0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff}, 7},
        {0x0100000000ull, {0x02, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00}, 7},
        {UINT64_MAX, {0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 11},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[16];
        struct derb b;
        size_t len;
        derb_init(&b, buf, sizeof(buf));
        derb_add_uint(&b, DER_INTEGER, cases[i].v);
        assert_true(derb_finish(&b, &len));
        bytes_equal(buf, len, cases[i].want, cases[i].len);
        /* Reads back as a minimal INTEGER. */
        assert_true(integer_ok(buf, len));
        if (cases[i].v <= 0xffffffffu) {
            uint32_t v;
            assert_true(small_uint(DER_INTEGER, buf, len, &v));
            assert_int_equal(v, cases[i].v);
        }
    }
    uint8_t buf[8];
    struct derb b;
    size_t len;
    derb_init(&b, buf, sizeof(buf));
    derb_add_uint(&b, DER_ENUMERATED, 6);
    assert_true(derb_finish(&b, &len));
    BYTES_ARE(buf, len, 0x0a, 0x01, 0x06);
}

static void gentime_is(int64_t t, const char *want) {
    uint8_t buf[32];
    struct derb b;
    size_t len;
    derb_init(&b, buf, sizeof(buf));
    derb_add_gentime(&b, t);
    if (!derb_finish(&b, &len)) fail_msg("derb_add_gentime(%lld) failed", (long long)t);
    assert_int_equal(len, 17);
    assert_int_equal(buf[0], DER_GENERALIZEDTIME);
    assert_int_equal(buf[1], 15);
    if (memcmp(buf + 2, want, 15) != 0)
        fail_msg("derb_add_gentime(%lld) wrote %.15s, want %s", (long long)t, (const char *)buf + 2, want);
}

static void test_gentime(void **state) {
    gentime_is(0, "19700101000000Z");
    gentime_is(1, "19700101000001Z");
    gentime_is(-1, "19691231235959Z");
    gentime_is(86399, "19700101235959Z");
    gentime_is(86400, "19700102000000Z");
    gentime_is(-86400, "19691231000000Z");
    gentime_is(-86401, "19691230235959Z");
    gentime_is(951782400, "20000229000000Z");    /* a leap day of a century year */
    gentime_is(951868799, "20000229235959Z");
    gentime_is(4107542400, "21000301000000Z");   /* 2100 is not a leap year */
    gentime_is(1714557600, "20240501100000Z");
    gentime_is(1893456000, "20300101000000Z");
    gentime_is(2147483647, "20380119031407Z");
    gentime_is(2147483648, "20380119031408Z");
    gentime_is(253402300799, "99991231235959Z");
    gentime_is(-62167219200, "00000101000000Z");
    gentime_is(-2208988800, "19000101000000Z");
    /* Out of 0000..9999: err. */
    uint8_t buf[32];
    struct derb b;
    size_t len;
    derb_init(&b, buf, sizeof(buf));
    derb_add_gentime(&b, 253402300800);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, sizeof(buf));
    derb_add_gentime(&b, -62167219201);
    assert_false(derb_finish(&b, &len));
    derb_init(&b, buf, sizeof(buf));
    derb_add_gentime(&b, INT64_MIN);
    assert_false(derb_finish(&b, &len));
    /* Too small a buffer: err, not a partial time. */
    derb_init(&b, buf, 16);
    derb_add_gentime(&b, 0);
    assert_false(derb_finish(&b, &len));

    /* Agrees with gmtime_r over a sweep of the whole range. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t t = -62167219200 + (int64_t)(x % (253402300799ull + 62167219200ull + 1));
        time_t tt = (time_t)t;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        char want[32];
        snprintf(want, sizeof(want), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        gentime_is(t, want);
    }
}

/* A structure of every kind the builder writes, read back field by field. */
static void test_round_trip(void **state) {
    uint8_t buf[1024], blob[300];
    for (size_t i = 0; i < sizeof(blob); i++) blob[i] = (uint8_t)(255 - i);
    struct derb b;
    size_t len;
    derb_init(&b, buf, sizeof(buf));
    derb_open(&b, DER_SEQUENCE);
    derb_add_uint(&b, DER_INTEGER, 0x80);
    derb_add_uint(&b, DER_ENUMERATED, 3);
    derb_add_gentime(&b, 1714557600);
    derb_open(&b, DER_CONTEXT(1) | DER_CONSTRUCTED);
    derb_add(&b, DER_OCTET_STRING, blob, sizeof(blob));
    derb_close(&b);
    derb_open(&b, DER_OCTET_STRING); /* a primitive opened and closed: OCTET STRING of DER */
    derb_add(&b, DER_OCTET_STRING, blob, 16);
    derb_close(&b);
    derb_add(&b, DER_CONTEXT(2), blob, 0);
    derb_close(&b);
    assert_true(derb_finish(&b, &len));

    struct guard g;
    guard_init(&g, buf, len);
    struct der d, seq, x, inner;
    uint32_t v;
    der_init(&d, g.p, g.len);
    assert_true(der_get(&d, DER_SEQUENCE, &seq));
    assert_int_equal(d.len, 0);
    assert_true(der_get_small_uint(&seq, DER_INTEGER, &v));
    assert_int_equal(v, 0x80);
    assert_true(der_get_small_uint(&seq, DER_ENUMERATED, &v));
    assert_int_equal(v, 3);
    assert_true(der_get(&seq, DER_GENERALIZEDTIME, &x));
    assert_int_equal(x.len, 15);
    assert_memory_equal(x.p, "20240501100000Z", 15);
    assert_true(der_get(&seq, DER_CONTEXT(1) | DER_CONSTRUCTED, &x));
    assert_true(der_get(&x, DER_OCTET_STRING, &inner));
    assert_int_equal(x.len, 0);
    assert_int_equal(inner.len, sizeof(blob));
    assert_memory_equal(inner.p, blob, sizeof(blob));
    assert_true(der_get(&seq, DER_OCTET_STRING, &x));
    assert_true(der_get(&x, DER_OCTET_STRING, &inner));
    assert_int_equal(x.len, 0);
    assert_int_equal(inner.len, 16);
    assert_true(der_get(&seq, DER_CONTEXT(2), &x));
    assert_int_equal(x.len, 0);
    assert_int_equal(seq.len, 0);
    guard_free(&g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_length_form),
        cmocka_unit_test(test_non_minimal_lengths),
        cmocka_unit_test(test_length_octet_limits),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_leftover),
        cmocka_unit_test(test_peek_optional),
        cmocka_unit_test(test_integer),
        cmocka_unit_test(test_small_uint),
        cmocka_unit_test(test_bool),
        cmocka_unit_test(test_oid_eq),
        cmocka_unit_test(test_builder_nesting),
        cmocka_unit_test(test_builder_unbalanced),
        cmocka_unit_test(test_builder_overflow),
        cmocka_unit_test(test_builder_length_boundaries),
        cmocka_unit_test(test_builder_large),
        cmocka_unit_test(test_add_uint),
        cmocka_unit_test(test_gentime),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
