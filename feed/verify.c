/* verify: the checks an edge makes on what it takes from the feed
 * (feed/verify.h).
 *
 * An OCSP response is read with the strict DER cursor (common/der.h), so
 * that feed_ocsp_info can view into the caller's bytes and so that a
 * response costs no OpenSSL object: its signature is checked with
 * EVP_DigestVerify over the tbsResponseData element as it stands. What
 * comes from OpenSSL is the X.509 work done once per certificate (the CA
 * at feed_trust_new, a delegated responder the first time it is seen) and
 * the CRL, checked rarely enough that d2i_X509_CRL and X509_CRL_verify are
 * the simplest safe choice.
 *
 * A delegated responder's certificate, once checked, is kept in a small
 * table per trust keyed by the SHA-256 of its DER, with its public key and
 * validity, so the next response it signed costs one hash of its DER and
 * one signature check. The table is locked (several feed threads may
 * verify on one trust); a key is borrowed under the lock with
 * EVP_PKEY_up_ref, so an eviction by another thread does not free it in
 * use. */
#include "feed/verify.h"

#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/der.h"
#include "common/rtime.h"

/* Caps on what a message may carry. */
#define VERIFY_CERT_MAX (64 * 1024)      /* a CA certificate */
#define VERIFY_OCSP_MAX (64 * 1024)      /* an OCSPResponse */
#define VERIFY_CRL_MAX (2 * 1024 * 1024) /* a CRL */
#define VERIFY_MAX_CERTS 8               /* certificates carried in one response */
#define VERIFY_CACHE_SIZE 64             /* checked responder certificates per trust */

/* The hashes a CertID may use here, indexed as enum ocsp_hash. */
#define NUM_HASHES 2
static const uint8_t OID_SHA1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
static const uint8_t OID_SHA256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t OID_OCSP_BASIC[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};

/* The signature algorithms a response may be signed with: ECDSA and RSA
 * PKCS #1 v1.5 with SHA-2, and Ed25519. RSA-PSS and SHA-1 signatures are
 * refused (revd makes neither). */
enum sig_key { SIG_EC, SIG_RSA, SIG_ED25519 };
static const struct sig_alg {
    uint8_t oid[9];
    size_t oid_len;
    enum sig_key key;
    int nid_md; /* NID_undef: no digest (Ed25519) */
} SIG_ALGS[] = {
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, 8, SIG_EC, NID_sha256},
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, 8, SIG_EC, NID_sha384},
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, 8, SIG_EC, NID_sha512},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}, 9, SIG_RSA, NID_sha256},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}, 9, SIG_RSA, NID_sha384},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}, 9, SIG_RSA, NID_sha512},
    {{0x2b, 0x65, 0x70}, 3, SIG_ED25519, NID_undef},
};

struct feed_anchors {
    STACK_OF(X509) *certs;
};

/* A delegated responder certificate that passed every check but its
 * validity, which is checked against each call's now. */
struct responder {
    int used;
    uint8_t id[32];          /* SHA-256 of its DER */
    uint8_t key_sha1[20];    /* SHA-1 of its subjectPublicKey bits (ResponderID byKey) */
    uint8_t name_sha256[32]; /* SHA-256 of its subject's DER (ResponderID byName) */
    EVP_PKEY *key;           /* owned */
    int64_t not_before, not_after;
};

struct feed_trust {
    X509 *ca;
    EVP_PKEY *key; /* the CA's, borrowed from ca */
    uint8_t *subject; /* the CA's subject Name, DER (OPENSSL_malloc'd) */
    size_t subject_len;
    uint8_t name_hash[NUM_HASHES][32], key_hash[NUM_HASHES][32]; /* CertID hashes, by enum ocsp_hash */
    pthread_mutex_t lock;
    struct responder cache[VERIFY_CACHE_SIZE];
    size_t next; /* the slot the next insertion takes (round robin) */
};

static size_t hash_len(int h) { return h == OCSP_HASH_SHA1 ? 20 : 32; }

static int digest(int h, const uint8_t *p, size_t len, uint8_t *out) {
    return EVP_Digest(p, len, out, NULL, h == OCSP_HASH_SHA1 ? EVP_sha1() : EVP_sha256(), NULL) == 1;
}

