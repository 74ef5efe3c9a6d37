/* set: the CRLs the shards serve, by HTTP path. A crl_blob is one signed
 * CRL, immutable once made, shared by reference: the CA-core thread makes
 * it and puts it in sets; a shard takes a reference while it sends one to a
 * slow client (so a newer CRL may replace it meanwhile). References are
 * atomic; whoever drops the last one frees the blob.
 *
 * A crl_set is an immutable map from path to blob, built on the CA-core
 * thread and read by the shards' CRL handler (crl/handler.h) from the slot
 * the serving process publishes it in; a published set is a reference
 * (CA-core thread only). */
#ifndef REVD_CRL_SET_H
#define REVD_CRL_SET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/etag.h"

struct crl_blob {
    _Atomic int refs;
    char path[336];  /* "/crl/NAME/3.crl" */
    uint64_t number;
    int64_t this_update, next_update;
    int64_t refresh_at; /* when it is rebuilt at the latest (re-signed): caches stop before */
    char etag[ETAG_LEN + 1]; /* hex SHA-256 of the DER */
    size_t len;
    uint8_t der[];
};

/* crl_blob_new copies der into a new blob (one reference) and computes its
 * ETag. NULL on out of memory. */
struct crl_blob *crl_blob_new(const char *path, const uint8_t *der, size_t len, uint64_t number, int64_t this_update,
                              int64_t next_update, int64_t refresh_at);
struct crl_blob *crl_blob_ref(struct crl_blob *b);
void crl_blob_put(struct crl_blob *b); /* any thread */

struct crl_set;

/* crl_set_with: a new set holding old's blobs (may be NULL) with b[0..n)
 * added, each replacing the blob of the same path. Takes a reference to
 * each blob it holds. NULL on out of memory. CA-core thread. */
struct crl_set *crl_set_with(const struct crl_set *old, struct crl_blob *const *b, size_t n);

/* crl_set_find: the blob at path[0..len), or NULL. Any thread. */
struct crl_blob *crl_set_find(const struct crl_set *s, const char *path, size_t len);

/* crl_set_count / crl_set_at: walk the blobs (CA-core thread). */
size_t crl_set_count(const struct crl_set *s);
struct crl_blob *crl_set_at(const struct crl_set *s, size_t i);

struct crl_set *crl_set_ref(struct crl_set *s);
void crl_set_free(struct crl_set *s); /* drops a reference; CA-core thread */

#endif
