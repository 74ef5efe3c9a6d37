/* cmd: what the command files of cmd/ share (private to cmd/): the options
 * every command may take (struct opts, filled by cmd/cli.c's getopt loop),
 * a command's table entry (struct cmd), each noun's table, and the helpers
 * that print errors and open DIR (cmd/cmd.c).
 *
 * Returns: a command's exit status (0 done, 1 failed, 2 usage error).
 * Thread: the caller's (the main thread, or the CA-core thread of `revd
 * serve` for a forwarded command); one command at a time per struct cli. */
#ifndef REVD_CMD_CMD_H
#define REVD_CMD_CMD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ca/ca.h"

struct ca_core;

/* Where a command runs: its output, the client's directory, the core. */
struct cli {
    FILE *out, *err;      /* where the command writes; not owned */
    const char *cwd;      /* relative file arguments are taken from here */
    struct ca_core *core; /* set by `revd serve`; NULL: the command opens DIR */
};

/* The most a file argument (a certificate, a chain) may hold. */
#define FILE_MAX_BYTES (1 << 20)

enum {
    O_HELP = 1000, O_DIR, O_NAME, O_SUBJECT, O_KEY, O_DAYS, O_HOURS, O_BASE_URL, O_PSIZE,
    O_COMPLETE, O_MAXB, O_PARENT, O_PATHLEN, O_CERT, O_CHAIN, O_JSON, O_CA, O_CSR, O_TEMPLATE,
    O_SAN, O_IDEM, O_SERIAL, O_REASON, O_INVALIDITY, O_FORMAT, O_SINCE, O_FILE, O_FROM, O_HASH, O_OUT,
    O_PARTITION, O_ALL, O_NUMBER, O_ANCHOR, O_RESTORE_DAYS, O_ROLE, O_NAMES, O_NEWPASS,
    O_KEY_URI, O_CHUNK_ROWS, O_ALLOW, O_KID,
    /* in enum ca_nc_kind's order */
    O_PERMIT_DNS, O_EXCLUDE_DNS, O_PERMIT_IP, O_EXCLUDE_IP,
};

/* The most --allow options one command takes (revd acme eab-create). */
#define OPTS_ALLOW_MAX 64

struct opts {
    const char *dir, *name, *subject, *key, *base_url, *parent, *cert, *chain, *ca, *csr,
        *template_name, *san, *idem, *serial, *reason, *invalidity, *format, *since, *file;
    long days, hours, psize, maxb, path_len;
    unsigned long long seq_from;
    const char *hash, *out, *partition, *number, *anchor, *role, *names, *newpass, *key_uri;
    int complete, json, with_chain, help, days_set, hours_set, all, restore_days_set;
    long restore_days;
    long chunk_rows; /* 0: the default */
    const char *allow[OPTS_ALLOW_MAX]; /* --allow, repeatable */
    size_t nallow;
    const char *kid;
    /* --permit-dns ... --exclude-ip, each repeatable: the first CA_NC_MAX
     * kept, num_nc counts them all (more is refused) */
    const char *nc[CA_NC_KINDS][CA_NC_MAX];
    size_t num_nc[CA_NC_KINDS];
};

struct cmd {
    const char *name;
    const char *usage;
    const char *help;
    const int *allowed;
    int (*run)(struct cli *cli, struct opts *o, const char *pos);
    int needs_positional;
    int creates_dir;
    int flags; /* CMD_* */
};

/* struct cmd's flags: an option the table allows that is not required. */
#define CMD_CA_CSR_OPTIONAL 1 /* --ca and --csr (admin issue-credential) */
#define CMD_SERIAL_OR_FILE 2  /* --serial unless --file, which is optional (revoke) */
#define CMD_OUT_OPTIONAL 4    /* --out (crl history) */
#define CMD_CHAIN_FILE 8      /* --chain takes a FILE, required (ca import); else a flag */
#define CMD_SERIAL_OPTIONAL 16 /* --serial (acme renew-early) */

/* The tables, NULL-terminated: "revd NOUN VERB" (cmd_ca_cmds: "revd ca
 * VERB") and the top-level words (cmd_cert_cmds, cmd_log_cmds). */
extern const struct cmd cmd_ca_cmds[], cmd_cert_cmds[], cmd_audit_cmds[], cmd_log_cmds[], cmd_admin_cmds[],
    cmd_keys_cmds[], cmd_ocsp_cmds[], cmd_crl_cmds[], cmd_acme_cmds[];

/* cmd_parse_long reads a whole decimal number. 1, or 0. */
int cmd_parse_long(const char *s, long *out);

/* cmd_fail prints "revd: msg" on cli->err and returns 1; cmd_failf the
 * same, formatted; cmd_usage_fail adds a usage line and returns 2. */
int cmd_fail(struct cli *cli, const char *msg);
int cmd_usage_fail(struct cli *cli, const char *msg);
__attribute__((format(printf, 2, 3))) int cmd_failf(struct cli *cli, const char *fmt, ...);

/* cmd_resolve: a file argument of a forwarded command, taken from the
 * client's directory (buf holds the result when it needs one). */
const char *cmd_resolve(struct cli *cli, const char *path, char buf[PATH_MAX]);

/* cmd_open_core: the server's core (cli->core), or DIR opened (create: made
 * when missing) with the environment's passphrase; *owned says whether
 * cmd_close_core frees it. 1, or 0 (said on cli->err). */
int cmd_open_core(struct cli *cli, struct opts *o, int create, struct ca_core **out, int *owned);
void cmd_close_core(struct ca_core *c, int owned);

/* cmd_parse_serial reads --serial (hex, at most 20 octets) into s. 1, or 0 (said). */
int cmd_parse_serial(struct cli *cli, struct opts *o, uint8_t *s, size_t *len);

#endif
