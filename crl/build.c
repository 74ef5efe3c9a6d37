/* build: one CRL partition encoded in DER with the fixed-buffer builder
 * (common/der.h), signed through the caller's callback. The ASN.1 is in
 * crl/build.h; each piece is repeated above the code that writes it.
 *
 * One allocation per CRL: the size is bounded first (every entry's exact
 * size, crl_entry_size, plus the fixed parts, the signature at its
 * largest), then tbsCertList is written straight into the CertificateList
 * being built, signed where it lies, and followed by the algorithm and the
 * signature. No per-entry allocation, no copy of the entries; the only bulk
 * moves are derb_close's (revokedCertificates, tbsCertList and the
 * CertificateList each get a long-form length: one memmove each). */
#include "crl/build.h"

#include <stdlib.h>
#include <string.h>

#include "common/der.h"

/* id-ce-cRLReasons 2.5.29.21, id-ce-invalidityDate 2.5.29.24,
 * id-ce-authorityKeyIdentifier 2.5.29.35, id-ce-cRLNumber 2.5.29.20,
 * id-ce-issuingDistributionPoint 2.5.29.28 */
static const uint8_t oid_reason[] = {0x55, 0x1d, 0x15};
static const uint8_t oid_invalidity[] = {0x55, 0x1d, 0x18};
static const uint8_t oid_aki[] = {0x55, 0x1d, 0x23};
static const uint8_t oid_crl_number[] = {0x55, 0x1d, 0x14};
static const uint8_t oid_idp[] = {0x55, 0x1d, 0x1c};

/* Unix times of 1950-01-01T00:00:00Z and 2050-01-01T00:00:00Z: UTCTime
 * covers [T1950, T2050) (RFC 5280 4.1.2.5: UTCTime through 2049,
 * GeneralizedTime from 2050; before 1950 UTCTime cannot say it). */
#define T1950 INT64_C(-631152000)
#define T2050 INT64_C(2524608000)

/* The octets of a whole element whose contents are len octets: identifier,
 * length (short form below 128, else 0x8n and n octets), contents. */
static size_t tlv_size(size_t len) {
    size_t n = 2;
    if (len >= 0x80)
        for (size_t v = len; v != 0; v >>= 8) n++;
    return n + len;
}

static int is_utctime(int64_t t) { return t >= T1950 && t < T2050; }

/* UTCTime "YYMMDDHHMMSSZ" (13) or GeneralizedTime "YYYYMMDDHHMMSSZ" (15). */
static size_t time_size(int64_t t) { return tlv_size(is_utctime(t) ? 13 : 15); }

/* Time ::= CHOICE { utcTime UTCTime, generalTime GeneralizedTime }
 * The GeneralizedTime is written by derb_add_gentime into a scratch buffer
 * (one calendar conversion in the codebase); a UTCTime is the same string
 * without the century, which is 19 or 20 exactly when the year is in
 * 1950..2049. */
static void add_time(struct derb *b, int64_t t) {
    uint8_t g[17];
    struct derb s;
    size_t len;
    derb_init(&s, g, sizeof(g));
    derb_add_gentime(&s, t);
    if (!derb_finish(&s, &len)) {
        b->err = 1; /* a year outside 0..9999 */
        return;
    }
    if (is_utctime(t))
        derb_add(b, DER_UTCTIME, g + 4, 13); /* 18 0f "YYYY..." -> "YY..." */
    else
        derb_raw(b, g, len);
}

/* The reasonCode extension is written for 1..10 (7 is refused by crl_build;
 * unspecified, 0, is left out per RFC 5280 5.3.1). */
static int has_reason(const struct crl_entry *e) { return e->reason >= 1 && e->reason <= 10 && e->reason != 7; }

/*   Extension ::= SEQUENCE { extnID OID 2.5.29.21, extnValue OCTET STRING {
 *       CRLReason ENUMERATED } }               30 0a 06 03 551d15 04 03 0a 01 r: 12
 *   Extension ::= SEQUENCE { extnID OID 2.5.29.24, extnValue OCTET STRING {
 *       GeneralizedTime } }                    30 18 06 03 551d18 04 11 18 0f ...: 26 */
#define REASON_EXT_SIZE 12
#define INVALIDITY_EXT_SIZE 26

size_t crl_entry_size(const struct crl_entry *e) {
    size_t exts = 0;
    if (has_reason(e)) exts += REASON_EXT_SIZE;
    if (e->invalidity != 0) exts += INVALIDITY_EXT_SIZE;
    size_t body = tlv_size(e->serial_len) + time_size(e->revoked_at);
    if (exts > 0) body += tlv_size(exts); /* crlEntryExtensions SEQUENCE */
    return tlv_size(body);
}

/*   SEQUENCE {
 *       userCertificate     CertificateSerialNumber,
 *       revocationDate      Time,
 *       crlEntryExtensions  Extensions OPTIONAL } */
