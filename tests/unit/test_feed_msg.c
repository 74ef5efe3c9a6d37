/* Unit tests of the feed's wire format (feed/msg.h): each kind encodes and
 * decodes back; every truncation, a byte after the payload, a length past
 * its cap, an unknown magic and a name with a control character are
 * refused; subjects name the stream that holds them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "feed/msg.h"

static const uint8_t serial[] = {0x2a, 0x94, 0x5d, 0xb9};
static uint8_t der_a[300], der_b[400];

static struct feed_msg ocsp_msg(void) {
    for (size_t i = 0; i < sizeof(der_a); i++) der_a[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(der_b); i++) der_b[i] = (uint8_t)(i * 7);
    return (struct feed_msg){.kind = FEED_OCSP, .version = 1796585185071837ull, .caid = 2, .serial = serial,
                             .serial_len = sizeof(serial), .der = {der_a, der_b},
                             .der_len = {sizeof(der_a), sizeof(der_b)}};
}

/* roundtrip: encodes m, decodes it, checks every field; every shorter
 * prefix and one byte more are refused. */
static void roundtrip(const struct feed_msg *m) {
    size_t n = feed_msg_size(m);
    assert_true(n > 0);
    uint8_t *b = malloc(n + 1);
    assert_int_equal(feed_msg_encode(m, b, n), n);
    assert_int_equal(feed_msg_encode(m, b, n - 1), 0); /* does not fit */
    struct feed_msg d;
    struct rerr e;
    assert_true(feed_msg_decode(b, n, &d, &e));
    assert_int_equal(d.kind, m->kind);
    assert_true(d.version == m->version);
    assert_int_equal(d.caid, m->caid);
    assert_int_equal(d.serial_len, m->serial_len);
    if (m->serial_len) assert_memory_equal(d.serial, m->serial, m->serial_len);
    for (int h = 0; h < 2; h++) {
        assert_int_equal(d.der_len[h], m->der_len[h]);
        if (m->der_len[h]) assert_memory_equal(d.der[h], m->der[h], m->der_len[h]);
    }
    assert_int_equal(d.name_len, m->name_len);
    if (m->name_len) assert_memory_equal(d.name, m->name, m->name_len);
    assert_true(d.refresh_at == m->refresh_at && d.sent_at_us == m->sent_at_us && d.position == m->position);
    for (size_t k = 0; k < n; k++) assert_false(feed_msg_decode(b, k, &d, &e));
    b[n] = 0;
    assert_false(feed_msg_decode(b, n + 1, &d, &e));
    assert_non_null(strstr(e.msg, "after"));
    free(b);
}

static void test_kinds_roundtrip(void **state) {
    (void)state;
    struct feed_msg o = ocsp_msg();
    roundtrip(&o);
    struct feed_msg c = {.kind = FEED_CRL, .version = 7, .caid = 2, .name = "/crl/demo-issuing/0.crl", .name_len = 23,
                         .refresh_at = 1796590000, .der = {der_a}, .der_len = {sizeof(der_a)}};
    roundtrip(&c);
    struct feed_msg a = {.kind = FEED_CA, .version = 8, .caid = 1, .name = "demo-root", .name_len = 9,
                         .der = {der_b}, .der_len = {sizeof(der_b)}};
    roundtrip(&a);
    struct feed_msg h = {.kind = FEED_HB, .version = 9, .sent_at_us = 1796585185071837, .position = 42};
    roundtrip(&h);
}

static void test_caps_refused(void **state) {
    (void)state;
    struct feed_msg o = ocsp_msg();
    o.serial_len = 0;
    assert_int_equal(feed_msg_size(&o), 0);
    o.serial_len = FEED_SERIAL_MAX + 1;
    assert_int_equal(feed_msg_size(&o), 0);
    o = ocsp_msg();
    o.der_len[1] = FEED_RESPONSE_MAX + 1;
    assert_int_equal(feed_msg_size(&o), 0);
    /* Decoding: a response length past its cap, in an otherwise whole payload. */
    o = ocsp_msg();
    size_t n = feed_msg_size(&o);
    uint8_t *b = malloc(n);
    feed_msg_encode(&o, b, n);
    size_t at = 4 + 8 + 4 + 1 + sizeof(serial); /* the first response's length */
    bytes_put_u32(b + at, FEED_RESPONSE_MAX + 1);
    struct feed_msg d;
    struct rerr e;
    assert_false(feed_msg_decode(b, n, &d, &e));
    bytes_put_u32(b + at, 0); /* an empty response */
    assert_false(feed_msg_decode(b, n, &d, &e));
    b[0] = 'X'; /* not a feed message */
    assert_false(feed_msg_decode(b, n, &d, &e));
    assert_non_null(strstr(e.msg, "magic"));
    free(b);
}

static void test_name_text_only(void **state) {
    (void)state;
    struct feed_msg c = {.kind = FEED_CRL, .version = 7, .caid = 2, .name = "/crl/a b/0.crl", .name_len = 14,
                         .der = {der_a}, .der_len = {sizeof(der_a)}};
    size_t n = feed_msg_size(&c);
    uint8_t *b = malloc(n);
    feed_msg_encode(&c, b, n);
    struct feed_msg d;
    struct rerr e;
    assert_false(feed_msg_decode(b, n, &d, &e)); /* a space */
    free(b);
}

static void test_subjects(void **state) {
    (void)state;
    struct feed_msg o = ocsp_msg();
    char subject[FEED_SUBJECT_MAX], stream[16], want[64];
    feed_msg_subject(&o, subject, stream);
    unsigned k = feed_msg_shard(serial, sizeof(serial));
    assert_true(k < FEED_OCSP_STREAMS);
    snprintf(want, sizeof(want), "revd.ocsp.%u.2.2A945DB9", k);
    assert_string_equal(subject, want);
    assert_string_equal(stream, feed_stream_name(k));
    /* The stream's subject filter covers it. */
    assert_memory_equal(subject, feed_stream_subject(k), strlen(feed_stream_subject(k)) - 1);
    struct feed_msg h = {.kind = FEED_HB};
    feed_msg_subject(&h, subject, stream);
    assert_string_equal(subject, "revd.meta.hb");
    assert_string_equal(stream, "REVD_META");
    struct feed_msg c = {.kind = FEED_CRL, .caid = 3, .name = "/crl/x/1.crl", .name_len = 12};
    feed_msg_subject(&c, subject, stream);
    assert_string_equal(stream, "REVD_CRL");
    assert_int_equal(strncmp(subject, "revd.crl.3.", 11), 0);
    assert_int_equal(strlen(subject), 11 + 16);
    /* Different keys, different key hashes; the same key, the same. */
    struct feed_msg o2 = o;
    o2.version++;
    assert_true(feed_msg_key(&o) == feed_msg_key(&o2));
    o2.caid = 3;
    assert_true(feed_msg_key(&o) != feed_msg_key(&o2));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_roundtrip),
        cmocka_unit_test(test_caps_refused),
        cmocka_unit_test(test_name_text_only),
        cmocka_unit_test(test_subjects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
