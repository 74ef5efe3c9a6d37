#include "ca/store.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <string.h>

#include <rocksdb/c.h>

struct store {
    char *path;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_writeoptions_t *wsync;
    rocksdb_writeoptions_t *wnosync;
    rocksdb_readoptions_t *ropts;
};

struct store_batch {
    rocksdb_writebatch_t *wb;
};

struct store_iter {
    const struct store *st;
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    uint8_t *prefix;
    size_t prefix_len;
    int started;
    uint8_t *start;
    size_t start_len;
};

/* What to do about an error RocksDB gave for the index at path. */
static const char *store_advice(const char *err) {
    if (err == NULL) return "";
    if (strstr(err, "Read-only file system") != NULL)
        return "; DIR must be writable: remount it read-write";
    if (strstr(err, "Permission denied") != NULL || strstr(err, "Operation not permitted") != NULL)
        return "; fix the owner and permissions of DIR/index (revd runs as the owner of DIR)";
    if (strstr(err, "No space left") != NULL) return "; the file system is full: free some space and try again";
    if (strstr(err, "Corruption") != NULL || strstr(err, "No such file") != NULL ||
        strstr(err, "checksum") != NULL)
        return "; the index is damaged: restore DIR/index from a backup, then run revd audit verify";
    return "";
}

/* RocksDB's own log goes with the index; it must never be what fills the
 * disk, and RocksDB asserts (aborts) when it cannot write it: a file
 * system with less than this free is refused before opening. */
#define STORE_MIN_FREE (1 << 20)

int store_open(const char *path, int create, struct store **out, struct rerr *e) {
    struct statvfs fs;
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s", path);
    memset(&fs, 0, sizeof(fs));
    if (statvfs(probe, &fs) != 0 && statvfs(dirname(probe), &fs) != 0) memset(&fs, 0, sizeof(fs));
    if (fs.f_frsize > 0 && (uint64_t)fs.f_bavail * fs.f_frsize < STORE_MIN_FREE && !(fs.f_flag & ST_RDONLY))
        return rerr_set(e, "%s: the file system is full (%llu bytes free): free some space and try again", path,
                        (unsigned long long)fs.f_bavail * fs.f_frsize);
    struct store *st = calloc(1, sizeof(*st));
    if (st == NULL) return rerr_set(e, "out of memory");
    st->path = strdup(path);
    st->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(st->opts, create);
    rocksdb_options_set_compression(st->opts, rocksdb_lz4_compression);
    rocksdb_options_increase_parallelism(st->opts, 2);
    rocksdb_options_set_max_open_files(st->opts, 512);
    rocksdb_options_set_keep_log_file_num(st->opts, 4);
    char *err = NULL;
    st->db = rocksdb_open(st->opts, path, &err);
    if (st->db == NULL) {
        int locked = err != NULL && strstr(err, "lock") != NULL;
        if (locked)
            rerr_set(e, "%s: the index is in use by another revd process (%s)", path, err);
        else
            rerr_set(e, "%s: cannot open the index: %s%s", path, err ? err : "unknown error", store_advice(err));
        free(err);
        rocksdb_options_destroy(st->opts);
        free(st->path);
        free(st);
        return 0;
    }
    st->wsync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(st->wsync, 1);
    st->wnosync = rocksdb_writeoptions_create();
    st->ropts = rocksdb_readoptions_create();
    *out = st;
    return 1;
}

void store_free(struct store *st) {
    if (st == NULL) return;
    rocksdb_close(st->db);
    rocksdb_writeoptions_destroy(st->wsync);
    rocksdb_writeoptions_destroy(st->wnosync);
    rocksdb_readoptions_destroy(st->ropts);
    rocksdb_options_destroy(st->opts);
    free(st->path);
    free(st);
}

int store_get(struct store *st, const void *key, size_t key_len, uint8_t **out,
              size_t *out_len, struct rerr *e) {
    char *err = NULL;
    size_t vl = 0;
    char *v = rocksdb_get(st->db, st->ropts, key, key_len, &vl, &err);
    if (err != NULL) {
        rerr_set(e, "%s: index read failed: %s%s", st->path, err, store_advice(err));
        free(err);
        return -1;
    }
    if (v == NULL) return 0;
    *out = (uint8_t *)v;
    *out_len = vl;
    return 1;
}

struct store_batch *store_batch_new(void) {
    struct store_batch *b = malloc(sizeof(*b));
    if (b == NULL) abort(); /* boot-time/CA-core allocation: fatal */
    b->wb = rocksdb_writebatch_create();
    return b;
}

