/* Unit tests of common/b64url and acme/jws: strict base64url, the flattened
 * JWS of ACME requests (parse, verify with RSA 2048, P-256 and P-384 keys
 * made here), JWK to key, the RFC 7638 thumbprint, and the external account
 * binding; and every refusal the parser and verifier owe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "acme/jws.h"
#include "common/b64url.h"
#include "guard.h"

#define URL "https://acme.example/acme/new-account"

static EVP_PKEY *rsa_k, *p256_k, *p384_k;

/* ---- helpers: build what a client sends ---- */

static char *b64(const uint8_t *p, size_t n) {
    char *s = malloc(B64URL_ENC_LEN(n) + 1);
    assert_non_null(s);
    assert_int_equal(b64url_encode(p, n, s, B64URL_ENC_LEN(n) + 1), B64URL_ENC_LEN(n));
    return s;
}

static json_t *bn_member(EVP_PKEY *k, const char *param, size_t pad) {
    BIGNUM *bn = NULL;
    assert_true(EVP_PKEY_get_bn_param(k, param, &bn));
    uint8_t buf[1024];
    size_t n = pad ? pad : (size_t)BN_num_bytes(bn);
    assert_true(BN_bn2binpad(bn, buf, (int)n) == (int)n);
    BN_free(bn);
    char *s = b64(buf, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* The public JWK of k (new reference). */
static json_t *jwk_of(EVP_PKEY *k) {
    if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
        return json_pack("{s:s, s:o, s:o}", "kty", "RSA", "n", bn_member(k, OSSL_PKEY_PARAM_RSA_N, 0), "e",
                         bn_member(k, OSSL_PKEY_PARAM_RSA_E, 0));
    size_t size = (size_t)(EVP_PKEY_get_bits(k) + 7) / 8;
    return json_pack("{s:s, s:s, s:o, s:o}", "kty", "EC", "crv", size == 32 ? "P-256" : "P-384", "x",
                     bn_member(k, OSSL_PKEY_PARAM_EC_PUB_X, size), "y", bn_member(k, OSSL_PKEY_PARAM_EC_PUB_Y, size));
}

enum sigform { SIG_JOSE, SIG_DER, SIG_LONG };

/* Signs text with k as alg says (ES: r||s unless form says otherwise). */
static char *sign_text(EVP_PKEY *k, const char *alg, const char *text, enum sigform form) {
    const EVP_MD *md = strcmp(alg, "ES384") == 0 ? EVP_sha384() : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t sig[2048], raw[256];
    size_t sig_len = sizeof(sig);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)text, strlen(text)), 1);
    EVP_MD_CTX_free(ctx);
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || form == SIG_DER) return b64(sig, sig_len);
    size_t size = (size_t)(EVP_PKEY_get_bits(k) + 7) / 8;
    const uint8_t *p = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
    assert_non_null(es);
    assert_true(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)size) == (int)size);
    assert_true(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + size, (int)size) == (int)size);
    ECDSA_SIG_free(es);
    raw[2 * size] = 0x01;
    return b64(raw, 2 * size + (form == SIG_LONG));
}

/* A flattened JWS object over header hdr (stolen) and payload text. */
static json_t *jws_obj(EVP_PKEY *k, const char *alg, json_t *hdr, const char *payload, enum sigform form) {
    char *h = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    char *ph = b64((const uint8_t *)h, strlen(h));
    char *pp = b64((const uint8_t *)payload, strlen(payload));
    char *input = malloc(strlen(ph) + strlen(pp) + 2);
    sprintf(input, "%s.%s", ph, pp);
    char *sig = sign_text(k, alg, input, form);
    json_t *o = json_pack("{s:s, s:s, s:s}", "protected", ph, "payload", pp, "signature", sig);
    free(h), free(ph), free(pp), free(input), free(sig);
    return o;
}

/* The header {alg, nonce, url, jwk of k}. */
static json_t *hdr_jwk(const char *alg, EVP_PKEY *k) {
    return json_pack("{s:s, s:s, s:s, s:o}", "alg", alg, "nonce", "n0nce", "url", URL, "jwk", jwk_of(k));
}

static char *body_of(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(o);
    return s;
}

/* jws_parse on exactly strlen(body) bytes that end before a PROT_NONE page. */
static int parse(const char *body, struct jws *j, const char **problem) {
    struct guard g;
    struct rerr e = {""};
    guard_init(&g, (const uint8_t *)body, strlen(body));
    int ok = jws_parse((const char *)g.p, g.len, j, problem, &e);
    guard_free(&g);
    if (!ok) assert_true(e.msg[0] != '\0' && *problem != NULL);
    return ok;
}

