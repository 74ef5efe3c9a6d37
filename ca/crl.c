#include "ca/crl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "crl/archive.h"
#include "ca/internal.h"
#include "common/der.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/urls.h"
#include "crl/build.h"

/* 'n' ca:4 part:4 -> u64 the last CRL number, i64 its thisUpdate. */
#define K_CRLNUM 'n'

static size_t key_crlnum(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    size_t n = ikey_part(out, ca_id, part);
    out[0] = K_CRLNUM;
    return n;
}

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Fills ref's file and path from its URL: under the CA's base URL, the
 * path after it; an imported CDP elsewhere gets NAME/imported-K.crl. */
static void ref_paths(const struct ca *ca, struct ca_crl_ref *ref) {
    size_t bl = strlen(ca->base_url);
    if (strncmp(ref->url, ca->base_url, bl) == 0 && ref->url[bl] == '/' && strncmp(ref->url + bl, "/crl/", 5) == 0) {
        snprintf(ref->path, sizeof(ref->path), "%s", ref->url + bl);
        snprintf(ref->file, sizeof(ref->file), "%s", ref->url + bl + 5);
    } else {
        snprintf(ref->file, sizeof(ref->file), "%s/imported-%u.crl", ca->name, ref->part - URLS_PART_EXTERNAL);
        snprintf(ref->path, sizeof(ref->path), "/crl/%s", ref->file);
    }
}

int ca_crl_list(struct ca_core *c, const char *name, struct ca_crl_ref **out, size_t *n, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    size_t cap = 16, num = 0;
    struct ca_crl_ref *list = calloc(cap, sizeof(*list));
    if (list == NULL) return rerr_set(e, "out of memory");
    /* The CA scope: always, also before the CA has issued a CA certificate. */
    list[0].part = URLS_PART_CA;
    partition_url(ca, URLS_PART_CA, list[0].url);
    ref_paths(ca, &list[0]);
    num = 1;
    uint8_t prefix[5];
    prefix[0] = K_PART;
    bytes_put_u32(prefix + 1, ca->id);
    struct store_iter *it = store_iter_new(c->st, prefix, 5, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 9 || vl == 0 || vl >= sizeof(list[0].url)) {
            ok = rerr_set(e, "index: a partition record of CA %s is damaged", name);
            break;
        }
        uint32_t part = bytes_get_u32(k + 5);
        if (part == URLS_PART_CA) continue;
        if (num == cap) {
            struct ca_crl_ref *l2 = realloc(list, 2 * cap * sizeof(*list));
            if (l2 == NULL) {
                ok = rerr_set(e, "out of memory");
                break;
            }
            list = l2;
            cap *= 2;
        }
        struct ca_crl_ref *r = &list[num++];
        memset(r, 0, sizeof(*r));
        r->part = part;
        memcpy(r->url, v, vl); /* byte for byte what the certificates carry */
        r->url[vl] = '\0';
        ref_paths(ca, r);
    }
    store_iter_free(it);
    if (!ok) {
        free(list);
        return 0;
    }
    *out = list;
    *n = num;
    return 1;
}

/* published_number reads the CRL number and thisUpdate of the CRL file
 * published for ref, if there is one that parses. 1 when found. */
static int published_number(struct ca_core *c, const struct ca_crl_ref *ref, uint64_t *number, int64_t *this_update) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", c->dir, ref->file) >= (int)sizeof(path)) return 0;
    uint8_t *der;
    size_t len;
    struct rerr ignored;
    if (access(path, F_OK) != 0 || !fs_read_file(path, CRLARCHIVE_MAX_DER, &der, &len, &ignored)) return 0;
    const uint8_t *q = der;
    X509_CRL *x = d2i_X509_CRL(NULL, &q, (long)len);
    ASN1_INTEGER *num = x ? X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL) : NULL;
    int ok = num != NULL && ASN1_INTEGER_get(num) > 0;
    if (ok) {
        *number = (uint64_t)ASN1_INTEGER_get(num);
        *this_update = certbuild_asn1_time(X509_CRL_get0_lastUpdate(x));
    }
    ASN1_INTEGER_free(num);
    X509_CRL_free(x);
    free(der);
    ERR_clear_error();
    return ok;
}

