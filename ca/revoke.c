/* Revocation, release of a hold, and status: the facts the OCSP responder and
 * the CRL builder publish. */
#include "ca/chlog.h"
#include "ca/revoke.h"
#include "ca/core.h"
#include "ca/carec.h"
#include "ca/certbuild.h"
#include "ca/changes.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/oplog.h"
#include "ca/partition.h"
#include "ca/responder.h"
#include "ca/store.h"
#include "common/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

#include "common/hex.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

/* Loads the record of serial into *rec (malloc'd) and *r. Returns 1 found,
 * 0 with e set when the CA never issued it, -1 on error. */
static int load_cert(struct ca_core *c, const struct ca *ca, const uint8_t *serial, size_t slen,
                     uint8_t **rec, struct crec *r, struct rerr *e) {
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, ca->id, serial, slen);
    size_t rl;
    int got = store_get(c->st, key, kl, rec, &rl, e);
    if (got < 0) return -1;
    if (got == 0) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        rerr_set(e, "CA %s has no certificate with serial %s", ca->name, hex);
        return 0;
    }
    if (!crec_decode(*rec, rl, r)) {
        free(*rec);
        *rec = NULL;
        rerr_set(e, "index: the record of this certificate is damaged");
        return -1;
    }
    return 1;
}

int ca_cert_pem(struct ca_core *c, const char *name, const uint8_t *serial, size_t slen, char **pem,
                struct rerr *e) {
    *pem = NULL;
    const struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    uint8_t *rec = NULL;
    struct crec r;
    int got = load_cert(c, ca, serial, slen, &rec, &r, e);
    if (got != 1) return got;
    if (r.der_len == 0) {
        free(rec);
        return rerr_set(e, "CA %s has no certificate bytes for this serial (imported: only its status is known)",
                        ca->name);
    }
    *pem = certbuild_der_to_pem(r.der, r.der_len);
    free(rec);
    if (*pem == NULL) return rerr_set(e, "out of memory") - 1;
    return 1;
}

/* The CRL partition a record's revocation is listed in: none for revd's
 * own OCSP responder certificates (URLS_PART_NONE; those issued before it
 * was kept were recorded with the CA scope, whose onlyContainsCACerts
 * does not fit them). */
static uint32_t crl_part(const struct crec *r) {
    return strcmp(r->template_name, "ocsp-responder") == 0 ? URLS_PART_NONE : r->partition;
}

/* Writes the new record and its revocation entry (or its removal), and
 * raises the partition's change number (to the seq of the log record
 * about to be given out: it only grows), so that a CRL built before this
 * change is never taken back as current after a restart. */
static void put_cert(struct ca_core *c, struct store_batch *b, const struct ca *ca, const uint8_t *serial, size_t slen,
                     const struct crec *r) {
    uint8_t *rec;
    size_t rl;
    if (!crec_encode(r, &rec, &rl)) abort();
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, ca->id, serial, slen);
    store_batch_put(b, key, kl, rec, rl);
    free(rec);
    uint8_t dk[KEY_MAX], dv[8];
    bytes_put_u64(dv, c->oplog_seq + 1);
    uint32_t part = crl_part(r);
    if (part == URLS_PART_NONE) {
        /* A responder recorded with the CA scope before: any entry it left
         * there goes (its CRL says onlyContainsCACerts). */
        if (r->partition != URLS_PART_NONE) {
            store_batch_put(b, dk, ikey_part_change(dk, ca->id, r->partition), dv, 8);
            store_batch_delete(b, key, ikey_revoked(key, ca->id, r->partition, serial, slen));
        }
        return;
    }
    store_batch_put(b, dk, ikey_part_change(dk, ca->id, part), dv, 8);
    kl = ikey_revoked(key, ca->id, part, serial, slen);
    if (r->status == CERT_REVOKED) {
        uint8_t v[REV_VALUE_LEN];
        crec_rev_value(r, v);
        store_batch_put(b, key, kl, v, sizeof(v));
    } else {
        store_batch_delete(b, key, kl);
    }
}

int revoke_chain_unrevoked(struct ca_core *c, const struct ca *ca, struct rerr *e) {
    int depth = 0;
    for (const struct ca *k = ca; k != NULL && depth <= CA_MAX_DEPTH; depth++) {
        struct ca *parent = core_find(c, k->parent);
        if (parent == NULL || k->cert == NULL) return 1;
        const ASN1_INTEGER *sn = X509_get0_serialNumber(k->cert);
        uint8_t *rec = NULL;
        struct crec r;
        struct rerr ignored;
        int got = load_cert(c, parent, sn->data, (size_t)sn->length, &rec, &r, &ignored);
        free(rec);
        if (got < 0) return rerr_set(e, "%s", ignored.msg);
        if (got == 1 && r.status == CERT_REVOKED) {
            if (r.reason == REASON_CERTIFICATE_HOLD)
                return rerr_set(e, "the certificate of CA %s is on hold at CA %s; release it first (revd unhold)",
                                k->name, parent->name);
            if (k == ca)
                return rerr_set(e, "the certificate of CA %s was revoked by CA %s; a revoked CA cannot issue again",
                                k->name, parent->name);
            return rerr_set(e, "the certificate of CA %s was revoked by CA %s; CA %s, below it, cannot issue again",
                            k->name, parent->name, ca->name);
        }
        k = parent;
    }
    return 1;
}

