/* ocsp/table: every response added is found again, byte for byte, by serial
 * and hash; absent serials, other hashes and duplicates are refused; the
 * index grows past its first size; memory per entry is what the header says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "ocsp/table.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define N 50000

struct entry {
    uint8_t serial[21];
    size_t serial_len;
    uint8_t der[2][600];
    size_t der_len[2];
};

static void fill(struct entry *en, size_t i) {
    /* Serials of 1..21 octets; the first 16 entries are short ones. */
    en->serial_len = i < 16 ? 1 + i : 16 + (next() % 6);
    for (size_t k = 0; k < en->serial_len; k++) en->serial[k] = (uint8_t)next();
    en->serial[0] = (uint8_t)((en->serial[0] & 0x7f) | 1);
    if (i < 16) en->serial[0] = (uint8_t)(i + 1);
    for (int h = 0; h < 2; h++) {
        en->der_len[h] = 100 + next() % 500;
        for (size_t k = 0; k < en->der_len[h]; k++) en->der[h][k] = (uint8_t)next();
    }
}

static void test_roundtrip(void **state) {
    struct entry *es = malloc(N * sizeof(*es));
    assert_non_null(es);
    struct ocsp_table_builder *b = ocsp_table_builder_new(16); /* a low hint: it must grow */
    assert_non_null(b);
    struct rerr e;
    size_t added = 0, payload = 0;
    for (size_t i = 0; i < N; i++) {
        fill(&es[i], i);
        const uint8_t *der[2] = {es[i].der[0], es[i].der[1]};
        int ok = ocsp_table_builder_add(b, es[i].serial, es[i].serial_len, der, es[i].der_len, &e);
        /* Random serials may repeat (the 16 short ones cannot collide with
         * the others); a repeat must be refused, not stored twice. */
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            if (i < 64 && es[j].serial_len == es[i].serial_len && memcmp(es[j].serial, es[i].serial, es[i].serial_len) == 0)
                dup = 1;
        if (!dup) {
            assert_true(ok);
            added++;
            payload += es[i].der_len[0] + es[i].der_len[1];
        } else {
            assert_false(ok);
            es[i].serial_len = 0;
        }
    }
    struct ocsp_table *t = ocsp_table_builder_finish(b);
    assert_non_null(t);
    assert_int_equal(ocsp_table_count(t), added);
    const uint8_t *p;
    size_t l;
    for (size_t i = 0; i < N; i++) {
        if (es[i].serial_len == 0) continue;
        for (int h = 0; h < 2; h++) {
            assert_true(ocsp_table_find(t, es[i].serial, es[i].serial_len, h ? OCSP_HASH_SHA256 : OCSP_HASH_SHA1, &p, &l));
            assert_int_equal(l, es[i].der_len[h]);
            assert_memory_equal(p, es[i].der[h], l);
        }
        assert_false(ocsp_table_find(t, es[i].serial, es[i].serial_len, OCSP_HASH_SHA384, &p, &l));
    }
    /* Absent: a serial one octet longer, and unseen random ones. */
    uint8_t absent[21] = {0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    assert_false(ocsp_table_find(t, absent, 21, OCSP_HASH_SHA1, &p, &l));
    assert_false(ocsp_table_find(t, absent, 0, OCSP_HASH_SHA1, &p, &l));
    assert_false(ocsp_table_find(NULL, absent, 3, OCSP_HASH_SHA1, &p, &l));
    /* Memory: the payload, the serials and their lengths, two lengths and
     * two ETags (4 + 65 octets each), and at most 4 index slots of 16
     * octets per entry (the index is at most half full, a power of two). */
    size_t overhead = ocsp_table_bytes(t) - payload;
    assert_true(overhead <= added * (22 + 16 + 2 * (4 + 65) + 64) + 1024);
    /* Each ETag is the lower-case hex SHA-256 of its response. */
    for (size_t i = 0; i < 100; i++) {
        if (es[i].serial_len == 0) continue;
        const char *etag;
        assert_true(ocsp_table_find_etag(t, es[i].serial, es[i].serial_len, OCSP_HASH_SHA256, &p, &l, &etag));
        uint8_t d[32];
        unsigned int dl = 32;
        EVP_Digest(es[i].der[1], es[i].der_len[1], d, &dl, EVP_sha256(), NULL);
        char want[65];
        for (int k = 0; k < 32; k++) snprintf(want + 2 * k, 3, "%02x", d[k]);
        assert_string_equal(etag, want);
    }
    ocsp_table_free(t);
    free(es);
}

static void test_duplicate_and_bad(void **state) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(4);
    struct rerr e;
    uint8_t s[2] = {0x01, 0x02}, d[3] = {1, 2, 3};
    const uint8_t *der[2] = {d, d};
    size_t len[2] = {3, 2};
    assert_true(ocsp_table_builder_add(b, s, 2, der, len, &e));
    assert_false(ocsp_table_builder_add(b, s, 2, der, len, &e));
    assert_false(ocsp_table_builder_add(b, s, 0, der, len, &e));
    uint8_t big[22] = {1};
    assert_false(ocsp_table_builder_add(b, big, 22, der, len, &e));
    struct ocsp_table *t = ocsp_table_builder_finish(b);
    const uint8_t *p;
    size_t l;
    assert_true(ocsp_table_find(t, s, 2, OCSP_HASH_SHA256, &p, &l));
    assert_int_equal(l, 2);
    assert_true(ocsp_table_find(t, s, 2, OCSP_HASH_SHA1, &p, &l));
    assert_int_equal(l, 3);
    assert_false(ocsp_table_find(t, s, 1, OCSP_HASH_SHA1, &p, &l));
    ocsp_table_free(t);
    ocsp_table_builder_free(NULL);
    ocsp_table_free(NULL);
}

