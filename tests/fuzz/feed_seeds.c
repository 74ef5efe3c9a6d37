/* feed_seeds: makes the seeds of tests/fuzz/fuzz_feed_ocsp.c and
 * fuzz_feed_crl.c (responses and CRLs by revd's own builders, signed by a
 * fresh CA and delegated responder) and prints the CA's DER as the C array
 * of tests/fuzz/feed_trust.h. Not part of the build; new keys each run, so
 * the seeds and the array are replaced together:
 *   make revd && cc -std=c11 -D_GNU_SOURCE -I. -o /tmp/feed_seeds tests/fuzz/feed_seeds.c \
 *       $(find build/rel/common build/rel/ca build/rel/ocsp build/rel/shard \
 *       build/rel/crl build/rel/feed -name '*.o') $(pkg-config --libs openssl rocksdb \
 *       libevent libevent_openssl liburing libzstd jansson libnats) -lpthread
 *   /tmp/feed_seeds tests/fuzz/corpus/fuzz_feed_ocsp tests/fuzz/corpus/fuzz_feed_crl > array.inc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "crl/build.h"
#include "ocsp/response.h"

static const uint8_t SIGALG[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
#define NOW 1893456000LL /* 2030-01-01 */
struct id { EVP_PKEY *key; X509 *cert; uint8_t *der; size_t der_len; };

static void make(struct id *x, struct id *issuer, const char *cn, long serial, int ca, int ocsp) {
    x->key = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(c, n);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer->cert) : n);
    X509_NAME_free(n);
    ASN1_TIME_set_string_X509(X509_getm_notBefore(c), "20260101000000Z");
    ASN1_TIME_set_string_X509(X509_getm_notAfter(c), "20360101000000Z");
    X509_set_pubkey(c, x->key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer->cert : c, c, NULL, NULL, 0);
    const char *exts[][2] = {
        {"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
        {"keyUsage", ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature"},
        {"subjectKeyIdentifier", "hash"},
        {"extendedKeyUsage", ocsp ? "OCSPSigning" : NULL},
    };
    for (size_t i = 0; i < 4; i++) {
        if (exts[i][1] == NULL) continue;
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
        X509_add_ext(c, e, -1);
        X509_EXTENSION_free(e);
    }
    X509_sign(c, issuer ? issuer->key : x->key, EVP_sha256());
    x->cert = c;
    x->der = NULL;
    x->der_len = (size_t)i2d_X509(c, &x->der);
}

static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct id *x = arg;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = OCSP_SIG_MAX;
    int ok = EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, x->key) == 1 && EVP_DigestSign(c, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(c);
    *sig_len = n;
    return ok;
}

static void put(const char *dir, const char *name, const uint8_t *p, size_t len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, len, f);
    fclose(f);
}

static size_t response(struct id *ca, struct id *who, enum ocsp_hash h, size_t num, enum ocsp_cert_status st, uint8_t *out) {
    struct ca_signer s;
    memset(&s, 0, sizeof(s));
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(who->cert);
    unsigned int n = 20;
    EVP_Digest(bits->data, (size_t)bits->length, s.key_hash, &n, EVP_sha1(), NULL);
    s.sigalg = SIGALG; s.sigalg_len = sizeof(SIGALG);
    s.cert = who == ca ? NULL : who->der;
    s.cert_len = who == ca ? 0 : who->der_len;
    s.sign = sign_cb; s.arg = who;
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_INTEGER_set(sn, 0x7a3c5e);
    OCSP_CERTID *cid = OCSP_cert_id_new(h == OCSP_HASH_SHA1 ? EVP_sha1() : EVP_sha256(), X509_get_subject_name(ca->cert), X509_get0_pubkey_bitstr(ca->cert), sn);
    ASN1_INTEGER_free(sn);
    ASN1_OCTET_STRING *nh, *kh; ASN1_INTEGER *serial;
    OCSP_id_get0_info(&nh, NULL, &kh, &serial, cid);
    uint8_t certid[128]; size_t certid_len;
    ocsp_certid_build(h, nh->data, kh->data, serial->data, (size_t)serial->length, certid, sizeof(certid), &certid_len);
    OCSP_CERTID_free(cid);
    struct ocsp_single r[2];
    for (int i = 0; i < 2; i++) r[i] = (struct ocsp_single){certid, certid_len, st, NOW - 86400, 1, NOW - 60, NOW + 4 * 86400};
    size_t len = 0;
    if (!ocsp_response_sign_many(&s, r, num, NOW, NULL, 0, out, 4096, &len)) abort();
    return len;
}

