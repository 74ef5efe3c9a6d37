/* Issuance: a CSR, through a named template, becomes a certificate bound to
 * one CRL partition and recorded in the index before it is returned. */
#include "ca/chlog.h"
#include "ca/issue.h"
#include "ca/core.h"
#include "ca/carec.h"
#include "ca/certbuild.h"
#include "ca/changes.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/keyring.h"
#include "ca/nameconst.h"
#include "ca/oplog.h"
#include "ca/partition.h"
#include "ca/serial.h"
#include "ca/store.h"
#include "common/bytes.h"
#include "common/jsonsafe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "common/rtime.h"
#include "common/urls.h"

#define CSR_MAX_BYTES 65536
#define SAN_MAX_NAMES 100

struct tmpl {
    const char *name;
    int ku;
    int ku_rsa_extra; /* added for RSA subject keys */
    const char *eku;
    int is_ca, ocsp_nocheck, passthrough;
    int short_lived; /* at most SHORT_LIVED_MAX_S, no CDP or OCSP URL, in no CRL */
};

/* ocsp-signing makes a delegated responder for an outside OCSP server: it
 * may sign any status for this CA (RFC 6960 4.2.2.2), and carries
 * id-pkix-ocsp-nocheck, so clients never ask whether it was revoked. Hence
 * the RFC 5019 2.2.2 profile: no CDP, no AIA, in no CRL (partition none),
 * and a short life: 7 days by default, at most 30 (what revd gives its own
 * responders). No other template issues OCSPSigning or nocheck; admin API
 * credentials must name it (cred_allows_template). */
#define OCSP_SIGNING_DEFAULT_S (7 * 86400LL)
#define OCSP_SIGNING_MAX_S (30 * 86400LL)

/* short-lived: the seeds' short-lived mode (a TLS server certificate
 * whose revocation is its expiry): at most 7 days (the default too), no CRL
 * Distribution Point, no OCSP URL (its issuer's URL stays), in no CRL. Its
 * status is still kept and OCSP still answers for it if asked. */
#define SHORT_LIVED_MAX_S (7 * 86400LL)

static const struct tmpl templates[] = {
    {"end-entity", CB_KU_DIGITAL_SIGNATURE, CB_KU_KEY_ENCIPHERMENT, "serverAuth,clientAuth", 0, 0, 0, 0},
    {"server", CB_KU_DIGITAL_SIGNATURE, CB_KU_KEY_ENCIPHERMENT, "serverAuth", 0, 0, 0, 0},
    {"client", CB_KU_DIGITAL_SIGNATURE, 0, "clientAuth", 0, 0, 0, 0},
    {"code-signing", CB_KU_DIGITAL_SIGNATURE, 0, "codeSigning", 0, 0, 0, 0},
    {"email", CB_KU_DIGITAL_SIGNATURE, CB_KU_KEY_ENCIPHERMENT, "emailProtection", 0, 0, 0, 0},
    {"ocsp-signing", CB_KU_DIGITAL_SIGNATURE, 0, "OCSPSigning", 0, 1, 0, 0},
    {"sub-ca", CB_KU_KEY_CERT_SIGN | CB_KU_CRL_SIGN | CB_KU_DIGITAL_SIGNATURE, 0, NULL, 1, 0, 0, 0},
    {"passthrough", 0, 0, NULL, 0, 0, 1, 0},
    {"short-lived", CB_KU_DIGITAL_SIGNATURE, CB_KU_KEY_ENCIPHERMENT, "serverAuth", 0, 0, 0, 1},
};

static const struct tmpl *find_template(const char *name) {
    for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++)
        if (strcmp(templates[i].name, name) == 0) return &templates[i];
    return NULL;
}

