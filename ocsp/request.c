/* request: the OCSPRequest parser (ocsp/request.h), over the strict DER
 * cursor of common/der. Nothing here allocates; every output is a view into
 * the caller's bytes.
 *
 * revd reads the first CertID here (ocsp_request_get reads the others of a
 * request with several), but a request is only answered when all of it is
 * well-formed DER: every Request's CertID is
 * checked, every extension list is read, and the parts revd does not use
 * (requestorName, the signature and its certificates) are walked element by
 * element. What revd does not interpret it checks only for shape: the
 * signature is not verified, names are not compared. */
#include "ocsp/request.h"

#include <string.h>

#include "common/der.h"

/* Caps below the byte cap, on what a client declares. */
#define MAX_EXTENSIONS 32 /* per Extensions list (real clients send 0..2) */
#define WALK_MAX_DEPTH 24 /* nesting inside the parts revd does not read */
#define MAX_SERIAL_OCTETS 20 /* RFC 5280 4.1.2.2, plus a leading 0x00 */

/* Content octets of the OIDs revd knows. */
static const uint8_t OID_SHA1[] = {0x2b, 0x0e, 0x03, 0x02, 0x1a}; /* 1.3.14.3.2.26 */
static const uint8_t OID_SHA256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t OID_SHA384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
static const uint8_t OID_SHA512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
/* id-pkix-ocsp-nonce 1.3.6.1.5.5.7.48.1.2 */
static const uint8_t OID_NONCE[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};

static const struct {
    const uint8_t *oid;
    size_t oid_len;
    enum ocsp_hash hash;
    size_t len;
} HASHES[] = {
    {OID_SHA1, sizeof(OID_SHA1), OCSP_HASH_SHA1, 20},
    {OID_SHA256, sizeof(OID_SHA256), OCSP_HASH_SHA256, 32},
    {OID_SHA384, sizeof(OID_SHA384), OCSP_HASH_SHA384, 48},
    {OID_SHA512, sizeof(OID_SHA512), OCSP_HASH_SHA512, 64},
};

#define UNIVERSAL(tag) (((tag) & 0xc0u) == 0)
#define TAG_UNIVERSALSTRING 0x1cu
#define TAG_BMPSTRING 0x1eu

/* ---- DER values, by their universal type ---- */

/* X.690 8.19: subidentifiers in base 128, minimal (no leading 0x80 octet),
 * the last octet without its continuation bit. */
static int oid_ok(const struct der *c) {
    if (c->len == 0 || (c->p[c->len - 1] & 0x80)) return 0;
    for (size_t i = 0; i < c->len; i++)
        if (c->p[i] == 0x80 && (i == 0 || !(c->p[i - 1] & 0x80))) return 0;
    return 1;
}

static int get_oid(struct der *d, struct der *out) {
    struct der copy = *d;
    if (!der_get(&copy, DER_OID, out) || !oid_ok(out)) return 0;
    *d = copy;
    return 1;
}

/* X.690 8.6 and 11.2: the unused-bit count 0..7, none in an empty string,
 * and the unused bits zero (DER). */
static int bit_string_ok(const struct der *c) {
    if (c->len == 0 || c->p[0] > 7) return 0;
    if (c->len == 1) return c->p[0] == 0;
    return (c->p[c->len - 1] & ((1u << c->p[0]) - 1)) == 0;
}

static int integer_ok(const struct der *c) {
    if (c->len == 0) return 0;
    if (c->len >= 2 && c->p[0] == 0x00 && !(c->p[1] & 0x80)) return 0;
    if (c->len >= 2 && c->p[0] == 0xff && (c->p[1] & 0x80)) return 0;
    return 1;
}