/* Refused by jws_parse with this problem; the struct comes back zeroed. */
static void refused(const char *body, const char *problem) {
    struct jws j;
    const char *p = NULL;
    if (parse(body, &j, &p)) fail_msg("jws_parse accepted %s", body);
    if (strcmp(p, problem) != 0) fail_msg("jws_parse said %s, expected %s, for %s", p, problem, body);
    assert_null(j.jwk);
    assert_null(j.payload);
}

static void refused_obj(json_t *o, const char *problem) {
    char *b = body_of(o);
    refused(b, problem);
    free(b);
}

/* Parses body and verifies it with the key of its jwk (or with k). */
static int parse_verify(const char *body, EVP_PKEY *k) {
    struct jws j;
    const char *p = NULL;
    struct rerr e;
    if (!parse(body, &j, &p)) fail_msg("jws_parse refused %s (%s)", body, p);
    EVP_PKEY *key = k;
    if (key == NULL) {
        key = jwk_to_key(j.jwk, &p, &e);
        if (key == NULL) fail_msg("jwk_to_key: %s", e.msg);
    }
    int ok = jws_verify(&j, key, &e);
    if (key != k) EVP_PKEY_free(key);
    jws_free(&j);
    return ok;
}

/* Replaces the first character of member name's value in o (a tamper that
 * keeps the base64url valid). */
static json_t *tamper(json_t *o, const char *name) {
    char *s = strdup(json_string_value(json_object_get(o, name)));
    s[0] = s[0] == 'A' ? 'B' : 'A';
    json_object_set_new(o, name, json_string(s));
    free(s);
    return o;
}

static int setup(void **state) {
    rsa_k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    p256_k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    p384_k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    return rsa_k && p256_k && p384_k ? 0 : -1;
}

static int teardown(void **state) {
    EVP_PKEY_free(rsa_k), EVP_PKEY_free(p256_k), EVP_PKEY_free(p384_k);
    return 0;
}

/* ---- b64url ---- */

static void test_b64url_vectors(void **state) {
    /* RFC 4648 section 10, unpadded; and the two url-safe characters. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[16];
    uint8_t dec[16];
    size_t n;
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof(out)), strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        assert_true(b64url_decode(enc[i], strlen(enc[i]), dec, sizeof(dec), &n));
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(dec, plain[i], n);
    }
    const uint8_t fb[] = {0xfb, 0xff};
    assert_int_equal(b64url_encode(fb, 2, out, sizeof(out)), 3);
    assert_string_equal(out, "-_8");
    /* Too small an output: nothing written. */
    assert_int_equal(b64url_encode((const uint8_t *)"foo", 3, out, 4), 0);
    assert_int_equal(b64url_encode((const uint8_t *)"foo", 3, out, 5), 4);
    assert_false(b64url_decode("Zm9vYmFy", 8, dec, 5, &n));
    assert_true(b64url_decode("Zm9vYmFy", 8, dec, 6, &n));
}

static void test_b64url_round_trip(void **state) {
    uint8_t in[200], dec[200];
    char enc[B64URL_ENC_LEN(200) + 1];
    for (size_t len = 0; len <= sizeof(in); len++) {
        assert_int_equal(RAND_bytes(in, (int)sizeof(in)), 1);
        size_t n = b64url_encode(in, len, enc, sizeof(enc));
        assert_int_equal(n, B64URL_ENC_LEN(len));
        assert_int_equal(strlen(enc), n);
        struct guard g;
        guard_init(&g, (const uint8_t *)enc, n);
        size_t out_len = 999;
        assert_true(b64url_decode((const char *)g.p, n, dec, B64URL_DEC_MAX(n), &out_len));
        guard_free(&g);
        assert_int_equal(out_len, len);
        assert_memory_equal(dec, in, len);
    }
}

static void test_b64url_strict(void **state) {
    static const char *const bad[] = {
        "Zg==", "Zg=", "Zm9v=", /* padding */
        "Zm 9v", "Zm9v\n", " Zm9v", "Zm\t9v", /* whitespace */
        "Zm+v", "Zm/v", "Zm9v!", "Zm.v", "Zm9\x80", /* outside the url-safe alphabet */
        "Z", "Zm9vY", /* length % 4 == 1 */
        "Zh", "Zm9", "Zm9w", "AB", "AAB", /* non-canonical trailing bits ("Zh": 'f' plus a set bit) */
    };
    uint8_t dec[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* "Zm9w" decodes to "fop": it is canonical, the one good one here. */
        int want = strcmp(bad[i], "Zm9w") == 0;
        if (b64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n) != want) fail_msg("b64url_decode(\"%s\")", bad[i]);
    }
    /* An embedded NUL is not part of the alphabet either. */
    assert_false(b64url_decode("Zm\0v", 4, dec, sizeof(dec), &n));
    assert_true(b64url_decode("AA", 2, dec, sizeof(dec), &n));
    assert_int_equal(n, 1);
    assert_true(b64url_decode("AAA", 3, dec, sizeof(dec), &n));
    assert_int_equal(n, 2);
}

