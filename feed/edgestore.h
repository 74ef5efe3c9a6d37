/* edgestore: a large CA on an edge is served from a response store
 * (ocsp/store.h) as on the primary, not from a table in memory: its file
 * EDGEDIR/ocsp/CAID.store is written from the edge's database (whose
 * keys are already in the store's serial order), then read through the
 * shards' caches and the store readers. The store is written again from
 * the database when the CA's overlay grows large, and at each start.
 *
 * Thread: the edge's applier (or the main thread before it starts).
 * Return convention: the store (one reference), or NULL with e set. */
#ifndef REVD_FEED_EDGESTORE_H
#define REVD_FEED_EDGESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

struct edgedb;
struct ocsp_store;

/* edgestore_suffix: the length of the certificates block that ends the
 * OCSP response der (the [0] EXPLICIT certs of its BasicOCSPResponse), 0
 * when it has none or is not a response this reads. Pure. */
size_t edgestore_suffix(const uint8_t *der, size_t len);

/* edgestore_write writes the store of CA caid (its certificate ca_der)
 * from db into dir/CAID.store and opens it; *count: its certificates. */
struct ocsp_store *edgestore_write(struct edgedb *db, uint32_t caid, const uint8_t *ca_der, size_t ca_len,
                                   const char *dir, uint64_t *count, struct rerr *e);

#endif
