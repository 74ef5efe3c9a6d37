/* getpath: the request of an OCSP GET (RFC 6960 A.1): the path after the
 * OCSP URL's path is the URL-encoding of the base64 of the DER request.
 * Real clients send it in many spellings; all decode to the same bytes:
 *   - percent-escapes (%2B %2F %3D, either case; any %XX is decoded),
 *   - '+' as itself (not a space: base64, not a form),
 *   - base64url ('-' and '_' for '+' and '/'),
 *   - missing '=' padding,
 *   - extra '/' in front ("{url}//{b64}", from an OCSP URL that ends in
 *     '/'): leading '/' are skipped (the base64 of a DER SEQUENCE starts
 *     with 'M'); inside, '/' and "//" are base64 characters, as sent.
 *   - whitespace, '=' anywhere but at the end, and anything else: refused.
 * Pure; any thread (the shards call it: no allocation). */
#ifndef REVD_OCSP_GETPATH_H
#define REVD_OCSP_GETPATH_H

#include <stddef.h>
#include <stdint.h>

/* The longest encoded path accepted: the shards' request-target cap
 * (HTTP_MAX_TARGET, RFC 9110 4.1's 8,000 octets and more). The base64 of the
 * largest request (OCSP_REQ_MAX_BYTES) is 5,464 characters; escapes and
 * leading '/' take the rest. */
#define GETPATH_MAX 8192

/* getpath_decode decodes the encoded request s[0..len) (the part of the
 * path after "{ocsp-path}/", without query string) into out, which holds
 * out_cap bytes. Returns 1 and *out_len, or 0 when it is not base64 of at
 * most out_cap bytes (bad escapes, bad characters, impossible length,
 * non-zero trailing bits, len over GETPATH_MAX). */
int getpath_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

#endif