static struct ocsp_table *one(const char *serial_hex_bytes, size_t n, uint8_t fill, int64_t t0) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(n);
    struct rerr e;
    ocsp_table_builder_set_times(b, t0, t0 + 100);
    for (size_t i = 0; i < n; i++) {
        uint8_t serial[1] = {(uint8_t)serial_hex_bytes[i]};
        uint8_t d0[3] = {fill, (uint8_t)i, 0}, d1[4] = {fill, (uint8_t)i, 1, 1};
        const uint8_t *der[2] = {d0, d1};
        size_t len[2] = {3, 4};
        assert_true(ocsp_table_builder_add(b, serial, 1, der, len, &e));
    }
    return ocsp_table_builder_finish(b);
}

/* An overlay wins over the base; merging copies without changing a byte;
 * times come with each entry; references count. */
static void test_merge_times_refs(void **state) {
    struct ocsp_table *base = one("\x01\x02\x03\x04", 4, 0xaa, 1000);
    struct ocsp_table *over = one("\x02\x09", 2, 0xbb, 2000);
    struct ocsp_table *m = ocsp_table_merge(base, over);
    assert_int_equal(ocsp_table_count(m), 5);
    const uint8_t *p;
    size_t l;
    int64_t tu, nu;
    uint8_t s2 = 2, s1 = 1, s9 = 9;
    assert_true(ocsp_table_find(m, &s2, 1, OCSP_HASH_SHA1, &p, &l));
    assert_int_equal(p[0], 0xbb); /* the overlay's */
    assert_true(ocsp_table_times(m, &s2, 1, &tu, &nu));
    assert_int_equal(tu, 2000);
    assert_int_equal(nu, 2100);
    assert_true(ocsp_table_find(m, &s1, 1, OCSP_HASH_SHA256, &p, &l));
    assert_int_equal(l, 4);
    assert_int_equal(p[0], 0xaa);
    assert_true(ocsp_table_times(m, &s1, 1, &tu, &nu));
    assert_int_equal(tu, 1000);
    assert_true(ocsp_table_has(m, &s9, 1));
    uint8_t s7 = 7;
    assert_false(ocsp_table_has(m, &s7, 1));
    assert_false(ocsp_table_times(m, &s7, 1, &tu, &nu));
    /* ETags survive the copy. */
    const char *e1, *e2;
    assert_true(ocsp_table_find_etag(base, &s1, 1, OCSP_HASH_SHA1, &p, &l, &e1));
    assert_true(ocsp_table_find_etag(m, &s1, 1, OCSP_HASH_SHA1, &p, &l, &e2));
    assert_string_equal(e1, e2);
    /* NULL sides. */
    struct ocsp_table *m2 = ocsp_table_merge(NULL, over);
    assert_int_equal(ocsp_table_count(m2), 2);
    /* References: the second free releases. */
    assert_ptr_equal(ocsp_table_ref(base), base);
    ocsp_table_free(base);
    assert_true(ocsp_table_find(base, &s1, 1, OCSP_HASH_SHA1, &p, &l)); /* still alive */
    ocsp_table_free(base);
    ocsp_table_free(over);
    ocsp_table_free(m);
    ocsp_table_free(m2);
}

