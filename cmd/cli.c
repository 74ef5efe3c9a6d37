/* cli: revd's command line: the options (getopt_long over one table of
 * long options), the dispatcher from "revd [NOUN] VERB" to the command
 * tables of cmd/ca.c, cert.c, crl.c, ocsp.c, keys.c, admin.c and audit.c,
 * and --help for each. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cli.h"
#include "cmd/cmd.h"
#include "node/env.h"

static const struct option long_opts[] = {
    {"help", no_argument, NULL, O_HELP},
    {"dir", required_argument, NULL, O_DIR},
    {"name", required_argument, NULL, O_NAME},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"key", required_argument, NULL, O_KEY},
    {"days", required_argument, NULL, O_DAYS},
    {"hours", required_argument, NULL, O_HOURS},
    {"base-url", required_argument, NULL, O_BASE_URL},
    {"partition-size", required_argument, NULL, O_PSIZE},
    {"complete-crl", no_argument, NULL, O_COMPLETE},
    {"crl-max-bytes", required_argument, NULL, O_MAXB},
    {"parent", required_argument, NULL, O_PARENT},
    {"path-len", required_argument, NULL, O_PATHLEN},
    {"cert", required_argument, NULL, O_CERT},
    {"chain", optional_argument, NULL, O_CHAIN},
    {"json", no_argument, NULL, O_JSON},
    {"ca", required_argument, NULL, O_CA},
    {"csr", required_argument, NULL, O_CSR},
    {"template", required_argument, NULL, O_TEMPLATE},
    {"san", required_argument, NULL, O_SAN},
    {"idempotency-key", required_argument, NULL, O_IDEM},
    {"serial", required_argument, NULL, O_SERIAL},
    {"reason", required_argument, NULL, O_REASON},
    {"invalidity-date", required_argument, NULL, O_INVALIDITY},
    {"format", required_argument, NULL, O_FORMAT},
    {"since", required_argument, NULL, O_SINCE},
    {"file", required_argument, NULL, O_FILE},
    {"from", required_argument, NULL, O_FROM},
    {"hash", required_argument, NULL, O_HASH},
    {"out", required_argument, NULL, O_OUT},
    {"partition", required_argument, NULL, O_PARTITION},
    {"all", no_argument, NULL, O_ALL},
    {"number", required_argument, NULL, O_NUMBER},
    {"anchor", required_argument, NULL, O_ANCHOR},
    {"restore-days", required_argument, NULL, O_RESTORE_DAYS},
    {"role", required_argument, NULL, O_ROLE},
    {"names", required_argument, NULL, O_NAMES},
    {"new-passphrase-file", required_argument, NULL, O_NEWPASS},
    {"key-uri", required_argument, NULL, O_KEY_URI},
    {"chunk-rows", required_argument, NULL, O_CHUNK_ROWS},
    {"allow", required_argument, NULL, O_ALLOW},
    {"kid", required_argument, NULL, O_KID},
    {"permit-dns", required_argument, NULL, O_PERMIT_DNS},
    {"exclude-dns", required_argument, NULL, O_EXCLUDE_DNS},
    {"permit-ip", required_argument, NULL, O_PERMIT_IP},
    {"exclude-ip", required_argument, NULL, O_EXCLUDE_IP},
    {NULL, 0, NULL, 0},
};

static const char *opt_name(int id) {
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == id) return o->name;
    return "?";
}


static void print_cmd_help(FILE *f, const struct cmd *c) {
    fprintf(f, "usage: %s [--dir DIR]\n\n%s  --dir DIR             the data directory (default $REVD_DIR, else ./revd-data)\n",
            c->usage, c->help);
}

__attribute__((format(printf, 3, 4))) static int usage_error(struct cli *cli, const struct cmd *c, const char *what, ...) {
    va_list ap;
    va_start(ap, what);
    fprintf(cli->err, "revd: ");
    vfprintf(cli->err, what, ap);
    va_end(ap);
    fprintf(cli->err, "\nusage: %s (see --help)\n", c->usage);
    return 2;
}

static int allowed(const struct cmd *c, int id) {
    if (id == O_HELP || id == O_DIR) return 1;
    for (const int *a = c->allowed; *a; a++)
        if (*a == id) return 1;
    return 0;
}

/* add_nc: one more --permit-dns ... --exclude-ip (past CA_NC_MAX counted,
 * not kept: fill_create refuses it). */
