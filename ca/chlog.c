/* chlog: the change log (ca/chlog.h), and its reading and trimming for the
 * OCSP response store (ca/view.h: ca_view_changes_*). */
#include "ca/chlog.h"

#include <stdlib.h>
#include <string.h>

#include "ca/view.h"
#include "common/bytes.h"

/* How many records one trimming batch deletes: a trim of millions of
 * records is written in steps instead of one batch that size. */
#define CHLOG_TRIM_STEP 65536

static const char trimmed_key[] = "mchanges_trimmed";

size_t chlog_encode(struct ca_core *c, uint8_t key[CHLOG_KEY_LEN], uint8_t val[CHLOG_VAL_MAX], uint32_t ca_id,
                    int full, const uint8_t *serial, size_t slen) {
    if (!full && (serial == NULL || slen == 0 || slen > HEX_SERIAL_MAX + 1)) full = 1;
    c->chlog_seq++;
    key[0] = K_CHANGE;
    bytes_put_u64(key + 1, c->chlog_seq);
    bytes_put_u32(val, ca_id);
    val[4] = full ? 1 : 0;
    val[5] = full ? 0 : (uint8_t)slen;
    if (!full) memcpy(val + 6, serial, slen);
    return 6 + (full ? 0 : slen);
}

void chlog_add(struct ca_core *c, struct store_batch *b, uint32_t ca_id, int full, const uint8_t *serial,
               size_t slen) {
    uint8_t key[CHLOG_KEY_LEN], val[CHLOG_VAL_MAX];
    size_t vl = chlog_encode(c, key, val, ca_id, full, serial, slen);
    store_batch_put(b, key, sizeof(key), val, vl);
}

int chlog_write(struct ca_core *c, uint32_t ca_id, int full, const uint8_t *serial, size_t slen, struct rerr *e) {
    struct store_batch *b = store_batch_new();
    chlog_add(c, b, ca_id, full, serial, slen);
    int ok = store_write(c->st, b, 1, e);
    store_batch_free(b);
    if (ok) chlog_written(c);
    else chlog_rollback(c);
    return ok;
}

void chlog_rollback(struct ca_core *c) { c->chlog_seq = c->chlog_durable; }

void chlog_written(struct ca_core *c) { c->chlog_durable = c->chlog_seq; }

int chlog_load(struct ca_core *c, struct rerr *e) {
    const uint8_t *k;
    size_t kl;
    uint8_t prefix = K_CHANGE;
    uint64_t last = 0;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    if (store_iter_last(it, &k, &kl) && kl == CHLOG_KEY_LEN) last = bytes_get_u64(k + 1);
    store_iter_free(it);
    uint8_t *v;
    size_t vl;
    int r = store_get(c->st, trimmed_key, sizeof(trimmed_key) - 1, &v, &vl, e);
    if (r < 0) return 0;
    if (r == 1) {
        if (vl == 8 && bytes_get_u64(v) > last) last = bytes_get_u64(v);
        free(v);
    }
    c->chlog_seq = c->chlog_durable = last;
    return 1;
}

uint64_t ca_view_changes_last(struct ca_core *c) { return c->chlog_durable; }

/* decode: one record into *out (serial a view into v). 1, or 0: damaged. */
static int decode(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct ca_view_change *out) {
    if (kl != CHLOG_KEY_LEN || vl < 6 || v[4] > 1 || vl != 6 + (size_t)v[5]) return 0;
    int full = v[4] == 1;
    if (full ? v[5] != 0 : v[5] == 0 || v[5] > HEX_SERIAL_MAX + 1) return 0;
    out->seq = bytes_get_u64(k + 1);
    out->ca_id = bytes_get_u32(v);
    out->full = full;
    out->serial = full ? NULL : v + 6;
    out->serial_len = v[5];
    return 1;
}

int ca_view_changes_since(struct ca_core *c, uint64_t after, int (*cb)(void *arg, const struct ca_view_change *ch),
                          void *arg, struct rerr *e) {
    if (after == UINT64_MAX) return 1;
    uint8_t prefix = K_CHANGE, start[8];
    bytes_put_u64(start, after + 1);
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, start, sizeof(start));
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ca_view_change ch;
        if (!decode(k, kl, v, vl, &ch)) {
            if (kl == CHLOG_KEY_LEN)
                ok = rerr_set(e, "index: the change record 'c' %llu is damaged (%zu octets)",
                              (unsigned long long)bytes_get_u64(k + 1), vl);
            else
                ok = rerr_set(e, "index: a damaged change-record key ('c' and %zu octets, not 8)", kl - 1);
            break;
        }
        if (!cb(arg, &ch)) break;
    }
    store_iter_free(it);
    return ok;
}

/* trim_step deletes up to CHLOG_TRIM_STEP records with seq <= upto, with
 * the trimmed mark in the same batch (a crash keeps the numbering whatever
 * it leaves). *more: records may be left. Returns 1, or 0 with e set. */
static int trim_step(struct ca_core *c, uint64_t upto, int *more, struct rerr *e) {
    uint8_t prefix = K_CHANGE;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    struct store_batch *b = store_batch_new();
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    *more = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl == CHLOG_KEY_LEN && bytes_get_u64(k + 1) > upto) break;
        if (n == CHLOG_TRIM_STEP) {
            *more = 1;
            break;
        }
        store_batch_delete(b, k, kl);
        n++;
    }
    store_iter_free(it);
    int ok = 1;
    if (n > 0) {
        uint8_t mark[8];
        bytes_put_u64(mark, upto);
        store_batch_put(b, trimmed_key, sizeof(trimmed_key) - 1, mark, sizeof(mark));
        ok = store_write(c->st, b, 0, e);
    }
    store_batch_free(b);
    return ok;
}

int ca_view_changes_trim(struct ca_core *c, uint64_t upto, struct rerr *e) {
    /* Never past the last number given out: the mark would raise the
     * numbering over records the reader has not seen. */
    if (upto > c->chlog_durable) upto = c->chlog_durable;
    int more = 1;
    while (more)
        if (!trim_step(c, upto, &more, e)) return 0;
    return 1;
}