static void add_entry(struct derb *b, const struct crl_entry *e) {
    derb_open(b, DER_SEQUENCE);
    derb_add(b, DER_INTEGER, e->serial, e->serial_len);
    add_time(b, e->revoked_at);
    if (has_reason(e) || e->invalidity != 0) {
        derb_open(b, DER_SEQUENCE); /* Extensions */
        if (has_reason(e)) {
            derb_open(b, DER_SEQUENCE);
            derb_add(b, DER_OID, oid_reason, sizeof(oid_reason));
            derb_open(b, DER_OCTET_STRING);
            derb_add_uint(b, DER_ENUMERATED, (uint64_t)e->reason);
            derb_close(b);
            derb_close(b);
        }
        if (e->invalidity != 0) {
            derb_open(b, DER_SEQUENCE);
            derb_add(b, DER_OID, oid_invalidity, sizeof(oid_invalidity));
            derb_open(b, DER_OCTET_STRING);
            derb_add_gentime(b, e->invalidity); /* always GeneralizedTime (RFC 5280 5.3.2) */
            derb_close(b);
            derb_close(b);
        }
        derb_close(b);
    }
    derb_close(b);
}

/*   crlExtensions [0] EXPLICIT Extensions
 *   AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
 *   CRLNumber ::= INTEGER
 *   IssuingDistributionPoint ::= SEQUENCE {
 *       distributionPoint      [0] DistributionPointName OPTIONAL,  -- [0] fullName GeneralNames
 *       onlyContainsUserCerts  [1] BOOLEAN DEFAULT FALSE,
 *       onlyContainsCACerts    [2] BOOLEAN DEFAULT FALSE, ... }
 * Both tags of distributionPoint are constructed: [0] is EXPLICIT-like by
 * X.680 31.2.7 (DistributionPointName is a CHOICE), and fullName [0]
 * IMPLICIT GeneralNames is a SEQUENCE OF. The URI is [6] IMPLICIT
 * IA5String. A FALSE flag is its DEFAULT, so DER leaves it out. */
static void add_crl_extensions(struct derb *b, const struct crl_params *p) {
    static const uint8_t true_octet = 0xff;
    derb_open(b, DER_CONTEXT(0) | DER_CONSTRUCTED);
    derb_open(b, DER_SEQUENCE);

    derb_open(b, DER_SEQUENCE);
    derb_add(b, DER_OID, oid_aki, sizeof(oid_aki));
    derb_open(b, DER_OCTET_STRING);
    derb_open(b, DER_SEQUENCE);
    derb_add(b, DER_CONTEXT(0), p->aki, p->aki_len);
    derb_close(b);
    derb_close(b);
    derb_close(b);

    derb_open(b, DER_SEQUENCE);
    derb_add(b, DER_OID, oid_crl_number, sizeof(oid_crl_number));
    derb_open(b, DER_OCTET_STRING);
    derb_add_uint(b, DER_INTEGER, p->number);
    derb_close(b);
    derb_close(b);

    if (p->idp_uri != NULL || p->scope != CRL_SCOPE_ALL) {
        derb_open(b, DER_SEQUENCE);
        derb_add(b, DER_OID, oid_idp, sizeof(oid_idp));
        derb_add(b, DER_BOOLEAN, &true_octet, 1); /* critical (RFC 5280 5.2.5) */
        derb_open(b, DER_OCTET_STRING);
        derb_open(b, DER_SEQUENCE);
        if (p->idp_uri != NULL) {
            derb_open(b, DER_CONTEXT(0) | DER_CONSTRUCTED); /* distributionPoint */
            derb_open(b, DER_CONTEXT(0) | DER_CONSTRUCTED); /* fullName */
            derb_add(b, DER_CONTEXT(6), (const uint8_t *)p->idp_uri, p->idp_uri_len);
            derb_close(b);
            derb_close(b);
        }
        if (p->scope == CRL_SCOPE_USER_CERTS) derb_add(b, DER_CONTEXT(1), &true_octet, 1);
        if (p->scope == CRL_SCOPE_CA_CERTS) derb_add(b, DER_CONTEXT(2), &true_octet, 1);
        derb_close(b);
        derb_close(b);
        derb_close(b);
    }

    derb_close(b);
    derb_close(b);
}

/* TBSCertList (crl/build.h), into b. */
static void add_tbs(struct derb *b, const struct crl_params *p, const struct crl_entry *entries, size_t n,
                    const struct crl_signer *s) {
    derb_open(b, DER_SEQUENCE);
    derb_add_uint(b, DER_INTEGER, 1); /* v2 */
    derb_raw(b, s->sigalg, s->sigalg_len);
    derb_raw(b, p->issuer, p->issuer_len);
    add_time(b, p->this_update);
    add_time(b, p->next_update);
    if (n > 0) { /* an empty SEQUENCE OF is not written (RFC 5280 5.1.2.6) */
        derb_open(b, DER_SEQUENCE);
        for (size_t i = 0; i < n; i++) add_entry(b, &entries[i]);
        derb_close(b);
    }
    add_crl_extensions(b, p);
    derb_close(b);
}

