/* cred: the admin PKI and the credentials registry (ca/cred.h). */
#include "ca/cred.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/err.h>

#include "ca/core.h"
#include "ca/certbuild.h"
#include "ca/issue.h"
#include "ca/oplog.h"
#include "ca/store.h"
#include "ca/keyfile.h"
#include "common/fsutil.h"
#include "common/jsonsafe.h"
#include "common/rtime.h"

#define K_CRED 'C'
#define ADMIN_CA_DAYS 3650
#define SERVER_DAYS 825
#define CRED_DAYS_MAX 825

static const char *const role_names[] = {"admin", "issuer", "revoker", "auditor"};

const char *cred_role_name(enum cred_role r) { return (unsigned)r < 4 ? role_names[r] : "?"; }

int cred_role_parse(const char *s, enum cred_role *out) {
    for (int i = 0; i < 4; i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (enum cred_role)i;
            return 1;
        }
    return 0;
}

int cred_allows(const char *list, const char *item) {
    if (strcmp(list, "*") == 0) return 1;
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == n && memcmp(p, item, n) == 0) return 1;
        if (comma == NULL) break;
        p = comma + 1;
    }
    return 0;
}

int cred_allows_template(const char *list, const char *tpl) {
    if (strcmp(tpl, "ocsp-signing") == 0 && strcmp(list, "*") == 0) return 0;
    return cred_allows(list, tpl);
}

/* A name in a list, or a credential's name: 1 to 64 of [a-z0-9._-]. */
static int word_ok(const char *s, size_t n) {
    if (n == 0 || n > CRED_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) return 0;
    }
    return s[0] != '.' && s[0] != '-' && s[0] != '_';
}

static int list_ok(const char *what, const char *list, struct rerr *e) {
    if (strlen(list) >= CRED_LIST_MAX) return rerr_set(e, "%s: longer than %d characters", what, CRED_LIST_MAX - 1);
    if (strcmp(list, "*") == 0) return 1;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (!word_ok(p, l))
            return rerr_set(e, "%s: '%.*s' is not a name (a-z, 0-9, '.', '_', '-'; lists are comma-separated; * for "
                               "all)", what, (int)(l < 64 ? l : 64), p);
        if (comma == NULL) return 1;
        p = comma + 1;
    }
}

static void path_of(const struct ca_core *c, const char *file, char out[PATH_MAX]) {
    snprintf(out, PATH_MAX, "%s/admin/%s", c->dir, file);
}

int ca_admin_paths(struct ca_core *c, struct ca_admin_paths *out, struct rerr *e) {
    snprintf(out->ca_pem, sizeof(out->ca_pem), "%s/admin/ca.pem", c->dir);
    snprintf(out->server_pem, sizeof(out->server_pem), "%s/admin/server.pem", c->dir);
    snprintf(out->server_key, sizeof(out->server_key), "%s/admin/server.key", c->dir);
    if (access(out->ca_pem, R_OK) != 0 || access(out->server_pem, R_OK) != 0 || access(out->server_key, R_OK) != 0)
        return rerr_set(e, "%s/admin: no admin PKI here (run: revd admin init)", c->dir);
    return 1;
}

static int write_key_pem(const struct ca_core *c, const char *path, EVP_PKEY *k, char **copy, struct rerr *e) {
    if (path != NULL) return keyfile_write(c, path, k, e); /* at rest: encrypted when a passphrase is set */
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        return rerr_ssl(e, "cannot encode a key");
    }
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    int ok = 1;
    if (path != NULL) ok = fs_write_atomic(path, data, (size_t)n, 0600, e);
    if (ok && copy != NULL) {
        *copy = malloc((size_t)n + 1);
        if (*copy == NULL) ok = rerr_set(e, "out of memory");
        else {
            memcpy(*copy, data, (size_t)n);
            (*copy)[n] = '\0';
        }
    }
    OPENSSL_cleanse(data, (size_t)n);
    BIO_free(bio);
    return ok;
}

