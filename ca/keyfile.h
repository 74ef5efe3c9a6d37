/* keyfile: private keys at rest (DIR/keys, DIR/admin), so that a copied
 * data directory is not a copied CA. With a passphrase set on the core
 * (ca_set_passphrase), every key is written as an encrypted PKCS#8 PEM
 * ("BEGIN ENCRYPTED PRIVATE KEY": PBES2, PBKDF2-HMAC-SHA256 with
 * KEYFILE_ITERATIONS iterations and a random salt, AES-256-CBC), which
 * openssl pkey -passin reads too; without one, plain PKCS#8. Reading takes
 * either; an encrypted key without the passphrase, or with a wrong one, is
 * refused with a message naming the file and what to do. Never prompts.
 * A CA key kept in a PKCS#11 token is a one-line reference here instead.
 *
 * Thread: the caller's (the CA-core thread, or the admin API's start).
 * Returns: keyfile_write 1/0, keyfile_read the key or NULL; e set. */
#ifndef REVD_CA_KEYFILE_H
#define REVD_CA_KEYFILE_H

#include <openssl/evp.h>

#include "ca/pkcs11.h"
#include "common/rerr.h"

#define KEYFILE_ITERATIONS 200000

struct ca_core;

/* keyfile_write writes k to path (temporary file, fsync, rename; 0600). */
int keyfile_write(const struct ca_core *c, const char *path, EVP_PKEY *k, struct rerr *e);

/* keyfile_read reads the private key at path; keyfile_read_ca also takes
 * a reference to a key in a PKCS#11 token (only CA keys may be there: they
 * sign on the CA-core thread alone; responder and admin keys are used by
 * other threads and stay files). */
EVP_PKEY *keyfile_read(struct ca_core *c, const char *path, struct rerr *e);
EVP_PKEY *keyfile_read_ca(struct ca_core *c, const char *path, struct rerr *e);

/* keyfile_each calls cb with the path of every private key file of a
 * data directory (the .key files of dir/keys and dir/admin) until cb
 * returns 0.
 * Returns 1 when it went through all, 0 when cb stopped it. */
int keyfile_each(const char *dir, int (*cb)(void *arg, const char *path), void *arg);

/* keyfile_write_uri writes a reference to a key in a PKCS#11 token (its
 * URI, ca/pkcs11.h) at path, as keyfile_write does a key; keyfile_read
 * loads such a key from its token. */
int keyfile_write_uri(const char *path, const char *uri, struct rerr *e);

/* keyfile_token_uri: 1 with the URI in uri when the file at path is such a
 * reference, else 0. */
int keyfile_token_uri(const char *path, char uri[PKCS11_URI_MAX + 1]);

/* keyfile_encrypted: 1 when the file at path holds an encrypted key, 0 a
 * plain one, 2 a reference to a key in a token, -1 when it cannot be read. */
int keyfile_encrypted(const char *path);

#endif
