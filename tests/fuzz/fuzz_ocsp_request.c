/* libFuzzer target: ocsp/request, differential against OpenSSL. The input is
 * a request body exactly as a shard hands it over. Anything may be refused;
 * nothing may be read outside the input; the views must lie inside it. And
 * whatever revd accepts (OK, or UNSUPPORTED: well-formed with a hash revd
 * does not answer for), OpenSSL's d2i_OCSP_REQUEST must accept too, using
 * every byte, with the same first CertID (serial, name hash, key hash, the
 * encoding itself), the same number of requests, nonce and signed flag, and
 * every other CertID the same through ocsp_request_get.
 * Otherwise abort(). The other way round is not checked: OpenSSL reads BER.
 *
 * One difference is by design: revd checks requestorName and the signature's
 * certificates only for shape (ocsp/request.c), where OpenSSL decodes them in
 * full (names canonicalized, certificates decoded). When OpenSSL refuses, the
 * request is asked again without those two parts; only a refusal of that is
 * a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "common/der.h"
#include "ocsp/request.h"
#include "tests/ocsp_openssl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *data, size_t size, const uint8_t *p, size_t len) {
    return p != NULL && p >= data && len <= size && (size_t)(p - data) <= size - len;
}

static int same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ocsp_req r;
    enum ocsp_req_result res = ocsp_request_parse(data, size, &r);
    if (res == OCSP_REQ_MALFORMED) {
        if (r.certid != NULL || r.nonce != NULL || r.num_requests != 0) abort();
        return 0;
    }
    if (res != OCSP_REQ_OK && res != OCSP_REQ_UNSUPPORTED) abort();

    /* Our own promises. */
    static const size_t lens[] = {20, 32, 48, 64};
    if (size > OCSP_REQ_MAX_BYTES) abort();
    if (r.num_requests < 1 || r.num_requests > OCSP_REQ_MAX_REQUESTS) abort();
    if (r.hash_len == 0 || !inside(data, size, r.name_hash, r.hash_len) ||
        !inside(data, size, r.key_hash, r.hash_len))
        abort();
    if (res == OCSP_REQ_OK && ((unsigned)r.hash > OCSP_HASH_SHA512 || r.hash_len != lens[r.hash])) abort();
    if (!inside(data, size, r.serial, r.serial_len) || r.serial_len > 21 || (r.serial[0] & 0x80) ||
        (r.serial_len == 1 && r.serial[0] == 0) ||
        (r.serial_len > 1 && r.serial[0] == 0 && !(r.serial[1] & 0x80)) ||
        (r.serial_len == 21 && r.serial[0] != 0))
        abort();
    if (!inside(data, size, r.certid, r.certid_len) || r.certid[0] != DER_SEQUENCE) abort();
    if (!inside(data, size, r.name_hash, r.hash_len) || r.name_hash < r.certid ||
        r.serial + r.serial_len != r.certid + r.certid_len)
        abort();
    if (r.nonce != NULL) {
        if (!inside(data, size, r.nonce, r.nonce_len) || r.nonce_len == 0 || r.nonce_len > OCSP_NONCE_MAX)
            abort();
    } else if (r.nonce_len != 0) {
        abort();
    }

    /* OpenSSL's reading of the same bytes. */
    OCSP_REQUEST *req = openssl_parse(data, size);
    if (req == NULL) {
        static uint8_t core[OCSP_REQ_MAX_BYTES];
        size_t core_len = strip_uninterpreted(data, size, core, sizeof(core));
        if (core_len == 0) abort();
        req = openssl_parse(core, core_len);
        if (req == NULL) abort(); /* we accept what OpenSSL refuses */
    }
    if ((size_t)OCSP_request_onereq_count(req) != r.num_requests) abort();
    OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
    ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
    ASN1_INTEGER *serial = NULL;
    if (id == NULL || OCSP_id_get0_info(&nh, NULL, &kh, &serial, id) != 1) abort();
    if (!same(ASN1_STRING_get0_data(nh), (size_t)ASN1_STRING_length(nh), r.name_hash, r.hash_len)) abort();
    if (!same(ASN1_STRING_get0_data(kh), (size_t)ASN1_STRING_length(kh), r.key_hash, r.hash_len)) abort();

    unsigned char *enc = NULL;
    int enc_len = i2d_ASN1_INTEGER(serial, &enc);
    struct der d, content;
    der_init(&d, enc, enc_len > 0 ? (size_t)enc_len : 0);
    if (enc_len <= 0 || !der_get_integer(&d, &content) || d.len != 0 ||
        !same(content.p, content.len, r.serial, r.serial_len))
        abort();
    OPENSSL_free(enc);
    enc = NULL;
    enc_len = i2d_OCSP_CERTID(id, &enc);
    if (enc_len <= 0 || !same(enc, (size_t)enc_len, r.certid, r.certid_len)) abort();
    OPENSSL_free(enc);

    int i = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    if (r.nonce != NULL) {
        if (i < 0) abort();
        ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, i));
        der_init(&d, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
        if (!der_get(&d, DER_OCTET_STRING, &content) || d.len != 0 ||
            !same(content.p, content.len, r.nonce, r.nonce_len))
            abort();
        if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, i) >= 0) abort(); /* one only */
    } else if (i >= 0) {
        abort();
    }
    if (r.signed_request != OCSP_request_is_signed(req)) abort();
    if (!inside(data, size, r.list, r.list_len) || r.certid < r.list) abort();
    for (size_t k = 0; k < r.num_requests; k++) {
        struct ocsp_req one;
        enum ocsp_req_result rk = ocsp_request_get(&r, k, &one);
        if (rk != OCSP_REQ_OK && rk != OCSP_REQ_UNSUPPORTED) abort();
        if (k == 0 && (rk != res || one.certid != r.certid || one.certid_len != r.certid_len)) abort();
        if (!inside(data, size, one.certid, one.certid_len) || one.certid < r.list ||
            one.certid + one.certid_len > r.list + r.list_len || !inside(data, size, one.serial, one.serial_len))
            abort();
        OCSP_CERTID *kid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, (int)k));
        enc = NULL;
        enc_len = kid != NULL ? i2d_OCSP_CERTID(kid, &enc) : 0;
        if (enc_len <= 0 || !same(enc, (size_t)enc_len, one.certid, one.certid_len)) abort();
        OPENSSL_free(enc);
    }
    struct ocsp_req past;
    if (ocsp_request_get(&r, r.num_requests, &past) != OCSP_REQ_MALFORMED || past.certid != NULL) abort();
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return 0;
}