/* An ASN1_TIME as Unix seconds. */
static int asn1_time_unix(const ASN1_TIME *a, int64_t *out) {
    struct tm tm;
    if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1) return 0;
    *out = rtime_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 1;
}

/* ---- anchors and trust ------------------------------------------------- */

struct feed_anchors *feed_anchors_load(const char *path, struct rerr *e) {
    struct feed_anchors *a = calloc(1, sizeof(*a));
    BIO *bio = NULL;
    X509 *x;
    if (a == NULL || (a->certs = sk_X509_new_null()) == NULL) {
        rerr_set(e, "%s: out of memory", path);
        goto fail;
    }
    if ((bio = BIO_new_file(path, "r")) == NULL) {
        rerr_ssl(e, "%s: cannot read the trust anchors", path);
        goto fail;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(a->certs, x)) {
            X509_free(x);
            rerr_set(e, "%s: out of memory", path);
            goto fail;
        }
    }
    ERR_clear_error(); /* the end of the file reads as "no start line" */
    if (sk_X509_num(a->certs) == 0) {
        rerr_set(e, "%s: no certificate (expected PEM 'BEGIN CERTIFICATE')", path);
        goto fail;
    }
    BIO_free(bio);
    return a;
fail:
    BIO_free(bio);
    feed_anchors_free(a);
    return NULL;
}

void feed_anchors_free(struct feed_anchors *a) {
    if (a == NULL) return;
    sk_X509_pop_free(a->certs, X509_free);
    free(a);
}

/* ca is one of a's certificates, or chains to one of them through a's
 * certificates (any of them an anchor: partial chains). Time is not
 * checked: feed_trust_new has no now, and whether a CA that expired may
 * still publish its CRLs is the edge's policy, not the chain's. */
static int chains_to_anchor(const struct feed_anchors *a, X509 *ca, struct rerr *e) {
    for (int i = 0; i < sk_X509_num(a->certs); i++)
        if (X509_cmp(ca, sk_X509_value(a->certs, i)) == 0) return 1;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok = 0;
    if (st == NULL || ctx == NULL) {
        rerr_set(e, "out of memory");
        goto out;
    }
    for (int i = 0; i < sk_X509_num(a->certs); i++)
        if (!X509_STORE_add_cert(st, sk_X509_value(a->certs, i))) {
            rerr_ssl(e, "the trust anchors cannot be used");
            goto out;
        }
    X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
    if (!X509_STORE_CTX_init(ctx, st, ca, NULL)) {
        rerr_ssl(e, "cannot check the CA certificate's chain");
        goto out;
    }
    if (X509_verify_cert(ctx) == 1) {
        ok = 1;
    } else {
        rerr_set(e, "the CA certificate does not chain to a trust anchor: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return ok;
}

/* The CertID hashes of t's CA: of its subject's DER and of its
 * subjectPublicKey's bits (RFC 6960 4.1.1). */
static int trust_hashes(struct feed_trust *t) {
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(t->ca);
    if (bits == NULL) return 0;
    for (int h = 0; h < NUM_HASHES; h++)
        if (!digest(h, t->subject, t->subject_len, t->name_hash[h]) ||
            !digest(h, bits->data, (size_t)bits->length, t->key_hash[h]))
            return 0;
    return 1;
}

struct feed_trust *feed_trust_new(const struct feed_anchors *a, const uint8_t *ca_der, size_t len, struct rerr *e) {
    struct feed_trust *t = NULL;
    X509 *ca = NULL;
    const uint8_t *q = ca_der;
    if (len == 0 || len > VERIFY_CERT_MAX) {
        rerr_set(e, "a CA certificate of %zu octets (1 to %d accepted)", len, VERIFY_CERT_MAX);
        goto fail;
    }
    ca = d2i_X509(NULL, &q, (long)len);
    if (ca == NULL || q != ca_der + len) {
        rerr_ssl(e, ca == NULL ? "the CA certificate is not DER X.509" : "the CA certificate has trailing bytes");
        goto fail;
    }
    uint32_t flags = X509_get_extension_flags(ca);
    if ((flags & EXFLAG_INVALID) || !(flags & EXFLAG_BCONS) || !(flags & EXFLAG_CA)) {
        rerr_set(e, "the CA certificate is not a CA (no basicConstraints cA, or invalid extensions)");
        goto fail;
    }
    if (!chains_to_anchor(a, ca, e)) goto fail;
    if ((t = calloc(1, sizeof(*t))) == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        t = NULL;
        rerr_set(e, "out of memory");
        goto fail;
    }
    t->ca = ca;
    ca = NULL;
    t->key = X509_get0_pubkey(t->ca);
    int n = i2d_X509_NAME(X509_get_subject_name(t->ca), &t->subject);
    if (t->key == NULL || n <= 0 || (t->subject_len = (size_t)n, !trust_hashes(t))) {
        rerr_ssl(e, "the CA certificate's key or name cannot be read");
        goto fail;
    }
    return t;
fail:
    X509_free(ca);
    feed_trust_free(t);
    return NULL;
}

void feed_trust_free(struct feed_trust *t) {
    if (t == NULL) return;
    for (size_t i = 0; i < VERIFY_CACHE_SIZE; i++) EVP_PKEY_free(t->cache[i].key);
    pthread_mutex_destroy(&t->lock);
    OPENSSL_free(t->subject);
    X509_free(t->ca);
    free(t);
}

/* ---- OCSP: reading ----------------------------------------------------- */

/* GeneralizedTime in DER's one form, "YYYYMMDDHHMMSSZ" (RFC 5280
 * 4.1.2.5.2: no fraction, Zulu). */
static int get_gentime(struct der *d, int64_t *out) {
    struct der c;
    int v[6], w[6] = {4, 2, 2, 2, 2, 2};
    if (!der_get(d, DER_GENERALIZEDTIME, &c) || c.len != 15 || c.p[14] != 'Z') return 0;
    const uint8_t *p = c.p;
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int j = 0; j < w[i]; j++, p++) {
            if (*p < '0' || *p > '9') return 0;
            v[i] = v[i] * 10 + (*p - '0');
        }
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 || v[4] > 59 || v[5] > 59)
        return 0;
    int leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[1] == 2 && v[2] == 29 && !leap) return 0;
    *out = rtime_from_civil(v[0], v[1], v[2], v[3], v[4], v[5]);
    return 1;
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
 * with parameters absent or NULL; *out_null says which. */
