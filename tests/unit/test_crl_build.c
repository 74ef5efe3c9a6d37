/* crl/build: CRLs built in DER, checked by OpenSSL's own CRL code
 * (d2i_X509_CRL, X509_CRL_verify against a self-signed P-256 CA, then every
 * field: version, issuer, times in UTCTime and GeneralizedTime across the
 * 1950 and 2050 boundaries, entries with their serials, dates, reasons and
 * invalidity dates, AKI, cRLNumber, the critical IDP and its scope flags).
 * Strict DER: OpenSSL re-encodes the parsed CRL, its tbsCertList (forced,
 * not the cached bytes) and every extension value to the same octets.
 * crl_entry_size is checked against the octets each entry really takes, and
 * a full partition (13,000 entries, 17-octet serials) is timed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/der.h"
#include "crl/build.h"

/* AlgorithmIdentifier { ecdsa-with-SHA256 1.2.840.10045.4.3.2 } (no parameters) */
static const uint8_t sigalg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

static const char uri[] = "http://crl.example.test/p/17.crl";

/* 1950-01-01, 2049-12-31T23:59:59, 2050-01-01 and a day in 2025 (Unix seconds) */
#define T1950 INT64_C(-631152000)
#define T2050 INT64_C(2524608000)
#define T2025 INT64_C(1748736000) /* 2025-06-01T00:00:00Z */

struct pki {
    EVP_PKEY *key;
    X509 *ca;
    uint8_t *issuer; /* the CA's subject, DER */
    size_t issuer_len;
    const ASN1_OCTET_STRING *ski;
    /* the signing callback's state */
    int calls;
    int fail;     /* return 0 */
    int overlong; /* claim CRL_SIG_MAX + 1 octets */
    double sign_ms;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct pki *p = arg;
    p->calls++;
    if (p->fail) return 0;
    if (p->overlong) {
        *sig_len = CRL_SIG_MAX + 1;
        return 1;
    }
    double t0 = now_ms();
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = CRL_SIG_MAX;
    int ok = c != NULL && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, p->key) == 1 &&
             EVP_DigestSign(c, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(c);
    p->sign_ms += now_ms() - t0;
    *sig_len = n;
    return ok;
}

static void pki_init(struct pki *p) {
    memset(p, 0, sizeof(*p));
    p->key = EVP_EC_gen("P-256");
    assert_non_null(p->key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"revd test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"CRL test CA", -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_NAME_free(n);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400 * 30);
    X509_set_pubkey(x, p->key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", "critical,CA:TRUE"},
        {"keyUsage", "critical,keyCertSign,cRLSign"},
        {"subjectKeyIdentifier", "hash"},
    };
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, p->key, EVP_sha256()) > 0);
    p->ca = x;
    uint8_t *der = NULL;
    int len = i2d_X509_NAME(X509_get_subject_name(x), &der);
    assert_true(len > 0);
    p->issuer = der;
    p->issuer_len = (size_t)len;
    p->ski = X509_get0_subject_key_id(x);
    assert_non_null(p->ski);
    assert_int_equal(ASN1_STRING_length(p->ski), 20);
}

static void pki_free(struct pki *p) {
    EVP_PKEY_free(p->key);
    X509_free(p->ca);
    OPENSSL_free(p->issuer);
}

static void signer_of(struct pki *p, struct crl_signer *s) {
    s->sigalg = sigalg_ecdsa_sha256;
    s->sigalg_len = sizeof(sigalg_ecdsa_sha256);
    s->sign = sign_cb;
    s->arg = p;
}

static void params_of(struct pki *p, struct crl_params *cp) {
    memset(cp, 0, sizeof(*cp));
    cp->issuer = p->issuer;
    cp->issuer_len = p->issuer_len;
    cp->this_update = T2025;
    cp->next_update = T2025 + 7 * 86400;
    cp->number = 42;
    cp->aki = ASN1_STRING_get0_data(p->ski);
    cp->aki_len = (size_t)ASN1_STRING_length(p->ski);
    cp->idp_uri = uri;
    cp->idp_uri_len = strlen(uri);
    cp->scope = CRL_SCOPE_USER_CERTS;
}

