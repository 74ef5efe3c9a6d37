/* server: the ACME protocol (RFC 8555) in front of the CA core: the
 * directory, nonces, accounts (External Account Binding, key rollover,
 * deactivation), orders, authorizations, challenges (validated on the
 * pool's threads, acme/vpool.h), finalization through ca_issue,
 * certificate download and revocation through ca_revoke, so that OCSP and
 * the CRLs follow as for any other revocation.
 *
 * It speaks no socket: node/acmehttp.c hands it each request (method,
 * path, body) and sends back what it fills in. Every state change is one
 * atomic, synced write of the index with its audit-log record
 * (acme/store.h); an order being finalized or a challenge being validated
 * when revd stops is taken up again at the next start.
 *
 * Ownership: struct acme is the caller's (acme_free); it borrows core.
 * Thread: the CA-core thread, for every function here. */
#ifndef REVD_ACME_SERVER_H
#define REVD_ACME_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "acme/proto.h"
#include "common/rerr.h"

struct ca_core;
struct acme;

/* acme_new loads what it needs from core's index (the nonce key), starts
 * the validation threads, and takes up orders and challenges left in
 * flight. NULL with e set. */
struct acme *acme_new(struct ca_core *core, const struct acme_config *cf, struct rerr *e);
void acme_free(struct acme *a);

/* acme_handle answers one request. */
void acme_handle(struct acme *a, const struct acme_req *rq, struct acme_resp *rs);

/* acme_fd is readable when acme_drain has work (validations finished,
 * orders to issue); acme_drain does it. */
int acme_fd(const struct acme *a);
void acme_drain(struct acme *a);

/* acme_purge drops expired nonce marks (housekeeping); returns how many. */
size_t acme_purge(struct acme *a);

#endif