/* ---- thumbprint and keys ---- */

static void test_thumbprint_rfc7638(void **state) {
    /* RFC 7638 section 3.1: the example RSA key and its thumbprint. */
    json_t *jwk = json_pack(
        "{s:s, s:s, s:s, s:s}", "kty", "RSA", "n",
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-"
        "5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
        "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e", "AQAB", "alg", "RS256", "kid", "2011-04-29");
    char tp[44];
    struct rerr e;
    assert_true(jwk_thumbprint(jwk, tp, &e));
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* The same key is a usable RSA public key (2048 bits). */
    const char *p = NULL;
    EVP_PKEY *k = jwk_to_key(jwk, &p, &e);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    EVP_PKEY_free(k);
    /* Member order and extra members do not change it; a changed n does. */
    json_object_del(jwk, "alg");
    json_t *other = json_pack("{s:s, s:O, s:s}", "e", "AQAB", "n", json_object_get(jwk, "n"), "kty", "RSA");
    assert_true(jwk_thumbprint(other, tp, &e));
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    json_object_set_new(other, "e", json_string("AQAD"));
    assert_true(jwk_thumbprint(other, tp, &e));
    assert_string_not_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    /* Text that would need escaping is refused. */
    json_object_set_new(other, "e", json_string("AQ\"AB"));
    assert_false(jwk_thumbprint(other, tp, &e));
    json_decref(other);
    json_decref(jwk);
}

static void test_thumbprint_ec(void **state) {
    json_t *jwk = jwk_of(p256_k);
    char tp[44], want[44];
    struct rerr e;
    assert_true(jwk_thumbprint(jwk, tp, &e));
    char *text = NULL;
    assert_true(asprintf(&text, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                         json_string_value(json_object_get(jwk, "x")), json_string_value(json_object_get(jwk, "y"))) > 0);
    uint8_t md[32];
    assert_true(EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL));
    b64url_encode(md, 32, want, sizeof(want));
    assert_string_equal(tp, want);
    free(text);
    json_decref(jwk);
}

/* jwk_to_key refuses jwk with badPublicKey (jwk stolen). */
static void key_refused(json_t *jwk, const char *why) {
    const char *p = NULL;
    struct rerr e = {""};
    EVP_PKEY *k = jwk_to_key(jwk, &p, &e);
    if (k != NULL) fail_msg("jwk_to_key accepted a key that %s", why);
    assert_string_equal(p, "badPublicKey");
    assert_true(e.msg[0] != '\0');
    json_decref(jwk);
}

