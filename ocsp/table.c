#include "ocsp/table.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/etag.h"

/* Arena record: u8 serial_len, serial, i64 thisUpdate, i64 nextUpdate,
 * then per hash: u32 length, the ETag (64 hex digits and a NUL), the DER. */
#define ETAG_SPACE (ETAG_LEN + 1)
struct slot {
    uint64_t fp;  /* fingerprint of the serial; 0: empty */
    uint64_t off; /* the record: its arena's index (bits OFF_BITS and up) and offset in it */
};
#define OFF_BITS 40
#define OFF_MASK ((UINT64_C(1) << OFF_BITS) - 1)

/* An arena: records back to back, never written once its builder
 * finished; shared by every table whose index points into it (merges
 * share, they do not copy). refs is atomic: the tables holding an arena may
 * be freed by different threads (a publisher, an edge's applier). */
struct arena {
    atomic_int refs;
    size_t len;
    uint8_t *p;
};

/* A merge shares its sides' arenas while the table stays within these:
 * past either, it copies the records still in use into one arena (a
 * compaction) instead. Dead records (replaced by a merge) are at most a
 * third of the bytes. */
#define MAX_ARENAS 256
#define DEAD_MAX_DIV 2 /* dead bytes <= live bytes / DEAD_MAX_DIV */

struct ocsp_table_builder {
    int64_t this_update, next_update;
    struct arena a; /* the arena being filled (a.p reallocated as it grows) */
    struct arena *ap; /* &a: what probe takes */
    size_t cap;
    struct slot *slots;
    size_t mask, num;
};

struct ocsp_table {
    int refs;
    struct arena **arenas;
    unsigned narenas;
    size_t live;  /* bytes of the records the index points to */
    size_t total; /* bytes of its arenas (dead records too) */
    struct slot *slots;
    size_t mask, num;
};

static const uint8_t *rec_at(struct arena *const *arenas, uint64_t off) {
    return arenas[off >> OFF_BITS]->p + (off & OFF_MASK);
}

/* rec_size: the bytes of the record at p. */
static size_t rec_size(const uint8_t *p) {
    const uint8_t *q = p + 1 + p[0] + 16;
    for (int h = 0; h < OCSP_TABLE_HASHES; h++) {
        uint32_t l;
        memcpy(&l, q, 4);
        q += 4 + ETAG_SPACE + l;
    }
    return (size_t)(q - p);
}

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
    b->a.p = malloc(b->cap);
    b->ap = &b->a;
    if (b->slots == NULL || b->a.p == NULL) {
        ocsp_table_builder_free(b);
        return NULL;
    }
    b->mask = n - 1;
    return b;
}

void ocsp_table_builder_free(struct ocsp_table_builder *b) {
    if (b == NULL) return;
    free(b->a.p);
    free(b->slots);
    free(b);
}

/* The slot holding serial, or the empty slot where it would go. */
static size_t probe(const struct slot *slots, size_t mask, struct arena *const *arenas, const uint8_t *serial,
                    size_t serial_len, uint64_t fp) {
    size_t i = (size_t)fp & mask;
    for (; slots[i].fp != 0; i = (i + 1) & mask) {
        if (slots[i].fp != fp) continue;
        const uint8_t *r = rec_at(arenas, slots[i].off);
        if (r[0] == serial_len && memcmp(r + 1, serial, serial_len) == 0) break;
    }
    return i;
}

/* place puts a slot into slots (an index with room, without it) by its
 * fingerprint alone: no record is read. */
static void place(struct slot *slots, size_t mask, struct slot sl) {
    size_t j = (size_t)sl.fp & mask;
    while (slots[j].fp != 0) j = (j + 1) & mask;
    slots[j] = sl;
}

