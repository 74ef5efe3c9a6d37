/* etag: the HTTP ETag of a signed response or CRL: the lower-case hex
 * SHA-256 of its DER (64 characters and a NUL). Computed once, when the
 * bytes are made (tables, CRL sets, the signing lane), never per request.
 * Any thread. */
#ifndef REVD_COMMON_ETAG_H
#define REVD_COMMON_ETAG_H

#include <stddef.h>
#include <stdint.h>

#define ETAG_LEN 64

/* etag_of writes the ETag of p[0..len) to out. Returns 1, or 0 when the
 * digest failed (out is then empty). */
int etag_of(const uint8_t *p, size_t len, char out[ETAG_LEN + 1]);

#endif
