/* cred: who may use the admin API, and how much (cmd/admin.c).
 *
 * revd's own admin CA (DIR/admin/ca.pem; its key DIR/admin/ca.key, mode
 * 0600, used here only) issues the HTTPS server's certificate
 * (DIR/admin/server.pem and .key) and every client credential. What a
 * credential may do is not in its certificate but in the index ('C' name
 * -> JSON): its role, the CAs and templates it is scoped to, and whether it
 * was revoked, so a revocation takes effect on the next request.
 *
 * Roles (least privilege):
 *   admin    CA lifecycle (create, disable, enable, delete, restore), CRL
 *            rebuilds, credentials; reads CAs.
 *   issuer   issue, get and describe, within its CAs and templates.
 *   revoker  revoke, unhold and status, within its CAs.
 *   auditor  reports, the audit log and its check, reads; changes nothing.
 *
 * Thread: the CA-core thread, like the rest of ca/. Returns 1, or 0 with e
 * set, unless said otherwise. */
#ifndef REVD_CA_CRED_H
#define REVD_CA_CRED_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

enum cred_role { ROLE_ADMIN, ROLE_ISSUER, ROLE_REVOKER, ROLE_AUDITOR };

#define CRED_NAME_MAX 64
#define CRED_LIST_MAX 1024 /* the comma-separated CA or template list */

struct ca_cred {
    char name[CRED_NAME_MAX + 1];
    enum cred_role role;
    char cas[CRED_LIST_MAX];       /* "a,b" or "*" */
    char templates[CRED_LIST_MAX]; /* issuer only; "*": any */
    char serial[2 * 20 + 1];       /* hex, as the log writes serials */
    int64_t not_after;
    int revoked;
};

const char *cred_role_name(enum cred_role r);
int cred_role_parse(const char *s, enum cred_role *out);

/* ca_admin_init makes the admin CA and the HTTPS server's certificate for
 * names ("DNS:localhost,IP:127.0.0.1"; NULL: those and IP:::1) when absent;
 * with the CA already there, only the server certificate is made again
 * (new names). */
int ca_admin_init(struct ca_core *c, const char *names, struct rerr *e);

/* ca_admin_paths: the files of the admin PKI. Returns 0 (e set) when
 * revd admin init has not run. */
struct ca_admin_paths {
    char ca_pem[4096], server_pem[4096], server_key[4096];
};
int ca_admin_paths(struct ca_core *c, struct ca_admin_paths *out, struct rerr *e);

/* ca_cred_issue registers a credential and issues its certificate (valid
 * days, 1 to 825) for the CSR's key, or for a new P-256 key whose PEM
 * (PKCS#8, unencrypted) is returned in *key_pem when csr is NULL. cas is
 * required for issuer and revoker, templates for issuer ("*": all).
 * *cert_pem and *key_pem are malloc'd (the caller frees; key_pem NULL with a
 * CSR). */
int ca_cred_issue(struct ca_core *c, const char *name, enum cred_role role, const char *cas, const char *templates,
                  int days, const uint8_t *csr, size_t csr_len, char **cert_pem, char **key_pem, struct rerr *e);

/* ca_cred_get: the credential named name. 1 found, 0 none, -1 on an index
 * error (e set). */
int ca_cred_get(struct ca_core *c, const char *name, struct ca_cred *out, struct rerr *e);

/* ca_cred_revoke: the credential is refused from the next request on. */
int ca_cred_revoke(struct ca_core *c, const char *name, struct rerr *e);

/* ca_cred_each calls cb for every credential, by name. */
int ca_cred_each(struct ca_core *c, int (*cb)(void *arg, const struct ca_cred *k), void *arg, struct rerr *e);

/* ca_cred_for_serial finds the credential whose certificate has this
 * serial (INTEGER content octets). Returns 1 found (revoked ones too), 0
 * none, -1 on an index error (e set). */
int ca_cred_for_serial(struct ca_core *c, const uint8_t *serial, size_t len, struct ca_cred *out, struct rerr *e);

/* cred_allows: whether item is in the comma-separated list (or the list
 * is "*"). */
int cred_allows(const char *list, const char *item);

/* cred_allows_template: whether an issuer whose templates are list may
 * use template tpl. "*" covers every template but ocsp-signing (a
 * delegated OCSP responder for the CA), which a credential must name. */
int cred_allows_template(const char *list, const char *tpl);

#endif
