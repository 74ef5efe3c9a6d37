/* libFuzzer target: ocsp/request against OpenSSL's d2i_OCSP_REQUEST, both
 * ways. The input is a request body as a shard hands it over. Whatever the
 * two disagree on aborts, after one line on stderr saying what differed.
 *
 * revd accepts => OpenSSL agrees (forward). When ocsp_request_parse says OK
 * or UNSUPPORTED (both mean well-formed), d2i_OCSP_REQUEST must read the
 * same bytes, all of them, and i2d_OCSP_REQUEST must give them back byte for
 * byte (what revd accepts is DER, and DER has one encoding). Then, field by
 * field: the number of requests; the first CertID's hash algorithm (its OID
 * octets; SHA-1/256/384/512 exactly when revd says OK, with the digest's
 * length), issuerNameHash, issuerKeyHash, serialNumber (revd's INTEGER
 * content octets against OpenSSL's ASN1_INTEGER: positive, magnitude without
 * the 0x00 a high bit needs) and the whole CertID encoding; the nonce (revd
 * views the OCTET STRING inside extnValue; OpenSSL's extnValue must be that
 * one DER OCTET STRING, and the only nonce); the signed flag.
 *   One exception, by design: revd checks requestorName and the signature's
 * certificates only for shape (ocsp/request.c), where OpenSSL decodes them
 * in full (names canonicalized, certificates decoded). When OpenSSL refuses
 * the input, it is asked again without those two parts (tests/ocsp_openssl.h
 * strip_uninterpreted); only a refusal of that is a finding.
 *
 * OpenSSL accepts => revd's verdict is predicted (reverse). OpenSSL reads BER
 * (non-minimal and indefinite lengths, constructed strings, unused bits set)
 * and writes DER, so a claim is made only when the input is at most
 * OCSP_REQ_MAX_BYTES and i2d_OCSP_REQUEST gives it back byte for byte:
 * then every length and every value OpenSSL interprets is DER. For
 * those inputs revd's answer is predicted exactly (model() below, from
 * OpenSSL's decoding: hash OID, digest sizes, serial) and must match.
 * revd refuses these by design, and the model says MALFORMED for them:
 *  - version present: [0] EXPLICIT Version DEFAULT v1. OpenSSL's template
 *    has it OPTIONAL, so an explicit v1 round-trips; DER omits a DEFAULT
 *    and no other version exists.
 *  - caps: more than OCSP_REQ_MAX_REQUESTS requests, more than 32
 *    extensions in one list, a nonce over OCSP_NONCE_MAX octets, a serial
 *    of more than 20 octets of magnitude (RFC 5280 4.1.2.2); over
 *    OCSP_REQ_MAX_BYTES nothing is claimed (the caller never hands it over).
 *  - no request at all; an empty Extensions (SIZE (1..MAX)).
 *  - a serial that is zero or negative (RFC 5280 4.1.2.2).
 *  - hashAlgorithm parameters other than absent or NULL; for SHA-1/256/384/
 *    512, an issuerNameHash or issuerKeyHash not of the digest's length; for
 *    any other OID (UNSUPPORTED, not refused), hashes of different or zero
 *    length. This holds for every Request, not only the first.
 *  - extensions: critical explicitly FALSE (a DEFAULT written out: BER), or
 *    a BOOLEAN octet other than 00 or FF (OpenSSL keeps it as it came); an
 *    OID twice in one list; a critical one revd does not understand (any in
 *    singleRequestExtensions, any but the nonce in requestExtensions: RFC
 *    6960 4.4, RFC 5280 4.2); a nonce whose extnValue is not exactly one DER
 *    OCTET STRING of 1..128 octets (RFC 9654). A nonce among
 *    singleRequestExtensions is an unknown extension to revd.
 * And no claim at all (revd checks these parts with rules of its own,
 * stricter than OpenSSL's, or OpenSSL keeps their bytes raw so the round
 * trip does not show they are DER):
 *  - requestorName present: revd wants IA5 strings 7-bit, iPAddress of 4
 *    or 16 octets, non-empty x400Address and ediPartyName, and Name values
 *    by the universal types' DER rules; OpenSSL keeps a Name's bytes.
 *  - optionalSignature with certificates, or with signatureAlgorithm
 *    parameters other than absent or NULL: revd walks these with its
 *    generic DER rules (UTCTime of 13 octets ending in Z, nesting at most
 *    24 deep, no universal tag 0); OpenSSL keeps a tbsCertificate's bytes
 *    and an ANY's SEQUENCE raw.
 * Several requests are not a difference: revd checks every one (up to 64)
 * and answers the first.
 *
 * The structure OpenSSL's API does not show (version, requestorName, empty
 * or absent lists, an explicit FALSE, the signature's parts) is read from
 * the input with a reader of this file's own (tlv_get), not common/der, so
 * that a bug there cannot hide itself. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "ocsp/request.h"
#include "tests/ocsp_openssl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EXTENSIONS 32 /* per Extensions list: ocsp/request.c's cap */
#define MAX_SERIAL_MAGNITUDE 20

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_ocsp_diff: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static int same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len) {
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static const char *verdict(enum ocsp_req_result res) {
    switch (res) {
    case OCSP_REQ_OK:
        return "OK";
    case OCSP_REQ_MALFORMED:
        return "MALFORMED";
    case OCSP_REQ_UNSUPPORTED:
        return "UNSUPPORTED";
    }
    return "?";
}

/* ---- a strict DER reader of its own ---- */

struct tlv {
    const uint8_t *p;
    size_t len;
};

/* tlv_get reads one element: a low tag number, a definite length in minimal
 * form of at most 4 octets, inside t; *out views its contents. 1 or 0 (t
 * unchanged). */
static int tlv_get(struct tlv *t, unsigned *out_tag, struct tlv *out) {
    size_t i = 2, n, len;
    if (t->len < 2 || (t->p[0] & 0x1f) == 0x1f) return 0;
    if (t->p[1] < 0x80) {
        len = t->p[1];
    } else {
        n = t->p[1] & 0x7f;
        if (n == 0 || n > 4 || t->len < 2 + n || t->p[2] == 0) return 0;
        len = 0;
        for (size_t k = 0; k < n; k++) len = len << 8 | t->p[2 + k];
        if (len < 0x80 || (n > 1 && len < (size_t)1 << (8 * (n - 1)))) return 0;
        i += n;
    }
    if (len > t->len - i) return 0;
    *out_tag = t->p[0];
    *out = (struct tlv){t->p + i, len};
    t->p += i + len;
    t->len -= i + len;
    return 1;
}

/* The next element if its identifier is tag, else 0 (t unchanged). */
static int tlv_take(struct tlv *t, unsigned tag, struct tlv *out) {
    struct tlv copy = *t;
    unsigned got;
    if (!tlv_get(&copy, &got, out) || got != tag) return 0;
    *t = copy;
    return 1;
}

/* ---- what OpenSSL makes of the CertID ---- */

/* The digests revd answers for, as OpenSSL names them. */
static const struct {
    int nid;
    enum ocsp_hash hash;
} KNOWN[] = {
    {NID_sha1, OCSP_HASH_SHA1},
    {NID_sha256, OCSP_HASH_SHA256},
    {NID_sha384, OCSP_HASH_SHA384},
    {NID_sha512, OCSP_HASH_SHA512},
};

/* The digest's size, from OpenSSL, when oid is one revd answers for (and
 * *out_hash, if not NULL, revd's name for it); else 0. */
static size_t known_digest_len(const ASN1_OBJECT *oid, enum ocsp_hash *out_hash) {
    int nid = OBJ_obj2nid(oid);
    for (size_t i = 0; i < sizeof(KNOWN) / sizeof(KNOWN[0]); i++) {
        if (KNOWN[i].nid != nid) continue;
        const EVP_MD *md = EVP_get_digestbynid(nid);
        if (md == NULL) fail("OpenSSL has no digest %s", OBJ_nid2sn(nid));
        if (out_hash != NULL) *out_hash = KNOWN[i].hash;
        return (size_t)EVP_MD_get_size(md);
    }
    return 0;
}

/* The CertID's AlgorithmIdentifier parameters, from OpenSSL's encoding of
 * it: 1 when absent or NULL. */
static int certid_params_plain(OCSP_CERTID *id) {
    unsigned char *enc = NULL;
    int enc_len = i2d_OCSP_CERTID(id, &enc);
    struct tlv t = {enc, enc_len > 0 ? (size_t)enc_len : 0}, cid, alg, oid;
    int ok = enc_len > 0 && tlv_take(&t, 0x30, &cid) && tlv_take(&cid, 0x30, &alg) &&
             tlv_take(&alg, 0x06, &oid) &&
             (alg.len == 0 || (alg.len == 2 && alg.p[0] == 0x05 && alg.p[1] == 0x00));
    if (enc_len <= 0) fail("i2d_OCSP_CERTID failed on a CertID OpenSSL read");
    OPENSSL_free(enc);
    return ok;
}

/* 1 when the serial is positive, nonzero, at most 20 octets of magnitude. */
static int serial_acceptable(const ASN1_INTEGER *s) {
    const unsigned char *m = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s), nonzero = 0;
    if (ASN1_STRING_type(s) != V_ASN1_INTEGER || n <= 0 || n > MAX_SERIAL_MAGNITUDE) return 0;
    for (int i = 0; i < n; i++) nonzero |= m[i];
    return nonzero != 0;
}

