/* jws: flattened JWS, JWK and EAB for ACME (acme/jws.h).
 *
 * RFC 7515 section 7.2.2 (flattened JSON serialization):
 *   { "protected": BASE64URL(UTF8(header)),
 *     "payload":   BASE64URL(payload),
 *     "signature": BASE64URL(signature) }
 * and the signature covers ASCII(protected || '.' || payload), the text as
 * sent, so the strings are kept as they came. */
#include "acme/jws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "common/b64url.h"

/* JSON nesting allowed: a body is depth 1, a header with a jwk depth 2. */
#define MAX_DEPTH 4
/* The largest signature read: RSA 8192 (1024 bytes) or an HMAC. */
#define MAX_SIG 1024
/* The largest integer a JWK may hold (an RSA 8192 modulus). */
#define MAX_JWK_INT 1024

static const char P_MALFORMED[] = "malformed";
static const char P_BADALG[] = "badSignatureAlgorithm";
static const char P_BADKEY[] = "badPublicKey";

enum mode { MODE_OUTER, MODE_EAB };

/* Whether j nests no deeper than max (an object or array counts one). */
static int depth_ok(const json_t *j, int max) {
    if (!json_is_object(j) && !json_is_array(j)) return 1;
    if (max <= 0) return 0;
    if (json_is_array(j)) {
        size_t i;
        const json_t *v;
        json_array_foreach(j, i, v) if (!depth_ok(v, max - 1)) return 0;
        return 1;
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)j, k, v) if (!depth_ok(v, max - 1)) return 0;
    return 1;
}

/* Decodes a base64url string member of at most cap characters into a new
 * buffer followed by one NUL byte. */
static int decode_member(const json_t *s, size_t cap, uint8_t **out, size_t *out_len) {
    size_t n = json_string_length(s);
    if (n > cap) return 0;
    uint8_t *buf = malloc(B64URL_DEC_MAX(n) + 1);
    if (buf == NULL) return 0;
    if (!b64url_decode(json_string_value(s), n, buf, B64URL_DEC_MAX(n), out_len)) {
        free(buf);
        return 0;
    }
    buf[*out_len] = 0;
    *out = buf;
    return 1;
}

/* Copies an optional string member into dst[cap]: 1 when absent (dst ""),
 * or a string of 1 to cap-1 bytes without NUL; 0 otherwise. */
static int copy_str(const json_t *obj, const char *name, char *dst, size_t cap) {
    const json_t *v = json_object_get(obj, name);
    dst[0] = '\0';
    if (v == NULL) return 1;
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n >= cap || memchr(json_string_value(v), 0, n) != NULL) return 0;
    memcpy(dst, json_string_value(v), n + 1);
    return 1;
}

static int alg_outer(const char *alg) {
    return strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0 || strcmp(alg, "ES384") == 0;
}

static const EVP_MD *hmac_md(const char *alg) {
    if (strcmp(alg, "HS256") == 0) return EVP_sha256();
    if (strcmp(alg, "HS384") == 0) return EVP_sha384();
    if (strcmp(alg, "HS512") == 0) return EVP_sha512();
    return NULL;
}

/* Whether alg fits the jwk's key type; *problem names why not. */
static int alg_fits_jwk(const char *alg, const json_t *jwk, const char **problem, struct rerr *e) {
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *want = NULL;
    *problem = P_BADKEY;
    if (kty == NULL) return rerr_set(e, "jws: the jwk has no \"kty\"");
    if (strcmp(kty, "RSA") == 0) {
        want = "RS256";
    } else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0) {
        want = "ES256";
    } else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-384") == 0) {
        want = "ES384";
    } else {
        return rerr_set(e, "jws: the jwk is neither RSA nor EC P-256/P-384 (use one of those keys)");
    }
    *problem = P_BADALG;
    if (strcmp(alg, want) != 0)
        return rerr_set(e, "jws: alg %s does not fit the jwk's key (expected %s)", alg, want);
    return 1;
}