static int get_algid(struct der *d, struct der *oid, int *out_null) {
    struct der alg, params;
    if (!der_get(d, DER_SEQUENCE, &alg) || !der_get(&alg, DER_OID, oid) || oid->len == 0) return 0;
    *out_null = alg.len != 0;
    return alg.len == 0 || (der_get(&alg, DER_NULL, &params) && params.len == 0 && alg.len == 0);
}

/* CertID ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash
 *     OCTET STRING, issuerKeyHash OCTET STRING, serialNumber INTEGER }
 * for SHA-1 or SHA-256, with t's CA's hashes. */
static int certid_check(struct feed_trust *t, struct der *d, struct feed_ocsp_info *out, struct rerr *e) {
    struct der id, oid, name, key, serial;
    int null;
    if (!der_get(d, DER_SEQUENCE, &id) || !get_algid(&id, &oid, &null) ||
        !der_get(&id, DER_OCTET_STRING, &name) || !der_get(&id, DER_OCTET_STRING, &key) ||
        !der_get_integer(&id, &serial) || id.len != 0)
        return rerr_set(e, "the response's CertID is malformed");
    if (der_oid_eq(&oid, OID_SHA1, sizeof(OID_SHA1)))
        out->hash = OCSP_HASH_SHA1;
    else if (der_oid_eq(&oid, OID_SHA256, sizeof(OID_SHA256)))
        out->hash = OCSP_HASH_SHA256;
    else
        return rerr_set(e, "the response's CertID uses a hash other than SHA-1 or SHA-256");
    size_t n = hash_len(out->hash);
    if (name.len != n || key.len != n || memcmp(name.p, t->name_hash[out->hash], n) != 0 ||
        memcmp(key.p, t->key_hash[out->hash], n) != 0)
        return rerr_set(e, "the response is about a certificate of another CA (CertID issuer hashes differ)");
    if ((serial.p[0] & 0x80) || serial.len > 21 || (serial.len == 1 && serial.p[0] == 0))
        return rerr_set(e, "the response's CertID has a serial number that is not positive or too long");
    out->serial = serial.p;
    out->serial_len = serial.len;
    return 1;
}

/* CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT
 *     RevokedInfo, unknown [2] IMPLICIT NULL }
 * RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime,
 *     revocationReason [0] EXPLICIT CRLReason OPTIONAL } */
static int status_get(struct der *d, struct feed_ocsp_info *out) {
    struct der c, r;
    int present;
    uint32_t reason;
    out->revoked_at = 0;
    out->reason = -1;
    if (der_get(d, DER_CONTEXT(0), &c)) {
        out->status = OCSP_GOOD;
        return c.len == 0;
    }
    if (der_get(d, DER_CONTEXT(2), &c)) {
        out->status = OCSP_UNKNOWN;
        return c.len == 0;
    }
    if (!der_get(d, DER_CONTEXT(1) | DER_CONSTRUCTED, &c) || !get_gentime(&c, &out->revoked_at) ||
        !der_get_optional(&c, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &r) || c.len != 0)
        return 0;
    out->status = OCSP_REVOKED;
    if (present) {
        if (!der_get_small_uint(&r, DER_ENUMERATED, &reason) || r.len != 0 || reason > 10 || reason == 7) return 0;
        out->reason = (int)reason;
    }
    return 1;
}

/* SingleResponse ::= SEQUENCE { certID CertID, certStatus CertStatus,
 *     thisUpdate GeneralizedTime, nextUpdate [0] EXPLICIT GeneralizedTime
 *     OPTIONAL (required here), singleExtensions [1] EXPLICIT Extensions
 *     OPTIONAL } */
static int single_check(struct feed_trust *t, struct der *d, struct feed_ocsp_info *out, struct rerr *e) {
    struct der s, next, ext;
    int present;
    if (!der_get(d, DER_SEQUENCE, &s)) return rerr_set(e, "the response's SingleResponse is malformed");
    if (!certid_check(t, &s, out, e)) return 0;
    if (!status_get(&s, out)) return rerr_set(e, "the response's certStatus is malformed");
    if (!get_gentime(&s, &out->this_update)) return rerr_set(e, "the response's thisUpdate is malformed");
    if (!der_get_optional(&s, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &next))
        return rerr_set(e, "the response's nextUpdate is malformed");
    if (!present) return rerr_set(e, "the response has no nextUpdate");
    if (!get_gentime(&next, &out->next_update) || next.len != 0)
        return rerr_set(e, "the response's nextUpdate is malformed");
    if (!der_get_optional(&s, DER_CONTEXT(1) | DER_CONSTRUCTED, &present, &ext) || s.len != 0)
        return rerr_set(e, "the response's SingleResponse is malformed");
    if (out->next_update < out->this_update) return rerr_set(e, "the response's nextUpdate is before its thisUpdate");
    return 1;
}

/* What names the signer: ResponderID ::= CHOICE { byName [1] EXPLICIT
 * Name, byKey [2] EXPLICIT KeyHash } (KeyHash: OCTET STRING, SHA-1 of
 * the subjectPublicKey bits). */
struct responder_id {
    int by_key;
    struct der value; /* byKey: the 20 hash octets; byName: the Name element */
};

/* ResponseData ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1
 *     (absent: DER), responderID ResponderID, producedAt GeneralizedTime,
 *     responses SEQUENCE OF SingleResponse (exactly one here),
 *     responseExtensions [1] EXPLICIT Extensions OPTIONAL } */
