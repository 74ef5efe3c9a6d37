#include "ocsp/gen.h"

#include "ca/ca.h"
#include "ocsp/response.h"
#include "ocsp/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gen_ca {
    char name[CA_NAME_MAX + 1];
    uint32_t id; /* the CA's number in the index (ocsp/job.h: ca_id) */
    uint8_t name_hash[4][64], key_hash[4][64]; /* per enum ocsp_hash; its digest length used */
    struct ocsp_table *table;   /* a reference: generations share base tables */
    struct ocsp_table *overlay; /* responses re-signed since table was built; a
                                   reference; NULL when none. Looked up first. */
    struct ocsp_store *store;   /* a reference; NULL: all in table (then
                                   table is NULL when store is not) */
    uint8_t *cert_der; /* owned */
    size_t cert_len;
};

const struct gen_ca *gen_ca_at(const struct gen *g, size_t i) { return &g->cas[i]; }

struct gen_ca *gen_ca_at_mut(struct gen *g, size_t i) { return &g->cas[i]; }

const char *gen_ca_name(const struct gen_ca *ca) { return ca->name; }

uint32_t gen_ca_id(const struct gen_ca *ca) { return ca->id; }

const uint8_t *gen_ca_cert(const struct gen_ca *ca, size_t *out_len) {
    *out_len = ca->cert_len;
    return ca->cert_der;
}

const struct ocsp_table *gen_ca_table(const struct gen_ca *ca) { return ca->table; }

const struct ocsp_table *gen_ca_overlay(const struct gen_ca *ca) { return ca->overlay; }

struct ocsp_store *gen_ca_store(const struct gen_ca *ca) { return ca->store; }

uint64_t gen_responses(const struct gen *g) {
    uint64_t n = 0;
    for (size_t i = 0; i < g->num; i++)
        n += g->cas[i].store != NULL ? ocsp_store_count(g->cas[i].store) : ocsp_table_count(g->cas[i].table);
    return n;
}

struct gen *gen_new(size_t max_cas) {
    struct gen *g = calloc(1, sizeof(*g));
    if (g == NULL) return NULL;
    g->cas = calloc(max_cas + 1, sizeof(struct gen_ca));
    if (g->cas == NULL) {
        free(g);
        return NULL;
    }
    return g;
}

struct gen_ca *gen_add_ca(struct gen *g, const char *name, uint32_t id) {
    struct gen_ca *ca = &g->cas[g->num++];
    snprintf(ca->name, sizeof(ca->name), "%s", name);
    ca->id = id;
    return ca;
}

void gen_ca_set_issuer(struct gen_ca *ca, enum ocsp_hash h, const uint8_t name_hash[64], const uint8_t key_hash[64]) {
    memcpy(ca->name_hash[h], name_hash, 64);
    memcpy(ca->key_hash[h], key_hash, 64);
}

void gen_ca_set_cert(struct gen_ca *ca, uint8_t *der, size_t len) {
    free(ca->cert_der);
    ca->cert_der = der;
    ca->cert_len = len;
}

void gen_ca_set_table(struct gen_ca *ca, struct ocsp_table *table) {
    ocsp_table_free(ca->table);
    ca->table = table;
}

void gen_ca_set_store(struct gen_ca *ca, struct ocsp_store *store) {
    ocsp_store_put(ca->store);
    ca->store = store;
}

void gen_ca_set_overlay(struct gen_ca *ca, struct ocsp_table *overlay) {
    ocsp_table_free(ca->overlay);
    ca->overlay = overlay;
}

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
            d->store = NULL;
            n->num = i + 1;
            gen_free(n);
            return NULL;
        }
        memcpy(d->cert_der, g->cas[i].cert_der, d->cert_len);
        ocsp_table_ref(d->table);
        ocsp_table_ref(d->overlay);
        ocsp_store_ref(d->store);
        n->num = i + 1;
    }
    n->num = g->num;
    return n;
}

void gen_free(struct gen *g) {
    if (g == NULL) return;
    for (size_t i = 0; i < g->num; i++) {
        ocsp_table_free(g->cas[i].table);
        ocsp_table_free(g->cas[i].overlay);
        ocsp_store_put(g->cas[i].store);
        free(g->cas[i].cert_der);
    }
    free(g->cas);
    free(g);
}
