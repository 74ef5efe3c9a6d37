#include "ocsp/gen.h"

#include "ocsp/response.h"
#include "crl/set.h"

#include <stdlib.h>
#include <string.h>

const struct gen_ca *gen_find_issuer(const struct gen *g, enum ocsp_hash h, const uint8_t *name_hash,
                                     const uint8_t *key_hash) {
    if ((unsigned)h > OCSP_HASH_SHA512) return NULL;
    size_t len = ocsp_hash_len(h);
    for (size_t i = 0; i < g->num; i++)
        if (memcmp(g->cas[i].key_hash[h], key_hash, len) == 0 && memcmp(g->cas[i].name_hash[h], name_hash, len) == 0)
            return &g->cas[i];
    return NULL;
}

int gen_has_serial(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len) {
    return ocsp_table_has(ca->overlay, serial, serial_len) || ocsp_table_has(ca->table, serial, serial_len);
}

const struct gen_ca *gen_find_name(const struct gen *g, const char *name, size_t len) {
    for (size_t i = 0; i < g->num; i++)
        if (strlen(g->cas[i].name) == len && memcmp(g->cas[i].name, name, len) == 0) return &g->cas[i];
    return NULL;
}

int gen_find_response(const struct gen_ca *ca, const uint8_t *serial, size_t serial_len, enum ocsp_hash h,
                      const uint8_t **out, size_t *out_len, const char **etag, int64_t *this_update,
                      int64_t *next_update) {
    const struct ocsp_table *t = ca->overlay;
    if (!ocsp_table_find_etag(t, serial, serial_len, h, out, out_len, etag)) {
        t = ca->table;
        if (!ocsp_table_find_etag(t, serial, serial_len, h, out, out_len, etag)) return 0;
    }
    return ocsp_table_times(t, serial, serial_len, this_update, next_update);
}

struct gen *gen_clone(const struct gen *g) {
    struct gen *n = calloc(1, sizeof(*n));
    if (n == NULL) return NULL;
    n->cas = calloc(g->num + 1, sizeof(struct gen_ca));
    if (n->cas == NULL) {
        free(n);
        return NULL;
    }
    for (size_t i = 0; i < g->num; i++) {
        struct gen_ca *d = &n->cas[i];
        *d = g->cas[i];
        d->cert_der = malloc(d->cert_len ? d->cert_len : 1);
        if (d->cert_der == NULL) {
            d->table = d->overlay = NULL;
            n->num = i + 1;
            gen_free(n);
            return NULL;
        }
        memcpy(d->cert_der, g->cas[i].cert_der, d->cert_len);
        ocsp_table_ref(d->table);
        ocsp_table_ref(d->overlay);
        n->num = i + 1;
    }
    n->num = g->num;
    n->crls = crl_set_ref(g->crls);
    return n;
}

void gen_free(struct gen *g) {
    if (g == NULL) return;
    for (size_t i = 0; i < g->num; i++) {
        ocsp_table_free(g->cas[i].table);
        ocsp_table_free(g->cas[i].overlay);
        free(g->cas[i].cert_der);
    }
    free(g->cas);
    crl_set_free(g->crls);
    free(g);
}