/* ---- forward: revd accepted ---- */

/* The nonce as revd reads it: extnValue holds one DER OCTET STRING. */
static int nonce_inner(const ASN1_OCTET_STRING *v, struct tlv *out) {
    struct tlv t = {ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v)};
    return tlv_take(&t, 0x04, out) && t.len == 0;
}

static void forward(const uint8_t *data, size_t size, const struct ocsp_req *r,
                    enum ocsp_req_result res, OCSP_REQUEST *whole) {
    static uint8_t core[OCSP_REQ_MAX_BYTES];
    const uint8_t *bytes = data;
    size_t bytes_len = size;
    OCSP_REQUEST *req = whole;
    unsigned char *enc = NULL;
    int enc_len;

    if (req == NULL) {
        /* Only the parts revd does not interpret may explain it. */
        bytes_len = strip_uninterpreted(data, size, core, sizeof(core));
        if (bytes_len == 0) fail("revd %s, OpenSSL refuses; cannot strip requestorName/certs", verdict(res));
        bytes = core;
        req = openssl_parse(core, bytes_len);
        if (req == NULL)
            fail("revd %s, OpenSSL refuses (also without requestorName and certificates)", verdict(res));
    }
    enc_len = i2d_OCSP_REQUEST(req, &enc);
    if (enc_len <= 0 || !same(enc, (size_t)enc_len, bytes, bytes_len))
        fail("revd %s, OpenSSL re-encodes the %zu bytes differently (%d bytes): revd accepted non-DER",
             verdict(res), bytes_len, enc_len);
    OPENSSL_free(enc);
    enc = NULL;

    int n = OCSP_request_onereq_count(req);
    if (n < 1 || (size_t)n != r->num_requests)
        fail("requests: revd %zu, OpenSSL %d", r->num_requests, n);
    OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
    ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
    ASN1_OBJECT *md = NULL;
    ASN1_INTEGER *serial = NULL;
    if (id == NULL || OCSP_id_get0_info(&nh, &md, &kh, &serial, id) != 1 || md == NULL)
        fail("OpenSSL read a request without a CertID");

    /* The hash algorithm: revd's OID octets (inside its CertID view). */
    struct tlv t = {r->certid, r->certid_len}, cid, alg, oid;
    if (!tlv_take(&t, 0x30, &cid) || t.len != 0 || !tlv_take(&cid, 0x30, &alg) || !tlv_take(&alg, 0x06, &oid))
        fail("revd's CertID view is not a DER CertID");
    if (!same(oid.p, oid.len, OBJ_get0_data(md), OBJ_length(md)))
        fail("hash OID: revd %zu octets, OpenSSL %zu differ", oid.len, OBJ_length(md));
    enum ocsp_hash hash = OCSP_HASH_SHA1;
    size_t digest = known_digest_len(md, &hash);
    if ((res == OCSP_REQ_OK) != (digest != 0))
        fail("hash %s: revd %s", OBJ_nid2sn(OBJ_obj2nid(md)), verdict(res));
    if (digest != 0 && (r->hash != hash || r->hash_len != digest))
        fail("hash %s: revd says hash %d of %zu octets", OBJ_nid2sn(OBJ_obj2nid(md)), (int)r->hash, r->hash_len);
    if (!same(ASN1_STRING_get0_data(nh), (size_t)ASN1_STRING_length(nh), r->name_hash, r->hash_len))
        fail("issuerNameHash: revd %zu octets, OpenSSL %d differ", r->hash_len, ASN1_STRING_length(nh));
    if (!same(ASN1_STRING_get0_data(kh), (size_t)ASN1_STRING_length(kh), r->key_hash, r->hash_len))
        fail("issuerKeyHash: revd %zu octets, OpenSSL %d differ", r->hash_len, ASN1_STRING_length(kh));

    /* Serial: two's complement content octets against sign and magnitude. */
    const uint8_t *mag = r->serial;
    size_t mag_len = r->serial_len;
    if (mag_len > 1 && mag[0] == 0x00) mag++, mag_len--;
    if (ASN1_STRING_type(serial) != V_ASN1_INTEGER || mag_len == 0 || (r->serial[0] & 0x80) ||
        !same(ASN1_STRING_get0_data(serial), (size_t)ASN1_STRING_length(serial), mag, mag_len))
        fail("serial: revd %zu content octets, OpenSSL %d octets of type %d differ", r->serial_len,
             ASN1_STRING_length(serial), ASN1_STRING_type(serial));
    enc_len = i2d_OCSP_CERTID(id, &enc);
    if (enc_len <= 0 || !same(enc, (size_t)enc_len, r->certid, r->certid_len))
        fail("CertID encoding: revd %zu bytes, OpenSSL %d differ", r->certid_len, enc_len);
    OPENSSL_free(enc);

    int i = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
    if (r->nonce != NULL) {
        struct tlv inner;
        if (i < 0) fail("nonce: revd %zu octets, OpenSSL none", r->nonce_len);
        if (!nonce_inner(X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, i)), &inner) ||
            !same(inner.p, inner.len, r->nonce, r->nonce_len))
            fail("nonce: revd %zu octets, OpenSSL's extnValue differs", r->nonce_len);
        if (OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, i) >= 0) fail("nonce: OpenSSL sees two");
    } else if (i >= 0) {
        fail("nonce: revd none, OpenSSL has one");
    }
    if (r->signed_request != OCSP_request_is_signed(req))
        fail("signed: revd %d, OpenSSL %d", r->signed_request, OCSP_request_is_signed(req));
    if (req != whole) OCSP_REQUEST_free(req);
}

