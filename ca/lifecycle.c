/* CA lifecycle: create a root or a subordinate, a CSR for an outside parent,
 * import its certificate, enable and disable. */
#include "ca/chlog.h"
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
#include "ca/revoke.h"
#include "ca/serial.h"
#include "ca/store.h"
#include "common/log.h"
#include "common/jsonsafe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>

#include "ca/keyfile.h"
#include "ca/pkcs11.h"
#include "common/fsutil.h"
#include "common/rtime.h"
#include "common/urls.h"

static EVP_PKEY *gen_key(enum ca_key_type t, struct rerr *e) {
    EVP_PKEY *k = NULL;
    switch (t) {
    case CA_KEY_EC_P256: k = EVP_EC_gen("P-256"); break;
    case CA_KEY_EC_P384: k = EVP_EC_gen("P-384"); break;
    case CA_KEY_RSA_2048: k = EVP_RSA_gen(2048); break;
    case CA_KEY_RSA_3072: k = EVP_RSA_gen(3072); break;
    case CA_KEY_RSA_4096: k = EVP_RSA_gen(4096); break;
    }
    if (k == NULL) rerr_ssl(e, "key generation failed");
    return k;
}

static int write_key(struct ca_core *c, const char *name, EVP_PKEY *k, struct rerr *e) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys", c->dir);
    if (!fs_mkdirs(path, 0700, e)) return 0;
    chmod(path, 0700);
    snprintf(path, sizeof(path), "%s/keys/%s.key", c->dir, name);
    return keyfile_write(c, path, k, e);
}

/* token_key: the key q->key_uri names, from its token, before anything
 * is sized by the key type: q->key becomes its type. One key, one CA: a key
 * that is already a CA's is refused. */
static EVP_PKEY *token_key(struct ca_core *c, struct ca_create_params *q, struct rerr *e) {
    EVP_PKEY *k = pkcs11_load(c->p11_module, c->p11_pin, q->key_uri, "the key URI", e);
    if (k == NULL) return NULL;
    c->p11_used = 1; /* the engine goes with the core (internal.h) */
    if (!pkcs11_key_type(k, &q->key, e)) goto bad;
    for (size_t i = 0; i < c->num_cas; i++) {
        const struct ca *o = c->cas[i];
        if (o->cert != NULL && EVP_PKEY_eq(X509_get0_pubkey(o->cert), k) == 1) {
            rerr_set(e, "the token's key is already the key of CA %s: one key, one CA", o->name);
            goto bad;
        }
    }
    ERR_clear_error();
    return k;
bad:
    ERR_clear_error();
    EVP_PKEY_free(k);
    return NULL;
}

/* store_key: DIR/keys/NAME.key, the key or (key_uri) where it is. */
static int store_key(struct ca_core *c, const struct ca_create_params *p, const char *name, EVP_PKEY *k,
                     struct rerr *e) {
    if (p->key_uri == NULL) return write_key(c, name, k, e);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys", c->dir);
    if (!fs_mkdirs(path, 0700, e)) return 0;
    snprintf(path, sizeof(path), "%s/keys/%s.key", c->dir, name);
    return keyfile_write_uri(path, p->key_uri, e);
}

static int write_ca_files(struct ca_core *c, const struct ca *ca, struct rerr *e) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca", c->dir);
    if (!fs_mkdirs(path, 0755, e)) return 0;
    if (!fs_write_atomic(ca->cert_path, ca->cert_pem, strlen(ca->cert_pem), 0644, e)) return 0;
    snprintf(path, sizeof(path), "%s/ca/%s-chain.pem", c->dir, ca->name);
    const char *chain = ca->chain_pem ? ca->chain_pem : "";
    return fs_write_atomic(path, chain, strlen(chain), 0644, e);
}

/* The first part common to create, csr: name, URL, CRL options. */
static struct ca *new_ca_record(struct ca_core *c, const struct ca_create_params *p,
                                X509_NAME *subj, struct rerr *e) {
    if (!ca_name_valid(p->name, e)) return NULL;
    if (core_find(c, p->name) != NULL) {
        rerr_set(e, "a CA named '%s' already exists in %s", p->name, c->dir);
        return NULL;
    }
    if (p->complete_crl && p->partition_size != 0) {
        rerr_set(e, "--partition-size and --complete-crl exclude each other");
        return NULL;
    }
    uint32_t maxb = p->crl_max_bytes ? p->crl_max_bytes : CA_DEFAULT_CRL_MAX_BYTES;
    if (maxb < 4096 || maxb > 100000000) {
        rerr_set(e, "--crl-max-bytes %u is out of range (4096 to 100000000)", maxb);
        return NULL;
    }
    struct ca *ca = calloc(1, sizeof(*ca));
    if (ca == NULL) return NULL;
    if (!urls_normalize_base(p->base_url ? p->base_url : "http://127.0.0.1:8080", ca->base_url, e)) {
        free(ca);
        return NULL;
    }
    snprintf(ca->name, sizeof(ca->name), "%s", p->name);
    ca->key_type = p->key;
    ca->complete_crl = p->complete_crl;
    ca->crl_max_bytes = maxb;
    char url[URLS_MAX];
    urls_crl_partition(ca->base_url, ca->name, 4294967294u, url);
    int name_len = i2d_X509_NAME(subj, NULL);
    uint32_t fit = partition_default_size(maxb, (size_t)(name_len > 0 ? name_len : 0),
                                               strlen(url), p->key);
    if (p->complete_crl) {
        ca->partition_size = 0;
    } else if (p->partition_size == 0) {
        ca->partition_size = fit;
    } else if (p->partition_size > fit) {
        rerr_set(e,
                 "--partition-size %u is too large: a fully revoked partition would exceed "
                 "%u bytes (at most %u; or raise --crl-max-bytes)",
                 p->partition_size, maxb, fit);
        free(ca);
        return NULL;
    } else {
        ca->partition_size = p->partition_size;
    }
    ca->created = rtime_now();
    char *line = X509_NAME_oneline(subj, NULL, 0);
    ca->subject = line ? strdup(line) : strdup("");
    OPENSSL_free(line);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca/%s.pem", c->dir, ca->name);
    ca->cert_path = strdup(path);
    return ca;
}