/* ocsp_table_next visits every entry once, in the order added, with its
 * times; the walk of a merged table sees the overlay's times. */
static void test_walk(void **state) {
    struct ocsp_table *base = one("\x01\x02\x03\x04", 4, 0xaa, 1000);
    size_t pos = 0, n = 0, sl;
    const uint8_t *s;
    int64_t tu, nu;
    while (ocsp_table_next(base, &pos, &s, &sl, &tu, &nu)) {
        assert_int_equal(sl, 1);
        assert_int_equal(s[0], n + 1);
        assert_int_equal(tu, 1000);
        assert_int_equal(nu, 1100);
        n++;
    }
    assert_int_equal(n, 4);
    assert_false(ocsp_table_next(base, &pos, &s, &sl, &tu, &nu)); /* stays at the end */
    struct ocsp_table *over = one("\x02", 1, 0xbb, 2000);
    struct ocsp_table *m = ocsp_table_merge(base, over);
    pos = n = 0;
    int seen2 = 0;
    while (ocsp_table_next(m, &pos, &s, &sl, &tu, &nu)) {
        n++;
        if (s[0] == 2) seen2 = tu == 2000;
    }
    assert_int_equal(n, 4);
    assert_true(seen2);
    pos = 0;
    assert_false(ocsp_table_next(NULL, &pos, &s, &sl, &tu, &nu));
    ocsp_table_free(base);
    ocsp_table_free(over);
    ocsp_table_free(m);
}

/* Refresh times fall in [half - an eighth, half] of the validity, depend
 * only on the serial and thisUpdate, and spread. */
static void test_refresh_at(void **state) {
    const int64_t tu = 1700000000, v = 4 * 86400;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < 10000; i++) {
        uint8_t serial[16];
        for (int k = 0; k < 16; k++) serial[k] = (uint8_t)next();
        int64_t at = ocsp_refresh_at(serial, 16, tu, tu + v);
        assert_true(at <= tu + v / 2);
        assert_true(at >= tu + v / 2 - v / 8);
        assert_int_equal(at, ocsp_refresh_at(serial, 16, tu, tu + v));
        if (at < lo) lo = at;
        if (at > hi) hi = at;
    }
    assert_true(hi - lo > v / 8 - v / 64); /* spread over (nearly) the whole window */
    uint8_t one_serial = 1;
    assert_int_equal(ocsp_refresh_at(&one_serial, 1, tu, tu), tu); /* no validity: due at once */
}

/* Merges share what they do not change: a generation of overlays folded
 * into a base, one after another (as the publisher and an edge do), keeps
 * the base's bytes where they are (the same address is found through the
 * merged table), gives every serial its newest responses and times, walks
 * each serial once, and compacts before the dead records pass half of the
 * live ones. Tables are freed out of order (what a generation swap does). */
#define CHAIN_BASE 3000
#define CHAIN_STEPS 120
static struct ocsp_table *chain_table(const uint16_t *serials, size_t n, int64_t tu, uint8_t tag) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(n);
    struct rerr e;
    ocsp_table_builder_set_times(b, tu, tu + 100);
    for (size_t i = 0; i < n; i++) {
        uint8_t serial[2] = {(uint8_t)(0x40 | (serials[i] >> 8)), (uint8_t)serials[i]};
        uint8_t d0[200], d1[300];
        memset(d0, tag, sizeof(d0));
        memset(d1, tag, sizeof(d1));
        d0[1] = d1[1] = (uint8_t)serials[i];
        const uint8_t *der[2] = {d0, d1};
        size_t len[2] = {sizeof(d0), sizeof(d1)};
        assert_true(ocsp_table_builder_add(b, serial, 2, der, len, &e));
    }
    return ocsp_table_builder_finish(b);
}

