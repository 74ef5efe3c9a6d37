#include "ocsp/response.h"

#include <string.h>

#include "common/der.h"

/* id-pkix-ocsp-basic 1.3.6.1.5.5.7.48.1.1 and id-pkix-ocsp-nonce ...48.1.2 */
static const uint8_t oid_ocsp_basic[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
static const uint8_t oid_ocsp_nonce[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};
/* sha1 1.3.14.3.2.26; sha256/384/512 2.16.840.1.101.3.4.2.1/2/3 */
static const uint8_t oid_sha1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a};
static const uint8_t oid_sha2[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x00};

size_t ocsp_hash_len(enum ocsp_hash h) {
    switch (h) {
    case OCSP_HASH_SHA1: return 20;
    case OCSP_HASH_SHA256: return 32;
    case OCSP_HASH_SHA384: return 48;
    case OCSP_HASH_SHA512: return 64;
    }
    return 0;
}

int ocsp_certid_build(enum ocsp_hash h, const uint8_t *name_hash, const uint8_t *key_hash,
                      const uint8_t *serial, size_t serial_len, uint8_t *out, size_t out_cap,
                      size_t *out_len) {
    struct derb b;
    derb_init(&b, out, out_cap);
    derb_open(&b, DER_SEQUENCE);
    derb_open(&b, DER_SEQUENCE); /* AlgorithmIdentifier, parameters NULL as clients send */
    if (h == OCSP_HASH_SHA1) {
        derb_add(&b, DER_OID, oid_sha1, sizeof(oid_sha1));
    } else {
        uint8_t oid[sizeof(oid_sha2)];
        memcpy(oid, oid_sha2, sizeof(oid));
        oid[sizeof(oid) - 1] = h == OCSP_HASH_SHA256 ? 1 : h == OCSP_HASH_SHA384 ? 2 : 3;
        derb_add(&b, DER_OID, oid, sizeof(oid));
    }
    derb_add(&b, DER_NULL, NULL, 0);
    derb_close(&b);
    derb_add(&b, DER_OCTET_STRING, name_hash, ocsp_hash_len(h));
    derb_add(&b, DER_OCTET_STRING, key_hash, ocsp_hash_len(h));
    derb_add(&b, DER_INTEGER, serial, serial_len);
    derb_close(&b);
    return derb_finish(&b, out_len);
}

size_t ocsp_response_error(enum ocsp_resp_status st, uint8_t out[5]) {
    out[0] = DER_SEQUENCE;
    out[1] = 3;
    out[2] = DER_ENUMERATED;
    out[3] = 1;
    out[4] = (uint8_t)st;
    return 5;
}

/* One SingleResponse, into b. */
static void single_response(struct derb *b, const struct ocsp_single *r) {
    derb_open(b, DER_SEQUENCE); /* SingleResponse */
    derb_raw(b, r->certid, r->certid_len);
    switch (r->status) {
    case OCSP_GOOD: derb_add(b, DER_CONTEXT(0), NULL, 0); break;
    case OCSP_UNKNOWN: derb_add(b, DER_CONTEXT(2), NULL, 0); break;
    case OCSP_REVOKED:
        derb_open(b, DER_CONTEXT(1) | DER_CONSTRUCTED);
        derb_add_gentime(b, r->revoked_at);
        if (r->reason >= 0) {
            derb_open(b, DER_CONTEXT(0) | DER_CONSTRUCTED);
            derb_add_uint(b, DER_ENUMERATED, (uint64_t)r->reason);
            derb_close(b);
        }
        derb_close(b);
        break;
    }
    derb_add_gentime(b, r->this_update);
    derb_open(b, DER_CONTEXT(0) | DER_CONSTRUCTED);
    derb_add_gentime(b, r->next_update);
    derb_close(b);
    derb_close(b); /* SingleResponse */
}

/* The ResponseData, into b: a SingleResponse for each of r[0..num). */
static void response_data(struct derb *b, const struct ca_signer *s, const struct ocsp_single *rs, size_t num,
                          int64_t produced_at, const uint8_t *nonce, size_t nonce_len) {
    derb_open(b, DER_SEQUENCE);
    derb_open(b, DER_CONTEXT(2) | DER_CONSTRUCTED); /* responderID byKey */
    derb_add(b, DER_OCTET_STRING, s->key_hash, sizeof(s->key_hash));
    derb_close(b);
    derb_add_gentime(b, produced_at);
    derb_open(b, DER_SEQUENCE); /* responses */
    for (size_t i = 0; i < num; i++) single_response(b, &rs[i]);
    derb_close(b); /* responses */
    if (nonce != NULL) {
        /* Extension { extnID id-pkix-ocsp-nonce, extnValue OCTET STRING {
         * OCTET STRING nonce } } (RFC 9654) */
        derb_open(b, DER_CONTEXT(1) | DER_CONSTRUCTED);
        derb_open(b, DER_SEQUENCE);
        derb_open(b, DER_SEQUENCE);
        derb_add(b, DER_OID, oid_ocsp_nonce, sizeof(oid_ocsp_nonce));
        derb_open(b, DER_OCTET_STRING);
        derb_add(b, DER_OCTET_STRING, nonce, nonce_len);
        derb_close(b);
        derb_close(b);
        derb_close(b);
        derb_close(b);
    }
    derb_close(b); /* ResponseData */
}