/* crl_built_from: the partition change number the last CRL was built from
 * (0 for a record written before it was kept). */
static int crl_built_from(struct ca_core *c, const struct ca *ca, const struct ca_crl_ref *ref, uint64_t *out,
                          struct rerr *e) {
    uint8_t key[KEY_MAX], *v = NULL;
    size_t vl;
    *out = 0;
    int got = store_get(c->st, key, key_crlnum(key, ca->id, ref->part), &v, &vl, e);
    if (got < 0) return 0;
    if (got == 1 && vl == 24) *out = bytes_get_u64(v + 16);
    free(v);
    return 1;
}

int ca_crl_last(struct ca_core *c, const char *name, const struct ca_crl_ref *ref, uint64_t *number,
                int64_t *this_update, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return -1;
    uint8_t key[KEY_MAX], *v = NULL;
    size_t kl = key_crlnum(key, ca->id, ref->part), vl;
    int got = store_get(c->st, key, kl, &v, &vl, e);
    *number = 0;
    *this_update = 0;
    if (got == 1 && (vl == 16 || vl == 24)) {
        *number = bytes_get_u64(v);
        *this_update = (int64_t)bytes_get_u64(v + 8);
    } else if (got == 1) {
        got = rerr_set(e, "index: the CRL number of CA %s partition %u is damaged", name, ref->part) - 1;
    }
    free(v);
    return got;
}

/* The CA key signs: what crl/build calls back. */
struct crl_sign_ctx {
    EVP_PKEY *key;
    const EVP_MD *md;
};

static int crl_sign_cb(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len) {
    struct crl_sign_ctx *s = arg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    size_t n = CRL_SIG_MAX;
    int ok = m != NULL && EVP_DigestSignInit(m, NULL, s->md, NULL, s->key) == 1 &&
             EVP_DigestSign(m, sig, &n, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(m);
    *sig_len = n;
    return ok;
}

/* The AlgorithmIdentifier of the CA's signatures, DER. */
static int sigalg_der(const struct ca *ca, EVP_PKEY *key, uint8_t out[32], size_t *len) {
    int rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA, nid;
    if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(certbuild_sig_md(ca->key_type)), rsa ? NID_rsaEncryption
                                                                                        : NID_X9_62_id_ecPublicKey))
        return 0;
    X509_ALGOR *alg = X509_ALGOR_new();
    if (alg == NULL) return 0;
    /* RFC 4055: RSA algorithms carry NULL parameters; RFC 5758: ECDSA none. */
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

/* signature_ok checks the CRL's signature over its tbsCertList with the CA
 * certificate's public key (the DER's framing read strictly; parsing the
 * whole CRL into OpenSSL objects would cost ten times the build). */
