/* view_crl: the "crl" section of ca/view.h, what the CRL pipeline (crl/)
 * reads from the index and the writes it asks ca/ for. The CRL itself is
 * encoded, checked and published in crl/; here are only the index records,
 * the CA certificate and the CA key:
 *
 *   'p' ca_id:4 part:4                -> the partition's URL (ca/issue.c binds it)
 *   'r' ca_id:4 part:4 slen:1 serial  -> revocation entry (REV_VALUE_LEN[_V1])
 *   'd' ca_id:4 part:4                -> the partition's change number
 *   'n' ca_id:4 part:4                -> u64 the last CRL number, i64 its
 *                                        thisUpdate, u64 the change number it
 *                                        was built from (16-octet records
 *                                        predate the last field)
 *
 * Thread: the thread that owns the ca_core. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "ca/certbuild.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/keyring.h"
#include "ca/oplog.h"
#include "ca/partition.h"
#include "common/bytes.h"

#include "ca/signer.h"
#include "ca/view.h"
#include "common/der.h"
#include "common/urls.h"

#define K_CRLNUM 'n'

static size_t key_crlnum(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    size_t n = ikey_part(out, ca_id, part);
    out[0] = K_CRLNUM;
    return n;
}

int ca_crl_issuer_get(struct ca_core *c, const char *name, struct ca_crl_issuer *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return -1;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    /* The subject's DER as OpenSSL keeps it with the certificate: the
     * octets i2d_X509_NAME would write, without a copy. */
    const unsigned char *subject;
    size_t subject_len;
    if (!X509_NAME_get0_der(X509_get_subject_name(ca->cert), &subject, &subject_len)) {
        rerr_ssl(e, "cannot read the subject of CA %s", name);
        return -1;
    }
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);
    out->name = ca->name;
    out->base_url = ca->base_url;
    out->subject = subject;
    out->subject_len = subject_len;
    out->ski = ski ? ski->data : NULL;
    out->ski_len = ski ? (size_t)ski->length : 0;
    out->root = ca->depth == 1 && ca->parent[0] == '\0';
    out->complete_crl = ca->complete_crl;
    return 1;
}

int ca_crl_each_part(struct ca_core *c, const char *name,
                     int (*cb)(void *arg, uint32_t part, const char *url, size_t url_len), void *arg,
                     struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    /* The CA scope: always, also before the CA has issued a CA certificate. */
    char url[URLS_MAX];
    partition_url(ca, URLS_PART_CA, url);
    if (!cb(arg, URLS_PART_CA, url, strlen(url))) return 1;
    uint8_t prefix[5];
    prefix[0] = K_PART;
    bytes_put_u32(prefix + 1, ca->id);
    struct store_iter *it = store_iter_new(c->st, prefix, 5, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 9 || vl == 0 || vl >= URLS_MAX) {
            ok = rerr_set(e, "index: a partition record of CA %s is damaged", name);
            break;
        }
        uint32_t part = bytes_get_u32(k + 5);
        if (part == URLS_PART_CA) continue;
        /* The URL byte for byte as the certificates carry it. */
        if (!cb(arg, part, (const char *)v, vl)) break;
    }
    store_iter_free(it);
    return ok;
}

int ca_crl_each_revoked(struct ca_core *c, const char *name, uint32_t part,
                        int (*cb)(void *arg, const struct ca_crl_revoked *r), void *arg, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    uint8_t prefix[9];
    prefix[0] = K_REVOKED;
    bytes_put_u32(prefix + 1, ca->id);
    bytes_put_u32(prefix + 5, part);
    struct store_iter *it = store_iter_new(c->st, prefix, 9, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl < 11 || k[9] != kl - 10 || kl - 10 > 21 || (vl != REV_VALUE_LEN_V1 && vl != REV_VALUE_LEN)) {
            ok = rerr_set(e, "index: a revocation entry of CA %s partition %u is damaged", ca->name, part);
            break;
        }
        struct ca_crl_revoked r;
        r.serial = k + 10;
        r.serial_len = kl - 10;
        r.revoked_at = (int64_t)bytes_get_u64(v);
        r.reason = v[8];
        r.invalidity = v[9] ? (int64_t)bytes_get_u64(v + 10) : 0;
        /* Entries written before the expiry was kept with them stay. */
        r.not_after = vl == REV_VALUE_LEN ? (int64_t)bytes_get_u64(v + 18) : INT64_MAX;
        if (!cb(arg, &r)) break;
    }
    store_iter_free(it);
    return ok;
}

