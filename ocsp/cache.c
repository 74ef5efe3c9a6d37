/* cache: a shard's cache of stored responses (ocsp/cache.h). */
#include "ocsp/cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    uint32_t uid;
    uint8_t h, serial_len, stripped, pad;
    uint16_t der_len;
    uint8_t serial[21];
    int64_t this_update, next_update;
    char etag[ETAG_LEN + 1];
    uint8_t der[CACHE_DER_MAX];
};
_Static_assert(sizeof(struct slot) <= CACHE_SLOT, "a slot fits CACHE_SLOT");

/* A set: its tags (0: empty) and CLOCK bits in one line, then its slots. */
struct set {
    uint32_t tag[CACHE_WAYS];
    uint8_t ref[CACHE_WAYS];
    uint8_t hand;
    struct slot slot[CACHE_WAYS];
};

struct ocsp_cache {
    struct set *sets;
    size_t num_sets;
    _Atomic uint64_t hits, misses, inserts, evictions;
};

static uint64_t key_hash(uint32_t uid, int h, const uint8_t *s, size_t n) {
    uint64_t x = 0xcbf29ce484222325ULL ^ ((uint64_t)uid << 8 | (uint64_t)h << 5 | n);
    for (size_t i = 0; i < n; i++) x = (x ^ s[i]) * 0x100000001b3ULL;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ULL;
    return x ^ (x >> 32);
}

static void bump(_Atomic uint64_t *x) {
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1, memory_order_relaxed);
}

struct ocsp_cache *ocsp_cache_new(size_t bytes) {
    size_t n = bytes / sizeof(struct set);
    if (n == 0) return NULL;
    struct ocsp_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    /* calloc: untouched sets stay unmapped zero pages until used. */
    if ((c->sets = calloc(n, sizeof(struct set))) == NULL) {
        free(c);
        return NULL;
    }
    c->num_sets = n;
    return c;
}

void ocsp_cache_free(struct ocsp_cache *c) {
    if (c == NULL) return;
    free(c->sets);
    free(c);
}

static int slot_is(const struct slot *sl, uint32_t uid, int h, const uint8_t *serial, size_t n) {
    return sl->uid == uid && sl->h == h && sl->serial_len == n && memcmp(sl->serial, serial, n) == 0;
}

int ocsp_cache_get(struct ocsp_cache *c, uint32_t uid, int h, const uint8_t *serial, size_t serial_len,
                   struct ocsp_cache_hit *out) {
    if (c == NULL) return 0;
    uint64_t k = key_hash(uid, h, serial, serial_len);
    struct set *s = &c->sets[k % c->num_sets];
    uint32_t tag = (uint32_t)(k >> 32) | 1;
    for (int w = 0; w < CACHE_WAYS; w++) {
        if (s->tag[w] != tag || !slot_is(&s->slot[w], uid, h, serial, serial_len)) continue;
        const struct slot *sl = &s->slot[w];
        s->ref[w] = 1;
        out->der = sl->der;
        out->der_len = sl->der_len;
        out->stripped = sl->stripped;
        out->etag = sl->etag;
        out->this_update = sl->this_update;
        out->next_update = sl->next_update;
        bump(&c->hits);
        return 1;
    }
    bump(&c->misses);
    return 0;
}

void ocsp_cache_put(struct ocsp_cache *c, uint32_t uid, int h, const uint8_t *serial, size_t serial_len,
                    const uint8_t *der, size_t der_len, int stripped, const char *etag, int64_t this_update,
                    int64_t next_update) {
    if (c == NULL || der_len > CACHE_DER_MAX || serial_len == 0 || serial_len > 21) return;
    uint64_t k = key_hash(uid, h, serial, serial_len);
    struct set *s = &c->sets[k % c->num_sets];
    uint32_t tag = (uint32_t)(k >> 32) | 1;
    int w = -1;
    for (int i = 0; i < CACHE_WAYS && w < 0; i++)
        if (s->tag[i] == 0 || (s->tag[i] == tag && slot_is(&s->slot[i], uid, h, serial, serial_len))) w = i;
    if (w < 0) { /* CLOCK: the first slot not hit since the hand passed */
        while (s->ref[s->hand]) {
            s->ref[s->hand] = 0;
            s->hand = (uint8_t)((s->hand + 1) % CACHE_WAYS);
        }
        w = s->hand;
        s->hand = (uint8_t)((s->hand + 1) % CACHE_WAYS);
        bump(&c->evictions);
    }
    struct slot *sl = &s->slot[w];
    s->tag[w] = tag;
    s->ref[w] = 0;
    sl->uid = uid;
    sl->h = (uint8_t)h;
    sl->serial_len = (uint8_t)serial_len;
    memcpy(sl->serial, serial, serial_len);
    sl->stripped = (uint8_t)(stripped != 0);
    sl->der_len = (uint16_t)der_len;
    memcpy(sl->der, der, der_len);
    memcpy(sl->etag, etag, ETAG_LEN + 1);
    sl->this_update = this_update;
    sl->next_update = next_update;
    bump(&c->inserts);
}

void ocsp_cache_stats(const struct ocsp_cache *c, struct ocsp_cache_stats *out) {
    if (c == NULL) return;
    out->hits += atomic_load_explicit(&c->hits, memory_order_relaxed);
    out->misses += atomic_load_explicit(&c->misses, memory_order_relaxed);
    out->inserts += atomic_load_explicit(&c->inserts, memory_order_relaxed);
    out->evictions += atomic_load_explicit(&c->evictions, memory_order_relaxed);
}

size_t ocsp_cache_bytes(const struct ocsp_cache *c) { return c == NULL ? 0 : c->num_sets * sizeof(struct set); }
