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
#include "ocsp/table.h"
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
    const struct gen *gen; /* the last published: read-only here, freed by the server */
};

/* Overlays are folded into their base (bytes copied, nothing re-signed)
 * once they pass this size or an eighth of the base. */
#define OVERLAY_FOLD_MIN 1024

/* A generation for what changed: the certificates whose status changed get
 * their responses re-signed into their CA's overlay; a new CA or a bulk
 * import re-signs everything. NULL (e set) on failure; *none when nothing
 * changed. */
static struct gen *next_gen(struct serve_state *st, int *none, struct rerr *e) {
    struct ca_change *ch;
    size_t n;
    *none = 0;
    int full = ca_take_changes(st->core, &ch, &n);
    struct gen *g = NULL;
    if (full) {
        free(ch);
        return ca_ocsp_gen(st->core, SERVE_VALIDITY_S, &g, e) ? g : NULL;
    }
    if (n == 0) {
        *none = 1;
        free(ch);
        return NULL;
    }
    g = gen_clone(st->gen);
    if (g == NULL) {
        free(ch);
        rerr_set(e, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < g->num; i++) {
        struct gen_ca *gc = &g->cas[i];
        size_t k = 0;
        while (k < n && strcmp(ch[k].ca, gc->name) != 0) k++;
        if (k == n) continue; /* no change for this CA */
        struct ocsp_table *over;
        if (!ca_ocsp_overlay(st->core, gc->name, gc->overlay, ch, n, SERVE_VALIDITY_S, &over, e)) {
            free(ch);
            gen_free(g);
            return NULL;
        }
        ocsp_table_free(gc->overlay);
        gc->overlay = over;
        size_t fold = ocsp_table_count(gc->table) / 8;
        if (ocsp_table_count(over) > (fold > OVERLAY_FOLD_MIN ? fold : OVERLAY_FOLD_MIN)) {
            struct ocsp_table *merged = ocsp_table_merge(gc->table, over);
            if (merged != NULL) {
                ocsp_table_free(gc->table);
                ocsp_table_free(gc->overlay);
                gc->table = merged;
                gc->overlay = NULL;
            }
        }
    }
    free(ch);
    return g;
}

/* After a command made through the socket, and before its client hears
 * back, the shards get what it changed. */
static void after_command(void *arg, int argc, char **argv, int status) {
    struct serve_state *st = arg;
    if (st->srv == NULL) return;
    struct rerr e;
    int none;
    struct gen *g = next_gen(st, &none, &e);
    if (none) return;
    if (g == NULL) {
        fprintf(stderr, "revd: re-signing after '%s' failed, still serving the previous responses: %s\n",
                argc > 0 ? argv[0] : "?", e.msg);
        return;
    }
    server_publish(st->srv, g);
    st->gen = g;
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
    struct serve_state st = {NULL, NULL, NULL};
    if (!ca_core_open(dir, 0, &st.core, &e)) {
        fprintf(stderr, "revd: %s\n", e.msg);
        return 1;
    }
    if (cfg.listen != NULL) {
        struct gen *g;
        struct ca_change *ch;
        size_t n;
        ca_take_changes(st.core, &ch, &n); /* what opening did is in the first generation */
        free(ch);
        if (!ca_ocsp_gen(st.core, SERVE_VALIDITY_S, &g, &e) || (st.srv = server_start(&cfg, g, &e)) == NULL) {
            fprintf(stderr, "revd: %s\n", e.msg);
            ca_core_free(st.core);
            return 1;
        }
        st.gen = g;
        /* Responders created while building it are in it already. */
        ca_take_changes(st.core, &ch, &n);
        free(ch);
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