/* in_subtree[i] is set for the CA whose certificate is serial of ca and
 * every CA below it in DIR. Returns the top one, or NULL if none. */
static struct ca *mark_subtree(struct ca_core *c, const struct ca *ca, const uint8_t *serial,
                               size_t slen, uint8_t *in_subtree) {
    struct ca *top = NULL;
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *k = c->cas[i];
        const ASN1_INTEGER *sn = k->cert ? X509_get0_serialNumber(k->cert) : NULL;
        if (sn != NULL && strcmp(k->parent, ca->name) == 0 && (size_t)sn->length == slen &&
            memcmp(sn->data, serial, slen) == 0) {
            top = k;
            in_subtree[i] = 1;
        }
    }
    /* A hierarchy is at most CA_MAX_DEPTH deep: that many passes reach all. */
    for (int pass = 0; top != NULL && pass < CA_MAX_DEPTH; pass++)
        for (size_t i = 0; i < c->num_cas; i++)
            for (size_t j = 0; j < c->num_cas && !in_subtree[i]; j++)
                if (in_subtree[j] && strcmp(c->cas[i]->parent, c->cas[j]->name) == 0) in_subtree[i] = 1;
    return top;
}

/* revoke_status_check: a certificate may be revoked when good, or made
 * final when on hold (*was_held); a revocation is final. */
static int revoke_status_check(const struct crec *r, int reason, int *was_held, struct rerr *e) {
    *was_held = 0;
    if (r->status != CERT_REVOKED) return 1;
    if (r->reason != REASON_CERTIFICATE_HOLD) {
        char when[21];
        rtime_format(r->revoked_at, when);
        return rerr_set(e, "this certificate was already revoked at %s (%s); a revocation is final", when,
                        reason_name(r->reason));
    }
    if (reason == REASON_CERTIFICATE_HOLD)
        return rerr_set(e, "this certificate is already on hold (revd unhold releases it)");
    *was_held = 1;
    return 1;
}

int ca_revoke(struct ca_core *c, const char *name, const uint8_t *serial, size_t slen, int reason,
              int64_t invalidity, struct rerr *e) {
    uint8_t *rec = NULL;
    uint8_t *changed = NULL; /* per CA in c->cas: disabled by this call */
    size_t num_changed = 0;
    struct store_batch *b = NULL;
    int ok = 0;
    const char *rname = reason_name(reason);
    c->notice[0] = '\0';
    json_t *params = json_pack("{s:s?,s:I}", "reason", rname, "invalidity_date", (json_int_t)invalidity);
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) goto out;
    if (ca->state == CA_STATE_PURGED) {
        rerr_set(e, "CA %s is purged: its keys are destroyed and its status is no longer published", ca->name);
        goto out;
    }
    if (rname == NULL || reason == 7 || reason == REASON_REMOVE_FROM_CRL) {
        rerr_set(e, "reason %d is not a revocation reason (%s)", reason, reason_list());
        goto out;
    }
    struct crec r;
    if (load_cert(c, ca, serial, slen, &rec, &r, e) != 1) goto out;
    int64_t now = rtime_now();
    if (invalidity != 0 && invalidity > now) {
        rerr_set(e, "--invalidity-date is in the future (it is when the key was known or suspected to be compromised)");
        goto out;
    }
    int was_held = 0;
    if (!revoke_status_check(&r, reason, &was_held, e)) goto out;
    /* A hold made final keeps its original revocation time (RFC 5280 5.3.1). */
    if (!was_held) r.revoked_at = now;
    /* The CA's own responder is replaced first: a new key and certificate
     * sign from now on, so no response is signed by a revoked responder
     * (its nocheck certificate makes clients never ask about it). */
    int retired = 0;
    if (!responder_retire(c, ca, serial, slen, &retired, e)) goto out;
    r.status = CERT_REVOKED;
    r.reason = (uint8_t)reason;
    r.invalidity = invalidity;
    r.flags = (uint8_t)((r.flags & ~CREC_F_INVALIDITY) | (invalidity ? CREC_F_INVALIDITY : 0));
    b = store_batch_new();
    put_cert(c, b, ca, serial, slen, &r);
    /* A CA in DIR whose certificate this is, and every CA below it, stop
     * issuing, in the same write. */
    struct ca *top = NULL;
    if (r.flags & CREC_F_CA) {
        changed = calloc(c->num_cas + 1, 1);
        if (changed == NULL) abort();
        top = mark_subtree(c, ca, serial, slen, changed);
        for (size_t i = 0; i < c->num_cas; i++) {
            if (changed[i] && c->cas[i]->state == CA_STATE_ACTIVE) {
                c->cas[i]->state = CA_STATE_DISABLED;
                carec_put(c, b, c->cas[i]);
                num_changed++;
            } else {
                changed[i] = 0;
            }
        }
    }
    if (was_held) ca->held--;
    if (reason == REASON_CERTIFICATE_HOLD) ca->held++;
    else ca->revoked++;
    carec_put(c, b, ca);
    chlog_add(c, b, ca->id, 0, serial, slen);
    oplog_add(c, b, "revoke", ca->name, serial, slen, params, "ok");
    params = NULL;
    if (!oplog_commit(c, b, e)) {
        if (was_held) ca->held++;
        if (reason == REASON_CERTIFICATE_HOLD) ca->held--;
        else ca->revoked--;
        for (size_t i = 0; changed != NULL && i < c->num_cas; i++)
            if (changed[i]) c->cas[i]->state = CA_STATE_ACTIVE;
        goto out;
    }
    changes_note(c, ca, serial, slen);
    if (retired)
        snprintf(c->notice, sizeof(c->notice),
                 "this was the OCSP responder of CA %s: a new responder signs its responses from now on, and "
                 "every response of CA %s is signed again", ca->name, ca->name);
    if (top != NULL)
        snprintf(c->notice, sizeof(c->notice), "CA %s is now disabled: its certificate is revoked (%s)%s",
                 top->name, rname, num_changed > 1 ? "; so are the CAs below it" : "");
    ok = 1;