/* The contents of a primitive element of universal type tag. */
static int primitive_ok(unsigned tag, const struct der *c) {
    switch (tag) {
    case DER_BOOLEAN:
        return c->len == 1 && (c->p[0] == 0x00 || c->p[0] == 0xff);
    case DER_INTEGER:
    case DER_ENUMERATED:
        return integer_ok(c);
    case DER_BIT_STRING:
        return bit_string_ok(c);
    case DER_NULL:
        return c->len == 0;
    case DER_OID:
        return oid_ok(c);
    case DER_UTCTIME: /* YYMMDDHHMMSSZ (X.690 11.8) */
        return c->len == 13 && c->p[12] == 'Z';
    case DER_GENERALIZEDTIME: /* YYYYMMDDHHMMSS[.f*]Z (X.690 11.7) */
        return c->len >= 15 && c->p[c->len - 1] == 'Z';
    case TAG_BMPSTRING:
        return c->len % 2 == 0;
    case TAG_UNIVERSALSTRING:
        return c->len % 4 == 0;
    case DER_SEQUENCE & 0x1fu: /* SEQUENCE and SET are always constructed */
    case DER_SET & 0x1fu:
        return 0;
    default:
        return 1;
    }
}

static int walk(struct der c, int depth);

/* One element revd does not interpret, read without a schema: universal
 * types by their rules (constructed only for SEQUENCE and SET: DER has no
 * constructed strings), constructed tagged elements recursively, primitive
 * tagged ones (IMPLICIT, of unknown type) as opaque bytes. */
static int element_ok(unsigned tag, const struct der *in, int depth) {
    if (tag & DER_CONSTRUCTED) {
        if (UNIVERSAL(tag) && tag != DER_SEQUENCE && tag != DER_SET) return 0;
        if (depth >= WALK_MAX_DEPTH) return 0;
        return walk(*in, depth + 1);
    }
    return !UNIVERSAL(tag) || primitive_ok(tag, in);
}

/* walk: c is a run of well-formed elements. */
static int walk(struct der c, int depth) {
    while (c.len > 0) {
        unsigned tag;
        struct der in;
        if (!der_get_any(&c, &tag, &in, NULL) || !element_ok(tag, &in, depth)) return 0;
    }
    return 1;
}

/* One element, nothing after it. */
static int one_element(struct der c, int depth) {
    unsigned tag;
    struct der in;
    return der_get_any(&c, &tag, &in, NULL) && c.len == 0 && element_ok(tag, &in, depth);
}

/* ---- the parts revd does not interpret ---- */

/* AlgorithmIdentifier ::= SEQUENCE {
 *     algorithm   OBJECT IDENTIFIER,
 *     parameters  ANY DEFINED BY algorithm OPTIONAL } */
static int algorithm_ok(struct der *d) {
    struct der alg, oid;
    if (!der_get(d, DER_SEQUENCE, &alg) || !get_oid(&alg, &oid)) return 0;
    return alg.len == 0 || one_element(alg, 1);
}

/* Name ::= SEQUENCE OF RelativeDistinguishedName
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY } */
static int name_ok(struct der name) {
    while (name.len > 0) {
        struct der rdn;
        if (!der_get(&name, DER_SET, &rdn) || rdn.len == 0) return 0;
        while (rdn.len > 0) {
            struct der atv, type;
            if (!der_get(&rdn, DER_SEQUENCE, &atv) || !get_oid(&atv, &type) || !one_element(atv, 3))
                return 0;
        }
    }
    return 1;
}

static int ia5_ok(const struct der *c) {
    for (size_t i = 0; i < c->len; i++)
        if (c->p[i] & 0x80) return 0;
    return 1;
}

/* GeneralName ::= CHOICE {  (RFC 5280 4.2.1.6; IMPLICIT tags)
 *     otherName                 [0] OtherName,
 *     rfc822Name                [1] IA5String,
 *     dNSName                   [2] IA5String,
 *     x400Address               [3] ORAddress,
 *     directoryName             [4] Name,      -- EXPLICIT: a CHOICE
 *     ediPartyName              [5] EDIPartyName,
 *     uniformResourceIdentifier [6] IA5String,
 *     iPAddress                 [7] OCTET STRING,
 *     registeredID              [8] OBJECT IDENTIFIER }
 * OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
 * c is the contents of requestorName [1] EXPLICIT: one GeneralName. */