static int signature_ok(const struct ca *ca, const uint8_t *der, size_t len) {
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

/* An entry read from the index, with its serial copied out. */
struct rentry {
    uint8_t serial[21];
    size_t serial_len;
    int64_t revoked_at, invalidity, not_after;
    int reason;
};

/* The revoked certificates of one partition that have not expired by now. */
static int read_entries(struct ca_core *c, const struct ca *ca, uint32_t part, int64_t now, struct rentry **out,
                        size_t *n, struct rerr *e) {
    uint8_t prefix[9];
    prefix[0] = K_REVOKED;
    bytes_put_u32(prefix + 1, ca->id);
    bytes_put_u32(prefix + 5, part);
    size_t cap = 256, num = 0;
    struct rentry *list = malloc(cap * sizeof(*list));
    if (list == NULL) return rerr_set(e, "out of memory");
    struct store_iter *it = store_iter_new(c->st, prefix, 9, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl < 11 || k[9] != kl - 10 || kl - 10 > 21 || (vl != REV_VALUE_LEN_V1 && vl != REV_VALUE_LEN)) {
            ok = rerr_set(e, "index: a revocation entry of CA %s partition %u is damaged", ca->name, part);
            break;
        }
        struct rentry r;
        r.serial_len = kl - 10;
        memcpy(r.serial, k + 10, r.serial_len);
        r.revoked_at = (int64_t)bytes_get_u64(v);
        r.reason = v[8];
        r.invalidity = v[9] ? (int64_t)bytes_get_u64(v + 10) : 0;
        /* Entries written before the expiry was kept with them stay. */
        r.not_after = vl == REV_VALUE_LEN ? (int64_t)bytes_get_u64(v + 18) : INT64_MAX;
        if (r.not_after < now) continue; /* expired: it leaves the CRL */
        if (num == cap) {
            struct rentry *l2 = realloc(list, 2 * cap * sizeof(*list));
            if (l2 == NULL) {
                ok = rerr_set(e, "out of memory");
                break;
            }
            list = l2;
            cap *= 2;
        }
        list[num++] = r;
    }
    store_iter_free(it);
    if (!ok) {
        free(list);
        return 0;
    }
    *out = list;
    *n = num;
    return 1;
}

