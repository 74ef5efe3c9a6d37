/* admin: `revd admin init|issue-credential|list-credentials|revoke-credential`:
 * the admin API's PKI and its credentials (docs/admin.md). */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/cred.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"
#include "common/rtime.h"

/* ---- admin: the HTTPS API's PKI and credentials ---- */

static int run_admin_init(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    struct ca_admin_paths p;
    int ok = ca_admin_init(c, o->names, &e) && ca_admin_paths(c, &p, &e);
    if (ok)
        fprintf(cli->out,
                "admin PKI ready: CA %s (give it to clients, to check the server)\n"
                "server certificate %s, key %s\n"
                "next: revd admin issue-credential --name NAME --role admin --out DIR; then\n"
                "revd serve --admin-listen 127.0.0.1:8443\n",
                p.ca_pem, p.server_pem, p.server_key);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_admin_issue(struct cli *cli, struct opts *o, const char *pos) {
    enum cred_role role;
    if (!cred_role_parse(o->role, &role))
        return cmd_usage_fail(cli, "--role must be admin, issuer, revoker or auditor");
    long days = o->days_set ? o->days : 365;
    char b1[PATH_MAX], b2[PATH_MAX];
    uint8_t *csr = NULL;
    size_t csr_len = 0;
    struct rerr e;
    if (o->csr != NULL && !fs_read_file(cmd_resolve(cli, o->csr, b1), 65536, &csr, &csr_len, &e)) return cmd_fail(cli, e.msg);
    const char *dir = cmd_resolve(cli, o->out, b2);
    if (!fs_mkdirs(dir, 0700, &e)) {
        free(csr);
        return cmd_fail(cli, e.msg);
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) {
        free(csr);
        return 1;
    }
    char *cert = NULL, *key = NULL;
    struct ca_admin_paths p;
    int ok = ca_admin_paths(c, &p, &e) && ca_cred_issue(c, o->name, role, o->ca, o->template_name, (int)days, csr,
                                                         csr_len, &cert, csr ? NULL : &key, &e);
    free(csr);
    uint8_t *ca_pem = NULL;
    size_t ca_len = 0;
    char path[PATH_MAX + 80];
    if (ok) ok = fs_read_file(p.ca_pem, FILE_MAX_BYTES, &ca_pem, &ca_len, &e);
    if (ok) {
        snprintf(path, sizeof(path), "%s/%s.pem", dir, o->name);
        ok = fs_write(path, cert, strlen(cert), 0644, FS_NAMED, &e);
    }
    if (ok && key != NULL) {
        snprintf(path, sizeof(path), "%s/%s.key", dir, o->name);
        ok = fs_write(path, key, strlen(key), 0600, FS_NAMED, &e);
    }
    if (ok) {
        snprintf(path, sizeof(path), "%s/ca.pem", dir);
        ok = fs_write(path, ca_pem, ca_len, 0644, FS_NAMED, &e);
    }
    if (ok)
        fprintf(cli->out, "credential %s (%s) written to %s: %s.pem%s%s%s, and ca.pem (the admin CA)\n", o->name,
                o->role, dir, o->name, key ? ", " : "", key ? o->name : "", key ? ".key" : "");
    if (ok && key != NULL) fprintf(cli->out, "its key %s/%s.key is unencrypted: hand it over and delete it here\n",
                                   dir, o->name);
    if (key != NULL) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
    free(cert);
    free(ca_pem);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int cred_line(void *arg, const struct ca_cred *k) {
    struct cli *cli = arg;
    char na[21];
    rtime_format(k->not_after, na);
    fprintf(cli->out, "%-24s %-8s %-8s %-20s %-24s %s\n", k->name, cred_role_name(k->role),
            k->revoked ? "revoked" : "valid", na, k->cas[0] ? k->cas : "-", k->templates[0] ? k->templates : "-");
    return 1;
}

static int cred_json(void *arg, const struct ca_cred *k) {
    char na[21];
    rtime_format(k->not_after, na);
    json_array_append_new(arg, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "name", k->name, "role",
                                         cred_role_name(k->role), "revoked", k->revoked, "not_after", na, "cas",
                                         k->cas, "templates", k->templates, "serial", k->serial));
    return 1;
}

static int run_admin_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok;
    if (o->json) {
        json_t *arr = json_array();
        ok = ca_cred_each(c, cred_json, arr, &e);
        if (ok) {
            json_dumpf(arr, cli->out, JSON_INDENT(2));
            fputc('\n', cli->out);
        }
        json_decref(arr);
    } else {
        fprintf(cli->out, "%-24s %-8s %-8s %-20s %-24s %s\n", "NAME", "ROLE", "STATE", "NOT-AFTER", "CAS", "TEMPLATES");
        ok = ca_cred_each(c, cred_line, cli, &e);
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_admin_revoke(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_cred_revoke(c, name, &e);
    if (ok) fprintf(cli->out, "credential %s is revoked: refused from its next request\n", name);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_list[] = {O_JSON, 0};
static const int a_none[] = {0};
static const int a_admin_init[] = {O_NAMES, 0};
static const int a_admin_issue[] = {O_NAME, O_ROLE, O_CA, O_TEMPLATE, O_DAYS, O_CSR, O_OUT, 0};

const struct cmd cmd_admin_cmds[] = {
    {"init", "revd admin init [--names LIST]",
     "Makes the admin API's PKI under DIR/admin: revd's own admin CA (ca.pem, ca.key)\n"
     "and the HTTPS server's certificate (server.pem, server.key) for LIST. Run again,\n"
     "it keeps the admin CA and makes a new server certificate.\n"
     "  --names LIST          the server's names (default DNS:localhost,IP:127.0.0.1,IP:::1)\n",
     a_admin_init, run_admin_init, 0, 1, 0},
    {"issue-credential",
     "revd admin issue-credential --name N --role admin|issuer|revoker|auditor [--ca LIST]\n"
     "                            [--template LIST] [--days N] [--csr FILE] --out DIR",
     "Issues a client certificate for the admin API (docs/admin.md) and writes\n"
     "DIR/N.pem, DIR/N.key (a new P-256 key, mode 0600; none with --csr) and DIR/ca.pem.\n"
     "  --role R              admin: CA lifecycle, CRL rebuilds, credentials; issuer:\n"
     "                        issue, get, describe; revoker: revoke, unhold, status;\n"
     "                        auditor: reports and the audit log, read-only\n"
     "  --ca LIST             the CAs an issuer or revoker may act on (a,b or *)\n"
     "  --template LIST       the templates an issuer may use (a,b or *)\n"
     "  --days N              validity, 1 to 825 (default 365)\n"
     "  --csr FILE            certify this CSR's key instead of making one\n",
     a_admin_issue, run_admin_issue, 0, 0, CMD_CA_CSR_OPTIONAL},
    {"list-credentials", "revd admin list-credentials [--json]",
     "Lists the credentials: name, role, state, notAfter, scope.\n", a_list, run_admin_list, 0, 0, 0},
    {"revoke-credential", "revd admin revoke-credential NAME",
     "Revokes a credential: the admin API refuses it from its next request.\n", a_none, run_admin_revoke, 1, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
