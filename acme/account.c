/* account: ACME accounts (RFC 8555 7.3): new-account with External
 * Account Binding, reading and updating one, deactivation, its orders, and
 * key rollover (7.3.5). An account's key is found by its RFC 7638
 * thumbprint ("key/THUMBPRINT"), so one key opens one account. */
#include "acme/account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "acme/eab.h"
#include "ca/ca.h"
#include "common/b64url.h"
#include "common/rtime.h"

#define CONTACTS_MAX 4
#define CONTACT_LEN_MAX 256

static json_t *account_view(struct acme *a, const char *id, const json_t *acct) {
    char orders[512];
    acme_url(a, orders, sizeof(orders), "acct", id);
    strncat(orders, "/orders", sizeof(orders) - strlen(orders) - 1);
    json_t *v = json_pack("{s:O,s:s}", "status", json_object_get(acct, "status"), "orders", orders);
    json_t *c = json_object_get(acct, "contact");
    if (c != NULL) json_object_set(v, "contact", c);
    return v;
}

/* contacts_ok: at most CONTACTS_MAX "mailto:" addresses, one '@', no ','. */
static int contacts_ok(struct acme_call *k, const json_t *c) {
    if (c == NULL) return 1;
    if (!json_is_array(c) || json_array_size(c) > CONTACTS_MAX)
        return acme_problem(k, 400, "invalidContact", "contact: at most %d mailto: URLs", CONTACTS_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(c, i, v) {
        const char *s = json_string_value(v);
        if (s == NULL || strncmp(s, "mailto:", 7) != 0)
            return acme_problem(k, 400, "unsupportedContact", "only mailto: contacts are taken");
        const char *at = strchr(s + 7, '@');
        if (strlen(s) > CONTACT_LEN_MAX || at == NULL || at == s + 7 || strchr(at + 1, '@') || strchr(s, ',') ||
            strchr(s, '?') || at[1] == '\0')
            return acme_problem(k, 400, "invalidContact", "contact '%.80s' is not one plain email address", s);
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                return acme_problem(k, 400, "invalidContact", "a contact holds only printable ASCII");
    }
    return 1;
}

/* eab_check: the binding (RFC 8555 7.3.4) verifies under a live EAB key;
 * *eab set to that key's record (owned). */
static int eab_check(struct acme_call *k, const json_t *binding, json_t **eab) {
    struct jws inner;
    memset(&inner, 0, sizeof(inner));
    const char *problem = "malformed";
    struct rerr e;
    if (!jws_eab_parse(binding, &inner, &problem, &e)) return acme_problem(k, 400, problem, "externalAccountBinding: %s", e.msg);
    int ok = 0;
    *eab = strlen(inner.kid) == ACME_ID_LEN ? acme_load(k->a->core, "eab", inner.kid, &e) : NULL;
    const char *hmac = json_string_value(json_object_get(*eab, "hmac"));
    uint8_t key[64];
    size_t kl = 0;
    char url[512];
    acme_url(k->a, url, sizeof(url), "new-account", NULL);
    if (*eab == NULL || hmac == NULL)
        acme_problem(k, 401, "unauthorized", "externalAccountBinding: no such EAB key");
    else if (json_is_true(json_object_get(*eab, "revoked")))
        acme_problem(k, 401, "unauthorized", "externalAccountBinding: the EAB key is revoked");
    else if (!b64url_decode(hmac, strlen(hmac), key, sizeof(key), &kl))
        acme_problem(k, 500, "serverInternal", "the EAB key's record is damaged");
    else if (!jws_eab_verify(&inner, key, kl, url, k->jws.jwk, &e))
        acme_problem(k, 401, "unauthorized", "externalAccountBinding does not verify: %s", e.msg);
    else
        ok = 1;
    OPENSSL_cleanse(key, sizeof(key));
    jws_free(&inner);
    if (!ok) {
        json_decref(*eab);
        *eab = NULL;
    }
    return ok;
}

/* source_rate_ok: new accounts from the request's address within
 * acme-accounts-per-hour, else answered (429). */
static int source_rate_ok(struct acme_call *k) {
    char key[64];
    const char *src = k->rq->source ? k->rq->source : "?", *colon = strrchr(src, ':');
    int n = colon ? (int)(colon - src) : (int)strlen(src);
    snprintf(key, sizeof(key), "src:%.*s", n, src);
    if (acme_rate_take(k->a, key, k->a->cf.accounts_per_hour)) return 1;
    k->rs->retry_after = 300;
    return acme_problem(k, 429, "rateLimited", "this address may open %d accounts an hour",
                        k->a->cf.accounts_per_hour);
}

/* existing: the account this key opened already, answered (RFC 8555 7.3.1). */
static int existing(struct acme_call *k, const char *thumb) {
    struct rerr e;
    json_t *kr = acme_load(k->a->core, "key", thumb, &e);
    const char *id = json_string_value(json_object_get(kr, "acct"));
    json_t *acct = id ? acme_load(k->a->core, "acct", id, &e) : NULL;
    if (acct != NULL) {
        acme_url(k->a, k->rs->location, sizeof(k->rs->location), "acct", id);
        acme_reply(k, 200, account_view(k->a, id, acct));
    }
    json_decref(kr);
    json_decref(acct);
    return acct != NULL;
}

void acme_new_account(struct acme_call *k) {
    struct acme *a = k->a;
    json_t *p = k->payload;
    if (p == NULL) return (void)acme_problem(k, 400, "malformed", "new-account takes a JSON object");
    char thumb[44];
    struct rerr e;
    if (!jwk_thumbprint(k->jws.jwk, thumb, &e)) return (void)acme_problem(k, 400, "badPublicKey", "%s", e.msg);
    if (existing(k, thumb)) return;
    if (json_is_true(json_object_get(p, "onlyReturnExisting")))
        return (void)acme_problem(k, 400, "accountDoesNotExist", "no account has this key");
    json_t *contact = json_object_get(p, "contact"), *binding = json_object_get(p, "externalAccountBinding");
    if (!contacts_ok(k, contact)) return;
    json_t *eab = NULL;
    if (binding == NULL && a->cf.eab_required)
        return (void)acme_problem(k, 400, "externalAccountRequired",
                                  "this server opens accounts only with an External Account Binding (ask the "
                                  "operator for a key: revd acme eab-create)");
    if (binding != NULL && !eab_check(k, binding, &eab)) return;
    if (!source_rate_ok(k)) {
        json_decref(eab);
        return;
    }
    char id[ACME_ID_LEN + 1], now[21];
    acme_new_id(id);
    rtime_format(rtime_now(), now);
    const char *ca = eab ? json_string_value(json_object_get(eab, "ca")) : a->ca;
    json_t *tmpls = eab ? json_incref(json_object_get(eab, "templates")) : json_pack("[s]", a->tmpl);
    json_t *acct = json_pack("{s:s,s:O,s:s,s:s,s:o,s:s}", "status", "valid", "jwk", k->jws.jwk, "thumbprint", thumb,
                             "ca", ca ? ca : "", "templates", tmpls ? tmpls : json_array(), "created", now);
    if (contact != NULL) json_object_set(acct, "contact", contact);
    if (eab != NULL) {
        json_object_set(acct, "eab", json_object_get(eab, "kid"));
        json_object_set(acct, "allow", json_object_get(eab, "allow"));
    }
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "acct", id, acct);
    json_t *kr = json_pack("{s:s}", "acct", id);
    acme_txn_put(&t, "key", thumb, kr);
    json_decref(kr);
    snprintf(k->acct_id, sizeof(k->acct_id), "%s", id);
    acme_set_actor(k);
    json_t *params = json_pack("{s:s,s:s,s:s}", "account", id, "thumbprint", thumb, "eab",
                               eab ? json_string_value(json_object_get(eab, "kid")) : "");
    if (!acme_txn_commit(a->core, &t, "acme-account-new", ca && *ca ? ca : NULL, params, &e))
        acme_problem(k, 500, "serverInternal", "%s", e.msg);
    else {
        acme_url(a, k->rs->location, sizeof(k->rs->location), "acct", id);
        acme_reply(k, 201, account_view(a, id, acct));
    }
    json_decref(eab);
    json_decref(acct);
}

