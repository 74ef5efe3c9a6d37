/* partition: a CA's CRL partitions: the CDP URL of each, and how many
 * certificates one holds by default. Pure; any thread. */
#ifndef REVD_CA_PARTITION_H
#define REVD_CA_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "ca/core.h"

/* partition_url writes the CDP of partition part of ca ("" for
 * URLS_PART_NONE). Returns 1, or 0 when it does not fit. */
int partition_url(const struct ca *ca, uint32_t part, char out[URLS_MAX]);

/* partition_default_size: the most certificates whose fully revoked CRL
 * (every entry with a reason and an invalidity date) stays within max_bytes. */
uint32_t partition_default_size(uint32_t max_bytes, size_t issuer_name_len, size_t url_len,
                                enum ca_key_type key);

#endif
