/* ocsp/response: responses built in DER, checked by OpenSSL's own OCSP code
 * (d2i_OCSP_RESPONSE, OCSP_basic_verify against the CA, status and times),
 * for every status, with and without a reason and a nonce, signed by a
 * delegated responder (EKU OCSPSigning) with ECDSA P-256, P-384 and RSA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "ocsp/job.h"
#include "ocsp/response.h"

struct pki {
    EVP_PKEY *ca_key, *rsp_key;
    X509 *ca, *rsp, *leaf;
    uint8_t *rsp_der;
    int rsp_der_len;
    uint8_t sigalg[32];
    size_t sigalg_len;
    const EVP_MD *md;
};

static X509 *make_cert(EVP_PKEY *subject_key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn, long serial,
                       int ca, int ocsp_signer, const EVP_MD *md) {
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 30);
    X509_set_pubkey(x, subject_key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
        {"subjectKeyIdentifier", "hash"},
        {"authorityKeyIdentifier", "keyid:always"},
        {"extendedKeyUsage", ocsp_signer ? "OCSPSigning" : NULL},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (exts[i][1] == NULL) continue;
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, issuer_key, md) > 0);
    return x;
}

static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct pki *p = arg;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = OCSP_SIG_MAX;
    int ok = EVP_DigestSignInit(c, NULL, p->md, NULL, p->rsp_key) == 1 &&
             EVP_DigestSign(c, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(c);
    *sig_len = n;
    return ok;
}

static void pki_init(struct pki *p, const char *kind) {
    memset(p, 0, sizeof(*p));
    int rsa = strncmp(kind, "rsa", 3) == 0, bits = strcmp(kind, "rsa4096") == 0 ? 4096 : 2048;
    p->md = strcmp(kind, "p384") == 0 ? EVP_sha384() : EVP_sha256();
    p->ca_key = rsa ? EVP_RSA_gen((unsigned)bits) : EVP_EC_gen(strcmp(kind, "p384") == 0 ? "P-384" : "P-256");
    p->rsp_key = rsa ? EVP_RSA_gen((unsigned)bits) : EVP_EC_gen(strcmp(kind, "p384") == 0 ? "P-384" : "P-256");
    EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
    p->ca = make_cert(p->ca_key, p->ca_key, NULL, "ca", 1, 1, 0, p->md);
    p->rsp = make_cert(p->rsp_key, p->ca_key, p->ca, "responder", 2, 0, 1, p->md);
    p->leaf = make_cert(leaf_key, p->ca_key, p->ca, "leaf", 0x7a3c5e, 0, 0, p->md);
    EVP_PKEY_free(leaf_key);
    p->rsp_der = NULL;
    p->rsp_der_len = i2d_X509(p->rsp, &p->rsp_der);
    /* The AlgorithmIdentifier of the signature, as OpenSSL writes it. */
    X509_ALGOR *alg = X509_ALGOR_new();
    int nid = rsa ? NID_sha256WithRSAEncryption : (p->md == EVP_sha384() ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256);
    X509_ALGOR_set0(alg, OBJ_nid2obj(nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL);
    uint8_t *q = p->sigalg;
    p->sigalg_len = (size_t)i2d_X509_ALGOR(alg, &q);
    X509_ALGOR_free(alg);
}

static void pki_free(struct pki *p) {
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->rsp_key);
    X509_free(p->ca);
    X509_free(p->rsp);
    X509_free(p->leaf);
    OPENSSL_free(p->rsp_der);
}

static void signer_of(struct pki *p, struct ca_signer *s) {
    memset(s, 0, sizeof(*s));
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(p->rsp);
    unsigned int n = 20;
    EVP_Digest(bits->data, (size_t)bits->length, s->key_hash, &n, EVP_sha1(), NULL);
    s->sigalg = p->sigalg;
    s->sigalg_len = p->sigalg_len;
    s->cert = p->rsp_der;
    s->cert_len = (size_t)p->rsp_der_len;
    s->sign = sign_cb;
    s->arg = p;
}

/* Our CertID for the leaf, byte for byte what OpenSSL makes for it. */
static size_t certid_of(struct pki *p, const EVP_MD *md, enum ocsp_hash h, uint8_t *out, size_t cap) {
    OCSP_CERTID *id = OCSP_cert_to_id(md, p->leaf, p->ca);
    ASN1_OCTET_STRING *nh, *kh;
    ASN1_INTEGER *sn;
    assert_int_equal(OCSP_id_get0_info(&nh, NULL, &kh, &sn, id), 1);
    size_t len;
    assert_true(ocsp_certid_build(h, nh->data, kh->data, sn->data, (size_t)sn->length, out, cap, &len));
    uint8_t *theirs = NULL;
    int tl = i2d_OCSP_CERTID(id, &theirs);
    assert_int_equal((size_t)tl, len);
    assert_memory_equal(theirs, out, len);
    OPENSSL_free(theirs);
    OCSP_CERTID_free(id);
    return len;
}

