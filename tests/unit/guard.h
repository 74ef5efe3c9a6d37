/* guard: test buffers that end right before a PROT_NONE page, so that a
 * parser or writer that touches one byte past its length crashes at once
 * (after picohttpparser's tests). For the unit tests only (cmocka). */
#ifndef REVD_TESTS_GUARD_H
#define REVD_TESTS_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct guard {
    uint8_t *map;
    size_t map_len;
    uint8_t *p; /* p[len] is the first byte of the PROT_NONE page */
    size_t len;
};

/* guard_alloc maps len writable bytes ending right before the page. */
static inline void guard_alloc(struct guard *g, size_t len) {
    long ps = sysconf(_SC_PAGESIZE);
    assert_true(ps > 0);
    size_t page = (size_t)ps;
    size_t data_pages = (len + page - 1) / page;
    if (data_pages == 0) data_pages = 1;
    g->map_len = (data_pages + 1) * page;
    void *m = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    g->map = m;
    assert_int_equal(mprotect(g->map + data_pages * page, page, PROT_NONE), 0);
    g->p = g->map + data_pages * page - len;
    g->len = len;
}

/* guard_init is guard_alloc holding a copy of src[0..len). */
static inline void guard_init(struct guard *g, const uint8_t *src, size_t len) {
    guard_alloc(g, len);
    if (len > 0) memcpy(g->p, src, len);
}

static inline void guard_free(struct guard *g) { assert_int_equal(munmap(g->map, g->map_len), 0); }

static inline void guard_segv_exit_(int sig) { _exit(42); }

/* guard_check_faults: reading the byte after a guarded buffer faults (run
 * in a child, so the test binary lives on). */
static inline void guard_check_faults(void) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = guard_segv_exit_;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        struct guard g;
        guard_alloc(&g, 5);
        memcpy(g.p, "MQ==", 4);
        volatile uint8_t *p = g.p;
        (void)p[4];
        (void)p[5]; /* faults */
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true((WIFEXITED(st) && WEXITSTATUS(st) == 42) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV));
}

#endif
