/* keys: `revd keys status|encrypt|rekey`: private keys at rest (docs/keys.md). */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "ca/ca.h"
#include "ca/keyfile.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"

/* ---- keys: encryption at rest ---- */

struct key_status {
    FILE *out;
    size_t encrypted, plain, token;
};

static int key_status_line(void *arg, const char *path) {
    struct key_status *ks = arg;
    int r = keyfile_encrypted(path);
    fprintf(ks->out, "%-10s %s\n", r == 1 ? "encrypted" : r == 2 ? "token" : r == 0 ? "PLAIN" : "unreadable", path);
    if (r == 1) ks->encrypted++;
    else if (r == 2) ks->token++;
    else ks->plain++;
    return 1;
}

static int run_keys_status(struct cli *cli, struct opts *o, const char *pos) {
    struct key_status ks = {cli->out, 0, 0, 0};
    keyfile_each(o->dir, key_status_line, &ks);
    if (ks.token > 0) fprintf(cli->out, "%zu encrypted, %zu in a PKCS#11 token, %zu not\n", ks.encrypted, ks.token, ks.plain);
    else fprintf(cli->out, "%zu encrypted, %zu not\n", ks.encrypted, ks.plain);
    return 0;
}

static int run_keys_encrypt(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    size_t done, already;
    int ok = ca_encrypt_keys(c, &done, &already, &e);
    if (ok) fprintf(cli->out, "%zu keys encrypted, %zu were already\n", done, already);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_keys_rekey(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    uint8_t *p;
    size_t n;
    struct rerr e;
    if (!fs_read_file(cmd_resolve(cli, o->newpass, buf), 1026, &p, &n, &e)) return cmd_fail(cli, e.msg);
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) {
        OPENSSL_cleanse(p, n);
        free(p);
        return 1;
    }
    size_t done;
    int ok = ca_rekey(c, (const char *)p, n, &done, &e);
    OPENSSL_cleanse(p, n);
    free(p);
    if (ok)
        fprintf(cli->out, "%zu keys now open with the new passphrase: give it from now on (REVD_KEY_PASSPHRASE_FILE)\n",
                done);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_none[] = {0};
static const int a_rekey[] = {O_NEWPASS, 0};

const struct cmd cmd_keys_cmds[] = {
    {"status", "revd keys status", "Lists the private key files of DIR (keys/, admin/): encrypted, PLAIN, or token\n(a reference to a key in a PKCS#11 token).\n", a_none,
     run_keys_status, 0, 0, 0},
    {"rekey", "revd keys rekey --new-passphrase-file FILE",
     "Rewrites every private key file of DIR (not references to keys in a PKCS#11\n"
     "token) encrypted with the passphrase in FILE, reading\n"
     "them with the current one ($REVD_KEY_PASSPHRASE_FILE, or none for plain keys).\n"
     "Each file is replaced atomically; a run cut short is finished by running it\n"
     "again with the same two passphrases. Through a running server, the server's\n"
     "current passphrase is used and the new one is its own from then on.\n",
     a_rekey, run_keys_rekey, 0, 0, 0},
    {"encrypt", "revd keys encrypt",
     "Rewrites every plain private key of DIR encrypted with the passphrase of\n"
     "$REVD_KEY_PASSPHRASE_FILE (or $REVD_KEY_PASSPHRASE): PKCS#8, PBKDF2-HMAC-SHA256,\n"
     "AES-256-CBC. From then on revd needs the passphrase to sign (docs/keys.md).\n",
     a_none, run_keys_encrypt, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
