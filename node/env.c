/* env: what a local process brings to revd (node/env.h). */
#include "node/env.h"

#include <openssl/crypto.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/pkcs11.h"
#include "common/fsutil.h"

/* env_wipe removes name from the environment and overwrites "NAME=value"
 * where it lies: unsetenv alone only unlinks it from environ, and
 * /proc/PID/environ (the environment block the process started with) would
 * go on showing it to the user's other processes, and a core dump would
 * hold it. glibc never frees an environment string, so writing it is safe. */
static void env_wipe(const char *name) {
    char *v = getenv(name);
    if (v == NULL) return;
    size_t nl = strlen(name), vl = strlen(v);
    char *entry = v - nl - 1; /* "NAME=" comes right before the value */
    unsetenv(name);
    if (memcmp(entry, name, nl) == 0 && entry[nl] == '=') OPENSSL_cleanse(entry, nl + 1 + vl);
    else OPENSSL_cleanse(v, vl);
}

int env_passphrase(struct ca_core *c, struct rerr *e) {
    const char *file = getenv("REVD_KEY_PASSPHRASE_FILE"), *value = getenv("REVD_KEY_PASSPHRASE");
    int ok = 1;
    if (file != NULL && file[0] != '\0') {
        uint8_t *p;
        size_t n;
        struct rerr fe;
        if (!fs_read_file(file, 1026, &p, &n, &fe)) {
            ok = rerr_set(e, "REVD_KEY_PASSPHRASE_FILE: %s", fe.msg);
        } else {
            ok = ca_set_passphrase(c, (const char *)p, n, e);
            OPENSSL_cleanse(p, n);
            free(p);
        }
    } else if (value != NULL && value[0] != '\0') {
        ok = ca_set_passphrase(c, value, strlen(value), e);
    }
    /* Read once, kept in the core (cleansed when it is freed): not left in
     * /proc/PID/environ for the process's life. */
    env_wipe("REVD_KEY_PASSPHRASE");
    if (!ok) return 0;
    /* Keys in a PKCS#11 token: the module, and the user PIN. */
    const char *module = getenv("REVD_PKCS11_MODULE"), *pinfile = getenv("REVD_PKCS11_PIN_FILE");
    const char *pin = getenv("REVD_PKCS11_PIN");
    if (module != NULL && module[0] == '\0') module = NULL;
    if (pinfile != NULL && pinfile[0] != '\0') {
        uint8_t *p;
        size_t n;
        struct rerr fe;
        if (!fs_read_file(pinfile, PKCS11_PIN_MAX + 2, &p, &n, &fe)) {
            ok = rerr_set(e, "REVD_PKCS11_PIN_FILE: %s", fe.msg);
        } else {
            ok = ca_set_pkcs11(c, module, (const char *)p, n, e);
            OPENSSL_cleanse(p, n);
            free(p);
        }
    } else if (pin != NULL && pin[0] != '\0') {
        ok = ca_set_pkcs11(c, module, pin, strlen(pin), e);
    } else {
        ok = module == NULL || ca_set_pkcs11(c, module, NULL, 0, e);
    }
    env_wipe("REVD_PKCS11_PIN"); /* as the passphrase */
    return ok;
}

void env_local_user(unsigned uid, char *out, size_t size) {
    struct passwd pw, *r = NULL;
    char buf[1024];
    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &r) == 0 && r != NULL)
        snprintf(out, size, "uid:%u(%.64s)", uid, r->pw_name);
    else
        snprintf(out, size, "uid:%u", uid);
}

const char *env_dir_from_args(int argc, char **argv) {
    /* As getopt_long reads it: the last --dir wins, and "--di" is the
     * shortest unambiguous abbreviation. */
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) break;
        if (strcmp(a, "--di") == 0 || strcmp(a, "--dir") == 0) {
            if (i + 1 < argc) dir = argv[++i];
        } else if (strncmp(a, "--di=", 5) == 0) {
            dir = a + 5;
        } else if (strncmp(a, "--dir=", 6) == 0) {
            dir = a + 6;
        }
    }
    if (dir != NULL) return dir;
    const char *env = getenv("REVD_DIR");
    return env && *env ? env : "./revd-data";
}
