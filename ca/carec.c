/* carec: the CA record as JSON (ca/carec.h). */
#include "ca/carec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/err.h>

#include "ca/ikey.h"
#include "common/bytes.h"

static json_t *ca_to_json(const struct ca *ca) {
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:I,s:i,s:i,s:I,s:I,s:I,s:s,s:s*,s:s*,"
                     "s:I,s:I,s:I,s:I,s:I,s:I}",
                     "id", (json_int_t)ca->id, "name", ca->name, "parent", ca->parent, "state",
                     ca_state_name(ca->state), "key", ca_key_type_name(ca->key_type), "base_url",
                     ca->base_url, "partition_size", (json_int_t)ca->partition_size,
                     "complete_crl", ca->complete_crl, "crl_max_bytes",
                     (json_int_t)ca->crl_max_bytes, "depth", ca->depth, "path_len", ca->path_len,
                     "created", (json_int_t)ca->created, "not_before", (json_int_t)ca->not_before,
                     "not_after", (json_int_t)ca->not_after, "subject", ca->subject, "cert_pem",
                     ca->cert_pem, "chain_pem", ca->chain_pem, "slots", (json_int_t)ca->slots,
                     "issued", (json_int_t)ca->issued, "revoked", (json_int_t)ca->revoked, "held",
                     (json_int_t)ca->held, "imported", (json_int_t)ca->imported, "next_ext_part",
                     (json_int_t)ca->next_ext_part);
    if (j != NULL && (ca->state == CA_STATE_DELETED || ca->state == CA_STATE_PURGED)) {
        json_object_set_new(j, "purge_at", json_integer((json_int_t)ca->purge_at));
        json_object_set_new(j, "state_before", json_string(ca_state_name(ca->state_before)));
    }
    return j;
}

struct ca *carec_decode(const struct ca_core *c, json_t *j, struct rerr *e) {
    struct ca *ca = calloc(1, sizeof(*ca));
    if (ca == NULL) return NULL;
    json_int_t id, psize, maxb, created, nb, na, slots, issued, revoked, held, imported, nextp;
    const char *name, *parent, *state, *key, *base, *subject, *cert_pem = NULL, *chain_pem = NULL;
    int complete, depth, path_len;
    json_error_t je;
    if (json_unpack_ex(j, &je, 0,
                       "{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:I,s:i,s:i,s:I,s:I,s:I,s:s,s?s,s?s,"
                       "s:I,s:I,s:I,s:I,s:I,s:I}",
                       "id", &id, "name", &name, "parent", &parent, "state", &state, "key", &key,
                       "base_url", &base, "partition_size", &psize, "complete_crl", &complete,
                       "crl_max_bytes", &maxb, "depth", &depth, "path_len", &path_len, "created",
                       &created, "not_before", &nb, "not_after", &na, "subject", &subject,
                       "cert_pem", &cert_pem, "chain_pem", &chain_pem, "slots", &slots, "issued",
                       &issued, "revoked", &revoked, "held", &held, "imported", &imported,
                       "next_ext_part", &nextp) != 0 ||
        strlen(name) > CA_NAME_MAX || strlen(parent) > CA_NAME_MAX ||
        strlen(base) >= sizeof(ca->base_url)) {
        rerr_set(e, "index: a CA record is damaged (%s); restore DIR from a backup", je.text);
        free(ca);
        return NULL;
    }
    ca->id = (uint32_t)id;
    snprintf(ca->name, sizeof(ca->name), "%s", name);
    snprintf(ca->parent, sizeof(ca->parent), "%s", parent);
    ca->state = core_state_parse(state);
    json_t *pa = json_object_get(j, "purge_at");
    const char *before = json_string_value(json_object_get(j, "state_before"));
    if (json_is_integer(pa)) ca->purge_at = (int64_t)json_integer_value(pa);
    ca->state_before = before ? core_state_parse(before) : CA_STATE_DISABLED;
    if (!ca_key_type_parse(key, &ca->key_type)) ca->key_type = CA_KEY_EC_P256;
    snprintf(ca->base_url, sizeof(ca->base_url), "%s", base);
    ca->partition_size = (uint32_t)psize;
    ca->complete_crl = complete;
    ca->crl_max_bytes = (uint32_t)maxb;
    ca->depth = depth;
    ca->path_len = path_len;
    ca->created = created;
    ca->not_before = nb;
    ca->not_after = na;
    ca->subject = strdup(subject);
    ca->cert_pem = cert_pem ? strdup(cert_pem) : NULL;
    ca->chain_pem = chain_pem ? strdup(chain_pem) : NULL;
    ca->slots = (uint64_t)slots;
    ca->issued = (uint64_t)issued;
    ca->revoked = (uint64_t)revoked;
    ca->held = (uint64_t)held;
    ca->imported = (uint64_t)imported;
    ca->next_ext_part = (uint32_t)nextp;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca/%s.pem", c->dir, ca->name);
    ca->cert_path = strdup(path);
    if (ca->cert_pem != NULL) {
        BIO *bio = BIO_new_mem_buf(ca->cert_pem, -1);
        ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (ca->cert == NULL) {
            rerr_ssl(e, "index: the certificate of CA %s is damaged", ca->name);
            core_ca_free(ca);
            return NULL;
        }
    }
    return ca;
}

char *carec_encode(const struct ca *ca, uint8_t key[1 + CA_NAME_MAX], size_t *key_len) {
    json_t *j = ca_to_json(ca);
    if (j == NULL) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    key[0] = K_CA;
    size_t nl = strlen(ca->name);
    memcpy(key + 1, ca->name, nl);
    *key_len = 1 + nl;
    return s;
}

int carec_put(struct ca_core *c, struct store_batch *b, const struct ca *ca) {
    uint8_t key[1 + CA_NAME_MAX];
    size_t kl;
    char *s = carec_encode(ca, key, &kl);
    if (s == NULL) return 0;
    store_batch_put(b, key, kl, s, strlen(s));
    free(s);
    uint8_t meta[] = "mnext_ca_id";
    uint8_t v[4];
    bytes_put_u32(v, c->next_ca_id);
    store_batch_put(b, meta, sizeof(meta) - 1, v, 4);
    return 1;
}

