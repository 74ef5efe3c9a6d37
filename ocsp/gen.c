#include "ocsp/gen.h"

#include <stdlib.h>
#include <string.h>

const struct gen_ca *gen_find_issuer(const struct gen *g, enum ocsp_hash h, const uint8_t *name_hash,
                                     const uint8_t *key_hash) {
    int k = h == OCSP_HASH_SHA1 ? 0 : h == OCSP_HASH_SHA256 ? 1 : -1;
    if (k < 0) return NULL;
    size_t len = k == 0 ? 20 : 32;
    for (size_t i = 0; i < g->num; i++)
        if (memcmp(g->cas[i].key_hash[k], key_hash, len) == 0 && memcmp(g->cas[i].name_hash[k], name_hash, len) == 0)
            return &g->cas[i];
    return NULL;
}

const struct gen_ca *gen_find_name(const struct gen *g, const char *name, size_t len) {
    for (size_t i = 0; i < g->num; i++)
        if (strlen(g->cas[i].name) == len && memcmp(g->cas[i].name, name, len) == 0) return &g->cas[i];
    return NULL;
}

void gen_free(struct gen *g) {
    if (g == NULL) return;
    for (size_t i = 0; i < g->num; i++) {
        ocsp_table_free(g->cas[i].table);
        free(g->cas[i].cert_der);
    }
    free(g->cas);
    free(g);
}
