/* rec: the front ends' records in the index ('A' keys; ca/ca.h ca_rec_*).
 *
 * Key: 'A', the namespace, a NUL, the record's key. The values are the
 * caller's bytes: the CA core neither reads nor checks them. A write is one
 * atomic batch, with its audit-log record when the caller names an
 * operation, so that what the log says happened is exactly what the index
 * holds. CA-core thread. */
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "ca/core.h"
#include "ca/oplog.h"
#include "ca/store.h"

#define K_REC 'A'
#define NS_MAX 16

/* rec_key builds the key into out (CA_REC_KEY_MAX + NS_MAX + 2 bytes);
 * returns its length, or 0 when ns or key is empty or too long. */
static size_t rec_key(uint8_t *out, const char *ns, const char *key, size_t key_len) {
    size_t nl = strlen(ns);
    if (nl == 0 || nl > NS_MAX || key_len > CA_REC_KEY_MAX || memchr(ns, '\0', nl) != NULL) return 0;
    out[0] = K_REC;
    memcpy(out + 1, ns, nl);
    out[1 + nl] = '\0';
    memcpy(out + 2 + nl, key, key_len);
    return 2 + nl + key_len;
}

int ca_rec_get(struct ca_core *c, const char *ns, const char *key, uint8_t **val, size_t *len, struct rerr *e) {
    uint8_t k[CA_REC_KEY_MAX + NS_MAX + 2];
    size_t kl = rec_key(k, ns, key, strlen(key));
    if (kl == 0) {
        rerr_set(e, "record key '%.40s' in '%.20s' is empty or too long", key, ns);
        return -1;
    }
    return store_get(c->st, k, kl, val, len, e);
}

int ca_rec_write(struct ca_core *c, const char *ns, const struct ca_rec_put *puts, size_t n, const char *audit_op,
                 const char *audit_ca, json_t *audit_params, int sync, struct rerr *e) {
    struct store_batch *b = store_batch_new();
    if (b == NULL) {
        json_decref(audit_params);
        return rerr_set(e, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t k[CA_REC_KEY_MAX + NS_MAX + 2];
        size_t kl = rec_key(k, ns, puts[i].key, strlen(puts[i].key));
        if (kl == 0 || (puts[i].val != NULL && puts[i].len > CA_REC_VALUE_MAX)) {
            store_batch_free(b);
            json_decref(audit_params);
            return rerr_set(e, "record '%.40s' in '%.20s': key or value too long", puts[i].key, ns);
        }
        if (puts[i].val != NULL) store_batch_put(b, k, kl, puts[i].val, puts[i].len);
        else store_batch_delete(b, k, kl);
    }
    int ok;
    if (audit_op != NULL) {
        oplog_add(c, b, audit_op, audit_ca, NULL, 0, audit_params, "ok");
        ok = oplog_commit(c, b, e);
    } else {
        json_decref(audit_params);
        ok = store_write(c->st, b, sync, e);
    }
    store_batch_free(b);
    return ok;
}

int ca_rec_scan(struct ca_core *c, const char *ns, const char *prefix,
                int (*cb)(void *arg, const char *key, size_t key_len, const uint8_t *val, size_t len), void *arg,
                struct rerr *e) {
    uint8_t k[CA_REC_KEY_MAX + NS_MAX + 2];
    size_t pl = rec_key(k, ns, prefix, strlen(prefix));
    size_t skip = 2 + strlen(ns);
    if (pl == 0) return rerr_set(e, "record prefix '%.40s' in '%.20s' is too long", prefix, ns);
    struct store_iter *it = store_iter_new(c->st, k, pl, NULL, 0);
    if (it == NULL) return rerr_set(e, "out of memory");
    const uint8_t *kk, *v;
    size_t kkl, vl;
    int go = 1;
    while (go && store_iter_next(it, &kk, &kkl, &v, &vl)) {
        char key[CA_REC_KEY_MAX + 1];
        size_t l = kkl - skip;
        if (l > CA_REC_KEY_MAX) continue;
        memcpy(key, kk + skip, l);
        key[l] = '\0';
        go = cb(arg, key, l, v, vl);
    }
    store_iter_free(it);
    return 1;
}
