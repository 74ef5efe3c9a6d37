/* gen: one generation of what the shards serve: per CA, its issuer hashes,
 * its certificate (for AIA caIssuers) and its precomputed responses.
 * Built on the CA-core thread (ocsp/precompute.h, ocsp/publish.h), then
 * read-only: the shards read it through an atomic pointer and the builder
 * frees a generation only after every shard has passed a point where it
 * holds no pointer into it (shard/).
 *
 * A CA of a generation (struct gen_ca) is opaque outside ocsp/: the
 * readers below are for any thread; the builders (gen_new, gen_add_ca,
 * gen_ca_set_*, gen_ca_at_mut) are for ocsp/ on the CA-core thread, on a
 * generation not yet published. */
#ifndef REVD_OCSP_GEN_H
#define REVD_OCSP_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "ocsp/request.h"
#include "ocsp/table.h"

struct gen_ca;

struct gen {
    size_t num;
    struct gen_ca *cas;   /* owned; opaque: gen_ca_at */
};

/* gen_find_issuer: the CA whose issuer hashes (for h) are name_hash and
 * key_hash, or NULL. Any thread. */
const struct gen_ca *gen_find_issuer(const struct gen *g, enum ocsp_hash h, const uint8_t *name_hash,
                                     const uint8_t *key_hash);

/* gen_find_name: the CA named name[0..len), or NULL. */
const struct gen_ca *gen_find_name(const struct gen *g, const char *name, size_t len);

/* gen_find_response looks serial up in ca's overlay, then its table: a view
 * of the response for hash h, its ETag and its times. Returns 1 or 0 (then
 * a CA with a store may still hold it there: gen_ca_store). */
int gen_find_response(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len, enum ocsp_hash h,
                      const uint8_t **out, size_t *out_len, const char **etag, int64_t *this_update,
                      int64_t *next_update);

/* gen_has_serial: whether ca has responses for serial (in either table;
 * a CA with a store answers for what is in memory only). */
int gen_has_serial(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len);

/* gen_ca_at: the i-th CA of g (i < g->num). Any thread. */
const struct gen_ca *gen_ca_at(const struct gen *g, size_t i);

/* Readers of one CA (views into it, valid while its generation lives):
 * its name, its number in the index (ocsp/job.h: ca_id), its certificate
 * (DER), its base table and its overlay (responses re-signed since the
 * table was built; NULL when none). Any thread. */
const char *gen_ca_name(const struct gen_ca *ca);
uint32_t gen_ca_id(const struct gen_ca *ca);
const uint8_t *gen_ca_cert(const struct gen_ca *ca, size_t *out_len);
const struct ocsp_table *gen_ca_table(const struct gen_ca *ca);
const struct ocsp_table *gen_ca_overlay(const struct gen_ca *ca);
/* gen_ca_store: the CA's response store (ocsp/store.h) when its responses
 * are on disk (its table is then NULL; the overlay is still looked up
 * first), else NULL. A reader that keeps it past its generation takes a
 * reference (ocsp_store_ref). */
struct ocsp_store;
struct ocsp_store *gen_ca_store(const struct gen_ca *ca);

/* gen_responses: how many certificates the base tables of g answer for
 * (the metric of what is served). Any thread. */
uint64_t gen_responses(const struct gen *g);

/* gen_new: an empty generation with room for max_cas CAs; NULL on out of
 * memory. ocsp/, CA-core thread. */
struct gen *gen_new(size_t max_cas);

/* gen_add_ca: the next CA of g (the caller adds at most max_cas), named name, numbered id,
 * with nothing else yet; counted in g->num at once, so that gen_free frees
 * it however far it was built. ocsp/, CA-core thread. */
struct gen_ca *gen_add_ca(struct gen *g, const char *name, uint32_t id);

/* gen_ca_at_mut: the i-th CA of g, to change (a generation not yet
 * published). ocsp/, CA-core thread. */
struct gen_ca *gen_ca_at_mut(struct gen *g, size_t i);

/* Builders of one CA (a generation not yet published): its issuer hashes
 * for h (ocsp_hash_len(h) octets each are compared; 64 copied), its
 * certificate (der malloc'd, taken), its base table and its overlay (a
 * reference taken, may be NULL; the one it held is dropped). ocsp/, CA-core
 * thread. */
void gen_ca_set_issuer(struct gen_ca *ca, enum ocsp_hash h, const uint8_t name_hash[64], const uint8_t key_hash[64]);
void gen_ca_set_cert(struct gen_ca *ca, uint8_t *der, size_t len);
void gen_ca_set_table(struct gen_ca *ca, struct ocsp_table *table);
void gen_ca_set_overlay(struct gen_ca *ca, struct ocsp_table *overlay);
void gen_ca_set_store(struct gen_ca *ca, struct ocsp_store *store); /* taken (a reference) */

/* gen_clone is a new generation with the same CAs (tables referenced,
 * certificates copied), for the CA-core thread to change and publish.
 * NULL on out of memory. */
struct gen *gen_clone(const struct gen *g);

/* gen_free drops the generation's references (CA-core thread). */
void gen_free(struct gen *g);

#endif
