/* keyring: the CA keys' secrets and loading (ca/keyring.h). */
#include "ca/keyring.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca/keyfile.h"
#include "ca/oplog.h"
#include "ca/pkcs11.h"
#include "ca/store.h"
#include "common/fsutil.h"

EVP_PKEY *keyring_ca_key(struct ca_core *c, struct ca *ca, struct rerr *e) {
    if (ca->key != NULL) return ca->key;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s.key", c->dir, ca->name);
    ca->key = keyfile_read_ca(c, path, e);
    if (ca->key == NULL) return NULL;
    /* DIR/ca/NAME.pem is the published copy of the certificate the index
     * holds. One that differs was replaced behind revd's back, or the index
     * was: the key tells which (a missing file is written again). */
    if (ca->cert_pem != NULL) {
        uint8_t *f;
        size_t fl;
        struct rerr fe;
        if (fs_read_file(ca->cert_path, 1 << 20, &f, &fl, &fe)) {
            int same = fl == strlen(ca->cert_pem) && memcmp(f, ca->cert_pem, fl) == 0;
            X509 *fx = NULL;
            if (!same) {
                BIO *bio = BIO_new_mem_buf(f, (int)fl);
                fx = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
                BIO_free(bio);
            }
            free(f);
            if (!same) {
                int file_matches_key = fx != NULL && X509_check_private_key(fx, ca->key) == 1;
                int index_matches_key = ca->cert != NULL && X509_check_private_key(ca->cert, ca->key) == 1;
                X509_free(fx);
                ERR_clear_error();
                EVP_PKEY_free(ca->key);
                ca->key = NULL;
                if (file_matches_key && !index_matches_key) {
                    rerr_set(e, "the certificate of CA %s in %s/index differs from %s, which matches %s: the index "
                                "was altered; restore DIR/index from a backup", ca->name, c->dir, ca->cert_path, path);
                    return NULL;
                }
                rerr_set(e, "%s is not the certificate of CA %s that the index holds: restore it from your backup, "
                            "or remove it (revd writes it again from the index)", ca->cert_path, ca->name);
                return NULL;
            }
        } else if (access(ca->cert_path, F_OK) != 0 &&
                   !fs_write_atomic(ca->cert_path, ca->cert_pem, strlen(ca->cert_pem), 0644, e)) {
            EVP_PKEY_free(ca->key);
            ca->key = NULL;
            return NULL;
        }
    }
    if (ca->cert != NULL && X509_check_private_key(ca->cert, ca->key) != 1) {
        EVP_PKEY_free(ca->key);
        ca->key = NULL;
        rerr_ssl(e, "%s: this key does not match the certificate of CA %s (in the index and %s): restore the key, or the index, from your backup", path, ca->name, ca->cert_path);
        return NULL;
    }
    return ca->key;
}

int ca_set_passphrase(struct ca_core *c, const char *pass, size_t len, struct rerr *e) {
    if (len > 0 && pass[len - 1] == '\n') len--;
    if (len > 0 && pass[len - 1] == '\r') len--;
    if (len < CA_PASSPHRASE_MIN || len > 1024)
        return rerr_set(e, "the key passphrase must be %d to 1024 bytes", CA_PASSPHRASE_MIN);
    if (memchr(pass, '\0', len) != NULL) return rerr_set(e, "the key passphrase holds a NUL byte");
    char *p = malloc(len + 1);
    if (p == NULL) return rerr_set(e, "out of memory");
    memcpy(p, pass, len);
    p[len] = '\0';
    if (c->passphrase != NULL) {
        OPENSSL_cleanse(c->passphrase, c->passphrase_len);
        free(c->passphrase);
    }
    c->passphrase = p;
    c->passphrase_len = len;
    return 1;
}

int ca_set_pkcs11(struct ca_core *c, const char *module, const char *pin, size_t len, struct rerr *e) {
    if (module != NULL && (module[0] != '/' || strlen(module) >= PATH_MAX))
        return rerr_set(e, "REVD_PKCS11_MODULE must be the absolute path of the token's PKCS#11 library");
    char *p = NULL;
    if (pin != NULL) {
        if (len > 0 && pin[len - 1] == '\n') len--;
        if (len > 0 && pin[len - 1] == '\r') len--;
        if (len < 1 || len > PKCS11_PIN_MAX) return rerr_set(e, "the PKCS#11 PIN must be 1 to %d bytes", PKCS11_PIN_MAX);
        if (memchr(pin, '\0', len) != NULL || memchr(pin, '\n', len) != NULL)
            return rerr_set(e, "the PKCS#11 PIN holds a NUL byte or a line break");
        if ((p = malloc(len + 1)) == NULL) return rerr_set(e, "out of memory");
        memcpy(p, pin, len);
        p[len] = '\0';
    }
    char *m = module != NULL ? strdup(module) : NULL;
    if (module != NULL && m == NULL) {
        free(p);
        return rerr_set(e, "out of memory");
    }
    free(c->p11_module);
    c->p11_module = m;
    if (c->p11_pin != NULL) {
        OPENSSL_cleanse(c->p11_pin, strlen(c->p11_pin));
        free(c->p11_pin);
    }
    c->p11_pin = p;
    return 1;
}

