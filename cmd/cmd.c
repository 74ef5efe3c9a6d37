/* cmd: the helpers the command files share (cmd/cmd.h). */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "common/hex.h"
#include "node/env.h"

int cmd_parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return 0;
    *out = v;
    return 1;
}

int cmd_fail(struct cli *cli, const char *msg) {
    fprintf(cli->err, "revd: %s\n", msg);
    return 1;
}

/* A usage error found after option parsing: exit 2 with a usage line. */
int cmd_usage_fail(struct cli *cli, const char *msg) {
    fprintf(cli->err, "revd: %s\nusage: see revd --help\n", msg);
    return 2;
}

int cmd_failf(struct cli *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(cli->err, "revd: ");
    vfprintf(cli->err, fmt, ap);
    fprintf(cli->err, "\n");
    va_end(ap);
    return 1;
}

/* resolve: a file argument of a forwarded command is taken from the
 * client's directory. A name too long for that is passed on as it is, and
 * the open then fails naming it. */
const char *cmd_resolve(struct cli *cli, const char *path, char buf[PATH_MAX]) {
    if (path[0] == '/' || cli->cwd == NULL) return path;
    int n = snprintf(buf, PATH_MAX, "%s/%s", cli->cwd, path);
    if (n < 0 || n >= PATH_MAX) return path;
    return buf;
}

int cmd_open_core(struct cli *cli, struct opts *o, int create, struct ca_core **out, int *owned) {
    if (cli->core != NULL) {
        *out = cli->core;
        *owned = 0;
        return 1;
    }
    struct rerr e;
    if (!ca_core_open(o->dir, create, out, &e)) return cmd_fail(cli, e.msg) - 1;
    if (!env_passphrase(*out, &e)) {
        ca_core_free(*out);
        return cmd_fail(cli, e.msg) - 1;
    }
    *owned = 1;
    char who[96], from[32];
    env_local_user(getuid(), who, sizeof(who));
    snprintf(from, sizeof(from), "cli pid=%ld", (long)getpid());
    ca_set_actor(*out, who, from);
    return 1;
}

int cmd_parse_serial(struct cli *cli, struct opts *o, uint8_t *s, size_t *len) {
    if (!hex_parse_serial(o->serial, s, len))
        return cmd_failf(cli, "--serial '%.80s' is not a positive hex serial of at most 20 octets", o->serial) - 1;
    return 1;
}

void cmd_close_core(struct ca_core *c, int owned) {
    if (owned) ca_core_free(c);
}
