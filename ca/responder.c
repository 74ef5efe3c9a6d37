#include "ca/responder.h"
#include "ca/chlog.h"
#include "ca/keyfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/core.h"
#include "ca/carec.h"
#include "ca/certbuild.h"
#include "ca/changes.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/keyring.h"
#include "ca/oplog.h"
#include "ca/serial.h"
#include "ca/store.h"
#include "common/bytes.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/urls.h"

struct ca_responder {
    EVP_PKEY *key;
    X509 *cert;
    uint8_t *cert_der;
    size_t cert_len;
    uint8_t sigalg[32];
    size_t sigalg_len;
    const EVP_MD *md;
    EVP_MD *md_fetched;   /* fetched once: OpenSSL 3 fetches cost per call */
    EVP_PKEY_CTX *pctx;   /* EVP_PKEY_sign_init done once; reused per signature */
    int64_t not_before, not_after;
    uint8_t key_hash[20];
};

void responder_free(struct ca_responder *r) {
    if (r == NULL) return;
    EVP_PKEY_CTX_free(r->pctx);
    EVP_MD_free(r->md_fetched);
    EVP_PKEY_free(r->key);
    X509_free(r->cert);
    OPENSSL_free(r->cert_der);
    free(r);
}

/* set_responder makes r ca's responder (the one it had freed), with the
 * hook core_ca_free frees it through (ca/core.h). */
static void set_responder(struct ca *ca, struct ca_responder *r) {
    core_ca_drop_responder(ca);
    ca->responder = r;
    ca->responder_free = r != NULL ? responder_free : NULL;
}

static const EVP_MD *md_for(const EVP_PKEY *k) {
    return EVP_PKEY_get_bits(k) == 384 && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC ? EVP_sha384() : EVP_sha256();
}

/* Hash, then sign the digest with a context set up once: an EVP_DigestSign
 * per response spent a third of its time in OpenSSL 3's fetches and context
 * set-up. One thread at a time per responder. */
static int sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct ca_responder *r = arg;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    size_t n = CA_SIG_MAX;
    int ok = EVP_Digest(tbs, tbs_len, digest, &dl, r->md_fetched, NULL) == 1 &&
             EVP_PKEY_sign(r->pctx, sig, &n, digest, dl) == 1;
    if (!ok) ERR_clear_error();
    *sig_len = n;
    return ok;
}

/* Fills the derived fields of r from its key and certificate. */
static int responder_finish(struct ca_responder *r, struct rerr *e) {
    r->md = md_for(r->key);
    r->md_fetched = EVP_MD_fetch(NULL, EVP_MD_get0_name(r->md), NULL);
    r->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, r->key, NULL);
    if (r->md_fetched == NULL || r->pctx == NULL || EVP_PKEY_sign_init(r->pctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(r->pctx, r->md_fetched) != 1)
        return rerr_ssl(e, "cannot set up the responder's signing context");
    int rsa = EVP_PKEY_get_base_id(r->key) == EVP_PKEY_RSA;
    int nid = rsa ? NID_sha256WithRSAEncryption
                  : (r->md == EVP_sha384() ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256);
    X509_ALGOR *alg = X509_ALGOR_new();
    if (alg == NULL) return rerr_ssl(e, "out of memory");
    /* RFC 4055: RSA algorithms carry NULL parameters; RFC 5758: ECDSA none. */
    X509_ALGOR_set0(alg, OBJ_nid2obj(nid), rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL);
    int n = i2d_X509_ALGOR(alg, NULL);
    if (n <= 0 || (size_t)n > sizeof(r->sigalg)) {
        X509_ALGOR_free(alg);
        return rerr_ssl(e, "cannot encode the signature algorithm");
    }
    uint8_t *q = r->sigalg;
    r->sigalg_len = (size_t)i2d_X509_ALGOR(alg, &q);
    X509_ALGOR_free(alg);
    int dl = i2d_X509(r->cert, &r->cert_der);
    if (dl <= 0) return rerr_ssl(e, "cannot encode the responder certificate");
    r->cert_len = (size_t)dl;
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(r->cert);
    unsigned int hl = 20;
    if (!EVP_Digest(bits->data, (size_t)bits->length, r->key_hash, &hl, EVP_sha1(), NULL))
        return rerr_ssl(e, "SHA-1 failed");
    r->not_before = certbuild_asn1_time(X509_get0_notBefore(r->cert));
    r->not_after = certbuild_asn1_time(X509_get0_notAfter(r->cert));
    return 1;
}

