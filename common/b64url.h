/* b64url: base64url without padding (RFC 4648 section 5; RFC 7515 section 2),
 * the encoding of every binary field in JOSE and ACME.
 *
 * Decoding is strict, because a JWS is compared and hashed as text: only the
 * alphabet A-Z a-z 0-9 '-' '_', no '=' padding, no whitespace, no length
 * with len % 4 == 1, and the unused low bits of the last character must be
 * zero (so every byte string has exactly one accepted encoding).
 * Pure functions; 1/0 returns (encode returns a count); any thread. */
#ifndef REVD_COMMON_B64URL_H
#define REVD_COMMON_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters that encoding n bytes writes (no padding, excluding the NUL). */
#define B64URL_ENC_LEN(n) ((((n) * 4) + 2) / 3)
/* The most bytes that n characters can decode to. */
#define B64URL_DEC_MAX(n) (((n) * 3) / 4)

/* b64url_encode writes the encoding of in[0..len) and a NUL to out, which
 * holds out_size bytes (at least B64URL_ENC_LEN(len) + 1). Returns the
 * characters written (excluding the NUL), or 0 with out untouched when
 * out_size is too small (and 0 for len 0, after writing the NUL). */
size_t b64url_encode(const uint8_t *in, size_t len, char *out, size_t out_size);

/* b64url_decode reads in[0..len) (no NUL needed) into out, which holds
 * out_size bytes (B64URL_DEC_MAX(len) is always enough). Returns 1 and sets
 * *out_len, or 0 on anything that is not the canonical encoding or does not
 * fit; out may then hold garbage. */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t out_size, size_t *out_len);

#endif
