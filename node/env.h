/* env: what a local process brings to revd from its command line, its
 * environment and its user: the data directory (--dir, $REVD_DIR), the
 * key passphrase and PKCS#11 PIN ($REVD_KEY_PASSPHRASE..., read once and
 * wiped from the environment), and the principal a local command is
 * recorded as in the audit log. Used by the command line (cmd/) and by
 * `revd serve` (node/serve.c, node/ctl.c).
 *
 * Returns: 1/0 with e set (env_passphrase); strings through out.
 * Thread: the main thread (env_passphrase changes the environment);
 * env_local_user any thread. */
#ifndef REVD_NODE_ENV_H
#define REVD_NODE_ENV_H

#include <stddef.h>

#include "common/rerr.h"

struct ca_core;

/* env_dir_from_args finds --dir in argv (argv[0] is the command word, as
 * getopt_long reads it: the last wins, --di abbreviates it), else
 * $REVD_DIR, else ./revd-data. The string is argv's or the environment's. */
const char *env_dir_from_args(int argc, char **argv);

/* env_passphrase gives c the key passphrase from $REVD_KEY_PASSPHRASE_FILE
 * (a file holding it; a final newline is dropped) or $REVD_KEY_PASSPHRASE,
 * and the PKCS#11 module and PIN from $REVD_PKCS11_MODULE and
 * $REVD_PKCS11_PIN_FILE (or $REVD_PKCS11_PIN); 1 when there is none or they
 * were set, 0 with e set. */
int env_passphrase(struct ca_core *c, struct rerr *e);

/* env_local_user writes "uid:N(name)" for uid into out (the principal of a
 * local command in the audit log). */
void env_local_user(unsigned uid, char *out, size_t size);

#endif