/* ---- reverse: OpenSSL accepted, and its DER is the input ---- */

/* What revd must answer, or -1 for no claim; *why says which rule. */
struct prediction {
    int result; /* enum ocsp_req_result, or -1 */
    const char *why;
};

static struct prediction refuse(const char *why) {
    return (struct prediction){OCSP_REQ_MALFORMED, why};
}

static struct prediction no_claim(const char *why) {
    return (struct prediction){-1, why};
}

/* c: the contents of an [n] EXPLICIT Extensions. nonce_ok: the nonce is
 * understood here (requestExtensions). NULL when revd takes it. */
static const char *extensions_refused(struct tlv c, int nonce_ok) {
    struct tlv list, seen[MAX_EXTENSIONS];
    size_t num = 0;
    const ASN1_OBJECT *nonce = OBJ_nid2obj(NID_id_pkix_OCSP_Nonce);
    if (!tlv_take(&c, 0x30, &list) || c.len != 0) fail("Extensions unreadable in OpenSSL's own DER");
    if (list.len == 0) return "empty Extensions";
    while (list.len > 0) {
        struct tlv ext, oid, crit, value;
        int critical = 0;
        if (num == MAX_EXTENSIONS) return "over 32 extensions";
        if (!tlv_take(&list, 0x30, &ext) || !tlv_take(&ext, 0x06, &oid))
            fail("Extension unreadable in OpenSSL's own DER");
        if (tlv_take(&ext, 0x01, &crit)) {
            /* OpenSSL keeps a BOOLEAN's octet as it came. */
            if (crit.len != 1 || (crit.p[0] != 0x00 && crit.p[0] != 0xff)) return "critical neither 00 nor FF";
            if (crit.p[0] == 0x00) return "critical FALSE written out";
            critical = 1;
        }
        if (!tlv_take(&ext, 0x04, &value) || ext.len != 0) fail("extnValue unreadable in OpenSSL's own DER");
        for (size_t i = 0; i < num; i++)
            if (same(seen[i].p, seen[i].len, oid.p, oid.len)) return "an extension twice";
        seen[num++] = oid;
        if (nonce_ok && same(oid.p, oid.len, OBJ_get0_data(nonce), OBJ_length(nonce))) {
            struct tlv inner;
            if (!tlv_take(&value, 0x04, &inner) || value.len != 0) return "nonce not one DER OCTET STRING";
            if (inner.len == 0 || inner.len > OCSP_NONCE_MAX) return "nonce of 0 or over 128 octets";
        } else if (critical) {
            return "an unknown critical extension";
        }
    }
    return NULL;
}

