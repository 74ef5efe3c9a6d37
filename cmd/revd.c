/* revd: the program's entry point. Commands run here, or are forwarded to a
 * `revd serve` that holds DIR (the index has a single writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "cmd/cli.h"
#include "node/ctl.h"
#include "node/env.h"

static int has_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

/* protect_process: every command may hold a decrypted CA key (and the
 * passphrase or PIN): no core file (RLIMIT_CORE 0, soft and hard), and not
 * dumpable, so another process of the same user cannot ptrace it or read
 * its memory through /proc/PID/mem, and its /proc/PID files belong to root.
 * REVD_DEBUG_DUMPABLE=1 keeps both as they were, to debug a crash
 * (docs/keys.md). */
static void protect_process(void) {
    const char *d = getenv("REVD_DEBUG_DUMPABLE");
    if (d != NULL && strcmp(d, "1") == 0) return;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* run_forwarded runs a command forwarded to `revd serve` over its control
 * socket (node/ctl.c calls it, on the CA-core thread, with the server's core). */
static int run_forwarded(struct ca_core *core, FILE *out, FILE *err, const char *cwd, int argc, char **argv) {
    struct cli cli = {.out = out, .err = err, .cwd = cwd, .core = core};
    return cli_run(&cli, argc, argv);
}

int main(int argc, char **argv) {
    protect_process();
    ctl_set_runner(run_forwarded);
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    struct cli cli = {.out = stdout, .err = stderr, .cwd = NULL, .core = NULL};
    const char *cmd = argv[1];
    int local_only = strcmp(cmd, "demo") == 0 || strcmp(cmd, "--help") == 0 ||
                     strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0 || has_help(argc, argv);
    if (!local_only) {
        const char *dir = env_dir_from_args(argc - 1, argv + 1);
        char sock[4096];
        struct stat st;
        snprintf(sock, sizeof(sock), "%s/%s", dir, CTL_SOCKET_NAME);
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
            int r = ctl_forward(dir, argc - 1, argv + 1);
            if (r >= 0) return r;
        }
    }
    int r = cli_run(&cli, argc - 1, argv + 1);
    fflush(stdout);
    return r;
}