void store_batch_free(struct store_batch *b) {
    if (b == NULL) return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

void store_batch_put(struct store_batch *b, const void *k, size_t kl, const void *v, size_t vl) {
    rocksdb_writebatch_put(b->wb, k, kl, v, vl);
}

void store_batch_delete(struct store_batch *b, const void *k, size_t kl) {
    rocksdb_writebatch_delete(b->wb, k, kl);
}

size_t store_batch_count(const struct store_batch *b) {
    return (size_t)rocksdb_writebatch_count(b->wb);
}

void store_batch_clear(struct store_batch *b) { rocksdb_writebatch_clear(b->wb); }

int store_write(struct store *st, struct store_batch *b, int sync, struct rerr *e) {
    char *err = NULL;
    rocksdb_write(st->db, sync ? st->wsync : st->wnosync, b->wb, &err);
    if (err != NULL) {
        rerr_set(e, "%s: index write failed: %s%s", st->path, err, store_advice(err));
        free(err);
        return 0;
    }
    return 1;
}

struct store_iter *store_iter_new(struct store *st, const void *prefix, size_t prefix_len,
                                  const void *start, size_t start_len) {
    struct store_iter *it = calloc(1, sizeof(*it));
    if (it == NULL) abort();
    it->st = st;
    it->ro = rocksdb_readoptions_create();
    it->it = rocksdb_create_iterator(st->db, it->ro);
    it->prefix = malloc(prefix_len + start_len + 1);
    if (it->prefix == NULL) abort();
    memcpy(it->prefix, prefix, prefix_len);
    if (start_len > 0) memcpy(it->prefix + prefix_len, start, start_len);
    it->prefix_len = prefix_len;
    it->start_len = start_len;
    return it;
}

/* An iterator that stops on an error (a damaged block: a checksum
 * mismatch) would look like the end of the data, and a CRL, a report or
 * a table built from it would silently miss what is past it. revd stops
 * instead: a CA that cannot read its own index must not answer. */
static void iter_check(struct store_iter *it) {
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    if (err == NULL) return;
    fprintf(stderr, "revd: %s: index read failed: %s%s; stopping\n", it->st->path, err, store_advice(err));
    fflush(stderr);
    _exit(1);
}

static int in_prefix(struct store_iter *it, const uint8_t **k, size_t *kl) {
    if (!rocksdb_iter_valid(it->it)) {
        iter_check(it);
        return 0;
    }
    *k = (const uint8_t *)rocksdb_iter_key(it->it, kl);
    return *kl >= it->prefix_len && memcmp(*k, it->prefix, it->prefix_len) == 0;
}

int store_iter_next(struct store_iter *it, const uint8_t **k, size_t *kl, const uint8_t **v,
                    size_t *vl) {
    if (!it->started) {
        rocksdb_iter_seek(it->it, (const char *)it->prefix, it->prefix_len + it->start_len);
        it->started = 1;
    } else {
        if (!rocksdb_iter_valid(it->it)) return 0; /* past the end already */
        rocksdb_iter_next(it->it);
    }
    if (!in_prefix(it, k, kl)) return 0;
    *v = (const uint8_t *)rocksdb_iter_value(it->it, vl);
    return 1;
}

int store_iter_last(struct store_iter *it, const uint8_t **k, size_t *kl) {
    /* Seek just past the prefix: prefix with its last byte incremented. */
    uint8_t *end = malloc(it->prefix_len);
    if (end == NULL) abort();
    memcpy(end, it->prefix, it->prefix_len);
    size_t n = it->prefix_len;
    while (n > 0 && end[n - 1] == 0xff) n--;
    if (n == 0) {
        rocksdb_iter_seek_to_last(it->it);
    } else {
        end[n - 1]++;
        rocksdb_iter_seek_for_prev(it->it, (const char *)end, n);
        /* seek_for_prev lands on the last key <= end; end itself is outside. */
        if (rocksdb_iter_valid(it->it)) {
            size_t l;
            const char *cur = rocksdb_iter_key(it->it, &l);
            if (l == n && memcmp(cur, end, n) == 0) rocksdb_iter_prev(it->it);
        }
    }
    free(end);
    it->started = 1;
    return in_prefix(it, k, kl);
}

const uint8_t *store_iter_value(struct store_iter *it, size_t *vl) {
    return (const uint8_t *)rocksdb_iter_value(it->it, vl);
}

void store_iter_free(struct store_iter *it) {
    if (it == NULL) return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it->prefix);
    free(it);
}

struct store_sst {
    rocksdb_envoptions_t *env;
    rocksdb_sstfilewriter_t *w;
};

int store_sst_open(struct store *st, const char *path, struct store_sst **out, struct rerr *e) {
    struct store_sst *w = calloc(1, sizeof(*w));
    if (w == NULL) return rerr_set(e, "out of memory");
    w->env = rocksdb_envoptions_create();
    w->w = rocksdb_sstfilewriter_create(w->env, st->opts);
    char *err = NULL;
    rocksdb_sstfilewriter_open(w->w, path, &err);
    if (err != NULL) {
        rerr_set(e, "%s: cannot create a bulk-load file: %s%s", path, err, store_advice(err));
        free(err);
        store_sst_free(w);
        return 0;
    }
    *out = w;
    return 1;
}

int store_sst_put(struct store_sst *w, const void *k, size_t kl, const void *v, size_t vl,
                  struct rerr *e) {
    char *err = NULL;
    rocksdb_sstfilewriter_put(w->w, k, kl, v, vl, &err);
    if (err != NULL) {
        rerr_set(e, "bulk-load file: %s%s", err, store_advice(err));
        free(err);
        return 0;
    }
    return 1;
}

int store_sst_finish(struct store_sst *w, struct rerr *e) {
    char *err = NULL;
    rocksdb_sstfilewriter_finish(w->w, &err);
    if (err != NULL) {
        rerr_set(e, "bulk-load file: %s%s", err, store_advice(err));
        free(err);
        return 0;
    }
    return 1;
}

void store_sst_free(struct store_sst *w) {
    if (w == NULL) return;
    rocksdb_sstfilewriter_destroy(w->w);
    rocksdb_envoptions_destroy(w->env);
    free(w);
}

int store_ingest(struct store *st, const char *const *paths, size_t n, struct rerr *e) {
    rocksdb_ingestexternalfileoptions_t *o = rocksdb_ingestexternalfileoptions_create();
    rocksdb_ingestexternalfileoptions_set_move_files(o, 1);
    char *err = NULL;
    rocksdb_ingest_external_file(st->db, paths, n, o, &err);
    rocksdb_ingestexternalfileoptions_destroy(o);
    if (err != NULL) {
        rerr_set(e, "index bulk load failed: %s", err);
        free(err);
        return 0;
    }
    return 1;
}
