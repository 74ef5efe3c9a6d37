/* guard: test buffers that end right before a PROT_NONE page, so that a
 * parser or writer that touches one byte past its length crashes at once
 * (after picohttpparser's tests). For the unit tests only (cmocka). */
#ifndef REVD_TESTS_GUARD_H
#define REVD_TESTS_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
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

#endif