static void add_nc(struct opts *o, int id, const char *v) {
    int k = id - O_PERMIT_DNS;
    if (k < 0 || k >= CA_NC_KINDS) return;
    if (o->num_nc[k] < CA_NC_MAX) o->nc[k][o->num_nc[k]] = v;
    o->num_nc[k]++;
}

/* long: one switch over the option table, then the required options'
 * check; splitting it would scatter the table's one reading. */
static int run_cmd(struct cli *cli, const struct cmd *c, int argc, char **argv) {
    struct opts o;
    memset(&o, 0, sizeof(o));
    o.path_len = -1;
    o.dir = env_dir_from_args(argc, argv);
    optind = 0;
    opterr = 0;
    int id;
    while ((id = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        if (id == '?') return usage_error(cli, c, "unknown option '%s'", argv[optind - 1]);
        if (id == ':') return usage_error(cli, c, "option '%s' needs a value", argv[optind - 1]);
        if (!allowed(c, id)) return usage_error(cli, c, "option --%s does not apply here", opt_name(id));
        long *num = NULL;
        switch (id) {
        case O_HELP: print_cmd_help(cli->out, c); return 0;
        case O_DIR: o.dir = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_SUBJECT: o.subject = optarg; break;
        case O_KEY: o.key = optarg; break;
        case O_DAYS: num = &o.days; o.days_set = 1; break;
        case O_HOURS: num = &o.hours; o.hours_set = 1; break;
        case O_BASE_URL: o.base_url = optarg; break;
        case O_PSIZE: num = &o.psize; break;
        case O_COMPLETE: o.complete = 1; break;
        case O_MAXB: num = &o.maxb; break;
        case O_PARENT: o.parent = optarg; break;
        case O_PATHLEN: num = &o.path_len; break;
        case O_CERT: o.cert = optarg; break;
        case O_CHAIN:
            /* `ca import --chain FILE`; `issue --chain` is a flag. */
            if (c->flags & CMD_CHAIN_FILE) {
                if (optarg == NULL && optind < argc) optarg = argv[optind++];
                o.chain = optarg;
            } else if (optarg != NULL) {
                return usage_error(cli, c, "--chain takes no value here");
            } else {
                o.with_chain = 1;
            }
            break;
        case O_JSON: o.json = 1; break;
        case O_CA: o.ca = optarg; break;
        case O_CSR: o.csr = optarg; break;
        case O_TEMPLATE: o.template_name = optarg; break;
        case O_SAN: o.san = optarg; break;
        case O_IDEM: o.idem = optarg; break;
        case O_SERIAL: o.serial = optarg; break;
        case O_REASON: o.reason = optarg; break;
        case O_INVALIDITY: o.invalidity = optarg; break;
        case O_FORMAT: o.format = optarg; break;
        case O_SINCE: o.since = optarg; break;
        case O_FILE: o.file = optarg; break;
        case O_FROM: o.since = optarg; break;
        case O_HASH: o.hash = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_PARTITION: o.partition = optarg; break;
        case O_ALL: o.all = 1; break;
        case O_NUMBER: o.number = optarg; break;
        case O_ANCHOR: o.anchor = optarg; break;
        case O_RESTORE_DAYS: num = &o.restore_days; o.restore_days_set = 1; break;
        case O_ROLE: o.role = optarg; break;
        case O_NAMES: o.names = optarg; break;
        case O_NEWPASS: o.newpass = optarg; break;
        case O_KEY_URI: o.key_uri = optarg; break;
        case O_CHUNK_ROWS: num = &o.chunk_rows; break;
        case O_ALLOW:
            if (o.nallow == OPTS_ALLOW_MAX) return usage_error(cli, c, "at most %d --allow", OPTS_ALLOW_MAX);
            o.allow[o.nallow++] = optarg;
            break;
        case O_KID: o.kid = optarg; break;
        default: add_nc(&o, id, optarg); /* --permit-dns ... --exclude-ip */
        }
        if (num != NULL && !cmd_parse_long(optarg, num))
            return usage_error(cli, c, "--%s needs a whole number", opt_name(id));
    }
    const char *pos = NULL;
    if (c->needs_positional) {
        if (optind >= argc) return usage_error(cli, c, "missing the CA name%s", "");
        pos = argv[optind++];
    }
    if (optind < argc) return usage_error(cli, c, "unexpected argument '%s'", argv[optind]);
    /* Required options. */
    const int *a = c->allowed;
    for (; *a; a++) {
        const char *v = NULL;
        int required = 1;
        switch (*a) {
        case O_NAME: v = o.name; break;
        case O_SUBJECT: v = o.subject; break;
        case O_PARENT: v = o.parent; break;
        case O_CERT: v = o.cert; break;
        case O_CSR: required = !(c->flags & CMD_CA_CSR_OPTIONAL); v = o.csr; break;
        case O_SERIAL:
            required = !((c->flags & CMD_SERIAL_OR_FILE) && o.file != NULL) && !(c->flags & CMD_SERIAL_OPTIONAL);
            v = o.serial;
            break;
        case O_FILE: required = !(c->flags & CMD_SERIAL_OR_FILE); v = o.file; break;
        case O_FORMAT: v = o.format; break;
        case O_OUT: required = !(c->flags & CMD_OUT_OPTIONAL); v = o.out; break;
        case O_ROLE: v = o.role; break;
        case O_NEWPASS: v = o.newpass; break;
        case O_KID: v = o.kid; break;
        case O_CA: required = !(c->flags & CMD_CA_CSR_OPTIONAL); v = o.ca; break;
        case O_TEMPLATE: required = 0; break;
        case O_CHAIN: required = (c->flags & CMD_CHAIN_FILE) != 0; v = o.chain; break;
        default: required = 0;
        }
        if (required && v == NULL) return usage_error(cli, c, "missing --%s", opt_name(*a));
    }
    return c->run(cli, &o, pos);
}

void cli_usage(FILE *f) {
    fputs("usage: revd COMMAND [options] [--dir DIR]\n"
          "\n"
          "revd: a certificate authority that publishes revocation status (OCSP, CRLs).\n"
          "DIR holds the index, keys and certificates (default $REVD_DIR, else ./revd-data).\n"
          "\n"
          "CAs:\n"
          "  ca create-root    create a self-signed root CA\n"
          "  ca create-sub     create a CA signed by a CA in DIR\n"
          "  ca csr            create a CA key and CSR for a parent outside revd\n"
          "  ca import         install the certificate an outside parent signed\n"
          "  ca recertify      a new certificate for a CA's key (new validity, name constraints)\n"
          "  ca bundle         a CA's certificate and its parents', root last (PEM)\n"
          "  ca list | show NAME | disable NAME | enable NAME\n"
          "  ca delete NAME    delete a CA, restorable for --restore-days (default 30)\n"
          "  ca restore NAME   undo a deletion within its window\n"
          "Certificates:\n"
          "  issue             issue a certificate from a CSR\n"
          "  revoke            revoke a certificate (RFC 5280 reasons)\n"
          "  unhold            release a certificateHold\n"
          "  status            good, revoked or unknown, and the CRL partition\n"
          "  report            every certificate, as CSV or JSON\n"
          "  import            bulk-load another CA's inventory (CSV)\n"
          "  log               the operations log (JSON lines)\n"
          "Admin API (HTTPS, docs/admin.md):\n"
          "  admin init        make the admin CA and the server's certificate\n"
          "  admin issue-credential | list-credentials | revoke-credential NAME\n"
          "ACME (docs/acme.md; the server: revd serve --acme-listen):\n"
          "  acme eab-create   an External Account Binding key: its CA, template, allowed names\n"
          "  acme eab-list | eab-revoke --kid KID\n"
          "  acme renew-early  tell ACME clients (RFC 9773) to renew certificates now\n"
          "Keys at rest (docs/keys.md):\n"
          "  keys status       which private keys are encrypted\n"
          "  keys encrypt      encrypt them with $REVD_KEY_PASSPHRASE_FILE's passphrase\n"
          "  keys rekey        encrypt them with a new passphrase\n"
          "  (CA keys in a PKCS#11 token: ca create-root --key-uri, $REVD_PKCS11_MODULE,\n"
          "   $REVD_PKCS11_PIN_FILE)\n"
          "Audit:\n"
          "  audit verify      check the audit log's hash chain (edits, removals, reordering)\n"
          "  audit export      the audit log as JSON or CSV\n"
          "OCSP:\n"
          "  ocsp respond      sign one certificate's OCSP response from the index\n"
          "CRLs:\n"
          "  crl list          every CRL URL of a CA (--json: for CCADB)\n"
          "  crl show          a CA's CRLs and their last numbers\n"
          "  crl rebuild       build, sign and publish a CA's CRLs as files under DIR/crl/\n"
          "  crl history       every CRL a CA has signed, from its archive\n"
          "Running:\n"
          "  demo              create a demo CA in ./demo and show how to use it\n"
          "  serve             hold DIR and answer the commands above over DIR/revd.sock\n"
          "\n"
          "revd COMMAND --help describes a command. Exit status: 0 done, 1 failed, 2 usage error.\n",
          f);
}

int cli_run(struct cli *cli, int argc, char **argv) {
    if (argc < 1) {
        cli_usage(cli->err);
        return 2;
    }
    const struct cmd *table = NULL;
    const char *word = argv[0];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
        cli_usage(cli->out);
        return 0;
    }
    if (strcmp(word, "demo") == 0) return demo_run(cli, argc, argv);
    /* "revd GROUP SUBCOMMAND ...": the group's table. */
    static const struct group {
        const char *word;
        const struct cmd *table;
        const char *subs;
    } groups[] = {
        {"ocsp", cmd_ocsp_cmds, "respond|precompute"},
        {"crl", cmd_crl_cmds, "list|show|rebuild|history"},
        {"admin", cmd_admin_cmds, "init|issue-credential|list-credentials|revoke-credential"},
        {"audit", cmd_audit_cmds, "verify|export"},
        {"keys", cmd_keys_cmds, "status|encrypt|rekey"},
        {"acme", cmd_acme_cmds, "eab-create|eab-list|eab-revoke|renew-early"},
        {"ca", cmd_ca_cmds, "create-root|create-sub|csr|import|recertify|bundle|list|show|disable|enable|delete|restore"},
    };
    const char *prefix = "";
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (strcmp(word, groups[g].word) != 0) continue;
        if (argc < 2 || strcmp(argv[1], "--help") == 0) {
            FILE *f = argc < 2 ? cli->err : cli->out;
            fprintf(f, "usage: revd %s %s [options]\nrevd %s SUBCOMMAND --help describes one.\n", groups[g].word,
                    groups[g].subs, groups[g].word);
            return argc < 2 ? 2 : 0;
        }
        table = groups[g].table;
        prefix = groups[g].word;
        word = argv[1];
        argc--;
        argv++;
        break;
    }
    /* The top-level words: certificates, then the operations log. */
    static const struct cmd *const top[] = {cmd_cert_cmds, cmd_log_cmds};
    for (size_t t = 0; t < (table != NULL ? 1 : sizeof(top) / sizeof(top[0])); t++)
        for (const struct cmd *c = table != NULL ? table : top[t]; c->name; c++)
            if (strcmp(c->name, word) == 0) return run_cmd(cli, c, argc, argv);
    fprintf(cli->err, "revd: unknown command '%s%s%.60s'\nusage: revd COMMAND [options] (see revd --help)\n", prefix,
            prefix[0] ? " " : "", word);
    return 2;
}
