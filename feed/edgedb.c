/* edgedb: an edge's RocksDB (feed/edgedb.h). */
#include "feed/edgedb.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "common/bytes.h"

struct edgedb {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_writebatch_t *wb;
};

struct edgedb *edgedb_open(const char *dir, struct rerr *e) {
    struct edgedb *d = calloc(1, sizeof(*d));
    if (d == NULL) return rerr_set(e, "out of memory"), NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/edge.db", dir);
    d->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->opts, 1);
    rocksdb_options_set_compression(d->opts, rocksdb_lz4_compression);
    rocksdb_options_increase_parallelism(d->opts, 2);
    rocksdb_options_set_max_open_files(d->opts, 256);
    rocksdb_options_set_keep_log_file_num(d->opts, 4);
    char *err = NULL;
    d->db = rocksdb_open(d->opts, path, &err);
    if (err != NULL) {
        rerr_set(e, "cannot open %s: %s", path, err);
        free(err);
        rocksdb_options_destroy(d->opts);
        free(d);
        return NULL;
    }
    d->wo = rocksdb_writeoptions_create();
    d->ro = rocksdb_readoptions_create();
    d->wb = rocksdb_writebatch_create();
    return d;
}

void edgedb_close(struct edgedb *d) {
    if (d == NULL) return;
    rocksdb_writebatch_destroy(d->wb);
    rocksdb_close(d->db);
    rocksdb_writeoptions_destroy(d->wo);
    rocksdb_readoptions_destroy(d->ro);
    rocksdb_options_destroy(d->opts);
    free(d);
}

/* key_of: m's key; its length. */
static size_t key_of(const struct feed_msg *m, uint8_t k[48]) {
    k[0] = m->kind == FEED_OCSP ? 'r' : m->kind == FEED_CRL ? 'l' : 'a';
    bytes_put_u32(k + 1, m->caid);
    if (m->kind == FEED_OCSP) {
        k[5] = (uint8_t)m->serial_len;
        memcpy(k + 6, m->serial, m->serial_len);
        return 6 + m->serial_len;
    }
    if (m->kind == FEED_CRL) {
        bytes_put_u64(k + 5, feed_msg_key(m));
        return 13;
    }
    return 5;
}

/* The header before the payload, by kind. */
static size_t head_len(char kind) { return kind == 'r' ? 16 : kind == 'l' ? 24 : 0; }

int edgedb_version(struct edgedb *d, const struct feed_msg *m, uint64_t *version, uint64_t *number) {
    uint8_t k[48];
    size_t kl = key_of(m, k), vl = 0;
    char *err = NULL;
    char *v = rocksdb_get(d->db, d->ro, (const char *)k, kl, &vl, &err);
    *version = 0, *number = 0;
    if (err != NULL) {
        free(err);
        return -1;
    }
    if (v == NULL) return 1;
    size_t h = head_len((char)k[0]);
    if (vl >= h + 12) *version = bytes_get_u64((const uint8_t *)v + h + 4);
    if (k[0] == 'l' && vl >= 8) *number = bytes_get_u64((const uint8_t *)v);
    free(v);
    return 1;
}

void edgedb_put(struct edgedb *d, const struct feed_msg *m, const uint8_t *payload, size_t len, int64_t this_update,
                int64_t next_update, uint64_t number) {
    uint8_t k[48], head[24];
    size_t kl = key_of(m, k), h = head_len((char)k[0]);
    if (k[0] == 'l') {
        bytes_put_u64(head, number);
        bytes_put_u64(head + 8, (uint64_t)this_update);
        bytes_put_u64(head + 16, (uint64_t)next_update);
    } else {
        bytes_put_u64(head, (uint64_t)this_update);
        bytes_put_u64(head + 8, (uint64_t)next_update);
    }
    const char *parts[2] = {(const char *)head, (const char *)payload};
    size_t sizes[2] = {h, len};
    const char *kp[1] = {(const char *)k};
    rocksdb_writebatch_putv(d->wb, 1, kp, &kl, 2, parts, sizes);
}

