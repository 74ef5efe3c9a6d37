/* ca: `revd ca create-root|create-sub|csr|import|list|show|disable|enable|delete|restore`:
 * a CA's lifecycle. Each command parses nothing itself (cmd/cli.c did), calls
 * the CA core and prints the result. */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "ca/ca.h"
#include "ca/pkcs11.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"
#include "common/rtime.h"

/* ---- ca create-root / create-sub / csr / import ---- */

static int fill_create(struct cli *cli, struct opts *o, struct ca_create_params *p) {
    memset(p, 0, sizeof(*p));
    p->name = o->name;
    p->subject = o->subject;
    p->parent = o->parent;
    p->base_url = o->base_url;
    p->complete_crl = o->complete;
    p->path_len = (int)o->path_len;
    p->key = CA_KEY_EC_P256;
    p->key_uri = o->key_uri;
    if (o->key != NULL && o->key_uri != NULL)
        return cmd_usage_fail(cli, "--key and --key-uri exclude each other (a token key's type is its own)");
    struct rerr ue;
    if (o->key_uri != NULL && !pkcs11_uri_valid(o->key_uri, &ue)) return cmd_failf(cli, "--key-uri: %s", ue.msg);
    if (o->key != NULL && !ca_key_type_parse(o->key, &p->key))
        return cmd_failf(cli, "--key %s: expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096", o->key);
    if (o->days_set && (o->days < 1 || o->days > 36500))
        return cmd_fail(cli, "--days must be 1 to 36500");
    p->days = o->days_set ? (int)o->days : 0;
    if (o->psize != 0 && (o->psize < 1 || o->psize > 100000000))
        return cmd_fail(cli, "--partition-size must be 1 to 100000000");
    p->partition_size = (uint32_t)o->psize;
    if (o->maxb != 0 && (o->maxb < 4096 || o->maxb > 100000000))
        return cmd_fail(cli, "--crl-max-bytes must be 4096 to 100000000");
    p->crl_max_bytes = (uint32_t)o->maxb;
    if (o->complete && o->psize) return cmd_usage_fail(cli, "--partition-size and --complete-crl exclude each other");
    if (o->path_len < -1 || o->path_len > 10) return cmd_fail(cli, "--path-len must be 0 to 10");
    for (int k = 0; k < CA_NC_KINDS; k++) {
        if (o->num_nc[k] > CA_NC_MAX)
            return cmd_failf(cli, "--%s is given %zu times; at most %d", ca_nc_kind_name((enum ca_nc_kind)k),
                             o->num_nc[k], CA_NC_MAX);
        p->nc[k] = o->nc[k];
        p->num_nc[k] = o->num_nc[k];
    }
    return 0;
}

