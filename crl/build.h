/* build: a CRL (RFC 5280 5.1) encoded directly in DER, one partition at a
 * time: no OpenSSL X509_CRL objects (about 7 us per entry), a few
 * milliseconds for a full partition of ~12,000 entries.
 *
 *   CertificateList ::= SEQUENCE {
 *       tbsCertList          TBSCertList,
 *       signatureAlgorithm   AlgorithmIdentifier,
 *       signatureValue       BIT STRING }
 *   TBSCertList ::= SEQUENCE {
 *       version              INTEGER (v2 = 1),
 *       signature            AlgorithmIdentifier,
 *       issuer               Name,
 *       thisUpdate           Time,
 *       nextUpdate           Time,
 *       revokedCertificates  SEQUENCE OF SEQUENCE {
 *           userCertificate     CertificateSerialNumber,
 *           revocationDate      Time,
 *           crlEntryExtensions  Extensions OPTIONAL } OPTIONAL,  -- absent when empty
 *       crlExtensions    [0] EXPLICIT Extensions }
 *
 * Time is UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280
 * 4.1.2.5). Entry extensions: reasonCode (ENUMERATED; absent for
 * unspecified, RFC 5280 5.3.1), invalidityDate (GeneralizedTime) when
 * given. CRL extensions, in this order: authorityKeyIdentifier (keyIdentifier
 * only), cRLNumber, and a critical issuingDistributionPoint when a URI is
 * given (distributionPoint fullName [URI]) or the scope is not
 * CRL_SCOPE_ALL, with onlyContainsUserCerts or onlyContainsCACerts per
 * scope. Reason 7 (unused) is refused; times before 1950 are
 * GeneralizedTime too. The tbs pointer the callback gets is valid only
 * during the call.
 *
 * The private key stays in ca/: the builder hands the DER of tbsCertList to
 * a signing callback and places the signature it returns. Pure apart from
 * the callback; any thread. */
#ifndef REVD_CRL_BUILD_H
#define REVD_CRL_BUILD_H

#include <stddef.h>
#include <stdint.h>

enum crl_scope {
    CRL_SCOPE_ALL,        /* no onlyContains... flag (a complete CRL, an imported CDP's) */
    CRL_SCOPE_USER_CERTS, /* onlyContainsUserCerts: end-entity partitions */
    CRL_SCOPE_CA_CERTS,   /* onlyContainsCACerts: the CA-scope CRL */
};

struct crl_entry {
    const uint8_t *serial; /* INTEGER content octets (positive, minimal), a view */
    size_t serial_len;     /* 1..21 */
    int64_t revoked_at;    /* Unix seconds */
    int reason;            /* CRLReason 1..10 except 7; 0 or -1: none written */
    int64_t invalidity;    /* Unix seconds; 0: none */
};

/* What signs: the AlgorithmIdentifier of the signature (DER, the same in
 * tbsCertList.signature and signatureAlgorithm), and a callback that signs
 * tbs[0..tbs_len) into sig (at most CRL_SIG_MAX octets), returning 1 and
 * *sig_len, or 0. */
#define CRL_SIG_MAX 512
struct crl_signer {
    const uint8_t *sigalg;
    size_t sigalg_len;
    int (*sign)(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len);
    void *arg;
};

struct crl_params {
    const uint8_t *issuer;  /* the issuer Name, DER (the CA certificate's subject) */
    size_t issuer_len;
    int64_t this_update, next_update;
    uint64_t number;        /* cRLNumber */
    const uint8_t *aki;     /* the CA's subjectKeyIdentifier octets */
    size_t aki_len;
    const char *idp_uri;    /* NULL: no distributionPoint (and no IDP at all with CRL_SCOPE_ALL) */
    size_t idp_uri_len;
    enum crl_scope scope;
};

/* crl_entry_size: the DER octets entry e adds to revokedCertificates. */
size_t crl_entry_size(const struct crl_entry *e);

/* crl_build encodes and signs the CRL of entries[0..n) (sorted by serial
 * in the caller's order: numeric order, shorter serials first). Returns 1
 * with *out (malloc'd, caller frees) and *out_len, or 0 (out of memory, a
 * bad argument, the callback failed). */
int crl_build(const struct crl_params *p, const struct crl_entry *entries, size_t n, const struct crl_signer *s,
              uint8_t **out, size_t *out_len);

#endif
