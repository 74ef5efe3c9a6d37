/* cli: revd's commands, run the same way from the shell and inside
 * `revd serve` for a command forwarded over its Unix socket.
 *
 * Thread: the caller's; one command at a time per struct cli. */
#ifndef REVD_CMD_CLI_H
#define REVD_CMD_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "common/rerr.h"

struct ca_core;

struct cli {
    FILE *out, *err;     /* where the command writes; not owned */
    const char *cwd;     /* relative file arguments are taken from here */
    struct ca_core *core; /* set by `revd serve`; NULL: the command opens DIR */
};

/* cli_run runs argv (argv[0] is the command word after "revd") and returns
 * the exit status: 0 done, 1 failed (one line on err), 2 usage error. */
int cli_run(struct cli *cli, int argc, char **argv);

/* cli_usage prints the top-level help. */
void cli_usage(FILE *f);

/* cli_local_user writes "uid:N(name)" for uid into out (the principal of a
 * local command in the audit log). */
void cli_local_user(unsigned uid, char *out, size_t size);

/* cli_passphrase gives c the key passphrase from $REVD_KEY_PASSPHRASE_FILE
 * (a file holding it; a final newline is dropped) or $REVD_KEY_PASSPHRASE,
 * and the PKCS#11 module and PIN from $REVD_PKCS11_MODULE and
 * $REVD_PKCS11_PIN_FILE (or $REVD_PKCS11_PIN); 1 when there is none or they
 * were set, 0 with e set. */
int cli_passphrase(struct ca_core *c, struct rerr *e);

/* cli_dir_from_args finds --dir in argv, else $REVD_DIR, else ./revd-data. */
const char *cli_dir_from_args(int argc, char **argv);

/* ctl: the Unix socket of a running `revd serve` (cmd/ctl.c). */
#define CTL_SOCKET_NAME "revd.sock"

/* ctl_forward sends argv to the server on DIR's socket and copies its output.
 * Returns the command's exit status, or -1 when no server answers there. */
int ctl_forward(const char *dir, int argc, char **argv);

/* ctl_serve answers forwarded commands on base (the CA-core thread's
 * event loop, which may carry other listeners: the admin API) until
 * SIGTERM or SIGINT. After each command, before its exit status is sent, it
 * calls after(arg, argc, argv, status) when after is not NULL (the server
 * publishes what changed there). Between commands it calls tick(arg) when
 * tick is not NULL, again after at most the milliseconds tick returns (0 to
 * 1000), and at once after a command or SIGHUP. Returns the exit status of
 * `revd serve`. */
struct event_base;
int ctl_serve(struct ca_core *core, const char *dir, FILE *err,
              void (*after)(void *arg, int argc, char **argv, int status), int (*tick)(void *arg), void *arg,
              struct event_base *base);

/* ctl_take_hup: whether SIGHUP came since the last call (ctl_serve
 * catches it and wakes up to run tick at once). */
int ctl_take_hup(void);

/* ctl_command_started: CLOCK_MONOTONIC seconds when the command being
 * answered (or the last one) was received. */
double ctl_command_started(void);

/* serve_run is `revd serve` (cmd/serve.c); argv[0] is "serve". Main
 * thread, which becomes the CA-core thread. */
int serve_run(int argc, char **argv);

/* demo_run is `revd demo` (cmd/demo.c). */
int demo_run(struct cli *cli, int argc, char **argv);

#endif
