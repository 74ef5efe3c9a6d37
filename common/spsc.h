/* spsc: a bounded single-producer single-consumer ring of pointers, for the
 * messages between a shard and the signing lane (ocsp/job.h). Lock-free and
 * allocation-free after spsc_init: one thread pushes, one other thread pops.
 * Header-only. */
#ifndef REVD_COMMON_SPSC_H
#define REVD_COMMON_SPSC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

struct spsc {
    _Alignas(64) _Atomic size_t head; /* next slot to pop (consumer's) */
    _Alignas(64) _Atomic size_t tail; /* next slot to push (producer's) */
    _Alignas(64) size_t mask;
    void **slots;
};

/* spsc_init makes room for cap entries (a power of two). Returns 1, or 0 on
 * out of memory. */
static inline int spsc_init(struct spsc *r, size_t cap) {
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->mask = cap - 1;
    r->slots = calloc(cap, sizeof(void *));
    return r->slots != NULL;
}

static inline void spsc_free(struct spsc *r) {
    free(r->slots);
    r->slots = NULL;
}

/* spsc_push: the producer's side. Returns 0 when the ring is full. */
static inline int spsc_push(struct spsc *r, void *p) {
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - atomic_load_explicit(&r->head, memory_order_acquire) > r->mask) return 0;
    r->slots[t & r->mask] = p;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return 1;
}

/* spsc_pop: the consumer's side. NULL when the ring is empty. */
static inline void *spsc_pop(struct spsc *r) {
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == atomic_load_explicit(&r->tail, memory_order_acquire)) return NULL;
    void *p = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return p;
}

#endif