int ca_crl_build(struct ca_core *c, const char *name, const struct ca_crl_ref *ref, int64_t validity,
                 struct ca_crl *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    double t0 = mono_now();
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    EVP_PKEY *key = keyring_ca_key(c, ca, e);
    if (key == NULL) return 0;
    uint64_t last;
    int64_t last_this;
    if (ca_crl_last(c, name, ref, &last, &last_this, e) < 0) return 0;
    /* The index restored from a backup is behind the CRL already
     * published: the number goes on from the published one, never back
     * (a relying party would keep the newer CRL). */
    uint64_t pub_number;
    int64_t pub_this;
    if (published_number(c, ref, &pub_number, &pub_this) && pub_number > last) {
        rlog(LOG_WARN, "crl.number_ahead",
             "CRL %s: the published file has number %llu, the index %llu (an index restored from a backup?): "
             "going on from the published one", ref->url, (unsigned long long)pub_number, (unsigned long long)last);
        last = pub_number;
        if (pub_this > last_this) last_this = pub_this;
    }
    uint64_t built_from;
    if (!ikey_part_change_get(c, ca->id, ref->part, &built_from, e)) return 0;
    int64_t now = rtime_now();
    struct rentry *ents = NULL;
    size_t n = 0;
    if (!read_entries(c, ca, ref->part, now, &ents, &n, e)) return 0;
    struct crl_entry *ce = malloc((n + 1) * sizeof(*ce));
    uint8_t *issuer = NULL;
    int il = i2d_X509_NAME(X509_get_subject_name(ca->cert), &issuer);
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->cert);
    uint8_t alg[32];
    size_t alen = 0;
    int ok = ce != NULL && il > 0 && ski != NULL && sigalg_der(ca, key, alg, &alen);
    if (!ok) rerr_ssl(e, "cannot prepare the CRL of CA %s", name);
    for (size_t i = 0; ok && i < n; i++)
        ce[i] = (struct crl_entry){ents[i].serial, ents[i].serial_len, ents[i].revoked_at,
                                   ents[i].reason == 0 ? -1 : ents[i].reason, ents[i].invalidity};
    /* A clock that went back must not make thisUpdate go back. */
    int64_t this_update = now > last_this ? now : last_this;
    int root_scope = ref->part == URLS_PART_CA && ca->depth == 1 && ca->parent[0] == '\0';
    struct crl_params p = {issuer,
                           (size_t)il,
                           this_update,
                           this_update + validity,
                           last + 1,
                           ski ? ski->data : NULL,
                           ski ? (size_t)ski->length : 0,
                           /* A root's CA-scope CRL also covers the root itself,
                              which has no CDP: OpenSSL's -crl_check_all looks
                              for a CRL at every level, and an IDP with a
                              distributionPoint never matches a certificate
                              without a CDP. Its IDP keeps onlyContainsCACerts. */
                           root_scope ? NULL : ref->url,
                           root_scope ? 0 : strlen(ref->url),
                           ref->part == URLS_PART_CA                ? CRL_SCOPE_CA_CERTS
                           : ref->part >= URLS_PART_EXTERNAL || ca->complete_crl ? CRL_SCOPE_ALL
                                                                                 : CRL_SCOPE_USER_CERTS};
    struct crl_sign_ctx sc = {key, certbuild_sig_md(ca->key_type)};
    struct crl_signer signer = {alg, alen, crl_sign_cb, &sc};
    if (ok && !crl_build(&p, ce, n, &signer, &out->der, &out->der_len)) {
        ok = rerr_set(e, "building the CRL of CA %s partition %u failed", name, ref->part);
        out->der = NULL;
    }
    /* Checked before anything is published: the signature against the CA
     * certificate, the number and the time against the last CRL's. */
    if (ok && !signature_ok(ca, out->der, out->der_len))
        ok = rerr_ssl(e, "the new CRL of CA %s partition %u does not verify: not published", name, ref->part);
    if (ok && (p.number <= last || p.this_update < last_this))
        ok = rerr_set(e, "the new CRL of CA %s partition %u goes backwards: not published", name, ref->part);
    /* The CA key signed: the audit log says so, with the number (same
     * synced write), or says why what it signed is not published. */
    json_t *params = NULL;
    if (out->der != NULL) {
        uint8_t h[32];
        char hx[65], tu[21];
        SHA256(out->der, out->der_len, h);
        for (int i = 0; i < 32; i++) snprintf(hx + 2 * i, 3, "%02x", h[i]);
        rtime_format(p.this_update, tu);
        params = json_pack("{s:o,s:I,s:I,s:s,s:s}", "partition",
                           ref->part == URLS_PART_CA ? json_string("ca") : json_integer((json_int_t)ref->part), "number",
                           (json_int_t)p.number, "entries", (json_int_t)n, "this_update", tu, "sha256", hx);
    }
    if (ok) {
        /* The number, thisUpdate, and the partition change this CRL was
         * built from (read with its entries: nothing changes in between,
         * this is the CA-core thread). */
        uint8_t k[KEY_MAX], v[24];
        size_t kl = key_crlnum(k, ca->id, ref->part);
        bytes_put_u64(v, p.number);
        bytes_put_u64(v + 8, (uint64_t)p.this_update);
        bytes_put_u64(v + 16, built_from);
        struct store_batch *b = store_batch_new();
        store_batch_put(b, k, kl, v, 24);
        oplog_add(c, b, "crl-sign", ca->name, NULL, 0, params, "ok");
        params = NULL;
        ok = oplog_commit(c, b, e);
        store_batch_free(b);
    } else if (params != NULL) {
        oplog_failure(c, "crl-sign", ca->name, NULL, 0, params, e);
        params = NULL;
    }
    json_decref(params);
    /* Every CRL signed is archived before it can be published (after its
     * number is taken: a failure leaves a gap, never a number twice). */
    if (ok) ok = crlarchive_append(c->dir, ca->name, ref->part, p.number, p.this_update, out->der, out->der_len, e);
    OPENSSL_free(issuer);
    free(ce);
    free(ents);
    if (!ok) {
        free(out->der);
        out->der = NULL;
        return 0;
    }
    out->ref = *ref;
    out->number = p.number;
    out->this_update = p.this_update;
    out->next_update = p.next_update;
    out->entries = n;
    out->build_seconds = mono_now() - t0;
    return 1;
}

