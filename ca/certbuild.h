/* certbuild: one X.509 certificate, built and signed; and the small X.509
 * helpers around it (subjects, PEM, times, digests). Borrowed pointers in
 * struct certbuild; results owned by the caller. Any thread (no shared
 * state), though revd calls it on the CA-core thread. */
#ifndef REVD_CA_CERTBUILD_H
#define REVD_CA_CERTBUILD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "common/rerr.h"

#define CB_KU_DIGITAL_SIGNATURE 1
#define CB_KU_KEY_ENCIPHERMENT 2
#define CB_KU_KEY_CERT_SIGN 4
#define CB_KU_CRL_SIGN 8

struct certbuild {
    X509_NAME *subject;
    EVP_PKEY *pubkey;         /* used when spki is NULL */
    X509_PUBKEY *spki;        /* copied as it is (no re-encoding): the CSR's */
    const uint8_t *serial;
    size_t serial_len;
    int64_t not_before, not_after;
    X509 *issuer_cert; /* NULL: self-signed */
    EVP_PKEY *issuer_key;
    enum ca_key_type issuer_type;
    int is_ca, path_len; /* path_len -1: none */
    int ku;
    const char *eku; /* "serverAuth,clientAuth"; NULL: none */
    int ocsp_nocheck;
    const char *cdp, *ocsp_url, *ca_issuers_url; /* NULL: omitted */
    GENERAL_NAMES *san;
    NAME_CONSTRAINTS *nc; /* a CA's name constraints (critical); NULL: none */
    STACK_OF(X509_EXTENSION) *extra; /* passthrough: added as they are */
};

/* certbuild_sign returns the signed certificate, or NULL with e set. */
X509 *certbuild_sign(const struct certbuild *b, struct rerr *e);

/* certbuild_subject_parse reads "/CN=x/O=y" into a new X509_NAME (caller
 * frees), or NULL with e set. */
X509_NAME *certbuild_subject_parse(const char *s, struct rerr *e);

/* certbuild_x509_pem returns a malloc'd PEM string of x;
 * certbuild_der_to_pem wraps DER certificate bytes as PEM without parsing
 * them. NULL when out of memory. */
char *certbuild_x509_pem(X509 *x);
char *certbuild_der_to_pem(const uint8_t *der, size_t len);

/* certbuild_sig_md: the digest a key type signs with. */
const EVP_MD *certbuild_sig_md(enum ca_key_type t);

/* certbuild_asn1_time converts an ASN1_TIME to Unix seconds (0 if unreadable). */
int64_t certbuild_asn1_time(const ASN1_TIME *t);

#endif