struct order_list {
    struct acme *a;
    json_t *urls;
};

static int order_row(void *arg, const char *id, json_t *obj) {
    struct order_list *l = arg;
    const char *slash = strchr(id, '/');
    char u[512];
    if (slash == NULL) return 1;
    acme_url(l->a, u, sizeof(u), "order", slash + 1);
    json_array_append_new(l->urls, json_string(u));
    return json_array_size(l->urls) < 1000;
}

static void update_account(struct acme_call *k, const char *id) {
    json_t *p = k->payload, *status = json_object_get(p, "status"), *contact = json_object_get(p, "contact");
    const char *s = json_string_value(status);
    if (status != NULL && (s == NULL || strcmp(s, "deactivated") != 0))
        return (void)acme_problem(k, 400, "malformed", "an account's status may only become deactivated");
    if (!contacts_ok(k, contact)) return;
    if (contact != NULL) json_object_set(k->acct, "contact", contact);
    if (status != NULL) json_object_set_new(k->acct, "status", json_string("deactivated"));
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "acct", id, k->acct);
    struct rerr e;
    const char *op = status != NULL ? "acme-account-deactivate" : "acme-account-update";
    if (!acme_txn_commit(k->a->core, &t, op, NULL, json_pack("{s:s}", "account", id), &e))
        return (void)acme_problem(k, 500, "serverInternal", "%s", e.msg);
    acme_reply(k, 200, account_view(k->a, id, k->acct));
}