static size_t crl(struct id *of, struct id *signer, uint8_t **out) {
    uint8_t *name = NULL;
    int name_len = i2d_X509_NAME(X509_get_subject_name(of->cert), &name);
    static const uint8_t s1[] = {0x12, 0x34}, s2[] = {0x7a, 0x3c, 0x5e};
    struct crl_entry e[2] = {{s1, 2, NOW - 86400, 1, 0}, {s2, 3, NOW - 3600, 4, NOW - 7200}};
    struct crl_params p;
    memset(&p, 0, sizeof(p));
    p.issuer = name; p.issuer_len = (size_t)name_len;
    p.this_update = NOW - 60; p.next_update = NOW + 7 * 86400; p.number = 42;
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(of->cert);
    p.aki = ASN1_STRING_get0_data(ski); p.aki_len = (size_t)ASN1_STRING_length(ski);
    p.idp_uri = "http://crl.example.test/p/1.crl"; p.idp_uri_len = strlen(p.idp_uri);
    p.scope = CRL_SCOPE_USER_CERTS;
    struct crl_signer s = {SIGALG, sizeof(SIGALG), sign_cb, signer};
    size_t len = 0;
    if (!crl_build(&p, e, 2, &s, out, &len)) abort();
    OPENSSL_free(name);
    return len;
}

int main(int argc, char **argv) {
    const char *od = argv[1], *cd = argv[2];
    struct id root, rsp, noeku, other;
    make(&root, NULL, "revd fuzz root", 1, 1, 0);
    make(&rsp, &root, "revd fuzz responder", 2, 0, 1);
    make(&noeku, &root, "revd fuzz responder without EKU", 3, 0, 0);
    make(&other, NULL, "revd fuzz other root", 4, 1, 0);
    uint8_t buf[4096]; size_t n;
    n = response(&root, &rsp, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf); put(od, "responder_sha256_good.der", buf, n);
    n = response(&root, &rsp, OCSP_HASH_SHA1, 1, OCSP_REVOKED, buf); put(od, "responder_sha1_revoked.der", buf, n);
    n = response(&root, &root, OCSP_HASH_SHA256, 1, OCSP_UNKNOWN, buf); put(od, "ca_sha256_unknown.der", buf, n);
    n = response(&root, &root, OCSP_HASH_SHA1, 1, OCSP_REVOKED, buf); put(od, "ca_sha1_revoked.der", buf, n);
    n = response(&root, &noeku, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf); put(od, "responder_without_eku.der", buf, n);
    n = response(&root, &rsp, OCSP_HASH_SHA256, 2, OCSP_GOOD, buf); put(od, "two_singles.der", buf, n);
    n = response(&other, &other, OCSP_HASH_SHA256, 1, OCSP_GOOD, buf); put(od, "other_ca.der", buf, n);
    n = ocsp_response_error(OCSP_TRY_LATER, buf); put(od, "try_later.der", buf, n);
    put(od, "ca_cert.der", root.der, root.der_len);
    put(od, "responder_cert.der", rsp.der, rsp.der_len);
    uint8_t *c;
    n = crl(&root, &root, &c); put(cd, "root.der", c, n); free(c);
    n = crl(&other, &other, &c); put(cd, "other_ca.der", c, n); free(c);
    n = crl(&root, &other, &c); put(cd, "root_name_other_key.der", c, n); free(c);
    printf("static const uint8_t CA_DER[] = {");
    for (size_t i = 0; i < root.der_len; i++) printf("%s0x%02x,", i % 12 == 0 ? "\n    " : " ", root.der[i]);
    printf("\n};\n");
    return 0;
}