static X509_REQ *parse_csr(const uint8_t *p, size_t len, struct rerr *e) {
    if (len == 0 || len > CSR_MAX_BYTES) {
        rerr_set(e, "CSR is %zu bytes; expected 1 to %d", len, CSR_MAX_BYTES);
        return NULL;
    }
    X509_REQ *req = NULL;
    if (len > 10 && memmem(p, len, "-----BEGIN", 10) != NULL) {
        BIO *bio = BIO_new_mem_buf(p, (int)len);
        req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else {
        const uint8_t *q = p;
        req = d2i_X509_REQ(NULL, &q, (long)len);
        if (req != NULL && q != p + len) {
            X509_REQ_free(req);
            req = NULL;
        }
    }
    if (req == NULL) {
        rerr_ssl(e, "not a certificate signing request (expected PEM 'BEGIN CERTIFICATE REQUEST' or DER)");
        return NULL;
    }
    return req;
}

/* Checks the CSR's key and self-signature. Sets *is_rsa. */
static int check_csr_key(X509_REQ *req, int *is_rsa, struct rerr *e) {
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    if (pk == NULL) return rerr_ssl(e, "the CSR's public key cannot be read");
    int id = EVP_PKEY_get_base_id(pk);
    *is_rsa = 0;
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(pk);
        if (bits < 2048) return rerr_set(e, "the CSR's RSA key has %d bits; at least 2048 are required", bits);
        if (bits > 16384) return rerr_set(e, "the CSR's RSA key has %d bits; at most 16384 are accepted", bits);
        BIGNUM *exp = NULL;
        int exp_ok = EVP_PKEY_get_bn_param(pk, "e", &exp) && BN_is_odd(exp) && BN_num_bits(exp) > 1 &&
                     !BN_is_one(exp);
        BN_free(exp);
        if (!exp_ok) return rerr_set(e, "the CSR's RSA public exponent is not an odd number of at least 3");
        *is_rsa = 1;
    } else if (id == EVP_PKEY_EC) {
        char curve[64] = "";
        size_t cl = 0;
        EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), &cl);
        if (strcmp(curve, "prime256v1") != 0 && strcmp(curve, "secp384r1") != 0 &&
            strcmp(curve, "secp521r1") != 0)
            return rerr_set(e, "the CSR's EC key is on curve '%s'; only P-256, P-384 and P-521 are accepted",
                            curve[0] ? curve : "unknown");
    } else if (id == EVP_PKEY_ED25519) {
        /* accepted */
    } else if (id == EVP_PKEY_DSA) {
        return rerr_set(e, "the CSR has a DSA key; DSA is not accepted (use ECDSA P-256 or RSA 2048+)");
    } else {
        return rerr_set(e, "the CSR's key type (%s) is not supported (use ECDSA P-256/P-384 or RSA 2048+)",
                        OBJ_nid2sn(id));
    }
    if (X509_REQ_verify(req, pk) != 1)
        return rerr_ssl(e, "the CSR's self-signature does not verify (no proof of possession of the key)");
    return 1;
}

static int san_value_ok(const char *v, int dns) {
    if (*v == '\0' || strlen(v) > 253) return 0;
    for (const char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (dns) {
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '.' || ch == '-' || ch == '*'))
                return 0;
        } else if (ch <= 0x20 || ch >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

GENERAL_NAMES *issue_san_parse(const char *s, struct rerr *e) {
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    char *copy = strdup(s);
    char *save = NULL;
    int n = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') item++;
        GENERAL_NAME *g = NULL;
        if (++n > SAN_MAX_NAMES) {
            rerr_set(e, "--san has more than %d names", SAN_MAX_NAMES);
            goto bad;
        }
        if (strncasecmp(item, "DNS:", 4) == 0 && san_value_ok(item + 4, 1)) {
            g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS, item + 4, 0);
        } else if (strncasecmp(item, "IP:", 3) == 0) {
            g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, item + 3, 0);
        } else if (strncasecmp(item, "email:", 6) == 0 && san_value_ok(item + 6, 0) &&
                   strchr(item + 6, '@') != NULL) {
            g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_EMAIL, item + 6, 0);
        } else if (strncasecmp(item, "URI:", 4) == 0 && san_value_ok(item + 4, 0)) {
            g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_URI, item + 4, 0);
        }
        if (g == NULL) {
            ERR_clear_error();
            rerr_set(e, "--san: '%.80s' is not DNS:name, IP:address, email:addr@domain or URI:uri", item);
            goto bad;
        }
        sk_GENERAL_NAME_push(gens, g);
    }
    free(copy);
    if (n == 0) {
        GENERAL_NAMES_free(gens);
        rerr_set(e, "--san is empty");
        return NULL;
    }
    return gens;
bad:
    free(copy);
    GENERAL_NAMES_free(gens);
    return NULL;
}

/* A DNS name as RFC 5280 4.2.1.6 and RFC 1034 3.5 allow it: labels of
 * letters, digits and inner hyphens, 1 to 63 octets, the whole at most 253;
 * a wildcard only as the whole leftmost label of a name with two more. */
static int dns_name_ok(const uint8_t *p, size_t n, int allow_wildcard) {
    if (n == 0 || n > 253) return 0;
    size_t start = 0, labels = 0;
    int wildcard = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.') continue;
        size_t len = i - start;
        const uint8_t *l = p + start;
        if (len == 0 || len > 63) return 0;
        if (len == 1 && l[0] == '*') {
            if (!allow_wildcard || labels != 0) return 0;
            wildcard = 1;
        } else {
            for (size_t k = 0; k < len; k++) {
                uint8_t c = l[k];
                int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         (c == '-' && k != 0 && k != len - 1);
                if (!ok) return 0;
            }
        }
        labels++;
        start = i + 1;
    }
    return !wildcard || labels >= 3;
}

