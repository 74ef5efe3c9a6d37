/* oplog: the operations log, hash-chained (ca/oplog.h). */
#include "ca/oplog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "ca/chlog.h"
#include "ca/events.h"
#include "ca/ikey.h"
#include "common/bytes.h"
#include "common/hex.h"
#include "common/jsonsafe.h"
#include "common/log.h"
#include "common/rtime.h"

char *oplog_encode(struct ca_core *c, uint8_t key[9], const char *op, const char *ca,
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
    bytes_put_u64(key + 1, c->oplog_seq);
    return s;
}

void oplog_rollback(struct ca_core *c) {
    chlog_rollback(c);
    c->oplog_seq = c->oplog_durable;
    memcpy(c->oplog_hash, c->oplog_hash_durable, 32);
}

void oplog_written(struct ca_core *c) {
    chlog_written(c);
    c->oplog_durable = c->oplog_seq;
    memcpy(c->oplog_hash_durable, c->oplog_hash, 32);
}

size_t oplog_head(const struct ca_core *c, uint8_t key[16], uint8_t val[AUDIT_HEAD_LEN]) {
    static const char k[] = "maudit_head";
    memcpy(key, k, sizeof(k) - 1);
    bytes_put_u64(val, c->oplog_seq);
    memcpy(val + 8, c->oplog_hash, 32);
    return sizeof(k) - 1;
}

void oplog_add(struct ca_core *c, struct store_batch *b, const char *op, const char *ca,
               const uint8_t *serial, size_t slen, json_t *params, const char *result) {
    uint8_t key[9];
    int ok = strcmp(result, "ok") == 0;
    if (ok && params != NULL) json_incref(params);
    char *s = oplog_encode(c, key, op, ca, serial, slen, params, result);
    store_batch_put(b, key, 9, s, strlen(s));
    free(s);
    if (ok) {
        events_pending(c, op, ca, serial, slen, params);
        json_decref(params); /* the reference taken above */
    }
    uint8_t hk[16], hv[AUDIT_HEAD_LEN];
    size_t hl = oplog_head(c, hk, hv);
    store_batch_put(b, hk, hl, hv, sizeof(hv));
}

int oplog_commit(struct ca_core *c, struct store_batch *b, struct rerr *e) {
    if (!store_write(c->st, b, 1, e)) {
        oplog_rollback(c);
        events_flush(c, 0);
        return 0;
    }
    oplog_written(c);
    events_flush(c, 1);
    return 1;
}

void oplog_failure(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial,
                   size_t slen, json_t *params, const struct rerr *why) {
    /* The operation was abandoned: records it gave out but never wrote (a
     * bulk revocation refused part way) are forgotten, and so are their
     * events, before its failure is recorded. */
    oplog_rollback(c);
    events_flush(c, 0);
    struct store_batch *b = store_batch_new();
    char result[600];
    snprintf(result, sizeof(result), "error: %s", why->msg);
    oplog_add(c, b, op, ca, serial, slen, params, result);
    struct rerr ignored;
    oplog_commit(c, b, &ignored);
    store_batch_free(b);
}

int ca_oplog(struct ca_core *c, uint64_t from_seq,
             int (*cb)(void *arg, uint64_t seq, const char *json, size_t len), void *arg,
             struct rerr *e) {
    uint8_t prefix = K_OPLOG, start[8];
    bytes_put_u64(start, from_seq);
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, start, 8);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 9) {
            ok = rerr_set(e, "index: a damaged operations-log key");
            break;
        }
        if (!cb(arg, bytes_get_u64(k + 1), (const char *)v, vl)) break;
    }
    store_iter_free(it);
    return ok;
}

int oplog_load(struct ca_core *c, struct rerr *e) {
    const uint8_t *k;
    size_t kl;
    uint8_t op = K_OPLOG;
    struct store_iter *it = store_iter_new(c->st, &op, 1, NULL, 0);
    if (store_iter_last(it, &k, &kl) && kl == 9) {
        size_t ll;
        const uint8_t *last = store_iter_value(it, &ll);
        c->oplog_seq = bytes_get_u64(k + 1);
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
        if (hl == AUDIT_HEAD_LEN && (bytes_get_u64(hv) != c->oplog_seq || memcmp(hv + 8, c->oplog_hash, 32) != 0)) {
            rlog(LOG_ERR, "audit.head_mismatch",
                 "%s: the audit log's last record (%llu) does not match its head (%llu): records were removed or "
                 "edited; run revd audit verify",
                 c->dir, (unsigned long long)c->oplog_seq, (unsigned long long)bytes_get_u64(hv));
            if (bytes_get_u64(hv) > c->oplog_seq) c->oplog_seq = bytes_get_u64(hv);
        }
        free(hv);
    }
    oplog_written(c);
    return 1;
}