/* Any refusal decides (revd refuses at its first failed check, wherever the
 * unclaimed parts are); else an unclaimed part forbids a claim; else OK, or
 * UNSUPPORTED by the first CertID's hash. */
static struct prediction model(const uint8_t *data, size_t size, OCSP_REQUEST *req) {
    struct tlv top = {data, size}, ocsp, tbs, list, wrap;
    const char *unclaimed = NULL;
    if (!tlv_take(&top, 0x30, &ocsp) || top.len != 0 || !tlv_take(&ocsp, 0x30, &tbs))
        fail("OCSPRequest unreadable in OpenSSL's own DER");
    if (tlv_take(&tbs, 0xa0, &wrap)) return refuse("version present");
    if (tlv_take(&tbs, 0xa1, &wrap)) unclaimed = "requestorName";
    if (!tlv_take(&tbs, 0x30, &list)) fail("requestList unreadable in OpenSSL's own DER");
    if (tlv_take(&ocsp, 0xa0, &wrap)) {
        struct tlv sig, alg, oid, bits, certs, seq;
        if (!tlv_take(&wrap, 0x30, &sig) || !tlv_take(&sig, 0x30, &alg) || !tlv_take(&alg, 0x06, &oid) ||
            !tlv_take(&sig, 0x03, &bits))
            fail("Signature unreadable in OpenSSL's own DER");
        if (alg.len != 0 && !(alg.len == 2 && alg.p[0] == 0x05 && alg.p[1] == 0x00))
            unclaimed = "signature parameters";
        if (tlv_take(&sig, 0xa0, &certs) && (!tlv_take(&certs, 0x30, &seq) || seq.len != 0))
            unclaimed = "certificates";
    }

