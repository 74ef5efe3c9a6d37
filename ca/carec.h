/* carec: the CA record ('a' keys, ca/ikey.h) as JSON: small, few, and easy
 * to extend; and the 'm' "next_ca_id" counter written with it. On disk: the
 * JSON's members and their order must not change. CA-core thread. */
#ifndef REVD_CA_CAREC_H
#define REVD_CA_CAREC_H

#include <stddef.h>

#include <jansson.h>

#include "ca/core.h"
#include "ca/store.h"

/* carec_encode returns ca's record (malloc'd JSON text, the caller frees)
 * and fills key; NULL when out of memory. */
char *carec_encode(const struct ca *ca, uint8_t key[1 + CA_NAME_MAX], size_t *key_len);

/* carec_decode builds a CA from its record j (DIR c->dir names its
 * certificate file). Returns a new CA (free with core_ca_free), or NULL
 * with e set (a damaged record). */
struct ca *carec_decode(const struct ca_core *c, json_t *j, struct rerr *e);

/* carec_put adds ca's record, and c->next_ca_id, to b. Returns 1/0 (out
 * of memory). */
int carec_put(struct ca_core *c, struct store_batch *b, const struct ca *ca);

#endif
