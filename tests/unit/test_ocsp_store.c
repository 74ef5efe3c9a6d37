/* ocsp/store and ocsp/cache: every record written is read back byte for
 * byte (the responder suffix stripped on disk and put back), by serial
 * and in order; serials before, between and after are absent; records out
 * of order are refused; a flipped byte in a run, the index or the footer is
 * an error naming the file, never a wrong record; the refresh index reads
 * only the runs that are due; the cache finds what it was given, by store
 * and hash, and evicts within its set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "ocsp/cache.h"
#include "ocsp/store.h"
#include "ocsp/table.h"

#define N 3000

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

struct entry {
    uint8_t serial[21];
    size_t serial_len;
    uint8_t der[2][700];
    size_t der_len[2];
    int64_t tu, nu;
};

static const uint8_t suffix[] = {0xa0, 0x05, 0x30, 0x03, 0x02, 0x01, 0x07};

static char dir[] = "/tmp/revd-test-store.XXXXXX";
static char path[256];
static struct entry *es;

/* Serials i * 7 + 1 as 4..7 octets (in index order: by length, then octets). */
static void fill(struct entry *en, size_t i) {
    uint64_t v = (uint64_t)i * 7 + 1 + ((uint64_t)1 << 30);
    en->serial_len = i < N / 2 ? 4 : 6;
    if (i >= N / 2) v |= (uint64_t)1 << 46;
    for (size_t k = 0; k < en->serial_len; k++) en->serial[k] = (uint8_t)(v >> (8 * (en->serial_len - 1 - k)));
    for (int h = 0; h < 2; h++) {
        size_t body = 80 + next() % 500;
        for (size_t k = 0; k < body; k++) en->der[h][k] = (uint8_t)next();
        /* Most end with the suffix (stripped on disk); every 5th does not. */
        if (i % 5 != 0) {
            memcpy(en->der[h] + body, suffix, sizeof(suffix));
            body += sizeof(suffix);
        }
        en->der_len[h] = body;
    }
    en->tu = 1000000 + (int64_t)(next() % 1000);
    en->nu = en->tu + 86400;
}

static int setup(void **state) {
    if (mkdtemp(dir) == NULL) return -1;
    snprintf(path, sizeof(path), "%s/1.store", dir);
    es = calloc(N, sizeof(*es));
    for (size_t i = 0; i < N; i++) fill(&es[i], i);
    struct ocsp_store_meta m = {.ca_id = 7, .built_seq = 42};
    memset(m.issuer_kh, 0x11, 20);
    memset(m.responder_kh, 0x22, 20);
    struct rerr e;
    struct ocsp_store_writer *w = ocsp_store_writer_open(path, &m, suffix, sizeof(suffix), &e);
    if (w == NULL) return -1;
    for (size_t i = 0; i < N; i++) {
        struct ocsp_store_rec r = {es[i].serial, es[i].serial_len, i % 20 == 0 ? 1 : 0, i % 20 == 0 ? 1 : 0,
                                   i % 20 == 0 ? 5000 : 0, 2000000000, es[i].tu, es[i].nu,
                                   {es[i].der[0], es[i].der[1]}, {es[i].der_len[0], es[i].der_len[1]}, {0, 0}};
        if (!ocsp_store_writer_add(w, &r, &e)) return -1;
    }
    return ocsp_store_writer_commit(w, &e) ? 0 : -1;
}

static int teardown(void **state) {
    unlink(path);
    rmdir(dir);
    free(es);
    return 0;
}

static void test_crc32c(void **state) { assert_int_equal(crc32c_update(0, "123456789", 9), 0xE3069283u); }