/* Parses and verifies resp; returns the status, fills reason and times. */
static int check(struct pki *p, const uint8_t *resp, size_t len, const EVP_MD *md, int *reason,
                 ASN1_GENERALIZEDTIME **rev, OCSP_REQUEST *with_nonce) {
    const uint8_t *q = resp;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &q, (long)len);
    assert_non_null(r);
    assert_ptr_equal(q, resp + len);
    assert_int_equal(OCSP_response_status(r), OCSP_RESPONSE_STATUS_SUCCESSFUL);
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(r);
    assert_non_null(bs);
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, p->ca);
    assert_int_equal(OCSP_basic_verify(bs, NULL, st, 0), 1);
    if (with_nonce != NULL) {
        assert_int_equal(OCSP_check_nonce(with_nonce, bs), 1);
    } else { /* 2: neither has a nonce */
        OCSP_REQUEST *none = OCSP_REQUEST_new();
        assert_int_equal(OCSP_check_nonce(none, bs), 2);
        OCSP_REQUEST_free(none);
    }
    OCSP_CERTID *id = OCSP_cert_to_id(md, p->leaf, p->ca);
    int status = -1;
    ASN1_GENERALIZEDTIME *thisupd, *nextupd, *revtime;
    assert_int_equal(OCSP_resp_find_status(bs, id, &status, reason, &revtime, &thisupd, &nextupd), 1);
    assert_non_null(nextupd);
    assert_int_equal(OCSP_check_validity(thisupd, nextupd, 300, -1), 1);
    if (rev) *rev = revtime ? ASN1_STRING_dup(revtime) : NULL;
    OCSP_CERTID_free(id);
    X509_STORE_free(st);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(r);
    return status;
}

static void run_kind(const char *kind) {
    struct pki p;
    pki_init(&p, kind);
    struct ca_signer s;
    signer_of(&p, &s);
    uint8_t certid[200], out[4096];
    size_t out_len;
    int64_t now = (int64_t)time(NULL);
    const EVP_MD *mds[] = {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()};
    for (int h = 0; h < 4; h++) {
        size_t cl = certid_of(&p, mds[h], (enum ocsp_hash)h, certid, sizeof(certid));
        struct ocsp_single r = {certid, cl, OCSP_GOOD, 0, -1, now - 60, now + 4 * 86400};
        int reason = -2;
        assert_true(ocsp_response_sign(&s, &r, now, NULL, 0, out, sizeof(out), &out_len));
        assert_int_equal(check(&p, out, out_len, mds[h], &reason, NULL, NULL), V_OCSP_CERTSTATUS_GOOD);

        r.status = OCSP_UNKNOWN;
        assert_true(ocsp_response_sign(&s, &r, now, NULL, 0, out, sizeof(out), &out_len));
        assert_int_equal(check(&p, out, out_len, mds[h], &reason, NULL, NULL), V_OCSP_CERTSTATUS_UNKNOWN);

        r.status = OCSP_REVOKED;
        r.revoked_at = now - 1000;
        r.reason = 1; /* keyCompromise */
        ASN1_GENERALIZEDTIME *rev = NULL;
        assert_true(ocsp_response_sign(&s, &r, now, NULL, 0, out, sizeof(out), &out_len));
        assert_int_equal(check(&p, out, out_len, mds[h], &reason, &rev, NULL), V_OCSP_CERTSTATUS_REVOKED);
        assert_int_equal(reason, 1);
        int day, sec;
        ASN1_TIME *want = ASN1_TIME_set(NULL, (time_t)(now - 1000));
        assert_int_equal(ASN1_TIME_diff(&day, &sec, want, rev), 1);
        assert_int_equal(day, 0);
        assert_int_equal(sec, 0);
        ASN1_TIME_free(want);
        ASN1_STRING_free(rev);

        r.reason = -1; /* no reason: the field is absent */
        assert_true(ocsp_response_sign(&s, &r, now, NULL, 0, out, sizeof(out), &out_len));
        assert_int_equal(check(&p, out, out_len, mds[h], &reason, NULL, NULL), V_OCSP_CERTSTATUS_REVOKED);
        assert_int_equal(reason, -1);
    }
    /* A nonce echoed: OCSP_check_nonce matches it against the request's. */
    size_t cl = certid_of(&p, EVP_sha1(), OCSP_HASH_SHA1, certid, sizeof(certid));
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    assert_int_equal(OCSP_request_add1_nonce(req, nonce, sizeof(nonce)), 1);
    struct ocsp_single r = {certid, cl, OCSP_GOOD, 0, -1, now - 60, now + 86400};
    assert_true(ocsp_response_sign(&s, &r, now, nonce, sizeof(nonce), out, sizeof(out), &out_len));
    int reason;
    assert_int_equal(check(&p, out, out_len, EVP_sha1(), &reason, NULL, req), V_OCSP_CERTSTATUS_GOOD);
    OCSP_REQUEST_free(req);
    /* Too small a buffer fails cleanly. */
    assert_false(ocsp_response_sign(&s, &r, now, NULL, 0, out, 300, &out_len));

    /* Several CertIDs (a request with several): one response, a
     * SingleResponse each, in order, each found by OpenSSL with its status. */
    uint8_t ids[4][200];
    struct ocsp_single many[4];
    const int want[4] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_UNKNOWN,
                         V_OCSP_CERTSTATUS_GOOD};
    const enum ocsp_cert_status st[4] = {OCSP_GOOD, OCSP_REVOKED, OCSP_UNKNOWN, OCSP_GOOD};
    for (int h = 0; h < 4; h++) {
        size_t n = certid_of(&p, mds[h], (enum ocsp_hash)h, ids[h], sizeof(ids[h]));
        many[h] = (struct ocsp_single){ids[h], n, st[h], now - 5000, 4, now - 60, now + 86400};
    }
    assert_false(ocsp_response_sign_many(&s, many, 0, now, NULL, 0, out, sizeof(out), &out_len));
    assert_true(ocsp_response_sign_many(&s, many, 4, now, NULL, 0, out, sizeof(out), &out_len));
    const uint8_t *q = out;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, (long)out_len);
    assert_non_null(resp);
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
    assert_non_null(bs);
    assert_int_equal(OCSP_resp_count(bs), 4);
    X509_STORE *xs = X509_STORE_new();
    X509_STORE_add_cert(xs, p.ca);
    assert_int_equal(OCSP_basic_verify(bs, NULL, xs, 0), 1);
    for (int h = 0; h < 4; h++) {
        OCSP_CERTID *id = OCSP_cert_to_id(mds[h], p.leaf, p.ca);
        int status = -1, rsn = -2;
        ASN1_GENERALIZEDTIME *rt, *tu, *nu;
        assert_int_equal(OCSP_resp_find(bs, id, -1), h); /* in order */
        assert_int_equal(OCSP_resp_find_status(bs, id, &status, &rsn, &rt, &tu, &nu), 1);
        assert_int_equal(status, want[h]);
        if (status == V_OCSP_CERTSTATUS_REVOKED) assert_int_equal(rsn, 4);
        OCSP_CERTID_free(id);
    }
    X509_STORE_free(xs);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    pki_free(&p);
}