static size_t key_responder(uint8_t out[KEY_MAX], uint32_t ca_id) {
    out[0] = K_RESPONDER;
    bytes_put_u32(out + 1, ca_id);
    return 5;
}

/* Reads the certificate of ca's current responder from the index. 1 read,
 * 0 none, -1 error (e set). */
static int responder_cert(struct ca_core *c, const struct ca *ca, X509 **out, struct rerr *e) {
    uint8_t key[KEY_MAX], *der = NULL;
    size_t kl = key_responder(key, ca->id), dl;
    int got = store_get(c->st, key, kl, &der, &dl, e);
    if (got <= 0) return got;
    const uint8_t *q = der;
    *out = d2i_X509(NULL, &q, (long)dl);
    int whole = *out != NULL && q == der + dl;
    free(der);
    if (!whole) {
        X509_free(*out);
        *out = NULL;
        ERR_clear_error();
        rerr_set(e, "index: the OCSP responder record of CA %s is damaged (restore DIR/index from a backup)",
                 ca->name);
        return -1;
    }
    return 1;
}

/* Whether the certificate x of ca is revoked in the index (also on hold).
 * 1 yes, 0 no, -1 error (e set). */
static int cert_revoked(struct ca_core *c, const struct ca *ca, const X509 *x, struct rerr *e) {
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    if (sn->length <= 0 || sn->length > 21) return 0;
    uint8_t key[KEY_MAX], *rec = NULL;
    size_t kl = ikey_cert(key, ca->id, sn->data, (size_t)sn->length), rl;
    int got = store_get(c->st, key, kl, &rec, &rl, e);
    struct crec r;
    int revoked = got == 1 && crec_decode(rec, rl, &r) && r.status == CERT_REVOKED;
    free(rec);
    return got < 0 ? -1 : revoked;
}

/* Loads the responder of ca from DIR, if it has one that is not revoked
 * and whose key matches. 1 loaded, 0 none (or revoked, or its key file
 * holds another key: the caller issues a new one), -1 error. */
static int responder_load(struct ca_core *c, struct ca *ca, struct ca_responder **out, struct rerr *e) {
    X509 *x = NULL;
    int got = responder_cert(c, ca, &x, e);
    if (got <= 0) return got;
    int revoked = cert_revoked(c, ca, x, e);
    if (revoked != 0) { /* revoked while no server held it, or by an earlier version */
        X509_free(x);
        return revoked < 0 ? -1 : 0;
    }
    struct ca_responder *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        X509_free(x);
        rerr_set(e, "out of memory");
        return -1;
    }
    r->cert = x;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s.ocsp.key", c->dir, ca->name);
    struct rerr ke;
    r->key = keyfile_read(c, path, &ke);
    if (r->cert == NULL || r->key == NULL || X509_check_private_key(r->cert, r->key) != 1) {
        int no_key = r->key == NULL;
        responder_free(r);
        ERR_clear_error();
        if (no_key) {
            rerr_set(e, "the OCSP responder key of CA %s: %s", ca->name, ke.msg);
            return -1;
        }
        /* The key file holds another key: a rotation whose index write
         * failed after the key was written (responder_issue writes the key
         * first), or a key file restored from elsewhere. The responder is
         * only an operational key the CA certifies: a new one is issued. */
        rlog(LOG_WARN, "ocsp.responder_mismatch",
             "%s does not match the OCSP responder certificate of CA %s in the index: issuing a new responder", path,
             ca->name);
        return 0;
    }
    if (!responder_finish(r, e)) {
        responder_free(r);
        return -1;
    }
    *out = r;
    return 1;
}

/* Issues a new responder for ca: key file first, then one synced batch with
 * the certificate's record, the responder record, its change record (all:
 * also a full one of ca: the responder it replaces was revoked, so every
 * response changes) and the log record. */
