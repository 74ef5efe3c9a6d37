/* core: the CA core's state (ca/core.h): finding CAs, the public getters,
 * the names of key types and states. Calls no other unit of ca/. */
#include "ca/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonsafe.h"
#include "common/rtime.h"

static const char *const key_names[] = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"};

int ca_key_type_parse(const char *s, enum ca_key_type *out) {
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, key_names[i]) == 0) {
            *out = (enum ca_key_type)i;
            return 1;
        }
    }
    return 0;
}

const char *ca_key_type_name(enum ca_key_type t) { return key_names[t]; }

const char *ca_state_name(enum ca_state s) {
    switch (s) {
    case CA_STATE_ACTIVE: return "active";
    case CA_STATE_DISABLED: return "disabled";
    case CA_STATE_PENDING: return "pending";
    case CA_STATE_DELETED: return "deleted";
    case CA_STATE_PURGED: return "purged";
    }
    return "?";
}

int ca_name_valid(const char *name, struct rerr *e) {
    if (name == NULL) return rerr_set(e, "a CA name is required");
    size_t n = strlen(name);
    if (n == 0 || n > CA_NAME_MAX)
        return rerr_set(e, "CA name '%.80s' must be 1 to %d characters", name, CA_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                 (i > 0 && (ch == '.' || ch == '_' || ch == '-'));
        if (!ok)
            return rerr_set(e,
                            "CA name '%.80s' may hold only a-z, 0-9, '.', '_' and '-', starting "
                            "with a letter or digit (it is part of URLs)",
                            name);
    }
    return 1;
}

int core_ca_publishes(const struct ca *ca, int64_t now) {
    if (ca->cert == NULL || ca->state == CA_STATE_PURGED) return 0;
    return ca->state != CA_STATE_DELETED || now < ca->purge_at;
}

enum ca_state core_state_parse(const char *s) {
    return strcmp(s, "active") == 0     ? CA_STATE_ACTIVE
           : strcmp(s, "disabled") == 0 ? CA_STATE_DISABLED
           : strcmp(s, "deleted") == 0  ? CA_STATE_DELETED
           : strcmp(s, "purged") == 0   ? CA_STATE_PURGED
                                        : CA_STATE_PENDING;
}

void core_ca_free(struct ca *ca) {
    if (ca == NULL) return;
    free(ca->subject);
    free(ca->cert_pem);
    free(ca->chain_pem);
    free(ca->cert_path);
    X509_free(ca->cert);
    EVP_PKEY_free(ca->key);
    core_ca_drop_responder(ca);
    free(ca);
}

void core_ca_drop_responder(struct ca *ca) {
    if (ca->responder != NULL && ca->responder_free != NULL) ca->responder_free(ca->responder);
    ca->responder = NULL;
    ca->responder_free = NULL;
}

struct ca *core_find(const struct ca_core *c, const char *name) {
    for (size_t i = 0; i < c->num_cas; i++)
        if (strcmp(c->cas[i]->name, name) == 0) return c->cas[i];
    return NULL;
}

struct ca *core_find_or_err(const struct ca_core *c, const char *name, struct rerr *e) {
    struct ca *ca = core_find(c, name);
    if (ca == NULL) {
        rerr_set(e, "no CA named '%.80s' in %s (see: revd ca list)", name, c->dir);
        return NULL;
    }
    return ca;
}

const char *ca_core_dir(const struct ca_core *c) { return c->dir; }

void core_add_ca(struct ca_core *c, struct ca *ca) {
    struct ca **n = realloc(c->cas, (c->num_cas + 1) * sizeof(*n));
    if (n == NULL) abort();
    c->cas = n;
    c->cas[c->num_cas++] = ca;
}

size_t ca_count(const struct ca_core *c) { return c->num_cas; }

void ca_info_at(const struct ca_core *c, size_t i, struct ca_info *out) {
    const struct ca *ca = c->cas[i];
    out->name = ca->name;
    out->parent = ca->parent;
    out->subject = ca->subject;
    out->base_url = ca->base_url;
    out->cert_path = ca->cert_path;
    out->state = ca->state;
    out->key = ca->key_type;
    out->depth = ca->depth;
    out->path_len = ca->path_len;
    out->complete_crl = ca->complete_crl;
    out->partition_size = ca->partition_size;
    out->crl_max_bytes = ca->crl_max_bytes;
    out->not_before = ca->not_before;
    out->not_after = ca->not_after;
    out->issued = ca->issued;
    out->revoked = ca->revoked;
    out->held = ca->held;
    out->imported = ca->imported;
    out->purge_at = ca->purge_at;
    out->publishes = core_ca_publishes(ca, rtime_now());
}

int ca_info_get(const struct ca_core *c, const char *name, struct ca_info *out, struct rerr *e) {
    for (size_t i = 0; i < c->num_cas; i++) {
        if (strcmp(c->cas[i]->name, name) == 0) {
            ca_info_at(c, i, out);
            return 1;
        }
    }
    return rerr_set(e, "no CA named '%.80s' in %s (see: revd ca list)", name, c->dir);
}

json_t *ca_info_json(const struct ca_info *i, int with_path) {
    char nb[21], na[21];
    rtime_format(i->not_before, nb);
    rtime_format(i->not_after, na);
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "name", i->name,
                          "state", ca_state_name(i->state), "parent", i->parent, "subject", jsafe_string(i->subject),
                          "key", ca_key_type_name(i->key), "not_before", nb, "not_after", na, "depth", i->depth,
                          "path_len", i->path_len, "base_url", i->base_url, "crl_mode",
                          i->complete_crl ? "complete" : "partitioned", "partition_size",
                          (json_int_t)i->partition_size, "crl_max_bytes", (json_int_t)i->crl_max_bytes, "issued",
                          (json_int_t)i->issued, "revoked", (json_int_t)i->revoked, "on_hold", (json_int_t)i->held,
                          "imported", (json_int_t)i->imported);
    if (j == NULL) return NULL;
    if (with_path) json_object_set_new(j, "certificate", json_string(i->cert_path));
    if (i->state == CA_STATE_DELETED) {
        char pa[21];
        rtime_format(i->purge_at, pa);
        json_object_set_new(j, "restore_until", json_string(pa));
    }
    return j;
}

const char *ca_notice(const struct ca_core *c) { return c->notice; }