static int grow_slots(struct ocsp_table_builder *b) {
    size_t n = (b->mask + 1) * 2;
    struct slot *s = calloc(n, sizeof(struct slot));
    if (s == NULL) return 0;
    for (size_t i = 0; i <= b->mask; i++)
        if (b->slots[i].fp != 0) place(s, n - 1, b->slots[i]);
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
    size_t i = probe(b->slots, b->mask, &b->ap, serial, serial_len, fp);
    if (b->slots[i].fp != 0) return rerr_set(e, "serial added twice");
    if (b->a.len + need > b->cap) {
        size_t cap = b->cap * 2 > b->a.len + need ? b->cap * 2 : b->a.len + need;
        if (cap > OFF_MASK) return rerr_set(e, "table too large");
        uint8_t *a = realloc(b->a.p, cap);
        if (a == NULL) return rerr_set(e, "out of memory");
        b->a.p = a;
        b->cap = cap;
    }
    uint8_t *p = b->a.p + b->a.len;
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
    b->slots[i].off = b->a.len;
    b->a.len += need;
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
    struct arena *a = malloc(sizeof(*a));
    struct arena **arenas = malloc(sizeof(*arenas));
    if (t == NULL || a == NULL || arenas == NULL) {
        free(t);
        free(a);
        free(arenas);
        ocsp_table_builder_free(b);
        return NULL;
    }
    /* Give back the arena's slack: the table lives long. */
    uint8_t *p = realloc(b->a.p, b->a.len ? b->a.len : 1);
    atomic_init(&a->refs, 1);
    a->p = p ? p : b->a.p;
    a->len = b->a.len;
    arenas[0] = a;
    t->refs = 1;
    t->arenas = arenas;
    t->narenas = 1;
    t->live = t->total = a->len;
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
    size_t i = probe(t->slots, t->mask, t->arenas, serial, serial_len, fp);
    if (t->slots[i].fp == 0) return 0;
    const uint8_t *p = rec_at(t->arenas, t->slots[i].off);
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
    return t ? t->total + (t->mask + 1) * sizeof(struct slot) + t->narenas * sizeof(struct arena *) + sizeof(*t)
             : 0;
}

void ocsp_table_builder_set_times(struct ocsp_table_builder *b, int64_t this_update, int64_t next_update) {
    b->this_update = this_update;
    b->next_update = next_update;
}

/* The record of serial, or NULL. */
static const uint8_t *record_of(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len) {
    if (t == NULL || serial_len == 0 || serial_len > 21) return NULL;
    uint64_t fp = fingerprint(serial, serial_len);
    size_t i = probe(t->slots, t->mask, t->arenas, serial, serial_len, fp);
    return t->slots[i].fp == 0 ? NULL : rec_at(t->arenas, t->slots[i].off);
}

/* live_at: whether t's index points at the record at off (a record a
 * later merge replaced is dead in this table). */
static int live_at(const struct ocsp_table *t, uint64_t off) {
    if (t->live == t->total) return 1; /* no dead record */
    const uint8_t *p = rec_at(t->arenas, off);
    size_t i = probe(t->slots, t->mask, t->arenas, p + 1, p[0], fingerprint(p + 1, p[0]));
    return t->slots[i].fp != 0 && t->slots[i].off == off;
}

