/* store: ACME objects as JSON in the index (acme/store.h). */
#include "acme/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ca/ca.h"
#include "common/b64url.h"

#define NS "acme"

void acme_new_id(char out[ACME_ID_LEN + 1]) {
    uint8_t raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) abort(); /* no entropy: no safe id */
    b64url_encode(raw, sizeof(raw), out, ACME_ID_LEN + 1);
}

static int make_key(char *out, size_t size, const char *kind, const char *id) {
    int n = snprintf(out, size, "%s/%s", kind, id);
    return n > 0 && (size_t)n < size;
}

json_t *acme_load(struct ca_core *c, const char *kind, const char *id, struct rerr *e) {
    char key[CA_REC_KEY_MAX + 1];
    e->msg[0] = '\0';
    if (!make_key(key, sizeof(key), kind, id)) return NULL; /* no such object */
    uint8_t *v = NULL;
    size_t vl = 0;
    int r = ca_rec_get(c, NS, key, &v, &vl, e);
    if (r <= 0) return NULL;
    json_error_t je;
    json_t *o = json_loadb((const char *)v, vl, 0, &je);
    free(v);
    if (!json_is_object(o)) {
        json_decref(o);
        rerr_set(e, "the index's ACME record %s is damaged", key);
        return NULL;
    }
    return o;
}

struct scan {
    int (*cb)(void *arg, const char *id, json_t *obj);
    void *arg;
    size_t skip;
};

static int scan_row(void *arg, const char *key, size_t key_len, const uint8_t *val, size_t len) {
    struct scan *s = arg;
    json_error_t je;
    json_t *o = json_loadb((const char *)val, len, 0, &je);
    int go = 1;
    if (json_is_object(o)) go = s->cb(s->arg, key + s->skip, o);
    json_decref(o);
    return go;
}

int acme_scan(struct ca_core *c, const char *kind, const char *prefix,
              int (*cb)(void *arg, const char *id, json_t *obj), void *arg, struct rerr *e) {
    char key[CA_REC_KEY_MAX + 1];
    if (!make_key(key, sizeof(key), kind, prefix)) return rerr_set(e, "ACME scan prefix too long");
    struct scan s = {cb, arg, strlen(kind) + 1};
    return ca_rec_scan(c, NS, key, scan_row, &s, e);
}

void acme_txn_init(struct acme_txn *t) { memset(t, 0, sizeof(*t)); }

static char *keep(struct acme_txn *t, char *buf) {
    if (buf == NULL) {
        t->failed = 1;
        return NULL;
    }
    char **nb = realloc(t->bufs, (t->nbufs + 1) * sizeof(*nb));
    if (nb == NULL) {
        free(buf);
        t->failed = 1;
        return NULL;
    }
    t->bufs = nb;
    t->bufs[t->nbufs++] = buf;
    return buf;
}

static void add(struct acme_txn *t, const char *kind, const char *id, char *val) {
    char key[CA_REC_KEY_MAX + 1];
    if (!make_key(key, sizeof(key), kind, id)) t->failed = 1;
    char *k = t->failed ? NULL : keep(t, strdup(key));
    if (k == NULL) {
        free(val);
        t->failed = 1;
        return;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct ca_rec_put *np = realloc(t->puts, cap * sizeof(*np));
        if (np == NULL) {
            free(val);
            t->failed = 1;
            return;
        }
        t->puts = np;
        t->cap = cap;
    }
    struct ca_rec_put *p = &t->puts[t->n++];
    p->key = k;
    p->val = val != NULL ? keep(t, val) : NULL;
    p->len = val != NULL ? strlen(val) : 0;
    if (val != NULL && p->val == NULL) t->failed = 1;
}

void acme_txn_put(struct acme_txn *t, const char *kind, const char *id, const json_t *obj) {
    char *v = json_dumps(obj, JSON_COMPACT);
    if (v == NULL) {
        t->failed = 1;
        return;
    }
    add(t, kind, id, v);
}

void acme_txn_del(struct acme_txn *t, const char *kind, const char *id) { add(t, kind, id, NULL); }

void acme_txn_abort(struct acme_txn *t) {
    for (size_t i = 0; i < t->nbufs; i++) free(t->bufs[i]);
    free(t->bufs);
    free(t->puts);
    memset(t, 0, sizeof(*t));
}

int acme_txn_commit(struct ca_core *c, struct acme_txn *t, const char *op, const char *ca, json_t *params,
                    struct rerr *e) {
    int ok;
    if (t->failed) {
        json_decref(params);
        ok = rerr_set(e, "out of memory");
    } else {
        ok = ca_rec_write(c, NS, t->puts, t->n, op, ca, params, 1, e);
    }
    acme_txn_abort(t);
    return ok;
}