static int general_name_ok(struct der c) {
    unsigned tag;
    struct der in, oid, val, name;
    if (!der_get_any(&c, &tag, &in, NULL) || c.len != 0) return 0;
    switch (tag) {
    case DER_CONTEXT(0) | DER_CONSTRUCTED:
        return get_oid(&in, &oid) && der_get(&in, DER_CONTEXT(0) | DER_CONSTRUCTED, &val) &&
               in.len == 0 && one_element(val, 2);
    case DER_CONTEXT(1):
    case DER_CONTEXT(2):
    case DER_CONTEXT(6):
        return ia5_ok(&in);
    case DER_CONTEXT(3) | DER_CONSTRUCTED:
    case DER_CONTEXT(5) | DER_CONSTRUCTED:
        return in.len > 0 && walk(in, 1);
    case DER_CONTEXT(4) | DER_CONSTRUCTED:
        return der_get(&in, DER_SEQUENCE, &name) && in.len == 0 && name_ok(name);
    case DER_CONTEXT(7):
        return in.len == 4 || in.len == 16;
    case DER_CONTEXT(8):
        return oid_ok(&in);
    default:
        return 0;
    }
}

/* Signature ::= SEQUENCE {
 *     signatureAlgorithm  AlgorithmIdentifier,
 *     signature           BIT STRING,
 *     certs           [0] EXPLICIT SEQUENCE OF Certificate OPTIONAL }
 * Certificate ::= SEQUENCE {
 *     tbsCertificate      TBSCertificate,   -- a SEQUENCE, walked
 *     signatureAlgorithm  AlgorithmIdentifier,
 *     signatureValue      BIT STRING }
 * c is the contents of optionalSignature [0] EXPLICIT. Not verified. */
static int signature_ok(struct der c) {
    struct der sig, bits, certs_wrap, certs;
    int present;
    if (!der_get(&c, DER_SEQUENCE, &sig) || c.len != 0) return 0;
    if (!algorithm_ok(&sig) || !der_get(&sig, DER_BIT_STRING, &bits) || !bit_string_ok(&bits))
        return 0;
    if (!der_get_optional(&sig, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &certs_wrap) ||
        sig.len != 0)
        return 0;
    if (!present) return 1;
    if (!der_get(&certs_wrap, DER_SEQUENCE, &certs) || certs_wrap.len != 0) return 0;
    while (certs.len > 0) {
        struct der cert, tbs, sv;
        if (!der_get(&certs, DER_SEQUENCE, &cert) || !der_get(&cert, DER_SEQUENCE, &tbs) ||
            !walk(tbs, 4) || !algorithm_ok(&cert) || !der_get(&cert, DER_BIT_STRING, &sv) ||
            !bit_string_ok(&sv) || cert.len != 0)
            return 0;
    }
    return 1;
}

/* ---- the parts revd reads ---- */

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * Extension ::= SEQUENCE {
 *     extnID      OBJECT IDENTIFIER,
 *     critical    BOOLEAN DEFAULT FALSE,
 *     extnValue   OCTET STRING }
 * c is the contents of an [n] EXPLICIT Extensions. Each extension may
 * appear once. revd understands only the nonce, and only in
 * requestExtensions (nonce_ok): an unknown extension marked critical must
 * not be ignored (RFC 6960 4.4, RFC 5280 4.2), so it makes the request
 * malformed. The nonce (RFC 9654) is an OCTET STRING inside extnValue;
 * *out_nonce views its contents. */