static int write_cert_pem(const char *path, X509 *x, struct rerr *e) {
    char *pem = certbuild_x509_pem(x);
    if (pem == NULL) return rerr_set(e, "out of memory");
    int ok = fs_write_atomic(path, pem, strlen(pem), 0644, e);
    free(pem);
    return ok;
}

/* A 16-octet positive serial with a non-zero first octet (its minimal
 * INTEGER encoding is those 16 octets). */
static int new_serial(uint8_t s[16], struct rerr *e) {
    if (RAND_bytes(s, 16) != 1) return rerr_ssl(e, "no randomness for a serial");
    s[0] = (uint8_t)((s[0] & 0x7f) | 0x40);
    return 1;
}

static int load_admin_ca(struct ca_core *c, X509 **cert, EVP_PKEY **key, struct rerr *e) {
    char path[PATH_MAX];
    path_of(c, "ca.pem", path);
    FILE *f = fopen(path, "r");
    if (f == NULL) return rerr_set(e, "%s: %s (run: revd admin init)", path, strerror(errno));
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    path_of(c, "ca.key", path);
    struct rerr ke;
    *key = keyfile_read(c, path, &ke);
    if (*key == NULL) {
        X509_free(*cert);
        *cert = NULL;
        return rerr_set(e, "the admin CA's key: %s", ke.msg);
    }
    if (*cert == NULL || X509_check_private_key(*cert, *key) != 1) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return rerr_ssl(e, "%s/admin: the admin CA's certificate or key is missing, damaged or mismatched", c->dir);
    }
    return 1;
}

int ca_admin_init(struct ca_core *c, const char *names, struct rerr *e) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/admin", c->dir);
    if (!fs_mkdirs(path, 0700, e)) return 0;
    chmod(path, 0700);
    X509 *ca = NULL, *srv = NULL;
    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    X509_NAME *subj = NULL;
    GENERAL_NAMES *san = NULL;
    int ok = 0, made_ca = 0;
    int64_t now = rtime_now();
    uint8_t serial[16];
    if (names == NULL) names = "DNS:localhost,IP:127.0.0.1,IP:::1";
    json_t *params = json_pack("{s:s}", "names", names);
    if ((san = issue_san_parse(names, e)) == NULL) goto out;
    path_of(c, "ca.pem", path);
    if (access(path, F_OK) != 0) {
        if ((ca_key = EVP_EC_gen("P-256")) == NULL) {
            rerr_ssl(e, "key generation failed");
            goto out;
        }
        if ((subj = certbuild_subject_parse("/CN=revd admin CA/O=revd", e)) == NULL || !new_serial(serial, e)) goto out;
        struct certbuild b = {.subject = subj, .pubkey = ca_key, .serial = serial, .serial_len = 16,
                              .not_before = now, .not_after = now + (int64_t)ADMIN_CA_DAYS * 86400,
                              .issuer_key = ca_key, .issuer_type = CA_KEY_EC_P256, .is_ca = 1, .path_len = 0,
                              .ku = CB_KU_KEY_CERT_SIGN | CB_KU_CRL_SIGN};
        if ((ca = certbuild_sign(&b, e)) == NULL) goto out;
        path_of(c, "ca.key", path);
        if (!write_key_pem(c, path, ca_key, NULL, e)) goto out;
        path_of(c, "ca.pem", path);
        if (!write_cert_pem(path, ca, e)) goto out;
        X509_NAME_free(subj);
        subj = NULL;
        made_ca = 1;
    } else if (!load_admin_ca(c, &ca, &ca_key, e)) {
        goto out;
    }
    if ((srv_key = EVP_EC_gen("P-256")) == NULL) {
        rerr_ssl(e, "key generation failed");
        goto out;
    }
    if ((subj = certbuild_subject_parse("/CN=revd admin API/O=revd", e)) == NULL || !new_serial(serial, e)) goto out;
    struct certbuild b = {.subject = subj, .pubkey = srv_key, .serial = serial, .serial_len = 16,
                          .not_before = now, .not_after = now + (int64_t)SERVER_DAYS * 86400, .issuer_cert = ca,
                          .issuer_key = ca_key, .issuer_type = CA_KEY_EC_P256, .path_len = -1,
                          .ku = CB_KU_DIGITAL_SIGNATURE, .eku = "serverAuth", .san = san};
    if ((srv = certbuild_sign(&b, e)) == NULL) goto out;
    path_of(c, "server.key", path);
    if (!write_key_pem(c, path, srv_key, NULL, e)) goto out;
    path_of(c, "server.pem", path);
    if (!write_cert_pem(path, srv, e)) goto out;
    json_object_set_new(params, "admin_ca", json_string(made_ca ? "created" : "kept"));
    struct store_batch *batch = store_batch_new();
    oplog_add(c, batch, "admin-init", NULL, NULL, 0, params, "ok");
    params = NULL;
    ok = oplog_commit(c, batch, e);
    store_batch_free(batch);
