/* certbuild: X.509 v3 certificates for CAs and end entities. */
#include "ca/certbuild.h"
#include "common/rtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

static int add_conf_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value, struct rerr *e) {
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    if (ext == NULL) return rerr_ssl(e, "cannot build extension %s=%s", OBJ_nid2sn(nid), value);
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (!ok) return rerr_ssl(e, "cannot add extension %s", OBJ_nid2sn(nid));
    return 1;
}

static int set_time(ASN1_TIME *t, int64_t when) {
    return ASN1_TIME_set(t, (time_t)when) != NULL;
}

/* copy_spki sets x's public key to a copy of spki's algorithm and key
 * bits. OpenSSL 3's X509_set_pubkey() re-encodes the key through its
 * encoder machinery (about a third of issuance CPU): this copies instead.
 * 1, or 0 (out of memory). */
static int copy_spki(X509 *x, X509_PUBKEY *spki) {
    ASN1_OBJECT *obj;
    const unsigned char *bits;
    int bits_len;
    X509_ALGOR *alg;
    if (!X509_PUBKEY_get0_param(&obj, &bits, &bits_len, &alg, spki)) return 0;
    const ASN1_OBJECT *aobj;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&aobj, &ptype, &pval, alg);
    void *pcopy = NULL;
    if (ptype == V_ASN1_OBJECT) pcopy = OBJ_dup(pval);
    else if (ptype == V_ASN1_SEQUENCE) pcopy = ASN1_STRING_dup(pval);
    else ptype = ptype == V_ASN1_NULL ? V_ASN1_NULL : V_ASN1_UNDEF;
    unsigned char *bcopy = OPENSSL_memdup(bits, (size_t)bits_len);
    if ((ptype == V_ASN1_OBJECT || ptype == V_ASN1_SEQUENCE) && pcopy == NULL) return 0;
    if (bcopy == NULL ||
        !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_dup(aobj), ptype, pcopy, bcopy, bits_len))
        return 0;
    return 1;
}

/* add_extensions adds b's extensions to x (its issuer's for the key
 * identifiers): basic constraints, key usage, EKU, SKI/AKI, SAN, CDP, AIA,
 * OCSP nocheck, then the requested ones copied. 1, or 0 with e set. */
static int add_extensions(X509 *x, const struct certbuild *b, struct rerr *e) {
    char value[600];
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, b->issuer_cert ? b->issuer_cert : x, x, NULL, NULL, 0);

    if (b->is_ca) {
        if (b->path_len >= 0)
            snprintf(value, sizeof(value), "critical,CA:TRUE,pathlen:%d", b->path_len);
        else
            snprintf(value, sizeof(value), "critical,CA:TRUE");
    } else {
        snprintf(value, sizeof(value), "critical,CA:FALSE");
    }
    if (!add_conf_ext(x, &ctx, NID_basic_constraints, value, e)) return 0;

    if (b->ku != 0) {
        snprintf(value, sizeof(value), "critical%s%s%s%s",
                 (b->ku & CB_KU_DIGITAL_SIGNATURE) ? ",digitalSignature" : "",
                 (b->ku & CB_KU_KEY_ENCIPHERMENT) ? ",keyEncipherment" : "",
                 (b->ku & CB_KU_KEY_CERT_SIGN) ? ",keyCertSign" : "",
                 (b->ku & CB_KU_CRL_SIGN) ? ",cRLSign" : "");
        if (!add_conf_ext(x, &ctx, NID_key_usage, value, e)) return 0;
    }
    if (b->eku != NULL && !add_conf_ext(x, &ctx, NID_ext_key_usage, b->eku, e)) return 0;
    if (!add_conf_ext(x, &ctx, NID_subject_key_identifier, "hash", e)) return 0;
    if (!add_conf_ext(x, &ctx, NID_authority_key_identifier, "keyid:always", e)) return 0;
    if (b->san != NULL) {
        /* RFC 5280 4.2.1.6: critical when the subject is empty. */
        int crit = X509_NAME_entry_count(b->subject) == 0;
        if (!X509_add1_ext_i2d(x, NID_subject_alt_name, b->san, crit, X509V3_ADD_DEFAULT)) {
            rerr_ssl(e, "cannot add subjectAltName");
            return 0;
        }
    }
    /* RFC 5280 4.2.1.10: conforming CAs MUST mark it critical. */
    if (b->nc != NULL && !X509_add1_ext_i2d(x, NID_name_constraints, b->nc, 1, X509V3_ADD_DEFAULT)) {
        rerr_ssl(e, "cannot add nameConstraints");
        return 0;
    }
    if (b->cdp != NULL) {
        snprintf(value, sizeof(value), "URI:%s", b->cdp);
        if (!add_conf_ext(x, &ctx, NID_crl_distribution_points, value, e)) return 0;
    }
    if (b->ocsp_url != NULL || b->ca_issuers_url != NULL) {
        snprintf(value, sizeof(value), "%s%s%s%s%s", b->ocsp_url ? "OCSP;URI:" : "",
                 b->ocsp_url ? b->ocsp_url : "", (b->ocsp_url && b->ca_issuers_url) ? "," : "",
                 b->ca_issuers_url ? "caIssuers;URI:" : "",
                 b->ca_issuers_url ? b->ca_issuers_url : "");
        if (!add_conf_ext(x, &ctx, NID_info_access, value, e)) return 0;
    }
    if (b->ocsp_nocheck && !add_conf_ext(x, &ctx, NID_id_pkix_OCSP_noCheck, "ignored", e)) return 0;
    for (int i = 0; b->extra != NULL && i < sk_X509_EXTENSION_num(b->extra); i++) {
        if (!X509_add_ext(x, sk_X509_EXTENSION_value(b->extra, i), -1)) {
            rerr_ssl(e, "cannot copy a requested extension");
            return 0;
        }
    }
    return 1;
}

