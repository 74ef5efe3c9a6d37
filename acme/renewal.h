/* renewal: ACME Renewal Information (RFC 9773). A client asks, without
 * signing, GET BASE/acme/renewal-info/CERTID (CERTID: base64url of the
 * certificate's authority key identifier, ".", base64url of its serial's
 * octets) and gets the window in which to renew, computed from revd's own
 * state:
 *   - revoked (or on hold), its CA disabled, deleted or revoked: a window
 *     that has already begun (renew now), one hour wide;
 *   - marked for early renewal by the operator (one certificate, a CRL
 *     partition, or a whole CA: acme_renew_early): from the mark, as wide as
 *     the mark's spread, so that a fleet renews spread out (clients pick a
 *     random point in the window, RFC 9773 4.2);
 *   - its CA expires within 30 days of the certificate's notAfter (a CA
 *     about to rotate): the next day;
 *   - else the last third of its life but the final sixth (60 to 75 days
 *     into a 90-day certificate).
 * Only certificates this ACME server issued are known (404 otherwise).
 *
 * Thread: the CA-core thread. Returns: 1/0 with e set unless said. */
#ifndef REVD_ACME_RENEWAL_H
#define REVD_ACME_RENEWAL_H

#include <stdint.h>

#include "acme/call.h"

#define ACME_RENEWAL_RETRY_S 21600 /* Retry-After of an answer: 6 h */
#define ACME_RENEW_EARLY_SPREAD_MAX_S (30 * 86400)

/* acme_renewal_info answers GET .../renewal-info/certid (k has no JWS). */
void acme_renewal_info(struct acme_call *k, const char *certid);

/* acme_renew_early marks certificates of CA ca for renewal now: the one
 * with serial (hex), or those on CRL partition partition (>= 0), or all of
 * them (all), over spread_s seconds (1 to ACME_RENEW_EARLY_SPREAD_MAX_S).
 * Audited. */
int acme_renew_early(struct ca_core *c, const char *ca, const char *serial, long partition, int all, int64_t spread_s,
                     struct rerr *e);

/* acme_certid_serial reads a CERTID into its key identifier (at most 64
 * octets) and serial (hex, as `openssl x509 -serial`). Pure. */
int acme_certid_parse(const char *certid, uint8_t aki[64], size_t *aki_len, char serial[2 * 21 + 3]);

#endif
