#include "ca/keyfile.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "ca/core.h"
#include "ca/pkcs11.h"
#include "common/fsutil.h"

#define KEYFILE_MAX (64 * 1024)

int keyfile_write(const struct ca_core *c, const char *path, EVP_PKEY *k, struct rerr *e) {
    BIO *bio = BIO_new(BIO_s_mem());
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    X509_SIG *sig = NULL;
    int ok = bio != NULL;
    if (ok && c->passphrase != NULL) {
        p8 = EVP_PKEY2PKCS8(k);
        sig = p8 ? PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), c->passphrase, (int)c->passphrase_len, NULL, 0,
                                    KEYFILE_ITERATIONS, p8, NULL, NULL)
                 : NULL;
        ok = sig != NULL && PEM_write_bio_PKCS8(bio, sig);
    } else if (ok) {
        ok = PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
    }
    if (!ok) {
        rerr_ssl(e, "%s: cannot encode the key", path);
    } else {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        ok = fs_write_atomic(path, data, (size_t)n, 0600, e);
        OPENSSL_cleanse(data, (size_t)n);
    }
    X509_SIG_free(sig);
    PKCS8_PRIV_KEY_INFO_free(p8);
    BIO_free(bio);
    return ok;
}

/* The passphrase callback: the one given, or none (never a prompt). */
struct pass {
    const char *p;
    size_t len;
};

static int pass_cb(char *buf, int size, int rwflag, void *u) {
    const struct pass *ps = u;
    if (ps->p == NULL || ps->len > (size_t)size) return -1;
    memcpy(buf, ps->p, ps->len);
    return (int)ps->len;
}

static int is_encrypted(const uint8_t *p, size_t n) {
    static const char tag[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    return n >= sizeof(tag) - 1 && memmem(p, n, tag, sizeof(tag) - 1) != NULL;
}

int keyfile_each(const char *dir, int (*cb)(void *arg, const char *path), void *arg) {
    static const char *const subs[] = {"keys", "admin"};
    for (int d = 0; d < 2; d++) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", dir, subs[d]);
        DIR *dh = opendir(sub);
        if (dh == NULL) continue;
        struct dirent *de;
        int go = 1;
        while (go && (de = readdir(dh)) != NULL) {
            size_t l = strlen(de->d_name);
            if (l < 5 || strcmp(de->d_name + l - 4, ".key") != 0) continue;
            char path[PATH_MAX + 256];
            snprintf(path, sizeof(path), "%s/%s", sub, de->d_name);
            go = cb(arg, path);
        }
        closedir(dh);
        if (!go) return 0;
    }
    return 1;
}

/* uri_of: the one-line token reference p[0..n) as a string (a final line
 * end dropped); 0 when it is longer or holds more than one line. */
static int uri_of(const uint8_t *p, size_t n, char uri[PKCS11_URI_MAX + 1]) {
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) n--;
    if (n > PKCS11_URI_MAX || memchr(p, '\n', n) != NULL || memchr(p, '\0', n) != NULL) return 0;
    memcpy(uri, p, n);
    uri[n] = '\0';
    return 1;
}

int keyfile_token_uri(const char *path, char uri[PKCS11_URI_MAX + 1]) {
    uint8_t *p;
    size_t n;
    struct rerr e;
    if (!fs_read_file(path, PKCS11_URI_MAX + 2, &p, &n, &e)) return 0;
    int ok = pkcs11_is_uri(p, n) && uri_of(p, n, uri);
    free(p);
    return ok;
}

int keyfile_write_uri(const char *path, const char *uri, struct rerr *e) {
    if (!pkcs11_uri_valid(uri, e)) return 0;
    char line[PKCS11_URI_MAX + 2];
    int n = snprintf(line, sizeof(line), "%s\n", uri);
    return fs_write_atomic(path, line, (size_t)n, 0600, e);
}

int keyfile_encrypted(const char *path) {
    uint8_t *p;
    size_t n;
    struct rerr e;
    if (!fs_read_file(path, KEYFILE_MAX, &p, &n, &e)) return -1;
    int r = pkcs11_is_uri(p, n) ? 2 : is_encrypted(p, n);
    OPENSSL_cleanse(p, n);
    free(p);
    return r;
}

static EVP_PKEY *read_key(struct ca_core *c, const char *path, int token_ok, struct rerr *e) {
    uint8_t *p;
    size_t n;
    struct rerr fe;
    if (!fs_read_file(path, KEYFILE_MAX, &p, &n, &fe)) {
        rerr_set(e, "%s: restore it from your backup (mode 0600)", fe.msg);
        return NULL;
    }
    int enc = is_encrypted(p, n);
    EVP_PKEY *k = NULL;
    if (pkcs11_is_uri(p, n) && !token_ok) {
        rerr_set(e, "%s: a PKCS#11 key reference, but only CA keys may be kept in a token: restore the key file "
                    "from your backup", path);
    } else if (pkcs11_is_uri(p, n)) {
        char uri[PKCS11_URI_MAX + 1];
        if (!uri_of(p, n, uri)) {
            rerr_set(e, "%s: a PKCS#11 key reference is one line of at most %d bytes: restore it from your backup",
                     path, PKCS11_URI_MAX);
        } else {
            k = pkcs11_load(c->p11_module, c->p11_pin, uri, path, e);
            if (k != NULL) c->p11_used = 1; /* the engine goes with the core (internal.h) */
        }
    } else if (enc && c->passphrase == NULL) {
        rerr_set(e, "%s: the key is encrypted; give its passphrase (REVD_KEY_PASSPHRASE_FILE, a file holding it)",
                 path);
    } else {
        /* The passphrase, then (during ca_rekey) the previous one. */
        struct pass tries[2] = {{c->passphrase, c->passphrase_len}, {c->old_passphrase, c->old_passphrase_len}};
        for (int t = 0; t < 2 && k == NULL; t++) {
            if (t == 1 && (!enc || tries[1].p == NULL)) break;
            BIO *bio = BIO_new_mem_buf(p, (int)n);
            k = bio ? PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &tries[t]) : NULL;
            BIO_free(bio);
            if (k == NULL && t == 0 && tries[1].p != NULL) ERR_clear_error();
        }
        if (k == NULL && enc) rerr_ssl(e, "%s: the passphrase does not open this key", path);
        else if (k == NULL)
            rerr_ssl(e, "%s: not a private key (expected PEM 'BEGIN PRIVATE KEY'): restore it from your backup", path);
    }
    OPENSSL_cleanse(p, n);
    free(p);
    return k;
}

EVP_PKEY *keyfile_read(struct ca_core *c, const char *path, struct rerr *e) { return read_key(c, path, 0, e); }

EVP_PKEY *keyfile_read_ca(struct ca_core *c, const char *path, struct rerr *e) { return read_key(c, path, 1, e); }
