/* cache: one shard's cache of responses read from the CAs' stores
 * (ocsp/store.h), so that the popular ones (OCSP traffic is Zipf-like)
 * are answered without a read.
 *
 * Set-associative: a set of CACHE_WAYS slots per hash of (store, CertID
 * hash, serial); a lookup compares CACHE_WAYS tags in one cache line, and
 * a miss evicts within its set by CLOCK (a slot hit since the hand last
 * passed is spared once). A slot holds a response without the store's
 * common suffix (its stripped form, at most CACHE_DER_MAX octets; a larger
 * one is not cached) with its ETag and times. An entry names its store by
 * ocsp_store_uid: a new store file never answers from an old one's entries.
 *
 * Owned by one shard: no lock, no atomic but the counters' (read by any
 * thread: ocsp_cache_stats). */
#ifndef REVD_OCSP_CACHE_H
#define REVD_OCSP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/etag.h"

#define CACHE_WAYS 8
#define CACHE_SLOT 640
#define CACHE_DER_MAX (CACHE_SLOT - 128)

struct ocsp_cache;

/* A hit: views into the slot, valid until the next ocsp_cache_put. */
struct ocsp_cache_hit {
    const uint8_t *der;
    size_t der_len;
    int stripped; /* the store's suffix follows der */
    const char *etag;
    int64_t this_update, next_update;
};

struct ocsp_cache_stats {
    uint64_t hits, misses, inserts, evictions;
};

/* ocsp_cache_new: a cache of about bytes octets (NULL when bytes holds not
 * one set, or out of memory: the shard then reads every time). */
struct ocsp_cache *ocsp_cache_new(size_t bytes);
void ocsp_cache_free(struct ocsp_cache *c);

/* ocsp_cache_get: 1 with *out, 0 on a miss. Counts either. */
int ocsp_cache_get(struct ocsp_cache *c, uint32_t store_uid, int h, const uint8_t *serial, size_t serial_len,
                   struct ocsp_cache_hit *out);

/* ocsp_cache_put keeps a response (copied; ignored past CACHE_DER_MAX). */
void ocsp_cache_put(struct ocsp_cache *c, uint32_t store_uid, int h, const uint8_t *serial, size_t serial_len,
                    const uint8_t *der, size_t der_len, int stripped, const char *etag, int64_t this_update,
                    int64_t next_update);

/* ocsp_cache_stats adds c's counters to out (any thread; NULL c: none). */
void ocsp_cache_stats(const struct ocsp_cache *c, struct ocsp_cache_stats *out);
size_t ocsp_cache_bytes(const struct ocsp_cache *c);

#endif