static int printable_ascii(const uint8_t *p, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f) return 0;
    return 1;
}

/* san_check: every name of a subjectAltName revd puts in a certificate,
 * whether from --san or from the CSR, is one it can vouch for the form of. */
static int san_check(const GENERAL_NAMES *g, struct rerr *e) {
    int n = sk_GENERAL_NAME_num(g);
    if (n <= 0) return rerr_set(e, "the subjectAltName is empty");
    if (n > SAN_MAX_NAMES) return rerr_set(e, "the subjectAltName has %d names; at most %d", n, SAN_MAX_NAMES);
    for (int i = 0; i < n; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
        const ASN1_STRING *v = NULL;
        switch (gn->type) {
        case GEN_DNS:
            v = gn->d.dNSName;
            if (!dns_name_ok(v->data, (size_t)v->length, 1))
                return rerr_set(e, "subjectAltName %d: '%.*s' is not a DNS name", i + 1,
                                printable_ascii(v->data, (size_t)v->length) ? v->length : 0, v->data);
            break;
        case GEN_EMAIL: {
            v = gn->d.rfc822Name;
            const uint8_t *at = memchr(v->data, '@', (size_t)v->length);
            if (!printable_ascii(v->data, (size_t)v->length) || at == NULL || at == v->data ||
                memchr(at + 1, '@', (size_t)(v->data + v->length - at - 1)) != NULL ||
                !dns_name_ok(at + 1, (size_t)(v->data + v->length - at - 1), 0))
                return rerr_set(e, "subjectAltName %d is not an email address (local@domain)", i + 1);
            break;
        }
        case GEN_URI: {
            v = gn->d.uniformResourceIdentifier;
            const uint8_t *colon = memchr(v->data, ':', (size_t)v->length);
            if (!printable_ascii(v->data, (size_t)v->length) || colon == NULL || colon == v->data)
                return rerr_set(e, "subjectAltName %d is not a URI (scheme:...)", i + 1);
            break;
        }
        case GEN_IPADD:
            if (gn->d.iPAddress->length != 4 && gn->d.iPAddress->length != 16)
                return rerr_set(e, "subjectAltName %d is not an IPv4 or IPv6 address", i + 1);
            break;
        default:
            return rerr_set(e,
                            "subjectAltName %d is of a type revd does not issue (only DNS, IP, email "
                            "and URI; give --san to replace the CSR's)",
                            i + 1);
        }
    }
    return 1;
}

/* The purposes passthrough copies: those of an end entity. OCSPSigning
 * would make the holder an authorized responder for this CA (RFC 6960
 * 4.2.2.2: it could sign "good" for a revoked certificate);
 * anyExtendedKeyUsage grants every purpose, OCSPSigning among them; other
 * purposes (smart-card logon, enrollment agents, ...) can delegate
 * authority a CA grants only on purpose. */
static int eku_ok(X509_EXTENSION *ext, struct rerr *e) {
    static const int allowed[] = {NID_server_auth, NID_client_auth, NID_code_sign, NID_email_protect,
                                  NID_time_stamp, NID_ipsec_IKE};
    EXTENDED_KEY_USAGE *eku = X509V3_EXT_d2i(ext);
    int ok = eku != NULL;
    if (!ok) rerr_set(e, "the CSR's extendedKeyUsage does not parse");
    for (int i = 0; ok && i < sk_ASN1_OBJECT_num(eku); i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        int nid = OBJ_obj2nid(o);
        size_t k = 0;
        while (k < sizeof(allowed) / sizeof(allowed[0]) && allowed[k] != nid) k++;
        if (k < sizeof(allowed) / sizeof(allowed[0])) continue;
        char oid[80];
        OBJ_obj2txt(oid, sizeof(oid), o, 1);
        if (nid == NID_OCSP_sign)
            rerr_set(e, "the CSR asks for extendedKeyUsage OCSPSigning, which would let its holder sign any "
                        "OCSP status for this CA; use --template ocsp-signing to delegate a responder");
        else if (nid == NID_anyExtendedKeyUsage)
            rerr_set(e, "the CSR asks for anyExtendedKeyUsage, which grants every purpose (OCSP signing "
                        "among them); name the purposes instead");
        else
            rerr_set(e, "passthrough does not copy extendedKeyUsage %s (it copies serverAuth, clientAuth, "
                        "codeSigning, emailProtection, timeStamping and ipsecIKE)", oid);
        ok = 0;
    }
    EXTENDED_KEY_USAGE_free(eku);
    return ok;
}