out:
    if (!ok) oplog_failure(c, "revoke", name, serial, slen, params, e);
    else json_decref(params);
    free(changed);
    store_batch_free(b);
    free(rec);
    return ok;
}

static int cmp_serial_slot(const void *a, const void *b) {
    const struct ca_serial *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->bytes, y->bytes, x->len);
}

int ca_revoke_many(struct ca_core *c, const char *name, const struct ca_serial *serials, size_t n, int reason,
                   int64_t invalidity, struct rerr *e) {
    struct store_batch *b = NULL;
    struct ca_serial *sorted = NULL;
    int ok = 0;
    uint64_t held_before = 0, revoked_before = 0;
    const char *rname = reason_name(reason);
    c->notice[0] = '\0';
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) goto out;
    if (ca->state == CA_STATE_PURGED) {
        rerr_set(e, "CA %s is purged: its keys are destroyed and its status is no longer published", ca->name);
        goto out;
    }
    held_before = ca->held;
    revoked_before = ca->revoked;
    if (rname == NULL || reason == 7 || reason == REASON_REMOVE_FROM_CRL) {
        rerr_set(e, "reason %d is not a revocation reason (%s)", reason, reason_list());
        goto out;
    }
    if (n == 0 || n > CA_REVOKE_MANY_MAX) {
        rerr_set(e, "a bulk revocation takes 1 to %d serials, not %zu", CA_REVOKE_MANY_MAX, n);
        goto out;
    }
    int64_t now = rtime_now();
    if (invalidity != 0 && invalidity > now) {
        rerr_set(e, "--invalidity-date is in the future (it is when the key was known or suspected to be compromised)");
        goto out;
    }
    /* The same serial twice: refused (the whole file is checked first). */
    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
        rerr_set(e, "out of memory");
        goto out;
    }
    memcpy(sorted, serials, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_serial_slot);
    for (size_t i = 1; i < n; i++)
        if (cmp_serial_slot(&sorted[i - 1], &sorted[i]) == 0) {
            char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
            hex_encode_serial(sorted[i].bytes, sorted[i].len, hex);
            rerr_set(e, "serial %s is listed twice", hex);
            goto out;
        }
    b = store_batch_new();
    for (size_t i = 0; i < n; i++) {
        const uint8_t *serial = serials[i].bytes;
        size_t slen = serials[i].len;
        uint8_t *rec = NULL;
        struct crec r;
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        if (load_cert(c, ca, serial, slen, &rec, &r, e) != 1) goto out;
        int was_held = r.status == CERT_REVOKED && r.reason == REASON_CERTIFICATE_HOLD;
        const char *why = NULL;
        if (r.flags & CREC_F_CA) why = "is a CA certificate: revoke it alone (revd revoke --serial), which also disables the CAs below it";
        else if (strcmp(r.template_name, "ocsp-responder") == 0)
            why = "is an OCSP responder's certificate: revoke it alone (revd revoke --serial), which replaces the "
                  "responder first";
        else if (r.status == CERT_REVOKED && !was_held) why = "was already revoked (a revocation is final)";
        else if (was_held && reason == REASON_CERTIFICATE_HOLD) why = "is already on hold";
        if (why != NULL) {
            rerr_set(e, "serial %s %s; nothing was revoked", hex, why);
            free(rec);
            goto out;
        }
        if (!was_held) r.revoked_at = now;
        r.status = CERT_REVOKED;
        r.reason = (uint8_t)reason;
        r.invalidity = invalidity;
        r.flags = (uint8_t)((r.flags & ~CREC_F_INVALIDITY) | (invalidity ? CREC_F_INVALIDITY : 0));
        put_cert(c, b, ca, serial, slen, &r);
        chlog_add(c, b, ca->id, 0, serial, slen);
        free(rec);
        if (was_held) ca->held--;
        if (reason == REASON_CERTIFICATE_HOLD) ca->held++;
        else ca->revoked++;
        /* One log record per certificate, as for single revocations. */
        oplog_add(c, b, "revoke", ca->name, serial, slen,
                  json_pack("{s:s?,s:I,s:b}", "reason", rname, "invalidity_date", (json_int_t)invalidity, "bulk", 1),
                   "ok");
    }
    carec_put(c, b, ca);
    if (!oplog_commit(c, b, e)) goto out;
    for (size_t i = 0; i < n; i++) changes_note(c, ca, serials[i].bytes, serials[i].len);
    ok = 1;