int ca_crl_part_change(struct ca_core *c, const char *name, uint32_t part, uint64_t *out, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    return ikey_part_change_get(c, ca->id, part, out, e);
}

int ca_crl_state_get(struct ca_core *c, const char *name, uint32_t part, struct ca_crl_state *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return -1;
    uint8_t key[KEY_MAX], *v = NULL;
    size_t kl = key_crlnum(key, ca->id, part), vl;
    int got = store_get(c->st, key, kl, &v, &vl, e);
    if (got == 1 && (vl == 16 || vl == 24)) {
        out->number = bytes_get_u64(v);
        out->this_update = (int64_t)bytes_get_u64(v + 8);
        if (vl == 24) out->built_from = bytes_get_u64(v + 16);
    } else if (got == 1) {
        got = rerr_set(e, "index: the CRL number of CA %s partition %u is damaged", name, part) - 1;
    }
    free(v);
    return got;
}

int ca_crl_verify(struct ca_core *c, const char *name, const uint8_t *der, size_t len) {
    const struct ca *ca = core_find(c, name);
    if (ca == NULL || ca->cert == NULL) return 0;
    /* CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm,
     * signatureValue BIT STRING }: the framing read strictly, the
     * signature checked over the tbs element's octets. */
    struct der d, list, tbs_el, alg, sig;
    der_init(&d, der, len);
    if (!der_get(&d, DER_SEQUENCE, &list) || d.len != 0) return 0;
    if (!der_get_any(&list, NULL, NULL, &tbs_el) || !der_get(&list, DER_SEQUENCE, &alg) ||
        !der_get(&list, DER_BIT_STRING, &sig) || list.len != 0 || sig.len < 2 || sig.p[0] != 0)
        return 0;
    EVP_PKEY *pub = X509_get0_pubkey(ca->cert);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = pub != NULL && m != NULL && EVP_DigestVerifyInit(m, NULL, certbuild_sig_md(ca->key_type), NULL, pub) == 1 &&
             EVP_DigestVerify(m, sig.p + 1, sig.len - 1, tbs_el.p, tbs_el.len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

/* The CA key signs (arg: the struct ca, whose key is loaded). */
static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    const struct ca *ca = arg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t n = CA_SIG_MAX;
    int ok = m != NULL && EVP_DigestSignInit(m, NULL, certbuild_sig_md(ca->key_type), NULL, ca->key) == 1 &&
             EVP_DigestSign(m, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(m);
    *sig_len = n;
    return ok;
}

/* The AlgorithmIdentifiers a CA key can sign with (certbuild_sig_md: SHA-256,
 * or SHA-384 for P-384; RFC 4055: RSA algorithms carry NULL parameters;
 * RFC 5758: ECDSA none). A signer's sigalg must outlive the call that
 * fills it: the octets OpenSSL encodes for the key are looked up here, so
 * the signer points at a constant and the bytes are still OpenSSL's. */
static const uint8_t alg_ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t alg_ecdsa_sha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t alg_rsa_sha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                         0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00};
static const uint8_t alg_rsa_sha384[] = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                         0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
static const struct {
    const uint8_t *der;
    size_t len;
} known_algs[] = {
    {alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256)},
    {alg_ecdsa_sha384, sizeof(alg_ecdsa_sha384)},
    {alg_rsa_sha256, sizeof(alg_rsa_sha256)},
    {alg_rsa_sha384, sizeof(alg_rsa_sha384)},
};

/* The AlgorithmIdentifier of the CA's signatures, DER, as OpenSSL encodes it. */
static int sigalg_der(const struct ca *ca, EVP_PKEY *key, uint8_t out[32], size_t *len) {
    int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA, nid;
    if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(certbuild_sig_md(ca->key_type)), rsa ? NID_rsaEncryption
                                                                                        : NID_X9_62_id_ecPublicKey))
        return 0;
    X509_ALGOR *alg = X509_ALGOR_new();
    if (alg == NULL) return 0;
    X509_ALGOR_set0(alg, OBJ_nid2obj(nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL);
    int n = i2d_X509_ALGOR(alg, NULL);
    int ok = n > 0 && n <= 32;
    if (ok) {
        uint8_t *q = out;
        *len = (size_t)i2d_X509_ALGOR(alg, &q);
    }
    X509_ALGOR_free(alg);
    return ok;
}