/* Reads the members of the decoded protected header hdr into out. */
static int read_header(const json_t *hdr, enum mode mode, struct jws *out, const char **problem,
                       struct rerr *e) {
    *problem = P_MALFORMED;
    if (json_object_get(hdr, "crit") != NULL || json_object_get(hdr, "b64") != NULL)
        return rerr_set(e, "jws: \"crit\" and \"b64\" are not supported in the protected header");
    if (!copy_str(hdr, "alg", out->alg, sizeof(out->alg)) || out->alg[0] == '\0') {
        if (mode == MODE_OUTER && json_is_string(json_object_get(hdr, "alg"))) *problem = P_BADALG;
        return rerr_set(e, "jws: the protected header needs \"alg\" (RS256, ES256 or ES384)");
    }
    if (mode == MODE_OUTER && !alg_outer(out->alg)) {
        *problem = P_BADALG;
        return rerr_set(e, "jws: alg %s is not accepted (use RS256, ES256 or ES384)", out->alg);
    }
    if (mode == MODE_EAB && hmac_md(out->alg) == NULL)
        return rerr_set(e, "jws: the external account binding's alg must be HS256, HS384 or HS512");
    if (!copy_str(hdr, "nonce", out->nonce, sizeof(out->nonce)))
        return rerr_set(e, "jws: \"nonce\" must be a string of 1 to %zu bytes", sizeof(out->nonce) - 1);
    if (mode == MODE_EAB && json_object_get(hdr, "nonce") != NULL)
        return rerr_set(e, "jws: the external account binding must not have a \"nonce\"");
    if (!copy_str(hdr, "url", out->url, sizeof(out->url)) || out->url[0] == '\0')
        return rerr_set(e, "jws: the protected header needs \"url\" (a string under %zu bytes)", sizeof(out->url));
    if (!copy_str(hdr, "kid", out->kid, sizeof(out->kid)))
        return rerr_set(e, "jws: \"kid\" must be a string under %zu bytes", sizeof(out->kid));
    const json_t *jwk = json_object_get(hdr, "jwk");
    if (mode == MODE_EAB && (jwk != NULL || out->kid[0] == '\0'))
        return rerr_set(e, "jws: the external account binding needs \"kid\" and no \"jwk\"");
    if ((jwk != NULL) == (out->kid[0] != '\0'))
        return rerr_set(e, "jws: the protected header needs exactly one of \"jwk\" and \"kid\"");
    if (jwk == NULL) return 1;
    if (!json_is_object(jwk)) return rerr_set(e, "jws: \"jwk\" must be an object");
    if (!alg_fits_jwk(out->alg, jwk, problem, e)) return 0;
    out->jwk = json_deep_copy(jwk);
    *problem = P_MALFORMED;
    if (out->jwk == NULL) return rerr_set(e, "jws: out of memory");
    return 1;
}

/* Decodes and reads the protected header text p. */
static int parse_protected(const json_t *p, enum mode mode, struct jws *out, const char **problem,
                           struct rerr *e) {
    uint8_t *text = NULL;
    size_t text_len = 0;
    json_t *hdr = NULL;
    int ok = 0;
    *problem = P_MALFORMED;
    if (!decode_member(p, JWS_MAX_BODY, &text, &text_len)) {
        rerr_set(e, "jws: \"protected\" is not base64url (unpadded, A-Z a-z 0-9 - _)");
        goto done;
    }
    json_error_t je;
    hdr = json_loadb((const char *)text, text_len, JSON_REJECT_DUPLICATES, &je);
    if (hdr == NULL || !json_is_object(hdr) || !depth_ok(hdr, MAX_DEPTH)) {
        rerr_set(e, "jws: the protected header is not a JSON object (%s)", hdr == NULL ? je.text : "wrong type or too deep");
        goto done;
    }
    ok = read_header(hdr, mode, out, problem, e);
done:
    json_decref(hdr);
    free(text);
    return ok;
}

/* Keeps ASCII(protected) '.' ASCII(payload), the text the signature covers. */
static int keep_signing_input(const json_t *p, const json_t *pl, struct jws *out) {
    size_t a = json_string_length(p), b = json_string_length(pl);
    out->signing_input = malloc(a + b + 2);
    if (out->signing_input == NULL) return 0;
    memcpy(out->signing_input, json_string_value(p), a);
    out->signing_input[a] = '.';
    memcpy(out->signing_input + a + 1, json_string_value(pl), b);
    out->signing_input[a + 1 + b] = '\0';
    out->signing_input_len = a + 1 + b;
    return 1;
}