static int tbs_check(struct feed_trust *t, struct der tbs, struct responder_id *rid, struct feed_ocsp_info *out,
                     struct rerr *e) {
    struct der c, list, ext;
    int present;
    if (der_get(&tbs, DER_CONTEXT(1) | DER_CONSTRUCTED, &c)) {
        rid->by_key = 0;
        if (!der_get_any(&c, NULL, NULL, &rid->value) || c.len != 0 || rid->value.p[0] != DER_SEQUENCE)
            return rerr_set(e, "the response's responderID is malformed");
    } else if (der_get(&tbs, DER_CONTEXT(2) | DER_CONSTRUCTED, &c)) {
        rid->by_key = 1;
        if (!der_get(&c, DER_OCTET_STRING, &rid->value) || c.len != 0 || rid->value.len != 20)
            return rerr_set(e, "the response's responderID is malformed");
    } else {
        return rerr_set(e, "the response's ResponseData is malformed (a version, or no responderID)");
    }
    if (!get_gentime(&tbs, &out->produced_at)) return rerr_set(e, "the response's producedAt is malformed");
    if (!der_get(&tbs, DER_SEQUENCE, &list)) return rerr_set(e, "the response's list of responses is malformed");
    if (!single_check(t, &list, out, e)) return 0;
    if (list.len != 0) return rerr_set(e, "the response holds more than one SingleResponse");
    if (!der_get_optional(&tbs, DER_CONTEXT(1) | DER_CONSTRUCTED, &present, &ext) || tbs.len != 0)
        return rerr_set(e, "the response's ResponseData is malformed");
    return 1;
}

/* The parts of a BasicOCSPResponse the signature check needs. */
struct basic {
    struct der tbs;    /* tbsResponseData, the whole element */
    struct der sigalg; /* signatureAlgorithm's OID */
    int sigalg_null;   /* its parameters are NULL (else absent) */
    struct der sig;    /* the signature octets (BIT STRING, no unused bits) */
    struct der certs;  /* the contents of certs' SEQUENCE OF; len 0: none */
};

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes
 *     [0] EXPLICIT ResponseBytes OPTIONAL }
 * ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
 * BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData,
 *     signatureAlgorithm AlgorithmIdentifier, signature BIT STRING,
 *     certs [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL } */
static int outer_get(const uint8_t *der, size_t len, struct basic *b, struct rerr *e) {
    struct der d, r, c, rb, oid, octets, bs, bits;
    uint32_t status;
    int present;
    der_init(&d, der, len);
    if (!der_get(&d, DER_SEQUENCE, &r)) return rerr_set(e, "the response is not a DER OCSPResponse");
    if (d.len != 0) return rerr_set(e, "the response has %zu trailing octets", d.len);
    if (!der_get_small_uint(&r, DER_ENUMERATED, &status)) return rerr_set(e, "the response's status is malformed");
    if (status != 0) return rerr_set(e, "the response's status is %u, not successful", (unsigned)status);
    if (!der_get(&r, DER_CONTEXT(0) | DER_CONSTRUCTED, &c) || r.len != 0 || !der_get(&c, DER_SEQUENCE, &rb) ||
        c.len != 0 || !der_get(&rb, DER_OID, &oid) || !der_get(&rb, DER_OCTET_STRING, &octets) || rb.len != 0)
        return rerr_set(e, "the response's responseBytes are malformed");
    if (!der_oid_eq(&oid, OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC)))
        return rerr_set(e, "the response is not of type id-pkix-ocsp-basic");
    if (!der_get(&octets, DER_SEQUENCE, &bs) || octets.len != 0 || !der_get_any(&bs, NULL, NULL, &b->tbs) ||
        b->tbs.p[0] != DER_SEQUENCE || !get_algid(&bs, &b->sigalg, &b->sigalg_null) ||
        !der_get(&bs, DER_BIT_STRING, &bits) || bits.len < 2 || bits.p[0] != 0 ||
        !der_get_optional(&bs, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &c) || bs.len != 0)
        return rerr_set(e, "the response's BasicOCSPResponse is malformed");
    b->sig.p = bits.p + 1;
    b->sig.len = bits.len - 1;
    b->certs.p = NULL;
    b->certs.len = 0;
    if (present && (!der_get(&c, DER_SEQUENCE, &b->certs) || c.len != 0))
        return rerr_set(e, "the response's certs are malformed");
    return 1;
}

/* ---- OCSP: the signer -------------------------------------------------- */

/* The checks on a delegated responder certificate x (RFC 6960 4.2.2.2),
 * but its validity: issued by t's CA (name and signature), with
 * extendedKeyUsage id-kp-OCSPSigning, keyUsage (when present) with
 * digitalSignature, no unknown critical extension. */