/* ---- checking a CRL with OpenSSL ------------------------------------------ */

/* The element views of the CRL's parts, read with our strict cursor. */
struct parts {
    struct der tbs;     /* tbsCertList, whole element */
    struct der revoked; /* revokedCertificates contents; p NULL when absent */
    struct der tbs_sigalg, sigalg; /* tbsCertList.signature, signatureAlgorithm: whole elements */
    unsigned after_next_update; /* the tag that follows nextUpdate */
};

static void split(const uint8_t *der, size_t len, struct parts *out) {
    struct der d, cl, tbs, x;
    der_init(&d, der, len);
    assert_true(der_get(&d, DER_SEQUENCE, &cl));
    assert_int_equal(d.len, 0);
    assert_true(der_get_any(&cl, NULL, &tbs, &out->tbs));
    assert_true(der_get_small_uint(&tbs, DER_INTEGER, &(uint32_t){0}));
    assert_true(der_get_any(&tbs, NULL, NULL, &out->tbs_sigalg)); /* signature */
    assert_true(der_get(&tbs, DER_SEQUENCE, &x)); /* issuer */
    assert_true(der_get_any(&tbs, NULL, &x, NULL)); /* thisUpdate */
    assert_true(der_get_any(&tbs, NULL, &x, NULL)); /* nextUpdate */
    assert_true(tbs.len > 0);
    out->after_next_update = tbs.p[0];
    out->revoked.p = NULL;
    out->revoked.len = 0;
    if (der_peek(&tbs, DER_SEQUENCE)) assert_true(der_get(&tbs, DER_SEQUENCE, &out->revoked));
    assert_true(der_get(&tbs, DER_CONTEXT(0) | DER_CONSTRUCTED, &x));
    assert_int_equal(tbs.len, 0);
    assert_true(der_get_any(&cl, NULL, NULL, &out->sigalg));
    assert_true(der_get(&cl, DER_BIT_STRING, &x));
    assert_true(x.len > 1 && x.p[0] == 0); /* no unused bits */
    assert_int_equal(cl.len, 0);
}

/* t as OpenSSL reads it, in the type RFC 5280 asks for (or GeneralizedTime
 * when gen is set: invalidityDate). */
static void time_is(const ASN1_TIME *a, int64_t t, int gen) {
    assert_non_null(a);
    int utc = !gen && t >= T1950 && t < T2050;
    assert_int_equal(ASN1_STRING_type(a), utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);
    assert_int_equal(ASN1_STRING_length(a), utc ? 13 : 15);
    struct tm tm;
    assert_int_equal(ASN1_TIME_to_tm(a, &tm), 1);
    assert_int_equal((int64_t)timegm(&tm), t);
}

static void string_is(const ASN1_STRING *a, const char *want) {
    assert_int_equal((size_t)ASN1_STRING_length(a), strlen(want));
    assert_memory_equal(ASN1_STRING_get0_data(a), want, strlen(want));
}

/* The extension's value, decoded by OpenSSL and encoded again, is the same
 * octets: the structure inside the OCTET STRING is strict DER too. */
static void ext_reencodes(X509_EXTENSION *x) {
    const X509V3_EXT_METHOD *m = X509V3_EXT_get(x);
    assert_non_null(m);
    assert_non_null(m->it);
    void *v = X509V3_EXT_d2i(x);
    assert_non_null(v);
    uint8_t *der = NULL;
    int len = ASN1_item_i2d(v, &der, ASN1_ITEM_ptr(m->it));
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(x);
    assert_int_equal(len, ASN1_STRING_length(data));
    assert_memory_equal(der, ASN1_STRING_get0_data(data), (size_t)len);
    OPENSSL_free(der);
    ASN1_item_free(v, ASN1_ITEM_ptr(m->it));
}

static int has_reason(const struct crl_entry *e) { return e->reason >= 1 && e->reason != 7; }

