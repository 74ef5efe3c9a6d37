/* eab: External Account Binding keys (RFC 8555 7.3.4), which say who may
 * open an ACME account and what its certificates may be: each key names
 * the CA that issues, the template, and the DNS suffixes and address
 * prefixes its orders may ask for (none: any the CA allows). Kept in the
 * index ("eab/KID"); made, listed and revoked by the operator (`revd acme
 * eab-*`), each step in the audit log. The HMAC key is shown once, at
 * creation, and lives in the index (as the CA core's other secrets do not:
 * it authenticates, it signs nothing).
 *
 * Thread: the CA-core thread. Returns: 1/0 with e set. */
#ifndef REVD_ACME_EAB_H
#define REVD_ACME_EAB_H

#include <stddef.h>

#include <jansson.h>

#include "acme/store.h"
#include "common/rerr.h"

#define ACME_EAB_ALLOW_MAX 64
#define ACME_EAB_HMAC_LEN 43 /* base64url of 32 octets */

struct ca_core;

/* acme_eab_create makes a key for CA ca, its accounts limited to the ACME
 * profiles (templates) tmpl ("server,short-lived"; the first the default;
 * NULL: "server", acme/profile.h) and the names allow[0..nallow). Writes
 * kid and the HMAC key (base64url). */
int acme_eab_create(struct ca_core *c, const char *ca, const char *tmpl, const char *const *allow, size_t nallow,
                    char kid[ACME_ID_LEN + 1], char hmac[ACME_EAB_HMAC_LEN + 1], struct rerr *e);

/* acme_eab_list: every key, without its HMAC (a new JSON array), or NULL. */
json_t *acme_eab_list(struct ca_core *c, struct rerr *e);

/* acme_eab_revoke: the key opens no account from now on (accounts it
 * opened stay). */
int acme_eab_revoke(struct ca_core *c, const char *kid, struct rerr *e);

#endif