static void test_jwk_refusals(void **state) {
    json_t *j = jwk_of(rsa_k);
    json_object_set_new(j, "d", json_string("AQAB"));
    key_refused(j, "holds d");
    j = jwk_of(p256_k);
    json_object_set_new(j, "d", json_string("AQAB"));
    key_refused(j, "holds d (EC)");
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(small);
    key_refused(jwk_of(small), "is RSA 1024");
    EVP_PKEY_free(small);
    j = jwk_of(rsa_k);
    json_object_set_new(j, "e", json_string("Ag")); /* 2: even */
    key_refused(j, "has an even exponent");
    j = jwk_of(rsa_k);
    json_object_set_new(j, "e", json_string("AQ")); /* 1 */
    key_refused(j, "has exponent 1");
    j = jwk_of(rsa_k);
    json_object_set_new(j, "e", json_string("AAEAAQ")); /* 65537 with a leading zero */
    key_refused(j, "has a non-minimal exponent");
    j = jwk_of(rsa_k);
    json_object_set_new(j, "n", json_string("AQAB="));
    key_refused(j, "has a padded n");
    key_refused(json_pack("{s:s, s:s}", "kty", "oct", "k", "AQAB"), "is symmetric");
    key_refused(json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
                "is Ed25519");
    key_refused(json_string("RSA"), "is not an object");
    /* EC: off the curve, wrong sizes, wrong curve. */
    j = jwk_of(p256_k);
    char *y = strdup(json_string_value(json_object_get(j, "y")));
    y[10] = y[10] == 'A' ? 'B' : 'A';
    json_object_set_new(j, "y", json_string(y));
    free(y);
    key_refused(j, "is off the curve");
    j = jwk_of(p256_k);
    json_object_set_new(j, "x", json_string("AAAA"));
    key_refused(j, "has a short x");
    j = jwk_of(p256_k);
    json_object_set_new(j, "crv", json_string("P-384"));
    key_refused(j, "names the wrong curve");
    j = jwk_of(p256_k);
    json_object_set_new(j, "crv", json_string("P-521"));
    key_refused(j, "is P-521");
    /* x = y = 2^256 - 1: past the field prime, not a reduced coordinate. */
    uint8_t ff[32];
    memset(ff, 0xff, sizeof(ff));
    char *s = b64(ff, 32);
    key_refused(json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", s, "y", s), "has coordinates past p");
    free(s);
    /* The good ones pass. */
    const char *p;
    struct rerr e;
    EVP_PKEY *keys[] = {rsa_k, p256_k, p384_k};
    for (int i = 0; i < 3; i++) {
        j = jwk_of(keys[i]);
        EVP_PKEY *k = jwk_to_key(j, &p, &e);
        if (k == NULL) fail_msg("jwk_to_key: %s", e.msg);
        assert_int_equal(EVP_PKEY_eq(k, keys[i]), 1);
        EVP_PKEY_free(k);
        json_decref(j);
    }
}

/* ---- JWS ---- */

static void test_good(void **state) {
    static const char *const algs[] = {"RS256", "ES256", "ES384"};
    EVP_PKEY *keys[] = {rsa_k, p256_k, p384_k};
    for (int i = 0; i < 3; i++) {
        char *b = body_of(jws_obj(keys[i], algs[i], hdr_jwk(algs[i], keys[i]), "{\"termsOfServiceAgreed\":true}", SIG_JOSE));
        struct jws j;
        const char *p = NULL;
        assert_true(parse(b, &j, &p));
        assert_string_equal(j.alg, algs[i]);
        assert_string_equal(j.nonce, "n0nce");
        assert_string_equal(j.url, URL);
        assert_string_equal(j.kid, "");
        assert_non_null(j.jwk);
        assert_int_equal(j.payload_len, strlen("{\"termsOfServiceAgreed\":true}"));
        assert_string_equal((const char *)j.payload, "{\"termsOfServiceAgreed\":true}");
        jws_free(&j);
        assert_null(j.jwk);
        jws_free(&j); /* zeroed: safe again */
        if (!parse_verify(b, NULL)) fail_msg("%s did not verify", algs[i]);
        free(b);
        /* The kid form, POST-as-GET (empty payload), verified with the key. */
        b = body_of(jws_obj(keys[i], algs[i],
                            json_pack("{s:s, s:s, s:s, s:s}", "alg", algs[i], "nonce", "n1", "url", URL, "kid",
                                      "https://acme.example/acme/acct/1"),
                            "", SIG_JOSE));
        assert_true(parse(b, &j, &p));
        assert_string_equal(j.kid, "https://acme.example/acme/acct/1");
        assert_null(j.jwk);
        assert_int_equal(j.payload_len, 0);
        assert_non_null(j.payload);
        assert_int_equal(j.payload[0], 0);
        jws_free(&j);
        assert_true(parse_verify(b, keys[i]));
        free(b);
    }
}

static void test_alg_refused(void **state) {
    /* "none", HS256 and others in the outer JWS: badSignatureAlgorithm. */
    static const char *const algs[] = {"none", "HS256", "RS384", "PS256", "ES512", "EdDSA", "rs256", "RS256 "};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        refused_obj(jws_obj(rsa_k, "RS256", hdr_jwk(algs[i], rsa_k), "{}", SIG_JOSE), "badSignatureAlgorithm");
    /* alg none with an empty signature, as an attacker sends it. */
    json_t *o = jws_obj(rsa_k, "RS256", hdr_jwk("none", rsa_k), "{}", SIG_JOSE);
    json_object_set_new(o, "signature", json_string(""));
    refused_obj(o, "badSignatureAlgorithm");
    /* alg that does not fit the jwk. */
    refused_obj(jws_obj(rsa_k, "RS256", hdr_jwk("ES256", rsa_k), "{}", SIG_JOSE), "badSignatureAlgorithm");
    refused_obj(jws_obj(p256_k, "ES256", hdr_jwk("ES384", p256_k), "{}", SIG_JOSE), "badSignatureAlgorithm");
    refused_obj(jws_obj(p384_k, "ES384", hdr_jwk("RS256", p384_k), "{}", SIG_JOSE), "badSignatureAlgorithm");
    /* No alg at all, or not a string: malformed. */
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:o}", "url", URL, "jwk", jwk_of(rsa_k)), "{}", SIG_JOSE),
                "malformed");
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:i, s:s, s:o}", "alg", 1, "url", URL, "jwk", jwk_of(rsa_k)), "{}", SIG_JOSE),
                "malformed");
}

