/* acme/validate: ACME challenge validation (RFC 8555 section 8): http-01,
 * dns-01 (RFC 8555 8.3, 8.4) and tls-alpn-01 (RFC 8737), for DNS and IP
 * identifiers (RFC 8738). Outbound HTTP goes through libcurl, names are
 * resolved by libresolv asking only the configured resolver, TLS through
 * OpenSSL without chain verification (the challenge is the proof).
 *
 * Blocking and thread-safe: no state beyond curl_global_init, done once.
 * Call from a validation thread, never from a serving or the CA-core
 * thread. The process must ignore SIGPIPE (revd does, node/ctl.c): the
 * TLS client writes to a socket the peer may have closed. Returns 1/0; on 0 the result says why (an ACME problem type and a
 * detail for the problem document). */
#ifndef REVD_ACME_VALIDATE_H
#define REVD_ACME_VALIDATE_H

#include "acme/vtypes.h"
#include "common/rerr.h"

/* acme_validate validates one challenge. id_type "dns" or "ip"; id_value
 * the identifier ("www.example.test"; "*.example.test" for dns-01, whose
 * base name is validated; "127.0.0.1" or an IPv6 literal); token the
 * challenge token; key_authz = token "." thumbprint. Returns 1 valid, 0
 * invalid with out filled. Nothing is kept; the caller owns every
 * argument. Any thread but a serving or the CA-core thread (it blocks up
 * to about cf->timeout_ms). */
int acme_validate(const struct acme_vconf *cf, enum acme_chal_type t, const char *id_type,
                  const char *id_value, const char *token, const char *key_authz,
                  struct acme_vresult *out);

/* acme_vconf_resolver_ok checks a --acme-resolver value (for the settings
 * table): "" (the system's), "A.B.C.D" or "A.B.C.D:PORT". Returns 1, or 0
 * with e set. Any thread. */
int acme_vconf_resolver_ok(const char *s, struct rerr *e);

#endif
