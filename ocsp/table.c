#include "ocsp/table.h"

#include <stdlib.h>
#include <string.h>

#include "common/etag.h"

/* Arena record: u8 serial_len, serial, i64 thisUpdate, i64 nextUpdate,
 * then per hash: u32 length, the ETag (64 hex digits and a NUL), the DER. */
#define ETAG_SPACE (ETAG_LEN + 1)
struct slot {
    uint64_t fp;  /* fingerprint of the serial; 0: empty */
    uint64_t off; /* offset of the record in the arena */
};

struct ocsp_table_builder {
    int64_t this_update, next_update;
    uint8_t *arena;
    size_t len, cap;
    struct slot *slots;
    size_t mask, num;
};

struct ocsp_table {
    int refs;
    uint8_t *arena;
    size_t len;
    struct slot *slots;
    size_t mask, num;
};

static uint64_t fingerprint(const uint8_t *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    h ^= h >> 31;
    return h ? h : 1; /* 0 marks an empty slot */
}

static size_t slots_for(size_t num) {
    size_t n = 16;
    while (n < 2 * num) n <<= 1;
    return n;
}

struct ocsp_table_builder *ocsp_table_builder_new(size_t num) {
    struct ocsp_table_builder *b = calloc(1, sizeof(*b));
    if (b == NULL) return NULL;
    size_t n = slots_for(num);
    b->slots = calloc(n, sizeof(struct slot));
    b->cap = num * 1024 + 4096;
    b->arena = malloc(b->cap);
    if (b->slots == NULL || b->arena == NULL) {
        ocsp_table_builder_free(b);
        return NULL;
    }
    b->mask = n - 1;
    return b;
}

void ocsp_table_builder_free(struct ocsp_table_builder *b) {
    if (b == NULL) return;
    free(b->arena);
    free(b->slots);
    free(b);
}

static const uint8_t *record_serial(const uint8_t *arena, uint64_t off, size_t *len) {
    *len = arena[off];
    return arena + off + 1;
}

/* The slot holding serial, or the empty slot where it would go. */
static size_t probe(const struct slot *slots, size_t mask, const uint8_t *arena, const uint8_t *serial,
                    size_t serial_len, uint64_t fp) {
    size_t i = (size_t)fp & mask;
    for (; slots[i].fp != 0; i = (i + 1) & mask) {
        if (slots[i].fp != fp) continue;
        size_t l;
        const uint8_t *s = record_serial(arena, slots[i].off, &l);
        if (l == serial_len && memcmp(s, serial, l) == 0) break;
    }
    return i;
}

static int grow_slots(struct ocsp_table_builder *b) {
    size_t n = (b->mask + 1) * 2;
    struct slot *s = calloc(n, sizeof(struct slot));
    if (s == NULL) return 0;
    for (size_t i = 0; i <= b->mask; i++) {
        if (b->slots[i].fp == 0) continue;
        size_t j = (size_t)b->slots[i].fp & (n - 1);
        while (s[j].fp != 0) j = (j + 1) & (n - 1);
        s[j] = b->slots[i];
    }
    free(b->slots);
    b->slots = s;
    b->mask = n - 1;
    return 1;
}

/* add_record adds a record; etags: the ETags of der (copied from a table)
 * or NULL (computed here). */
static int add_record(struct ocsp_table_builder *b, const uint8_t *serial, size_t serial_len,
                      const uint8_t *const der[OCSP_TABLE_HASHES], const size_t der_len[OCSP_TABLE_HASHES],
                      const uint8_t *const etags[OCSP_TABLE_HASHES], struct rerr *e) {
    if (serial_len == 0 || serial_len > 21) return rerr_set(e, "serial of %zu octets", serial_len);
    size_t need = 1 + serial_len + 16;
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        if (der_len[h] > UINT32_MAX) return rerr_set(e, "response too large");
        need += 4 + ETAG_SPACE + der_len[h];
    }
    if (2 * (b->num + 1) > b->mask + 1 && !grow_slots(b)) return rerr_set(e, "out of memory");
    uint64_t fp = fingerprint(serial, serial_len);
    size_t i = probe(b->slots, b->mask, b->arena, serial, serial_len, fp);
    if (b->slots[i].fp != 0) return rerr_set(e, "serial added twice");
    if (b->len + need > b->cap) {
        size_t cap = b->cap * 2 > b->len + need ? b->cap * 2 : b->len + need;
        uint8_t *a = realloc(b->arena, cap);
        if (a == NULL) return rerr_set(e, "out of memory");
        b->arena = a;
        b->cap = cap;
    }
    uint8_t *p = b->arena + b->len;
    *p++ = (uint8_t)serial_len;
    memcpy(p, serial, serial_len);
    p += serial_len;
    memcpy(p, &b->this_update, 8);
    memcpy(p + 8, &b->next_update, 8);
    p += 16;
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        uint32_t l = (uint32_t)der_len[h];
        memcpy(p, &l, 4);
        if (etags != NULL) memcpy(p + 4, etags[h], ETAG_SPACE);
        else if (!etag_of(der[h], der_len[h], (char *)p + 4)) return rerr_set(e, "SHA-256 failed");
        memcpy(p + 4 + ETAG_SPACE, der[h], der_len[h]);
        p += 4 + ETAG_SPACE + der_len[h];
    }
    b->slots[i].fp = fp;
    b->slots[i].off = b->len;
    b->len += need;
    b->num++;
    return 1;
}