static void test_verify_mismatch(void **state) {
    /* kid form (parse cannot see the key): the verifier refuses the pairing. */
    static const char *const algs[] = {"RS256", "ES256", "ES384"};
    EVP_PKEY *keys[] = {rsa_k, p256_k, p384_k};
    for (int i = 0; i < 3; i++) {
        char *b = body_of(jws_obj(keys[i], algs[i], json_pack("{s:s, s:s, s:s}", "alg", algs[i], "url", URL, "kid", "k"), "{}",
                                  SIG_JOSE));
        for (int k = 0; k < 3; k++) assert_int_equal(parse_verify(b, keys[k]), k == i);
        free(b);
    }
    /* ES256 header, signed by P-384 (the alg claims the wrong curve). */
    char *b = body_of(jws_obj(p384_k, "ES384", json_pack("{s:s, s:s, s:s}", "alg", "ES256", "url", URL, "kid", "k"), "{}", SIG_JOSE));
    assert_false(parse_verify(b, p384_k));
    free(b);
}

static void test_tampered(void **state) {
    static const char *const algs[] = {"RS256", "ES256", "ES384"};
    static const char *const members[] = {"protected", "payload", "signature"};
    EVP_PKEY *keys[] = {rsa_k, p256_k, p384_k};
    for (int i = 0; i < 3; i++) {
        for (int m = 0; m < 3; m++) {
            json_t *o = jws_obj(keys[i], algs[i], json_pack("{s:s, s:s, s:s}", "alg", algs[i], "url", URL, "kid", "k"),
                                "{\"contact\":[\"mailto:a@example.org\"]}", SIG_JOSE);
            char *b = body_of(tamper(o, members[m]));
            /* A tampered header may no longer be JSON: then parse refuses it. */
            struct jws j;
            const char *p;
            if (parse(b, &j, &p)) {
                struct rerr e;
                if (jws_verify(&j, keys[i], &e)) fail_msg("%s: tampered %s verified", algs[i], members[m]);
                jws_free(&j);
            }
            free(b);
        }
    }
}

static void test_es_signature_form(void **state) {
    EVP_PKEY *keys[] = {p256_k, p384_k};
    static const char *const algs[] = {"ES256", "ES384"};
    for (int i = 0; i < 2; i++) {
        for (enum sigform f = SIG_DER; f <= SIG_LONG; f++) {
            char *b = body_of(jws_obj(keys[i], algs[i], hdr_jwk(algs[i], keys[i]), "{}", f));
            if (parse_verify(b, NULL)) fail_msg("%s with a %s signature verified", algs[i], f == SIG_DER ? "DER" : "long");
            free(b);
        }
    }
}

static void test_structure_refused(void **state) {
    json_t *hdr = json_pack("{s:s, s:s, s:s, s:s, s:o}", "alg", "RS256", "nonce", "n", "url", URL, "kid", "k", "jwk", jwk_of(rsa_k));
    refused_obj(jws_obj(rsa_k, "RS256", hdr, "{}", SIG_JOSE), "malformed"); /* both */
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s}", "alg", "RS256", "nonce", "n", "url", URL), "{}", SIG_JOSE),
                "malformed"); /* neither */
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s}", "alg", "RS256", "kid", "k"), "{}", SIG_JOSE), "malformed"); /* no url */
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s, s:[s]}", "alg", "RS256", "url", URL, "kid", "k", "crit", "b64"), "{}",
                        SIG_JOSE), "malformed");
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s, s:b}", "alg", "RS256", "url", URL, "kid", "k", "b64", 0), "{}",
                        SIG_JOSE), "malformed");
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s, s:i}", "alg", "RS256", "url", URL, "kid", "k", "nonce", 5), "{}",
                        SIG_JOSE), "malformed");
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s}", "alg", "RS256", "url", URL, "jwk", "k"), "{}", SIG_JOSE),
                "malformed"); /* jwk not an object */
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    refused_obj(jws_obj(rsa_k, "RS256", json_pack("{s:s, s:s, s:s, s:s}", "alg", "RS256", "url", URL, "kid", "k", "nonce", big), "{}",
                        SIG_JOSE), "malformed"); /* nonce over its field */
    /* An unprotected "header" member, or any other extra member. */
    json_t *o = jws_obj(rsa_k, "RS256", hdr_jwk("RS256", rsa_k), "{}", SIG_JOSE);
    json_object_set_new(o, "header", json_pack("{s:s}", "kid", "k"));
    refused_obj(o, "malformed");
    o = jws_obj(rsa_k, "RS256", hdr_jwk("RS256", rsa_k), "{}", SIG_JOSE);
    json_object_del(o, "signature");
    refused_obj(o, "malformed");
    /* The general serialization. */
    o = jws_obj(rsa_k, "RS256", hdr_jwk("RS256", rsa_k), "{}", SIG_JOSE);
    refused_obj(json_pack("{s:O, s:[{s:O, s:O}]}", "payload", json_object_get(o, "payload"), "signatures", "protected",
                          json_object_get(o, "protected"), "signature", json_object_get(o, "signature")),
                "malformed");
    /* The compact serialization, bare and as a JSON string. */
    char *compact = NULL;
    assert_true(asprintf(&compact, "%s.%s.%s", json_string_value(json_object_get(o, "protected")),
                         json_string_value(json_object_get(o, "payload")), json_string_value(json_object_get(o, "signature"))) > 0);
    refused(compact, "malformed");
    refused_obj(json_string(compact), "malformed");
    free(compact);
    /* Padding in a member. */
    char *pad = NULL;
    assert_true(asprintf(&pad, "%s=", json_string_value(json_object_get(o, "payload"))) > 0);
    json_object_set_new(o, "payload", json_string(pad));
    free(pad);
    refused_obj(o, "malformed");
    /* Not JSON, empty, an array. */
    refused("", "malformed");
    refused("{", "malformed");
    refused("[]", "malformed");
    refused("{\"protected\":\"\",\"payload\":\"\",\"signature\":\"\"}", "malformed");
}