static struct ca_responder *responder_issue(struct ca_core *c, struct ca *ca, int all, struct rerr *e) {
    struct ca_responder *r = calloc(1, sizeof(*r));
    X509_NAME *subj = X509_NAME_new();
    struct store_batch *b = NULL;
    uint8_t *rec = NULL;
    int ok = 0;
    EVP_PKEY *signer = keyring_ca_key(c, ca, e);
    if (r == NULL || subj == NULL || signer == NULL) goto out;
    switch (ca->key_type) {
    case CA_KEY_EC_P256: r->key = EVP_EC_gen("P-256"); break;
    case CA_KEY_EC_P384: r->key = EVP_EC_gen("P-384"); break;
    case CA_KEY_RSA_2048: r->key = EVP_RSA_gen(2048); break;
    case CA_KEY_RSA_3072: r->key = EVP_RSA_gen(3072); break;
    case CA_KEY_RSA_4096: r->key = EVP_RSA_gen(4096); break;
    }
    if (r->key == NULL) {
        rerr_ssl(e, "responder key generation failed");
        goto out;
    }
    char cn[CA_NAME_MAX + 32];
    snprintf(cn, sizeof(cn), "%s OCSP responder", ca->name);
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    uint8_t serial[16];
    if (!serial_new(c, ca, serial, e)) goto out;
    int64_t now = rtime_now();
    int64_t not_after = now + CA_RESPONDER_LIFETIME_S;
    if (not_after > ca->not_after) not_after = ca->not_after;
    struct certbuild cb = {
        .subject = subj,
        .pubkey = r->key,
        .serial = serial,
        .serial_len = 16,
        .not_before = now - 3600, /* clients with slow clocks */
        .not_after = not_after,
        .issuer_cert = ca->cert,
        .issuer_key = signer,
        .issuer_type = ca->key_type,
        .is_ca = 0,
        .path_len = -1,
        .ku = CB_KU_DIGITAL_SIGNATURE,
        .eku = "OCSPSigning",
        .ocsp_nocheck = 1,
    };
    r->cert = certbuild_sign(&cb, e);
    if (r->cert == NULL || !responder_finish(r, e)) goto out;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s.ocsp.key", c->dir, ca->name);
    if (!keyfile_write(c, path, r->key, e)) goto out;
    struct crec cr = {0};
    cr.partition = URLS_PART_NONE;
    cr.not_before = now - 3600;
    cr.not_after = not_after;
    snprintf(cr.template_name, sizeof(cr.template_name), "ocsp-responder");
    cr.der = r->cert_der;
    cr.der_len = (uint32_t)r->cert_len;
    size_t rl;
    if (!crec_encode(&cr, &rec, &rl)) abort();
    b = store_batch_new();
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, ca->id, serial, 16);
    store_batch_put(b, key, kl, rec, rl);
    kl = key_responder(key, ca->id);
    store_batch_put(b, key, kl, r->cert_der, r->cert_len);
    ca->issued++;
    carec_put(c, b, ca);
    char na[21];
    rtime_format(not_after, na);
    chlog_add(c, b, ca->id, 0, serial, 16);
    if (all) chlog_add(c, b, ca->id, 1, NULL, 0);
    oplog_add(c, b, "ocsp-responder", ca->name, serial, 16, json_pack("{s:s}", "not_after", na), "ok");
    if (!oplog_commit(c, b, e)) {
        ca->issued--;
        goto out;
    }
    changes_note(c, ca, serial, 16);
    c->responder_epoch++;
    ok = 1;
out:
    if (!ok) oplog_failure(c, "ocsp-responder", ca->name, NULL, 0, NULL, e);
    store_batch_free(b);
    free(rec);
    X509_NAME_free(subj);
    if (!ok) {
        responder_free(r);
        return NULL;
    }
    return r;
}

int responder_retire(struct ca_core *c, struct ca *ca, const uint8_t *serial, size_t slen, int *retired,
                          struct rerr *e) {
    *retired = 0;
    X509 *x = NULL;
    int got = responder_cert(c, ca, &x, e);
    if (got <= 0) return got == 0;
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    int same = (size_t)sn->length == slen && memcmp(sn->data, serial, slen) == 0;
    X509_free(x);
    if (!same) return 1;
    struct ca_responder *r = responder_issue(c, ca, 1, e);
    if (r == NULL) return 0;
    set_responder(ca, r);
    changes_all(c); /* every response: the stored ones name the old responder (srec_usable) */
    *retired = 1;
    return 1;
}

