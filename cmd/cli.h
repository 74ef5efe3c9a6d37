/* cli: revd's commands, run the same way from the shell and inside
 * `revd serve` for a command forwarded over its Unix socket.
 *
 * Thread: the caller's; one command at a time per struct cli. */
#ifndef REVD_CMD_CLI_H
#define REVD_CMD_CLI_H

#include <stdio.h>

#include "cmd/cmd.h" /* struct cli */

/* cli_run runs argv (argv[0] is the command word after "revd") and returns
 * the exit status: 0 done, 1 failed (one line on err), 2 usage error. */
int cli_run(struct cli *cli, int argc, char **argv);

/* cli_usage prints the top-level help. */
void cli_usage(FILE *f);

/* cmd_serve is `revd serve` (cmd/serve.c); argv[0] is "serve". Main
 * thread, which becomes the CA-core thread. */
int cmd_serve(int argc, char **argv);

/* demo_run is `revd demo` (cmd/demo.c). */
int demo_run(struct cli *cli, int argc, char **argv);

#endif
