/* verify: what an edge responder (feed/edge.h) takes from the feed is
 * checked here before it is stored or served. Everything a message carries
 * is hostile: a CA certificate is taken only when it is, or is issued by, a
 * trust anchor the edge was configured with; an OCSP response only when it
 * is a well-formed, successful response about one certificate of a known CA,
 * signed by that CA or by a delegated responder the CA issued for OCSP
 * signing; a CRL only when its CA signed it.
 *
 * Parsing is strict DER under the given length, with nothing after the
 * outer element: a response is read with common/der.h and its signature
 * checked over the tbsResponseData octets as they stand; certificates and
 * CRLs are read with OpenSSL's d2i (the whole length consumed). Caps: a CA
 * certificate 64 KiB, a response 64 KiB with at most 8 certificates, a CRL
 * 2 MiB. Nothing here keeps a pointer into the caller's bytes after
 * returning, except the views of struct feed_ocsp_info (into der, valid
 * while der is).
 *
 * Threads: a struct feed_anchors and a struct feed_trust are made and
 * freed by one thread; feed_verify_ocsp and feed_verify_crl may be called
 * on the same trust from several threads at once (the responder cache is
 * locked: the edge's feed threads, never the request path).
 * Return convention: 1 on success, 0 with e set (a message a person can
 * read: what was wrong). */
#ifndef REVD_FEED_VERIFY_H
#define REVD_FEED_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"
#include "ocsp/request.h"
#include "ocsp/response.h"

struct feed_anchors;
struct feed_trust;

/* feed_anchors_load reads the PEM certificates of path (one or more: the
 * roots or the CAs the edge serves). NULL with e set when the file cannot be
 * read or holds no certificate. */
struct feed_anchors *feed_anchors_load(const char *path, struct rerr *e);
void feed_anchors_free(struct feed_anchors *a); /* accepts NULL */

/* feed_trust_new checks ca_der (a CA certificate, DER) against a: it is
 * one of the anchors, or chains to one (intermediates among the anchors
 * too), with basicConstraints cA; and makes the trust that checks that
 * CA's responses and CRLs. Validity dates are not checked here (there is
 * no now): an edge that wants a CA in date checks it itself. The trust
 * keeps what each response needs precomputed (the CA's key, its subject,
 * its CertID hashes for SHA-1 and SHA-256) and up to 64 checked delegated
 * responders. a is not used after the call. NULL with e set otherwise. */
struct feed_trust *feed_trust_new(const struct feed_anchors *a, const uint8_t *ca_der, size_t len, struct rerr *e);
void feed_trust_free(struct feed_trust *t); /* accepts NULL */

/* What a checked response says (views into its DER). */
struct feed_ocsp_info {
    enum ocsp_hash hash;              /* of its CertID: OCSP_HASH_SHA1 or OCSP_HASH_SHA256 */
    const uint8_t *serial;            /* the CertID's serialNumber, content octets */
    size_t serial_len;
    enum ocsp_cert_status status;
    int64_t revoked_at;               /* OCSP_REVOKED */
    int reason;                       /* CRLReason, or -1 */
    int64_t produced_at, this_update, next_update;
};

/* feed_verify_ocsp checks that der[0..len) is an OCSPResponse with status
 * successful, of type id-pkix-ocsp-basic, with exactly one SingleResponse
 * whose CertID's issuerNameHash and issuerKeyHash are t's CA's for its hash
 * (SHA-1 or SHA-256), with a nextUpdate, signed by t's CA or by a
 * certificate carried in the response that t's CA issued (signature
 * checked), with extendedKeyUsage id-kp-OCSPSigning, valid at now; and that
 * the response's signature is valid. A responder certificate checked once
 * is remembered (by its DER's SHA-256), so a second response it signed
 * costs one signature check. 1 with out filled, or 0 with e set. */
int feed_verify_ocsp(struct feed_trust *t, const uint8_t *der, size_t len, int64_t now, struct feed_ocsp_info *out,
                     struct rerr *e);

/* What a checked CRL says. */
struct feed_crl_info {
    uint64_t number;                  /* cRLNumber (0 when absent; at most 2^64 - 1) */
    int64_t this_update, next_update; /* next_update 0 when absent */
};

/* feed_verify_crl checks that der[0..len) is a CRL (v2) issued by t's CA
 * (issuer name equal to its subject) and signed by its key. 1 with out
 * filled, or 0 with e set. */
int feed_verify_crl(struct feed_trust *t, const uint8_t *der, size_t len, struct feed_crl_info *out, struct rerr *e);

#endif