/* The policies passthrough copies: OIDs without qualifiers (a CPS pointer
 * or a user notice are the CA's words, not the requester's), never
 * anyPolicy, nor the CA/Browser Forum's (2.23.140: a claim of publicly
 * trusted validation), and, when the issuing CA's certificate names
 * policies without anyPolicy, only those (a path validator would refuse
 * the rest). */
static int policies_ok(X509_EXTENSION *ext, X509 *issuer, struct rerr *e) {
    CERTIFICATEPOLICIES *pol = X509V3_EXT_d2i(ext);
    CERTIFICATEPOLICIES *ca_pol = X509_get_ext_d2i(issuer, NID_certificate_policies, NULL, NULL);
    int ca_any = 0;
    for (int j = 0; ca_pol != NULL && j < sk_POLICYINFO_num(ca_pol); j++)
        if (OBJ_obj2nid(sk_POLICYINFO_value(ca_pol, j)->policyid) == NID_any_policy) ca_any = 1;
    int ok = pol != NULL;
    if (!ok) rerr_set(e, "the CSR's certificatePolicies do not parse");
    for (int i = 0; ok && i < sk_POLICYINFO_num(pol); i++) {
        const POLICYINFO *pi = sk_POLICYINFO_value(pol, i);
        char oid[80];
        OBJ_obj2txt(oid, sizeof(oid), pi->policyid, 1);
        if (OBJ_obj2nid(pi->policyid) == NID_any_policy) {
            ok = rerr_set(e, "the CSR asks for anyPolicy (2.5.29.32.0); name the policies instead");
        } else if (strncmp(oid, "2.23.140.", 9) == 0) {
            ok = rerr_set(e, "the CSR asks for the CA/Browser Forum policy %s, a claim of publicly trusted "
                             "validation that a private CA does not make", oid);
        } else if (pi->qualifiers != NULL && sk_POLICYQUALINFO_num(pi->qualifiers) > 0) {
            ok = rerr_set(e, "the CSR's policy %s has qualifiers (a CPS or user notice speaks for the CA, not "
                             "the requester); ask for the bare policy", oid);
        } else if (ca_pol != NULL && !ca_any) {
            int found = 0;
            for (int j = 0; j < sk_POLICYINFO_num(ca_pol); j++)
                if (OBJ_cmp(sk_POLICYINFO_value(ca_pol, j)->policyid, pi->policyid) == 0) found = 1;
            if (!found) ok = rerr_set(e, "the CSR asks for policy %s, which the issuing CA's certificate does not "
                                         "name", oid);
        }
    }
    CERTIFICATEPOLICIES_free(pol);
    CERTIFICATEPOLICIES_free(ca_pol);
    return ok;
}

/* passthrough: the CSR's requested extensions, from an allowlist of those
 * an end-entity certificate may carry. revd writes basicConstraints,
 * AKI/SKI, CDP, AIA and the SAN itself; anything else (nameConstraints,
 * policy constraints, unknown critical extensions, ...) is refused rather
 * than signed blind, as is an extension asked for twice. */
