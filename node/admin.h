/* admin: the HTTPS admin API (docs/admin.md), on the CA-core thread's event
 * loop beside the control socket: TLS 1.2 or later (libevent's HTTP server
 * over OpenSSL), clients authenticated by certificates of revd's admin CA,
 * every call checked against the credential's role and scope (ca/cred.h)
 * and audited; a refused call changes nothing and is audited too.
 *
 * Unauthenticated clients cannot starve the CA core, the control socket or
 * the index (struct admin_limits): connections are capped in all and per
 * address, each has deadlines that bytes do not extend, the listener
 * leaves descriptors in reserve and backs off when accept() fails for want
 * of descriptors or memory, instead of spinning on a listener that stays
 * readable. That machine is node/tlshttp.h's (the ACME server stands on it
 * too); this file holds the API itself.
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

/* The admin listener's limits (node/tlshttp.h's struct tlshttp_limits,
 * field for field; settings admin-max-conns,
 * admin-max-conns-per-source, admin-handshake-timeout,
 * admin-request-timeout, fd-reserve; docs/config.md). A connection is
 * counted from its accept until its descriptor is closed. Past a cap the
 * newest connection is closed at once (and, at the total cap, the listener
 * stops accepting until one closes): evicting an older one instead would
 * let a flood of new connections cut every handshake in progress, a real
 * admin's too, while the deadlines below already bound how long any
 * connection holds its place. */
struct admin_limits {
    int max_conns;            /* in all */
    int max_conns_per_source; /* per client address */
    int handshake_timeout_s;  /* from accept until the first request is read whole (TLS, head, body) */
    int request_timeout_s;    /* from a request until its answer is sent and the next one read whole */
    int fd_reserve;           /* descriptors left to the rest of revd: a connection whose descriptor is
                               * past RLIMIT_NOFILE - fd_reserve is refused */
};

/* The defaults (the settings table gives them as its defaults too). */
#define ADMIN_MAX_CONNS_DEFAULT 256
#define ADMIN_MAX_CONNS_PER_SOURCE_DEFAULT 32
#define ADMIN_HANDSHAKE_TIMEOUT_DEFAULT_S 10
#define ADMIN_REQUEST_TIMEOUT_DEFAULT_S 30
#define ADMIN_FD_RESERVE_DEFAULT 128
#define ADMIN_LIMITS_DEFAULT                                                                               \
    {ADMIN_MAX_CONNS_DEFAULT, ADMIN_MAX_CONNS_PER_SOURCE_DEFAULT, ADMIN_HANDSHAKE_TIMEOUT_DEFAULT_S,      \
     ADMIN_REQUEST_TIMEOUT_DEFAULT_S, ADMIN_FD_RESERVE_DEFAULT}

/* What waits for a second admin's approval under --require-approval
 * (node/admin.c needs_approval; the start-up line and docs/admin.md say it). */
#define ADMIN_APPROVAL_SUMMARY                                                                                        \
    "creating, deleting or restoring a CA, disabling or enabling a root CA, issuing or revoking a credential"

/* admin_start listens on listen ("127.0.0.1:8443") with DIR/admin's
 * server certificate. require_approval: ADMIN_APPROVAL_SUMMARY waits for a
 * second admin. NULL with e set on failure. */
struct admin *admin_start(struct event_base *base, struct ca_core *core, const char *listen, int require_approval,
                          const struct admin_limits *limits, const struct admin_hooks *hooks, struct rerr *e);

/* admin_set_limits applies new limits (SIGHUP) to the connections open and
 * to come; the descriptor limit is read again too. */
void admin_set_limits(struct admin *a, const struct admin_limits *limits);

/* admin_stats: connections open now, refused at a cap (total, per source,
 * the descriptor reserve), closed at a deadline and accept() failures,
 * since the start (node/tlshttp.h's struct tlshttp_stats). */
struct admin_stats {
    unsigned long long open, refused_total, refused_source, refused_fds, deadline_closed, accept_failures;
};
void admin_stats(const struct admin *a, struct admin_stats *out);

/* admin_reload_cert loads DIR/admin's server certificate and key again
 * (SIGHUP); the old ones stay on failure (e set). */
int admin_reload_cert(struct admin *a, struct rerr *e);

void admin_free(struct admin *a);

#endif
