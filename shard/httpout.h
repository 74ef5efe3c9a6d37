/* httpout: the response heads the shards write (RFC 9110/9112), with the
 * OCSP caching rules of RFC 5019 section 6 and RFC 9919:
 *   Content-Type: application/ocsp-response, Content-Length, Date,
 *   Last-Modified (thisUpdate), Expires (nextUpdate), ETag (hex SHA-256 of
 *   the response, quoted), Cache-Control: max-age=N, public, no-transform,
 *   must-revalidate, N never past nextUpdate nor the next refresh, and at
 *   most the configured cap.
 * Answers that are not authoritative (errors, unauthorized, tryLater) carry
 * Cache-Control: max-age=0, no-cache.
 *
 * Pure; any thread; writes into the caller's buffer (no allocation). Each
 * writer returns the bytes written, or 0 when they do not fit in cap. */
#ifndef REVD_SHARD_HTTPOUT_H
#define REVD_SHARD_HTTPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/etag.h"

#define HTTPOUT_ETAG_LEN ETAG_LEN /* hex SHA-256, unquoted (common/etag.h) */

struct httpout_cache {
    int64_t this_update, next_update;
    int64_t refresh_at;  /* when this response will be re-signed */
    int64_t max_age_cap; /* --max-age (default 3600) */
};

/* httpout_date writes t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT",
 * 29 characters and a NUL). */
void httpout_date(int64_t t, char out[30]);

/* httpout_max_age is the max-age for a response at now: the least of the
 * time to nextUpdate, to the refresh and the cap; 0 when any is past. */
int64_t httpout_max_age(const struct httpout_cache *c, int64_t now);

/* httpout_ocsp writes the head of a 200 answer with the caching headers,
 * and the body unless head_only (HEAD). keep_alive says whether the
 * connection stays open ("Connection: close" otherwise). */
size_t httpout_ocsp(uint8_t *out, size_t cap, const uint8_t *body, size_t body_len,
                    const char etag[HTTPOUT_ETAG_LEN + 1], const struct httpout_cache *c, int64_t now,
                    int keep_alive, int head_only);

/* httpout_crl_head writes the head of a 200 answer carrying a CRL
 * (application/pkix-crl) of body_len octets, with the caching headers; the
 * body is sent from the CRL itself. */
size_t httpout_crl_head(uint8_t *out, size_t cap, size_t body_len, const char etag[HTTPOUT_ETAG_LEN + 1],
                        const struct httpout_cache *c, int64_t now, int keep_alive);

/* httpout_parse_date reads an IMF-fixdate (If-Modified-Since) into Unix
 * seconds. Returns 1, or 0 for anything else. */
int httpout_parse_date(const char *s, size_t n, int64_t *out);

/* httpout_not_modified writes a 304 with the same validators and caching
 * headers (no body). */
size_t httpout_not_modified(uint8_t *out, size_t cap, const char etag[HTTPOUT_ETAG_LEN + 1],
                            const struct httpout_cache *c, int64_t now, int keep_alive);

/* httpout_uncached writes a status with an optional body and
 * Cache-Control: max-age=0, no-cache (error responses, unauthorized,
 * tryLater, 400s). content_type may be NULL when body_len is 0. */
size_t httpout_uncached(uint8_t *out, size_t cap, int status, const char *content_type,
                        const uint8_t *body, size_t body_len, int64_t now, int keep_alive, int head_only);

/* httpout_not_allowed writes a 405 with the Allow header RFC 9110 15.5.6
 * requires: allow lists the methods the resource takes ("GET, HEAD"; at
 * most 48 characters). */
size_t httpout_not_allowed(uint8_t *out, size_t cap, const char *allow, int64_t now, int keep_alive);

/* httpout_etag_matches: whether an If-None-Match field value (a view, as
 * the parser gives it) matches etag: "*", or a comma-separated list of
 * entity-tags compared weakly (W/ ignored, RFC 9110 13.1.2). */
int httpout_etag_matches(const char *inm, size_t inm_len, const char etag[HTTPOUT_ETAG_LEN + 1]);

#endif