static int parse_obj(const json_t *obj, enum mode mode, struct jws *out, const char **problem,
                     struct rerr *e) {
    const char *dummy;
    if (problem == NULL) problem = &dummy;
    memset(out, 0, sizeof(*out));
    *problem = P_MALFORMED;
    const json_t *p = json_object_get(obj, "protected");
    const json_t *pl = json_object_get(obj, "payload");
    const json_t *sig = json_object_get(obj, "signature");
    if (!json_is_object(obj) || json_object_size(obj) != 3 || !json_is_string(p) || !json_is_string(pl) ||
        !json_is_string(sig))
        return rerr_set(e, "jws: expected the flattened JSON serialization: an object with exactly "
                           "\"protected\", \"payload\" and \"signature\" (strings)");
    if (json_string_length(p) > JWS_MAX_BODY || json_string_length(pl) > JWS_MAX_BODY)
        return rerr_set(e, "jws: a member is over %d bytes", JWS_MAX_BODY);
    if (!parse_protected(p, mode, out, problem, e)) goto fail;
    *problem = P_MALFORMED;
    if (!decode_member(pl, JWS_MAX_BODY, &out->payload, &out->payload_len)) {
        rerr_set(e, "jws: \"payload\" is not base64url (unpadded, A-Z a-z 0-9 - _)");
        goto fail;
    }
    if (mode == MODE_EAB && out->payload_len == 0) {
        rerr_set(e, "jws: the external account binding needs a payload (the account's jwk)");
        goto fail;
    }
    if (!decode_member(sig, B64URL_ENC_LEN(MAX_SIG), &out->sig, &out->sig_len) || out->sig_len == 0) {
        rerr_set(e, "jws: \"signature\" is not base64url of 1 to %d bytes", MAX_SIG);
        goto fail;
    }
    if (!keep_signing_input(p, pl, out)) {
        rerr_set(e, "jws: out of memory");
        goto fail;
    }
    return 1;
fail:
    jws_free(out);
    return 0;
}

int jws_parse(const char *body, size_t len, struct jws *out, const char **problem, struct rerr *e) {
    const char *dummy;
    if (problem == NULL) problem = &dummy;
    memset(out, 0, sizeof(*out));
    *problem = P_MALFORMED;
    if (len > JWS_MAX_BODY) return rerr_set(e, "jws: the body is over %d bytes", JWS_MAX_BODY);
    json_error_t je;
    json_t *obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (obj == NULL) return rerr_set(e, "jws: the body is not JSON (%s)", je.text);
    int ok = parse_obj(obj, MODE_OUTER, out, problem, e);
    json_decref(obj);
    return ok;
}

int jws_parse_json(const json_t *obj, struct jws *out, const char **problem, struct rerr *e) {
    return parse_obj(obj, MODE_OUTER, out, problem, e);
}

int jws_eab_parse(const json_t *eab, struct jws *out, const char **problem, struct rerr *e) {
    return parse_obj(eab, MODE_EAB, out, problem, e);
}

void jws_free(struct jws *j) {
    json_decref(j->jwk);
    free(j->payload);
    free(j->signing_input);
    free(j->sig);
    memset(j, 0, sizeof(*j));
}

/* ---- JWK ---- */

/* Decodes a base64url integer member of a JWK (at most cap bytes, minimal:
 * no leading zero octet) into out; returns its length or 0. */
static size_t jwk_int(const json_t *jwk, const char *name, uint8_t *out, size_t cap) {
    const json_t *v = json_object_get(jwk, name);
    size_t n = 0;
    if (!json_is_string(v) || json_string_length(v) > B64URL_ENC_LEN(cap)) return 0;
    if (!b64url_decode(json_string_value(v), json_string_length(v), out, cap, &n)) return 0;
    return n;
}

/* Builds a key of type name from the parameters in bld. */
static EVP_PKEY *key_from(const char *name, OSSL_PARAM_BLD *bld) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

static EVP_PKEY *rsa_key(const json_t *jwk, struct rerr *e) {
    uint8_t n_buf[MAX_JWK_INT], e_buf[8];
    size_t n_len = jwk_int(jwk, "n", n_buf, sizeof(n_buf));
    size_t e_len = jwk_int(jwk, "e", e_buf, sizeof(e_buf));
    EVP_PKEY *key = NULL;
    if (n_len == 0 || e_len == 0 || n_buf[0] == 0 || e_buf[0] == 0) {
        rerr_set(e, "jws: an RSA jwk needs \"n\" and \"e\" (minimal base64url integers; e at most 8 bytes)");
        return NULL;
    }
    BIGNUM *n = BN_bin2bn(n_buf, (int)n_len, NULL), *ex = BN_bin2bn(e_buf, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (n == NULL || ex == NULL || bld == NULL) {
        rerr_set(e, "jws: out of memory");
        goto done;
    }
    if (BN_num_bits(n) < 2048 || BN_num_bits(n) > 8192 || !BN_is_odd(n)) {
        rerr_set(e, "jws: an RSA key must have an odd modulus of 2048 to 8192 bits (this one has %d)", BN_num_bits(n));
        goto done;
    }
    if (!BN_is_odd(ex) || BN_is_one(ex) || BN_cmp(ex, n) >= 0) {
        rerr_set(e, "jws: the RSA exponent must be odd and at least 3 (65537 is usual)");
        goto done;
    }
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex) ||
        (key = key_from("RSA", bld)) == NULL)
        rerr_ssl(e, "jws: the RSA jwk is not a usable key");
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(ex);
    return key;
}