void edgedb_put_seq(struct edgedb *d, unsigned stream, uint64_t seq) {
    uint8_t k[2] = {'s', (uint8_t)stream}, v[8];
    bytes_put_u64(v, seq);
    rocksdb_writebatch_put(d->wb, (const char *)k, 2, (const char *)v, 8);
}

int edgedb_commit(struct edgedb *d, struct rerr *e) {
    char *err = NULL;
    rocksdb_write(d->db, d->wo, d->wb, &err);
    rocksdb_writebatch_clear(d->wb);
    if (err != NULL) {
        rerr_set(e, "writing the edge's database: %s", err);
        free(err);
        return 0;
    }
    return 1;
}

void edgedb_put_count(struct edgedb *d, uint32_t caid, uint64_t n) {
    uint8_t k[5] = {'n'}, v[8];
    bytes_put_u32(k + 1, caid);
    bytes_put_u64(v, n);
    rocksdb_writebatch_put(d->wb, (const char *)k, 5, (const char *)v, 8);
}

/* get_u64: the 8-byte value at k (0: none). */
static uint64_t get_u64(struct edgedb *d, const uint8_t *k, size_t kl) {
    size_t vl = 0;
    char *err = NULL;
    char *v = rocksdb_get(d->db, d->ro, (const char *)k, kl, &vl, &err);
    free(err);
    uint64_t s = v != NULL && vl == 8 ? bytes_get_u64((const uint8_t *)v) : 0;
    free(v);
    return s;
}

uint64_t edgedb_count(struct edgedb *d, uint32_t caid) {
    uint8_t k[5] = {'n'};
    bytes_put_u32(k + 1, caid);
    return get_u64(d, k, 5);
}

uint64_t edgedb_seq(struct edgedb *d, unsigned stream) {
    uint8_t k[2] = {'s', (uint8_t)stream};
    return get_u64(d, k, 2);
}

struct edgedb_iter {
    rocksdb_iterator_t *it;
    char kind;
    int started;
    uint8_t prefix[5]; /* kind, then a CA when plen is 5 */
    size_t plen;
};

struct edgedb_iter *edgedb_iter_new(struct edgedb *d, char kind) {
    struct edgedb_iter *it = calloc(1, sizeof(*it));
    if (it == NULL) return NULL;
    it->it = rocksdb_create_iterator(d->db, d->ro);
    it->kind = kind;
    it->prefix[0] = (uint8_t)kind;
    it->plen = 1;
    return it;
}

struct edgedb_iter *edgedb_iter_new_ca(struct edgedb *d, uint32_t caid) {
    struct edgedb_iter *it = edgedb_iter_new(d, 'r');
    if (it == NULL) return NULL;
    bytes_put_u32(it->prefix + 1, caid);
    it->plen = 5;
    return it;
}

int edgedb_iter_next(struct edgedb_iter *it, struct edgedb_rec *r) {
    if (!it->started) {
        rocksdb_iter_seek(it->it, (const char *)it->prefix, it->plen);
        it->started = 1;
    } else {
        rocksdb_iter_next(it->it);
    }
    for (; rocksdb_iter_valid(it->it); rocksdb_iter_next(it->it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it->it, &kl);
        if (kl < it->plen || memcmp(k, it->prefix, it->plen) != 0) return 0;
        const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it->it, &vl);
        size_t h = head_len(it->kind);
        if (vl < h) continue; /* damaged: skipped (read again from the stream at the next bootstrap) */
        memset(r, 0, sizeof(*r));
        if (it->kind == 'l') {
            r->number = bytes_get_u64(v);
            r->this_update = (int64_t)bytes_get_u64(v + 8);
            r->next_update = (int64_t)bytes_get_u64(v + 16);
        } else if (it->kind == 'r') {
            r->this_update = (int64_t)bytes_get_u64(v);
            r->next_update = (int64_t)bytes_get_u64(v + 8);
        }
        r->payload = v + h;
        r->len = vl - h;
        return 1;
    }
    return 0;
}

void edgedb_iter_free(struct edgedb_iter *it) {
    if (it == NULL) return;
    rocksdb_iter_destroy(it->it);
    free(it);
}