static int run_create(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_create_params p;
    int bad = fill_create(cli, o, &p);
    if (bad) return bad;
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_create(c, &p, &e);
    if (ok) {
        struct ca_info info;
        ca_info_get(c, p.name, &info, &e);
        fprintf(cli->out, "created CA %s\ncertificate: %s\n", p.name, info.cert_path);
        if (ca_notice(c)[0] != '\0') fprintf(cli->err, "revd: %s\n", ca_notice(c));
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_csr(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_create_params p;
    int bad = fill_create(cli, o, &p);
    if (bad) return bad;
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    char *pem = NULL;
    int ok = ca_csr(c, &p, &pem, &e);
    if (ok) fputs(pem, cli->out);
    free(pem);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_import_ca(struct cli *cli, struct opts *o, const char *pos) {
    char b1[PATH_MAX], b2[PATH_MAX];
    uint8_t *cert = NULL, *chain = NULL;
    size_t cl, chl;
    struct rerr e;
    if (!fs_read_file(cmd_resolve(cli, o->cert, b1), FILE_MAX_BYTES, &cert, &cl, &e)) return cmd_fail(cli, e.msg);
    if (!fs_read_file(cmd_resolve(cli, o->chain, b2), FILE_MAX_BYTES, &chain, &chl, &e)) {
        free(cert);
        return cmd_fail(cli, e.msg);
    }
    struct ca_core *c;
    int owned, ok = 0;
    if (cmd_open_core(cli, o, 0, &c, &owned)) {
        ok = ca_import_cert(c, o->name, cert, cl, chain, chl, &e);
        if (ok) fprintf(cli->out, "imported the certificate of CA %s; it is active\n", o->name);
        if (ok && ca_notice(c)[0] != '\0') fprintf(cli->err, "revd: %s\n", ca_notice(c));
        cmd_close_core(c, owned);
    } else {
        free(cert);
        free(chain);
        return 1;
    }
    free(cert);
    free(chain);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

/* ---- ca recertify / bundle ---- */

static int run_recertify(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_recertify_params p = {.name = o->name};
    if (o->days_set && (o->days < 1 || o->days > 36500)) return cmd_fail(cli, "--days must be 1 to 36500");
    p.days = o->days_set ? (int)o->days : 0;
    for (int k = 0; k < CA_NC_KINDS; k++) {
        if (o->num_nc[k] > CA_NC_MAX)
            return cmd_failf(cli, "--%s is given %zu times; at most %d", ca_nc_kind_name((enum ca_nc_kind)k),
                             o->num_nc[k], CA_NC_MAX);
        p.nc[k] = o->nc[k];
        p.num_nc[k] = o->num_nc[k];
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_recertify(c, &p, &e);
    struct ca_info info;
    if (ok && ca_info_get(c, p.name, &info, &e)) {
        char na[21];
        rtime_format(info.not_after, na);
        fprintf(cli->out, "CA %s has a new certificate for the same key, valid until %s\ncertificate: %s\n", p.name, na,
                info.cert_path);
        if (ca_notice(c)[0] != '\0') fprintf(cli->err, "revd: %s\n", ca_notice(c));
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_bundle(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    char *pem = NULL;
    int num = 0;
    int ok = ca_bundle_pem(c, o->name, &pem, &num, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    if (num > 4)
        fprintf(cli->err, "revd: warning: the bundle of CA %s has %d levels; some clients stop at four\n", o->name,
                num);
    char b[PATH_MAX];
    if (o->out != NULL) ok = fs_write(cmd_resolve(cli, o->out, b), pem, strlen(pem), 0644, FS_NAMED, &e);
    else fputs(pem, cli->out);
    free(pem);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

/* ---- ca list / show / enable / disable ---- */

static int run_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    json_t *arr = json_array();
    if (!o->json) fprintf(cli->out, "%-24s %-9s %-9s %-24s %-20s %10s %10s\n", "NAME", "STATE", "KEY",
                          "PARENT", "NOT-AFTER", "ISSUED", "REVOKED");
    for (size_t i = 0; i < ca_count(c); i++) {
        struct ca_info info;
        ca_info_at(c, i, &info);
        if (o->json) {
            json_array_append_new(arr, ca_info_json(&info, 1));
            continue;
        }
        char na[21];
        rtime_format(info.not_after, na);
        fprintf(cli->out, "%-24s %-9s %-9s %-24s %-20s %10llu %10llu\n", info.name,
                ca_state_name(info.state), ca_key_type_name(info.key), info.parent[0] ? info.parent : "-",
                info.state == CA_STATE_PENDING ? "-" : na, (unsigned long long)(info.issued + info.imported),
                (unsigned long long)(info.revoked + info.held));
    }
    if (o->json) {
        json_dumpf(arr, cli->out, JSON_INDENT(2));
        fputc('\n', cli->out);
    }
    json_decref(arr);
    cmd_close_core(c, owned);
    return 0;
}

static int run_show(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct ca_info i;
    struct rerr e;
    if (!ca_info_get(c, name, &i, &e)) {
        cmd_close_core(c, owned);
        return cmd_fail(cli, e.msg);
    }
    json_t *j = ca_info_json(&i, 1);
    if (o->json) {
        json_dumpf(j, cli->out, JSON_INDENT(2));
        fputc('\n', cli->out);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            char k[64];
            snprintf(k, sizeof(k), "%s", key);
            for (char *p = k; *p; p++)
                if (*p == '_') *p = '-';
            if (json_is_string(v)) fprintf(cli->out, "%s: %s\n", k, json_string_value(v));
            else fprintf(cli->out, "%s: %lld\n", k, (long long)json_integer_value(v));
        }
    }
    json_decref(j);
    cmd_close_core(c, owned);
    return 0;
}

static int set_enabled(struct cli *cli, struct opts *o, const char *name, int enabled) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_set_enabled(c, name, enabled, &e);
    if (ok) fprintf(cli->out, "CA %s is %s\n", name, enabled ? "active" : "disabled");
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_enable(struct cli *cli, struct opts *o, const char *name) { return set_enabled(cli, o, name, 1); }

static int run_delete(struct cli *cli, struct opts *o, const char *name) {
    long days = o->restore_days_set ? o->restore_days : 30;
    if (days < CA_RESTORE_DAYS_MIN || days > CA_RESTORE_DAYS_MAX)
        return cmd_usage_fail(cli, "--restore-days must be 7 to 3650");
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_delete(c, name, (int)days, &e);
    struct ca_info i;
    if (ok && ca_info_get(c, name, &i, &e)) {
        char pa[21];
        rtime_format(i.purge_at, pa);
        fprintf(cli->out,
                "CA %s is deleted: it issues nothing; its OCSP responses and CRLs are served until %s,\n"
                "then its keys are destroyed (revd ca restore %s undoes this until then)\n",
                name, pa, name);
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_restore(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_restore(c, name, &e);
    struct ca_info i;
    if (ok && ca_info_get(c, name, &i, &e)) fprintf(cli->out, "CA %s is restored: %s\n", name, ca_state_name(i.state));
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}
static int run_disable(struct cli *cli, struct opts *o, const char *name) { return set_enabled(cli, o, name, 0); }

/* ---- the table (cmd/cli.c dispatches) ---- */

#define CREATE_OPTS O_NAME, O_SUBJECT, O_KEY, O_KEY_URI, O_DAYS, O_BASE_URL, O_PSIZE, O_COMPLETE, O_MAXB
/* allowed on create-root too, so that ca_create says why a root takes none */
#define NC_OPTS O_PERMIT_DNS, O_EXCLUDE_DNS, O_PERMIT_IP, O_EXCLUDE_IP
static const int a_root[] = {CREATE_OPTS, O_PATHLEN, NC_OPTS, 0};
static const int a_sub[] = {CREATE_OPTS, O_PARENT, O_PATHLEN, NC_OPTS, 0};
static const int a_csr[] = {O_NAME, O_SUBJECT, O_KEY, O_KEY_URI, O_BASE_URL, O_PSIZE, O_COMPLETE, O_MAXB, 0};
static const int a_caimport[] = {O_NAME, O_CERT, O_CHAIN, 0};
static const int a_list[] = {O_JSON, 0};
static const int a_none[] = {0};
static const int a_delete[] = {O_RESTORE_DAYS, 0};
static const int a_recert[] = {O_NAME, O_DAYS, NC_OPTS, 0};
static const int a_bundle[] = {O_NAME, O_OUT, 0};

#define KEY_HELP                                                                                   \
    "  --key ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096   key type (default ec-p256)\n"              \
    "  --key-uri pkcs11:...  the key is this object in a PKCS#11 token (RFC 7512 URI,\n"              \
    "                        e.g. pkcs11:token=ca;object=root), made there beforehand;\n"            \
    "                        $REVD_PKCS11_MODULE, $REVD_PKCS11_PIN_FILE (or _PIN) (docs/keys.md)\n"
#define CRL_HELP                                                                                   \
    "  --base-url URL        where CRLs, OCSP and the CA certificate are served\n"                   \
    "                        (default http://127.0.0.1:8080)\n"                                      \
    "  --partition-size N    certificates per CRL partition (default: the most whose\n"             \
    "                        fully revoked CRL fits in --crl-max-bytes)\n"                           \
    "  --complete-crl        one CRL for the whole CA (then at most 1,000,000 certificates)\n"     \
    "  --crl-max-bytes N     CRL size cap (default 1000000)\n"

#define NC_HELP                                                                                    \
    "Name constraints (RFC 5280 4.2.1.10; a critical extension; each option up to 64 times).\n"     \
    "Every certificate this CA or a CA under it issues is refused unless its DNS and IP\n"           \
    "subjectAltNames, and a subject CN that is a DNS name or an IP address, are within them\n"       \
    "(refusals start with PCA_NAME_CONSTRAINTS_VALIDATION):\n"                                       \
    "  --permit-dns DOMAIN   DNS names must be within one: example.test holds it and every\n"        \
    "                        name under it, .example.test only the names under it\n"                 \
    "  --exclude-dns DOMAIN  DNS names within one are refused (a wildcard that could stand\n"        \
    "                        for one too)\n"                                                          \
    "  --permit-ip PREFIX    IP addresses must be within one (192.0.2.0/24, 2001:db8::/32)\n"         \
    "  --exclude-ip PREFIX   IP addresses within one are refused\n"                                  \
    "  Permitted subtrees of one type bind only names of that type: with only --permit-dns,\n"       \
    "  IP names are not constrained (add --permit-ip or --exclude-ip 0.0.0.0/0 and ::/0).\n"

const struct cmd cmd_ca_cmds[] = {
    {"create-root", "revd ca create-root --name NAME --subject /CN=... [options]",
     "Creates a self-signed root CA.\n  --days N              validity (default 3650)\n" KEY_HELP CRL_HELP
     "  --path-len N          basicConstraints pathLen (default: none)\n",
     a_root, run_create, 0, 1, 0},
    {"create-sub", "revd ca create-sub --name NAME --parent PARENT --subject /CN=... [options]",
     "Creates a CA signed by PARENT (a CA in DIR).\n"
     "  --days N              validity (default 1825, never past the parent's notAfter)\n" KEY_HELP CRL_HELP
     "  --path-len N          basicConstraints pathLen (default 0)\n" NC_HELP,
     a_sub, run_create, 0, 0, 0},
    {"csr", "revd ca csr --name NAME --subject /CN=... [--key K | --key-uri URI] [CRL options]",
     "Creates the key of a CA whose parent is outside revd (or takes it from a token)\nand prints its CSR.\n" KEY_HELP CRL_HELP,
     a_csr, run_csr, 0, 1, 0},
    {"import", "revd ca import --name NAME --cert FILE --chain FILE",
     "Installs the certificate an outside parent signed for a pending CA.\n"
     "  --cert FILE           the CA certificate (PEM or DER)\n"
     "  --chain FILE          the parent's chain, PEM, ending in its root\n",
     a_caimport, run_import_ca, 0, 0, CMD_CHAIN_FILE},
    {"recertify", "revd ca recertify --name NAME [--days N] [name constraints]",
     "Gives CA NAME a new certificate for the same key and subject, from its parent in\n"
     "DIR (a root: self-signed): what it issued still verifies, its CRLs and OCSP\n"
     "responses stay valid. The old certificate stays in the parent's records and is\n"
     "copied to DIR/ca/archive/NAME-SERIAL.pem; the chains of the CAs under it are\n"
     "rebuilt. Without name-constraint options the old certificate's are kept.\n"
     "  --days N              validity (default: root 3650, sub 1825 clamped to the parent)\n" NC_HELP,
     a_recert, run_recertify, 0, 0, 0},
    {"bundle", "revd ca bundle --name NAME [--out FILE]",
     "Writes the certificate of CA NAME and its parents up to the root, root last\n"
     "(PEM), to stdout or FILE; warns on stderr past four levels.\n"
     "  --out FILE            write here instead of stdout\n",
     a_bundle, run_bundle, 0, 0, CMD_OUT_OPTIONAL},
    {"list", "revd ca list [--json]", "Lists the CAs in DIR.\n", a_list, run_list, 0, 0, 0},
    {"show", "revd ca show NAME [--json]", "Shows one CA: state, key, validity, counts, revocation settings.\n",
     a_list, run_show, 1, 0, 0},
    {"disable", "revd ca disable NAME", "Stops a CA issuing; it still publishes status.\n", a_none,
     run_disable, 1, 0, 0},
    {"enable", "revd ca enable NAME", "Lets a disabled CA issue again.\n", a_none, run_enable, 1, 0, 0},
    {"delete", "revd ca delete NAME [--restore-days N]",
     "Deletes a CA, with a window in which it can be restored: from now on it issues\n"
     "nothing, while its OCSP responses and CRLs are still served and its\n"
     "certificates can still be revoked; when the window ends, a running revd serve\n"
     "purges it within the hour: its key files (CA and OCSP responder) are removed\n"
     "and its status is no longer published. Its records and audit log stay.\n"
     "Refused while a CA under it is not deleted.\n"
     "  --restore-days N      the window, 7 to 3650 days (default 30)\n",
     a_delete, run_delete, 1, 0, 0},
    {"restore", "revd ca restore NAME", "Undoes revd ca delete within the restore window: the CA is as it was.\n",
     a_none, run_restore, 1, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