    int n = OCSP_request_onereq_count(req);
    if (n == 0) return refuse("no request");
    if (n > OCSP_REQ_MAX_REQUESTS) return refuse("over 64 requests");
    struct prediction first = {OCSP_REQ_OK, "well-formed"};
    for (int i = 0; i < n; i++) {
        OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
        ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
        ASN1_OBJECT *md = NULL;
        ASN1_INTEGER *serial = NULL;
        struct tlv onereq, cid, exts;
        if (id == NULL || OCSP_id_get0_info(&nh, &md, &kh, &serial, id) != 1 || md == NULL)
            fail("OpenSSL read a request without a CertID");
        if (!certid_params_plain(id)) return refuse("hash parameters neither absent nor NULL");
        size_t digest = known_digest_len(md, NULL);
        int nh_len = ASN1_STRING_length(nh), kh_len = ASN1_STRING_length(kh);
        if (digest != 0 && ((size_t)nh_len != digest || (size_t)kh_len != digest))
            return refuse("hash octets not of the digest's length");
        if (digest == 0 && (nh_len == 0 || nh_len != kh_len)) return refuse("unknown hash, lengths differ or zero");
        if (!serial_acceptable(serial)) return refuse("serial zero, negative or over 20 octets");
        if (i == 0 && digest == 0) first = (struct prediction){OCSP_REQ_UNSUPPORTED, "unknown hash OID"};

        if (!tlv_take(&list, 0x30, &onereq) || !tlv_take(&onereq, 0x30, &cid))
            fail("Request unreadable in OpenSSL's own DER");
        if (tlv_take(&onereq, 0xa0, &exts)) {
            const char *why = extensions_refused(exts, 0);
            if (why != NULL) return refuse(why);
        }
    }
    if (tlv_take(&tbs, 0xa2, &wrap)) {
        const char *why = extensions_refused(wrap, 1);
        if (why != NULL) return refuse(why);
    }
    return unclaimed != NULL ? no_claim(unclaimed) : first;
}

static void reverse(const uint8_t *data, size_t size, enum ocsp_req_result res, OCSP_REQUEST *req) {
    unsigned char *enc = NULL;
    int enc_len;
    if (size > OCSP_REQ_MAX_BYTES) {
        if (res != OCSP_REQ_MALFORMED) fail("revd %s over %d bytes", verdict(res), OCSP_REQ_MAX_BYTES);
        return;
    }
    enc_len = i2d_OCSP_REQUEST(req, &enc);
    int canonical = enc_len > 0 && same(enc, (size_t)enc_len, data, size);
    OPENSSL_free(enc);
    if (!canonical) return; /* BER, or not OpenSSL's DER: no claim */

    struct prediction want = model(data, size, req);
    if (want.result >= 0 && (enum ocsp_req_result)want.result != res)
        fail("OpenSSL-canonical request: revd %s, expected %s (%s)", verdict(res),
             verdict((enum ocsp_req_result)want.result), want.why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct ocsp_req r;
    enum ocsp_req_result res = ocsp_request_parse(data, size, &r);
    if (res != OCSP_REQ_OK && res != OCSP_REQ_MALFORMED && res != OCSP_REQ_UNSUPPORTED)
        fail("revd result %d", (int)res);
    OCSP_REQUEST *req = openssl_parse(data, size);
    if (res != OCSP_REQ_MALFORMED) forward(data, size, &r, res, req);
    if (req != NULL) reverse(data, size, res, req);
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return 0;
}
