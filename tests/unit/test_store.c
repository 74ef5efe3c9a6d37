/* Unit tests of ca/store: the revocation index on a real RocksDB in a
 * throwaway directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca/store.h"

extern char **environ;

/* Set in the environment of a child that only tries to open the store, or
 * only walks an iterator past its end. */
#define CHILD_OPEN "REVD_TEST_STORE_OPEN"
#define CHILD_ITER_END "REVD_TEST_STORE_ITER_END"

struct fixture {
    char dir[64];
    char path[128];
    struct store *st;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    return remove(p);
}

static int setup(void **state) {
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    strcpy(f->dir, "/tmp/revd-test-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    snprintf(f->path, sizeof(f->path), "%s/index", f->dir);
    struct rerr e = {{0}};
    if (!store_open(f->path, 1, &f->st, &e)) {
        fprintf(stderr, "store_open: %s\n", e.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    struct fixture *f = *state;
    store_free(f->st);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void put1(struct store *st, const void *k, size_t kl, const void *v, size_t vl) {
    struct store_batch *b = store_batch_new();
    store_batch_put(b, k, kl, v, vl);
    struct rerr e = {{0}};
    if (!store_write(st, b, 1, &e)) fail_msg("store_write: %s", e.msg);
    store_batch_free(b);
}

/* Asserts that key holds exactly want (want NULL: absent). */
static void value_is(struct store *st, const void *k, size_t kl, const void *want, size_t want_len) {
    uint8_t *v = NULL;
    size_t vl = 0;
    struct rerr e = {{0}};
    int r = store_get(st, k, kl, &v, &vl, &e);
    if (want == NULL) {
        assert_int_equal(r, 0);
        return;
    }
    assert_int_equal(r, 1);
    assert_non_null(v);
    assert_int_equal(vl, want_len);
    assert_memory_equal(v, want, want_len);
    free(v);
}

static void test_put_get_absent(void **state) {
    struct fixture *f = *state;
    value_is(f->st, "k1", 2, NULL, 0);
    put1(f->st, "k1", 2, "value-1", 7);
    value_is(f->st, "k1", 2, "value-1", 7);
    /* Keys are bytes: a prefix, a longer key, a NUL inside are other keys. */
    value_is(f->st, "k", 1, NULL, 0);
    value_is(f->st, "k1\0", 3, NULL, 0);
    value_is(f->st, "K1", 2, NULL, 0);
    static const uint8_t bk[] = {0x00, 0xff, 0x00};
    static const uint8_t bv[] = {0x01, 0x00, 0x02, 0x00};
    put1(f->st, bk, sizeof(bk), bv, sizeof(bv));
    value_is(f->st, bk, sizeof(bk), bv, sizeof(bv));
    /* Overwrite. */
    put1(f->st, "k1", 2, "v2", 2);
    value_is(f->st, "k1", 2, "v2", 2);
    /* A large value. */
    size_t big_len = 1 << 20;
    uint8_t *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++) big[i] = (uint8_t)(i * 7 + 3);
    put1(f->st, "big", 3, big, big_len);
    value_is(f->st, "big", 3, big, big_len);
    free(big);
}

static void test_batch(void **state) {
    struct fixture *f = *state;
    struct rerr e = {{0}};
    put1(f->st, "gone", 4, "x", 1);
    struct store_batch *b = store_batch_new();
    assert_int_equal(store_batch_count(b), 0);
    store_batch_put(b, "a", 1, "1", 1);
    store_batch_put(b, "b", 1, "2", 1);
    store_batch_put(b, "c", 1, "3", 1);
    store_batch_delete(b, "gone", 4);
    store_batch_put(b, "a", 1, "1bis", 4); /* the later put wins */
    store_batch_put(b, "d", 1, "4", 1);
    store_batch_delete(b, "d", 1); /* put then delete: absent */
    assert_int_equal(store_batch_count(b), 7);
    /* Nothing is visible before the write. */
    value_is(f->st, "a", 1, NULL, 0);
    value_is(f->st, "b", 1, NULL, 0);
    value_is(f->st, "gone", 4, "x", 1);
    assert_true(store_write(f->st, b, 0, &e));
    /* All of it after. */
    value_is(f->st, "a", 1, "1bis", 4);
    value_is(f->st, "b", 1, "2", 1);
    value_is(f->st, "c", 1, "3", 1);
    value_is(f->st, "d", 1, NULL, 0);
    value_is(f->st, "gone", 4, NULL, 0);
    /* A cleared batch writes nothing. */
    store_batch_clear(b);
    assert_int_equal(store_batch_count(b), 0);
    store_batch_put(b, "e", 1, "5", 1);
    store_batch_clear(b);
    assert_true(store_write(f->st, b, 1, &e));
    value_is(f->st, "e", 1, NULL, 0);
    /* A batch can be reused after a clear. */
    store_batch_put(b, "e", 1, "5", 1);
    assert_int_equal(store_batch_count(b), 1);
    assert_true(store_write(f->st, b, 1, &e));
    value_is(f->st, "e", 1, "5", 1);
    store_batch_free(b);
    store_batch_free(NULL);
}

static void test_delete(void **state) {
    struct fixture *f = *state;
    struct rerr e = {{0}};
    put1(f->st, "del", 3, "here", 4);
    put1(f->st, "delx", 4, "stays", 5);
    value_is(f->st, "del", 3, "here", 4);
    struct store_batch *b = store_batch_new();
    store_batch_delete(b, "del", 3);
    store_batch_delete(b, "never-was", 9); /* deleting an absent key is fine */
    assert_true(store_write(f->st, b, 1, &e));
    store_batch_free(b);
    value_is(f->st, "del", 3, NULL, 0);
    value_is(f->st, "delx", 4, "stays", 5);
    value_is(f->st, "never-was", 9, NULL, 0);
}

struct kv {
    uint8_t k[8];
    size_t kl;
};

static void write_keys(struct store *st, const struct kv *keys, size_t n) {
    struct store_batch *b = store_batch_new();
    for (size_t i = 0; i < n; i++) {
        uint8_t v[2] = {(uint8_t)i, 0xee};
        store_batch_put(b, keys[i].k, keys[i].kl, v, sizeof(v));
    }
    struct rerr e = {{0}};
    assert_true(store_write(st, b, 1, &e));
    store_batch_free(b);
}

/* Runs an iterator and checks it yields exactly want[0..num_want), in order,
 * each with the value write_keys gave it (its index in all). */
static void iter_yields(struct store *st, const uint8_t *prefix, size_t pl, const uint8_t *start,
                        size_t sl, const struct kv *all, const size_t *want, size_t num_want) {
    struct store_iter *it = store_iter_new(st, prefix, pl, start, sl);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (n >= num_want) fail_msg("the iterator yields more than %zu keys", num_want);
        const struct kv *w = &all[want[n]];
        assert_int_equal(kl, w->kl);
        assert_memory_equal(k, w->k, kl);
        assert_int_equal(vl, 2);
        assert_int_equal(v[0], want[n]);
        assert_int_equal(v[1], 0xee);
        n++;
    }
    assert_int_equal(n, num_want);
    store_iter_free(it);
}

static void test_prefix_iteration(void **state) {
    struct fixture *f = *state;
    /* Written out of order; keys just outside the prefix on both sides. */
    static const struct kv keys[] = {
        /* 0 */ {{0x10, 0x20, 0x01}, 3},
        /* 1 */ {{0x10, 0x1f, 0xff, 0xff}, 4},  /* just before */
        /* 2 */ {{0x10, 0x20}, 2},              /* the prefix itself */
        /* 3 */ {{0x10, 0x21}, 2},              /* just after */
        /* 4 */ {{0x10, 0x20, 0xff, 0xff}, 4},
        /* 5 */ {{0x10, 0x20, 0x00}, 3},
        /* 6 */ {{0x10, 0x21, 0x00}, 3},
        /* 7 */ {{0x10}, 1},
        /* 8 */ {{0x10, 0x20, 0x01, 0x00}, 4},
        /* 9 */ {{0x0f, 0xff}, 2},
        /* 10 */ {{0x11}, 1},
    };
    write_keys(f->st, keys, sizeof(keys) / sizeof(keys[0]));
    static const uint8_t p1020[] = {0x10, 0x20};
    /* Byte order: shorter first, then by byte. */
    static const size_t want[] = {2, 5, 0, 8, 4};
    iter_yields(f->st, p1020, 2, NULL, 0, keys, want, 5);
    /* From prefix+start. */
    static const uint8_t s01[] = {0x01};
    static const size_t want_from01[] = {0, 8, 4};
    iter_yields(f->st, p1020, 2, s01, 1, keys, want_from01, 3);
    static const uint8_t s02[] = {0x02};
    static const size_t want_from02[] = {4};
    iter_yields(f->st, p1020, 2, s02, 1, keys, want_from02, 1);
    static const uint8_t sff[] = {0xff, 0xff, 0x00};
    iter_yields(f->st, p1020, 2, sff, 3, keys, NULL, 0);
    /* A one-byte prefix takes everything that starts with it. */
    static const uint8_t p10[] = {0x10};
    static const size_t want10[] = {7, 1, 2, 5, 0, 8, 4, 3, 6};
    iter_yields(f->st, p10, 1, NULL, 0, keys, want10, 9);
    /* A prefix nothing has, between keys. */
    static const uint8_t p1030[] = {0x10, 0x30};
    iter_yields(f->st, p1030, 2, NULL, 0, keys, NULL, 0);
    /* Past every key. */
    static const uint8_t p20[] = {0x20};
    iter_yields(f->st, p20, 1, NULL, 0, keys, NULL, 0);
}

static void last_is(struct store *st, const uint8_t *prefix, size_t pl, const uint8_t *want, size_t wl) {
    struct store_iter *it = store_iter_new(st, prefix, pl, NULL, 0);
    const uint8_t *k;
    size_t kl;
    int r = store_iter_last(it, &k, &kl);
    if (want == NULL) {
        assert_int_equal(r, 0);
    } else {
        assert_int_equal(r, 1);
        assert_int_equal(kl, wl);
        assert_memory_equal(k, want, wl);
    }
    store_iter_free(it);
}

static void test_iter_last(void **state) {
    struct fixture *f = *state;
    static const struct kv keys[] = {
        {{0x10, 0x20, 0x01}, 3},
        {{0x10, 0x20, 0xff, 0xff}, 4},
        {{0x10, 0x21}, 2}, /* exactly prefix+1: must be skipped */
        {{0x10, 0x21, 0x00}, 3},
        {{0x10, 0xff, 0x00}, 3},
        {{0x10, 0xff, 0xff}, 3},
        {{0x11}, 1},
        {{0x30, 0x00}, 2},
        {{0xff, 0xff, 0x01}, 3},
        {{0xff, 0xff, 0x02}, 3},
    };
    write_keys(f->st, keys, sizeof(keys) / sizeof(keys[0]));
    last_is(f->st, (const uint8_t[]){0x10, 0x20}, 2, (const uint8_t[]){0x10, 0x20, 0xff, 0xff}, 4);
    last_is(f->st, (const uint8_t[]){0x10, 0x21}, 2, (const uint8_t[]){0x10, 0x21, 0x00}, 3);
    /* A prefix ending in 0xff: the next prefix is one byte shorter. */
    last_is(f->st, (const uint8_t[]){0x10, 0xff}, 2, (const uint8_t[]){0x10, 0xff, 0xff}, 3);
    last_is(f->st, (const uint8_t[]){0x10}, 1, (const uint8_t[]){0x10, 0xff, 0xff}, 3);
    /* All 0xff: the last key of the store. */
    last_is(f->st, (const uint8_t[]){0xff, 0xff}, 2, (const uint8_t[]){0xff, 0xff, 0x02}, 3);
    /* Nothing with the prefix: keys before it, after it, or both. */
    last_is(f->st, (const uint8_t[]){0x20}, 1, NULL, 0);
    last_is(f->st, (const uint8_t[]){0x05}, 1, NULL, 0);
    last_is(f->st, (const uint8_t[]){0x30, 0x01}, 2, NULL, 0);
    last_is(f->st, (const uint8_t[]){0xff, 0xfe}, 2, NULL, 0);
}

static void test_iter_last_empty_store(void **state) {
    struct fixture *f = *state;
    last_is(f->st, (const uint8_t[]){'o'}, 1, NULL, 0);
    last_is(f->st, (const uint8_t[]){0xff}, 1, NULL, 0);
    iter_yields(f->st, (const uint8_t[]){'o'}, 1, NULL, 0, NULL, NULL, 0);
}

static void test_reopen(void **state) {
    struct fixture *f = *state;
    struct rerr e = {{0}};
    put1(f->st, "persist", 7, "yes", 3);
    struct store_batch *b = store_batch_new();
    for (int i = 0; i < 100; i++) {
        uint8_t k[3] = {'n', (uint8_t)(i >> 8), (uint8_t)i};
        store_batch_put(b, k, 3, &i, sizeof(i));
    }
    store_batch_delete(b, "persist", 7);
    store_batch_put(b, "persist", 7, "again", 5);
    assert_true(store_write(f->st, b, 1, &e));
    store_batch_free(b);
    store_free(f->st);
    f->st = NULL;
    /* create=0 opens what exists. */
    if (!store_open(f->path, 0, &f->st, &e)) fail_msg("reopen: %s", e.msg);
    value_is(f->st, "persist", 7, "again", 5);
    struct store_iter *it = store_iter_new(f->st, "n", 1, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int n = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        assert_int_equal(kl, 3);
        assert_int_equal(vl, sizeof(int));
        int val;
        memcpy(&val, v, sizeof(val));
        assert_int_equal(val, n);
        assert_int_equal((k[1] << 8) | k[2], n);
        n++;
    }
    store_iter_free(it);
    assert_int_equal(n, 100);
}

/* Bulk loading: sorted SST files ingested in one step; what they hold
 * replaces what the index had under the same keys (the import relies on it
 * for the CA record). */
static void test_sst_ingest(void **state) {
    struct fixture *f = *state;
    struct rerr e = {{0}};
    put1(f->st, "s2", 2, "old", 3);
    put1(f->st, "s9", 2, "kept", 4);
    char p1[256], p2[256];
    snprintf(p1, sizeof(p1), "%s/one.sst", f->dir);
    snprintf(p2, sizeof(p2), "%s/two.sst", f->dir);
    struct store_sst *w = NULL;
    if (!store_sst_open(f->st, p1, &w, &e)) fail_msg("store_sst_open: %s", e.msg);
    assert_true(store_sst_put(w, "s1", 2, "v1", 2, &e));
    assert_true(store_sst_put(w, "s2", 2, "new", 3, &e));
    assert_true(store_sst_put(w, "s3", 2, "v3", 2, &e));
    /* Out of order, or the same key again: refused. */
    e.msg[0] = '\0';
    assert_false(store_sst_put(w, "s0", 2, "v0", 2, &e));
    assert_true(e.msg[0] != '\0');
    assert_false(store_sst_put(w, "s3", 2, "again", 5, &e));
    assert_true(store_sst_finish(w, &e));
    store_sst_free(w);
    w = NULL;
    if (!store_sst_open(f->st, p2, &w, &e)) fail_msg("store_sst_open: %s", e.msg);
    assert_true(store_sst_put(w, "t1", 2, "w1", 2, &e));
    assert_true(store_sst_finish(w, &e));
    store_sst_free(w);
    /* Nothing shows before the ingest. */
    value_is(f->st, "s1", 2, NULL, 0);
    value_is(f->st, "s2", 2, "old", 3);
    const char *const paths[] = {p1, p2};
    if (!store_ingest(f->st, paths, 2, &e)) fail_msg("store_ingest: %s", e.msg);
    value_is(f->st, "s0", 2, NULL, 0);
    value_is(f->st, "s1", 2, "v1", 2);
    value_is(f->st, "s2", 2, "new", 3);
    value_is(f->st, "s3", 2, "v3", 2);
    value_is(f->st, "s9", 2, "kept", 4);
    value_is(f->st, "t1", 2, "w1", 2);
    /* And it lasts. */
    store_free(f->st);
    f->st = NULL;
    if (!store_open(f->path, 0, &f->st, &e)) fail_msg("reopen: %s", e.msg);
    value_is(f->st, "s2", 2, "new", 3);
    value_is(f->st, "t1", 2, "w1", 2);
    /* A file that is not there: an error, and nothing changes. */
    snprintf(p1, sizeof(p1), "%s/none.sst", f->dir);
    const char *const missing[] = {p1};
    e.msg[0] = '\0';
    assert_false(store_ingest(f->st, missing, 1, &e));
    assert_true(e.msg[0] != '\0');
    value_is(f->st, "s1", 2, "v1", 2);
}

static void test_open_missing(void **state) {
    struct fixture *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/not-there", f->dir);
    struct store *st = NULL;
    struct rerr e = {{0}};
    assert_false(store_open(path, 0, &st, &e));
    assert_null(st);
    assert_non_null(strstr(e.msg, path));
    assert_non_null(strstr(e.msg, "cannot open"));
}

/* The same process opening the directory twice. */
static void test_second_open_same_process(void **state) {
    struct fixture *f = *state;
    struct store *st = NULL;
    struct rerr e = {{0}};
    assert_false(store_open(f->path, 1, &st, &e));
    assert_null(st);
    if (strstr(e.msg, "in use") == NULL) fail_msg("the second open said: %s", e.msg);
    /* The first one still works. */
    put1(f->st, "still", 5, "ok", 2);
    value_is(f->st, "still", 5, "ok", 2);
}

/* Runs this test binary again with NAME=value in its environment; the child
 * does one thing (see main) and exits. Returns its wait status; its standard
 * output goes to out. */
static int spawn_self(const char *name, const char *value, char *out, size_t out_size) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char envvar[256];
    snprintf(envvar, sizeof(envvar), "%s=%s", name, value);
    size_t n = 0;
    while (environ[n] != NULL) n++;
    char **env = calloc(n + 2, sizeof(char *));
    assert_non_null(env);
    for (size_t i = 0; i < n; i++) env[i] = environ[i];
    env[n] = envvar;
    char *argv[] = {(char *)"test_store", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    assert_int_equal(r, 0);
    size_t got = 0;
    ssize_t m;
    while (got < out_size - 1 && (m = read(fds[0], out + got, out_size - 1 - got)) > 0) got += (size_t)m;
    out[got] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Another process opening the directory: this binary again. */
static void test_second_open_other_process(void **state) {
    struct fixture *f = *state;
    char out[1024];
    int status = spawn_self(CHILD_OPEN, f->path, out, sizeof(out));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 3) fail_msg("the other process: exit %d, said: %s", WEXITSTATUS(status), out);
    if (strstr(out, "in use") == NULL) fail_msg("the other process said: %s", out);
}

static int child_open(const char *path) {
    struct store *st = NULL;
    struct rerr e = {{0}};
    if (store_open(path, 1, &st, &e)) {
        printf("opened\n");
        store_free(st);
        return 0;
    }
    printf("%s\n", e.msg);
    return 3;
}

/* store_iter_next at its end keeps answering 0 when asked again, also when
 * the iterator ran off the end of the whole index. Run in a child: a crash
 * there is a failure here, not the end of this binary. */
static void test_iter_next_after_end(void **state) {
    struct fixture *f = *state;
    /* The child opens its own index beside ours. */
    char path[256], out[1024];
    snprintf(path, sizeof(path), "%s/other", f->dir);
    int status = spawn_self(CHILD_ITER_END, path, out, sizeof(out));
    if (WIFSIGNALED(status)) fail_msg("the child died of signal %d (%s)", WTERMSIG(status), out);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) fail_msg("the child: exit %d: %s", WEXITSTATUS(status), out);
}

static int child_iter_end(const char *path) {
    struct store *st = NULL;
    struct rerr e = {{0}};
    if (!store_open(path, 1, &st, &e)) {
        printf("open: %s\n", e.msg);
        return 1;
    }
    struct store_batch *b = store_batch_new();
    store_batch_put(b, "a1", 2, "v", 1);
    store_batch_put(b, "a2", 2, "v", 1);
    if (!store_write(st, b, 1, &e)) return 1;
    store_batch_free(b);
    int bad = 0;
    /* 'a': two keys, then the end of the index. 'b': nothing at all. */
    const char *prefixes[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        struct store_iter *it = store_iter_new(st, prefixes[i], 1, NULL, 0);
        const uint8_t *k, *v;
        size_t kl, vl;
        int n = 0;
        while (store_iter_next(it, &k, &kl, &v, &vl)) n++;
        printf("prefix %s: %d keys; asking again\n", prefixes[i], n);
        fflush(stdout);
        if (store_iter_next(it, &k, &kl, &v, &vl)) bad = 1;
        if (store_iter_next(it, &k, &kl, &v, &vl)) bad = 1;
        store_iter_free(it);
    }
    store_free(st);
    return bad ? 2 : 0;
}

int main(void) {
    const char *child = getenv(CHILD_OPEN);
    if (child != NULL) return child_open(child);
    child = getenv(CHILD_ITER_END);
    if (child != NULL) return child_iter_end(child);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_last_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iter_next_after_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sst_ingest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_same_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_other_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