static void test_duplicates_and_size(void **state) {
    char *b = body_of(jws_obj(rsa_k, "RS256", hdr_jwk("RS256", rsa_k), "{}", SIG_JOSE));
    assert_true(parse_verify(b, NULL));
    /* The same member twice in the body. */
    char *dup = NULL;
    assert_true(asprintf(&dup, "{\"payload\":\"e30\",%s", b + 1) > 0);
    refused(dup, "malformed");
    free(dup);
    free(b);
    /* Twice in the protected header. */
    const char *hdr = "{\"alg\":\"RS256\",\"url\":\"" URL "\",\"kid\":\"k\",\"kid\":\"k2\"}";
    char *ph = b64((const uint8_t *)hdr, strlen(hdr));
    assert_true(asprintf(&dup, "{\"protected\":\"%s\",\"payload\":\"e30\",\"signature\":\"AAAA\"}", ph) > 0);
    refused(dup, "malformed");
    free(dup);
    free(ph);
    /* A header nested too deep. */
    hdr = "{\"alg\":\"RS256\",\"url\":\"" URL "\",\"kid\":\"k\",\"x\":[[[[[1]]]]]}";
    ph = b64((const uint8_t *)hdr, strlen(hdr));
    assert_true(asprintf(&dup, "{\"protected\":\"%s\",\"payload\":\"e30\",\"signature\":\"AAAA\"}", ph) > 0);
    refused(dup, "malformed");
    free(dup);
    free(ph);
    /* One byte over JWS_MAX_BODY (valid JSON otherwise), and a payload over it
     * through jws_parse_json. */
    size_t n = JWS_MAX_BODY + 1;
    char *big = malloc(JWS_MAX_BODY + 8);
    memset(big, ' ', n);
    memcpy(big, "{}", 2);
    big[n] = '\0';
    refused(big, "malformed");
    memset(big, 'A', JWS_MAX_BODY + 8);
    json_t *o = jws_obj(rsa_k, "RS256", hdr_jwk("RS256", rsa_k), "{}", SIG_JOSE);
    json_object_set_new(o, "payload", json_stringn(big, JWS_MAX_BODY + 4)); /* valid base64url, too long */
    struct jws j;
    const char *p;
    struct rerr e;
    assert_false(jws_parse_json(o, &j, &p, &e));
    assert_string_equal(p, "malformed");
    json_decref(o);
    free(big);
}

static void test_parse_json(void **state) {
    /* The key-change inner JWS: an object already parsed. */
    json_t *o = jws_obj(p256_k, "ES256", json_pack("{s:s, s:s, s:o}", "alg", "ES256", "url", URL, "jwk", jwk_of(p256_k)),
                        "{\"account\":\"https://acme.example/acct/1\"}", SIG_JOSE);
    struct jws j;
    const char *p;
    struct rerr e;
    assert_true(jws_parse_json(o, &j, &p, &e));
    assert_string_equal(j.nonce, "");
    EVP_PKEY *k = jwk_to_key(j.jwk, &p, &e);
    assert_non_null(k);
    assert_true(jws_verify(&j, k, &e));
    EVP_PKEY_free(k);
    jws_free(&j);
    json_decref(o);
}

