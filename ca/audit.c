/* audit: who is acting, and the check of the operations log's hash chain
 * (its records are written by oplog_add, ca/core.c). */
#include "ca/core.h"
#include "ca/ikey.h"
#include "ca/oplog.h"
#include "ca/store.h"
#include "common/bytes.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

void ca_set_actor(struct ca_core *c, const char *principal, const char *source) {
    snprintf(c->principal, sizeof(c->principal), "%s", principal ? principal : "");
    snprintf(c->source, sizeof(c->source), "%s", source ? source : "");
}

void ca_audit_refused(struct ca_core *c, const char *op, const char *ca, json_t *params, const char *why) {
    struct rerr w;
    snprintf(w.msg, sizeof(w.msg), "%s", why);
    oplog_failure(c, op, ca, NULL, 0, params, &w);
}

void ca_audit_note(struct ca_core *c, const char *op, const char *ca, json_t *params) {
    struct store_batch *b = store_batch_new();
    oplog_add(c, b, op, ca, NULL, 0, params, "ok");
    struct rerr ignored;
    oplog_commit(c, b, &ignored);
    store_batch_free(b);
}

static void to_hex(const uint8_t h[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

struct walk {
    void (*problem)(void *arg, uint64_t seq, const char *msg);
    void *arg;
    struct ca_audit_result *out;
};

static void report(struct walk *w, uint64_t seq, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(struct walk *w, uint64_t seq, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->out->problems++;
    if (w->problem != NULL) w->problem(w->arg, seq, msg);
}

int ca_audit_verify(struct ca_core *c, uint64_t anchor_seq, const char *anchor_hex,
                    void (*problem)(void *arg, uint64_t seq, const char *msg), void *arg,
                    struct ca_audit_result *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct walk w = {problem, arg, out};
    uint8_t prev[32] = {0};
    char prev_hex[65];
    uint64_t expect = 1;
    int chained = 0, anchor_seen = 0;
    uint8_t prefix = K_OPLOG;
    struct store_iter *it = store_iter_new(c->st, &prefix, 1, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != 9) {
            report(&w, 0, "a damaged log key (%zu bytes) after record %" PRIu64, kl, expect - 1);
            continue;
        }
        uint64_t seq = bytes_get_u64(k + 1);
        out->records++;
        int gap = 0;
        if (seq != expect) {
            gap = 1;
            if (seq - expect == 1) report(&w, expect, "is missing: removed");
            else if (seq > expect)
                report(&w, 0, "records %" PRIu64 " to %" PRIu64 " are missing: removed", expect, seq - 1);
        }
        to_hex(prev, prev_hex);
        json_error_t je;
        json_t *j = json_loadb((const char *)v, vl, JSON_REJECT_DUPLICATES, &je);
        if (j == NULL || !json_is_object(j)) {
            report(&w, seq, "is not a JSON record: edited");
        } else {
            json_t *js = json_object_get(j, "seq");
            if (!json_is_integer(js) || (uint64_t)json_integer_value(js) != seq)
                report(&w, seq, "says it is record %" PRIu64 ": moved or edited",
                       json_is_integer(js) ? (uint64_t)json_integer_value(js) : 0);
            const char *p = json_string_value(json_object_get(j, "prev"));
            if (p == NULL) {
                if (chained) report(&w, seq, "has no prev hash: edited");
                else out->unchained++;
            } else {
                chained = 1;
                if (strcmp(p, prev_hex) != 0 && !gap)
                    report(&w, seq, "does not follow record %" PRIu64 " (prev hash mismatch): record %" PRIu64
                           " was edited, or records were removed or reordered here", seq - 1, seq - 1);
            }
        }
        json_decref(j);
        SHA256(v, vl, prev);
        if (anchor_seq > 0 && seq == anchor_seq) {
            anchor_seen = 1;
            char h[65];
            to_hex(prev, h);
            if (anchor_hex == NULL || strcmp(h, anchor_hex) != 0)
                report(&w, seq, "does not match the anchor hash %.64s: the log was rewritten up to here",
                       anchor_hex ? anchor_hex : "");
        }
        out->last_seq = seq;
        expect = seq + 1;
    }
    store_iter_free(it);
    to_hex(prev, out->head);
    if (anchor_seq > 0 && !anchor_seen)
        report(&w, anchor_seq, "(the anchor) is not in the log: removed");
    static const char hk[] = "maudit_head";
    uint8_t *hv;
    size_t hl;
    int r = store_get(c->st, hk, sizeof(hk) - 1, &hv, &hl, e);
    if (r < 0) return 0;
    if (r == 0) {
        if (chained) report(&w, 0, "the head record (last seq and hash) is missing: removed");
        return 1;
    }
    if (hl != AUDIT_HEAD_LEN) {
        report(&w, 0, "the head record is damaged (%zu bytes)", hl);
    } else {
        uint64_t hseq = bytes_get_u64(hv);
        char h[65];
        to_hex(hv + 8, h);
        if (hseq > out->last_seq)
            report(&w, hseq, "is the last record by the head, but the log ends at record %" PRIu64
                   ": the records after it were removed", out->last_seq);
        else if (hseq < out->last_seq)
            report(&w, out->last_seq, "comes after the head's last record %" PRIu64 ": added behind revd's back",
                   hseq);
        else if (strcmp(h, out->head) != 0)
            report(&w, hseq, "does not match the head hash: the last record was edited or replaced");
    }
    free(hv);
    return 1;
}