static void check_entries(X509_CRL *crl, const struct crl_entry *e, size_t n) {
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
    if (n == 0) {
        assert_int_equal(sk_X509_REVOKED_num(rev), rev == NULL ? -1 : 0);
        return;
    }
    assert_int_equal(sk_X509_REVOKED_num(rev), (int)n);
    for (size_t i = 0; i < n; i++, e++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(rev, (int)i);
        /* OpenSSL keeps the magnitude: without the 00 of a positive sign. */
        const ASN1_INTEGER *sn = X509_REVOKED_get0_serialNumber(r);
        const uint8_t *sv = e->serial;
        size_t sl = e->serial_len;
        if (sl > 1 && sv[0] == 0) sv++, sl--;
        assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
        assert_int_equal((size_t)ASN1_STRING_length(sn), sl);
        assert_memory_equal(ASN1_STRING_get0_data(sn), sv, sl);
        time_is(X509_REVOKED_get0_revocationDate(r), e->revoked_at, 0);

        int crit = 7;
        ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
        if (has_reason(e)) {
            assert_non_null(reason);
            assert_int_equal(crit, 0);
            assert_int_equal(ASN1_ENUMERATED_get(reason), e->reason);
        } else {
            assert_null(reason);
            assert_int_equal(crit, -1);
        }
        ASN1_ENUMERATED_free(reason);

        crit = 7;
        ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(r, NID_invalidity_date, &crit, NULL);
        if (e->invalidity != 0) {
            assert_non_null(inv);
            assert_int_equal(crit, 0);
            time_is(inv, e->invalidity, 1);
        } else {
            assert_null(inv);
            assert_int_equal(crit, -1);
        }
        ASN1_GENERALIZEDTIME_free(inv);

        int next = 0;
        assert_int_equal(X509_REVOKED_get_ext_count(r), next + has_reason(e) + (e->invalidity != 0));
        if (has_reason(e))
            assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_REVOKED_get_ext(r, next++))), NID_crl_reason);
        if (e->invalidity != 0)
            assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_REVOKED_get_ext(r, next++))),
                             NID_invalidity_date);
        for (int k = 0; k < next; k++) ext_reencodes(X509_REVOKED_get_ext(r, k));
    }
}

static void check_extensions(struct pki *p, X509_CRL *crl, const struct crl_params *cp) {
    int crit = 7;
    AUTHORITY_KEYID *ak = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
    assert_non_null(ak);
    assert_int_equal(crit, 0);
    assert_non_null(ak->keyid);
    assert_int_equal(ASN1_OCTET_STRING_cmp(ak->keyid, p->ski), 0);
    assert_null(ak->issuer);
    assert_null(ak->serial);
    AUTHORITY_KEYID_free(ak);

    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    assert_non_null(num);
    assert_int_equal(crit, 0);
    uint64_t v = 0;
    assert_int_equal(ASN1_INTEGER_get_uint64(&v, num), 1);
    assert_true(v == cp->number);
    ASN1_INTEGER_free(num);

    /* In the header's order: AKI, cRLNumber, IDP. */
    int count = X509_CRL_get_ext_count(crl);
    int has_idp = cp->idp_uri != NULL || cp->scope != CRL_SCOPE_ALL;
    assert_int_equal(count, has_idp ? 3 : 2);
    assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_CRL_get_ext(crl, 0))), NID_authority_key_identifier);
    assert_int_equal(OBJ_obj2nid(X509_EXTENSION_get_object(X509_CRL_get_ext(crl, 1))), NID_crl_number);
    for (int k = 0; k < count; k++) ext_reencodes(X509_CRL_get_ext(crl, k));

    int at = X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1);
    if (!has_idp) {
        assert_int_equal(at, -1);
        return;
    }
    assert_int_equal(at, 2);
    assert_int_equal(X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, at)), 1);
    ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    assert_non_null(idp);
    assert_int_equal(crit, 1);
    if (cp->idp_uri == NULL) { /* the scope alone: no distributionPoint */
        assert_null(idp->distpoint);
        assert_int_equal(idp->onlyuser != 0, cp->scope == CRL_SCOPE_USER_CERTS);
        assert_int_equal(idp->onlyCA != 0, cp->scope == CRL_SCOPE_CA_CERTS);
        ISSUING_DIST_POINT_free(idp);
        return;
    }
    assert_non_null(idp->distpoint);
    assert_int_equal(idp->distpoint->type, 0); /* fullName */
    GENERAL_NAMES *names = idp->distpoint->name.fullname;
    assert_int_equal(sk_GENERAL_NAME_num(names), 1);
    GENERAL_NAME *g = sk_GENERAL_NAME_value(names, 0);
    assert_int_equal(g->type, GEN_URI);
    assert_int_equal(ASN1_STRING_type(g->d.uniformResourceIdentifier), V_ASN1_IA5STRING);
    assert_int_equal((size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier), cp->idp_uri_len);
    assert_memory_equal(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), cp->idp_uri, cp->idp_uri_len);
    assert_int_equal(idp->onlyuser != 0, cp->scope == CRL_SCOPE_USER_CERTS);
    assert_int_equal(idp->onlyCA != 0, cp->scope == CRL_SCOPE_CA_CERTS);
    assert_int_equal(idp->onlyattr, 0);
    assert_int_equal(idp->indirectCRL, 0);
    assert_null(idp->onlysomereasons);
    ISSUING_DIST_POINT_free(idp);
}