/* ---- external account binding ---- */

static const uint8_t mac_key[] = "a 32-byte key for the eab tests!";

/* An EAB object: header hdr (stolen), payload text, MAC'd with key. */
static json_t *eab_obj(json_t *hdr, const char *payload, const uint8_t *key, size_t key_len) {
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    const EVP_MD *md = strcmp(alg, "HS512") == 0 ? EVP_sha512() : strcmp(alg, "HS384") == 0 ? EVP_sha384() : EVP_sha256();
    char *h = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    char *ph = b64((const uint8_t *)h, strlen(h)), *pp = b64((const uint8_t *)payload, strlen(payload));
    char *input = NULL;
    assert_true(asprintf(&input, "%s.%s", ph, pp) > 0);
    uint8_t mac[64];
    unsigned mac_len = 0;
    assert_non_null(HMAC(md, key, (int)key_len, (const uint8_t *)input, strlen(input), mac, &mac_len));
    char *sig = b64(mac, mac_len);
    json_t *o = json_pack("{s:s, s:s, s:s}", "protected", ph, "payload", pp, "signature", sig);
    free(h), free(ph), free(pp), free(input), free(sig);
    return o;
}

static json_t *eab_hdr(const char *alg) {
    return json_pack("{s:s, s:s, s:s}", "alg", alg, "kid", "eab-kid-1", "url", URL);
}

/* Parses and verifies an EAB against the outer jwk, with key and url. */
static int eab_check(json_t *eab, const uint8_t *key, size_t key_len, const char *url, const json_t *outer) {
    struct jws j;
    const char *p = NULL;
    struct rerr e;
    if (!jws_eab_parse(eab, &j, &p, &e)) fail_msg("jws_eab_parse: %s", e.msg);
    assert_string_equal(j.kid, "eab-kid-1");
    int ok = jws_eab_verify(&j, key, key_len, url, outer, &e);
    if (!ok) assert_true(e.msg[0] != '\0');
    jws_free(&j);
    return ok;
}

