/* Unit tests of node/cpus: the core-list syntax (cpus_check: what it
 * accepts, every malformed form refused), and the plan made over the cores
 * this process may use (cpus_plan_make under auto, with --threads, off, a
 * list, a core that is not allowed), and the start log's sentence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "node/cpus.h"

static void test_cpus_check_accepts(void **state) {
    (void)state;
    char why[160];
    cpu_set_t s;
    assert_true(cpus_check("0", &s, why, sizeof(why)));
    assert_int_equal(CPU_COUNT(&s), 1);
    assert_true(CPU_ISSET(0, &s));
    assert_true(cpus_check("0-3,6", &s, why, sizeof(why)));
    assert_int_equal(CPU_COUNT(&s), 5);
    assert_true(CPU_ISSET(3, &s) && CPU_ISSET(6, &s) && !CPU_ISSET(4, &s));
    assert_true(cpus_check("6,1,1", &s, why, sizeof(why)));
    assert_int_equal(CPU_COUNT(&s), 2);
    assert_true(cpus_check("2-2", &s, why, sizeof(why)));
    assert_int_equal(CPU_COUNT(&s), 1);
    assert_true(cpus_check("1023", &s, why, sizeof(why)));
    assert_true(CPU_ISSET(1023, &s));
    assert_true(cpus_check("0-1023", NULL, why, sizeof(why)));
}

static void test_cpus_check_refuses(void **state) {
    (void)state;
    static const char *bad[] = {"", "1024", "0-1024", "3-1", "0,,1", " 0", "0 ", "0-", "-1", "1,", ",1",
                                "a", "0x1", "+1", "1-2-3", "99999999999999999999", "0;1", "auto"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[160] = "";
        if (cpus_check(bad[i], NULL, why, sizeof(why))) fail_msg("accepted '%s'", bad[i]);
        assert_non_null(strstr(why, "must be a list of cores"));
    }
}

/* allowed: the cores this process may use, ascending; *n their number. */
static void allowed(int *out, int *n) {
    cpu_set_t s;
    assert_int_equal(sched_getaffinity(0, sizeof(s), &s), 0);
    *n = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        if (CPU_ISSET(c, &s)) out[(*n)++] = c;
}

static void test_cpus_plan_auto(void **state) {
    (void)state;
    static int a[CPUS_MAX];
    static struct cpus_plan p;
    int n;
    allowed(a, &n);
    struct rerr e = {{0}};
    assert_true(cpus_plan_make("auto", "auto", 0, &p, &e));
    assert_false(p.off);
    assert_int_equal(p.num_allowed, n);
    if (n == 1) {
        assert_int_equal(p.num_shard, 1);
        assert_int_equal(p.shard[0], a[0]);
        assert_true(CPU_ISSET(a[0], &p.work));
        assert_int_equal(p.num_work, 1);
        assert_true(p.low_priority);
    } else {
        assert_int_equal(p.num_shard, n - 1);
        for (int i = 0; i < n - 1; i++) assert_int_equal(p.shard[i], a[i]);
        assert_int_equal(p.num_work, 1);
        assert_true(CPU_ISSET(a[n - 1], &p.work));
        assert_false(p.low_priority);
    }
    /* --threads as many as the cores: every core serves, the rest at low priority. */
    assert_true(cpus_plan_make("auto", "auto", n, &p, &e));
    assert_int_equal(p.num_shard, n);
    assert_int_equal(p.num_work, n);
    assert_true(p.low_priority);
    assert_true(p.nice >= CPUS_LOW_NICE || p.nice == 19);
    char out[600];
    cpus_describe(&p, out, sizeof(out));
    assert_non_null(strstr(out, "on every core"));
    assert_non_null(strstr(out, "at low priority"));
    /* --threads 1 on several cores: the lowest one serves, the others work. */
    assert_true(cpus_plan_make("auto", "auto", 1, &p, &e));
    assert_int_equal(p.num_shard, 1);
    assert_int_equal(p.shard[0], a[0]);
    assert_int_equal(p.num_work, n == 1 ? 1 : n - 1);
}

static void test_cpus_plan_lists(void **state) {
    (void)state;
    static int a[CPUS_MAX];
    static struct cpus_plan p;
    int n;
    allowed(a, &n);
    struct rerr e = {{0}};
    char list[16], out[600], want[128];
    assert_true(cpus_plan_make("off", "auto", 0, &p, &e));
    assert_true(p.off);
    assert_true(cpus_place(&p, &e)); /* nothing to do */
    cpus_describe(&p, out, sizeof(out));
    assert_non_null(strstr(out, "off"));
    snprintf(list, sizeof(list), "%d", a[0]);
    assert_true(cpus_plan_make(list, list, 0, &p, &e));
    assert_int_equal(p.num_shard, 1);
    assert_true(p.low_priority); /* the work cores include the shard's */
    if (n >= 2) {
        char other[16];
        snprintf(other, sizeof(other), "%d", a[1]);
        assert_true(cpus_plan_make(other, list, 0, &p, &e));
        assert_int_equal(p.shard[0], a[1]);
        assert_false(p.low_priority);
        cpus_describe(&p, out, sizeof(out));
        snprintf(want, sizeof(want), "shards on cores %d; signing, CRLs, index on cores %d", a[1], a[0]);
        assert_string_equal(out, want);
    }
    /* A core this process may not use: refused, naming the setting and the core. */
    int missing = -1;
    for (int c = 0, i = 0; c < CPUS_MAX && missing < 0; c++) {
        if (i < n && a[i] == c) i++;
        else missing = c;
    }
    if (missing < 0) skip();
    snprintf(list, sizeof(list), "%d", missing);
    assert_false(cpus_plan_make(list, "auto", 0, &p, &e));
    snprintf(want, sizeof(want), "--shard-cpus '%d': core %d is not one this process may use", missing, missing);
    assert_non_null(strstr(e.msg, want));
    assert_false(cpus_plan_make("auto", list, 0, &p, &e));
    assert_non_null(strstr(e.msg, "--work-cpus"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpus_check_accepts),
        cmocka_unit_test(test_cpus_check_refuses),
        cmocka_unit_test(test_cpus_plan_auto),
        cmocka_unit_test(test_cpus_plan_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