int ca_crl_signer(struct ca_core *c, const char *name, struct ca_signer *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    EVP_PKEY *key = keyring_ca_key(c, ca, e);
    if (key == NULL) return 0;
    uint8_t alg[32];
    size_t alen = 0;
    const uint8_t *found = NULL;
    if (sigalg_der(ca, key, alg, &alen))
        for (size_t i = 0; i < sizeof(known_algs) / sizeof(known_algs[0]); i++)
            if (known_algs[i].len == alen && memcmp(known_algs[i].der, alg, alen) == 0) found = known_algs[i].der;
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(ca->cert);
    unsigned int hl = 0;
    if (found == NULL || bits == NULL || !EVP_Digest(bits->data, (size_t)bits->length, out->key_hash, &hl, EVP_sha1(), NULL))
        return rerr_ssl(e, "cannot prepare the CRL of CA %s", name);
    out->sigalg = found;
    out->sigalg_len = alen;
    out->sign = sign_cb;
    out->arg = ca;
    return 1;
}

int ca_crl_record(struct ca_core *c, const char *name, uint32_t part, const struct ca_crl_state *st, json_t *params,
                  struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) {
        json_decref(params);
        return 0;
    }
    /* The only writer keeps the numbers going up, whatever the caller
     * checked (crl/ also checks against a published file ahead of the
     * index). */
    struct ca_crl_state last;
    if (ca_crl_state_get(c, name, part, &last, e) < 0) {
        json_decref(params);
        return 0;
    }
    if (st->number <= last.number || st->this_update < last.this_update) {
        rerr_set(e, "the new CRL of CA %s partition %u goes backwards: not published", name, part);
        oplog_failure(c, "crl-sign", ca->name, NULL, 0, params, e);
        return 0;
    }
    uint8_t k[KEY_MAX], v[24];
    size_t kl = key_crlnum(k, ca->id, part);
    bytes_put_u64(v, st->number);
    bytes_put_u64(v + 8, (uint64_t)st->this_update);
    bytes_put_u64(v + 16, st->built_from);
    struct store_batch *b = store_batch_new();
    store_batch_put(b, k, kl, v, 24);
    oplog_add(c, b, "crl-sign", ca->name, NULL, 0, params, "ok");
    int ok = oplog_commit(c, b, e);
    store_batch_free(b);
    return ok;
}

int ca_crl_record_many(struct ca_core *c, struct ca_crl_rec *r, size_t n, struct rerr *e) {
    /* The checks first: a refusal writes its own audit record, which would
     * forget the records given out to the batch before it is written. */
    struct store_batch *b = store_batch_new();
    size_t good = 0;
    for (size_t i = 0; i < n; i++) {
        struct ca *ca = core_find_or_err(c, r[i].ca, e);
        struct ca_crl_state last;
        r[i].ok = ca != NULL && ca_crl_state_get(c, r[i].ca, r[i].part, &last, e) >= 0 &&
                  r[i].st.number > last.number && r[i].st.this_update >= last.this_update;
        /* A partition twice in one batch: its second number is refused
         * (checked against the index as it was before the batch). */
        for (size_t k = 0; r[i].ok && k < i; k++)
            if (r[k].part == r[i].part && strcmp(r[k].ca, r[i].ca) == 0) r[i].ok = 0;
        if (!r[i].ok) continue;
        uint8_t k[KEY_MAX], v[24];
        size_t kl = key_crlnum(k, ca->id, r[i].part);
        bytes_put_u64(v, r[i].st.number);
        bytes_put_u64(v + 8, (uint64_t)r[i].st.this_update);
        bytes_put_u64(v + 16, r[i].st.built_from);
        store_batch_put(b, k, kl, v, 24);
        oplog_add(c, b, "crl-sign", ca->name, NULL, 0, r[i].params, "ok");
        r[i].params = NULL;
        good++;
    }
    int ok = good == 0 || oplog_commit(c, b, e);
    store_batch_free(b);
    for (size_t i = 0; i < n; i++) {
        if (!ok) r[i].ok = 0;
        if (r[i].params == NULL) continue; /* taken by the batch */
        struct rerr why;
        rerr_set(&why, "the new CRL of CA %s partition %u goes backwards (or its last one cannot be read): not published",
                 r[i].ca, r[i].part);
        if (ok) oplog_failure(c, "crl-sign", r[i].ca, NULL, 0, r[i].params, &why);
        else json_decref(r[i].params);
        r[i].params = NULL;
    }
    return ok;
}

int ca_crl_sign_parallel(const struct ca_core *c) { return !c->p11_used; }

void ca_crl_audit_failure(struct ca_core *c, const char *op, const char *ca, json_t *params, const struct rerr *why) {
    oplog_failure(c, op, ca, NULL, 0, params, why);
}
