/* admin: the HTTPS admin API (docs/admin.md), on the CA-core thread's event
 * loop beside the control socket: TLS 1.2 or later (libevent's HTTP server
 * over OpenSSL), clients authenticated by certificates of revd's admin CA,
 * every call checked against the credential's role and scope (ca/cred.h)
 * and audited; a refused call changes nothing and is audited too.
 *
 * Thread: the CA-core thread (it calls the CA core directly, one request
 * at a time, like the control socket). */
#ifndef REVD_CMD_ADMIN_H
#define REVD_CMD_ADMIN_H

#include "common/rerr.h"

struct admin;
struct ca_core;
struct event_base;

struct admin_hooks {
    void (*changed)(void *arg, const char *what); /* a status or a CA changed: publish */
    void (*crl_rebuild)(void *arg);               /* rebuild every CRL now */
    void *arg;
};

/* Bodies over this are refused (413, JSON); over 1 MiB libevent refuses
 * them itself (413, no JSON). */
#define ADMIN_MAX_BODY (64 * 1024)
/* Requests waiting for a second admin (--require-approval), at most; each
 * expires after a day; kept in memory (a restart drops them). */
#define ADMIN_APPROVALS_MAX 64

/* What waits for a second admin's approval under --require-approval
 * (cmd/admin.c needs_approval; the start-up line and docs/admin.md say it). */
#define ADMIN_APPROVAL_SUMMARY                                                                                        \
    "creating, deleting or restoring a CA, disabling or enabling a root CA, issuing or revoking a credential"

/* admin_start listens on listen ("127.0.0.1:8443") with DIR/admin's
 * server certificate. require_approval: ADMIN_APPROVAL_SUMMARY waits for a
 * second admin. NULL with e set on failure. */
struct admin *admin_start(struct event_base *base, struct ca_core *core, const char *listen, int require_approval,
                          const struct admin_hooks *hooks, struct rerr *e);

/* admin_reload_cert loads DIR/admin's server certificate and key again
 * (SIGHUP); the old ones stay on failure (e set). */
int admin_reload_cert(struct admin *a, struct rerr *e);

void admin_free(struct admin *a);

#endif