static EVP_PKEY *ec_key(const json_t *jwk, struct rerr *e) {
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t size = 0;
    if (crv != NULL && strcmp(crv, "P-256") == 0) size = 32;
    if (crv != NULL && strcmp(crv, "P-384") == 0) size = 48;
    if (size == 0) {
        rerr_set(e, "jws: an EC jwk needs \"crv\" P-256 or P-384");
        return NULL;
    }
    /* SEC 1 section 2.3.3: the uncompressed point 04 || x || y. */
    uint8_t point[1 + 2 * 48];
    point[0] = 0x04;
    const json_t *x = json_object_get(jwk, "x"), *y = json_object_get(jwk, "y");
    size_t x_len = 0, y_len = 0;
    if (!json_is_string(x) || !json_is_string(y) ||
        !b64url_decode(json_string_value(x), json_string_length(x), point + 1, size, &x_len) ||
        !b64url_decode(json_string_value(y), json_string_length(y), point + 1 + size, size, &y_len) ||
        x_len != size || y_len != size) {
        rerr_set(e, "jws: an EC %s jwk needs \"x\" and \"y\" of exactly %zu bytes each", crv, size);
        return NULL;
    }
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *check = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, crv, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size) ||
        (key = key_from("EC", bld)) == NULL) {
        rerr_ssl(e, "jws: the EC jwk is not a point on %s", crv);
        goto done;
    }
    /* fromdata already refuses a point off the curve; this says so again. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        rerr_ssl(e, "jws: the EC jwk is not a valid point on %s", crv);
        EVP_PKEY_free(key);
        key = NULL;
    }
done:
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

EVP_PKEY *jwk_to_key(const json_t *jwk, const char **problem, struct rerr *e) {
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    const char *dummy;
    if (problem == NULL) problem = &dummy;
    *problem = P_BADKEY;
    if (!json_is_object(jwk)) {
        rerr_set(e, "jws: the jwk is not an object");
        return NULL;
    }
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++)
        if (json_object_get(jwk, private_members[i]) != NULL) {
            rerr_set(e, "jws: the jwk holds private member \"%s\" (send only the public key)", private_members[i]);
            return NULL;
        }
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty != NULL && strcmp(kty, "RSA") == 0) return rsa_key(jwk, e);
    if (kty != NULL && strcmp(kty, "EC") == 0) return ec_key(jwk, e);
    rerr_set(e, "jws: the jwk's kty must be \"RSA\" or \"EC\"");
    return NULL;
}

/* A member's string value when it is base64url text of at most cap chars. */
static const char *b64_member(const json_t *jwk, const char *name, size_t cap) {
    const json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > cap) return NULL;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < json_string_length(v); i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-' || s[i] == '_'))
            return NULL;
    return s;
}