static STACK_OF(X509_EXTENSION) *passthrough_exts(X509_REQ *req, X509 *issuer, struct rerr *e) {
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    STACK_OF(X509_EXTENSION) *out = sk_X509_EXTENSION_new_null();
    int seen[8] = {0};
    static const int allowed[] = {NID_key_usage, NID_ext_key_usage, NID_certificate_policies, NID_tlsfeature};
    for (int i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
        if (nid == NID_basic_constraints) {
            BASIC_CONSTRAINTS *bc = X509V3_EXT_d2i(ext);
            int ca = bc != NULL && bc->ca;
            BASIC_CONSTRAINTS_free(bc);
            if (ca) {
                rerr_set(e, "the CSR asks for CA:TRUE; use --template sub-ca for a CA certificate");
                goto bad;
            }
            continue; /* certbuild writes CA:FALSE */
        }
        if (nid == NID_authority_key_identifier || nid == NID_subject_key_identifier ||
            nid == NID_crl_distribution_points || nid == NID_info_access || nid == NID_subject_alt_name)
            continue;
        size_t k = 0;
        while (k < sizeof(allowed) / sizeof(allowed[0]) && allowed[k] != nid) k++;
        if (k == sizeof(allowed) / sizeof(allowed[0])) {
            char oid[80];
            OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 0);
            if (nid == NID_id_pkix_OCSP_noCheck)
                rerr_set(e, "the CSR asks for id-pkix-ocsp-nocheck, which makes an OCSP responder no client "
                            "checks; use --template ocsp-signing to delegate a responder");
            else
                rerr_set(e,
                         "passthrough does not copy the CSR's %s extension (it copies keyUsage, "
                         "extendedKeyUsage, certificatePolicies and TLS feature)",
                         oid);
            goto bad;
        }
        if (seen[k]++) {
            rerr_set(e, "the CSR asks for the %s extension twice", OBJ_nid2sn(nid));
            goto bad;
        }
        if (nid == NID_key_usage) {
            ASN1_BIT_STRING *ku = X509V3_EXT_d2i(ext);
            int bad = ku == NULL || ASN1_BIT_STRING_get_bit(ku, 5) || ASN1_BIT_STRING_get_bit(ku, 6);
            ASN1_BIT_STRING_free(ku);
            if (bad) {
                rerr_set(e, "the CSR asks for keyCertSign or cRLSign, which only a CA certificate may "
                            "have (use --template sub-ca)");
                goto bad;
            }
        }
        if (nid == NID_ext_key_usage && !eku_ok(ext, e)) goto bad;
        if (nid == NID_certificate_policies && !policies_ok(ext, issuer, e)) goto bad;
        sk_X509_EXTENSION_push(out, X509_EXTENSION_dup(ext));
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return out;
bad:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    sk_X509_EXTENSION_pop_free(out, X509_EXTENSION_free);
    return NULL;
}

X509_REQ *issue_csr_parse_check(const uint8_t *p, size_t len, int *is_rsa, struct rerr *e) {
    X509_REQ *req = parse_csr(p, len, e);
    if (req != NULL && !check_csr_key(req, is_rsa, e)) {
        X509_REQ_free(req);
        req = NULL;
    }
    return req;
}

static GENERAL_NAMES *csr_san(X509_REQ *req) {
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *g = NULL;
    if (exts != NULL) g = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return g;
}

static void request_hash(const struct ca_issue_params *p, uint8_t out[32]) {
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    if (h == NULL || !EVP_DigestInit_ex(h, EVP_sha256(), NULL)) abort();
    EVP_DigestUpdate(h, p->csr, p->csr_len);
    const char *t = p->template_name ? p->template_name : "end-entity";
    EVP_DigestUpdate(h, t, strlen(t) + 1);
    EVP_DigestUpdate(h, &p->validity, sizeof(p->validity));
    if (p->san) EVP_DigestUpdate(h, p->san, strlen(p->san) + 1);
    EVP_DigestUpdate(h, &p->path_len, sizeof(p->path_len));
    unsigned int n = 32;
    EVP_DigestFinal_ex(h, out, &n);
    EVP_MD_CTX_free(h);
}

static char *cert_output(const struct ca *ca, const uint8_t *der, size_t der_len, int with_chain,
                         struct rerr *e) {
    char *pem = certbuild_der_to_pem(der, der_len);
    if (pem == NULL) rerr_ssl(e, "cannot encode the certificate");
    if (pem == NULL || !with_chain) return pem;
    /* The issuing CA and its parents short of the self-signed root. */
    size_t n = strlen(pem) + strlen(ca->cert_pem) + strlen(ca->chain_pem ? ca->chain_pem : "") + 1;
    char *out = malloc(n);
    if (out == NULL) abort();
    strcpy(out, pem);
    free(pem);
    if (ca->depth > 1 || ca->parent[0] != '\0') strcat(out, ca->cert_pem);
    if (ca->chain_pem != NULL) {
        /* Drop the last certificate of the chain: the root. */
        const char *last = NULL;
        for (const char *s = ca->chain_pem; (s = strstr(s, "-----BEGIN CERTIFICATE-----")); s++) last = s;
        if (last != NULL) strncat(out, ca->chain_pem, (size_t)(last - ca->chain_pem));
    }
    return out;
}

static json_t *issue_params_json(const struct ca_issue_params *p) {
    return json_pack("{s:o,s:I,s:o,s:I,s:o,s:i}", "template",
                     jsafe_string(p->template_name ? p->template_name : "end-entity"), "csr_bytes",
                     (json_int_t)p->csr_len, "san", jsafe_string(p->san), "validity",
                     (json_int_t)p->validity, "idempotency_key", jsafe_string(p->idempotency_key),
                     "path_len", p->path_len);
}