static int responder_check(struct feed_trust *t, X509 *x, struct rerr *e) {
    uint32_t flags = X509_get_extension_flags(x);
    if (flags & (EXFLAG_INVALID | EXFLAG_CRITICAL))
        return rerr_set(e, "the responder certificate has invalid or unknown critical extensions");
    if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(t->ca)) != 0)
        return rerr_set(e, "the responder certificate was not issued by the CA (issuer name differs)");
    if (X509_verify(x, t->key) != 1) {
        ERR_clear_error();
        return rerr_set(e, "the responder certificate was not issued by the CA (its signature does not verify)");
    }
    if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(x) & XKU_OCSP_SIGN))
        return rerr_set(e, "the responder certificate has no extendedKeyUsage id-kp-OCSPSigning");
    if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
        return rerr_set(e, "the responder certificate's keyUsage lacks digitalSignature");
    return 1;
}

/* Reads the certificate element c (DER) into r: its ids, key and
 * validity. Returns 1 with r->key owned, or 0. *out_x: the parsed
 * certificate (caller frees). */
static int responder_read(const struct der *c, struct responder *r, X509 **out_x) {
    const uint8_t *q = c->p;
    uint8_t *name = NULL;
    X509 *x = d2i_X509(NULL, &q, (long)c->len);
    *out_x = x;
    if (x == NULL || q != c->p + c->len) return 0;
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
    int n = i2d_X509_NAME(X509_get_subject_name(x), &name);
    int ok = bits != NULL && n > 0 && digest(OCSP_HASH_SHA1, bits->data, (size_t)bits->length, r->key_sha1) &&
             digest(OCSP_HASH_SHA256, name, (size_t)n, r->name_sha256) &&
             asn1_time_unix(X509_get0_notBefore(x), &r->not_before) &&
             asn1_time_unix(X509_get0_notAfter(x), &r->not_after) && (r->key = X509_get_pubkey(x)) != NULL;
    OPENSSL_free(name);
    return ok;
}

static int rid_matches(const struct responder_id *rid, const struct responder *r) {
    if (rid->by_key) return memcmp(rid->value.p, r->key_sha1, 20) == 0;
    uint8_t h[32];
    return digest(OCSP_HASH_SHA256, rid->value.p, rid->value.len, h) && memcmp(h, r->name_sha256, 32) == 0;
}