/* Builds the CRL (which must succeed) and checks all of it with OpenSSL;
 * returns it (free()) with *out_len, and the parts through *parts. */
static uint8_t *build_and_check(struct pki *p, const struct crl_params *cp, const struct crl_entry *e, size_t n,
                                size_t *out_len, struct parts *parts) {
    struct crl_signer s;
    signer_of(p, &s);
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal(crl_build(cp, e, n, &s, &der, &len), 1);
    assert_non_null(der);
    struct parts pt;
    split(der, len, &pt);

    const uint8_t *q = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)len);
    assert_non_null(crl);
    assert_ptr_equal(q, der + len);
    EVP_PKEY *pub = X509_get0_pubkey(p->ca);
    assert_int_equal(X509_CRL_verify(crl, pub), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(p->ca)), 0);
    assert_int_equal(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
    assert_int_equal(pt.tbs_sigalg.len, sizeof(sigalg_ecdsa_sha256));
    assert_memory_equal(pt.tbs_sigalg.p, sigalg_ecdsa_sha256, sizeof(sigalg_ecdsa_sha256));
    assert_int_equal(pt.sigalg.len, sizeof(sigalg_ecdsa_sha256));
    assert_memory_equal(pt.sigalg.p, sigalg_ecdsa_sha256, sizeof(sigalg_ecdsa_sha256));
    time_is(X509_CRL_get0_lastUpdate(crl), cp->this_update, 0);
    time_is(X509_CRL_get0_nextUpdate(crl), cp->next_update, 0);
    check_entries(crl, e, n);
    check_extensions(p, crl, cp);

    /* Strict DER: the whole CRL, and the tbsCertList encoded afresh from
     * OpenSSL's parsed fields (i2d_X509_CRL alone would reuse the cached
     * tbs octets), come out byte for byte. */
    uint8_t *again = NULL;
    int alen = i2d_X509_CRL(crl, &again);
    assert_int_equal(alen, (int)len);
    assert_memory_equal(again, der, len);
    OPENSSL_free(again);
    again = NULL;
    alen = i2d_re_X509_CRL_tbs(crl, &again);
    assert_int_equal(alen, (int)pt.tbs.len);
    assert_memory_equal(again, pt.tbs.p, pt.tbs.len);
    OPENSSL_free(again);
    X509_CRL_free(crl);

    /* crl_entry_size is exact: each entry's element, and all of them. */
    size_t sum = 0;
    struct der rev = pt.revoked;
    for (size_t i = 0; i < n; i++) {
        struct der el;
        assert_true(der_get_any(&rev, NULL, NULL, &el));
        assert_int_equal(el.len, crl_entry_size(&e[i]));
        sum += crl_entry_size(&e[i]);
    }
    assert_int_equal(rev.len, 0);
    assert_int_equal(pt.revoked.len, sum);
    if (n == 0) {
        assert_null(pt.revoked.p);
        assert_int_equal(pt.after_next_update, DER_CONTEXT(0) | DER_CONSTRUCTED);
    }
    if (parts != NULL) *parts = pt;
    *out_len = len;
    return der;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_entries(void **state) {
    struct pki p;
    pki_init(&p);
    struct crl_params cp;
    params_of(&p, &cp);
    static const uint8_t s1[] = {0x01};
    static const uint8_t s2[] = {0x00, 0x80};
    static const uint8_t s16[] = {0x4f, 0x0e, 0x1d, 0x2c, 0x3b, 0x4a, 0x59, 0x68,
                                  0x77, 0x86, 0x95, 0xa4, 0xb3, 0xc2, 0xd1, 0xe0};
    static const uint8_t s17[] = {0x00, 0x9f, 0x0e, 0x1d, 0x2c, 0x3b, 0x4a, 0x59, 0x68,
                                  0x77, 0x86, 0x95, 0xa4, 0xb3, 0xc2, 0xd1, 0xe0};
    static const uint8_t s20[] = {0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    static const uint8_t s21[] = {0x00, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    const struct crl_entry e[] = {
        {s1, sizeof(s1), T2025 - 86400, -1, 0},
        {s2, sizeof(s2), T2025 - 3600, 0, 0},
        {s16, sizeof(s16), T2025 - 60, 1, 0},
        {s16, sizeof(s16), T2025 - 59, 4, T2025 - 86400 * 3},
        {s17, sizeof(s17), T2025 - 58, -1, T2025 - 86400 * 3 + 1},
        {s17, sizeof(s17), T2025 - 57, 10, 0},
        {s20, sizeof(s20), T2025 - 56, 6, 0},
        {s21, sizeof(s21), T2025 - 55, 9, T2025 - 2},
        {s21, sizeof(s21), T2025 - 54, 8, 0},
    };
    size_t len;
    uint8_t *der = build_and_check(&p, &cp, e, sizeof(e) / sizeof(e[0]), &len, NULL);
    free(der);

    /* A cRLNumber with the top bit set takes nine octets (00 first). */
    cp.number = UINT64_C(0x8000000000000001);
    der = build_and_check(&p, &cp, e, 3, &len, NULL);
    free(der);
    cp.number = 0;
    der = build_and_check(&p, &cp, e, 3, &len, NULL);
    free(der);
    pki_free(&p);
}

/* UTCTime through 2049, GeneralizedTime from 2050 and before 1950, for
 * thisUpdate, nextUpdate and revocationDate; invalidityDate is always
 * GeneralizedTime. The boundaries are checked as strings too. */
static void test_times(void **state) {
    struct pki p;
    pki_init(&p);
    struct crl_params cp;
    params_of(&p, &cp);
    static const uint8_t s[] = {0x12, 0x34};
    static const uint8_t t[] = {0x12, 0x35};
    static const uint8_t u[] = {0x12, 0x36};
    static const uint8_t v[] = {0x12, 0x37};
    const struct crl_entry e[] = {
        {s, sizeof(s), T1950 - 1, -1, 0},
        {t, sizeof(t), T1950, 1, T1950},
        {u, sizeof(u), T2050 - 1, -1, T2050 - 1},
        {v, sizeof(v), T2050, 3, INT64_C(4102444800)}, /* 2100-01-01 */
    };
    assert_int_equal(crl_entry_size(&e[0]), 19 + 2 + 2);
    assert_int_equal(crl_entry_size(&e[1]), 19 + 2 + 14 + 26);
    assert_int_equal(crl_entry_size(&e[2]), 19 + 2 + 2 + 26);
    assert_int_equal(crl_entry_size(&e[3]), 19 + 2 + 2 + 14 + 26);

    /* A pre-2050 nextUpdate: both UTCTime. */
    cp.this_update = T2050 - 86400;
    cp.next_update = T2050 - 1;
    size_t len;
    uint8_t *der = build_and_check(&p, &cp, e, 4, &len, NULL);
    const uint8_t *q = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)len);
    assert_non_null(crl);
    string_is(X509_CRL_get0_nextUpdate(crl), "491231235959Z");
    STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
    string_is(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(rev, 0)), "19491231235959Z");
    string_is(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(rev, 1)), "500101000000Z");
    string_is(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(rev, 2)), "491231235959Z");
    string_is(X509_REVOKED_get0_revocationDate(sk_X509_REVOKED_value(rev, 3)), "20500101000000Z");
    ASN1_GENERALIZEDTIME *inv = X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(rev, 1), NID_invalidity_date, NULL, NULL);
    string_is(inv, "19500101000000Z");
    ASN1_GENERALIZEDTIME_free(inv);
    X509_CRL_free(crl);
    free(der);

    /* A post-2050 nextUpdate: UTCTime, then GeneralizedTime. */
    cp.next_update = T2050;
    der = build_and_check(&p, &cp, e, 4, &len, NULL);
    q = der;
    crl = d2i_X509_CRL(NULL, &q, (long)len);
    assert_non_null(crl);
    string_is(X509_CRL_get0_lastUpdate(crl), "491231000000Z");
    string_is(X509_CRL_get0_nextUpdate(crl), "20500101000000Z");
    X509_CRL_free(crl);
    free(der);

    /* Both from 2050; nextUpdate == thisUpdate is allowed. */
    cp.this_update = cp.next_update = INT64_C(4102444800);
    der = build_and_check(&p, &cp, e, 4, &len, NULL);
    free(der);
    pki_free(&p);
}