static void test_merge_chain(void **state) {
    static uint16_t all[CHAIN_BASE + 500], pick[200];
    static int64_t want_tu[CHAIN_BASE + 500];
    static uint8_t want_tag[CHAIN_BASE + 500];
    for (size_t i = 0; i < CHAIN_BASE + 500; i++) all[i] = (uint16_t)i, want_tu[i] = -1;
    struct ocsp_table *t = chain_table(all, CHAIN_BASE, 1000, 1);
    for (size_t i = 0; i < CHAIN_BASE; i++) want_tu[i] = 1000, want_tag[i] = 1;
    /* The base's bytes of serial 7, found again after a small merge. */
    const uint8_t *p0, *p1;
    size_t l;
    uint8_t s7[2] = {0x40, 7};
    assert_true(ocsp_table_find(t, s7, 2, OCSP_HASH_SHA1, &p0, &l));
    struct ocsp_table *keep = NULL;
    size_t max_bytes = 0, base_bytes = ocsp_table_bytes(t);
    for (int step = 0; step < CHAIN_STEPS; step++) {
        size_t n = 1 + next() % 60;
        for (size_t k = 0; k < n; k++) { /* distinct: the same serial twice in one overlay is refused */
            uint16_t v;
            int again;
            do {
                v = (uint16_t)(next() % (CHAIN_BASE + 500));
                again = v == 7;
                for (size_t j = 0; j < k; j++) again |= pick[j] == v;
            } while (again);
            pick[k] = v;
        }
        uint8_t tag = (uint8_t)(2 + step % 200);
        struct ocsp_table *over = chain_table(pick, n, 2000 + step, tag);
        struct ocsp_table *m = ocsp_table_merge(t, over);
        assert_non_null(m);
        for (size_t k = 0; k < n; k++) want_tu[pick[k]] = 2000 + step, want_tag[pick[k]] = tag;
        if (step == 0) { /* shared, not copied */
            assert_true(ocsp_table_find(m, s7, 2, OCSP_HASH_SHA1, &p1, &l));
            assert_ptr_equal(p0, p1);
        }
        if (step == 10) keep = ocsp_table_ref(t); /* an old generation still read */
        ocsp_table_free(over); /* before the merged table: it holds the arena */
        ocsp_table_free(t);
        t = m;
        if (ocsp_table_bytes(t) > max_bytes) max_bytes = ocsp_table_bytes(t);
    }
    /* Every serial: its newest responses and times; a walk sees each once. */
    size_t expect = 0;
    for (size_t i = 0; i < CHAIN_BASE + 500; i++) {
        uint8_t serial[2] = {(uint8_t)(0x40 | (i >> 8)), (uint8_t)i};
        int64_t tu, nu;
        if (want_tu[i] < 0) {
            assert_false(ocsp_table_has(t, serial, 2));
            continue;
        }
        expect++;
        assert_true(ocsp_table_times(t, serial, 2, &tu, &nu));
        assert_int_equal(tu, want_tu[i]);
        assert_true(ocsp_table_find(t, serial, 2, OCSP_HASH_SHA256, &p1, &l));
        assert_int_equal(l, 300);
        assert_int_equal(p1[0], want_tag[i]);
        assert_int_equal(p1[1], (uint8_t)i);
    }
    assert_int_equal(ocsp_table_count(t), expect);
    static uint8_t seen[CHAIN_BASE + 500];
    memset(seen, 0, sizeof(seen));
    size_t pos = 0, sl, walked = 0;
    const uint8_t *s;
    int64_t tu, nu;
    while (ocsp_table_next(t, &pos, &s, &sl, &tu, &nu)) {
        size_t i = (size_t)(s[0] & 0x3f) << 8 | s[1];
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        assert_int_equal(tu, want_tu[i]);
        walked++;
    }
    assert_int_equal(walked, expect);
    /* Compacted along the way: never past live + half of it, and the index. */
    assert_true(max_bytes < base_bytes * 2 + 200000);
    /* The old generation still reads its own responses. */
    assert_true(ocsp_table_find(keep, s7, 2, OCSP_HASH_SHA1, &p1, &l));
    assert_int_equal(p1[0], 1);
    ocsp_table_free(t);
    ocsp_table_free(keep);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_duplicate_and_bad),
        cmocka_unit_test(test_merge_times_refs),
        cmocka_unit_test(test_walk),
        cmocka_unit_test(test_merge_chain),
        cmocka_unit_test(test_refresh_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