static void test_read_back(void **state) {
    struct rerr e;
    struct ocsp_store *s = ocsp_store_open(path, NULL, &e);
    assert_non_null(s);
    assert_int_equal(ocsp_store_count(s), N);
    assert_int_equal(ocsp_store_meta(s)->ca_id, 7);
    assert_int_equal(ocsp_store_meta(s)->built_seq, 42);
    assert_int_equal(ocsp_store_meta(s)->window, 86400);
    /* Index and suffix in memory: far less than the file. */
    assert_true(ocsp_store_memory(s) * 40 < ocsp_store_file_bytes(s));
    uint8_t *buf = malloc(STORE_RUN_MAX), out[1024];
    for (size_t i = 0; i < N; i++) {
        struct ocsp_store_rec r;
        assert_int_equal(ocsp_store_read(s, es[i].serial, es[i].serial_len, buf, &r, &e), 1);
        assert_int_equal(r.status, i % 20 == 0 ? 1 : 0);
        assert_int_equal(r.this_update, es[i].tu);
        assert_int_equal(r.next_update, es[i].nu);
        assert_int_equal(r.not_after, 2000000000);
        for (int h = 0; h < 2; h++) {
            size_t len;
            assert_int_equal(r.stripped[h], i % 5 != 0);
            assert_true(ocsp_store_assemble(s, &r, h, out, sizeof(out), &len));
            assert_int_equal(len, es[i].der_len[h]);
            assert_memory_equal(out, es[i].der[h], len);
        }
        /* A neighbour that was never written: i * 7 + 2. */
        uint8_t miss[21];
        memcpy(miss, es[i].serial, es[i].serial_len);
        miss[es[i].serial_len - 1] ^= 0x03;
        assert_int_equal(ocsp_store_read(s, miss, es[i].serial_len, buf, &r, &e), 0);
    }
    const uint8_t low[1] = {1}, high[21] = {0x7f};
    struct ocsp_store_rec r;
    assert_int_equal(ocsp_store_read(s, low, 1, buf, &r, &e), 0);
    assert_int_equal(ocsp_store_read(s, high, 21, buf, &r, &e), 0);
    /* The scan: every record, in order. */
    struct ocsp_store_scan *sc = ocsp_store_scan_new(s, &e);
    size_t n = 0;
    int got;
    while ((got = ocsp_store_scan_next(sc, &r, &e)) == 1) {
        assert_true(n < N);
        assert_int_equal(r.serial_len, es[n].serial_len);
        assert_memory_equal(r.serial, es[n].serial, r.serial_len);
        n++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(n, N);
    ocsp_store_scan_free(sc);
    free(buf);
    ocsp_store_put(s);
}

static int count_due(void *arg, const struct ocsp_store_rec *r) {
    (*(size_t *)arg)++;
    return 1;
}

static void test_due(void **state) {
    struct rerr e;
    struct ocsp_store *s = ocsp_store_open(path, NULL, &e);
    assert_non_null(s);
    int64_t min = ocsp_store_refresh_min(s);
    assert_true(min > 1000000 && min < 1000000 + 86400);
    size_t n = 0;
    assert_true(ocsp_store_due(s, min - 1, count_due, &n, &e));
    assert_int_equal(n, 0);
    assert_true(ocsp_store_due(s, INT64_MAX, count_due, &n, &e));
    assert_int_equal(n, N);
    ocsp_store_put(s);
}

static void test_out_of_order(void **state) {
    char p2[300];
    snprintf(p2, sizeof(p2), "%s/2.store", dir);
    struct ocsp_store_meta m = {.ca_id = 1};
    struct rerr e;
    struct ocsp_store_writer *w = ocsp_store_writer_open(p2, &m, NULL, 0, &e);
    assert_non_null(w);
    struct ocsp_store_rec r = {es[5].serial, es[5].serial_len, 0, 0, 0, 1, 1, 2,
                               {es[5].der[0], es[5].der[1]}, {es[5].der_len[0], es[5].der_len[1]}, {0, 0}};
    assert_true(ocsp_store_writer_add(w, &r, &e));
    r.serial = es[4].serial;
    assert_false(ocsp_store_writer_add(w, &r, &e));
    ocsp_store_writer_abort(w);
    assert_int_equal(access(p2, F_OK), -1); /* nothing left */
}

/* Copies the store with byte off flipped; opens and reads every record:
 * each is the right one or an error naming the file, never another. */
static int flipped(long off) {
    char p2[300];
    snprintf(p2, sizeof(p2), "%s/3.store", dir);
    FILE *in = fopen(path, "rb"), *out = fopen(p2, "wb");
    int c;
    long pos = 0;
    while ((c = fgetc(in)) != EOF) fputc(pos++ == off ? c ^ 0x40 : c, out);
    fclose(in);
    fclose(out);
    struct rerr e;
    struct ocsp_store *s = ocsp_store_open(p2, NULL, &e);
    int errors = 0;
    if (s == NULL) {
        assert_non_null(strstr(e.msg, p2));
        unlink(p2);
        return -1;
    }
    uint8_t *buf = malloc(STORE_RUN_MAX);
    for (size_t i = 0; i < N; i++) {
        struct ocsp_store_rec r;
        int got = ocsp_store_read(s, es[i].serial, es[i].serial_len, buf, &r, &e);
        if (got < 0) {
            assert_non_null(strstr(e.msg, p2));
            errors++;
            continue;
        }
        assert_int_equal(got, 1);
        assert_int_equal(r.this_update, es[i].tu);
        assert_int_equal(r.der_len[0] + (r.stripped[0] ? sizeof(suffix) : 0), es[i].der_len[0]);
        assert_memory_equal(r.der[0], es[i].der[0], r.der_len[0]);
    }
    free(buf);
    ocsp_store_put(s);
    unlink(p2);
    return errors;
}

static void test_damage(void **state) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(flipped(st.st_size / 2) > 0); /* a run: its records fail */
    assert_int_equal(flipped(st.st_size - 10), -1); /* the footer */
    assert_int_equal(flipped(st.st_size - 200), -1); /* the index */
    assert_true(flipped(3) > 0); /* the first run's header: its records fail */
}