/* The largest response a lane job carries fits its buffer (ocsp/job.h):
 * OCSP_JOB_MAX_CERTS SHA-512 CertIDs with 21-octet serials, revoked with a
 * reason, a 128-octet nonce, an RSA-4096 responder. */
static void test_several_fit_a_job(void **state) {
    struct pki p;
    pki_init(&p, "rsa4096");
    struct ca_signer s;
    signer_of(&p, &s);
    static uint8_t out[OCSP_JOB_RESP_MAX];
    uint8_t ids[OCSP_JOB_MAX_CERTS][256], h64[64], serial[21], nonce[OCSP_NONCE_MAX];
    memset(h64, 0xab, sizeof(h64));
    memset(nonce, 0x5a, sizeof(nonce));
    struct ocsp_single many[OCSP_JOB_MAX_CERTS];
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < OCSP_JOB_MAX_CERTS; i++) {
        serial[0] = 0x00;
        memset(serial + 1, 0x80 + i, 20);
        size_t n;
        assert_true(ocsp_certid_build(OCSP_HASH_SHA512, h64, h64, serial, sizeof(serial), ids[i], sizeof(ids[i]), &n));
        many[i] = (struct ocsp_single){ids[i], n, OCSP_REVOKED, now - 5000, 10, now - 60, now + 86400};
    }
    size_t out_len;
    assert_true(ocsp_response_sign_many(&s, many, OCSP_JOB_MAX_CERTS, now, nonce, sizeof(nonce), out, sizeof(out),
                                        &out_len));
    const uint8_t *q = out;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &q, (long)out_len);
    assert_non_null(resp);
    OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
    assert_int_equal(OCSP_resp_count(bs), OCSP_JOB_MAX_CERTS);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    print_message("%d SHA-512 CertIDs, RSA-4096, 128-octet nonce: %zu octets\n", OCSP_JOB_MAX_CERTS, out_len);
    /* The builder's half for the response, with room to spare for a
     * responder certificate larger than this test's (extensions, longer
     * names): a few hundred octets more. */
    assert_true(out_len + 1024 <= OCSP_JOB_RESP_MAX / 2);
    pki_free(&p);
}

static void test_p256(void **state) { run_kind("p256"); }
static void test_p384(void **state) { run_kind("p384"); }
static void test_rsa(void **state) { run_kind("rsa"); }

static void test_errors(void **state) {
    const enum ocsp_resp_status sts[] = {OCSP_MALFORMED_REQUEST, OCSP_INTERNAL_ERROR, OCSP_TRY_LATER,
                                         OCSP_SIG_REQUIRED, OCSP_UNAUTHORIZED};
    for (size_t i = 0; i < 5; i++) {
        uint8_t out[5];
        size_t n = ocsp_response_error(sts[i], out);
        const uint8_t *q = out;
        OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &q, (long)n);
        assert_non_null(r);
        assert_int_equal(OCSP_response_status(r), (int)sts[i]);
        OCSP_RESPONSE_free(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_p384),
        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_several_fit_a_job),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