/* issue_ca_check: ca issues only while active. */
static int issue_ca_check(const struct ca *ca, struct rerr *e) {
    if (ca->state == CA_STATE_ACTIVE) return 1;
    return rerr_set(e, "CA %s is %s and issues nothing%s", ca->name, ca_state_name(ca->state),
                    ca->state == CA_STATE_DISABLED  ? " (revd ca enable to resume)"
                    : ca->state == CA_STATE_DELETED ? " (revd ca restore to undo the deletion)"
                    : ca->state == CA_STATE_PURGED  ? " (its keys are destroyed)"
                                                    : " (revd ca import first)");
}

/* An idempotency key: its 'i' key, and the request's hash it is bound to. */
struct idem {
    uint8_t key[1 + 4 + 128];
    size_t key_len; /* 0: no idempotency key */
    uint8_t hash[32];
};

/* issue_replay looks p's idempotency key up. Returns 1 to issue (a new
 * key, or none), 2 when the key was used for this very request before
 * (*out_pem then holds that certificate, or NULL with e set: not to be
 * recorded as a failure, nothing was attempted), 0 with e set. */
static int issue_replay(struct ca_core *c, const struct ca *ca, const struct ca_issue_params *p, struct idem *id,
                        char **out_pem, struct rerr *e) {
    if (p->idempotency_key != NULL && (strlen(p->idempotency_key) == 0 || strlen(p->idempotency_key) > 128))
        return rerr_set(e, "--idempotency-key must be 1 to 128 characters");
    request_hash(p, id->hash);
    id->key_len = 0;
    if (p->idempotency_key == NULL) return 1;
    id->key[0] = K_IDEM;
    bytes_put_u32(id->key + 1, ca->id);
    id->key_len = 5 + strlen(p->idempotency_key);
    memcpy(id->key + 5, p->idempotency_key, id->key_len - 5);
    uint8_t *idem = NULL, *rec = NULL;
    size_t il;
    int r = store_get(c->st, id->key, id->key_len, &idem, &il, e);
    if (r < 0) return 0;
    if (r == 0) return 1;
    int ret = 0;
    if (il < 33 || memcmp(idem, id->hash, 32) != 0) {
        rerr_set(e, "idempotency key '%.80s' was used for a different request on CA %s", p->idempotency_key,
                 ca->name);
        goto out;
    }
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, ca->id, idem + 32, il - 32);
    size_t rl;
    struct crec cr;
    if (store_get(c->st, key, kl, &rec, &rl, e) != 1 || !crec_decode(rec, rl, &cr) || cr.der == NULL) {
        rerr_set(e, "index: the certificate of idempotency key '%.80s' is missing", p->idempotency_key);
        goto out;
    }
    *out_pem = cert_output(ca, cr.der, cr.der_len, p->with_chain, e);
    ret = 2;
out:
    free(rec);
    free(idem);
    return ret;
}

/* issue_names: the certificate's SANs (--san, or the CSR's) into *san
 * (the caller frees), checked; and a subject or a SAN to name it by. */
static int issue_names(const struct ca_issue_params *p, X509_REQ *req, GENERAL_NAMES **san, struct rerr *e) {
    if (p->san != NULL) {
        if ((*san = issue_san_parse(p->san, e)) == NULL) return 0;
    } else {
        *san = csr_san(req);
    }
    if (*san != NULL && !san_check(*san, e)) {
        if (p->san == NULL) {
            char why[sizeof(e->msg)];
            snprintf(why, sizeof(why), "%s", e->msg);
            rerr_set(e, "the CSR's %s", why);
        }
        return 0;
    }
    X509_NAME *subj = X509_REQ_get_subject_name(req);
    if (X509_NAME_entry_count(subj) == 0 && (*san == NULL || sk_GENERAL_NAME_num(*san) == 0))
        return rerr_set(e, "the CSR has neither a subject nor a subjectAltName (add --san)");
    return 1;
}

/* issue_path_len: a CA certificate's path length (-1 for others), within
 * what ca allows below it. */
static int issue_path_len(const struct ca *ca, const struct tmpl *t, const struct ca_issue_params *p, int *out,
                          struct rerr *e) {
    *out = -1;
    if (!t->is_ca) return 1;
    if (ca->path_len == 0) return rerr_set(e, "CA %s has path length 0: it may not issue CA certificates", ca->name);
    if (ca->depth + 1 > CA_MAX_DEPTH)
        return rerr_set(e, "a hierarchy is at most %d levels deep; CA %s is at level %d", CA_MAX_DEPTH, ca->name,
                        ca->depth);
    *out = p->path_len >= 0 ? p->path_len : 0;
    if (ca->path_len > 0 && *out >= ca->path_len)
        return rerr_set(e, "--path-len %d is too long: CA %s allows at most %d below it", *out, ca->name,
                        ca->path_len - 1);
    return 1;
}

