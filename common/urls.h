/* urls: where revd publishes what, from a CA's base URL (docs/urls.md).
 * The same functions build the URLs written into certificates and the paths
 * the server answers, so the two cannot drift. Pure; any thread. */
#ifndef REVD_COMMON_URLS_H
#define REVD_COMMON_URLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define URLS_MAX 256
/* The longest base URL: what is left of URLS_MAX - 1 after the longest
 * suffix, "/crl/" + a 64-character CA name + "/4294967295.crl". */
#define URLS_BASE_MAX (URLS_MAX - 1 - 5 - 64 - 15)

/* The partition that holds the CA certificates a CA issues (its
 * onlyContainsCACerts CRL). */
#define URLS_PART_CA 0xffffffffu
/* Partitions at or above this hold imported certificates that keep the CDP
 * they were issued with; the URL is stored with the partition. */
#define URLS_PART_EXTERNAL 0x80000000u
/* No CRL: revd's own OCSP responder certificates (id-pkix-ocsp-nocheck,
 * no CDP, short-lived; RFC 6960 4.2.2.2.1). None of a CA's CRL scopes fits
 * them (its CA-scope CRL says onlyContainsCACerts, RFC 5280 5.2.5), and a
 * revoked responder is retired at once (ca/responder.c), not listed. */
#define URLS_PART_NONE 0xfffffffeu

/* urls_normalize_base checks a base URL and writes its canonical form to out:
 * scheme http or https, lower-case scheme and host, optional port, optional
 * path, no trailing '/', no query, fragment, user info or percent-escapes
 * (OpenSSL matches IDP and CDP byte for byte; others case-insensitively).
 * Returns 1, or 0 with e set. */
int urls_normalize_base(const char *in, char out[URLS_MAX], struct rerr *e);

/* Each writes a URL into out (URLS_MAX bytes). Returns 1, or 0 if it would
 * not fit. */
int urls_crl_partition(const char *base, const char *ca, uint32_t part, char *out);
int urls_crl_complete(const char *base, const char *ca, char *out);
int urls_crl_ca_scope(const char *base, const char *ca, char *out);
int urls_ocsp(const char *base, char *out);
int urls_ca_issuers(const char *base, const char *ca, char *out);

#endif
