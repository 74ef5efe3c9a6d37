/* acme/vint: what the challenge validators (acme/validate.c, vhttp.c,
 * vtls.c) share inside acme/: the failure writer, the deadline clock and
 * the per-type entry points. Not for use outside acme/v*.c. Any thread;
 * the validators block (validation threads only). Returns 1/0. */
#ifndef REVD_ACME_VINT_H
#define REVD_ACME_VINT_H

#include <stddef.h>
#include <stdint.h>

#include "acme/validate.h"
#include "acme/vdns.h"

/* acme_vfail sets out's problem (a static string) and detail (printf-style)
 * and returns 0. */
int acme_vfail(struct acme_vresult *out, const char *problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* acme_vnow_ms: CLOCK_MONOTONIC in milliseconds. */
int64_t acme_vnow_ms(void);

/* A validated identifier. */
struct acme_vid {
    int is_ip;
    struct acme_vdns_addr ip;  /* is_ip: the address */
    char name[ACME_ID_MAX + 1]; /* the DNS name (no "*."), or the IP literal as given */
};

/* acme_vhttp01 and acme_vtlsalpn01 validate one challenge for id before
 * deadline (acme_vnow_ms). 1 valid, 0 with out filled. */
int acme_vhttp01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                 const char *token, const char *key_authz, int64_t deadline, struct acme_vresult *out);
int acme_vtlsalpn01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                    const char *key_authz, int64_t deadline, struct acme_vresult *out);

/* acme_vleft_ms: the milliseconds left before deadline, at least 1 (a
 * step started at the deadline fails fast, it does not wait forever). */
int acme_vleft_ms(int64_t deadline);

/* acme_vtls_cert_ok checks a tls-alpn-01 certificate (RFC 8737 section 3,
 * RFC 8738 section 6): a subjectAltName of exactly one entry, id's dNSName
 * (case-insensitive) or iPAddress, and exactly one acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31), critical, whose value is
 *     Authorization ::= OCTET STRING (SIZE (32))
 * equal to digest. Pure (fuzzed: tests/fuzz/fuzz_acme_vtls.c). 1, or 0 with
 * out filled ("unauthorized"). */
struct x509_st;
int acme_vtls_cert_ok(struct x509_st *x, const struct acme_vid *id, const uint8_t digest[32],
                      struct acme_vresult *out);

/* acme_vtls_sni: the SNI for id: the DNS name, or for an IP the reverse
 * name of RFC 8738 section 6 ("1.0.0.127.in-addr.arpa", ip6.arpa nibbles).
 * cap >= 74. */
void acme_vtls_sni(const struct acme_vid *id, char *out, size_t cap);

#endif
