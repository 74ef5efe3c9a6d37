/* The default partition size (partition_default_size) against the real
 * encoder (crl/build): a partition of that many certificates, every one
 * revoked with the longest entry there is (a 17-octet serial, a
 * GeneralizedTime revocation date, a reason and an invalidity date), with
 * the largest CRL number, a long issuer and URI, signed by the CA's key
 * type, fits the 1,000,000-octet cap; and the size is the largest that
 * does, within a percent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/internal.h"
#include "crl/build.h"

struct signer_ctx {
    EVP_PKEY *key;
};

static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct signer_ctx *s = arg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t n = CRL_SIG_MAX;
    int ok = EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, s->key) == 1 && EVP_DigestSign(m, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(m);
    *sig_len = n;
    return ok;
}

static void check(enum ca_key_type type, EVP_PKEY *key, const uint8_t *sigalg, size_t sigalg_len) {
    /* A long issuer: O, OU, CN of 60 characters each. */
    X509_NAME *name = X509_NAME_new();
    char v[61];
    memset(v, 'x', 60);
    v[60] = '\0';
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)v, -1, -1, 0);
    uint8_t *issuer = NULL;
    int il = i2d_X509_NAME(name, &issuer);
    assert_true(il > 0);
    const char *url = "http://crl.a-rather-long-host-name.example.com:8080/crl/issuing-ca-2026/4294967294.crl";
    uint32_t n = partition_default_size(1000000, (size_t)il, strlen(url), type);
    assert_true(n > 1000);
    struct crl_entry *e = calloc(n, sizeof(*e));
    uint8_t *serials = malloc((size_t)n * 17);
    assert_non_null(e);
    assert_non_null(serials);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *s = serials + (size_t)i * 17;
        s[0] = 0x00; /* a 16-octet serial with its top bit set needs a sign octet */
        memset(s + 1, 0xff, 16);
        s[13] = (uint8_t)(i >> 24);
        s[14] = (uint8_t)(i >> 16);
        s[15] = (uint8_t)(i >> 8);
        s[16] = (uint8_t)i;
        s[1] = 0x80;
        e[i] = (struct crl_entry){s, 17, 2600000000LL /* 2052: GeneralizedTime */, 1, 2600000000LL};
    }
    uint8_t aki[20] = {0};
    struct crl_params p = {issuer, (size_t)il, 2600000000LL, 2600000000LL + 7 * 86400, UINT64_MAX, aki, 20,
                           url, strlen(url), CRL_SCOPE_USER_CERTS};
    struct signer_ctx sc = {key};
    struct crl_signer s = {sigalg, sigalg_len, sign_cb, &sc};
    uint8_t *der = NULL;
    size_t len = 0;
    assert_true(crl_build(&p, e, n, &s, &der, &len));
    printf("key type %d: %u certificates per partition, fully revoked: %zu octets\n", (int)type, n, len);
    assert_true(len <= 1000000);
    assert_true(len >= 990000); /* the largest that fits, near enough */
    free(der);
    free(e);
    free(serials);
    OPENSSL_free(issuer);
    X509_NAME_free(name);
}

static void test_p256(void **state) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    static const uint8_t alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    check(CA_KEY_EC_P256, k, alg, sizeof(alg));
    EVP_PKEY_free(k);
}

static void test_rsa4096(void **state) {
    EVP_PKEY *k = EVP_RSA_gen(4096);
    /* sha256WithRSAEncryption, NULL parameters */
    static const uint8_t alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                  0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
    check(CA_KEY_RSA_4096, k, alg, sizeof(alg));
    EVP_PKEY_free(k);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_rsa4096),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