int ocsp_table_builder_add(struct ocsp_table_builder *b, const uint8_t *serial, size_t serial_len,
                           const uint8_t *const der[OCSP_TABLE_HASHES],
                           const size_t der_len[OCSP_TABLE_HASHES], struct rerr *e) {
    return add_record(b, serial, serial_len, der, der_len, NULL, e);
}

struct ocsp_table *ocsp_table_builder_finish(struct ocsp_table_builder *b) {
    struct ocsp_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        ocsp_table_builder_free(b);
        return NULL;
    }
    /* Give back the arena's slack: the table lives long. */
    uint8_t *a = realloc(b->arena, b->len ? b->len : 1);
    t->refs = 1;
    t->arena = a ? a : b->arena;
    t->len = b->len;
    t->slots = b->slots;
    t->mask = b->mask;
    t->num = b->num;
    free(b);
    return t;
}

int ocsp_table_find_etag(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len,
                         enum ocsp_hash h, const uint8_t **out, size_t *out_len, const char **etag) {
    if (t == NULL || serial_len == 0 || serial_len > 21) return 0;
    int which = h == OCSP_HASH_SHA1 ? 0 : h == OCSP_HASH_SHA256 ? 1 : -1;
    if (which < 0) return 0;
    uint64_t fp = fingerprint(serial, serial_len);
    size_t i = probe(t->slots, t->mask, t->arena, serial, serial_len, fp);
    if (t->slots[i].fp == 0) return 0;
    const uint8_t *p = t->arena + t->slots[i].off;
    p += 1 + p[0] + 16;
    for (int k = 0;; k++) {
        uint32_t l;
        memcpy(&l, p, 4);
        if (k == which) {
            if (etag != NULL) *etag = (const char *)p + 4;
            *out = p + 4 + ETAG_SPACE;
            *out_len = l;
            return 1;
        }
        p += 4 + ETAG_SPACE + l;
    }
}

int ocsp_table_find(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len, enum ocsp_hash h,
                    const uint8_t **out, size_t *out_len) {
    return ocsp_table_find_etag(t, serial, serial_len, h, out, out_len, NULL);
}

size_t ocsp_table_count(const struct ocsp_table *t) { return t ? t->num : 0; }

size_t ocsp_table_bytes(const struct ocsp_table *t) {
    return t ? t->len + (t->mask + 1) * sizeof(struct slot) + sizeof(*t) : 0;
}

void ocsp_table_builder_set_times(struct ocsp_table_builder *b, int64_t this_update, int64_t next_update) {
    b->this_update = this_update;
    b->next_update = next_update;
}

/* The record of serial, or NULL. */
static const uint8_t *record_of(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len) {
    if (t == NULL || serial_len == 0 || serial_len > 21) return NULL;
    uint64_t fp = fingerprint(serial, serial_len);
    size_t i = probe(t->slots, t->mask, t->arena, serial, serial_len, fp);
    return t->slots[i].fp == 0 ? NULL : t->arena + t->slots[i].off;
}

int ocsp_table_next(const struct ocsp_table *t, size_t *pos, const uint8_t **serial, size_t *serial_len,
                    int64_t *this_update, int64_t *next_update) {
    if (t == NULL || *pos >= t->len) return 0;
    const uint8_t *p = t->arena + *pos;
    *serial_len = p[0];
    *serial = p + 1;
    const uint8_t *q = p + 1 + p[0];
    memcpy(this_update, q, 8);
    memcpy(next_update, q + 8, 8);
    q += 16;
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        uint32_t l;
        memcpy(&l, q, 4);
        q += 4 + ETAG_SPACE + l;
    }
    *pos = (size_t)(q - t->arena);
    return 1;
}