/* issue_not_after: the end of the certificate's validity from now, within
 * the CA's and the template's limits. */
static int issue_not_after(const struct ca *ca, const struct tmpl *t, int64_t validity, int64_t now, int64_t *out,
                           struct rerr *e) {
    int64_t not_after;
    if (validity < 0) {
        return rerr_set(e, "validity must be positive");
    } else if (t->ocsp_nocheck && validity > OCSP_SIGNING_MAX_S) {
        return rerr_set(e, "an ocsp-signing certificate lives at most 30 days (it carries id-pkix-ocsp-nocheck: "
                           "clients never check whether it was revoked); ask for less");
    } else if (t->short_lived && validity > SHORT_LIVED_MAX_S) {
        return rerr_set(e, "a short-lived certificate lives at most 7 days (it carries no CRL or OCSP pointer: its "
                           "expiry is its revocation); ask for less");
    } else if (validity == 0) {
        not_after = now + (t->ocsp_nocheck ? OCSP_SIGNING_DEFAULT_S : t->short_lived ? SHORT_LIVED_MAX_S : 90 * 86400LL);
        if (not_after > ca->not_after) not_after = ca->not_after;
    } else {
        not_after = now + validity;
        if (not_after > ca->not_after) {
            char na[21];
            rtime_format(ca->not_after, na);
            return rerr_set(e, "the requested validity would outlive CA %s (valid until %s); ask for less",
                            ca->name, na);
        }
    }
    if (not_after <= now) return rerr_set(e, "CA %s has expired", ca->name);
    *out = not_after;
    return 1;
}

/* issue_partition: the CRL partition the certificate is bound to, chosen
 * here and never changed. */
static int issue_partition(const struct ca *ca, const struct tmpl *t, uint32_t *out, struct rerr *e) {
    if (t->is_ca) {
        *out = URLS_PART_CA;
    } else if (t->ocsp_nocheck || t->short_lived) {
        *out = URLS_PART_NONE;
    } else if (ca->complete_crl) {
        if (ca->slots >= CA_COMPLETE_CRL_MAX)
            return rerr_set(e, "CA %s publishes one complete CRL and has issued its limit of %d certificates",
                            ca->name, CA_COMPLETE_CRL_MAX);
        *out = 0;
    } else {
        if (ca->slots / ca->partition_size >= URLS_PART_EXTERNAL)
            return rerr_set(e, "CA %s has used every partition number", ca->name);
        *out = (uint32_t)(ca->slots / ca->partition_size);
    }
    return 1;
}

/* What issue_write records: the certificate (DER), its partition and CDP. */
struct issued {
    const struct tmpl *t;
    const char *tname;
    const uint8_t *serial; /* 16 octets */
    uint32_t part;
    const char *cdp;
    int64_t not_before, not_after;
    const uint8_t *der;
    size_t der_len;
};

/* issue_write writes the certificate's record, its partition's CDP, the
 * idempotency key, the CA record and the log record in one synced batch;
 * the CA's counters are back as they were when it fails. */
static int issue_write(struct ca_core *c, struct ca *ca, const struct ca_issue_params *p, const struct issued *is,
                       const struct idem *id, struct rerr *e) {
    struct crec r = {0};
    r.flags = is->t->is_ca ? CREC_F_CA : 0;
    r.partition = is->part;
    r.not_before = is->not_before;
    r.not_after = is->not_after;
    snprintf(r.template_name, sizeof(r.template_name), "%s", is->tname);
    r.der = is->der;
    r.der_len = (uint32_t)is->der_len;
    uint8_t *rec;
    size_t rl;
    if (!crec_encode(&r, &rec, &rl)) abort();
    struct store_batch *b = store_batch_new();
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, ca->id, is->serial, 16);
    store_batch_put(b, key, kl, rec, rl);
    if (is->part != URLS_PART_NONE) {
        kl = ikey_part(key, ca->id, is->part);
        store_batch_put(b, key, kl, is->cdp, strlen(is->cdp));
    }
    if (id->key_len > 0) {
        uint8_t v[32 + 16];
        memcpy(v, id->hash, 32);
        memcpy(v + 32, is->serial, 16);
        store_batch_put(b, id->key, id->key_len, v, sizeof(v));
    }
    int slot = !is->t->is_ca && is->part != URLS_PART_NONE;
    if (slot) ca->slots++;
    ca->issued++;
    carec_put(c, b, ca);
    chlog_add(c, b, ca->id, 0, is->serial, 16);
    oplog_add(c, b, "issue", ca->name, is->serial, 16, issue_params_json(p), "ok");
    int ok = oplog_commit(c, b, e);
    if (!ok) {
        if (slot) ca->slots--;
        ca->issued--;
    }
    store_batch_free(b);
    free(rec);
    return ok;
}

