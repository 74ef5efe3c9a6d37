/* response: OCSP responses (RFC 6960 4.2) built directly in DER.
 *
 *   OCSPResponse ::= SEQUENCE {
 *       responseStatus  OCSPResponseStatus,          -- ENUMERATED
 *       responseBytes   [0] EXPLICIT ResponseBytes OPTIONAL }
 *   ResponseBytes ::= SEQUENCE {
 *       responseType    OBJECT IDENTIFIER,           -- id-pkix-ocsp-basic
 *       response        OCTET STRING }               -- BasicOCSPResponse
 *   BasicOCSPResponse ::= SEQUENCE {
 *       tbsResponseData     ResponseData,
 *       signatureAlgorithm  AlgorithmIdentifier,
 *       signature           BIT STRING,
 *       certs           [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 *   ResponseData ::= SEQUENCE {
 *       version         [0] EXPLICIT Version DEFAULT v1,   -- omitted
 *       responderID         ResponderID,     -- byKey [2] EXPLICIT KeyHash
 *       producedAt          GeneralizedTime,
 *       responses           SEQUENCE OF SingleResponse,
 *       responseExtensions  [1] EXPLICIT Extensions OPTIONAL }  -- nonce
 *   SingleResponse ::= SEQUENCE {
 *       certID              CertID,
 *       certStatus          CertStatus,
 *       thisUpdate          GeneralizedTime,
 *       nextUpdate      [0] EXPLICIT GeneralizedTime OPTIONAL,  -- always
 *       singleExtensions [1] EXPLICIT Extensions OPTIONAL }
 *   CertStatus ::= CHOICE {
 *       good    [0] IMPLICIT NULL,
 *       revoked [1] IMPLICIT RevokedInfo,
 *       unknown [2] IMPLICIT UnknownInfo }           -- NULL
 *   RevokedInfo ::= SEQUENCE {
 *       revocationTime      GeneralizedTime,
 *       revocationReason [0] EXPLICIT CRLReason OPTIONAL }
 *
 * The private key stays in ca/: the builder hands the DER of
 * tbsResponseData to a signing callback and places the signature it gets.
 * Pure apart from the callback; any thread. */
#ifndef REVD_OCSP_RESPONSE_H
#define REVD_OCSP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/signer.h"
#include "ocsp/request.h"

enum ocsp_resp_status {
    OCSP_SUCCESSFUL = 0,
    OCSP_MALFORMED_REQUEST = 1,
    OCSP_INTERNAL_ERROR = 2,
    OCSP_TRY_LATER = 3,
    OCSP_SIG_REQUIRED = 5,
    OCSP_UNAUTHORIZED = 6,
};

enum ocsp_cert_status { OCSP_GOOD, OCSP_REVOKED, OCSP_UNKNOWN };

/* Responses are signed by a struct ca_signer (ca/signer.h). */
#define OCSP_SIG_MAX CA_SIG_MAX

struct ocsp_single {
    const uint8_t *certid; /* a whole CertID element, DER */
    size_t certid_len;
    enum ocsp_cert_status status;
    int64_t revoked_at;    /* OCSP_REVOKED */
    int reason;            /* CRLReason, or -1: none given */
    int64_t this_update, next_update;
};

/* How long a response is valid (nextUpdate - thisUpdate): the default of
 * `revd serve --validity` and of the commands that sign one, and its
 * bounds (the setting's range). */
#define OCSP_VALIDITY_DEFAULT_S (4 * 86400)
#define OCSP_VALIDITY_MIN_S (8 * 3600)
#define OCSP_VALIDITY_MAX_S (7 * 86400)

/* By default responses are dated this much before they are signed, so
 * that a client whose clock is slow does not take a fresh one as not yet
 * valid (RFC 6960 4.2.2.1; RFC 5019 4 allows for clock skew too); revd
 * serve --ocsp-backdate sets it (0 to OCSP_BACKDATE_MAX_S). */
#define OCSP_BACKDATE_S 60
#define OCSP_BACKDATE_MAX_S 3600

/* ocsp_response_certs_block writes into out[0..cap) what ends every
 * response s signs (ocsp_response_sign): the [0] EXPLICIT SEQUENCE OF
 * Certificate holding s->cert, or nothing when s sends no certificate
 * (*len 0). A store keeps it once per CA (ocsp/store.h). Returns 1, or 0
 * when it does not fit. */
int ocsp_response_certs_block(const struct ca_signer *s, uint8_t *out, size_t cap, size_t *len);

/* ocsp_times gives the thisUpdate and nextUpdate of a response signed at
 * now for a certificate valid until cert_not_after: thisUpdate is now less
 * backdate; nextUpdate is now + validity, but never later than
 * cert_not_after: a status claim about a certificate past its own end
 * means nothing, and stapling servers refuse such a response (Caddy: "valid
 * after certificate expiration"). Returns 0 when the certificate has
 * expired by now (nothing to sign), else 1. Pure; any thread. */
int ocsp_times(int64_t now, int64_t validity, int64_t backdate, int64_t cert_not_after, int64_t *this_update,
               int64_t *next_update);

/* ocsp_response_sign builds a signed, successful OCSPResponse for one
 * SingleResponse (nonce: NULL for none, else echoed in a nonce extension)
 * into out[0..out_cap). Returns 1 and *out_len, or 0 (too small, or the
 * callback failed). */
int ocsp_response_sign(const struct ca_signer *s, const struct ocsp_single *r, int64_t produced_at,
                       const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t out_cap,
                       size_t *out_len);

/* ocsp_response_sign_many is ocsp_response_sign for a request with several
 * CertIDs: one response with a SingleResponse for each of r[0..num) (num
 * >= 1), in that order (RFC 6960 4.2.2.3: one for each certificate in the
 * request). */
int ocsp_response_sign_many(const struct ca_signer *s, const struct ocsp_single *r, size_t num, int64_t produced_at,
                            const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* ocsp_response_error writes the 5-octet OCSPResponse with only a status
 * (malformedRequest, internalError, tryLater, sigRequired, unauthorized).
 * Returns its length. */
size_t ocsp_response_error(enum ocsp_resp_status st, uint8_t out[5]);

/* ocsp_certid_build writes a CertID element for hash h, the issuer's name
 * and key hashes (hash-length octets each) and a serial (INTEGER content
 * octets). Returns 1 and *out_len, or 0 when it does not fit. */
int ocsp_certid_build(enum ocsp_hash h, const uint8_t *name_hash, const uint8_t *key_hash,
                      const uint8_t *serial, size_t serial_len, uint8_t *out, size_t out_cap,
                      size_t *out_len);

/* ocsp_hash_len is the digest length of h. */
size_t ocsp_hash_len(enum ocsp_hash h);

#endif