/* nc_json: the name constraints asked for, by kind ("permit_dns": [...]),
 * into j (kinds with none left out); the values as given, made safe. */
static json_t *nc_json(const struct ca_create_params *p, json_t *j) {
    static const char *const keys[CA_NC_KINDS] = {"permit_dns", "exclude_dns", "permit_ip", "exclude_ip"};
    for (int k = 0; j != NULL && k < CA_NC_KINDS; k++) {
        if (p->num_nc[k] == 0) continue;
        if (p->num_nc[k] > CA_NC_MAX) { /* refused: the count only (the values may not all be there) */
            json_object_set_new(j, keys[k], json_integer((json_int_t)p->num_nc[k]));
            continue;
        }
        json_t *a = json_array();
        for (size_t i = 0; i < p->num_nc[k]; i++) json_array_append_new(a, jsafe_string(p->nc[k][i]));
        json_object_set_new(j, keys[k], a);
    }
    return j;
}

static json_t *create_params_json(const struct ca_create_params *p) {
    return nc_json(p, json_pack("{s:o,s:o,s:s,s:o,s:i,s:o,s:I,s:b,s:I,s:i}", "parent", jsafe_string(p->parent),
                     "subject", jsafe_string(p->subject), "key", ca_key_type_name(p->key),
                     /* a refused URI is not recorded: it may hold a PIN */
                     "key_uri", p->key_uri == NULL ? json_null()
                                : pkcs11_uri_valid(p->key_uri, NULL) ? json_string(p->key_uri) : json_string("(refused)"),
                     "days",
                     p->days, "base_url", jsafe_string(p->base_url), "partition_size", (json_int_t)p->partition_size,
                     "complete_crl", p->complete_crl, "crl_max_bytes",
                     (json_int_t)p->crl_max_bytes, "path_len", p->path_len));
}

/* Registers a CA certificate a parent in DIR issued, in the parent's
 * CA-scope partition, into b. */
static int record_ca_cert(struct ca_core *c, struct store_batch *b, struct ca *parent, X509 *x,
                          const char *template_name, struct rerr *e) {
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen = (size_t)sn->length;
    if (slen > sizeof(serial)) return rerr_set(e, "serial too long");
    memcpy(serial, sn->data, slen);
    struct crec r = {0};
    r.flags = CREC_F_CA;
    r.partition = URLS_PART_CA;
    r.not_before = certbuild_asn1_time(X509_get0_notBefore(x));
    r.not_after = certbuild_asn1_time(X509_get0_notAfter(x));
    snprintf(r.template_name, sizeof(r.template_name), "%s", template_name);
    uint8_t *der = NULL;
    int dl = i2d_X509(x, &der);
    if (dl <= 0) return rerr_ssl(e, "cannot encode the certificate");
    r.der = der;
    r.der_len = (uint32_t)dl;
    uint8_t *rec;
    size_t rl;
    if (!crec_encode(&r, &rec, &rl)) {
        OPENSSL_free(der);
        return rerr_set(e, "out of memory");
    }
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, parent->id, serial, slen);
    store_batch_put(b, key, kl, rec, rl);
    free(rec);
    OPENSSL_free(der);
    char url[URLS_MAX];
    partition_url(parent, URLS_PART_CA, url);
    kl = ikey_part(key, parent->id, URLS_PART_CA);
    store_batch_put(b, key, kl, url, strlen(url));
    parent->issued++;
    return 1;
}


/* create_place puts the new CA ca in the hierarchy: under p->parent
 * (*parent, checked: active, not too deep, its path length) or as a root;
 * and ends its validity (*not_after) within its parent's. */
static int create_place(struct ca_core *c, const struct ca_create_params *p, struct ca *ca, int64_t now,
                        struct ca **parent_out, int64_t *not_after_out, struct rerr *e) {
    int64_t not_after;
    struct ca *parent = NULL;
    *parent_out = NULL;
    if (p->days < 0 || p->days > 36500) return rerr_set(e, "--days %d is out of range (1 to 36500)", p->days);
    if (p->parent != NULL) {
        parent = core_find_or_err(c, p->parent, e);
        if (parent == NULL) return 0;
        *parent_out = parent;
        if (parent->state != CA_STATE_ACTIVE)
            return rerr_set(e, "parent CA %s is %s and issues nothing", parent->name, ca_state_name(parent->state));
        if (parent->depth + 1 > CA_MAX_DEPTH)
            return rerr_set(e, "a hierarchy is at most %d levels deep; %s is at level %d", CA_MAX_DEPTH,
                            parent->name, parent->depth);
        if (parent->path_len == 0)
            return rerr_set(e, "parent CA %s has path length 0: it may not have subordinate CAs", parent->name);
        ca->path_len = p->path_len >= 0 ? p->path_len : 0;
        if (parent->path_len > 0 && ca->path_len >= parent->path_len)
            return rerr_set(e, "--path-len %d is too long: parent CA %s allows at most %d below it", ca->path_len,
                            parent->name, parent->path_len - 1);
        ca->depth = parent->depth + 1;
        snprintf(ca->parent, sizeof(ca->parent), "%s", parent->name);
        if (p->days == 0) {
            not_after = now + 1825 * 86400LL;
            if (not_after > parent->not_after) not_after = parent->not_after;
        } else {
            not_after = now + (int64_t)p->days * 86400;
            if (not_after > parent->not_after) {
                char pa[21];
                rtime_format(parent->not_after, pa);
                return rerr_set(e, "--days %d would outlive parent CA %s (valid until %s); use fewer days", p->days,
                                parent->name, pa);
            }
        }
    } else {
        ca->depth = 1;
        ca->path_len = p->path_len;
        not_after = now + (int64_t)(p->days ? p->days : 3650) * 86400;
    }
    if (not_after <= now) return rerr_set(e, "parent CA %s has expired", parent ? parent->name : "");
    *not_after_out = not_after;
    return 1;
}

