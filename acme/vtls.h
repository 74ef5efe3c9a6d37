/* acme/vtls: the tls-alpn-01 challenge (RFC 8737; IP identifiers RFC 8738
 * section 6). acme_vtlsalpn01 blocks (a validation thread only); the other
 * two are pure, any thread. Returns 1/0. */
#ifndef REVD_ACME_VTLS_H
#define REVD_ACME_VTLS_H

#include <stddef.h>
#include <stdint.h>

#include "acme/vutil.h"

/* acme_vtlsalpn01 connects to id at tls_port before deadline, offers ALPN
 * acme-tls/1 only (it must be agreed) and checks the certificate with
 * acme_vtls_cert_ok. 1 valid, 0 with out filled. */
int acme_vtlsalpn01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                    const char *key_authz, int64_t deadline, struct acme_vresult *out);

/* acme_vtls_cert_ok checks a tls-alpn-01 certificate (RFC 8737 section 3,
 * RFC 8738 section 6): a subjectAltName of exactly one entry, id's dNSName
 * (case-insensitive) or iPAddress, and exactly one acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31), critical, whose value is
 *     Authorization ::= OCTET STRING (SIZE (32))
 * equal to digest. x is borrowed. Fuzzed (tests/fuzz/fuzz_acme_vtls.c).
 * 1, or 0 with out filled ("unauthorized"). */
struct x509_st;
int acme_vtls_cert_ok(struct x509_st *x, const struct acme_vid *id, const uint8_t digest[32],
                      struct acme_vresult *out);

/* acme_vtls_sni: the SNI for id: the DNS name, or for an IP the reverse
 * name of RFC 8738 section 6 ("1.0.0.127.in-addr.arpa", ip6.arpa nibbles).
 * cap >= 74. */
void acme_vtls_sni(const struct acme_vid *id, char *out, size_t cap);

#endif
