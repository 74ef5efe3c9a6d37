/* Unit tests of ca/extsort: the external sort under `revd import`. Records
 * with repeated keys, many more runs than one merge takes, the last chunk
 * in memory; every record comes out once, in order; a damaged run is an
 * error that names it; the runs are removed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/extsort.h"

struct rec {
    uint64_t key;
    uint32_t seq; /* which record of the input: each must come out once */
    uint32_t pad;
};

static int cmp_key(const void *a, const void *b) {
    const struct rec *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

static char *make_dir(void) {
    char tmpl[] = "/tmp/revd-extsort.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static size_t files_in(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* sort_check: n records with keys in [0, range) added in chunks of chunk,
 * the last rest kept in memory; the merge must give each once, in order. */
static void sort_check(size_t n, size_t chunk, uint64_t range, size_t want_runs_max) {
    char *dir = make_dir();
    struct extsort *s = extsort_new(dir, "t", sizeof(struct rec), cmp_key);
    assert_non_null(s);
    struct rec *all = calloc(n + 1, sizeof(*all)), *buf = calloc(chunk, sizeof(*buf));
    uint8_t *seen = calloc(n + 1, 1);
    assert_true(all != NULL && buf != NULL && seen != NULL);
    srand(7);
    for (size_t i = 0; i < n; i++) all[i] = (struct rec){.key = (uint64_t)rand() % range, .seq = (uint32_t)i};
    struct rerr e;
    size_t i = 0;
    while (n - i > chunk) {
        memcpy(buf, all + i, chunk * sizeof(*buf));
        if (!extsort_add(s, buf, chunk, &e)) fail_msg("extsort_add: %s", e.msg);
        i += chunk;
    }
    assert_true(extsort_num_runs(s) <= want_runs_max);
    assert_int_equal(files_in(dir), extsort_num_runs(s));
    size_t rest = n - i;
    memcpy(buf, all + i, rest * sizeof(*buf));
    struct extsort_merge *m;
    if (!extsort_merge_begin(s, buf, rest, &m, &e)) fail_msg("extsort_merge_begin: %s", e.msg);
    const void *v;
    int got;
    size_t out = 0;
    uint64_t last = 0;
    while ((got = extsort_merge_next(m, &v, &e)) == 1) {
        const struct rec *r = v;
        assert_true(r->key >= last);
        assert_true(r->seq < n);
        assert_int_equal(seen[r->seq], 0);
        assert_true(all[r->seq].key == r->key);
        seen[r->seq] = 1;
        last = r->key;
        out++;
    }
    assert_int_equal(got, 0);
    assert_int_equal(out, n);
    assert_int_equal(extsort_merge_next(m, &v, &e), 0);
    extsort_merge_free(m);
    extsort_free(s);
    assert_int_equal(files_in(dir), 0);
    rmdir(dir);
    free(dir);
    free(all);
    free(buf);
    free(seen);
}

static void test_many_runs(void **state) {
    (void)state;
    /* 10,000 / 37: 270 full chunks, so runs are merged four times on the way. */
    sort_check(10000, 37, 500, EXTSORT_FANIN);
}

static void test_records_past_one_buffer(void **state) {
    (void)state;
    /* Each run bigger than a merge buffer (EXTSORT_BUF / 16 = 4,096 records). */
    sort_check(100000, 9000, 1u << 30, 12);
}

static void test_memory_only(void **state) {
    (void)state;
    sort_check(1000, 5000, 10, 0);
}

static void test_empty(void **state) {
    (void)state;
    sort_check(0, 10, 10, 0);
}

static void test_truncated_run(void **state) {
    (void)state;
    char *dir = make_dir();
    struct extsort *s = extsort_new(dir, "t", sizeof(struct rec), cmp_key);
    struct rec r[4] = {{.key = 4}, {.key = 3}, {.key = 2}, {.key = 1}};
    struct rerr e;
    assert_true(extsort_add(s, r, 4, &e));
    char path[600];
    snprintf(path, sizeof(path), "%s/t-0.run", dir);
    assert_int_equal(truncate(path, 4 * sizeof(struct rec) - 1), 0);
    struct extsort_merge *m = NULL;
    assert_false(extsort_merge_begin(s, NULL, 0, &m, &e));
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "truncated"));
    extsort_free(s);
    assert_int_equal(files_in(dir), 0);
    rmdir(dir);
    free(dir);
}

static void test_no_dir(void **state) {
    (void)state;
    struct extsort *s = extsort_new("/nonexistent/revd-extsort", "t", sizeof(struct rec), cmp_key);
    struct rec r = {.key = 1};
    struct rerr e;
    assert_false(extsort_add(s, &r, 1, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/revd-extsort/t-0.run: cannot create"));
    extsort_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_runs),   cmocka_unit_test(test_records_past_one_buffer),
        cmocka_unit_test(test_memory_only), cmocka_unit_test(test_empty),
        cmocka_unit_test(test_truncated_run), cmocka_unit_test(test_no_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
