/* libFuzzer target: ACME request bodies (acme/jws.c) and strict base64url
 * (common/b64url.c). The input is a request body for jws_parse; what it
 * accepts has a supported alg, exactly one of jwk and kid, and a payload
 * followed by a NUL; its jwk goes through jwk_to_key and jwk_thumbprint and
 * the signature through jws_verify. An input that is a JSON object with an
 * "externalAccountBinding" member has that member read by jws_eab_parse and
 * checked by jws_eab_verify. The input is also decoded as base64url: what
 * decodes must encode back to the same text (one encoding per byte string).
 * Properties: no crash or leak; a refusal names a problem and says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "acme/jws.h"
#include "common/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_refusal(const char *problem, const struct rerr *e) {
    if (problem == NULL || e->msg[0] == '\0') abort();
}

static void check_jwk(const struct jws *j) {
    const char *problem = NULL;
    struct rerr e = {""};
    char tp[44];
    EVP_PKEY *key = jwk_to_key(j->jwk, &problem, &e);
    int has_tp = jwk_thumbprint(j->jwk, tp, &e);
    if (key == NULL) {
        check_refusal(problem, &e);
        return;
    }
    /* Every key jwk_to_key accepts has a thumbprint. */
    if (!has_tp || strlen(tp) != 43) abort();
    (void)jws_verify(j, key, &e);
    EVP_PKEY_free(key);
}

static void check_jws(const uint8_t *data, size_t size) {
    struct jws j;
    const char *problem = NULL;
    struct rerr e = {""};
    if (!jws_parse((const char *)data, size, &j, &problem, &e)) {
        check_refusal(problem, &e);
        if (j.jwk != NULL || j.payload != NULL) abort();
        return;
    }
    if (strcmp(j.alg, "RS256") != 0 && strcmp(j.alg, "ES256") != 0 && strcmp(j.alg, "ES384") != 0) abort();
    if ((j.jwk == NULL) == (j.kid[0] == '\0') || j.url[0] == '\0') abort();
    if (j.payload == NULL || j.payload[j.payload_len] != 0) abort();
    if (j.jwk != NULL) check_jwk(&j);
    jws_free(&j);
}

static void check_eab(const uint8_t *data, size_t size) {
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const json_t *eab = json_object_get(o, "externalAccountBinding");
    if (eab != NULL) {
        struct jws j;
        const char *problem = NULL;
        struct rerr e = {""};
        if (jws_eab_parse(eab, &j, &problem, &e)) {
            if (j.kid[0] == '\0' || j.nonce[0] != '\0' || j.jwk != NULL || j.payload_len == 0) abort();
            static const uint8_t key[] = "fuzz eab key";
            (void)jws_eab_verify(&j, key, sizeof(key) - 1, j.url, json_object_get(o, "jwk"), &e);
            jws_free(&j);
        } else {
            check_refusal(problem, &e);
        }
    }
    json_decref(o);
}

static void check_b64url(const uint8_t *data, size_t size) {
    if (size > 4096) return;
    uint8_t dec[3072];
    char enc[4097];
    size_t n = 0;
    if (!b64url_decode((const char *)data, size, dec, sizeof(dec), &n)) return;
    if (b64url_encode(dec, n, enc, sizeof(enc)) != size || memcmp(enc, data, size) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_jws(data, size);
    check_eab(data, size);
    check_b64url(data, size);
    ERR_clear_error();
    return 0;
}