/* Each scope with and without a URI; an empty CRL has no
 * revokedCertificates and still verifies. */
static void test_scopes_and_empty(void **state) {
    struct pki p;
    pki_init(&p);
    struct crl_params cp;
    params_of(&p, &cp);
    static const uint8_t s[] = {0x05};
    const struct crl_entry e[] = {{s, 1, T2025 - 10, 2, 0}};
    const enum crl_scope scopes[] = {CRL_SCOPE_ALL, CRL_SCOPE_USER_CERTS, CRL_SCOPE_CA_CERTS};
    /* 300 octets: long-form lengths inside the IDP, moved up by derb_close. */
    char long_uri[301];
    memcpy(long_uri, "https://crl.example.test/", 25);
    memset(long_uri + 25, 'a', 300 - 25 - 4);
    memcpy(long_uri + 296, ".crl", 5);
    for (size_t i = 0; i < 3; i++) {
        for (int with_uri = 0; with_uri < 3; with_uri++) {
            for (size_t n = 0; n < 2; n++) {
                cp.scope = scopes[i];
                cp.idp_uri = with_uri == 0 ? NULL : with_uri == 1 ? uri : long_uri;
                cp.idp_uri_len = cp.idp_uri != NULL ? strlen(cp.idp_uri) : 0;
                size_t len;
                uint8_t *der = build_and_check(&p, &cp, e, n, &len, NULL);
                free(der);
            }
        }
    }
    pki_free(&p);
}

