/* nonce: the ACME server's anti-replay nonces (RFC 8555 6.5).
 *
 * A nonce is minted without state: 8 octets of issue time (ms), 8 random,
 * and 16 of HMAC-SHA256 over those under a key kept in the index, so a
 * nonce stays good across a restart and for any revd that opens the same
 * data directory. It is good for ACME_NONCE_LIFETIME_S, once: taking it
 * writes its mark to the index (the WAL, not synced on its own: a later
 * synced write of the same request, or a clean stop, makes it durable; a
 * power cut can forget the marks of the last moments, a process crash
 * cannot). Marks older than the lifetime are purged (acme_nonces_purge).
 *
 * Ownership: struct acme_nonces is the caller's (acme_nonces_free).
 * Thread: the CA-core thread. Returns: 1/0 unless said. */
#ifndef REVD_ACME_NONCE_H
#define REVD_ACME_NONCE_H

#include <stdint.h>

#include "common/rerr.h"

#define ACME_NONCE_LEN 43 /* base64url of 32 octets */
#define ACME_NONCE_LIFETIME_S 3600

struct ca_core;
struct acme_nonces;

/* acme_nonces_new loads the nonce key from c's index, making it (synced)
 * the first time. NULL with e set. */
struct acme_nonces *acme_nonces_new(struct ca_core *c, struct rerr *e);
void acme_nonces_free(struct acme_nonces *n);

/* acme_nonce_mint writes a fresh nonce (NUL-terminated) to out. */
void acme_nonce_mint(struct acme_nonces *n, char out[ACME_NONCE_LEN + 1]);

/* acme_nonce_take: 1 when nonce is one of ours, unexpired and unused, and
 * marks it used; 0 otherwise (badNonce); -1 when the index fails (e set). */
int acme_nonce_take(struct acme_nonces *n, const char *nonce, struct rerr *e);

/* acme_nonces_purge drops the marks of expired nonces, at most 262,144 a
 * call (64 batches); returns how many. */
size_t acme_nonces_purge(struct acme_nonces *n);

#endif