static void test_cache(void **state) {
    struct ocsp_cache *c = ocsp_cache_new(64 * 1024);
    assert_non_null(c);
    assert_null(ocsp_cache_new(100)); /* not one set */
    char etag[ETAG_LEN + 1];
    memset(etag, 'a', ETAG_LEN);
    etag[ETAG_LEN] = 0;
    struct ocsp_cache_hit hit;
    for (size_t i = 0; i < 200; i++)
        ocsp_cache_put(c, 1, 0, es[i].serial, es[i].serial_len, es[i].der[0], 300, 1, etag, es[i].tu, es[i].nu);
    size_t hits = 0;
    for (size_t i = 0; i < 200; i++) {
        if (!ocsp_cache_get(c, 1, 0, es[i].serial, es[i].serial_len, &hit)) continue;
        hits++;
        assert_int_equal(hit.der_len, 300);
        assert_memory_equal(hit.der, es[i].der[0], 300);
        assert_int_equal(hit.this_update, es[i].tu);
        assert_true(hit.stripped);
        assert_string_equal(hit.etag, etag);
        /* Another store or hash: not this entry. */
        assert_false(ocsp_cache_get(c, 2, 0, es[i].serial, es[i].serial_len, &hit));
        assert_false(ocsp_cache_get(c, 1, 1, es[i].serial, es[i].serial_len, &hit));
    }
    /* 64 KiB hold about 100 slots: some evicted, most of those kept. */
    assert_true(hits > 40 && hits < 200);
    /* Too large for a slot: not kept. */
    ocsp_cache_put(c, 3, 0, es[0].serial, es[0].serial_len, es[0].der[0], CACHE_DER_MAX + 1, 0, etag, 1, 2);
    assert_false(ocsp_cache_get(c, 3, 0, es[0].serial, es[0].serial_len, &hit));
    struct ocsp_cache_stats cs = {0};
    ocsp_cache_stats(c, &cs);
    assert_true(cs.evictions > 0 && cs.hits >= hits);
    ocsp_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),      cmocka_unit_test(test_read_back), cmocka_unit_test(test_due),
        cmocka_unit_test(test_out_of_order), cmocka_unit_test(test_damage),    cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