/* crl_entry_size against the numbers: 19 + serial octets, +14 with
 * a reason, and with both a reason and an invalidity date +40 (the
 * crlEntryExtensions SEQUENCE header, 2 octets, is counted once, in the
 * +14). An invalidity date alone is +28, not +26. Then a CRL of every
 * serial length, reason and date kind, measured octet by octet. */
static void test_entry_sizes(void **state) {
    static const uint8_t s16[16] = {0x11};
    struct crl_entry e = {s16, 16, T2025, -1, 0};
    assert_int_equal(crl_entry_size(&e), 35);
    e.reason = 0;
    assert_int_equal(crl_entry_size(&e), 35);
    e.reason = 1;
    assert_int_equal(crl_entry_size(&e), 49);
    e.invalidity = T2025 - 100;
    assert_int_equal(crl_entry_size(&e), 75);
    e.reason = -1;
    assert_int_equal(crl_entry_size(&e), 63);

    struct pki p;
    pki_init(&p);
    struct crl_params cp;
    params_of(&p, &cp);
    enum { N = 21 * 11 * 2 * 2 };
    static uint8_t serials[N][21];
    static struct crl_entry es[N];
    static const int reasons[] = {-1, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10};
    size_t n = 0;
    for (size_t sl = 1; sl <= 21; sl++) {
        for (size_t r = 0; r < 11; r++) {
            for (int inv = 0; inv < 2; inv++) {
                for (int late = 0; late < 2; late++) {
                    uint8_t *sv = serials[n];
                    /* Distinct, minimal, positive, in order within a length. */
                    memset(sv, 0x5a, sl);
                    sv[0] = sl == 1 ? (uint8_t)n % 0x80 : 0x01;
                    if (sl >= 2) sv[sl - 1] = (uint8_t)n;
                    if (sl == 21) sv[0] = 0x00, sv[1] = 0x80;
                    es[n] = (struct crl_entry){sv, sl, late ? T2050 + (int64_t)n : T2025 - (int64_t)n,
                                               reasons[r], inv ? T2025 - 86400 : 0};
                    n++;
                }
            }
        }
    }
    size_t len, sum = 0;
    struct parts pt;
    for (size_t i = 0; i < n; i++) sum += crl_entry_size(&es[i]);
    uint8_t *der = build_and_check(&p, &cp, es, n, &len, &pt);
    assert_int_equal(pt.revoked.len, sum);
    free(der);
    pki_free(&p);
}

