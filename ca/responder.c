#include "ca/responder.h"
#include "ca/keyfile.h"

#include <limits.h>
#include <pthread.h>
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
#include "ocsp/gen.h"
#include "ocsp/table.h"

#include <time.h>

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
 * the certificate's record, the responder record and the log record. */
static struct ca_responder *responder_issue(struct ca_core *c, struct ca *ca, struct rerr *e) {
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
    struct ca_responder *r = responder_issue(c, ca, e);
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
        struct ca_responder *r = responder_issue(c, ca, e);
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

int ca_issuer_hashes(struct ca_core *c, const char *name, enum ocsp_hash h, uint8_t name_hash[64],
                     uint8_t key_hash[64], struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    const EVP_MD *md = h == OCSP_HASH_SHA1     ? EVP_sha1()
                       : h == OCSP_HASH_SHA256 ? EVP_sha256()
                       : h == OCSP_HASH_SHA384 ? EVP_sha384()
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

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What signing a CA's responses needs, gathered once. */
struct signing {
    struct ca_core *c;
    uint32_t ca_id;
    struct ca_signer signer;
    uint8_t nh[2][64], kh[2][64];
    int64_t now, validity;
    struct store_batch *persist; /* NULL: what is signed is not stored */
};

static const enum ocsp_hash table_hashes[2] = {OCSP_HASH_SHA1, OCSP_HASH_SHA256};

static int signing_init(struct ca_core *c, const char *name, int64_t validity, int persist, struct signing *sg,
                        struct rerr *e) {
    memset(sg, 0, sizeof(*sg));
    if (!ca_responder_signer(c, name, &sg->signer, e)) return 0;
    for (int h = 0; h < 2; h++)
        if (!ca_issuer_hashes(c, name, table_hashes[h], sg->nh[h], sg->kh[h], e)) return 0;
    sg->c = c;
    sg->ca_id = core_find(c, name)->id;
    sg->now = rtime_now();
    sg->validity = validity;
    if (persist && (sg->persist = store_batch_new()) == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* Stored responses are a cache of signatures: written without syncing the
 * WAL (a crash loses some, and they are signed again), in batches. */
#define PERSIST_BATCH 1024

static int signing_flush(struct signing *sg, struct rerr *e) {
    if (sg->persist == NULL || store_batch_count(sg->persist) == 0) return 1;
    int ok = store_write(sg->c->st, sg->persist, 0, e);
    store_batch_clear(sg->persist);
    return ok;
}

static int signing_done(struct signing *sg, int ok, struct rerr *e) {
    if (ok) ok = signing_flush(sg, e);
    store_batch_free(sg->persist);
    sg->persist = NULL;
    return ok;
}

/* The stored record of a certificate's responses (ikey_resp), version 2:
 *   u8 version, u8 status, u8 reason, u8 0, i64 revoked_at, i64 thisUpdate,
 *   i64 nextUpdate, the SHA-1 issuer key hash (20), the SHA-1 responder
 *   key hash (20), then per CertID hash (SHA-1, SHA-256): u32 length, the
 *   response DER.
 * It is taken again only while status, reason and revocation time are
 * those of the certificate record, the issuer key is the same, the
 * responder that signed it is the current one (a revoked responder's
 * responses are all signed again), its validity is within the one
 * configured now (a shorter --validity takes effect at start), and it
 * ends no later than the certificate. Version 1 records (no responder key
 * hash) are signed again. */
#define SREC_VERSION 2
#define SREC_FIXED 72

static uint8_t srec_reason(const struct crec *r) { return r->status == CERT_REVOKED ? r->reason : 0; }
static int64_t srec_revoked_at(const struct crec *r) { return r->status == CERT_REVOKED ? r->revoked_at : 0; }

static int persist_put(struct signing *sg, const uint8_t *serial, size_t slen, const struct crec *r, int64_t tu,
                       int64_t nu, const uint8_t *const der[2], const size_t len[2], struct rerr *e) {
    uint8_t buf[SREC_FIXED + 2 * (4 + 8192)];
    uint8_t *p = buf;
    *p++ = SREC_VERSION;
    *p++ = r->status;
    *p++ = srec_reason(r);
    *p++ = 0;
    bytes_put_u64(p, (uint64_t)srec_revoked_at(r));
    bytes_put_u64(p + 8, (uint64_t)tu);
    bytes_put_u64(p + 16, (uint64_t)nu);
    memcpy(p + 24, sg->kh[0], 20);
    memcpy(p + 44, sg->signer.key_hash, 20);
    p += 64;
    for (int h = 0; h < 2; h++) {
        bytes_put_u32(p, (uint32_t)len[h]);
        memcpy(p + 4, der[h], len[h]);
        p += 4 + len[h];
    }
    uint8_t key[KEY_MAX];
    size_t kl = ikey_resp(key, sg->ca_id, serial, slen);
    store_batch_put(sg->persist, key, kl, buf, (size_t)(p - buf));
    return store_batch_count(sg->persist) < PERSIST_BATCH || signing_flush(sg, e);
}

/* A stored record still usable for r: not expiring within this margin,
 * not from the future. */
#define REUSE_MARGIN_S 300

static int srec_usable(const struct signing *sg, const struct crec *r, const uint8_t *v, size_t vl,
                       const uint8_t *der[2], size_t len[2], int64_t *this_update, int64_t *next_update) {
    if (vl < SREC_FIXED || v[0] != SREC_VERSION || v[1] != r->status || v[2] != srec_reason(r) || v[3] != 0) return 0;
    if ((int64_t)bytes_get_u64(v + 4) != srec_revoked_at(r) || memcmp(v + 28, sg->kh[0], 20) != 0 ||
        memcmp(v + 48, sg->signer.key_hash, 20) != 0)
        return 0;
    *this_update = (int64_t)bytes_get_u64(v + 12);
    *next_update = (int64_t)bytes_get_u64(v + 20);
    if (*this_update > sg->now + 60 || *next_update <= sg->now + REUSE_MARGIN_S) return 0;
    if (*next_update > r->not_after || *next_update - *this_update > sg->validity + sg->c->backdate) return 0;
    size_t off = 68;
    for (int h = 0; h < 2; h++) {
        if (vl - off < 4) return 0;
        size_t l = bytes_get_u32(v + off);
        if (l == 0 || l > vl - off - 4) return 0;
        der[h] = v + off + 4;
        len[h] = l;
        off += 4 + l;
    }
    return off == vl;
}

/* Signing in bulk: certificates are gathered in batches of SIGN_BATCH,
 * each batch signed by up to sign_threads threads (each with its own copy
 * of the responder: a signing context is for one thread), then added to
 * the table and stored in order, on the calling thread. */
#define SIGN_BATCH 512
#define SIGN_THREADS_MAX 256
#define SIGN_RESP_MAX 8192

struct sign_item {
    uint8_t serial[21];
    size_t slen;
    struct crec r; /* status, reason, revoked_at, not_after (der not kept) */
    int64_t this_update, next_update;
    size_t len[2];
    uint8_t der[2][SIGN_RESP_MAX];
};

struct sign_pool {
    struct signing *sg;
    struct ocsp_table_builder *b;
    uint64_t *responses;
    int threads;
    struct ca_responder *resp[SIGN_THREADS_MAX]; /* [0]: none, the caller signs with sg->signer */
    struct sign_item *items;
    size_t n, cap;
};

struct sign_part {
    struct sign_pool *p;
    int k, ok;
};

static int sign_item(const struct signing *sg, const struct ca_signer *signer, struct sign_item *it) {
    uint8_t certid[256];
    if (!ocsp_times(sg->now, sg->validity, sg->c->backdate, it->r.not_after, &it->this_update, &it->next_update))
        return 0;
    for (int h = 0; h < 2; h++) {
        size_t cl;
        if (!ocsp_certid_build(table_hashes[h], sg->nh[h], sg->kh[h], it->serial, it->slen, certid, sizeof(certid),
                               &cl))
            return 0;
        const struct crec *r = &it->r;
        struct ocsp_single one = {certid, cl, r->status == CERT_REVOKED ? OCSP_REVOKED : OCSP_GOOD, r->revoked_at, -1,
                                  it->this_update, it->next_update};
        /* unspecified is sent as no reason (RFC 5280 5.3.1). */
        if (r->status == CERT_REVOKED && r->reason != 0) one.reason = r->reason;
        if (!ocsp_response_sign(signer, &one, sg->now, NULL, 0, it->der[h], SIGN_RESP_MAX, &it->len[h])) return 0;
    }
    return 1;
}

static void *sign_part_run(void *arg) {
    struct sign_part *pt = arg;
    struct sign_pool *p = pt->p;
    struct ca_signer own;
    const struct ca_signer *signer = &p->sg->signer;
    if (pt->k > 0) {
        ca_responder_signer_of(p->resp[pt->k], &own);
        signer = &own;
    }
    size_t lo = p->n * (size_t)pt->k / (size_t)p->threads, hi = p->n * (size_t)(pt->k + 1) / (size_t)p->threads;
    pt->ok = 1;
    for (size_t i = lo; i < hi && pt->ok; i++) pt->ok = sign_item(p->sg, signer, &p->items[i]);
    return NULL;
}

static int pool_init(struct sign_pool *p, struct signing *sg, const char *name, struct ocsp_table_builder *b,
                     uint64_t *responses, size_t expect, struct rerr *e) {
    memset(p, 0, sizeof(*p));
    p->sg = sg;
    p->b = b;
    p->responses = responses;
    p->cap = expect < SIGN_BATCH ? (expect > 0 ? expect : 1) : SIGN_BATCH;
    p->items = malloc(p->cap * sizeof(struct sign_item));
    if (p->items == NULL) return rerr_set(e, "out of memory");
    /* Threads only where there is enough to share: 64 certificates each. */
    int t = sg->c->sign_threads > 0 ? sg->c->sign_threads : 1;
    if ((size_t)t > p->cap / 64 + 1) t = (int)(p->cap / 64 + 1);
    if (t > SIGN_THREADS_MAX) t = SIGN_THREADS_MAX;
    p->threads = 1;
    for (int k = 1; k < t; k++) {
        /* The responder signing_init made current: no rotation here, which
         * would free what sg->signer points to. */
        if ((p->resp[k] = responder_copy(core_find(sg->c, name)->responder, e)) == NULL) return 0;
        p->threads++;
    }
    return 1;
}

static void pool_free(struct sign_pool *p) {
    for (int k = 1; k < p->threads; k++) ca_responder_put(p->resp[k]);
    free(p->items);
    p->items = NULL;
}

/* Signs what is gathered, then adds it to the table and stores it. */
static int pool_flush(struct sign_pool *p, struct rerr *e) {
    if (p->n == 0) return 1;
    struct sign_part parts[SIGN_THREADS_MAX];
    pthread_t tid[SIGN_THREADS_MAX];
    int started[SIGN_THREADS_MAX] = {0};
    for (int k = 0; k < p->threads; k++) parts[k] = (struct sign_part){p, k, 0};
    for (int k = 1; k < p->threads; k++) started[k] = pthread_create(&tid[k], NULL, sign_part_run, &parts[k]) == 0;
    sign_part_run(&parts[0]);
    int ok = parts[0].ok;
    for (int k = 1; k < p->threads; k++) {
        if (started[k]) pthread_join(tid[k], NULL);
        else sign_part_run(&parts[k]); /* no thread: sign that part here */
        ok = ok && parts[k].ok;
    }
    if (!ok) return rerr_set(e, "signing a response failed");
    struct signing *sg = p->sg;
    for (size_t i = 0; i < p->n; i++) {
        struct sign_item *it = &p->items[i];
        const uint8_t *der[2] = {it->der[0], it->der[1]};
        ocsp_table_builder_set_times(p->b, it->this_update, it->next_update);
        if (!ocsp_table_builder_add(p->b, it->serial, it->slen, der, it->len, e)) return 0;
        if (sg->persist != NULL &&
            !persist_put(sg, it->serial, it->slen, &it->r, it->this_update, it->next_update, der, it->len, e))
            return 0;
        *p->responses += 2;
    }
    p->n = 0;
    return 1;
}

/* sign_into gathers one certificate record to sign (its responses are in
 * the table once the batch is flushed). */
static int sign_into(struct sign_pool *p, const uint8_t *serial, size_t slen, const struct crec *r, struct rerr *e) {
    if (slen == 0 || slen > 21) return rerr_set(e, "serial of %zu octets", slen);
    struct sign_item *it = &p->items[p->n++];
    memcpy(it->serial, serial, slen);
    it->slen = slen;
    it->r = *r;
    it->r.der = NULL;
    return p->n < p->cap || pool_flush(p, e);
}

void ca_ocsp_set_threads(struct ca_core *c, int threads) { c->sign_threads = threads; }

void ca_ocsp_set_backdate(struct ca_core *c, int64_t seconds) { c->backdate = seconds; }

int64_t ca_ocsp_backdate(const struct ca_core *c) { return c->backdate; }

/* Key order of two (len, serial) suffixes: the index's byte order. */
static int suffix_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

int ca_ocsp_precompute(struct ca_core *c, const char *name, int64_t validity, int flags, struct ocsp_table **out,
                       struct ca_precompute_stats *stats, struct rerr *e) {
    memset(stats, 0, sizeof(*stats));
    double t0 = mono_now();
    struct signing sg;
    if (!signing_init(c, name, validity, (flags & CA_OCSP_PERSIST) != 0, &sg, e)) return 0;
    struct ca *ca = core_find(c, name);
    struct ocsp_table_builder *b = ocsp_table_builder_new((size_t)(ca->issued + ca->imported));
    if (b == NULL) return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    struct sign_pool pool;
    if (!pool_init(&pool, &sg, name, b, &stats->responses, SIGN_BATCH, e)) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e);
    }
    uint8_t prefix[5], sprefix[5];
    prefix[0] = K_CERT;
    bytes_put_u32(prefix + 1, ca->id);
    sprefix[0] = K_RESP;
    bytes_put_u32(sprefix + 1, ca->id);
    struct store_iter *it = store_iter_new(c->st, prefix, 5, NULL, 0);
    /* The stored responses, walked beside the certificates (same order). */
    struct store_iter *sit = (flags & (CA_OCSP_REUSE | CA_OCSP_PERSIST)) ? store_iter_new(c->st, sprefix, 5, NULL, 0) : NULL;
    const uint8_t *sk = NULL, *sv = NULL;
    size_t skl = 0, svl = 0;
    int shave = sit != NULL && store_iter_next(sit, &sk, &skl, &sv, &svl);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (ok && store_iter_next(it, &k, &kl, &v, &vl)) {
        struct crec r;
        if (kl < 7 || k[5] != kl - 6 || !crec_decode(v, vl, &r)) {
            ok = rerr_set(e, "index: a certificate record of CA %s is damaged", name);
            break;
        }
        /* Stored responses of certificates before this one have none (they
         * cannot be: records are not deleted); skip them. */
        while (shave && suffix_cmp(sk + 5, skl - 5, k + 5, kl - 5) < 0)
            shave = store_iter_next(sit, &sk, &skl, &sv, &svl);
        int stored = shave && suffix_cmp(sk + 5, skl - 5, k + 5, kl - 5) == 0;
        if (r.not_after <= sg.now) {
            stats->skipped_expired++;
            if (stored && sg.persist != NULL) { /* no longer answered: drop it */
                store_batch_delete(sg.persist, sk, skl);
                if (store_batch_count(sg.persist) >= PERSIST_BATCH) ok = signing_flush(&sg, e);
            }
            continue;
        }
        const uint8_t *der[2];
        size_t len[2];
        int64_t tu, nu;
        if (stored && (flags & CA_OCSP_REUSE) && srec_usable(&sg, &r, sv, svl, der, len, &tu, &nu)) {
            ocsp_table_builder_set_times(b, tu, nu);
            ok = ocsp_table_builder_add(b, k + 6, kl - 6, der, len, e);
            stats->reused++;
        } else {
            ok = sign_into(&pool, k + 6, kl - 6, &r, e);
        }
        stats->certificates++;
    }
    if (ok) ok = pool_flush(&pool, e);
    pool_free(&pool);
    store_iter_free(it);
    store_iter_free(sit);
    ok = signing_done(&sg, ok, e);
    if (!ok) {
        ocsp_table_builder_free(b);
        return 0;
    }
    *out = ocsp_table_builder_finish(b);
    stats->seconds = mono_now() - t0;
    if (*out == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* qsort order of two changes (pointers to them): by serial. */
static int change_cmp(const void *a, const void *b) {
    const struct ca_change *x = *(const struct ca_change *const *)a, *y = *(const struct ca_change *const *)b;
    return suffix_cmp(x->serial, x->serial_len, y->serial, y->serial_len);
}

int ca_ocsp_overlay(struct ca_core *c, const char *name, const struct ocsp_table *old,
                    const struct ca_change *changes, size_t num, int64_t validity, struct ocsp_table **out,
                    size_t *signed_count, struct rerr *e) {
    if (signed_count != NULL) *signed_count = 0;
    struct signing sg;
    if (!signing_init(c, name, validity, 1, &sg, e)) return 0;
    struct ca *ca = core_find(c, name);
    struct ocsp_table_builder *b = ocsp_table_builder_new(num);
    if (b == NULL) return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    uint64_t responses = 0;
    struct sign_pool pool;
    if (!pool_init(&pool, &sg, name, b, &responses, num, e)) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e);
    }
    /* This CA's changes, by serial: the same serial twice in one batch is
     * signed once (from its record as it is now). */
    const struct ca_change **mine = malloc((num + 1) * sizeof(*mine));
    size_t nmine = 0;
    if (mine == NULL) {
        pool_free(&pool);
        ocsp_table_builder_free(b);
        return signing_done(&sg, 0, e) || rerr_set(e, "out of memory");
    }
    for (size_t i = 0; i < num; i++)
        if (strcmp(changes[i].ca, name) == 0) mine[nmine++] = &changes[i];
    qsort(mine, nmine, sizeof(*mine), change_cmp);
    int ok = 1;
    for (size_t k = 0; ok && k < nmine; k++) {
        const struct ca_change *ch = mine[k];
        if (k + 1 < nmine && change_cmp(&mine[k], &mine[k + 1]) == 0) continue;
        uint8_t key[KEY_MAX], *rec = NULL;
        size_t kl = ikey_cert(key, ca->id, ch->serial, ch->serial_len), rl;
        struct crec r;
        int got = store_get(c->st, key, kl, &rec, &rl, e);
        if (got < 0) ok = 0;
        else if (got == 1 && crec_decode(rec, rl, &r)) {
            /* An expired certificate has nothing to sign (its last response
             * ends at its notAfter); the next full generation drops it. */
            if (r.not_after > sg.now) ok = sign_into(&pool, ch->serial, ch->serial_len, &r, e);
            if (signed_count != NULL) (*signed_count)++;
        }
        free(rec);
    }
    free(mine);
    if (ok) ok = pool_flush(&pool, e);
    pool_free(&pool);
    ok = signing_done(&sg, ok, e);
    if (!ok) {
        ocsp_table_builder_free(b);
        return 0;
    }
    struct ocsp_table *fresh = ocsp_table_builder_finish(b);
    if (fresh == NULL) return rerr_set(e, "out of memory");
    if (old == NULL) {
        *out = fresh;
        return 1;
    }
    /* The older overlay entries that were not just re-signed stay. */
    struct ocsp_table *merged = ocsp_table_merge(old, fresh);
    ocsp_table_free(fresh);
    if (merged == NULL) return rerr_set(e, "out of memory");
    *out = merged;
    return 1;
}

int ca_ocsp_gen(struct ca_core *c, int64_t validity, struct gen **out, struct ca_precompute_stats *stats,
                struct rerr *e) {
    double t0 = mono_now();
    if (stats != NULL) memset(stats, 0, sizeof(*stats));
    struct gen *g = calloc(1, sizeof(*g));
    if (g == NULL) return rerr_set(e, "out of memory");
    g->cas = calloc(c->num_cas + 1, sizeof(struct gen_ca));
    if (g->cas == NULL) {
        free(g);
        return rerr_set(e, "out of memory");
    }
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *ca = c->cas[i];
        if (!core_ca_publishes(ca, rtime_now())) continue; /* pending, purged: nothing to answer for */
        struct gen_ca *gc = &g->cas[g->num];
        snprintf(gc->name, sizeof(gc->name), "%s", ca->name);
        gc->id = ca->id;
        for (int h = 0; h <= OCSP_HASH_SHA512; h++)
            if (!ca_issuer_hashes(c, ca->name, (enum ocsp_hash)h, gc->name_hash[h], gc->key_hash[h], e)) goto fail;
        int dl = i2d_X509(ca->cert, NULL);
        gc->cert_der = dl > 0 ? malloc((size_t)dl) : NULL;
        if (gc->cert_der == NULL) {
            rerr_set(e, "out of memory");
            goto fail;
        }
        uint8_t *q = gc->cert_der;
        gc->cert_len = (size_t)i2d_X509(ca->cert, &q);
        struct ca_precompute_stats st;
        if (!ca_ocsp_precompute(c, ca->name, validity, CA_OCSP_REUSE | CA_OCSP_PERSIST, &gc->table, &st, e))
            goto fail;
        if (stats != NULL) {
            stats->certificates += st.certificates;
            stats->reused += st.reused;
            stats->responses += st.responses;
            stats->skipped_expired += st.skipped_expired;
        }
        g->num++;
    }
    *out = g;
    if (stats != NULL) stats->seconds = mono_now() - t0;
    return 1;
fail:
    g->num++; /* free the partly built one too */
    gen_free(g);
    return 0;
}