int ocsp_table_next(const struct ocsp_table *t, size_t *pos, const uint8_t **serial, size_t *serial_len,
                    int64_t *this_update, int64_t *next_update) {
    if (t == NULL) return 0;
    for (;;) {
        uint64_t ai = (uint64_t)*pos >> OFF_BITS, off = (uint64_t)*pos & OFF_MASK;
        if (ai >= t->narenas) return 0;
        if (off >= t->arenas[ai]->len) {
            *pos = (size_t)((ai + 1) << OFF_BITS);
            continue;
        }
        const uint8_t *p = t->arenas[ai]->p + off;
        *pos = (size_t)((ai << OFF_BITS) | (off + rec_size(p)));
        if (!live_at(t, (ai << OFF_BITS) | off)) continue;
        *serial_len = p[0];
        *serial = p + 1;
        memcpy(this_update, p + 1 + p[0], 8);
        memcpy(next_update, p + 1 + p[0] + 8, 8);
        return 1;
    }
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
    const uint8_t *p = rec_at(t->arenas, off);
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

/* merge_copy: ocsp_table_merge by copying the records in use into one
 * arena (a compaction). */
static struct ocsp_table *merge_copy(const struct ocsp_table *base, const struct ocsp_table *over) {
    struct ocsp_table_builder *b = ocsp_table_builder_new(ocsp_table_count(base) + ocsp_table_count(over));
    if (b == NULL) return NULL;
    for (size_t i = 0; over != NULL && i <= over->mask; i++)
        if (over->slots[i].fp != 0 && !copy_record(b, over, over->slots[i].off)) goto fail;
    for (size_t i = 0; base != NULL && i <= base->mask; i++) {
        if (base->slots[i].fp == 0) continue;
        const uint8_t *p = rec_at(base->arenas, base->slots[i].off);
        if (ocsp_table_has(over, p + 1, p[0])) continue;
        if (!copy_record(b, base, base->slots[i].off)) goto fail;
    }
    return ocsp_table_builder_finish(b);
fail:
    ocsp_table_builder_free(b);
    return NULL;
}

/* merge_share: ocsp_table_merge without copying a record: the new table
 * shares base's and over's arenas (over's indexes shifted past base's)
 * and has an index of its own: base's, with over's entries put in. over
 * may be NULL. */
static struct ocsp_table *merge_share(const struct ocsp_table *base, const struct ocsp_table *over) {
    static const struct ocsp_table none = {0};
    if (over == NULL) over = &none;
    struct ocsp_table *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    size_t n = slots_for(base->num + over->num);
    if (n < base->mask + 1) n = base->mask + 1;
    t->narenas = base->narenas + over->narenas;
    t->arenas = malloc(t->narenas * sizeof(*t->arenas));
    t->slots = n == base->mask + 1 ? malloc(n * sizeof(struct slot)) : calloc(n, sizeof(struct slot));
    if (t->arenas == NULL || t->slots == NULL) {
        free(t->arenas);
        free(t->slots);
        free(t);
        return NULL;
    }
    t->refs = 1;
    t->mask = n - 1;
    memcpy(t->arenas, base->arenas, base->narenas * sizeof(*t->arenas));
    if (over->narenas > 0) memcpy(t->arenas + base->narenas, over->arenas, over->narenas * sizeof(*t->arenas));
    for (unsigned i = 0; i < t->narenas; i++) {
        atomic_fetch_add_explicit(&t->arenas[i]->refs, 1, memory_order_relaxed);
        t->total += t->arenas[i]->len;
    }
    if (n == base->mask + 1) memcpy(t->slots, base->slots, n * sizeof(struct slot));
    else
        for (size_t i = 0; i <= base->mask; i++)
            if (base->slots[i].fp != 0) place(t->slots, t->mask, base->slots[i]);
    t->num = base->num;
    t->live = base->live;
    uint64_t shift = (uint64_t)base->narenas << OFF_BITS;
    for (size_t i = 0; over->slots != NULL && i <= over->mask; i++) {
        if (over->slots[i].fp == 0) continue;
        const uint8_t *r = rec_at(over->arenas, over->slots[i].off);
        size_t j = probe(t->slots, t->mask, t->arenas, r + 1, r[0], over->slots[i].fp);
        if (t->slots[j].fp != 0) {
            t->live -= rec_size(rec_at(t->arenas, t->slots[j].off));
        } else {
            t->slots[j].fp = over->slots[i].fp;
            t->num++;
        }
        t->slots[j].off = over->slots[i].off + shift;
        t->live += rec_size(r);
    }
    return t;
}

struct ocsp_table *ocsp_table_merge(const struct ocsp_table *base, const struct ocsp_table *over) {
    if (base == NULL || base->num == 0) return merge_copy(NULL, over);
    if (over == NULL || over->num == 0) return merge_share(base, NULL);
    /* Dead bytes after a shared merge: base's and over's own, and base's
     * records over replaces (at most over's live bytes). */
    size_t dead = (base->total - base->live) + (over->total - over->live) + over->live;
    if (base->narenas + over->narenas > MAX_ARENAS || dead > base->live / DEAD_MAX_DIV) return merge_copy(base, over);
    return merge_share(base, over);
}

struct ocsp_table *ocsp_table_ref(struct ocsp_table *t) {
    if (t != NULL) t->refs++;
    return t;
}

void ocsp_table_free(struct ocsp_table *t) {
    if (t == NULL || --t->refs > 0) return;
    for (unsigned i = 0; i < t->narenas; i++) {
        if (atomic_fetch_sub_explicit(&t->arenas[i]->refs, 1, memory_order_acq_rel) != 1) continue;
        free(t->arenas[i]->p);
        free(t->arenas[i]);
    }
    free(t->arenas);
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
        if (same_in(gone, rec_at(t->arenas, t->slots[i].off))) continue;
        if (!copy_record(b, t, t->slots[i].off)) {
            ocsp_table_builder_free(b);
            return NULL;
        }
    }
    return ocsp_table_builder_finish(b);
}