static void test_bad_arguments(void **state) {
    struct pki p;
    pki_init(&p);
    struct crl_params cp, good;
    params_of(&p, &good);
    struct crl_signer s;
    signer_of(&p, &s);
    static const uint8_t s1[] = {0x01}, s22[22] = {0x01}, nonmin[] = {0x00, 0x01}, neg[] = {0x80, 0x01};
    static const uint8_t bad_name[] = {0x30, 0x00, 0x00};
    uint8_t *out = (uint8_t *)&p; /* untouched on failure */
    size_t out_len = 12345;
    struct crl_entry e = {s1, 1, T2025 - 10, 1, 0};
    assert_int_equal(crl_build(&good, &e, 1, &s, &out, &out_len), 1);
    free(out);
    out = (uint8_t *)&p;
    out_len = 12345;
    int calls = p.calls;

#define REFUSED(n_)                                                                                        \
    do {                                                                                                   \
        assert_int_equal(crl_build(&cp, &e, (n_), &s, &out, &out_len), 0);                               \
        assert_ptr_equal(out, (uint8_t *)&p);                                                              \
        assert_int_equal(out_len, 12345);                                                                  \
        cp = good;                                                                                         \
        e = (struct crl_entry){s1, 1, T2025 - 10, 1, 0};                                                   \
        signer_of(&p, &s);                                                                                 \
    } while (0)

    cp = good;
    e.serial_len = 0;
    REFUSED(1);
    e.serial = s22;
    e.serial_len = 22;
    REFUSED(1);
    e.serial = NULL;
    REFUSED(1);
    e.serial = nonmin;
    e.serial_len = 2;
    REFUSED(1);
    e.serial = neg;
    e.serial_len = 2;
    REFUSED(1);
    e.reason = -2;
    REFUSED(1);
    e.reason = 11;
    REFUSED(1);
    e.reason = 7; /* not a CRLReason (RFC 5280 5.3.1) */
    REFUSED(1);
    e.revoked_at = INT64_C(253402300800); /* year 10000 */
    REFUSED(1);
    cp.next_update = cp.this_update - 1;
    REFUSED(1);
    cp.issuer = NULL;
    REFUSED(1);
    cp.issuer = bad_name;
    cp.issuer_len = sizeof(bad_name); /* trailing octet */
    REFUSED(1);
    cp.aki_len = 0;
    REFUSED(1);
    cp.idp_uri_len = 0;
    REFUSED(1);
    cp.idp_uri = "http://crl.example.test/\xc3\xa9.crl"; /* not IA5 */
    cp.idp_uri_len = strlen(cp.idp_uri);
    REFUSED(1);
    cp.scope = (enum crl_scope)9;
    REFUSED(1);
    s.sigalg = NULL;
    REFUSED(1);
    s.sigalg_len = 3;
    REFUSED(1);
    s.sign = NULL;
    REFUSED(1);
    assert_int_equal(p.calls, calls); /* none of these got as far as signing */
    assert_int_equal(crl_build(&cp, NULL, 1, &s, &out, &out_len), 0);
    assert_int_equal(crl_build(NULL, &e, 1, &s, &out, &out_len), 0);
    assert_int_equal(crl_build(&cp, &e, 1, NULL, &out, &out_len), 0);
    assert_int_equal(crl_build(&cp, &e, 1, &s, NULL, &out_len), 0);
    assert_int_equal(crl_build(&cp, &e, 1, &s, &out, NULL), 0);

    /* The callback fails, or claims more than CRL_SIG_MAX. */
    p.fail = 1;
    REFUSED(1);
    p.fail = 0;
    p.overlong = 1;
    REFUSED(1);
    p.overlong = 0;
    assert_int_equal(p.calls, calls + 2);
#undef REFUSED
    pki_free(&p);
}

