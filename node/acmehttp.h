/* acmehttp: the ACME server's HTTPS listener (docs/acme.md): TLS 1.2 or
 * later with the operator's certificate (acme-cert, acme-key), the
 * connection caps and deadlines of node/tlshttp.h, each request handed to
 * acme/server.h and its answer sent with the headers RFC 8555 asks for
 * (Replay-Nonce on every answer, errors included; Link rel="index"; Location;
 * Retry-After). Validations finish on the ACME pool's threads and come back
 * through an eventfd this loop watches.
 *
 * Ownership: the caller's (acmehttp_free). Thread: the CA-core thread. */
#ifndef REVD_NODE_ACMEHTTP_H
#define REVD_NODE_ACMEHTTP_H

#include "common/rerr.h"
#include "node/settings.h"

struct acmehttp;
struct ca_core;
struct event_base;

/* acmehttp_start serves ACME on o->acme_listen. changed(arg, what) runs
 * after an issuance or a revocation (publish it). NULL with e set. */
struct acmehttp *acmehttp_start(struct event_base *base, struct ca_core *core, const struct settings *o,
                                void (*changed)(void *arg, const char *what), void *arg, struct rerr *e);
/* acmehttp_reload_cert reads acme-cert and acme-key again (SIGHUP, after a
 * renewal): new connections use them; on failure the old ones stay (1/0,
 * e set). */
int acmehttp_reload_cert(struct acmehttp *h, struct rerr *e);
void acmehttp_free(struct acmehttp *h);

#endif