X509 *certbuild_sign(const struct certbuild *b, struct rerr *e) {
    X509 *x = X509_new();
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = NULL;
    if (x == NULL) goto oom;
    if (!X509_set_version(x, 2)) goto oom;
    bn = BN_bin2bn(b->serial, (int)b->serial_len, NULL);
    serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (serial == NULL || !X509_set_serialNumber(x, serial)) goto oom;
    if (!X509_set_subject_name(x, b->subject)) goto oom;
    if (!X509_set_issuer_name(x, b->issuer_cert ? X509_get_subject_name(b->issuer_cert) : b->subject))
        goto oom;
    if (!set_time(X509_getm_notBefore(x), b->not_before) ||
        !set_time(X509_getm_notAfter(x), b->not_after))
        goto oom;
    if (b->spki != NULL) {
        if (!copy_spki(x, b->spki)) goto oom;
    } else if (!X509_set_pubkey(x, b->pubkey)) {
        goto oom;
    }
    if (!add_extensions(x, b, e)) goto err;
    if (X509_sign(x, b->issuer_key, certbuild_sig_md(b->issuer_type)) <= 0) {
        rerr_ssl(e, "signing the certificate failed");
        goto err;
    }
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    return x;
oom:
    rerr_ssl(e, "cannot build the certificate");
err:
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    return NULL;
}

X509_NAME *certbuild_subject_parse(const char *s, struct rerr *e) {
    if (s == NULL || s[0] != '/') {
        rerr_set(e, "subject '%.80s' must look like /CN=name/O=org", s ? s : "");
        return NULL;
    }
    if (strlen(s) > 1024) {
        rerr_set(e, "subject is longer than 1024 characters");
        return NULL;
    }
    X509_NAME *n = X509_NAME_new();
    char buf[1100];
    snprintf(buf, sizeof(buf), "%s", s + 1);
    char *save = NULL;
    for (char *part = strtok_r(buf, "/", &save); part != NULL; part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        if (eq == NULL || eq == part || eq[1] == '\0') {
            rerr_set(e, "subject '%.80s': '%.40s' is not TYPE=value", s, part);
            X509_NAME_free(n);
            return NULL;
        }
        *eq = '\0';
        if (!X509_NAME_add_entry_by_txt(n, part, MBSTRING_UTF8, (const unsigned char *)eq + 1, -1,
                                        -1, 0)) {
            rerr_ssl(e, "subject '%.80s': unknown attribute type '%.40s' (use CN, O, OU, C, ST, L, ...)",
                     s, part);
            X509_NAME_free(n);
            return NULL;
        }
    }
    if (X509_NAME_entry_count(n) == 0) {
        rerr_set(e, "subject '%.80s' is empty", s);
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

/* The bytes written to a memory BIO, as a malloc'd string; frees bio. */
static char *bio_string(BIO *bio) {
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc((size_t)n + 1);
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(bio);
    return s;
}

char *certbuild_der_to_pem(const uint8_t *der, size_t len) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio(bio, "CERTIFICATE", "", der, (long)len) <= 0) {
        BIO_free(bio);
        return NULL;
    }
    return bio_string(bio);
}

char *certbuild_x509_pem(X509 *x) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509(bio, x)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_string(bio);
}

int64_t certbuild_asn1_time(const ASN1_TIME *t) {
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 0;
    return rtime_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const EVP_MD *certbuild_sig_md(enum ca_key_type t) {
    return t == CA_KEY_EC_P384 ? EVP_sha384() : EVP_sha256();
}