/* A full partition: 13,000 entries with 17-octet serials (16 random octets
 * with the top bit set, and the 00 that keeps them positive). Timed twice:
 * a mix (a third with a reason, a seventh with an invalidity date, ~580 KB)
 * and the largest such partition (every entry with both, ~1 MB). The
 * bound is loose: machines are shared, and this runs under sanitizers. */
static void time_partition(int all_exts) {
    enum { N = 13000 };
    struct pki p;
    pki_init(&p);
    struct crl_params cp;
    params_of(&p, &cp);
    struct crl_signer s;
    signer_of(&p, &s);
    uint8_t(*serials)[17] = malloc(sizeof(*serials) * N);
    struct crl_entry *e = malloc(sizeof(*e) * N);
    assert_non_null(serials);
    assert_non_null(e);
    uint32_t x = 2463534242u; /* xorshift32 */
    size_t sum = 0;
    for (size_t i = 0; i < N; i++) {
        uint8_t *sv = serials[i];
        sv[0] = 0x00;
        sv[1] = 0x80 | (uint8_t)(i >> 8); /* ascending: the index leads */
        sv[2] = (uint8_t)i;
        for (size_t k = 3; k < 17; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            sv[k] = (uint8_t)x;
        }
        int reason = all_exts || i % 3 == 0 ? 1 + (int)(i / 3) % 6 : -1;
        int64_t inv = all_exts || i % 7 == 0 ? T2025 - 86400 * 31 : 0;
        e[i] = (struct crl_entry){sv, 17, T2025 - 86400 * 30 + (int64_t)i * 60, reason, inv};
        sum += crl_entry_size(&e[i]);
    }

    double best = 1e9, first = 0, sign_best = 0;
    size_t len = 0;
    for (int round = 0; round < 5; round++) {
        uint8_t *der = NULL;
        p.sign_ms = 0;
        double t0 = now_ms();
        assert_int_equal(crl_build(&cp, e, N, &s, &der, &len), 1);
        double ms = now_ms() - t0;
        if (round == 0) first = ms;
        if (ms < best) best = ms, sign_best = p.sign_ms;
        free(der);
    }
    print_message("crl_build: %d entries (17-octet serials, %s), %zu octets, revokedCertificates %zu: "
                  "first %.2f ms, best of 5 %.2f ms (signing %.2f ms of it)\n",
                  N, all_exts ? "each with reason and invalidity" : "mixed", len, sum, first, best, sign_best);
    assert_true(best < 200.0);

    /* And it is a good CRL. */
    size_t len2;
    struct parts pt;
    uint8_t *der = build_and_check(&p, &cp, e, N, &len2, &pt);
    assert_true(len2 + 2 >= len && len2 <= len + 2); /* an ECDSA signature varies by an octet or two */
    assert_int_equal(pt.revoked.len, sum);
    free(der);
    free(serials);
    free(e);
    pki_free(&p);
}

static void test_partition_time(void **state) {
    time_partition(0);
    time_partition(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_scopes_and_empty),
        cmocka_unit_test(test_entry_sizes),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_partition_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