int ca_responder_signer(struct ca_core *c, const char *name, struct ca_signer *out, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->state == CA_STATE_PENDING) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    /* Checked at every use, not only at load: whatever path revoked it
     * (responder_retire replaces it first), a revoked responder signs
     * nothing more, and every response is signed again. */
    if (ca->responder != NULL) {
        int revoked = cert_revoked(c, ca, ca->responder->cert, e);
        if (revoked < 0) return 0;
        if (revoked) {
            core_ca_drop_responder(ca);
            changes_all(c);
            /* Found here, outside any operation: recorded on its own. A
             * failure is logged, not returned: signing goes on with a new
             * responder, and the in-memory change re-signs everything now;
             * only a store reopened later would not learn of it. */
            struct rerr we;
            if (!chlog_write(c, ca->id, 1, NULL, 0, &we))
                rlog(LOG_WARN, "ca.change_log_failed", "CA %s: its revoked responder's change is not recorded: %s",
                     ca->name, we.msg);
        }
    }
    if (ca->responder == NULL) {
        struct ca_responder *loaded = NULL;
        int got = responder_load(c, ca, &loaded, e);
        if (got < 0) return 0;
        if (loaded != NULL) set_responder(ca, loaded);
    }
    /* Renewed when it nears its end, and when it is not valid yet (the clock
     * went back, or it was made under a wrong clock): a response signed by
     * it would not verify. */
    int64_t now = rtime_now();
    /* In the CA's own last days a new responder could not outlive the one
     * there is (its end is capped at the CA's): it is kept. */
    int nearing = ca->responder != NULL && ca->responder->not_after - now < CA_RESPONDER_RENEW_S &&
                  ca->responder->not_after < ca->not_after;
    if (ca->responder == NULL || nearing || ca->responder->not_before > now) {
        struct ca_responder *r = responder_issue(c, ca, 0, e);
        if (r == NULL) return 0;
        set_responder(ca, r);
    }
    ca_responder_signer_of(ca->responder, out);
    return 1;
}

/* A copy of src for another thread: the key and certificate shared by
 * reference, its own signing context. */
static struct ca_responder *responder_copy(const struct ca_responder *src, struct rerr *e) {
    struct ca_responder *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    if (EVP_PKEY_up_ref(src->key) != 1 || X509_up_ref(src->cert) != 1) {
        free(r);
        rerr_ssl(e, "cannot share the responder key");
        return NULL;
    }
    r->key = src->key;
    r->cert = src->cert;
    if (!responder_finish(r, e)) {
        responder_free(r);
        return NULL;
    }
    return r;
}

struct ca_responder *ca_responder_dup(struct ca_core *c, const char *name, struct rerr *e) {
    struct ca_signer unused;
    if (!ca_responder_signer(c, name, &unused, e)) return NULL;
    return responder_copy(core_find(c, name)->responder, e);
}

struct ca_responder *ca_responder_copy(struct ca_core *c, const char *name, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return NULL;
    if (ca->responder == NULL) {
        rerr_set(e, "CA %s has no OCSP responder loaded", name);
        return NULL;
    }
    return responder_copy(ca->responder, e);
}

void ca_responder_put(struct ca_responder *r) { responder_free(r); }

uint64_t ca_responder_epoch(const struct ca_core *c) { return c->responder_epoch; }

void ca_responder_signer_of(struct ca_responder *r, struct ca_signer *out) {
    memcpy(out->key_hash, r->key_hash, sizeof(out->key_hash));
    out->sigalg = r->sigalg;
    out->sigalg_len = r->sigalg_len;
    out->cert = r->cert_der;
    out->cert_len = r->cert_len;
    out->sign = sign_cb;
    out->arg = r;
}

int ca_issuer_hashes(struct ca_core *c, const char *name, enum ca_digest d, uint8_t name_hash[64],
                     uint8_t key_hash[64], struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    const EVP_MD *md = d == CA_DIGEST_SHA1     ? EVP_sha1()
                       : d == CA_DIGEST_SHA256 ? EVP_sha256()
                       : d == CA_DIGEST_SHA384 ? EVP_sha384()
                                               : EVP_sha512();
    uint8_t *der = NULL;
    int dl = i2d_X509_NAME(X509_get_subject_name(ca->cert), &der);
    const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(ca->cert);
    unsigned int n = 64;
    int ok = dl > 0 && EVP_Digest(der, (size_t)dl, name_hash, &n, md, NULL) &&
             EVP_Digest(bits->data, (size_t)bits->length, key_hash, &n, md, NULL);
    OPENSSL_free(der);
    if (!ok) return rerr_ssl(e, "hashing the issuer of CA %s failed", name);
    return 1;
}

void ca_ocsp_set_threads(struct ca_core *c, int threads) { c->sign_threads = threads; }

int ca_ocsp_threads(const struct ca_core *c) { return c->sign_threads; }

void ca_ocsp_set_backdate(struct ca_core *c, int64_t seconds) { c->backdate = seconds; }

int64_t ca_ocsp_backdate(const struct ca_core *c) { return c->backdate; }