int jwk_thumbprint(const json_t *jwk, char out[44], struct rerr *e) {
    /* RFC 7638 section 3.2: the required members only, in lexicographic
     * order, no whitespace. The values are base64url or a known curve name,
     * so none needs escaping. */
    const size_t cap = B64URL_ENC_LEN(MAX_JWK_INT);
    char text[2 * B64URL_ENC_LEN(MAX_JWK_INT) + 64];
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    int n = -1;
    if (kty != NULL && strcmp(kty, "RSA") == 0) {
        const char *ev = b64_member(jwk, "e", cap), *nv = b64_member(jwk, "n", cap);
        if (ev != NULL && nv != NULL) n = snprintf(text, sizeof(text), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", ev, nv);
    } else if (kty != NULL && strcmp(kty, "EC") == 0) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        const char *x = b64_member(jwk, "x", cap), *y = b64_member(jwk, "y", cap);
        if (crv != NULL && (strcmp(crv, "P-256") == 0 || strcmp(crv, "P-384") == 0) && x != NULL && y != NULL)
            n = snprintf(text, sizeof(text), "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y);
    }
    if (n < 0 || (size_t)n >= sizeof(text))
        return rerr_set(e, "jws: no thumbprint: the jwk is not an RSA or EC P-256/P-384 public key");
    uint8_t md[32];
    unsigned md_len = 0;
    if (!EVP_Digest(text, (size_t)n, md, &md_len, EVP_sha256(), NULL)) return rerr_ssl(e, "jws: SHA-256 failed");
    if (b64url_encode(md, md_len, out, 44) != 43) return rerr_set(e, "jws: thumbprint encoding failed");
    return 1;
}

/* ---- signatures ---- */

/* The curve of an EC key as a NID, or NID_undef. */
static int ec_nid(EVP_PKEY *key) {
    char name[64];
    if (!EVP_PKEY_get_group_name(key, name, sizeof(name), NULL)) return NID_undef;
    int nid = OBJ_txt2nid(name);
    return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

/* RFC 7518 section 3.4: an ES signature is r || s, each exactly size bytes;
 * OpenSSL takes the DER ECDSA-Sig-Value. Writes a new DER buffer. */
static int es_to_der(const uint8_t *sig, size_t size, uint8_t **der, size_t *der_len) {
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)size, NULL), *s = BN_bin2bn(sig + size, (int)size, NULL);
    int ok = 0;
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        goto done;
    }
    *der = NULL;
    int n = i2d_ECDSA_SIG(es, der);
    if (n > 0) {
        *der_len = (size_t)n;
        ok = 1;
    }
done:
    ECDSA_SIG_free(es);
    return ok;
}

int jws_verify(const struct jws *j, EVP_PKEY *key, struct rerr *e) {
    const EVP_MD *md = NULL;
    size_t es_size = 0;
    if (j->signing_input == NULL || j->sig == NULL || key == NULL) return rerr_set(e, "jws: nothing to verify");
    if (strcmp(j->alg, "RS256") == 0 && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
        md = EVP_sha256();
    } else if (strcmp(j->alg, "ES256") == 0 && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
               ec_nid(key) == NID_X9_62_prime256v1) {
        md = EVP_sha256();
        es_size = 32;
    } else if (strcmp(j->alg, "ES384") == 0 && EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && ec_nid(key) == NID_secp384r1) {
        md = EVP_sha384();
        es_size = 48;
    } else {
        return rerr_set(e, "jws: alg %s does not fit the account key", j->alg);
    }
    if (es_size != 0 && j->sig_len != 2 * es_size)
        return rerr_set(e, "jws: an %s signature must be %zu bytes (r||s), not %zu", j->alg, 2 * es_size, j->sig_len);
    uint8_t *der = NULL;
    size_t der_len = 0;
    if (es_size != 0 && !es_to_der(j->sig, es_size, &der, &der_len)) return rerr_ssl(e, "jws: out of memory");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(ctx, der ? der : j->sig, der ? der_len : j->sig_len,
                              (const uint8_t *)j->signing_input, j->signing_input_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    if (!ok) return rerr_ssl(e, "jws: the %s signature does not verify", j->alg);
    return 1;
}

int jws_eab_verify(const struct jws *eab, const uint8_t *hmac_key, size_t key_len, const char *url,
                   const json_t *outer_jwk, struct rerr *e) {
    const EVP_MD *md = hmac_md(eab->alg);
    if (md == NULL || eab->signing_input == NULL || eab->payload == NULL)
        return rerr_set(e, "jws: the external account binding is not an HMAC JWS");
    if (hmac_key == NULL || key_len == 0 || key_len > INT32_MAX) return rerr_set(e, "jws: no MAC key for the external account");
    if (url == NULL || strcmp(eab->url, url) != 0)
        return rerr_set(e, "jws: the external account binding's url is not this request's url");
    json_error_t je;
    json_t *payload = json_loadb((const char *)eab->payload, eab->payload_len, JSON_REJECT_DUPLICATES, &je);
    int same = payload != NULL && outer_jwk != NULL && json_equal(payload, (json_t *)outer_jwk);
    json_decref(payload);
    if (!same) return rerr_set(e, "jws: the external account binding's payload is not the account's jwk");
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (HMAC(md, hmac_key, (int)key_len, (const uint8_t *)eab->signing_input, eab->signing_input_len, mac, &mac_len) == NULL)
        return rerr_ssl(e, "jws: HMAC failed");
    if (eab->sig_len != mac_len || CRYPTO_memcmp(mac, eab->sig, mac_len) != 0)
        return rerr_set(e, "jws: the external account binding's MAC does not verify (wrong key?)");
    return 1;
}
