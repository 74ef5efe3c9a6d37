/* jws: the JSON Web Signatures that carry every ACME request (RFC 8555
 * section 6.2, RFC 7515), the JWKs that name account keys (RFC 7517/7518),
 * their thumbprints (RFC 7638) and the external account binding (RFC 8555
 * section 7.3.4).
 *
 * Only the flattened JSON serialization is read. Everything here is a pure
 * function of its arguments (no I/O, no clock): the caller checks the nonce,
 * the URL against the request's, and looks the kid up. The input is hostile:
 * the body is capped (JWS_MAX_BODY), every string under its field's size,
 * duplicate JSON members are refused, and base64url is strict.
 *
 * Returns 1/0 (jwk_to_key a key or NULL). On failure *problem (where taken)
 * is an ACME error type suffix ("malformed", "badSignatureAlgorithm",
 * "badPublicKey", "unauthorized") and e says what was wrong.
 * Ownership: a struct jws owns its jwk and buffers (jws_free); jwk_to_key's
 * key belongs to the caller (EVP_PKEY_free). Any thread; nothing shared. */
#ifndef REVD_ACME_JWS_H
#define REVD_ACME_JWS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "common/rerr.h"

/* The largest request body (and largest field of a JWS) that is read. */
#define JWS_MAX_BODY (64 * 1024)

struct jws {
    char alg[8];        /* "RS256" | "ES256" | "ES384" (outer), "HS256" | "HS384" | "HS512" (EAB) */
    char nonce[128];    /* "" when absent */
    char url[1024];
    char kid[1024];     /* "" when the header has a jwk */
    json_t *jwk;        /* owned; NULL when kid */
    uint8_t *payload;   /* decoded, owned, always followed by one NUL byte */
    size_t payload_len; /* 0: the payload was "" (POST-as-GET) */
    /* private to jws.c: */
    char *signing_input; /* ASCII(protected) '.' ASCII(payload), NUL-terminated */
    size_t signing_input_len;
    uint8_t *sig;
    size_t sig_len;
};

/* jws_parse reads a request body body[0..len) (no NUL needed): a JSON object
 * with exactly the members "protected", "payload" and "signature" (strings).
 * The protected header must hold "alg" (RS256, ES256 or ES384: anything else,
 * "none" and HS* included, is badSignatureAlgorithm), "url" (string),
 * optionally "nonce" (string), and exactly one of "jwk" (object) and "kid"
 * (string); "crit" or "b64" is malformed. With a jwk, the alg must fit its
 * key type (RS256: RSA; ES256: EC P-256; ES384: EC P-384). The signature is
 * not checked: see jws_verify. On success *out owns what it holds (jws_free);
 * on failure *out is zeroed. */
int jws_parse(const char *body, size_t len, struct jws *out, const char **problem, struct rerr *e);

/* jws_parse_json is jws_parse on an object already parsed (the inner JWS of a
 * key change, RFC 8555 section 7.3.5), with the same rules. obj is borrowed. */
int jws_parse_json(const json_t *obj, struct jws *out, const char **problem, struct rerr *e);

/* jws_free releases what j owns and zeroes it; safe on a zeroed struct. */
void jws_free(struct jws *j);

/* jwk_to_key returns the public key of a JWK: kty "RSA" (n, e; a modulus of
 * 2048 to 8192 bits, an odd exponent >= 3) or kty "EC" (crv "P-256" or
 * "P-384", x and y of exactly the curve's size, the point on the curve).
 * Integers must be minimal (no leading zero octet). A private member ("d",
 * "p", "q", "dp", "dq", "qi", "oth") or anything else is badPublicKey.
 * Returns a new key (the caller frees it) or NULL. */
EVP_PKEY *jwk_to_key(const json_t *jwk, const char **problem, struct rerr *e);

/* jwk_thumbprint writes the RFC 7638 thumbprint (SHA-256, base64url: 43
 * characters and a NUL) of an RSA or EC JWK to out. The members it hashes
 * must be base64url text (and crv P-256 or P-384). 1/0. */
int jwk_thumbprint(const json_t *jwk, char out[44], struct rerr *e);

/* jws_verify checks j's signature with key: RS256 needs an RSA key, ES256 a
 * P-256 key, ES384 a P-384 key (any other pairing fails). ES signatures are
 * raw r||s of exactly 64 or 96 bytes (RFC 7518 section 3.4); DER is refused.
 * 1 when the signature is good, else 0. */
int jws_verify(const struct jws *j, EVP_PKEY *key, struct rerr *e);

/* jws_eab_parse reads the externalAccountBinding member of a newAccount
 * payload (RFC 8555 section 7.3.4): a flattened JWS object whose header has
 * alg HS256, HS384 or HS512 (anything else: malformed), "kid" and "url"
 * (required), and neither "nonce" nor "jwk" (malformed); the payload must not
 * be empty. eab is borrowed; *out as for jws_parse. */
int jws_eab_parse(const json_t *eab, struct jws *out, const char **problem, struct rerr *e);

/* jws_eab_verify checks a parsed binding: eab->url equals url, the payload is
 * JSON equal to outer_jwk (the account key of the outer JWS), and the MAC
 * under hmac_key[0..key_len) (the decoded key; at least one byte) matches,
 * compared in constant time. 1/0. */
int jws_eab_verify(const struct jws *eab, const uint8_t *hmac_key, size_t key_len, const char *url,
                   const json_t *outer_jwk, struct rerr *e);

#endif