static int extensions_ok(struct der c, int nonce_ok, struct der *out_nonce) {
    struct der list, seen[MAX_EXTENSIONS];
    size_t num = 0;
    if (!der_get(&c, DER_SEQUENCE, &list) || c.len != 0 || list.len == 0) return 0;
    while (list.len > 0) {
        struct der ext, oid, value;
        int critical = 0;
        if (num == MAX_EXTENSIONS) return 0;
        if (!der_get(&list, DER_SEQUENCE, &ext) || !get_oid(&ext, &oid)) return 0;
        if (der_peek(&ext, DER_BOOLEAN)) {
            /* DER omits a DEFAULT value: an explicit FALSE is BER. */
            if (!der_get_bool(&ext, &critical) || !critical) return 0;
        }
        if (!der_get(&ext, DER_OCTET_STRING, &value) || ext.len != 0) return 0;
        for (size_t i = 0; i < num; i++)
            if (der_oid_eq(&seen[i], oid.p, oid.len)) return 0;
        seen[num++] = oid;
        if (nonce_ok && der_oid_eq(&oid, OID_NONCE, sizeof(OID_NONCE))) {
            struct der nonce;
            if (!der_get(&value, DER_OCTET_STRING, &nonce) || value.len != 0 || nonce.len == 0 ||
                nonce.len > OCSP_NONCE_MAX)
                return 0;
            *out_nonce = nonce;
        } else if (critical) {
            return 0;
        }
    }
    return 1;
}

/* CertificateSerialNumber ::= INTEGER: minimal, positive, at most 20
 * octets of magnitude. */
static int serial_ok(const struct der *s) {
    if (!integer_ok(s) || (s->p[0] & 0x80)) return 0;
    if (s->len == 1 && s->p[0] == 0) return 0;
    return s->len <= MAX_SERIAL_OCTETS || (s->len == MAX_SERIAL_OCTETS + 1 && s->p[0] == 0);
}

/* CertID ::= SEQUENCE {
 *     hashAlgorithm   AlgorithmIdentifier,  -- parameters absent or NULL
 *     issuerNameHash  OCTET STRING,
 *     issuerKeyHash   OCTET STRING,
 *     serialNumber    CertificateSerialNumber }
 * Reads one CertID from d into *out (its fields); *out_known says whether
 * revd knows the hash. For an unknown hash the two hashes must still have
 * the same, non-zero length (one hash function made both). */
static int certid_ok(struct der *d, struct ocsp_req *out, int *out_known) {
    const uint8_t *start = d->p;
    struct der id, alg, oid, params, name, key, serial;
    if (!der_get(d, DER_SEQUENCE, &id)) return 0;
    if (!der_get(&id, DER_SEQUENCE, &alg) || !get_oid(&alg, &oid)) return 0;
    if (alg.len != 0 && (!der_get(&alg, DER_NULL, &params) || params.len != 0 || alg.len != 0))
        return 0;
    if (!der_get(&id, DER_OCTET_STRING, &name) || !der_get(&id, DER_OCTET_STRING, &key) ||
        !der_get_integer(&id, &serial) || id.len != 0 || !serial_ok(&serial))
        return 0;
    *out_known = 0;
    for (size_t i = 0; i < sizeof(HASHES) / sizeof(HASHES[0]); i++) {
        if (der_oid_eq(&oid, HASHES[i].oid, HASHES[i].oid_len)) {
            if (name.len != HASHES[i].len || key.len != HASHES[i].len) return 0;
            out->hash = HASHES[i].hash;
            *out_known = 1;
        }
    }
    if (!*out_known && (name.len == 0 || name.len != key.len)) return 0;
    out->name_hash = name.p;
    out->key_hash = key.p;
    out->hash_len = name.len;
    out->serial = serial.p;
    out->serial_len = serial.len;
    out->certid = start;
    out->certid_len = (size_t)(d->p - start);
    return 1;
}

/* Request ::= SEQUENCE {
 *     reqCert                     CertID,
 *     singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL } */
static int request_ok(struct der *d, struct ocsp_req *out, int *out_known) {
    struct der req, exts, unused;
    int present;
    if (!der_get(d, DER_SEQUENCE, &req) || !certid_ok(&req, out, out_known)) return 0;
    if (!der_get_optional(&req, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &exts) || req.len != 0)
        return 0;
    return !present || extensions_ok(exts, 0, &unused);
}

