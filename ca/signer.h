/* signer: what ca/ lends the pipelines to sign with, without the key.
 *
 * ca/ holds every private key; ocsp/ (responses) and crl/ (CRLs) encode
 * what is to be signed and call sign() on the octets. A signer is filled
 * by ca/ (ca_responder_signer, ca_responder_signer_of for OCSP; the CA's
 * own key for CRLs) and its pointers stay valid for as long as the call
 * that filled it says. Responder rotation happens inside ca/, before a
 * signer is handed out: a holder never sees a revoked or expired one.
 *
 * Thread: a signer signs on one thread at a time. */
#ifndef REVD_CA_SIGNER_H
#define REVD_CA_SIGNER_H

#include <stddef.h>
#include <stdint.h>

/* The largest signature sign() may return (RSA-4096: 512 octets; ECDSA
 * P-384: at most 104). */
#define CA_SIG_MAX 512

struct ca_signer {
    uint8_t key_hash[20];  /* SHA-1 of the signer's subjectPublicKey bits */
    const uint8_t *sigalg; /* the AlgorithmIdentifier element, DER */
    size_t sigalg_len;
    const uint8_t *cert; /* the signer's certificate, DER; NULL: none sent */
    size_t cert_len;
    /* sign signs tbs[0..tbs_len) and writes at most CA_SIG_MAX octets to
     * sig, returning 1 and *sig_len, or 0. Opaque arg: ca/'s. */
    int (*sign)(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len);
    void *arg;
};

#endif
