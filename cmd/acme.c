/* acme: `revd acme eab-create | eab-list | eab-revoke`, the operator's side
 * of the ACME server's External Account Binding keys (acme/eab.h). Through
 * a running server like every command (DIR/revd.sock). */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "acme/eab.h"
#include "acme/renewal.h"
#include "cmd/cmd.h"

static int run_eab_create(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    char kid[ACME_ID_LEN + 1], hmac[ACME_EAB_HMAC_LEN + 1];
    struct rerr e;
    int ok = acme_eab_create(c, o->ca, o->template_name, o->allow, o->nallow, kid, hmac, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    fprintf(cli->out, "kid: %s\nhmac: %s\n", kid, hmac);
    return 0;
}

static int run_eab_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    json_t *list = acme_eab_list(c, &e);
    cmd_close_core(c, owned);
    if (list == NULL) return cmd_fail(cli, e.msg);
    if (o->json) {
        json_dumpf(list, cli->out, JSON_INDENT(2));
        fputc('\n', cli->out);
    } else {
        size_t i;
        json_t *k;
        fprintf(cli->out, "%-22s  %-8s  %-16s  %-12s  %s\n", "KID", "STATE", "CA", "TEMPLATE", "ALLOW");
        json_array_foreach(list, i, k) {
            char *allow = json_dumps(json_object_get(k, "allow"), JSON_COMPACT);
            fprintf(cli->out, "%-22s  %-8s  %-16s  %-12s  %s\n", json_string_value(json_object_get(k, "kid")),
                    json_is_true(json_object_get(k, "revoked")) ? "revoked" : "active",
                    json_string_value(json_object_get(k, "ca")), json_string_value(json_object_get(k, "template")),
                    allow ? allow : "[]");
            free(allow);
        }
    }
    json_decref(list);
    return 0;
}

static int run_eab_revoke(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = acme_eab_revoke(c, o->kid, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    fprintf(cli->out, "EAB key %s revoked: it opens no account from now on\n", o->kid);
    return 0;
}

static int run_renew_early(struct cli *cli, struct opts *o, const char *pos) {
    long partition = -1;
    if (o->partition != NULL && (!cmd_parse_long(o->partition, &partition) || partition < 0))
        return cmd_usage_fail(cli, "--partition takes a partition number");
    if (o->hours_set && (o->hours < 1 || o->hours > ACME_RENEW_EARLY_SPREAD_MAX_S / 3600))
        return cmd_failf(cli, "--hours: 1 to %d", ACME_RENEW_EARLY_SPREAD_MAX_S / 3600);
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int64_t spread = o->hours_set ? (int64_t)o->hours * 3600 : 3600;
    int ok = acme_renew_early(c, o->ca, o->serial, partition, o->all, spread, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    fprintf(cli->out, "marked: ACME renewal information now tells their holders to renew within %lld hours\n",
            (long long)(spread / 3600));
    return 0;
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_create[] = {O_CA, O_TEMPLATE, O_ALLOW, 0};
static const int a_list[] = {O_JSON, 0};
static const int a_revoke[] = {O_KID, 0};
static const int a_renew[] = {O_CA, O_SERIAL, O_PARTITION, O_ALL, O_HOURS, 0};

const struct cmd cmd_acme_cmds[] = {
    {"eab-create", "revd acme eab-create --ca NAME [--template PROFILE[,PROFILE]...] [--allow DNS-SUFFIX|CIDR]...",
     "Makes an External Account Binding key for the ACME server (RFC 8555 7.3.4) and\n"
     "prints it once, as two lines: 'kid: KID' and 'hmac: KEY' (base64url), what ACME\n"
     "clients take as their EAB key id and HMAC key. An account opened with it issues\n"
     "from CA NAME with the profiles (revd templates) listed: server (the default),\n"
     "end-entity, client, short-lived (at most 7 days, no CRL or OCSP pointers); the\n"
     "first is used when an order names none. And only for the names it allows:\n"
     "  --allow example.test    example.test and every name under it (wildcards too)\n"
     "  --allow .example.test   only names under it\n"
     "  --allow 192.0.2.0/24    IP identifiers in the prefix (also IPv6)\n"
     "(none: any name the CA's constraints allow). At most 64. Audited.\n",
     a_create, run_eab_create, 0, 0, 0},
    {"eab-list", "revd acme eab-list [--json]",
     "Lists the EAB keys: kid, active or revoked, CA, template, allowed names (never\n"
     "the HMAC key).\n",
     a_list, run_eab_list, 0, 0, 0},
    {"eab-revoke", "revd acme eab-revoke --kid KID",
     "Revokes an EAB key: it opens no account from now on; accounts it opened keep\n"
     "working (deactivate those through ACME). Audited.\n",
     a_revoke, run_eab_revoke, 0, 0, 0},
    {"renew-early", "revd acme renew-early --ca NAME (--serial HEX | --partition N | --all) [--hours H]",
     "Marks ACME-issued certificates of CA NAME for early renewal: from now, ACME\n"
     "Renewal Information (RFC 9773) gives their holders a window that starts now\n"
     "and is H hours wide (default 1; at most 720), so that a fleet renews spread\n"
     "over it. One certificate (--serial), a CRL partition (--partition), or all.\n"
     "Revoked certificates and those of a disabled CA get a window at once without\n"
     "a mark. Audited.\n",
     a_renew, run_renew_early, 0, 0, CMD_SERIAL_OPTIONAL},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