int ca_crl_write_file(struct ca_core *c, const struct ca_crl *crl, struct rerr *e) {
    char path[PATH_MAX], dir[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", c->dir, crl->ref.file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) *slash = '\0';
    if (fs_mkdirs(dir, 0755, e) && fs_write_atomic(path, crl->der, crl->der_len, 0644, e)) return 1;
    /* Signed and numbered (the log says crl-sign ok), but not published:
     * the log says that too. */
    const char *slash2 = strchr(crl->ref.file, '/');
    char name[CA_NAME_MAX + 1];
    size_t fl = strlen(crl->ref.file);
    int nl = slash2 ? (int)(slash2 - crl->ref.file) : fl > 4 ? (int)(fl - 4) : 0; /* NAME/3.crl or NAME.crl */
    snprintf(name, sizeof(name), "%.*s", nl < CA_NAME_MAX ? nl : CA_NAME_MAX, crl->ref.file);
    oplog_failure(c, "crl-publish", name[0] ? name : NULL, NULL, 0,
                       json_pack("{s:s,s:I}", "file", crl->ref.file, "number", (json_int_t)crl->number), e);
    return 0;
}

int ca_crl_load_file(struct ca_core *c, const char *name, const struct ca_crl_ref *ref, struct ca_crl *out,
                     struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL || ca->cert == NULL) return ca == NULL ? -1 : rerr_set(e, "CA %s is pending", name);
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/crl/%s", c->dir, ref->file) >= (int)sizeof(path))
        return rerr_set(e, "CRL path too long");
    FILE *f = fopen(path, "rb");
    if (f == NULL) return rerr_set(e, "%s: %s", path, strerror(errno));
    /* The file is read back under a cap: a CRL is at most a few MB. */
    uint8_t *der = malloc(CRLARCHIVE_MAX_DER + 1);
    size_t len = der ? fread(der, 1, CRLARCHIVE_MAX_DER + 1, f) : 0;
    fclose(f);
    if (der == NULL || len == 0 || len > CRLARCHIVE_MAX_DER) {
        free(der);
        return rerr_set(e, "%s: empty, unreadable or too large", path);
    }
    uint64_t last;
    int64_t last_this;
    int ok = ca_crl_last(c, name, ref, &last, &last_this, e) == 1;
    const uint8_t *q = der;
    X509_CRL *x = ok ? d2i_X509_CRL(NULL, &q, (long)len) : NULL;
    ASN1_INTEGER *num = x ? X509_CRL_get_ext_d2i(x, NID_crl_number, NULL, NULL) : NULL;
    int64_t tu = 0, nu = 0;
    if (x != NULL) {
        tu = certbuild_asn1_time(X509_CRL_get0_lastUpdate(x));
        nu = X509_CRL_get0_nextUpdate(x) ? certbuild_asn1_time(X509_CRL_get0_nextUpdate(x)) : 0;
    }
    ok = ok && x != NULL && q == der + len && num != NULL && ASN1_INTEGER_get(num) == (long)last && tu == last_this &&
         nu > tu && signature_ok(ca, der, len);
    /* A status change since it was built (a revocation acknowledged just
     * before a crash or a stop, within the coalescing window) makes it
     * stale: built again rather than taken back. */
    uint64_t built_from = 0, now_change = 0;
    if (ok && !crl_built_from(c, ca, ref, &built_from, e)) ok = 0;
    if (ok && !ikey_part_change_get(c, ca->id, ref->part, &now_change, e)) ok = 0;
    int stale = ok && now_change > built_from;
    ok = ok && !stale;
    if (ok) out->entries = (size_t)sk_X509_REVOKED_num(X509_CRL_get_REVOKED(x));
    ASN1_INTEGER_free(num);
    X509_CRL_free(x);
    if (!ok) {
        free(der);
        return rerr_set(e, stale ? "%s: a status changed since it was built" : "%s: not the last CRL built (number, time or signature)", path);
    }
    out->ref = *ref;
    out->number = last;
    out->this_update = tu;
    out->next_update = nu;
    out->der = der;
    out->der_len = len;
    return 1;
}
