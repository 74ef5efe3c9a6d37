/* edgedb: an edge's own small RocksDB (EDGEDIR/edge.db): every message it
 * verified and serves (the latest of each key) and the last sequence it
 * applied of each stream, written together in one batch, so that a
 * restart serves what it had at once and resumes each stream where it
 * stopped. Not synced: a crash loses at most the last batches, and the
 * sequences go back with them (those messages are read again).
 *
 *   key                          value
 *   'r' caid:4 len:1 serial      this_update:8 next_update:8 payload (an OCSP message)
 *   'l' caid:4 pathhash:8        number:8 this_update:8 next_update:8 payload (a CRL message)
 *   'a' caid:4                   payload (a CA message)
 *   's' stream:1                 sequence:8
 *   'n' caid:4                   responses held of that CA:8
 *
 * Keys of 'r' sort as the index's serials do (CA, length, octets).
 * Threads: one (the edge's applier); the iterator's views are valid until
 * its next call. Return convention: 1/0 with e set. */
#ifndef REVD_FEED_EDGEDB_H
#define REVD_FEED_EDGEDB_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"
#include "feed/msg.h"

struct edgedb;

struct edgedb *edgedb_open(const char *dir, struct rerr *e);
void edgedb_close(struct edgedb *d); /* accepts NULL */

/* edgedb_version: the version held for m's key (0: none), and for a CRL
 * its number. -1 on a read error. */
int edgedb_version(struct edgedb *d, const struct feed_msg *m, uint64_t *version, uint64_t *number);

/* Batches: puts accumulate until edgedb_commit writes them at once. */
void edgedb_put(struct edgedb *d, const struct feed_msg *m, const uint8_t *payload, size_t len, int64_t this_update,
                int64_t next_update, uint64_t number);
void edgedb_put_seq(struct edgedb *d, unsigned stream, uint64_t seq);
int edgedb_commit(struct edgedb *d, struct rerr *e);

/* edgedb_put_count / edgedb_count: how many certificates of caid the
 * database holds (kept by the applier, written in its batches). */
void edgedb_put_count(struct edgedb *d, uint32_t caid, uint64_t n);
uint64_t edgedb_count(struct edgedb *d, uint32_t caid);

/* edgedb_seq: the last sequence applied of stream (0: none). */
uint64_t edgedb_seq(struct edgedb *d, unsigned stream);

/* A walk over one kind ('r', 'l' or 'a'): 1 with the value's parts, 0 at
 * the end. */
struct edgedb_rec {
    int64_t this_update, next_update;
    uint64_t number;
    const uint8_t *payload;
    size_t len;
};
struct edgedb_iter;
struct edgedb_iter *edgedb_iter_new(struct edgedb *d, char kind);
/* edgedb_iter_new_ca: the responses ('r') of one CA, in serial order. */
struct edgedb_iter *edgedb_iter_new_ca(struct edgedb *d, uint32_t caid);
int edgedb_iter_next(struct edgedb_iter *it, struct edgedb_rec *r);
void edgedb_iter_free(struct edgedb_iter *it);

#endif
