/* revd: the program's entry point. Commands run here, or are forwarded to a
 * `revd serve` that holds DIR (the index has a single writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "cmd/cli.h"

static int has_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0) return serve_run(argc - 1, argv + 1);
    struct cli cli = {.out = stdout, .err = stderr, .cwd = NULL, .core = NULL};
    const char *cmd = argv[1];
    int local_only = strcmp(cmd, "demo") == 0 || strcmp(cmd, "--help") == 0 ||
                     strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0 || has_help(argc, argv);
    if (!local_only) {
        const char *dir = cli_dir_from_args(argc - 1, argv + 1);
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