out:
    if (!ok && params != NULL) oplog_failure(c, "admin-init", NULL, NULL, 0, params, e);
    X509_free(ca);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    X509_NAME_free(subj);
    GENERAL_NAMES_free(san);
    return ok;
}

static size_t cred_key(uint8_t out[1 + CRED_NAME_MAX], const char *name) {
    size_t n = strlen(name);
    out[0] = K_CRED;
    memcpy(out + 1, name, n);
    return 1 + n;
}

static int cred_from_json(const uint8_t *v, size_t vl, struct ca_cred *k) {
    json_error_t je;
    json_t *j = json_loadb((const char *)v, vl, 0, &je);
    const char *name, *role, *cas, *tpl, *serial;
    json_int_t na;
    int revoked;
    int ok = j != NULL &&
             json_unpack(j, "{s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "name", &name, "role", &role, "cas", &cas, "templates",
                         &tpl, "serial", &serial, "not_after", &na, "revoked", &revoked) == 0 &&
             strlen(name) <= CRED_NAME_MAX && strlen(cas) < CRED_LIST_MAX && strlen(tpl) < CRED_LIST_MAX &&
             strlen(serial) < sizeof(k->serial) && cred_role_parse(role, &k->role);
    if (ok) {
        snprintf(k->name, sizeof(k->name), "%s", name);
        snprintf(k->cas, sizeof(k->cas), "%s", cas);
        snprintf(k->templates, sizeof(k->templates), "%s", tpl);
        snprintf(k->serial, sizeof(k->serial), "%s", serial);
        k->not_after = na;
        k->revoked = revoked;
    }
    json_decref(j);
    return ok;
}

static int cred_put(struct ca_core *c, struct store_batch *b, const struct ca_cred *k) {
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "name", k->name, "role", cred_role_name(k->role), "cas",
                          k->cas, "templates", k->templates, "serial", k->serial, "not_after",
                          (json_int_t)k->not_after, "revoked", k->revoked);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) return 0;
    uint8_t key[1 + CRED_NAME_MAX];
    store_batch_put(b, key, cred_key(key, k->name), s, strlen(s));
    free(s);
    return 1;
}

static int cred_get(struct ca_core *c, const char *name, struct ca_cred *k, struct rerr *e) {
    uint8_t key[1 + CRED_NAME_MAX], *v;
    size_t vl;
    int r = store_get(c->st, key, cred_key(key, name), &v, &vl, e);
    if (r != 1) return r;
    r = cred_from_json(v, vl, k) ? 1 : -1;
    if (r < 0) rerr_set(e, "index: the credential %s is damaged", name);
    free(v);
    return r;
}

/* cred_scope_check: a new credential's life, and the CAs and templates it
 * may act on, as its role wants them. */