/* create_cert issues ca's certificate for key (signed by parent's key
 * signer, or self-signed) and sets ca's certificate, its PEM and its
 * chain. */
static int create_cert(struct ca *ca, struct ca *parent, X509_NAME *subj, EVP_PKEY *key, EVP_PKEY *signer,
                       NAME_CONSTRAINTS *nc, const uint8_t serial[16], int64_t now, int64_t not_after,
                       struct rerr *e) {
    char cdp[URLS_MAX], ocsp[URLS_MAX], issuers[URLS_MAX];
    struct certbuild cb = {
        .subject = subj,
        .pubkey = key,
        .serial = serial,
        .serial_len = 16,
        .not_before = now,
        .not_after = not_after,
        .issuer_cert = parent ? parent->cert : NULL,
        .issuer_key = parent ? signer : key,
        .issuer_type = parent ? parent->key_type : ca->key_type,
        .is_ca = 1,
        .path_len = ca->path_len,
        .ku = CB_KU_KEY_CERT_SIGN | CB_KU_CRL_SIGN | CB_KU_DIGITAL_SIGNATURE,
        .nc = nc,
    };
    if (parent != NULL) {
        partition_url(parent, URLS_PART_CA, cdp);
        urls_ocsp(parent->base_url, ocsp);
        urls_ca_issuers(parent->base_url, parent->name, issuers);
        cb.cdp = cdp;
        cb.ocsp_url = ocsp;
        cb.ca_issuers_url = issuers;
    }
    ca->cert = certbuild_sign(&cb, e);
    if (ca->cert == NULL) return 0;
    ca->cert_pem = certbuild_x509_pem(ca->cert);
    if (parent != NULL) {
        size_t n1 = strlen(parent->cert_pem), n2 = strlen(parent->chain_pem ? parent->chain_pem : "");
        ca->chain_pem = malloc(n1 + n2 + 1);
        if (ca->chain_pem == NULL) return rerr_set(e, "out of memory");
        memcpy(ca->chain_pem, parent->cert_pem, n1);
        memcpy(ca->chain_pem + n1, parent->chain_pem ? parent->chain_pem : "", n2 + 1);
    } else {
        ca->chain_pem = strdup("");
    }
    if (ca->cert_pem == NULL || ca->chain_pem == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* create_write writes the new CA's record, its certificate's record at its
 * parent's, and the log record in one synced batch (next_ca_id and the
 * parent's counters back as they were when it fails). */
static int create_write(struct ca_core *c, const struct ca_create_params *p, const char *op, struct ca *ca,
                        struct ca *parent, const uint8_t serial[16], struct rerr *e) {
    int ok = 0;
    c->next_ca_id++;
    struct store_batch *b = store_batch_new();
    if (!carec_put(c, b, ca)) {
        rerr_set(e, "out of memory");
        c->next_ca_id--;
        goto out;
    }
    if (parent != NULL) {
        if (!record_ca_cert(c, b, parent, ca->cert, "sub-ca", e) || !carec_put(c, b, parent)) {
            c->next_ca_id--;
            goto out;
        }
    }
    /* Every certificate of the new CA (none yet: its number is known from
     * now on), and the parent's new one. */
    chlog_add(c, b, ca->id, 1, NULL, 0);
    if (parent != NULL) chlog_add(c, b, parent->id, 0, serial, 16);
    oplog_add(c, b, op, ca->name, serial, 16, create_params_json(p), "ok");
    if (!oplog_commit(c, b, e)) {
        c->next_ca_id--;
        if (parent) parent->issued--;
        goto out;
    }
    ok = 1;
out:
    store_batch_free(b);
    return ok;
}

int ca_create(struct ca_core *c, const struct ca_create_params *p0, struct rerr *e) {
    struct ca_create_params q = *p0;
    const struct ca_create_params *p = &q;
    X509_NAME *subj = NULL;
    EVP_PKEY *key = NULL;
    NAME_CONSTRAINTS *nc = NULL;
    struct ca *ca = NULL;
    struct ca *parent = NULL;
    int ok = 0;
    const char *op = p->parent ? "ca-create-sub" : "ca-create-root";
    c->notice[0] = '\0';
    if (!nameconst_build(p, &nc, e)) goto out;
    if (q.key_uri != NULL && (key = token_key(c, &q, e)) == NULL) goto out;

    subj = certbuild_subject_parse(p->subject, e);
    if (subj == NULL) goto out;
    ca = new_ca_record(c, p, subj, e);
    if (ca == NULL) goto out;
    int64_t now = rtime_now();
    int64_t not_after = 0;
    if (!create_place(c, p, ca, now, &parent, &not_after, e)) goto out;
    EVP_PKEY *signer = NULL;
    if (parent != NULL && (signer = keyring_ca_key(c, parent, e)) == NULL) goto out;
    if (key == NULL && (key = gen_key(p->key, e)) == NULL) goto out;
    uint8_t serial[16];
    if (parent != NULL) {
        if (!serial_new(c, parent, serial, e)) goto out;
    } else if (!serial_new(c, ca, serial, e)) { /* ca->id 0: a fresh space */
        goto out;
    }
    if (!create_cert(ca, parent, subj, key, signer, nc, serial, now, not_after, e)) goto out;
    ca->not_before = now;
    ca->not_after = certbuild_asn1_time(X509_get0_notAfter(ca->cert));
    ca->state = CA_STATE_ACTIVE;
    ca->id = c->next_ca_id;
    /* The key first: a crash after it leaves an unused key file that the next
     * create of this name overwrites, never a CA without its key. */
    if (!store_key(c, p, ca->name, key, e)) goto out;
    ca->key = key;
    key = NULL;
    if (!create_write(c, p, op, ca, parent, serial, e)) goto out;
    /* The index has the CA now: a failure to write its convenience files
     * is a warning, not a refusal of what was done. */
    struct rerr fe;
    if (!write_ca_files(c, ca, &fe))
        snprintf(c->notice, sizeof(c->notice), "warning: CA %s was created, but its files were not written: %s",
                 ca->name, fe.msg);
    core_add_ca(c, ca);
    ca = NULL;
    changes_all(c);
    ok = 1;
out:
    if (!ok) oplog_failure(c, op, p->name, NULL, 0, create_params_json(p), e);
    core_ca_free(ca);
    EVP_PKEY_free(key);
    NAME_CONSTRAINTS_free(nc);
    X509_NAME_free(subj);
    return ok;
}

int ca_csr(struct ca_core *c, const struct ca_create_params *p0, char **out_pem, struct rerr *e) {
    struct ca_create_params q = *p0;
    const struct ca_create_params *p = &q;
    X509_NAME *subj = NULL;
    EVP_PKEY *key = NULL;
    X509_REQ *req = NULL;
    struct ca *ca = NULL;
    struct store_batch *b = NULL;
    BIO *bio = NULL;
    int ok = 0;
    if (q.key_uri != NULL && (key = token_key(c, &q, e)) == NULL) goto out;
    subj = certbuild_subject_parse(p->subject, e);
    if (subj == NULL) goto out;
    ca = new_ca_record(c, p, subj, e);
    if (ca == NULL) goto out;
    if (key == NULL && (key = gen_key(p->key, e)) == NULL) goto out;
    req = X509_REQ_new();
    if (req == NULL || !X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subj) ||
        !X509_REQ_set_pubkey(req, key) || X509_REQ_sign(req, key, certbuild_sig_md(ca->key_type)) <= 0) {
        rerr_ssl(e, "cannot build the CSR");
        goto out;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509_REQ(bio, req)) {
        rerr_ssl(e, "cannot encode the CSR");
        goto out;
    }
    ca->state = CA_STATE_PENDING;
    ca->depth = 0; /* known at import, from the chain */
    ca->path_len = -1;
    snprintf(ca->parent, sizeof(ca->parent), "(external)");
    ca->id = c->next_ca_id;
    if (!store_key(c, p, ca->name, key, e)) goto out;
    c->next_ca_id++;
    b = store_batch_new();
    carec_put(c, b, ca);
    oplog_add(c, b, "ca-csr", ca->name, NULL, 0, create_params_json(p), "ok");
    if (!oplog_commit(c, b, e)) {
        c->next_ca_id--;
        goto out;
    }
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    *out_pem = malloc((size_t)n + 1);
    if (*out_pem == NULL) abort();
    memcpy(*out_pem, data, (size_t)n);
    (*out_pem)[n] = '\0';
    core_add_ca(c, ca);
    ca = NULL;
    ok = 1;
out:
    if (!ok) oplog_failure(c, "ca-csr", p->name, NULL, 0, create_params_json(p), e);
    BIO_free(bio);
    store_batch_free(b);
    core_ca_free(ca);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    X509_NAME_free(subj);
    return ok;
}

static X509 *read_one_cert(const uint8_t *p, size_t len) {
    BIO *bio = BIO_new_mem_buf(p, (int)len);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (x == NULL) {
        const uint8_t *q = p;
        x = d2i_X509(NULL, &q, (long)len);
        if (x != NULL && q != p + len) {
            X509_free(x);
            x = NULL;
        }
    }
    return x;
}

/* import_cert_check: x, the certificate CA name's parent issued, is for
 * the CA's key, a CA certificate, and one that revd's CRLs and
 * certificates can name. */
static int import_cert_check(X509 *x, EVP_PKEY *key, const char *name, struct rerr *e) {
    if (X509_check_private_key(x, key) != 1)
        return rerr_ssl(e, "--cert does not match the key of CA %s (was it made from this CA's CSR?)", name);
    /* 1: a v3 CA with basicConstraints CA:TRUE; other non-zero values are
     * v1 roots or keyCertSign without basicConstraints. */
    if (X509_check_ca(x) != 1) return rerr_set(e, "--cert is not a CA certificate (it needs basicConstraints CA:TRUE)");
    uint32_t ku = X509_get_key_usage(x);
    if (ku != UINT32_MAX && (!(ku & KU_KEY_CERT_SIGN) || !(ku & KU_CRL_SIGN)))
        return rerr_set(e, "--cert's keyUsage lacks keyCertSign or cRLSign, which a CA that publishes CRLs needs");
    if (X509_get0_subject_key_id(x) == NULL)
        return rerr_set(e, "--cert has no subjectKeyIdentifier; revd's certificates name their issuer's key by it");
    return 1;
}

/* import_chain_verify verifies x against the PEM chain (which must end in
 * a root), and returns in *chain_pem (malloc'd) the verified path above
 * the CA, root last, and in *depth the CA's level. */
static int import_chain_verify(X509 *x, const uint8_t *chain, size_t chain_len, const char *name, char **chain_pem,
                               int *depth_out, struct rerr *e) {
    int ok = 0;
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509_STORE *roots = X509_STORE_new();
    X509_STORE_CTX *vctx = NULL;
    BIO *bio = BIO_new_mem_buf(chain, (int)chain_len);
    X509 *y;
    int num = 0;
    while ((y = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        num++;
        if (X509_check_issued(y, y) == X509_V_OK) X509_STORE_add_cert(roots, y);
        sk_X509_push(sk, y);
    }
    BIO_free(bio);
    ERR_clear_error();
    if (num == 0) {
        rerr_set(e, "--chain: no certificate found (expected PEM 'BEGIN CERTIFICATE')");
        goto out;
    }
    vctx = X509_STORE_CTX_new();
    if (vctx == NULL || !X509_STORE_CTX_init(vctx, roots, x, sk)) {
        rerr_ssl(e, "cannot verify the chain");
        goto out;
    }
    if (X509_verify_cert(vctx) != 1) {
        rerr_set(e, "--cert does not verify against --chain: %s (the chain must end in a root)",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
        goto out;
    }
    STACK_OF(X509) *path = X509_STORE_CTX_get0_chain(vctx);
    int depth = sk_X509_num(path);
    if (depth > CA_MAX_DEPTH) {
        rerr_set(e, "the chain puts CA %s at level %d; a hierarchy is at most %d levels deep", name,
                 depth, CA_MAX_DEPTH);
        goto out;
    }
    /* The chain file keeps the verified path above the CA, root last. */
    size_t total = 1;
    char **pems = calloc((size_t)depth, sizeof(char *));
    for (int i = 1; i < depth; i++) {
        pems[i] = certbuild_x509_pem(sk_X509_value(path, i));
        total += pems[i] ? strlen(pems[i]) : 0;
    }
    char *out_pem = malloc(total);
    out_pem[0] = '\0';
    for (int i = 1; i < depth; i++) {
        if (pems[i]) strcat(out_pem, pems[i]);
        free(pems[i]);
    }
    free(pems);
    *chain_pem = out_pem;
    *depth_out = depth;
    ok = 1;
out:
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(roots);
    sk_X509_pop_free(sk, X509_free);
    return ok;
}

int ca_import_cert(struct ca_core *c, const char *name, const uint8_t *cert, size_t cert_len,
                   const uint8_t *chain, size_t chain_len, struct rerr *e) {
    X509 *x = NULL;
    struct store_batch *b = NULL;
    int ok = 0;
    c->notice[0] = '\0';
    json_t *params = json_pack("{s:I,s:I}", "cert_bytes", (json_int_t)cert_len, "chain_bytes",
                               (json_int_t)chain_len);
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) goto out;
    if (ca->state != CA_STATE_PENDING) {
        rerr_set(e, "CA %s is not waiting for a certificate (it is %s)", name,
                 ca_state_name(ca->state));
        goto out;
    }
    x = read_one_cert(cert, cert_len);
    if (x == NULL) {
        rerr_ssl(e, "--cert: not a certificate (expected PEM 'BEGIN CERTIFICATE' or DER)");
        goto out;
    }
    EVP_PKEY *key = keyring_ca_key(c, ca, e);
    if (key == NULL || !import_cert_check(x, key, name, e)) goto out;
    char *chain_pem;
    int depth;
    if (!import_chain_verify(x, chain, chain_len, name, &chain_pem, &depth, e)) goto out;
    /* The record as it will be, written first; the CA in memory changes
     * only once it is on disk. */
    struct ca next = *ca;
    next.depth = depth;
    next.path_len = (int)X509_get_pathlen(x);
    next.not_before = certbuild_asn1_time(X509_get0_notBefore(x));
    next.not_after = certbuild_asn1_time(X509_get0_notAfter(x));
    next.cert_pem = certbuild_x509_pem(x);
    next.chain_pem = chain_pem;
    char *line = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
    next.subject = strdup(line ? line : "");
    OPENSSL_free(line);
    next.state = CA_STATE_ACTIVE;
    if (next.cert_pem == NULL || next.subject == NULL) {
        free(next.cert_pem);
        free(next.subject);
        free(chain_pem);
        rerr_set(e, "out of memory");
        goto out;
    }
    b = store_batch_new();
    carec_put(c, b, &next);
    chlog_add(c, b, ca->id, 1, NULL, 0);
    oplog_add(c, b, "ca-import", name, NULL, 0, params, "ok");
    params = NULL;
    if (!oplog_commit(c, b, e)) {
        free(next.cert_pem);
        free(next.subject);
        free(chain_pem);
        goto out;
    }
    free(ca->subject);
    free(ca->cert_pem);
    free(ca->chain_pem);
    next.cert = x;
    x = NULL;
    *ca = next;
    changes_all(c);
    ok = 1;
    struct rerr fe;
    if (!write_ca_files(c, ca, &fe))
        snprintf(c->notice, sizeof(c->notice), "warning: CA %s is active, but its files were not written: %s",
                 name, fe.msg);
out:
    if (!ok) oplog_failure(c, "ca-import", name, NULL, 0, params, e);
    else json_decref(params);
    store_batch_free(b);
    X509_free(x);
    return ok;
}

int ca_set_enabled(struct ca_core *c, const char *name, int enabled, struct rerr *e) {
    const char *op = enabled ? "ca-enable" : "ca-disable";
    struct ca *ca = core_find_or_err(c, name, e);
    int ok = 0;
    struct store_batch *b = NULL;
    if (ca == NULL) goto out;
    if (ca->state == CA_STATE_PENDING) {
        rerr_set(e, "CA %s is pending (it has no certificate yet: revd ca import)", name);
        goto out;
    }
    if (ca->state == CA_STATE_DELETED || ca->state == CA_STATE_PURGED) {
        rerr_set(e, "CA %s is %s%s", name, ca_state_name(ca->state),
                 ca->state == CA_STATE_DELETED ? " (revd ca restore first)" : " (its keys are destroyed)");
        goto out;
    }
    if (enabled && !revoke_chain_unrevoked(c, ca, e)) goto out;
    enum ca_state old = ca->state;
    ca->state = enabled ? CA_STATE_ACTIVE : CA_STATE_DISABLED;
    b = store_batch_new();
    carec_put(c, b, ca);
    oplog_add(c, b, op, name, NULL, 0, NULL, "ok");
    if (!oplog_commit(c, b, e)) {
        ca->state = old;
        goto out;
    }
    ok = 1;
out:
    if (!ok) oplog_failure(c, op, name, NULL, 0, NULL, e);
    store_batch_free(b);
    return ok;
}

/* ---- deletion with a restore window ---- */

int ca_delete(struct ca_core *c, const char *name, int restore_days, struct rerr *e) {
    int64_t now = rtime_now();
    json_t *params = json_pack("{s:i}", "restore_days", restore_days);
    struct ca *ca = core_find_or_err(c, name, e);
    struct store_batch *b = NULL;
    int ok = 0;
    if (ca == NULL) goto out;
    if (restore_days < CA_RESTORE_DAYS_MIN || restore_days > CA_RESTORE_DAYS_MAX) {
        rerr_set(e, "--restore-days must be %d to %d", CA_RESTORE_DAYS_MIN, CA_RESTORE_DAYS_MAX);
        goto out;
    }
    if (ca->state == CA_STATE_DELETED || ca->state == CA_STATE_PURGED) {
        rerr_set(e, "CA %s is %s already", name, ca_state_name(ca->state));
        goto out;
    }
    for (size_t i = 0; i < c->num_cas; i++) {
        const struct ca *k = c->cas[i];
        if (strcmp(k->parent, ca->name) == 0 && k->state != CA_STATE_DELETED && k->state != CA_STATE_PURGED) {
            rerr_set(e, "CA %s has a subordinate CA that is not deleted: %s (delete it first)", name, k->name);
            goto out;
        }
    }
    struct ca saved = *ca;
    ca->state_before = ca->state;
    ca->state = CA_STATE_DELETED;
    ca->purge_at = now + (int64_t)restore_days * 86400;
    char pa[21];
    rtime_format(ca->purge_at, pa);
    json_object_set_new(params, "purge_at", json_string(pa));
    b = store_batch_new();
    carec_put(c, b, ca);
    oplog_add(c, b, "ca-delete", name, NULL, 0, params, "ok");
    params = NULL;
    if (!oplog_commit(c, b, e)) {
        ca->state = saved.state;
        ca->state_before = saved.state_before;
        ca->purge_at = saved.purge_at;
        goto out;
    }
    ok = 1;
out:
    if (!ok) oplog_failure(c, "ca-delete", name, NULL, 0, params, e);
    else json_decref(params);
    store_batch_free(b);
    return ok;
}

int ca_restore(struct ca_core *c, const char *name, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    struct store_batch *b = NULL;
    int ok = 0;
    if (ca == NULL) goto out;
    if (ca->state != CA_STATE_DELETED) {
        rerr_set(e, "CA %s is %s, not deleted: nothing to restore%s", name, ca_state_name(ca->state),
                 ca->state == CA_STATE_PURGED ? " (the restore window ended and its keys are destroyed)" : "");
        goto out;
    }
    if (rtime_now() >= ca->purge_at) {
        char pa[21];
        rtime_format(ca->purge_at, pa);
        rerr_set(e, "the restore window of CA %s ended at %s", name, pa);
        goto out;
    }
    const struct ca *parent = ca->parent[0] ? core_find(c, ca->parent) : NULL;
    if (parent != NULL && (parent->state == CA_STATE_DELETED || parent->state == CA_STATE_PURGED)) {
        rerr_set(e, "CA %s's parent %s is %s (restore it first)", name, parent->name, ca_state_name(parent->state));
        goto out;
    }
    ca->state = ca->state_before == CA_STATE_ACTIVE ? CA_STATE_ACTIVE : CA_STATE_DISABLED;
    /* A certificate revoked while the CA was deleted: it comes back
     * disabled, as the revocation would have left it. */
    struct rerr why;
    if (ca->state == CA_STATE_ACTIVE && !revoke_chain_unrevoked(c, ca, &why)) ca->state = CA_STATE_DISABLED;
    if (ca->cert == NULL) ca->state = CA_STATE_PENDING;
    int64_t pa = ca->purge_at;
    ca->purge_at = 0;
    b = store_batch_new();
    carec_put(c, b, ca);
    oplog_add(c, b, "ca-restore", name, NULL, 0, json_pack("{s:s}", "state", ca_state_name(ca->state)), "ok");
    if (!oplog_commit(c, b, e)) {
        ca->state = CA_STATE_DELETED;
        ca->purge_at = pa;
        goto out;
    }
    ok = 1;
out:
    if (!ok) oplog_failure(c, "ca-restore", name, NULL, 0, NULL, e);
    store_batch_free(b);
    return ok;
}

int ca_purge_due(struct ca_core *c, int64_t now, size_t *purged, struct rerr *e) {
    *purged = 0;
    int all_ok = 1;
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *ca = c->cas[i];
        if (ca->state == CA_STATE_PURGED) {
            /* Key files a crash (or a failed unlink) left behind go now. */
            static const char *const sfx[] = {".key", ".ocsp.key"};
            for (int k = 0; k < 2; k++) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/keys/%s%s", c->dir, ca->name, sfx[k]);
                if (access(path, F_OK) == 0 && unlink(path) != 0 && all_ok)
                    all_ok = rerr_set(e, "purged CA %s: cannot remove %s: %s", ca->name, path, strerror(errno));
            }
            continue;
        }
        if (ca->state != CA_STATE_DELETED || now < ca->purge_at) continue;
        /* The record first (synced): a crash after it leaves key files that
         * nothing uses, never a purged CA that could still sign. */
        ca->state = CA_STATE_PURGED;
        struct store_batch *b = store_batch_new();
        carec_put(c, b, ca);
        chlog_add(c, b, ca->id, 1, NULL, 0);
        oplog_add(c, b, "ca-purge", ca->name, NULL, 0, NULL, "ok");
        struct rerr ce;
        int ok = oplog_commit(c, b, &ce);
        store_batch_free(b);
        if (!ok) {
            ca->state = CA_STATE_DELETED;
            if (all_ok) all_ok = rerr_set(e, "purging CA %s: %s", ca->name, ce.msg);
            continue; /* the others still go */
        }
        EVP_PKEY_free(ca->key);
        ca->key = NULL;
        core_ca_drop_responder(ca);
        static const char *const suffix[] = {".key", ".ocsp.key"};
        for (int k = 0; k < 2; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%s/keys/%s%s", c->dir, ca->name, suffix[k]);
            char uri[PKCS11_URI_MAX + 1];
            if (k == 0 && keyfile_token_uri(path, uri)) /* revd destroys no key in a token: the operator must */
                rlog(LOG_WARN, "ca.purge_token_key", "purged CA %s: its key stays in the PKCS#11 token until "
                     "destroyed with the token's tools: %s", ca->name, uri);
            if (unlink(path) != 0 && errno != ENOENT)
                rlog(LOG_WARN, "ca.purge_remove_failed", "purging CA %s: cannot remove %s: %s", ca->name, path, strerror(errno));
        }
        char kd[PATH_MAX];
        snprintf(kd, sizeof(kd), "%s/keys", c->dir);
        int dfd = open(kd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        changes_all(c);
        (*purged)++;
    }
    return all_ok;
}

/* ---- a new certificate for the same key ---- */

static char *concat2(const char *a, const char *b) {
    size_t n1 = strlen(a), n2 = strlen(b ? b : "");
    char *s = malloc(n1 + n2 + 1);
    if (s == NULL) return NULL;
    memcpy(s, a, n1);
    memcpy(s + n1, b ? b : "", n2 + 1);
    return s;
}

/* recert_chains: out[i] (malloc'd) is the new chain of c->cas[i] when it
 * is under ca, whose new certificate next has; NULL for the others. CAs
 * are in creation order: a parent before its children. 1, or 0 (memory). */
static int recert_chains(struct ca_core *c, const struct ca *ca, const struct ca *next, char **out) {
    for (size_t i = 0; i < c->num_cas; i++) {
        const struct ca *k = c->cas[i];
        const char *pcert = NULL, *pchain = NULL;
        if (k->cert_pem == NULL || k->parent[0] == '\0') continue;
        if (strcmp(k->parent, ca->name) == 0) {
            pcert = next->cert_pem;
            pchain = next->chain_pem;
        }
        for (size_t j = 0; j < i && pcert == NULL; j++)
            if (out[j] != NULL && strcmp(c->cas[j]->name, k->parent) == 0) {
                pcert = c->cas[j]->cert_pem;
                pchain = out[j];
            }
        if (pcert != NULL && (out[i] = concat2(pcert, pchain)) == NULL) return 0;
    }
    return 1;
}

/* recert_archive copies ca's certificate, before it is replaced, to
 * DIR/ca/archive/NAME-SERIAL.pem. */
static int recert_archive(struct ca_core *c, const struct ca *ca, struct rerr *e) {
    char path[PATH_MAX], hex[2 * (HEX_SERIAL_MAX + 1) + 1];
    const ASN1_INTEGER *sn = X509_get0_serialNumber(ca->cert);
    size_t sl = (size_t)sn->length > HEX_SERIAL_MAX + 1 ? HEX_SERIAL_MAX + 1 : (size_t)sn->length;
    hex_encode(sn->data, sl, hex);
    snprintf(path, sizeof(path), "%s/ca/archive", c->dir);
    if (!fs_mkdirs(path, 0755, e)) return 0;
    snprintf(path, sizeof(path), "%s/ca/archive/%s-%s.pem", c->dir, ca->name, hex);
    return fs_write_atomic(path, ca->cert_pem, strlen(ca->cert_pem), 0644, e);
}

/* recert_check: ca may be re-certified; q (its parent, path length, days
 * and constraints) and *nc (new ones, or a copy of the old) for it. */
static int recert_check(struct ca_core *c, const struct ca_recertify_params *p, const struct ca *ca,
                        struct ca_create_params *q, NAME_CONSTRAINTS **nc, struct rerr *e) {
    if (ca->cert == NULL || ca->state == CA_STATE_PENDING || ca->state == CA_STATE_DELETED ||
        ca->state == CA_STATE_PURGED)
        return rerr_set(e, "CA %s is %s: it has no certificate to renew", ca->name, ca_state_name(ca->state));
    if (strcmp(ca->parent, "(external)") == 0)
        return rerr_set(e, "CA %s's parent is outside revd: only that parent can certify its key again", ca->name);
    memset(q, 0, sizeof(*q));
    q->name = ca->name;
    q->parent = ca->parent[0] != '\0' ? ca->parent : NULL;
    q->days = p->days;
    q->path_len = ca->path_len;
    size_t given = 0;
    for (int k = 0; k < CA_NC_KINDS; k++) {
        q->nc[k] = p->nc[k];
        q->num_nc[k] = p->num_nc[k];
        given += p->num_nc[k];
    }
    if (given > 0) return nameconst_build(q, nc, e);
    int crit = 0;
    *nc = X509_get_ext_d2i(ca->cert, NID_name_constraints, &crit, NULL);
    if (*nc == NULL && crit != -1) {
        ERR_clear_error();
        return rerr_set(e, "CA %s's nameConstraints extension does not parse; give new ones", ca->name);
    }
    return 1;
}

/* recert_write: next's record, its certificate at parent's, the new
 * chains under it, and the log record, in one synced batch. */
static int recert_write(struct ca_core *c, struct ca *next, struct ca *parent, char **chains,
                        const uint8_t serial[16], json_t *params, struct rerr *e) {
    struct store_batch *b = store_batch_new();
    int ok = 0;
    carec_put(c, b, next);
    if (parent != NULL) {
        if (!record_ca_cert(c, b, parent, next->cert, "sub-ca", e)) {
            json_decref(params);
            goto out;
        }
        carec_put(c, b, parent);
        chlog_add(c, b, parent->id, 0, serial, 16);
    }
    for (size_t i = 0; i < c->num_cas; i++) {
        if (chains[i] == NULL) continue;
        struct ca k = *c->cas[i];
        k.chain_pem = chains[i];
        carec_put(c, b, &k);
    }
    chlog_add(c, b, next->id, 1, NULL, 0);
    oplog_add(c, b, "ca-recertify", next->name, serial, 16, params, "ok");
    ok = oplog_commit(c, b, e);
    if (!ok && parent != NULL) parent->issued--;
out:
    store_batch_free(b);
    return ok;
}

static json_t *recert_params_json(const struct ca_recertify_params *p) {
    struct ca_create_params q = {0};
    for (int k = 0; k < CA_NC_KINDS; k++) q.nc[k] = p->nc[k], q.num_nc[k] = p->num_nc[k];
    return nc_json(&q, json_pack("{s:i}", "days", p->days));
}

/* recert_install puts next (written) in ca's place, and the new chains. */
static void recert_install(struct ca_core *c, struct ca *ca, struct ca *next, char **chains) {
    struct rerr fe;
    int archived = recert_archive(c, ca, &fe);
    X509_free(ca->cert);
    free(ca->cert_pem);
    free(ca->chain_pem);
    ca->cert = next->cert;
    ca->cert_pem = next->cert_pem;
    ca->chain_pem = next->chain_pem;
    ca->not_before = next->not_before;
    ca->not_after = next->not_after;
    if (!archived)
        snprintf(c->notice, sizeof(c->notice), "warning: the old certificate of CA %s was not archived: %s",
                 ca->name, fe.msg);
    if (!write_ca_files(c, ca, &fe))
        snprintf(c->notice, sizeof(c->notice), "warning: CA %s has its new certificate, but its files were not "
                 "written: %s", ca->name, fe.msg);
    for (size_t i = 0; i < c->num_cas; i++) {
        if (chains[i] == NULL) continue;
        free(c->cas[i]->chain_pem);
        c->cas[i]->chain_pem = chains[i];
        chains[i] = NULL;
        write_ca_files(c, c->cas[i], &fe);
    }
    changes_all(c);
}

int ca_recertify(struct ca_core *c, const struct ca_recertify_params *p, struct rerr *e) {
    NAME_CONSTRAINTS *nc = NULL;
    char **chains = NULL;
    struct ca next = {0};
    int ok = 0;
    json_t *params = recert_params_json(p);
    c->notice[0] = '\0';
    struct ca *ca = core_find_or_err(c, p->name, e);
    struct ca_create_params q;
    if (ca == NULL || !recert_check(c, p, ca, &q, &nc, e)) goto out;
    struct ca place = *ca, *parent = NULL;
    int64_t now = rtime_now(), not_after = 0;
    if (!create_place(c, &q, &place, now, &parent, &not_after, e)) goto out;
    EVP_PKEY *key = keyring_ca_key(c, ca, e);
    EVP_PKEY *signer = parent != NULL ? keyring_ca_key(c, parent, e) : key;
    if (key == NULL || signer == NULL) goto out;
    uint8_t serial[16];
    if (!serial_new(c, parent != NULL ? parent : ca, serial, e)) goto out;
    next = *ca;
    next.cert = NULL, next.cert_pem = NULL, next.chain_pem = NULL;
    if (!create_cert(&next, parent, X509_get_subject_name(ca->cert), key, signer, nc, serial, now, not_after, e))
        goto out;
    next.not_before = now;
    next.not_after = certbuild_asn1_time(X509_get0_notAfter(next.cert));
    chains = calloc(c->num_cas + 1, sizeof(char *));
    if (chains == NULL || !recert_chains(c, ca, &next, chains)) {
        rerr_set(e, "out of memory");
        goto out;
    }
    ok = recert_write(c, &next, parent, chains, serial, params, e);
    params = NULL;
    if (!ok) goto out;
    recert_install(c, ca, &next, chains);
    next.cert = NULL, next.cert_pem = NULL, next.chain_pem = NULL;
out:
    if (!ok) oplog_failure(c, "ca-recertify", p->name, NULL, 0, params != NULL ? params : recert_params_json(p), e);
    else json_decref(params);
    for (size_t i = 0; chains != NULL && i < c->num_cas; i++) free(chains[i]);
    free(chains);
    X509_free(next.cert);
    free(next.cert_pem);
    free(next.chain_pem);
    NAME_CONSTRAINTS_free(nc);
    return ok;
}
