/* The CA core's state: DIR, the index, the CA records and the operations log. */
#include "ca/internal.h"
#include "ca/responder.h"
#include "common/jsonsafe.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ca/keyfile.h"
#include "ca/pkcs11.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/urls.h"

void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) << 32 | get_u32(p + 4); }

size_t key_cert(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen) {
    out[0] = K_CERT;
    put_u32(out + 1, ca_id);
    out[5] = (uint8_t)slen;
    memcpy(out + 6, serial, slen);
    return 6 + slen;
}

size_t key_part_change(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    out[0] = K_PART_CHANGE;
    put_u32(out + 1, ca_id);
    put_u32(out + 5, part);
    return 9;
}

int core_part_change(struct ca_core *c, uint32_t ca_id, uint32_t part, uint64_t *out, struct rerr *e) {
    uint8_t key[KEY_MAX], *v;
    size_t vl;
    *out = 0;
    int r = store_get(c->st, key, key_part_change(key, ca_id, part), &v, &vl, e);
    if (r < 0) return 0;
    if (r == 1 && vl == 8) *out = get_u64(v);
    if (r == 1) free(v);
    return 1;
}

size_t key_resp(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen) {
    size_t n = key_cert(out, ca_id, serial, slen);
    out[0] = K_RESP;
    return n;
}

size_t key_revoked(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part, const uint8_t *serial,
                   size_t slen) {
    out[0] = K_REVOKED;
    put_u32(out + 1, ca_id);
    put_u32(out + 5, part);
    out[9] = (uint8_t)slen;
    memcpy(out + 10, serial, slen);
    return 10 + slen;
}

size_t key_part(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    out[0] = K_PART;
    put_u32(out + 1, ca_id);
    put_u32(out + 5, part);
    return 9;
}

int crec_encode(const struct crec *r, uint8_t **out, size_t *out_len) {
    size_t tl = strnlen(r->template_name, sizeof(r->template_name) - 1);
    size_t n = CREC_FIXED + 1 + tl + 4 + r->der_len;
    uint8_t *p = malloc(n);
    if (p == NULL) return 0;
    p[0] = 1;
    p[1] = r->status;
    p[2] = r->reason;
    p[3] = r->flags;
    put_u32(p + 4, r->partition);
    put_u64(p + 8, (uint64_t)r->not_before);
    put_u64(p + 16, (uint64_t)r->not_after);
    put_u64(p + 24, (uint64_t)r->revoked_at);
    put_u64(p + 32, (uint64_t)r->invalidity);
    p[40] = (uint8_t)tl;
    memcpy(p + 41, r->template_name, tl);
    put_u32(p + 41 + tl, r->der_len);
    if (r->der_len > 0) memcpy(p + 45 + tl, r->der, r->der_len);
    *out = p;
    *out_len = n;
    return 1;
}

int crec_decode(const uint8_t *p, size_t len, struct crec *out) {
    if (len < CREC_FIXED + 1 || p[0] != 1 || p[1] > CERT_REVOKED || p[2] > 10) return 0;
    out->status = p[1];
    out->reason = p[2];
    out->flags = p[3];
    out->partition = get_u32(p + 4);
    out->not_before = (int64_t)get_u64(p + 8);
    out->not_after = (int64_t)get_u64(p + 16);
    out->revoked_at = (int64_t)get_u64(p + 24);
    out->invalidity = (int64_t)get_u64(p + 32);
    size_t tl = p[40];
    if (tl >= sizeof(out->template_name) || len < CREC_FIXED + 1 + tl + 4) return 0;
    memcpy(out->template_name, p + 41, tl);
    out->template_name[tl] = '\0';
    uint32_t dl = get_u32(p + 41 + tl);
    if (len - (CREC_FIXED + 1 + tl + 4) != dl) return 0;
    out->der_len = dl;
    out->der = dl > 0 ? p + 45 + tl : NULL;
    return 1;
}

void rev_value_encode(const struct crec *r, uint8_t out[REV_VALUE_LEN]) {
    put_u64(out, (uint64_t)r->revoked_at);
    out[8] = r->reason;
    out[9] = (r->flags & CREC_F_INVALIDITY) ? 1 : 0;
    put_u64(out + 10, (uint64_t)r->invalidity);
    put_u64(out + 18, (uint64_t)r->not_after);
}

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