static int cred_scope_check(enum cred_role role, const char *cas, const char *templates, int days, struct rerr *e) {
    if (days < 1 || days > CRED_DAYS_MAX) return rerr_set(e, "--days must be 1 to %d", CRED_DAYS_MAX);
    int scoped = role == ROLE_ISSUER || role == ROLE_REVOKER;
    if (scoped && cas == NULL)
        return rerr_set(e, "a %s credential needs --ca (the CAs it may act on, comma-separated, or *)",
                        cred_role_name(role));
    if (role == ROLE_ISSUER && templates == NULL)
        return rerr_set(e, "an issuer credential needs --template (the templates it may use, comma-separated, or *)");
    if (!scoped && cas != NULL) return rerr_set(e, "--ca applies to issuer and revoker credentials only");
    if (role != ROLE_ISSUER && templates != NULL) return rerr_set(e, "--template applies to issuer credentials only");
    if ((cas != NULL && !list_ok("--ca", cas, e)) || (templates != NULL && !list_ok("--template", templates, e)))
        return 0;
    return 1;
}

int ca_cred_issue(struct ca_core *c, const char *name, enum cred_role role, const char *cas, const char *templates,
                  int days, const uint8_t *csr, size_t csr_len, char **cert_pem, char **key_pem, struct rerr *e) {
    *cert_pem = NULL;
    if (key_pem != NULL) *key_pem = NULL;
    json_t *params = json_pack("{s:s,s:s,s:s?,s:s?,s:i}", "name", name ? name : "", "role", cred_role_name(role),
                               "cas", cas, "templates", templates, "days", days);
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509_REQ *req = NULL;
    X509_NAME *subj = NULL;
    int ok = 0;
    struct ca_cred k;
    memset(&k, 0, sizeof(k));
    if (name == NULL || !word_ok(name, strlen(name))) {
        rerr_set(e, "credential name '%.64s': 1 to 64 of a-z, 0-9, '.', '_', '-'", name ? name : "");
        goto out;
    }
    int r = cred_get(c, name, &k, e);
    if (r < 0) goto out;
    if (r == 1) {
        rerr_set(e, "a credential named %s exists already%s", name, k.revoked ? " (revoked: names are not reused)" : "");
        goto out;
    }
    if (!cred_scope_check(role, cas, templates, days, e)) goto out;
    if (!load_admin_ca(c, &ca, &ca_key, e)) goto out;
    X509_PUBKEY *spki = NULL;
    if (csr != NULL) {
        int is_rsa;
        if ((req = issue_csr_parse_check(csr, csr_len, &is_rsa, e)) == NULL) goto out;
        spki = X509_REQ_get_X509_PUBKEY(req);
    } else if ((key = EVP_EC_gen("P-256")) == NULL) {
        rerr_ssl(e, "key generation failed");
        goto out;
    }
    char sub[160];
    snprintf(sub, sizeof(sub), "/CN=%s/OU=%s", name, cred_role_name(role));
    uint8_t serial[16];
    if ((subj = certbuild_subject_parse(sub, e)) == NULL || !new_serial(serial, e)) goto out;
    int64_t now = rtime_now();
    struct certbuild b = {.subject = subj, .pubkey = key, .spki = spki, .serial = serial, .serial_len = 16,
                          .not_before = now, .not_after = now + (int64_t)days * 86400, .issuer_cert = ca,
                          .issuer_key = ca_key, .issuer_type = CA_KEY_EC_P256, .path_len = -1,
                          .ku = CB_KU_DIGITAL_SIGNATURE, .eku = "clientAuth"};
    if ((x = certbuild_sign(&b, e)) == NULL) goto out;
    snprintf(k.name, sizeof(k.name), "%s", name);
    k.role = role;
    snprintf(k.cas, sizeof(k.cas), "%s", cas ? cas : "");
    snprintf(k.templates, sizeof(k.templates), "%s", templates ? templates : "");
    hex_encode_serial(serial, 16, k.serial);
    k.not_after = b.not_after;
    k.revoked = 0;
    if ((*cert_pem = certbuild_x509_pem(x)) == NULL) {
        rerr_set(e, "out of memory");
        goto out;
    }
    if (key != NULL && key_pem != NULL && !write_key_pem(c, NULL, key, key_pem, e)) goto out;
    struct store_batch *batch = store_batch_new();
    if (!cred_put(c, batch, &k)) {
        store_batch_free(batch);
        rerr_set(e, "out of memory");
        goto out;
    }
    json_object_set_new(params, "serial", json_string(k.serial));
    oplog_add(c, batch, "credential-issue", NULL, NULL, 0, params, "ok");
    params = NULL;
    ok = oplog_commit(c, batch, e);
    store_batch_free(batch);
out:
    if (!ok) {
        if (params != NULL) oplog_failure(c, "credential-issue", NULL, NULL, 0, params, e);
        free(*cert_pem);
        *cert_pem = NULL;
        if (key_pem != NULL && *key_pem != NULL) {
            OPENSSL_cleanse(*key_pem, strlen(*key_pem));
            free(*key_pem);
            *key_pem = NULL;
        }
    }
    X509_free(ca);
    X509_free(x);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    X509_REQ_free(req);
    X509_NAME_free(subj);
    return ok;
}