/* p[0..len) is exactly one DER element with identifier tag. */
static int one_element(const uint8_t *p, size_t len, unsigned tag) {
    struct der d;
    if (p == NULL) return 0;
    der_init(&d, p, len);
    return der_get(&d, tag, NULL) && d.len == 0;
}

/* A CertificateSerialNumber's content octets as RFC 5280 4.1.2.2 allows
 * and DER requires: 1..21 octets (20 and the 00 a positive sign needs),
 * minimal, not negative. */
static int serial_ok(const uint8_t *v, size_t len) {
    if (v == NULL || len == 0 || len > 21) return 0;
    if (v[0] & 0x80) return 0;
    if (len >= 2 && v[0] == 0x00 && (v[1] & 0x80) == 0) return 0;
    return 1;
}

static int entry_ok(const struct crl_entry *e) {
    return serial_ok(e->serial, e->serial_len) && e->reason >= -1 && e->reason <= 10 && e->reason != 7;
}

static int params_ok(const struct crl_params *p, const struct crl_signer *s) {
    if (!one_element(p->issuer, p->issuer_len, DER_SEQUENCE)) return 0;
    if (!one_element(s->sigalg, s->sigalg_len, DER_SEQUENCE) || s->sign == NULL) return 0;
    if (p->next_update < p->this_update) return 0;
    if (p->aki == NULL || p->aki_len == 0) return 0; /* AKI is a MUST in a CRL (RFC 5280 5.2.1) */
    if (p->scope != CRL_SCOPE_ALL && p->scope != CRL_SCOPE_USER_CERTS && p->scope != CRL_SCOPE_CA_CERTS) return 0;
    if (p->idp_uri != NULL) {
        if (p->idp_uri_len == 0) return 0;
        for (size_t i = 0; i < p->idp_uri_len; i++) /* IA5String */
            if ((uint8_t)p->idp_uri[i] >= 0x80) return 0;
    }
    return 1;
}

/* Everything but the entries and the caller's variable-length pieces (the
 * issuer, the key identifier, the URI, the sigalg twice, the signature)
 * takes at most 178 octets: 18 headers of at most 6 octets (derb allows
 * four length octets) = 108, the version 3, two Times of 17, three OIDs of
 * 5, a cRLNumber INTEGER of 11, the critical BOOLEAN and a flag of 3 each,
 * the BIT STRING's unused-bits octet. */
#define CRL_FIXED_MAX 256
#define CRL_LIMIT ((size_t)0x7fffffff) /* under derb's four length octets, with room */

int crl_build(const struct crl_params *p, const struct crl_entry *entries, size_t n, const struct crl_signer *s,
              uint8_t **out, size_t *out_len) {
    uint8_t *buf = NULL;
    int ok = 0;
    if (p == NULL || s == NULL || out == NULL || out_len == NULL || (n > 0 && entries == NULL)) goto done;
    if (!params_ok(p, s)) goto done;

    /* The bound, each addition checked against CRL_LIMIT (no wrap, and
     * nothing derb would refuse to close). */
    size_t cap = CRL_FIXED_MAX + CRL_SIG_MAX;
    const size_t parts[] = {p->issuer_len, p->aki_len, p->idp_uri != NULL ? p->idp_uri_len : 0, s->sigalg_len,
                            s->sigalg_len};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (parts[i] > CRL_LIMIT - cap) goto done;
        cap += parts[i];
    }
    for (size_t i = 0; i < n; i++) {
        if (!entry_ok(&entries[i])) goto done;
        size_t sz = crl_entry_size(&entries[i]);
        if (sz > CRL_LIMIT - cap) goto done;
        cap += sz;
    }
    buf = malloc(cap);
    if (buf == NULL) goto done;

    /*   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
     * tbsCertList is signed where it was written, buf[tbs_start..b.len)
     * once it is closed (the builder's fields are public): no second
     * buffer, no copy. Only the CertificateList's own close moves it
     * afterwards, when the signature is already made. */
    struct derb b;
    derb_init(&b, buf, cap);
    derb_open(&b, DER_SEQUENCE);
    size_t tbs_start = b.len;
    add_tbs(&b, p, entries, n, s);
    if (b.err) goto done;
    uint8_t sig[CRL_SIG_MAX];
    size_t sig_len = 0;
    if (!s->sign(s->arg, buf + tbs_start, b.len - tbs_start, sig, &sig_len) || sig_len == 0 ||
        sig_len > CRL_SIG_MAX)
        goto done;
    derb_raw(&b, s->sigalg, s->sigalg_len);
    derb_open(&b, DER_BIT_STRING);
    uint8_t unused_bits = 0;
    derb_raw(&b, &unused_bits, 1);
    derb_raw(&b, sig, sig_len);
    derb_close(&b);
    derb_close(&b); /* CertificateList */
    size_t len;
    if (!derb_finish(&b, &len)) goto done;
    *out = buf;
    *out_len = len;
    buf = NULL;
    ok = 1;
done:
    free(buf);
    return ok;
}
