/* store: the revocation index, a RocksDB database under DIR/index.
 *
 * One process opens it for writing (RocksDB's LOCK file enforces that); the
 * CA core is its only writer. Writes go through batches; a batch written with
 * sync=1 is on disk (synced WAL) when store_write returns. The key layout is
 * in ca/ikey.h and docs/index.md.
 *
 * Thread: a store may be used from one thread at a time (the CA core's),
 * except store_get, which other threads may call at the same time (the
 * signing lane: RocksDB's reads are thread-safe). */
#ifndef REVD_CA_STORE_H
#define REVD_CA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

struct store;
struct store_batch;
struct store_iter;

/* store_open opens (create=1: creates if absent) the database at path.
 * Returns 1 and *out, or 0 with e set; a database held by another process
 * says so. */
int store_open(const char *path, int create, struct store **out, struct rerr *e);
void store_free(struct store *st);

/* store_get looks key up. Returns 1 with *out a malloc'd copy of the value
 * (caller frees) and *out_len, 0 when absent, -1 on an I/O error (e set). */
int store_get(struct store *st, const void *key, size_t key_len, uint8_t **out,
              size_t *out_len, struct rerr *e);

struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
void store_batch_put(struct store_batch *b, const void *k, size_t kl, const void *v, size_t vl);
void store_batch_delete(struct store_batch *b, const void *k, size_t kl);
size_t store_batch_count(const struct store_batch *b);
void store_batch_clear(struct store_batch *b);

/* store_write applies the batch atomically; sync=1 syncs the WAL first.
 * Returns 1, or 0 with e set (nothing of the batch is applied). */
int store_write(struct store *st, struct store_batch *b, int sync, struct rerr *e);

/* store_iter_new iterates keys that start with prefix, in byte order, from
 * prefix+start (start may be NULL). store_iter_next returns 1 with views of
 * the next key and value (valid until the next call), 0 at the end. */
struct store_iter *store_iter_new(struct store *st, const void *prefix, size_t prefix_len,
                                  const void *start, size_t start_len);
int store_iter_next(struct store_iter *it, const uint8_t **k, size_t *kl, const uint8_t **v,
                    size_t *vl);
/* store_iter_last positions on the last key with the prefix; returns 1 and
 * views of it, or 0 when there is none. */
int store_iter_last(struct store_iter *it, const uint8_t **k, size_t *kl);
/* store_iter_value: a view of the value where the iterator stands (after a
 * store_iter_last that returned 1). */
const uint8_t *store_iter_value(struct store_iter *it, size_t *vl);
void store_iter_free(struct store_iter *it);

/* Bulk loading: sorted SST files, ingested atomically (all or none).
 * store_sst_open starts a file at path; keys must be put in ascending byte
 * order. store_ingest moves n finished files into the database in one
 * atomic step; their key ranges must not overlap each other. */
struct store_sst;
int store_sst_open(struct store *st, const char *path, struct store_sst **out, struct rerr *e);
int store_sst_put(struct store_sst *w, const void *k, size_t kl, const void *v, size_t vl,
                  struct rerr *e);
int store_sst_finish(struct store_sst *w, struct rerr *e);
void store_sst_free(struct store_sst *w);
int store_ingest(struct store *st, const char *const *paths, size_t n, struct rerr *e);

#endif
