/* open: a CA core opened on DIR (ca_core_open, its index and its CAs
 * loaded) and freed (ca_core_free): the top of the core's units, above the
 * CA record (ca/carec.c) and the operations log (ca/oplog.c) it loads. */
#include "ca/core.h"
#include "ca/responder.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ca/carec.h"
#include "ca/ikey.h"
#include "ca/chlog.h"
#include "ca/oplog.h"
#include "ca/pkcs11.h"
#include "ca/store.h"
#include "common/bytes.h"
#include "common/fsutil.h"

static int load_cas(struct ca_core *c, struct rerr *e) {
    uint8_t prefix = K_CA;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        json_error_t je;
        json_t *j = json_loadb((const char *)v, vl, 0, &je);
        struct ca *ca = j ? carec_decode(c, j, e) : NULL;
        json_decref(j);
        if (ca == NULL) {
            if (j == NULL) rerr_set(e, "index: a CA record is not JSON (%s)", je.text);
            ok = 0;
            break;
        }
        core_add_ca(c, ca);
    }
    store_iter_free(it);
    if (!ok) return 0;
    /* Creation order, for listing. */
    for (size_t i = 1; i < c->num_cas; i++)
        for (size_t j = i; j > 0 && c->cas[j - 1]->id > c->cas[j]->id; j--) {
            struct ca *t = c->cas[j];
            c->cas[j] = c->cas[j - 1];
            c->cas[j - 1] = t;
        }
    uint8_t meta[] = "mnext_ca_id";
    uint8_t *val;
    size_t len;
    int r = store_get(c->st, meta, sizeof(meta) - 1, &val, &len, e);
    if (r < 0) return 0;
    c->next_ca_id = 1;
    if (r == 1) {
        if (len == 4) c->next_ca_id = bytes_get_u32(val);
        free(val);
    }
    return oplog_load(c, e) && chlog_load(c, e);
}

int ca_core_open(const char *dir, int create, struct ca_core **out, struct rerr *e) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (!create)
            return rerr_set(e, "%s: no such directory (create a CA first: revd ca create-root)", dir);
        if (!fs_mkdirs(dir, 0700, e)) return 0;
    } else if (!S_ISDIR(st.st_mode)) {
        return rerr_set(e, "%s: not a directory", dir);
    }
    /* DIR holds the keys, the index and the control socket: ours alone,
     * made 0700 when it is looser (docs/index.md). */
    if (!fs_dir_check(dir, FS_TIGHTEN, e)) return 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/index", dir);
    if (!create && stat(path, &st) != 0)
        return rerr_set(e, "%s: no revd index here (create a CA first: revd ca create-root)", dir);
    struct ca_core *c = calloc(1, sizeof(*c));
    if (c == NULL) return rerr_set(e, "out of memory");
    c->dir = strdup(dir);
    c->events_fd = -1;
    c->backdate = CA_OCSP_BACKDATE_DEFAULT_S;
    if (!store_open(path, create, &c->st, e) || !load_cas(c, e)) {
        ca_core_free(c);
        return 0;
    }
    *out = c;
    return 1;
}

void ca_core_free(struct ca_core *c) {
    if (c == NULL) return;
    for (size_t i = 0; i < c->num_cas; i++) core_ca_free(c->cas[i]);
    free(c->cas);
    store_free(c->st);
    free(c->changes);
    free(c->dir);
    if (c->events_fd >= 0) close(c->events_fd);
    free(c->ev_pending);
    if (c->passphrase != NULL) {
        OPENSSL_cleanse(c->passphrase, c->passphrase_len);
        free(c->passphrase);
    }
    if (c->old_passphrase != NULL) {
        OPENSSL_cleanse(c->old_passphrase, c->old_passphrase_len);
        free(c->old_passphrase);
    }
    free(c->p11_module);
    if (c->p11_pin != NULL) {
        OPENSSL_cleanse(c->p11_pin, strlen(c->p11_pin));
        free(c->p11_pin);
    }
    if (c->p11_used) pkcs11_release(); /* after every key it loaded (the CAs above) */
    free(c);
}

