/* revd: the program's entry point. Commands run here, or are forwarded to a
 * `revd serve` that holds DIR (the index has a single writer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/responder.h"
#include "ocsp/gen.h"
#include "shard/server.h"
#include "cmd/cli.h"

static int has_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

/* The response validity of the first serving version (issue #3 makes it
 * configurable, 8 h to 7 days). */
#define SERVE_VALIDITY_S (4 * 86400)

struct serve_state {
    struct ca_core *core;
    struct server *srv;
};

/* After a command that changed the index, the shards get a new generation
 * before the command's client hears back. This first version re-signs every
 * response (docs/ocsp.md: the overlay of re-signed responses replaces it). */
static void after_command(void *arg, int argc, char **argv, int status) {
    struct serve_state *st = arg;
    if (st->srv == NULL || status != 0 || argc < 1) return;
    static const char *const readers[] = {"status", "report", "log", "list", "show", "--help", "respond", "precompute"};
    const char *word = strcmp(argv[0], "ca") == 0 || strcmp(argv[0], "ocsp") == 0 ? (argc > 1 ? argv[1] : "") : argv[0];
    for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
        if (strcmp(word, readers[i]) == 0) return;
    struct rerr e;
    struct gen *g;
    if (!ca_ocsp_gen(st->core, SERVE_VALIDITY_S, &g, &e)) {
        fprintf(stderr, "revd: re-signing after '%s' failed, still serving the previous responses: %s\n", word, e.msg);
        return;
    }
    server_publish(st->srv, g);
}

static int run_serve(int argc, char **argv) {
    const char *dir = cli_dir_from_args(argc, argv);
    struct server_config cfg = {.listen = NULL, .threads = 0, .max_age = 3600};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: revd serve [--dir DIR] [--listen ADDRESS:PORT] [--threads N]\n\n"
                   "Holds DIR and answers the other commands over DIR/revd.sock (mode 0600), so\n"
                   "that they keep working while it runs. With --listen, it also answers OCSP\n"
                   "(POST /ocsp, GET /ocsp/{base64}), /ca/NAME.der and /healthz over HTTP on N\n"
                   "shards (default: one per core) from responses signed at start (4 days) and\n"
                   "re-signed after every change made through the socket. SIGTERM or SIGINT\n"
                   "stops it.\n");
            return 0;
        }
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) i++;
        else if (strncmp(argv[i], "--dir=", 6) == 0) continue;
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) cfg.listen = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 256) {
                fprintf(stderr, "revd: --threads must be 1 to 256\nusage: revd serve [--dir DIR] [--listen ADDRESS:PORT] [--threads N]\n");
                return 2;
            }
            cfg.threads = (int)n;
        } else {
            fprintf(stderr, "revd: unknown option '%s'\nusage: revd serve [--dir DIR] [--listen ADDRESS:PORT] [--threads N]\n", argv[i]);
            return 2;
        }
    }
    struct rerr e;
    struct serve_state st = {NULL, NULL};
    if (!ca_core_open(dir, 0, &st.core, &e)) {
        fprintf(stderr, "revd: %s\n", e.msg);
        return 1;
    }
    if (cfg.listen != NULL) {
        struct gen *g;
        if (!ca_ocsp_gen(st.core, SERVE_VALIDITY_S, &g, &e) || (st.srv = server_start(&cfg, g, &e)) == NULL) {
            fprintf(stderr, "revd: %s\n", e.msg);
            ca_core_free(st.core);
            return 1;
        }
        fprintf(stderr, "revd: answering OCSP on http://%s\n", cfg.listen);
    }
    int rc = ctl_serve(st.core, dir, stderr, after_command, &st);
    server_stop(st.srv);
    ca_core_free(st.core);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0) return run_serve(argc - 1, argv + 1);
    struct cli cli = {.out = stdout, .err = stderr, .cwd = NULL, .core = NULL, .forwarded = 0};
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
