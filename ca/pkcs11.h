/* pkcs11: CA keys kept in a PKCS#11 token (a hardware security module, or
 * SoftHSM2), reached through libp11's OpenSSL engine (Debian package
 * libengine-pkcs11-openssl), loaded at the first use and only then.
 *
 * Such a CA's DIR/keys/NAME.key holds no key: one line, the RFC 7512 URI of
 * the private key object in the token ("pkcs11:token=...;object=..."). The
 * key never leaves the token and a copied data directory holds nothing that
 * signs for it. The module and the user PIN are the core's (ca_set_pkcs11,
 * which cmd/ fills from $REVD_PKCS11_MODULE and $REVD_PKCS11_PIN_FILE); a
 * URI may not carry a PIN (pin-value, pin-source), so that none is written
 * in DIR.
 *
 * Thread: the CA-core thread (one engine per process, set up at the first
 * pkcs11_load and kept until pkcs11_release).
 * Returns: pkcs11_load the key or NULL; the others 1/0; e set. */
#ifndef REVD_CA_PKCS11_H
#define REVD_CA_PKCS11_H

#include <stddef.h>

#include <openssl/evp.h>

#include "ca/ca.h"
#include "common/rerr.h"

#define PKCS11_URI_MAX 1024
#define PKCS11_PIN_MAX 256

/* pkcs11_is_uri: the first bytes of a key file are a token reference. */
int pkcs11_is_uri(const uint8_t *p, size_t n);

/* pkcs11_uri_valid checks a URI as given by an operator: "pkcs11:", at most
 * PKCS11_URI_MAX printable bytes without spaces, naming an object (object=
 * or id=), carrying no PIN. */
int pkcs11_uri_valid(const char *uri, struct rerr *e);

/* pkcs11_load loads the private key uri names, logging in to its token
 * with pin through module (NULL: the engine's default, p11-kit's proxy).
 * The key signs inside the token; the caller frees it with EVP_PKEY_free
 * before pkcs11_release. what names the file or option in messages. */
EVP_PKEY *pkcs11_load(const char *module, const char *pin, const char *uri, const char *what,
                      struct rerr *e);

/* pkcs11_key_type: the CA key type of a token key (EC P-256, P-384, RSA
 * 2048, 3072, 4096); other keys are refused. */
int pkcs11_key_type(EVP_PKEY *k, enum ca_key_type *t, struct rerr *e);

/* pkcs11_release lets the engine go (after every key it loaded is freed). */
void pkcs11_release(void);

#endif
