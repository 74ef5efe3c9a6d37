/* keyring: the CA keys' secrets and loading: the passphrase keys are
 * encrypted with, the PKCS#11 token, encrypting and re-keying DIR's key
 * files (ca_set_passphrase, ca_set_pkcs11, ca_encrypt_keys, ca_rekey,
 * ca_reload_keys in ca/ca.h) and a CA's private key, loaded once.
 * CA-core thread. */
#ifndef REVD_CA_KEYRING_H
#define REVD_CA_KEYRING_H

#include <openssl/evp.h>

#include "ca/core.h"

/* keyring_ca_key loads (once) the CA's private key from DIR/keys, checked
 * against its certificate. Returns the key (owned by ca), or NULL with e set. */
EVP_PKEY *keyring_ca_key(struct ca_core *c, struct ca *ca, struct rerr *e);

#endif
