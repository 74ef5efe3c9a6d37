/* ocsp_openssl: OpenSSL's view of an OCSP request, for the differential
 * checks of ocsp/request (the unit test and the fuzz target). Test code. */
#ifndef REVD_TESTS_OCSP_OPENSSL_H
#define REVD_TESTS_OCSP_OPENSSL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "common/der.h"

/* d2i_OCSP_REQUEST over exactly p[0..len), or NULL. */
static inline OCSP_REQUEST *openssl_parse(const uint8_t *p, size_t len) {
    const unsigned char *q = p;
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &q, (long)len);
    if (req != NULL && (size_t)(q - p) != len) {
        OCSP_REQUEST_free(req);
        req = NULL;
    }
    ERR_clear_error();
    return req;
}

/* The request p[0..len), which ocsp_request_parse accepted, re-encoded
 * without the parts revd checks only for shape: requestorName and the
 * signature's certificates. OpenSSL decodes those in full (names
 * canonicalized, certificates decoded), so it refuses some that revd
 * accepts by design. Returns the length written to out, or 0. */
static inline size_t strip_uninterpreted(const uint8_t *p, size_t len, uint8_t *out, size_t cap) {
    struct der top, req, tbs, el, wrap, sig;
    struct derb b;
    unsigned tag;
    int present;
    size_t out_len;
    der_init(&top, p, len);
    if (!der_get(&top, DER_SEQUENCE, &req) || !der_get(&req, DER_SEQUENCE, &tbs)) return 0;
    derb_init(&b, out, cap);
    derb_open(&b, DER_SEQUENCE);
    derb_open(&b, DER_SEQUENCE);
    while (tbs.len > 0) {
        if (!der_get_any(&tbs, &tag, NULL, &el)) return 0;
        if (tag != (DER_CONTEXT(1) | DER_CONSTRUCTED)) derb_raw(&b, el.p, el.len);
    }
    derb_close(&b);
    if (!der_get_optional(&req, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &wrap)) return 0;
    if (present) {
        if (!der_get(&wrap, DER_SEQUENCE, &sig)) return 0;
        derb_open(&b, DER_CONTEXT(0) | DER_CONSTRUCTED);
        derb_open(&b, DER_SEQUENCE);
        while (sig.len > 0) {
            if (!der_get_any(&sig, &tag, NULL, &el)) return 0;
            if (tag != (DER_CONTEXT(0) | DER_CONSTRUCTED)) derb_raw(&b, el.p, el.len);
        }
        derb_close(&b);
        derb_close(&b);
    }
    derb_close(&b);
    return derb_finish(&b, &out_len) ? out_len : 0;
}

#endif