int64_t core_asn1_time(const ASN1_TIME *t) {
    struct tm tm;
    if (!ASN1_TIME_to_tm(t, &tm)) return 0;
    return rtime_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const EVP_MD *core_sig_md(enum ca_key_type t) {
    return t == CA_KEY_EC_P384 ? EVP_sha384() : EVP_sha256();
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

/* CA records as JSON: small, few, and easy to extend. */
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

int core_ca_publishes(const struct ca *ca, int64_t now) {
    if (ca->cert == NULL || ca->state == CA_STATE_PURGED) return 0;
    return ca->state != CA_STATE_DELETED || now < ca->purge_at;
}

static enum ca_state state_parse(const char *s) {
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
    core_responder_free(ca->responder);
    free(ca);
}

static struct ca *ca_from_json(const struct ca_core *c, json_t *j, struct rerr *e) {
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
    ca->state = state_parse(state);
    json_t *pa = json_object_get(j, "purge_at");
    const char *before = json_string_value(json_object_get(j, "state_before"));
    if (json_is_integer(pa)) ca->purge_at = (int64_t)json_integer_value(pa);
    ca->state_before = before ? state_parse(before) : CA_STATE_DISABLED;
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

char *core_ca_encode(const struct ca *ca, uint8_t key[1 + CA_NAME_MAX], size_t *key_len) {
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

int core_put_ca(struct ca_core *c, struct store_batch *b, const struct ca *ca) {
    uint8_t key[1 + CA_NAME_MAX];
    size_t kl;
    char *s = core_ca_encode(ca, key, &kl);
    if (s == NULL) return 0;
    store_batch_put(b, key, kl, s, strlen(s));
    free(s);
    uint8_t meta[] = "mnext_ca_id";
    uint8_t v[4];
    put_u32(v, c->next_ca_id);
    store_batch_put(b, meta, sizeof(meta) - 1, v, 4);
    return 1;
}

char *core_oplog_encode(struct ca_core *c, uint8_t key[9], const char *op, const char *ca,
                        const uint8_t *serial, size_t slen, json_t *params, const char *result) {
    char when[21];
    rtime_format(rtime_now(), when);
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1] = "";
    if (serial != NULL) hex_encode_serial(serial, slen, hex);
    char prev[65];
    for (int i = 0; i < 32; i++) snprintf(prev + 2 * i, 3, "%02x", c->oplog_hash[i]);
    c->oplog_seq++;
    /* The CA name and the result may quote hostile bytes: jsafe_string. */
    json_t *j = json_pack("{s:I,s:s,s:s,s:o,s:s?,s:o,s:o,s:o,s:o,s:s}", "seq", (json_int_t)c->oplog_seq,
                          "time", when, "op", op, "ca", jsafe_string(ca ? ca : ""), "serial",
                          serial ? hex : NULL, "params", params ? params : json_object(), "result",
                          jsafe_string(result), "principal", jsafe_string(c->principal[0] ? c->principal : "unknown"),
                          "source", jsafe_string(c->source), "prev", prev);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) { /* out of memory: the record still says what happened */
        s = malloc(256);
        if (s == NULL) abort();
        snprintf(s, 256, "{\"seq\":%llu,\"time\":\"%s\",\"op\":\"%s\",\"result\":\"unrecorded\",\"prev\":\"%s\"}",
                 (unsigned long long)c->oplog_seq, when, op, prev);
    }
    SHA256((const uint8_t *)s, strlen(s), c->oplog_hash);
    key[0] = K_OPLOG;
    put_u64(key + 1, c->oplog_seq);
    return s;
}

void core_oplog_rollback(struct ca_core *c) {
    c->oplog_seq = c->oplog_durable;
    memcpy(c->oplog_hash, c->oplog_hash_durable, 32);
}

void core_oplog_written(struct ca_core *c) {
    c->oplog_durable = c->oplog_seq;
    memcpy(c->oplog_hash_durable, c->oplog_hash, 32);
}

size_t core_oplog_head(const struct ca_core *c, uint8_t key[16], uint8_t val[AUDIT_HEAD_LEN]) {
    static const char k[] = "maudit_head";
    memcpy(key, k, sizeof(k) - 1);
    put_u64(val, c->oplog_seq);
    memcpy(val + 8, c->oplog_hash, 32);
    return sizeof(k) - 1;
}

void core_oplog(struct ca_core *c, struct store_batch *b, const char *op, const char *ca,
                const uint8_t *serial, size_t slen, json_t *params, const char *result) {
    uint8_t key[9];
    int ok = strcmp(result, "ok") == 0;
    if (ok && params != NULL) json_incref(params);
    char *s = core_oplog_encode(c, key, op, ca, serial, slen, params, result);
    store_batch_put(b, key, 9, s, strlen(s));
    free(s);
    if (ok) {
        core_event_pending(c, op, ca, serial, slen, params);
        json_decref(params); /* the reference taken above */
    }
    uint8_t hk[16], hv[AUDIT_HEAD_LEN];
    size_t hl = core_oplog_head(c, hk, hv);
    store_batch_put(b, hk, hl, hv, sizeof(hv));
}

int core_commit(struct ca_core *c, struct store_batch *b, struct rerr *e) {
    if (!store_write(c->st, b, 1, e)) {
        core_oplog_rollback(c);
        core_events_flush(c, 0);
        return 0;
    }
    core_oplog_written(c);
    core_events_flush(c, 1);
    return 1;
}

void core_oplog_failure(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial,
                        size_t slen, json_t *params, const struct rerr *why) {
    /* The operation was abandoned: records it gave out but never wrote (a
     * bulk revocation refused part way) are forgotten, and so are their
     * events, before its failure is recorded. */
    core_oplog_rollback(c);
    core_events_flush(c, 0);
    struct store_batch *b = store_batch_new();
    char result[600];
    snprintf(result, sizeof(result), "error: %s", why->msg);
    core_oplog(c, b, op, ca, serial, slen, params, result);
    struct rerr ignored;
    core_commit(c, b, &ignored);
    store_batch_free(b);
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

EVP_PKEY *core_ca_key(struct ca_core *c, struct ca *ca, struct rerr *e) {
    if (ca->key != NULL) return ca->key;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/keys/%s.key", c->dir, ca->name);
    ca->key = keyfile_read_ca(c, path, e);
    if (ca->key == NULL) return NULL;
    /* DIR/ca/NAME.pem is the published copy of the certificate the index
     * holds. One that differs was replaced behind revd's back, or the index
     * was: the key tells which (a missing file is written again). */
    if (ca->cert_pem != NULL) {
        uint8_t *f;
        size_t fl;
        struct rerr fe;
        if (fs_read_file(ca->cert_path, 1 << 20, &f, &fl, &fe)) {
            int same = fl == strlen(ca->cert_pem) && memcmp(f, ca->cert_pem, fl) == 0;
            X509 *fx = NULL;
            if (!same) {
                BIO *bio = BIO_new_mem_buf(f, (int)fl);
                fx = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
                BIO_free(bio);
            }
            free(f);
            if (!same) {
                int file_matches_key = fx != NULL && X509_check_private_key(fx, ca->key) == 1;
                int index_matches_key = ca->cert != NULL && X509_check_private_key(ca->cert, ca->key) == 1;
                X509_free(fx);
                ERR_clear_error();
                EVP_PKEY_free(ca->key);
                ca->key = NULL;
                if (file_matches_key && !index_matches_key) {
                    rerr_set(e, "the certificate of CA %s in %s/index differs from %s, which matches %s: the index "
                                "was altered; restore DIR/index from a backup", ca->name, c->dir, ca->cert_path, path);
                    return NULL;
                }
                rerr_set(e, "%s is not the certificate of CA %s that the index holds: restore it from your backup, "
                            "or remove it (revd writes it again from the index)", ca->cert_path, ca->name);
                return NULL;
            }
        } else if (access(ca->cert_path, F_OK) != 0 &&
                   !fs_write_atomic(ca->cert_path, ca->cert_pem, strlen(ca->cert_pem), 0644, e)) {
            EVP_PKEY_free(ca->key);
            ca->key = NULL;
            return NULL;
        }
    }
    if (ca->cert != NULL && X509_check_private_key(ca->cert, ca->key) != 1) {
        EVP_PKEY_free(ca->key);
        ca->key = NULL;
        rerr_ssl(e, "%s: this key does not match the certificate of CA %s (in the index and %s): restore the key, or the index, from your backup", path, ca->name, ca->cert_path);
        return NULL;
    }
    return ca->key;
}

int ca_set_passphrase(struct ca_core *c, const char *pass, size_t len, struct rerr *e) {
    if (len > 0 && pass[len - 1] == '\n') len--;
    if (len > 0 && pass[len - 1] == '\r') len--;
    if (len < CA_PASSPHRASE_MIN || len > 1024)
        return rerr_set(e, "the key passphrase must be %d to 1024 bytes", CA_PASSPHRASE_MIN);
    if (memchr(pass, '\0', len) != NULL) return rerr_set(e, "the key passphrase holds a NUL byte");
    char *p = malloc(len + 1);
    if (p == NULL) return rerr_set(e, "out of memory");
    memcpy(p, pass, len);
    p[len] = '\0';
    if (c->passphrase != NULL) {
        OPENSSL_cleanse(c->passphrase, c->passphrase_len);
        free(c->passphrase);
    }
    c->passphrase = p;
    c->passphrase_len = len;
    return 1;
}

int ca_set_pkcs11(struct ca_core *c, const char *module, const char *pin, size_t len, struct rerr *e) {
    if (module != NULL && (module[0] != '/' || strlen(module) >= PATH_MAX))
        return rerr_set(e, "REVD_PKCS11_MODULE must be the absolute path of the token's PKCS#11 library");
    char *p = NULL;
    if (pin != NULL) {
        if (len > 0 && pin[len - 1] == '\n') len--;
        if (len > 0 && pin[len - 1] == '\r') len--;
        if (len < 1 || len > PKCS11_PIN_MAX) return rerr_set(e, "the PKCS#11 PIN must be 1 to %d bytes", PKCS11_PIN_MAX);
        if (memchr(pin, '\0', len) != NULL || memchr(pin, '\n', len) != NULL)
            return rerr_set(e, "the PKCS#11 PIN holds a NUL byte or a line break");
        if ((p = malloc(len + 1)) == NULL) return rerr_set(e, "out of memory");
        memcpy(p, pin, len);
        p[len] = '\0';
    }
    char *m = module != NULL ? strdup(module) : NULL;
    if (module != NULL && m == NULL) {
        free(p);
        return rerr_set(e, "out of memory");
    }
    free(c->p11_module);
    c->p11_module = m;
    if (c->p11_pin != NULL) {
        OPENSSL_cleanse(c->p11_pin, strlen(c->p11_pin));
        free(c->p11_pin);
    }
    c->p11_pin = p;
    return 1;
}

/* One pass over the key files (keyfile_each): encrypt the plain ones, or
 * (rekey) rewrite every one under the passphrase now set. */
struct rewrite {
    struct ca_core *c;
    int all;              /* rekey: every file; else only the plain ones */
    size_t done, already;
    json_t *files;
    struct rerr *e;
};

static int rewrite_one(void *arg, const char *path) {
    struct rewrite *w = arg;
    int enc = keyfile_encrypted(path);
    if (enc < 0) return rerr_set(w->e, "%s: cannot be read", path);
    if (enc == 2) return 1; /* a reference to a key in a token: nothing here to encrypt */
    if (enc == 1 && !w->all) {
        w->already++;
        return 1;
    }
    EVP_PKEY *k = keyfile_read(w->c, path, w->e);
    int ok = k != NULL && keyfile_write(w->c, path, k, w->e);
    EVP_PKEY_free(k);
    if (ok) {
        w->done++;
        json_array_append_new(w->files, json_string(path));
    }
    return ok;
}

/* rewrite_keys runs the pass and records it in the audit log as op. */
static int rewrite_keys(struct ca_core *c, int all, const char *op, struct rewrite *w, struct rerr *e) {
    *w = (struct rewrite){c, all, 0, 0, json_array(), e};
    int ok = keyfile_each(c->dir, rewrite_one, w);
    struct store_batch *b = store_batch_new();
    core_oplog(c, b, op, NULL, NULL, 0, json_pack("{s:o}", "files", w->files),
               ok ? "ok" : "error: cut short (run it again with the same passphrases)");
    struct rerr ignored;
    core_commit(c, b, ok ? e : &ignored);
    store_batch_free(b);
    return ok;
}

int ca_encrypt_keys(struct ca_core *c, size_t *done, size_t *already, struct rerr *e) {
    *done = *already = 0;
    if (c->passphrase == NULL)
        return rerr_set(e, "no passphrase to encrypt with (REVD_KEY_PASSPHRASE_FILE, a file holding it)");
    struct rewrite w;
    int ok = rewrite_keys(c, 0, "keys-encrypt", &w, e);
    *done = w.done;
    *already = w.already;
    return ok;
}

int ca_rekey(struct ca_core *c, const char *new_pass, size_t new_len, size_t *done, struct rerr *e) {
    *done = 0;
    /* The current passphrase becomes the fallback for reading, the new one
     * the passphrase (ca_set_passphrase checks it). */
    char *cur = c->passphrase;
    size_t cur_len = c->passphrase_len;
    c->passphrase = NULL;
    if (!ca_set_passphrase(c, new_pass, new_len, e)) {
        c->passphrase = cur;
        return 0;
    }
    c->old_passphrase = cur;
    c->old_passphrase_len = cur_len;
    struct rewrite w;
    int ok = rewrite_keys(c, 1, "keys-rekey", &w, e);
    *done = w.done;
    if (c->old_passphrase != NULL) {
        OPENSSL_cleanse(c->old_passphrase, c->old_passphrase_len);
        free(c->old_passphrase);
    }
    c->old_passphrase = NULL;
    c->old_passphrase_len = 0;
    return ok;
}

size_t ca_reload_keys(struct ca_core *c, void (*problem)(void *arg, const char *msg), void *arg) {
    size_t loaded = 0;
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *ca = c->cas[i];
        if (ca->cert == NULL) continue; /* pending: no certificate to match yet */
        EVP_PKEY *old = ca->key;
        ca->key = NULL;
        struct rerr e;
        if (core_ca_key(c, ca, &e) == NULL) {
            ca->key = old;
            if (problem != NULL) {
                char msg[CA_NAME_MAX + sizeof(e.msg) + 40];
                snprintf(msg, sizeof(msg), "CA %s keeps the key it had: %s", ca->name, e.msg);
                problem(arg, msg);
            }
            continue;
        }
        EVP_PKEY_free(old);
        core_responder_free(ca->responder);
        ca->responder = NULL;
        loaded++;
    }
    return loaded;
}

int core_partition_url(const struct ca *ca, uint32_t part, char out[256]) {
    if (part == URLS_PART_NONE) {
        out[0] = '\0';
        return 1;
    }
    if (part == URLS_PART_CA) return urls_crl_ca_scope(ca->base_url, ca->name, out);
    if (ca->complete_crl) return urls_crl_complete(ca->base_url, ca->name, out);
    return urls_crl_partition(ca->base_url, ca->name, part, out);
}

uint32_t core_default_partition_size(uint32_t max_bytes, size_t issuer_name_len, size_t url_len,
                                     enum ca_key_type key) {
    /* The longest entry: SEQUENCE { INTEGER (16 octets + a possible 0x00),
     * GeneralizedTime (17, after 2049), extensions { reasonCode (14),
     * invalidityDate (26) } } = 2 + 19 + 17 + 2 + 12 + 26 = 78 octets. The
     * rest of the CRL: framing, algorithm identifiers, issuer, two times,
     * CRL number, AKI, the IDP (its URI), and the signature. */
    size_t sig = key == CA_KEY_RSA_4096 ? 512 + 5 : key == CA_KEY_RSA_3072 ? 384 + 5
                 : key == CA_KEY_RSA_2048 ? 256 + 5 : 110;
    size_t overhead = 64 + 2 * 15 + issuer_name_len + 2 * 19 + 40 + 35 + 32 + url_len + sig;
    if (max_bytes <= overhead + 78) return 1;
    return (uint32_t)((max_bytes - overhead) / 78);
}

int core_new_serial(struct ca_core *c, const struct ca *ca, uint8_t out[16], struct rerr *e) {
    for (int tries = 0; tries < 8; tries++) {
        if (RAND_bytes(out, 16) != 1) return rerr_ssl(e, "the random generator failed");
        out[0] &= 0x7f; /* positive; and non-zero so it stays 16 octets */
        if (out[0] == 0) out[0] = 1;
        uint8_t key[KEY_MAX];
        size_t kl = key_cert(key, ca->id, out, 16);
        uint8_t *v;
        size_t vl;
        int r = store_get(c->st, key, kl, &v, &vl, e);
        if (r < 0) return 0;
        if (r == 0) return 1;
        free(v);
    }
    return rerr_set(e, "could not draw an unused serial number (the random generator is suspect)");
}

static int load_cas(struct ca_core *c, struct rerr *e) {
    uint8_t prefix = K_CA;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        json_error_t je;
        json_t *j = json_loadb((const char *)v, vl, 0, &je);
        struct ca *ca = j ? ca_from_json(c, j, e) : NULL;
        json_decref(j);
        if (ca == NULL) {
            if (j == NULL) rerr_set(e, "index: a CA record is not JSON (%s)", je.text);
            ok = 0;
            break;
        }
        struct ca **n = realloc(c->cas, (c->num_cas + 1) * sizeof(*n));
        if (n == NULL) abort();
        c->cas = n;
        c->cas[c->num_cas++] = ca;
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
        if (len == 4) c->next_ca_id = get_u32(val);
        free(val);
    }
    uint8_t op = K_OPLOG;
    it = store_iter_new(c->st, &op, 1, NULL, 0);
    if (store_iter_last(it, &k, &kl) && kl == 9) {
        size_t ll;
        const uint8_t *last = store_iter_value(it, &ll);
        c->oplog_seq = get_u64(k + 1);
        SHA256(last, ll, c->oplog_hash);
    }
    store_iter_free(it);
    /* The head is written with every record: a head ahead of the last
     * record means records were removed behind revd's back. Numbering goes
     * on from the head, so that the gap stays for revd audit verify to see
     * (the next record would otherwise close it). */
    static const char hk[] = "maudit_head";
    uint8_t *hv;
    size_t hl;
    int hr = store_get(c->st, hk, sizeof(hk) - 1, &hv, &hl, e);
    if (hr < 0) return 0;
    if (hr == 1) {
        if (hl == AUDIT_HEAD_LEN && (get_u64(hv) != c->oplog_seq || memcmp(hv + 8, c->oplog_hash, 32) != 0)) {
            rlog(LOG_ERR, "audit.head_mismatch",
                 "%s: the audit log's last record (%llu) does not match its head (%llu): records were removed or "
                 "edited; run revd audit verify",
                 c->dir, (unsigned long long)c->oplog_seq, (unsigned long long)get_u64(hv));
            if (get_u64(hv) > c->oplog_seq) c->oplog_seq = get_u64(hv);
        }
        free(hv);
    }
    core_oplog_written(c);
    return 1;
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

int ca_oplog(struct ca_core *c, uint64_t from_seq,
             int (*cb)(void *arg, uint64_t seq, const char *json, size_t len), void *arg,
             struct rerr *e) {
    uint8_t prefix = K_OPLOG, start[8];
    put_u64(start, from_seq);
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, start, 8);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 9) {
            ok = rerr_set(e, "index: a damaged operations-log key");
            break;
        }
        if (!cb(arg, get_u64(k + 1), (const char *)v, vl)) break;
    }
    store_iter_free(it);
    return ok;
}

