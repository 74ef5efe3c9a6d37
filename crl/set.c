#include "crl/set.h"

#include <stdlib.h>
#include <string.h>

#include "common/etag.h"

struct crl_set {
    int refs;
    size_t num, mask;
    struct crl_blob **blobs; /* num of them */
    uint32_t *slots;         /* open addressing: index + 1 into blobs; 0 empty */
};

static uint64_t path_hash(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

struct crl_blob *crl_blob_new(const char *path, const uint8_t *der, size_t len, uint64_t number, int64_t this_update,
                              int64_t next_update, int64_t refresh_at) {
    if (strlen(path) >= sizeof(((struct crl_blob *)0)->path)) return NULL;
    struct crl_blob *b = malloc(sizeof(*b) + len);
    if (b == NULL) return NULL;
    atomic_init(&b->refs, 1);
    strcpy(b->path, path);
    b->number = number;
    b->this_update = this_update;
    b->next_update = next_update;
    b->refresh_at = refresh_at;
    b->len = len;
    memcpy(b->der, der, len);
    if (!etag_of(der, len, b->etag)) {
        free(b);
        return NULL;
    }
    return b;
}

struct crl_blob *crl_blob_ref(struct crl_blob *b) {
    if (b != NULL) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void crl_blob_put(struct crl_blob *b) {
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

struct crl_blob *crl_set_find(const struct crl_set *s, const char *path, size_t len) {
    if (s == NULL || s->num == 0) return NULL;
    for (size_t i = (size_t)path_hash(path, len) & s->mask; s->slots[i] != 0; i = (i + 1) & s->mask) {
        struct crl_blob *b = s->blobs[s->slots[i] - 1];
        if (strlen(b->path) == len && memcmp(b->path, path, len) == 0) return b;
    }
    return NULL;
}

struct crl_set *crl_set_with(const struct crl_set *old, struct crl_blob *const *add, size_t n) {
    size_t cap = (old ? old->num : 0) + n;
    struct crl_set *s = calloc(1, sizeof(*s));
    size_t slots = 16;
    while (slots < 2 * cap) slots <<= 1;
    if (s == NULL || (s->blobs = calloc(cap + 1, sizeof(*s->blobs))) == NULL ||
        (s->slots = calloc(slots, sizeof(uint32_t))) == NULL) {
        if (s) free(s->blobs);
        free(s);
        return NULL;
    }
    s->refs = 1;
    s->mask = slots - 1;
    for (size_t k = 0; k < (old ? old->num : 0) + n; k++) {
        struct crl_blob *b = k < (old ? old->num : 0) ? old->blobs[k] : add[k - (old ? old->num : 0)];
        size_t len = strlen(b->path);
        size_t i = (size_t)path_hash(b->path, len) & s->mask;
        for (; s->slots[i] != 0; i = (i + 1) & s->mask) {
            struct crl_blob *o = s->blobs[s->slots[i] - 1];
            if (strcmp(o->path, b->path) == 0) break;
        }
        if (s->slots[i] != 0) { /* the same path: the newer replaces it */
            crl_blob_put(s->blobs[s->slots[i] - 1]);
            s->blobs[s->slots[i] - 1] = crl_blob_ref(b);
            continue;
        }
        s->blobs[s->num] = crl_blob_ref(b);
        s->slots[i] = (uint32_t)(++s->num);
    }
    return s;
}

size_t crl_set_count(const struct crl_set *s) { return s ? s->num : 0; }
struct crl_blob *crl_set_at(const struct crl_set *s, size_t i) { return s->blobs[i]; }

struct crl_set *crl_set_ref(struct crl_set *s) {
    if (s != NULL) s->refs++;
    return s;
}

void crl_set_free(struct crl_set *s) {
    if (s == NULL || --s->refs > 0) return;
    for (size_t i = 0; i < s->num; i++) crl_blob_put(s->blobs[i]);
    free(s->blobs);
    free(s->slots);
    free(s);
}