int ca_issue(struct ca_core *c, const struct ca_issue_params *p, char **out_pem, struct rerr *e) {
    X509_REQ *req = NULL;
    GENERAL_NAMES *san = NULL;
    STACK_OF(X509_EXTENSION) *extra = NULL;
    X509 *x = NULL;
    uint8_t *der = NULL;
    uint8_t serial[16];
    int have_serial = 0, ok = 0;
    const char *tname = p->template_name ? p->template_name : "end-entity";

    struct ca *ca = core_find_or_err(c, p->ca, e);
    if (ca == NULL || !issue_ca_check(ca, e)) goto out;
    const struct tmpl *t = find_template(tname);
    if (t == NULL) {
        rerr_set(e,
                 "no template named '%.40s' (end-entity, server, client, code-signing, email, "
                 "ocsp-signing, sub-ca, passthrough, short-lived)",
                 tname);
        goto out;
    }
    struct idem id;
    int replay = issue_replay(c, ca, p, &id, out_pem, e);
    if (replay == 0) goto out;
    if (replay == 2) {
        ok = *out_pem != NULL;
        goto out_quiet;
    }
    int is_rsa = 0;
    req = issue_csr_parse_check(p->csr, p->csr_len, &is_rsa, e);
    if (req == NULL || !issue_names(p, req, &san, e)) goto out;
    /* Before anything is signed: every name within the constraints of the
     * CA and of its ancestors. */
    if (!nameconst_check(c, ca, san, X509_REQ_get_subject_name(req), e)) goto out;
    if (t->passthrough && (extra = passthrough_exts(req, ca->cert, e)) == NULL) goto out;
    int path_len = -1;
    int64_t now = rtime_now(), not_after = 0;
    uint32_t part = 0;
    if (!issue_path_len(ca, t, p, &path_len, e) || !issue_not_after(ca, t, p->validity, now, &not_after, e) ||
        !issue_partition(ca, t, &part, e))
        goto out;
    EVP_PKEY *signer = keyring_ca_key(c, ca, e);
    if (signer == NULL) goto out;
    if (!serial_new(c, ca, serial, e)) goto out;
    have_serial = 1;
    char cdp[URLS_MAX], ocsp[URLS_MAX], issuers[URLS_MAX];
    partition_url(ca, part, cdp);
    urls_ocsp(ca->base_url, ocsp);
    urls_ca_issuers(ca->base_url, ca->name, issuers);
    struct certbuild cb = {
        .subject = X509_REQ_get_subject_name(req),
        .pubkey = X509_REQ_get0_pubkey(req),
        .spki = X509_REQ_get_X509_PUBKEY(req),
        .serial = serial,
        .serial_len = 16,
        .not_before = now,
        .not_after = not_after,
        .issuer_cert = ca->cert,
        .issuer_key = signer,
        .issuer_type = ca->key_type,
        .is_ca = t->is_ca,
        .path_len = path_len,
        .ku = t->ku | (is_rsa ? t->ku_rsa_extra : 0),
        .eku = t->eku,
        .ocsp_nocheck = t->ocsp_nocheck,
        /* RFC 5019 2.2.2: neither on a responder's certificate; nor on a
         * short-lived one. */
        .cdp = t->ocsp_nocheck || t->short_lived ? NULL : cdp,
        .ocsp_url = t->ocsp_nocheck || t->short_lived ? NULL : ocsp,
        .ca_issuers_url = t->ocsp_nocheck ? NULL : issuers,
        .san = san,
        .extra = extra,
    };
    x = certbuild_sign(&cb, e);
    if (x == NULL) goto out;
    int dl = i2d_X509(x, &der);
    if (dl <= 0) {
        rerr_ssl(e, "cannot encode the certificate");
        goto out;
    }
    struct issued is = {t, tname, serial, part, cdp, now, not_after, der, (size_t)dl};
    if (!issue_write(c, ca, p, &is, &id, e)) goto out;
    changes_note(c, ca, serial, 16);
    *out_pem = cert_output(ca, der, (size_t)dl, p->with_chain, e);
    ok = *out_pem != NULL;
out:
    if (!ok) oplog_failure(c, "issue", p->ca, have_serial ? serial : NULL, 16, issue_params_json(p), e);
out_quiet:
    OPENSSL_free(der);
    X509_free(x);
    sk_X509_EXTENSION_pop_free(extra, X509_EXTENSION_free);
    GENERAL_NAMES_free(san);
    X509_REQ_free(req);
    return ok;
}