/* OCSPRequest ::= SEQUENCE {
 *     tbsRequest              TBSRequest,
 *     optionalSignature   [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest ::= SEQUENCE {
 *     version             [0] EXPLICIT Version DEFAULT v1,
 *     requestorName       [1] EXPLICIT GeneralName OPTIONAL,
 *     requestList             SEQUENCE OF Request,
 *     requestExtensions   [2] EXPLICIT Extensions OPTIONAL }
 * Returns 1 (MALFORMED on 0) and, through *out_known, whether the first
 * CertID's hash is one revd knows. */
static int ocsp_request_ok(const uint8_t *p, size_t len, struct ocsp_req *out, int *out_known) {
    struct der top, req, tbs, wrap, list, nonce = {NULL, 0};
    int present;
    if (len > OCSP_REQ_MAX_BYTES) return 0;
    der_init(&top, p, len);
    if (!der_get(&top, DER_SEQUENCE, &req) || top.len != 0) return 0;
    if (!der_get(&req, DER_SEQUENCE, &tbs)) return 0;
    /* Version ::= INTEGER { v1(0) }: the only version is the DEFAULT, which
     * DER leaves out. Any [0] here is either BER or a version we do not
     * know. */
    if (der_peek(&tbs, DER_CONTEXT(0) | DER_CONSTRUCTED)) return 0;
    if (!der_get_optional(&tbs, DER_CONTEXT(1) | DER_CONSTRUCTED, &present, &wrap)) return 0;
    if (present && !general_name_ok(wrap)) return 0;

    if (!der_get(&tbs, DER_SEQUENCE, &list)) return 0;
    const uint8_t *list_p = list.p;
    size_t list_len = list.len, num = 0;
    while (list.len > 0) {
        struct ocsp_req later;
        int known;
        if (num == OCSP_REQ_MAX_REQUESTS) return 0;
        /* The first Request fills *out; ocsp_request_get reads the others. */
        if (!request_ok(&list, num == 0 ? out : &later, num == 0 ? out_known : &known)) return 0;
        num++;
    }
    if (num == 0) return 0;
    out->num_requests = num;
    out->list = list_p;
    out->list_len = list_len;

    if (!der_get_optional(&tbs, DER_CONTEXT(2) | DER_CONSTRUCTED, &present, &wrap)) return 0;
    if (present && !extensions_ok(wrap, 1, &nonce)) return 0;
    if (tbs.len != 0) return 0;
    if (nonce.p != NULL) {
        out->nonce = nonce.p;
        out->nonce_len = nonce.len;
    }

    if (!der_get_optional(&req, DER_CONTEXT(0) | DER_CONSTRUCTED, &present, &wrap)) return 0;
    if (present && !signature_ok(wrap)) return 0;
    out->signed_request = present;
    return req.len == 0;
}

enum ocsp_req_result ocsp_request_parse(const uint8_t *p, size_t len, struct ocsp_req *out) {
    int known = 0;
    memset(out, 0, sizeof(*out));
    if (!ocsp_request_ok(p, len, out, &known)) {
        /* No view into a refused request survives. */
        memset(out, 0, sizeof(*out));
        return OCSP_REQ_MALFORMED;
    }
    /* Well-formed, for a hash revd does not answer: every field is filled
     * in but hash (left at 0); hash_len is the length both hashes share. */
    return known ? OCSP_REQ_OK : OCSP_REQ_UNSUPPORTED;
}

enum ocsp_req_result ocsp_request_get(const struct ocsp_req *q, size_t i, struct ocsp_req *out) {
    memset(out, 0, sizeof(*out));
    if (i >= q->num_requests || q->list == NULL) return OCSP_REQ_MALFORMED;
    struct der list;
    der_init(&list, q->list, q->list_len);
    int known = 0;
    /* The list was checked whole by ocsp_request_parse: this cannot fail. */
    for (size_t k = 0; k <= i; k++) {
        memset(out, 0, sizeof(*out));
        if (!request_ok(&list, out, &known)) {
            memset(out, 0, sizeof(*out));
            return OCSP_REQ_MALFORMED;
        }
    }
    return known ? OCSP_REQ_OK : OCSP_REQ_UNSUPPORTED;
}