int ca_cred_get(struct ca_core *c, const char *name, struct ca_cred *out, struct rerr *e) {
    if (name == NULL || !word_ok(name, strlen(name))) return 0;
    return cred_get(c, name, out, e);
}

int ca_cred_revoke(struct ca_core *c, const char *name, struct rerr *e) {
    json_t *params = json_pack("{s:s}", "name", name ? name : "");
    struct ca_cred k;
    int ok = 0;
    int r = name ? cred_get(c, name, &k, e) : 0;
    if (r == 0) rerr_set(e, "no credential named '%.64s' (see: revd admin list-credentials)", name ? name : "");
    if (r != 1) goto out;
    if (k.revoked) {
        rerr_set(e, "the credential %s is revoked already", name);
        goto out;
    }
    k.revoked = 1;
    struct store_batch *b = store_batch_new();
    if (!cred_put(c, b, &k)) {
        store_batch_free(b);
        rerr_set(e, "out of memory");
        goto out;
    }
    oplog_add(c, b, "credential-revoke", NULL, NULL, 0, params, "ok");
    params = NULL;
    ok = oplog_commit(c, b, e);
    store_batch_free(b);
out:
    if (!ok && params != NULL) oplog_failure(c, "credential-revoke", NULL, NULL, 0, params, e);
    return ok;
}

int ca_cred_each(struct ca_core *c, int (*cb)(void *arg, const struct ca_cred *k), void *arg, struct rerr *e) {
    uint8_t prefix = K_CRED;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ca_cred cr;
        if (!cred_from_json(v, vl, &cr)) {
            ok = rerr_set(e, "index: a credential record is damaged");
            break;
        }
        if (!cb(arg, &cr)) break;
    }
    store_iter_free(it);
    return ok;
}

struct find {
    const char *hex;
    struct ca_cred *out;
    int found;
};

static int find_cb(void *arg, const struct ca_cred *k) {
    struct find *f = arg;
    if (strcmp(k->serial, f->hex) != 0) return 1;
    *f->out = *k;
    f->found = 1;
    return 0;
}

int ca_cred_for_serial(struct ca_core *c, const uint8_t *serial, size_t len, struct ca_cred *out, struct rerr *e) {
    if (len == 0 || len > HEX_SERIAL_MAX) return 0;
    char hex[2 * HEX_SERIAL_MAX + 1];
    hex_encode_serial(serial, len, hex);
    struct find f = {hex, out, 0};
    if (!ca_cred_each(c, find_cb, &f, e)) return -1;
    return f.found;
}