static void test_eab(void **state) {
    json_t *outer = jwk_of(p256_k);
    char *jwk_text = json_dumps(outer, JSON_COMPACT | JSON_SORT_KEYS); /* member order differs: still equal */
    static const char *const algs[] = {"HS256", "HS384", "HS512"};
    for (int i = 0; i < 3; i++) {
        json_t *eab = eab_obj(eab_hdr(algs[i]), jwk_text, mac_key, 32);
        assert_true(eab_check(eab, mac_key, 32, URL, outer));
        assert_false(eab_check(eab, (const uint8_t *)"another key of thirty-two bytes!", 32, URL, outer));
        assert_false(eab_check(eab, mac_key, 31, URL, outer));
        assert_false(eab_check(eab, mac_key, 32, URL "x", outer));
        json_t *other = jwk_of(p384_k);
        assert_false(eab_check(eab, mac_key, 32, URL, other));
        json_decref(other);
        /* A tampered MAC; then a tampered payload. */
        assert_false(eab_check(tamper(eab, "signature"), mac_key, 32, URL, outer));
        json_decref(eab);
        eab = eab_obj(eab_hdr(algs[i]), jwk_text, mac_key, 32);
        json_object_set_new(eab, "signature", json_string(json_string_value(json_object_get(eab, "signature"))));
        assert_true(eab_check(eab, mac_key, 32, URL, outer));
        assert_false(eab_check(tamper(eab, "payload"), mac_key, 32, URL, outer));
        json_decref(eab);
    }
    /* A payload that is not the outer jwk, though MAC'd right. */
    json_t *eab = eab_obj(eab_hdr("HS256"), "{\"kty\":\"EC\"}", mac_key, 32);
    assert_false(eab_check(eab, mac_key, 32, URL, outer));
    json_decref(eab);
    /* Refused by the parser: nonce, jwk, no kid, no url, an outer alg, an
     * empty payload, a fourth member. */
    json_t *bad[8];
    bad[0] = eab_obj(json_pack("{s:s, s:s, s:s, s:s}", "alg", "HS256", "kid", "k", "url", URL, "nonce", "n"), jwk_text, mac_key, 32);
    bad[1] = eab_obj(json_pack("{s:s, s:s, s:s, s:O}", "alg", "HS256", "kid", "k", "url", URL, "jwk", outer), jwk_text, mac_key, 32);
    bad[2] = eab_obj(json_pack("{s:s, s:s}", "alg", "HS256", "url", URL), jwk_text, mac_key, 32);
    bad[3] = eab_obj(json_pack("{s:s, s:s}", "alg", "HS256", "kid", "k"), jwk_text, mac_key, 32);
    bad[4] = eab_obj(json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", "k", "url", URL), jwk_text, mac_key, 32);
    bad[5] = eab_obj(json_pack("{s:s, s:s, s:s}", "alg", "none", "kid", "k", "url", URL), jwk_text, mac_key, 32);
    bad[6] = eab_obj(eab_hdr("HS256"), "", mac_key, 32);
    bad[7] = eab_obj(eab_hdr("HS256"), jwk_text, mac_key, 32);
    json_object_set_new(bad[7], "header", json_object());
    for (int i = 0; i < 8; i++) {
        struct jws j;
        const char *p = NULL;
        struct rerr e;
        if (jws_eab_parse(bad[i], &j, &p, &e)) fail_msg("jws_eab_parse accepted case %d", i);
        assert_string_equal(p, "malformed");
        json_decref(bad[i]);
    }
    /* An EAB is not an outer JWS (HS256 there is badSignatureAlgorithm). */
    eab = eab_obj(eab_hdr("HS256"), jwk_text, mac_key, 32);
    struct jws j;
    const char *p = NULL;
    struct rerr e;
    assert_false(jws_parse_json(eab, &j, &p, &e));
    assert_string_equal(p, "badSignatureAlgorithm");
    json_decref(eab);
    free(jwk_text);
    json_decref(outer);
}

/* ---- cross-check: bodies signed by certbot's client (python3-acme over
 * python3-josepy), written by tests/unit/data/jws/make.py ---- */

#define DATA_DIR "tests/unit/data/jws"

static void test_josepy(void **state) {
    json_error_t je;
    json_t *all = json_load_file(DATA_DIR "/josepy.json", 0, &je);
    if (all == NULL) fail_msg("%s/josepy.json: %s (run the tests from the repository root)", DATA_DIR, je.text);
    size_t i;
    json_t *c;
    const char *p = NULL;
    struct rerr e;
    json_array_foreach(json_object_get(all, "cases"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *jwk = json_object_get(c, "jwk");
        struct jws j;
        if (!parse(json_string_value(json_object_get(c, "body")), &j, &p)) fail_msg("%s: refused (%s)", name, p);
        if (j.jwk != NULL) assert_true(json_equal(j.jwk, (json_t *)jwk));
        else assert_true(strncmp(j.kid, "https://", 8) == 0);
        assert_true(strncmp(j.nonce, "bm9uY2Ut", 8) == 0); /* base64url of "nonce-" */
        assert_string_equal(j.url, URL);
        EVP_PKEY *k = jwk_to_key(jwk, &p, &e);
        if (k == NULL) fail_msg("%s: jwk_to_key: %s", name, e.msg);
        if (!jws_verify(&j, k, &e)) fail_msg("%s: %s", name, e.msg);
        EVP_PKEY_free(k);
        char tp[44];
        assert_true(jwk_thumbprint(jwk, tp, &e));
        assert_string_equal(tp, json_string_value(json_object_get(c, "thumbprint")));
        jws_free(&j);
    }
    assert_int_equal(i, 5);
    const json_t *x = json_object_get(all, "eab");
    const char *key_b64 = json_string_value(json_object_get(x, "hmac_key"));
    uint8_t key[64];
    size_t key_len = 0;
    assert_true(b64url_decode(key_b64, strlen(key_b64), key, sizeof(key), &key_len));
    struct jws j;
    if (!jws_eab_parse(json_object_get(x, "eab"), &j, &p, &e)) fail_msg("eab: %s", e.msg);
    const char *url = json_string_value(json_object_get(x, "url"));
    if (!jws_eab_verify(&j, key, key_len, url, json_object_get(x, "jwk"), &e)) fail_msg("eab: %s", e.msg);
    key[0] ^= 1;
    assert_false(jws_eab_verify(&j, key, key_len, url, json_object_get(x, "jwk"), &e));
    jws_free(&j);
    json_decref(all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),    cmocka_unit_test(test_b64url_round_trip),
        cmocka_unit_test(test_b64url_strict),     cmocka_unit_test(test_thumbprint_rfc7638),
        cmocka_unit_test(test_thumbprint_ec),     cmocka_unit_test(test_jwk_refusals),
        cmocka_unit_test(test_good),              cmocka_unit_test(test_alg_refused),
        cmocka_unit_test(test_verify_mismatch),   cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_es_signature_form), cmocka_unit_test(test_structure_refused),
        cmocka_unit_test(test_duplicates_and_size), cmocka_unit_test(test_parse_json),
        cmocka_unit_test(test_eab),               cmocka_unit_test(test_josepy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