void acme_account(struct acme_call *k, const char *id, int orders) {
    if (k->acct == NULL || strcmp(id, k->acct_id) != 0)
        return (void)acme_problem(k, 401, "unauthorized", "an account is read or changed only with its own key");
    if (orders) {
        struct order_list l = {k->a, json_array()};
        char prefix[ACME_ID_LEN + 2];
        snprintf(prefix, sizeof(prefix), "%s/", id);
        struct rerr e;
        if (!acme_scan(k->a->core, "ao", prefix, order_row, &l, &e)) {
            json_decref(l.urls);
            return (void)acme_problem(k, 500, "serverInternal", "%s", e.msg);
        }
        return acme_reply(k, 200, json_pack("{s:o}", "orders", l.urls));
    }
    if (k->payload == NULL || json_object_size(k->payload) == 0)
        return acme_reply(k, 200, account_view(k->a, id, k->acct));
    update_account(k, id);
}

/* key_change_inner checks the inner JWS of a key rollover (RFC 8555
 * 7.3.5): signed by the new key (a jwk), for the same URL, no nonce, its
 * payload naming this account and its current key. *newkey: the new jwk. */
static int key_change_inner(struct acme_call *k, struct jws *in, json_t **newkey) {
    const char *problem = "malformed";
    struct rerr e;
    if (k->jws.payload_len == 0 || !jws_parse((const char *)k->jws.payload, k->jws.payload_len, in, &problem, &e))
        return acme_problem(k, 400, problem, "key-change: the inner JWS: %s", e.msg);
    if (in->jwk == NULL || in->nonce[0] || strcmp(in->url, k->jws.url) != 0)
        return acme_problem(k, 400, "malformed", "key-change: the inner JWS needs a jwk, no nonce, and the outer url");
    EVP_PKEY *nk = jwk_to_key(in->jwk, &problem, &e);
    int ok = nk != NULL && jws_verify(in, nk, &e);
    EVP_PKEY_free(nk);
    if (!ok) return acme_problem(k, 400, nk ? "malformed" : problem, "key-change: the new key: %s", e.msg);
    json_error_t je;
    json_t *p = json_loadb((const char *)in->payload, in->payload_len, JSON_REJECT_DUPLICATES, &je);
    const char *account = json_string_value(json_object_get(p, "account"));
    ok = account != NULL && strcmp(account, k->jws.kid) == 0 &&
         json_equal(json_object_get(p, "oldKey"), json_object_get(k->acct, "jwk"));
    json_decref(p);
    if (!ok) return acme_problem(k, 400, "malformed", "key-change: the payload must name this account and its key");
    *newkey = in->jwk;
    return 1;
}

void acme_key_change(struct acme_call *k) {
    struct jws in;
    memset(&in, 0, sizeof(in));
    json_t *nk = NULL;
    char thumb[44];
    struct rerr e;
    if (!key_change_inner(k, &in, &nk)) goto out;
    if (!jwk_thumbprint(nk, thumb, &e)) {
        acme_problem(k, 400, "badPublicKey", "%s", e.msg);
        goto out;
    }
    json_t *taken = acme_load(k->a->core, "key", thumb, &e);
    if (taken != NULL) {
        const char *other = json_string_value(json_object_get(taken, "acct"));
        if (other != NULL) acme_url(k->a, k->rs->location, sizeof(k->rs->location), "acct", other);
        json_decref(taken);
        acme_problem(k, 409, "malformed", "the new key belongs to an account already");
        goto out;
    }
    char old[48]; /* a copy: setting the new thumbprint frees the old string */
    const char *ot = json_string_value(json_object_get(k->acct, "thumbprint"));
    snprintf(old, sizeof(old), "%s", ot ? ot : "");
    struct acme_txn t;
    acme_txn_init(&t);
    if (old[0]) acme_txn_del(&t, "key", old);
    json_t *kr = json_pack("{s:s}", "acct", k->acct_id);
    acme_txn_put(&t, "key", thumb, kr);
    json_decref(kr);
    json_object_set(k->acct, "jwk", nk);
    json_object_set_new(k->acct, "thumbprint", json_string(thumb));
    acme_txn_put(&t, "acct", k->acct_id, k->acct);
    if (!acme_txn_commit(k->a->core, &t, "acme-account-key-change", NULL,
                         json_pack("{s:s,s:s,s:s}", "account", k->acct_id, "old", old, "new", thumb), &e))
        acme_problem(k, 500, "serverInternal", "%s", e.msg);
    else
        acme_reply(k, 200, account_view(k->a, k->acct_id, k->acct));
out:
    jws_free(&in);
}