int ocsp_response_sign(const struct ca_signer *s, const struct ocsp_single *r, int64_t produced_at,
                       const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t out_cap,
                       size_t *out_len) {
    return ocsp_response_sign_many(s, r, 1, produced_at, nonce, nonce_len, out, out_cap, out_len);
}

int ocsp_response_sign_many(const struct ca_signer *s, const struct ocsp_single *r, size_t num, int64_t produced_at,
                            const uint8_t *nonce, size_t nonce_len, uint8_t *out, size_t out_cap, size_t *out_len) {
    /* The signed bytes first, at the end of out: then the response is
     * built at the start around a copy (the two never overlap while out has
     * room for both; a response is a few hundred octets beside a 1-2 KiB
     * certificate). */
    if (out_cap < 64 || num == 0) return 0;
    size_t tbs_cap = out_cap / 2;
    uint8_t *tbs = out + out_cap - tbs_cap;
    struct derb t;
    derb_init(&t, tbs, tbs_cap);
    response_data(&t, s, r, num, produced_at, nonce, nonce_len);
    size_t tbs_len;
    if (!derb_finish(&t, &tbs_len)) return 0;
    uint8_t sig[OCSP_SIG_MAX];
    size_t sig_len = 0;
    if (!s->sign(s->arg, tbs, tbs_len, sig, &sig_len) || sig_len > OCSP_SIG_MAX) return 0;

    struct derb b;
    derb_init(&b, out, out_cap - tbs_cap);
    derb_open(&b, DER_SEQUENCE); /* OCSPResponse */
    derb_add_uint(&b, DER_ENUMERATED, OCSP_SUCCESSFUL);
    derb_open(&b, DER_CONTEXT(0) | DER_CONSTRUCTED);
    derb_open(&b, DER_SEQUENCE); /* ResponseBytes */
    derb_add(&b, DER_OID, oid_ocsp_basic, sizeof(oid_ocsp_basic));
    derb_open(&b, DER_OCTET_STRING);
    derb_open(&b, DER_SEQUENCE); /* BasicOCSPResponse */
    derb_raw(&b, tbs, tbs_len);
    derb_raw(&b, s->sigalg, s->sigalg_len);
    derb_open(&b, DER_BIT_STRING);
    uint8_t unused_bits = 0;
    derb_raw(&b, &unused_bits, 1);
    derb_raw(&b, sig, sig_len);
    derb_close(&b);
    if (s->cert != NULL) {
        derb_open(&b, DER_CONTEXT(0) | DER_CONSTRUCTED);
        derb_open(&b, DER_SEQUENCE);
        derb_raw(&b, s->cert, s->cert_len);
        derb_close(&b);
        derb_close(&b);
    }
    derb_close(&b); /* BasicOCSPResponse */
    derb_close(&b); /* response */
    derb_close(&b); /* ResponseBytes */
    derb_close(&b); /* [0] */
    derb_close(&b); /* OCSPResponse */
    return derb_finish(&b, out_len);
}

int ocsp_response_certs_block(const struct ca_signer *s, uint8_t *out, size_t cap, size_t *len) {
    *len = 0;
    if (s->cert == NULL) return 1;
    struct derb b;
    derb_init(&b, out, cap);
    derb_open(&b, DER_CONTEXT(0) | DER_CONSTRUCTED);
    derb_open(&b, DER_SEQUENCE);
    derb_raw(&b, s->cert, s->cert_len);
    derb_close(&b);
    derb_close(&b);
    return derb_finish(&b, len);
}

int ocsp_times(int64_t now, int64_t validity, int64_t backdate, int64_t cert_not_after, int64_t *this_update,
               int64_t *next_update) {
    if (cert_not_after <= now) return 0;
    *this_update = now - backdate;
    *next_update = validity < cert_not_after - now ? now + validity : cert_not_after;
    return 1;
}