const char *ca_notice(const struct ca_core *c) { return c->notice; }

/* Past this many changes a full re-publication is cheaper. Above the
 * 200,000 of one `revd revoke --file`: a mass revocation re-signs only
 * what it revoked instead of reloading every table. */
#define CHANGES_MAX 262144

void core_changed(struct ca_core *c, const struct ca *ca, const uint8_t *serial, size_t slen) {
    if (c->changes_full) return;
    if (c->num_changes >= CHANGES_MAX || slen > HEX_SERIAL_MAX + 1) {
        core_changed_all(c);
        return;
    }
    if (c->num_changes == c->cap_changes) {
        size_t cap = c->cap_changes ? c->cap_changes * 2 : 16;
        struct ca_change *n = realloc(c->changes, cap * sizeof(*n));
        if (n == NULL) {
            core_changed_all(c);
            return;
        }
        c->changes = n;
        c->cap_changes = cap;
    }
    struct ca_change *ch = &c->changes[c->num_changes++];
    snprintf(ch->ca, sizeof(ch->ca), "%s", ca->name);
    memcpy(ch->serial, serial, slen);
    ch->serial_len = slen;
}

void core_changed_all(struct ca_core *c) {
    c->changes_full = 1;
    c->num_changes = 0;
}

int ca_take_changes(struct ca_core *c, struct ca_change **out, size_t *num) {
    int full = c->changes_full;
    *out = full ? NULL : c->changes;
    *num = full ? 0 : c->num_changes;
    if (full) free(c->changes);
    c->changes = NULL;
    c->num_changes = c->cap_changes = 0;
    c->changes_full = 0;
    return full;
}
