/* ctl: the Unix socket DIR/revd.sock through which the command line
 * reaches a running `revd serve` (RocksDB has one writer: the server).
 * The client side (ctl_forward) sends a command and copies its answer; the
 * serving side (ctl_serve) runs each command through the runner cmd/
 * registers (ctl_set_runner: node/ knows no command), one at a time, on
 * the CA-core thread's event loop, and catches SIGTERM, SIGINT and SIGHUP.
 *
 * Returns: exit statuses (0 done, 1 failed, 2 usage), -1 where said.
 * Thread: ctl_forward any; the rest the main thread, which becomes the
 * CA-core thread (the signal state and the runner are the process's). */
#ifndef REVD_NODE_CTL_H
#define REVD_NODE_CTL_H

#include <stdio.h>

/* ctl: the Unix socket of a running `revd serve`, in DIR. */
#define CTL_SOCKET_NAME "revd.sock"

struct ca_core;
struct event_base;

/* ctl_runner runs one forwarded command on core: argv (argv[0] the command
 * word after "revd"), its output to out and err, relative file names taken
 * from cwd (absolute). Returns the exit status. */
typedef int (*ctl_runner)(struct ca_core *core, FILE *out, FILE *err, const char *cwd, int argc, char **argv);

/* ctl_set_runner sets what runs forwarded commands (cmd/revd.c, at start).
 * Without one, a forwarded command fails (exit status 1). */
void ctl_set_runner(ctl_runner run);

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
int ctl_serve(struct ca_core *core, const char *dir, FILE *err,
              void (*after)(void *arg, int argc, char **argv, int status), int (*tick)(void *arg), void *arg,
              struct event_base *base);

/* ctl_take_hup: whether SIGHUP came since the last call (ctl_serve
 * catches it and wakes up to run tick at once). */
int ctl_take_hup(void);

/* ctl_command_started: rtime_mono() seconds when the command being
 * answered (or the last one) was received. */
double ctl_command_started(void);

#endif