/* A cached responder with id, its key borrowed (up_ref) into *out. */
static int cache_get(struct feed_trust *t, const uint8_t id[32], struct responder *out) {
    int found = 0;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < VERIFY_CACHE_SIZE && !found; i++) {
        if (t->cache[i].used && memcmp(t->cache[i].id, id, 32) == 0) {
            *out = t->cache[i];
            found = EVP_PKEY_up_ref(out->key) == 1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

/* Remembers r (its key up_ref'd for the table), evicting round robin. */
static void cache_put(struct feed_trust *t, const struct responder *r) {
    if (EVP_PKEY_up_ref(r->key) != 1) return;
    pthread_mutex_lock(&t->lock);
    struct responder *slot = &t->cache[t->next];
    EVP_PKEY *old = slot->key;
    *slot = *r;
    slot->used = 1;
    t->next = (t->next + 1) % VERIFY_CACHE_SIZE;
    pthread_mutex_unlock(&t->lock);
    EVP_PKEY_free(old);
}

/* The key that must have signed: t's CA's when rid names the CA, else that
 * of the carried certificate rid names, which passes responder_check (once:
 * then cached) and is valid at now. *out_key is up_ref'd (caller frees). */
static int signer_key(struct feed_trust *t, const struct basic *b, const struct responder_id *rid, int64_t now,
                      EVP_PKEY **out_key, struct rerr *e) {
    if (rid->by_key ? memcmp(rid->value.p, t->key_hash[OCSP_HASH_SHA1], 20) == 0
                    : rid->value.len == t->subject_len && memcmp(rid->value.p, t->subject, t->subject_len) == 0) {
        if (EVP_PKEY_up_ref(t->key) != 1) return rerr_set(e, "out of memory");
        *out_key = t->key;
        return 1;
    }
    struct der list = b->certs, c;
    for (int i = 0; list.len > 0; i++) {
        struct responder r;
        memset(&r, 0, sizeof(r));
        if (i == VERIFY_MAX_CERTS) return rerr_set(e, "the response carries more than %d certificates", i);
        if (!der_get_any(&list, NULL, NULL, &c) || c.p[0] != DER_SEQUENCE)
            return rerr_set(e, "the response's certs are malformed");
        if (!digest(OCSP_HASH_SHA256, c.p, c.len, r.id)) return rerr_set(e, "out of memory");
        if (!cache_get(t, r.id, &r)) {
            X509 *x = NULL;
            int ok = responder_read(&c, &r, &x);
            if (ok && rid_matches(rid, &r)) {
                ok = responder_check(t, x, e);
                if (ok) cache_put(t, &r);
            } else if (ok) {
                ok = -1; /* not the signer: a chain certificate; skip */
            } else {
                rerr_ssl(e, "the response carries a certificate that is not DER X.509");
            }
            X509_free(x);
            if (ok != 1) EVP_PKEY_free(r.key);
            if (ok == 0) return 0;
            if (ok < 0) continue;
        } else if (!rid_matches(rid, &r)) {
            EVP_PKEY_free(r.key);
            continue;
        }
        if (now < r.not_before || now > r.not_after) {
            EVP_PKEY_free(r.key);
            return rerr_set(e, "the responder certificate is not valid at the time of checking");
        }
        *out_key = r.key;
        return 1;
    }
    return rerr_set(e, "the response's signer is neither the CA nor a certificate it carries");
}

/* The signature sig over tbs with key, by the algorithm oid (parameters
 * NULL when null is set). */
static int signature_check(EVP_PKEY *key, const struct basic *b, struct rerr *e) {
    const struct sig_alg *a = NULL;
    for (size_t i = 0; i < sizeof(SIG_ALGS) / sizeof(SIG_ALGS[0]); i++)
        if (der_oid_eq(&b->sigalg, SIG_ALGS[i].oid, SIG_ALGS[i].oid_len)) a = &SIG_ALGS[i];
    if (a == NULL) return rerr_set(e, "the response is signed with an algorithm not accepted here");
    if (b->sigalg_null && a->key != SIG_RSA) return rerr_set(e, "the response's signatureAlgorithm has parameters");
    int id = EVP_PKEY_get_base_id(key);
    if ((a->key == SIG_EC && id != EVP_PKEY_EC) || (a->key == SIG_RSA && id != EVP_PKEY_RSA) ||
        (a->key == SIG_ED25519 && id != EVP_PKEY_ED25519))
        return rerr_set(e, "the response's signatureAlgorithm does not fit its signer's key");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = a->nid_md == NID_undef ? NULL : EVP_get_digestbynid(a->nid_md);
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, b->sig.p, b->sig.len, b->tbs.p, b->tbs.len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 1 : rerr_set(e, "the response's signature does not verify");
}

int feed_verify_ocsp(struct feed_trust *t, const uint8_t *der, size_t len, int64_t now, struct feed_ocsp_info *out,
                     struct rerr *e) {
    struct basic b;
    struct responder_id rid;
    struct feed_ocsp_info info;
    struct der tbs;
    EVP_PKEY *key = NULL;
    if (len > VERIFY_OCSP_MAX) return rerr_set(e, "a response of %zu octets (at most %d)", len, VERIFY_OCSP_MAX);
    if (!outer_get(der, len, &b, e)) return 0;
    der_init(&tbs, b.tbs.p, b.tbs.len);
    struct der tbs_c;
    if (!der_get(&tbs, DER_SEQUENCE, &tbs_c) || !tbs_check(t, tbs_c, &rid, &info, e)) return 0;
    if (!signer_key(t, &b, &rid, now, &key, e)) return 0;
    int ok = signature_check(key, &b, e);
    EVP_PKEY_free(key);
    if (ok) *out = info;
    return ok;
}

/* ---- CRL --------------------------------------------------------------- */

/* Extensions a CRL may mark critical here (RFC 5280 5.2): the
 * issuingDistributionPoint revd writes. A delta CRL is refused. */
static int crl_extensions_ok(const X509_CRL *crl, struct rerr *e) {
    for (int i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        X509_EXTENSION *x = X509_CRL_get_ext(crl, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));
        if (nid == NID_delta_crl) return rerr_set(e, "the CRL is a delta CRL (not accepted)");
        if (X509_EXTENSION_get_critical(x) && nid != NID_issuing_distribution_point)
            return rerr_set(e, "the CRL has an unknown critical extension");
    }
    return 1;
}

/* CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { version INTEGER
 *     (v2 = 1), signature AlgorithmIdentifier, ... }, signatureAlgorithm
 *     AlgorithmIdentifier, signatureValue BIT STRING }
 * read with the strict cursor: nothing after it, and the two
 * AlgorithmIdentifiers the same octets (RFC 5280 5.1.1.2). */
static int crl_frame_ok(const uint8_t *der, size_t len, struct rerr *e) {
    struct der d, list, tbs, version, inner, outer, bits;
    der_init(&d, der, len);
    if (!der_get(&d, DER_SEQUENCE, &list)) return rerr_set(e, "the CRL is not a DER CertificateList");
    if (d.len != 0) return rerr_set(e, "the CRL has %zu trailing octets", d.len);
    if (!der_get(&list, DER_SEQUENCE, &tbs) || !der_get_integer(&tbs, &version) ||
        !der_get_any(&tbs, NULL, NULL, &inner) || !der_get_any(&list, NULL, NULL, &outer) ||
        !der_get(&list, DER_BIT_STRING, &bits) || list.len != 0)
        return rerr_set(e, "the CRL is not a DER CertificateList");
    if (version.len != 1 || version.p[0] != 1) return rerr_set(e, "the CRL is not a version 2 CRL");
    if (inner.len != outer.len || memcmp(inner.p, outer.p, inner.len) != 0)
        return rerr_set(e, "the CRL's two signature algorithms differ");
    return 1;
}

/* The CRL's cRLNumber into *out (0 when absent). */
static int crl_number(const X509_CRL *crl, uint64_t *out, struct rerr *e) {
    int crit = 0;
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    *out = 0;
    if (n == NULL) {
        /* crit -1: absent; -2: there more than once; else unreadable */
        return crit == -1 ? 1 : rerr_set(e, "the CRL's cRLNumber is malformed or repeated");
    }
    int ok = ASN1_INTEGER_get_uint64(out, n) == 1;
    ASN1_INTEGER_free(n);
    ERR_clear_error();
    return ok ? 1 : rerr_set(e, "the CRL's cRLNumber is negative or over 2^64 - 1");
}

int feed_verify_crl(struct feed_trust *t, const uint8_t *der, size_t len, struct feed_crl_info *out,
                    struct rerr *e) {
    struct feed_crl_info info;
    const uint8_t *q = der;
    X509_CRL *crl = NULL;
    int ok = 0;
    if (len == 0 || len > VERIFY_CRL_MAX) return rerr_set(e, "a CRL of %zu octets (1 to %d)", len, VERIFY_CRL_MAX);
    if (!crl_frame_ok(der, len, e)) return 0;
    crl = d2i_X509_CRL(NULL, &q, (long)len);
    if (crl == NULL || q != der + len) {
        rerr_ssl(e, crl == NULL ? "the CRL is not a DER CRL" : "the CRL has trailing bytes");
        goto out;
    }
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(t->ca)) != 0) {
        rerr_set(e, "the CRL's issuer is not the CA");
    } else if ((X509_get_extension_flags(t->ca) & EXFLAG_KUSAGE) && !(X509_get_key_usage(t->ca) & KU_CRL_SIGN)) {
        rerr_set(e, "the CA's keyUsage lacks cRLSign");
    } else if (X509_CRL_verify(crl, t->key) != 1) {
        rerr_set(e, "the CRL's signature does not verify with the CA's key");
    } else if (crl_extensions_ok(crl, e) && crl_number(crl, &info.number, e)) {
        info.next_update = 0;
        if (!asn1_time_unix(X509_CRL_get0_lastUpdate(crl), &info.this_update) ||
            (X509_CRL_get0_nextUpdate(crl) != NULL &&
             !asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &info.next_update)))
            rerr_set(e, "the CRL's thisUpdate or nextUpdate is malformed");
        else
            ok = 1;
    }
out:
    ERR_clear_error();
    X509_CRL_free(crl);
    if (ok) *out = info;
    return ok;
}