int64_t ocsp_refresh_at(const uint8_t *serial, size_t serial_len, int64_t this_update, int64_t next_update) {
    int64_t v = next_update - this_update;
    if (v <= 0) return this_update;
    uint64_t h = fingerprint(serial, serial_len) ^ ((uint64_t)this_update * 0x9e3779b97f4a7c15ULL);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return this_update + v / 2 - (int64_t)(h % (uint64_t)(v / 8 + 1));
}

int ocsp_table_has(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len) {
    return record_of(t, serial, serial_len) != NULL;
}

int ocsp_table_times(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len, int64_t *this_update,
                     int64_t *next_update) {
    const uint8_t *p = record_of(t, serial, serial_len);
    if (p == NULL) return 0;
    p += 1 + p[0];
    memcpy(this_update, p, 8);
    memcpy(next_update, p + 8, 8);
    return 1;
}

/* Copies the record at off of t into b as it is (its times, DERs). */
static int copy_record(struct ocsp_table_builder *b, const struct ocsp_table *t, uint64_t off) {
    const uint8_t *p = t->arena + off;
    size_t sl = p[0];
    const uint8_t *serial = p + 1;
    const uint8_t *q = p + 1 + sl;
    memcpy(&b->this_update, q, 8);
    memcpy(&b->next_update, q + 8, 8);
    q += 16;
    const uint8_t *der[OCSP_TABLE_HASHES], *etags[OCSP_TABLE_HASHES];
    size_t len[OCSP_TABLE_HASHES];
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        uint32_t l;
        memcpy(&l, q, 4);
        etags[h] = q + 4;
        der[h] = q + 4 + ETAG_SPACE;
        len[h] = l;
        q += 4 + ETAG_SPACE + l;
    }
    struct rerr e;
    return add_record(b, serial, sl, der, len, etags, &e); /* the ETags as they are: same bytes */
}

struct ocsp_table *ocsp_table_merge(const struct ocsp_table *base, const struct ocsp_table *over) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(ocsp_table_count(base) + ocsp_table_count(over));
    if (b == NULL) return NULL;
    for (size_t i = 0; over != NULL && i <= over->mask; i++)
        if (over->slots[i].fp != 0 && !copy_record(b, over, over->slots[i].off)) goto fail;
    for (size_t i = 0; base != NULL && i <= base->mask; i++) {
        if (base->slots[i].fp == 0) continue;
        const uint8_t *p = base->arena + base->slots[i].off;
        if (ocsp_table_has(over, p + 1, p[0])) continue;
        if (!copy_record(b, base, base->slots[i].off)) goto fail;
    }
    return ocsp_table_builder_finish(b);
fail:
    ocsp_table_builder_free(b);
    return NULL;
}

struct ocsp_table *ocsp_table_ref(struct ocsp_table *t) {
    if (t != NULL) t->refs++;
    return t;
}

void ocsp_table_free(struct ocsp_table *t) {
    if (t == NULL || --t->refs > 0) return;
    free(t->arena);
    free(t->slots);
    free(t);
}

/* Whether record p (of some table) has the same responses as serial's in t
 * (their ETags, SHA-256 of the DER, equal). */
static int same_in(const struct ocsp_table *t, const uint8_t *p) {
    const uint8_t *r = record_of(t, p + 1, p[0]);
    if (r == NULL) return 0;
    const uint8_t *q = p + 1 + p[0] + 16, *s = r + 1 + r[0] + 16;
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        uint32_t lq, ls;
        memcpy(&lq, q, 4);
        memcpy(&ls, s, 4);
        if (memcmp(q + 4, s + 4, ETAG_SPACE) != 0) return 0;
        q += 4 + ETAG_SPACE + lq;
        s += 4 + ETAG_SPACE + ls;
    }
    return 1;
}

struct ocsp_table *ocsp_table_subtract(const struct ocsp_table *t, const struct ocsp_table *gone) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(ocsp_table_count(t));
    if (b == NULL) return NULL;
    for (size_t i = 0; t != NULL && i <= t->mask; i++) {
        if (t->slots[i].fp == 0) continue;
        if (same_in(gone, t->arena + t->slots[i].off)) continue;
        if (!copy_record(b, t, t->slots[i].off)) {
            ocsp_table_builder_free(b);
            return NULL;
        }
    }
    return ocsp_table_builder_finish(b);
}
