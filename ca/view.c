/* view: the read-only index seam (ca/view.h), and the one write it lends:
 * stored OCSP responses. The records' encodings (crec, the keys) stay here
 * and in ca/ikey.h. */
#include "ca/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/serial.h"
#include "ca/store.h"
#include "common/bytes.h"


/* ---- certificate records and stored responses (ocsp/) ---- */

int ca_view_ca_get(const struct ca_core *c, const char *name, struct ca_view_ca *out, struct rerr *e) {
    const struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    out->id = ca->id;
    out->certificates = ca->issued + ca->imported;
    return 1;
}

int ca_view_ca_cert(const struct ca_core *c, const char *name, uint8_t **out, size_t *out_len, struct rerr *e) {
    const struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    int dl = i2d_X509(ca->cert, NULL);
    *out = dl > 0 ? malloc((size_t)dl) : NULL;
    if (*out == NULL) return rerr_set(e, "out of memory");
    uint8_t *q = *out;
    *out_len = (size_t)i2d_X509(ca->cert, &q);
    return 1;
}

static void view_of(const struct crec *r, struct ca_view_cert *out) {
    out->status = (enum cert_status)r->status; /* as stored: stored responses keep this octet */
    out->reason = r->reason;
    out->not_before = r->not_before;
    out->not_after = r->not_after;
    out->revoked_at = r->revoked_at;
}

enum ca_view_got ca_view_cert_get(struct ca_core *c, uint32_t ca_id, const uint8_t *serial, size_t serial_len,
                                  struct ca_view_cert *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    uint8_t key[KEY_MAX], *rec = NULL;
    size_t kl = ikey_cert(key, ca_id, serial, serial_len), rl;
    int got = store_get(c->st, key, kl, &rec, &rl, e);
    if (got < 0) return CA_VIEW_ERROR;
    if (got == 0) return CA_VIEW_NONE;
    struct crec r;
    enum ca_view_got res = crec_decode(rec, rl, &r) ? CA_VIEW_FOUND : CA_VIEW_DAMAGED;
    if (res == CA_VIEW_FOUND) view_of(&r, out);
    free(rec);
    return res;
}

struct ca_view_walk {
    char name[CA_NAME_MAX + 1];
    struct store_iter *it, *sit; /* certificates; stored responses (NULL: not asked) */
    const uint8_t *sk, *sv;      /* the stored record ahead of the walk */
    size_t skl, svl;
    int shave;
};

struct ca_view_walk *ca_view_walk_new(struct ca_core *c, const char *name, int with_stored, struct rerr *e) {
    const struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return NULL;
    struct ca_view_walk *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    snprintf(w->name, sizeof(w->name), "%s", ca->name);
    uint8_t prefix[5], sprefix[5];
    prefix[0] = K_CERT;
    bytes_put_u32(prefix + 1, ca->id);
    sprefix[0] = K_RESP;
    bytes_put_u32(sprefix + 1, ca->id);
    w->it = store_iter_new(c->st, prefix, 5, NULL, 0);
    /* The stored responses, walked beside the certificates (same order). */
    w->sit = with_stored ? store_iter_new(c->st, sprefix, 5, NULL, 0) : NULL;
    w->shave = w->sit != NULL && store_iter_next(w->sit, &w->sk, &w->skl, &w->sv, &w->svl);
    return w;
}

/* Key order of two (len, serial) suffixes: the index's byte order. */
static int suffix_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

int ca_view_walk_next(struct ca_view_walk *w, struct ca_view_cert *out, const uint8_t **stored, size_t *stored_len,
                      struct rerr *e) {
    const uint8_t *k, *v;
    size_t kl, vl;
    *stored = NULL;
    *stored_len = 0;
    if (!store_iter_next(w->it, &k, &kl, &v, &vl)) return 0;
    struct crec r;
    if (kl < 7 || k[5] != kl - 6 || !crec_decode(v, vl, &r)) {
        rerr_set(e, "index: a certificate record of CA %s is damaged", w->name);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    view_of(&r, out);
    out->serial = k + 6;
    out->serial_len = kl - 6;
    /* Stored responses of certificates before this one have none (they
     * cannot be: records are not deleted); skip them. */
    while (w->shave && suffix_cmp(w->sk + 5, w->skl - 5, k + 5, kl - 5) < 0)
        w->shave = store_iter_next(w->sit, &w->sk, &w->skl, &w->sv, &w->svl);
    if (w->shave && suffix_cmp(w->sk + 5, w->skl - 5, k + 5, kl - 5) == 0) {
        *stored = w->sv;
        *stored_len = w->svl;
    }
    return 1;
}

void ca_view_walk_free(struct ca_view_walk *w) {
    if (w == NULL) return;
    store_iter_free(w->it);
    store_iter_free(w->sit);
    free(w);
}

struct ca_view_stored {
    struct ca_core *c;
    uint32_t ca_id;
    struct store_batch *b;
};

struct ca_view_stored *ca_view_stored_new(struct ca_core *c, uint32_t ca_id) {
    struct ca_view_stored *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->b = store_batch_new()) == NULL) {
        free(s);
        return NULL;
    }
    s->c = c;
    s->ca_id = ca_id;
    return s;
}

void ca_view_stored_put(struct ca_view_stored *s, const uint8_t *serial, size_t serial_len, const uint8_t *rec,
                        size_t rec_len) {
    uint8_t key[KEY_MAX];
    size_t kl = ikey_resp(key, s->ca_id, serial, serial_len);
    store_batch_put(s->b, key, kl, rec, rec_len);
}

void ca_view_stored_drop(struct ca_view_stored *s, const uint8_t *serial, size_t serial_len) {
    uint8_t key[KEY_MAX];
    size_t kl = ikey_resp(key, s->ca_id, serial, serial_len);
    store_batch_delete(s->b, key, kl);
}

size_t ca_view_stored_count(const struct ca_view_stored *s) { return store_batch_count(s->b); }

int ca_view_stored_write(struct ca_view_stored *s, struct rerr *e) {
    if (store_batch_count(s->b) == 0) return 1;
    int ok = store_write(s->c->st, s->b, 0, e);
    store_batch_clear(s->b);
    return ok;
}

void ca_view_stored_free(struct ca_view_stored *s) {
    if (s == NULL) return;
    store_batch_free(s->b);
    free(s);
}

int ca_bundle_pem(const struct ca_core *c, const char *name, char **out_pem, int *num, struct rerr *e) {
    *out_pem = NULL;
    const struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    if (ca->cert_pem == NULL) return rerr_set(e, "CA %s is pending (it has no certificate yet)", name);
    const char *chain = ca->chain_pem ? ca->chain_pem : "";
    size_t n1 = strlen(ca->cert_pem), n2 = strlen(chain);
    char *s = malloc(n1 + n2 + 1);
    if (s == NULL) return rerr_set(e, "out of memory");
    memcpy(s, ca->cert_pem, n1);
    memcpy(s + n1, chain, n2 + 1);
    int k = 0;
    for (const char *q = s; (q = strstr(q, "-----BEGIN CERTIFICATE-----")) != NULL; q++) k++;
    *num = k;
    *out_pem = s;
    return 1;
}