out:
    if (!ok && ca != NULL) {
        ca->held = held_before;
        ca->revoked = revoked_before;
    }
    if (!ok)
        oplog_failure(c, "revoke", name, NULL, 0, json_pack("{s:s?,s:I}", "reason", rname, "count", (json_int_t)n),
                      e);
    store_batch_free(b);
    free(sorted);
    return ok;
}

int ca_unhold(struct ca_core *c, const char *name, const uint8_t *serial, size_t slen, struct rerr *e) {
    uint8_t *rec = NULL;
    struct store_batch *b = NULL;
    int ok = 0;
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) goto out;
    if (ca->state == CA_STATE_PURGED) {
        rerr_set(e, "CA %s is purged: its keys are destroyed and its status is no longer published", ca->name);
        goto out;
    }
    struct crec r;
    if (load_cert(c, ca, serial, slen, &rec, &r, e) != 1) goto out;
    if (r.status != CERT_REVOKED) {
        rerr_set(e, "this certificate is not on hold (it is good)");
        goto out;
    }
    if (r.reason != REASON_CERTIFICATE_HOLD) {
        rerr_set(e, "this certificate is revoked (%s), not on hold; only certificateHold can be released",
                 reason_name(r.reason));
        goto out;
    }
    r.status = CERT_GOOD;
    r.reason = 0;
    r.revoked_at = 0;
    r.invalidity = 0;
    r.flags &= (uint8_t)~CREC_F_INVALIDITY;
    b = store_batch_new();
    /* put_cert removes the revocation entry: the next CRL of the partition
     * no longer lists it (RFC 5280 5.3.1 allows removal of a hold). */
    put_cert(c, b, ca, serial, slen, &r);
    ca->held--;
    carec_put(c, b, ca);
    chlog_add(c, b, ca->id, 0, serial, slen);
    oplog_add(c, b, "unhold", ca->name, serial, slen, NULL, "ok");
    if (!oplog_commit(c, b, e)) {
        ca->held++;
        goto out;
    }
    changes_note(c, ca, serial, slen);
    ok = 1;
out:
    if (!ok) oplog_failure(c, "unhold", name, serial, slen, NULL, e);
    store_batch_free(b);
    free(rec);
    return ok;
}

int ca_status(struct ca_core *c, const char *name, const uint8_t *serial, size_t slen,
              struct ca_cert_status *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    uint8_t *rec = NULL;
    struct crec r;
    int got = load_cert(c, ca, serial, slen, &rec, &r, e);
    if (got < 0) return 0;
    if (got == 0) return 1; /* unknown is a result */
    out->found = 1;
    out->status = r.status;
    out->reason = r.reason;
    out->revoked_at = r.revoked_at;
    out->invalidity = (r.flags & CREC_F_INVALIDITY) ? r.invalidity : 0;
    out->not_before = r.not_before;
    out->not_after = r.not_after;
    out->partition = r.partition;
    /* The CDP stored with the partition, byte for byte. */
    uint8_t key[KEY_MAX];
    size_t kl = ikey_part(key, ca->id, r.partition);
    uint8_t *url;
    size_t ul;
    if (store_get(c->st, key, kl, &url, &ul, e) == 1) {
        snprintf(out->crl_url, sizeof(out->crl_url), "%.*s", (int)ul, (const char *)url);
        free(url);
    } else {
        partition_url(ca, r.partition, out->crl_url);
    }
    free(rec);
    return 1;
}