/* One pass over the key files (keyfile_each): encrypt the plain ones, or
 * (rekey) rewrite every one under the passphrase now set. */
struct rewrite {
    struct ca_core *c;
    int all;              /* rekey: every file; else only the plain ones */
    size_t done, already;
    json_t *files;
    struct rerr *e;
};

static int rewrite_one(void *arg, const char *path) {
    struct rewrite *w = arg;
    int enc = keyfile_encrypted(path);
    if (enc < 0) return rerr_set(w->e, "%s: cannot be read", path);
    if (enc == 2) return 1; /* a reference to a key in a token: nothing here to encrypt */
    if (enc == 1 && !w->all) {
        w->already++;
        return 1;
    }
    EVP_PKEY *k = keyfile_read(w->c, path, w->e);
    int ok = k != NULL && keyfile_write(w->c, path, k, w->e);
    EVP_PKEY_free(k);
    if (ok) {
        w->done++;
        json_array_append_new(w->files, json_string(path));
    }
    return ok;
}

/* rewrite_keys runs the pass and records it in the audit log as op. */
static int rewrite_keys(struct ca_core *c, int all, const char *op, struct rewrite *w, struct rerr *e) {
    *w = (struct rewrite){c, all, 0, 0, json_array(), e};
    int ok = keyfile_each(c->dir, rewrite_one, w);
    struct store_batch *b = store_batch_new();
    oplog_add(c, b, op, NULL, NULL, 0, json_pack("{s:o}", "files", w->files),
              ok ? "ok" : "error: cut short (run it again with the same passphrases)");
    struct rerr ignored;
    oplog_commit(c, b, ok ? e : &ignored);
    store_batch_free(b);
    return ok;
}

int ca_encrypt_keys(struct ca_core *c, size_t *done, size_t *already, struct rerr *e) {
    *done = *already = 0;
    if (c->passphrase == NULL)
        return rerr_set(e, "no passphrase to encrypt with (REVD_KEY_PASSPHRASE_FILE, a file holding it)");
    struct rewrite w;
    int ok = rewrite_keys(c, 0, "keys-encrypt", &w, e);
    *done = w.done;
    *already = w.already;
    return ok;
}

int ca_rekey(struct ca_core *c, const char *new_pass, size_t new_len, size_t *done, struct rerr *e) {
    *done = 0;
    /* The current passphrase becomes the fallback for reading, the new one
     * the passphrase (ca_set_passphrase checks it). */
    char *cur = c->passphrase;
    size_t cur_len = c->passphrase_len;
    c->passphrase = NULL;
    if (!ca_set_passphrase(c, new_pass, new_len, e)) {
        c->passphrase = cur;
        return 0;
    }
    c->old_passphrase = cur;
    c->old_passphrase_len = cur_len;
    struct rewrite w;
    int ok = rewrite_keys(c, 1, "keys-rekey", &w, e);
    *done = w.done;
    if (c->old_passphrase != NULL) {
        OPENSSL_cleanse(c->old_passphrase, c->old_passphrase_len);
        free(c->old_passphrase);
    }
    c->old_passphrase = NULL;
    c->old_passphrase_len = 0;
    return ok;
}

size_t ca_reload_keys(struct ca_core *c, void (*problem)(void *arg, const char *msg), void *arg) {
    size_t loaded = 0;
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *ca = c->cas[i];
        if (ca->cert == NULL) continue; /* pending: no certificate to match yet */
        EVP_PKEY *old = ca->key;
        ca->key = NULL;
        struct rerr e;
        if (keyring_ca_key(c, ca, &e) == NULL) {
            ca->key = old;
            if (problem != NULL) {
                char msg[CA_NAME_MAX + sizeof(e.msg) + 40];
                snprintf(msg, sizeof(msg), "CA %s keeps the key it had: %s", ca->name, e.msg);
                problem(arg, msg);
            }
            continue;
        }
        EVP_PKEY_free(old);
        core_ca_drop_responder(ca);
        loaded++;
    }
    return loaded;
}

