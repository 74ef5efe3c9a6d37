/* gen: one generation of what the shards serve: per CA, its issuer hashes,
 * its certificate (for AIA caIssuers) and its precomputed responses.
 * Built on the CA-core thread, then read-only: the shards read it through
 * an atomic pointer and the builder frees a generation only after every
 * shard has passed a point where it holds no pointer into it (shard/). */
#ifndef REVD_OCSP_GEN_H
#define REVD_OCSP_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "ocsp/request.h"
#include "ocsp/table.h"

struct gen_ca {
    char name[65];
    uint32_t id; /* the CA's number in the index (ocsp/job.h: ca_id) */
    uint8_t name_hash[4][64], key_hash[4][64]; /* per enum ocsp_hash; its digest length used */
    struct ocsp_table *table;   /* a reference: generations share base tables */
    struct ocsp_table *overlay; /* responses re-signed since table was built; a
                                   reference; NULL when none. Looked up first. */
    uint8_t *cert_der; /* owned */
    size_t cert_len;
};

struct crl_set;

struct gen {
    size_t num;
    struct gen_ca *cas;   /* owned */
    struct crl_set *crls; /* the CRLs served (crl/set.h), a reference; may be NULL */
};

/* gen_find_issuer: the CA whose issuer hashes (for h) are name_hash and
 * key_hash, or NULL. Any thread. */
const struct gen_ca *gen_find_issuer(const struct gen *g, enum ocsp_hash h, const uint8_t *name_hash,
                                     const uint8_t *key_hash);

/* gen_find_name: the CA named name[0..len), or NULL. */
const struct gen_ca *gen_find_name(const struct gen *g, const char *name, size_t len);

/* gen_find_response looks serial up in ca's overlay, then its table: a view
 * of the response for hash h, its ETag and its times. Returns 1 or 0. */
int gen_find_response(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len, enum ocsp_hash h,
                      const uint8_t **out, size_t *out_len, const char **etag, int64_t *this_update,
                      int64_t *next_update);

/* gen_has_serial: whether ca has responses for serial (in either table). */
int gen_has_serial(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len);

/* gen_clone is a new generation with the same CAs (tables referenced,
 * certificates copied), for the CA-core thread to change and publish.
 * NULL on out of memory. */
struct gen *gen_clone(const struct gen *g);

/* gen_free drops the generation's references (CA-core thread). */
void gen_free(struct gen *g);

#endif
