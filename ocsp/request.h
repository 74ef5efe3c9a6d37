/* request: an OCSPRequest (RFC 6960 4.1.1), parsed under a length from
 * hostile bytes into the one question revd answers from its precomputed
 * store: the first CertID, and the nonce if one was sent; the other
 * CertIDs of a request with several are read with ocsp_request_get.
 *
 *   OCSPRequest ::= SEQUENCE {
 *       tbsRequest              TBSRequest,
 *       optionalSignature   [0] EXPLICIT Signature OPTIONAL }
 *   TBSRequest ::= SEQUENCE {
 *       version             [0] EXPLICIT Version DEFAULT v1,
 *       requestorName       [1] EXPLICIT GeneralName OPTIONAL,
 *       requestList             SEQUENCE OF Request,
 *       requestExtensions   [2] EXPLICIT Extensions OPTIONAL }
 *   Request ::= SEQUENCE {
 *       reqCert                     CertID,
 *       singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 *   CertID ::= SEQUENCE {
 *       hashAlgorithm   AlgorithmIdentifier,
 *       issuerNameHash  OCTET STRING,
 *       issuerKeyHash   OCTET STRING,
 *       serialNumber    CertificateSerialNumber }
 *
 * Pure; any thread (a shard calls it on the request path: no allocation). */
#ifndef REVD_OCSP_REQUEST_H
#define REVD_OCSP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/* Caps on what a client declares. */
#define OCSP_REQ_MAX_BYTES 4096  /* the POST body cap; a GET decodes to less */
#define OCSP_REQ_MAX_REQUESTS 64 /* entries in requestList */
#define OCSP_NONCE_MAX 128       /* RFC 9654: 1..32 octets SHOULD; we accept up to 128 */

enum ocsp_hash { OCSP_HASH_SHA1, OCSP_HASH_SHA256, OCSP_HASH_SHA384, OCSP_HASH_SHA512 };

struct ocsp_req {
    enum ocsp_hash hash;
    const uint8_t *name_hash, *key_hash; /* views; hash-length octets each */
    size_t hash_len;
    const uint8_t *serial; /* INTEGER content octets, minimal; a view */
    size_t serial_len;
    const uint8_t *certid; /* the whole first CertID element, for the response */
    size_t certid_len;
    const uint8_t *nonce; /* the nonce extension's value (the OCTET STRING's
                             contents inside extnValue); NULL when absent */
    size_t nonce_len;
    size_t num_requests;
    const uint8_t *list; /* requestList's contents (every Request), a view */
    size_t list_len;
    int signed_request; /* optionalSignature present (not verified) */
};

enum ocsp_req_result {
    OCSP_REQ_OK,
    OCSP_REQ_MALFORMED,   /* answer malformedRequest */
    OCSP_REQ_UNSUPPORTED, /* well-formed, but a hash algorithm revd does not
                             answer for: answer unauthorized */
};

/* ocsp_request_parse parses p[0..len) (the whole body; trailing bytes are
 * malformed). Every element of the structure is checked to be well-formed
 * strict DER (extensions included, though only the nonce is read); serials
 * must be positive; a hash's octet strings must have its digest length; the
 * AlgorithmIdentifier's parameters must be absent or NULL. Outputs are
 * views into p. */
enum ocsp_req_result ocsp_request_parse(const uint8_t *p, size_t len, struct ocsp_req *out);

/* ocsp_request_get reads the i-th Request (0: the first) of q, a request
 * ocsp_request_parse accepted (OK or UNSUPPORTED), into *out: its CertID's
 * fields (hash, name_hash, key_hash, hash_len, serial, certid), views into
 * the same bytes as q's; the request-wide fields (nonce, num_requests...)
 * are left zero. Returns OCSP_REQ_OK, UNSUPPORTED for a hash revd does not
 * answer, or MALFORMED when i >= q->num_requests. Pure; any thread. */
enum ocsp_req_result ocsp_request_get(const struct ocsp_req *q, size_t i, struct ocsp_req *out);

#endif
