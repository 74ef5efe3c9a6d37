/* order: ACME orders, authorizations and challenges (RFC 8555 7.4, 7.5):
 * new-order (identifiers checked against the account's EAB allow list and
 * the CA's name constraints before anything is stored), reading them,
 * answering a challenge (the validation goes to the pool), the pool's
 * verdict (the authorization, then the order, in one write), finalize
 * (the CSR must name exactly the order's identifiers; the order becomes
 * "processing" and is issued at the next turn of the loop), and the
 * certificate. An order's key "pr/ID" marks it finalized and not yet
 * issued, an authorization's "vp/ID" a validation under way: both are
 * taken up again at start (acme_resume). */
#include "acme/order.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/ident.h"
#include "acme/profile.h"
#include "acme/renewal.h"
#include "ca/ca.h"
#include "common/b64url.h"
#include "common/hex.h"
#include "common/rtime.h"

#define TOKEN_OCTETS 32
#define CSR_MAX (16 * 1024)

static const char *const chal_names[] = {"http-01", "dns-01", "tls-alpn-01"};

static const char *str(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- views ---- */

static const char *order_status(const json_t *o) {
    const char *st = str(o, "status");
    if ((strcmp(st, "pending") == 0 || strcmp(st, "ready") == 0) &&
        json_integer_value(json_object_get(o, "expires")) < rtime_now())
        return "invalid";
    return st;
}

static json_t *order_view(struct acme *a, const char *id, const json_t *o) {
    char u[512], t[21];
    json_t *authz = json_array(), *ids = json_object_get(o, "authz");
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        acme_url(a, u, sizeof(u), "authz", json_string_value(v));
        json_array_append_new(authz, json_string(u));
    }
    rtime_format(json_integer_value(json_object_get(o, "expires")), t);
    acme_url(a, u, sizeof(u), "order", id);
    strncat(u, "/finalize", sizeof(u) - strlen(u) - 1);
    json_t *view = json_pack("{s:s,s:s,s:O,s:o,s:s}", "status", order_status(o), "expires", t, "identifiers",
                             json_object_get(o, "identifiers"), "authorizations", authz, "finalize", u);
    if (*str(o, "template")) json_object_set_new(view, "profile", json_string(str(o, "template")));
    int64_t na = json_integer_value(json_object_get(o, "not_after"));
    if (na > 0) {
        rtime_format(na, t);
        json_object_set_new(view, "notAfter", json_string(t));
    }
    if (*str(o, "cert")) {
        acme_url(a, u, sizeof(u), "cert", str(o, "cert"));
        json_object_set_new(view, "certificate", json_string(u));
    }
    if (json_object_get(o, "error") != NULL) json_object_set(view, "error", json_object_get(o, "error"));
    return view;
}

static json_t *chal_view(struct acme *a, const char *authz, const json_t *c) {
    char u[512], id[160];
    snprintf(id, sizeof(id), "%s/%s", authz, str(c, "type"));
    acme_url(a, u, sizeof(u), "chall", id);
    const char *st = str(c, "status");
    json_t *v = json_pack("{s:s,s:s,s:s,s:s}", "type", str(c, "type"), "url", u, "token", str(c, "token"), "status", st);
    if (json_object_get(c, "validated") != NULL) {
        char t[21];
        rtime_format(json_integer_value(json_object_get(c, "validated")), t);
        json_object_set_new(v, "validated", json_string(t));
    }
    if (json_object_get(c, "error") != NULL) json_object_set(v, "error", json_object_get(c, "error"));
    return v;
}

static json_t *authz_view(struct acme *a, const char *id, const json_t *z) {
    char t[21];
    rtime_format(json_integer_value(json_object_get(z, "expires")), t);
    const char *st = str(z, "status");
    if (strcmp(st, "pending") == 0 && json_integer_value(json_object_get(z, "expires")) < rtime_now()) st = "expired";
    const char *value = str(z, "value");
    int wild = strncmp(value, "*.", 2) == 0;
    json_t *chals = json_array(), *cs = json_object_get(z, "challenges");
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c) json_array_append_new(chals, chal_view(a, id, c));
    json_t *v = json_pack("{s:{s:s,s:s},s:s,s:s,s:o}", "identifier", "type", str(z, "type"), "value",
                          wild ? value + 2 : value, "status", st, "expires", t, "challenges", chals);
    if (wild) json_object_set_new(v, "wildcard", json_true());
    return v;
}

/* load_owned: KIND/ID of this account, or answered (404, 401). */
static json_t *load_owned(struct acme_call *k, const char *kind, const char *id) {
    struct rerr e;
    json_t *o = strlen(id) == ACME_ID_LEN || strcmp(kind, "cert") == 0 ? acme_load(k->a->core, kind, id, &e) : NULL;
    if (o == NULL) {
        e.msg[0] ? acme_problem(k, 500, "serverInternal", "%s", e.msg)
                 : acme_problem(k, 404, "malformed", "no %s %.40s", kind, id);
        return NULL;
    }
    if (k->acct == NULL || strcmp(str(o, "acct"), k->acct_id) != 0) {
        json_decref(o);
        acme_problem(k, 401, "unauthorized", "this %s belongs to another account", kind);
        return NULL;
    }
    return o;
}

/* ---- new-order ---- */

/* idents: the payload's identifiers, canonical, checked, without repeats,
 * into out (a new array of {type, value}). */
static int idents(struct acme_call *k, json_t *list, json_t **out) {
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0 || n > ACME_ORDER_IDENTS_MAX)
        return acme_problem(k, 400, "malformed", "identifiers: 1 to %d are expected", ACME_ORDER_IDENTS_MAX);
    const char *ca = str(k->acct, "ca");
    if (*ca == '\0') return acme_problem(k, 403, "unauthorized", "this account may not order: no CA is set for it");
    *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        char canon[ACME_IDENT_MAX + 1];
        const char *why, *type = json_string_value(json_object_get(v, "type"));
        struct rerr e;
        if (!json_is_object(v) || !acme_ident_canon(type, json_string_value(json_object_get(v, "value")), canon, &why))
            return json_decref(*out), acme_problem(k, 400, "rejectedIdentifier", "identifier %zu: %s", i, why);
        if (!acme_allowed(json_object_get(k->acct, "allow"), type, canon))
            return json_decref(*out), acme_problem(k, 400, "rejectedIdentifier",
                                                   "%s is outside what this account's EAB key allows", canon);
        int r = ca_name_allowed(k->a->core, ca, type, canon, &e);
        if (r != 1)
            return json_decref(*out), r < 0 ? acme_problem(k, 500, "serverInternal", "%s", e.msg)
                                            : acme_problem(k, 400, "rejectedIdentifier", "%s", e.msg);
        json_t *id = json_pack("{s:s,s:s}", "type", type, "value", canon);
        int dup = 0;
        size_t j;
        json_t *w;
        json_array_foreach(*out, j, w) dup |= json_equal(w, id);
        if (!dup) json_array_append(*out, id);
        json_decref(id);
    }
    return 1;
}

/* new_authz: one authorization of order oid for identifier ident. */
static json_t *new_authz(struct acme_call *k, const char *oid, const json_t *ident) {
    const char *type = str(ident, "type"), *value = str(ident, "value");
    int wild = strncmp(value, "*.", 2) == 0, ip = strcmp(type, "ip") == 0;
    json_t *chals = json_array();
    for (int c = 0; c < 3; c++) {
        if ((wild && c != ACME_CHAL_DNS01) || (ip && c == ACME_CHAL_DNS01)) continue;
        uint8_t raw[TOKEN_OCTETS];
        char token[B64URL_ENC_LEN(TOKEN_OCTETS) + 1];
        if (RAND_bytes(raw, sizeof(raw)) != 1) abort();
        b64url_encode(raw, sizeof(raw), token, sizeof(token));
        json_array_append_new(chals, json_pack("{s:s,s:s,s:s}", "type", chal_names[c], "token", token, "status",
                                               "pending"));
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:o}", "acct", k->acct_id, "order", oid, "status", "pending", "expires",
                     (json_int_t)(rtime_now() + ACME_AUTHZ_LIFETIME_S), "type", type, "value", value, "challenges",
                     chals);
}

/* replaces (RFC 9773 5): the certificate this order renews, one this
 * account ordered; "" when none is named. */
static int replaces(struct acme_call *k, char serial[2 * 21 + 3]) {
    json_t *r = json_object_get(k->payload, "replaces");
    serial[0] = '\0';
    if (r == NULL) return 1;
    uint8_t aki[64];
    size_t al;
    struct rerr e;
    json_t *c = NULL;
    if (!json_is_string(r) || !acme_certid_parse(json_string_value(r), aki, &al, serial) ||
        (c = acme_load(k->a->core, "cert", serial, &e)) == NULL || strcmp(str(c, "acct"), k->acct_id) != 0) {
        json_decref(c);
        return acme_problem(k, 400, "malformed", "replaces: not a certificate this account ordered");
    }
    json_decref(c);
    return 1;
}

/* profile: the profile the order names (draft-aaron-acme-profiles), one
 * of the account's; none named: the account's first. */
static int profile(struct acme_call *k, const struct acme_profile **out) {
    json_t *p = json_object_get(k->payload, "profile"), *mine = json_object_get(k->acct, "templates");
    const char *name = p != NULL ? json_string_value(p) : json_string_value(json_array_get(mine, 0));
    size_t i;
    json_t *v;
    json_array_foreach(mine, i, v) {
        if (name != NULL && strcmp(json_string_value(v), name) == 0 && (*out = acme_profile_find(name)) != NULL)
            return 1;
    }
    char *list = json_dumps(mine, JSON_COMPACT);
    acme_problem(k, 400, "invalidProfile", "profile '%.40s' is not one this account may use (%s)",
                 name ? name : "?", list ? list : "[]");
    free(list);
    return 0;
}

/* validity: the notBefore/notAfter asked (RFC 8555 7.4), as not_after (0:
 * the default), within the profile's longest. revd issues from now: a
 * notBefore ahead is refused. */
static int validity(struct acme_call *k, const struct acme_profile *prof, int64_t *not_after) {
    const char *nb = json_string_value(json_object_get(k->payload, "notBefore"));
    const char *na = json_string_value(json_object_get(k->payload, "notAfter"));
    int64_t t, now = rtime_now();
    *not_after = 0;
    if (nb != NULL && (!rtime_parse(nb, &t) || t > now + 300))
        return acme_problem(k, 400, "malformed", "notBefore: revd issues from now (YYYY-MM-DDTHH:MM:SSZ, not ahead)");
    if (na == NULL) return 1;
    if (!rtime_parse(na, &t) || t <= now + 60)
        return acme_problem(k, 400, "malformed", "notAfter: a time (YYYY-MM-DDTHH:MM:SSZ) in the future");
    int days = prof->max_days > 0 && prof->max_days < k->a->cf.max_days ? prof->max_days : k->a->cf.max_days;
    if (t > now + (int64_t)days * 86400)
        return acme_problem(k, 400, "malformed", "notAfter: at most %d days from now (profile %s)", days, prof->name);
    *not_after = t;
    return 1;
}

void acme_new_order(struct acme_call *k) {
    struct acme *a = k->a;
    if (k->acct == NULL || k->payload == NULL)
        return (void)acme_problem(k, 400, "malformed", "new-order takes a JSON object signed by an account");
    int64_t not_after;
    json_t *ids = NULL;
    char replaced[2 * 21 + 3];
    const struct acme_profile *prof = NULL;
    if (!profile(k, &prof) || !validity(k, prof, &not_after) || !replaces(k, replaced) ||
        !idents(k, json_object_get(k->payload, "identifiers"), &ids))
        return;
    if (!acme_rate_take(a, k->acct_id, a->cf.orders_per_hour)) {
        json_decref(ids);
        k->rs->retry_after = 60;
        return (void)acme_problem(k, 429, "rateLimited", "this account may open %d orders an hour",
                                  a->cf.orders_per_hour);
    }
    char oid[ACME_ID_LEN + 1], key[2 * ACME_ID_LEN + 2];
    acme_new_id(oid);
    json_t *zids = json_array();
    struct acme_txn t;
    acme_txn_init(&t);
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        char zid[ACME_ID_LEN + 1];
        acme_new_id(zid);
        json_t *z = new_authz(k, oid, v);
        acme_txn_put(&t, "authz", zid, z);
        json_decref(z);
        json_array_append_new(zids, json_string(zid));
    }
    json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o,s:I,s:s,s:s}", "acct", k->acct_id, "status", "pending", "expires",
                          (json_int_t)(rtime_now() + ACME_ORDER_LIFETIME_S), "identifiers", ids, "authz", zids,
                          "not_after", (json_int_t)not_after, "ca", str(k->acct, "ca"), "template",
                          prof->name);
    if (replaced[0]) json_object_set_new(o, "replaces", json_string(replaced));
    acme_txn_put(&t, "order", oid, o);
    snprintf(key, sizeof(key), "%s/%s", k->acct_id, oid);
    json_t *empty = json_object();
    acme_txn_put(&t, "ao", key, empty);
    json_decref(empty);
    struct rerr e;
    if (!acme_txn_commit(a->core, &t, "acme-order-new", str(o, "ca"),
                         json_pack("{s:s,s:s,s:O}", "account", k->acct_id, "order", oid, "identifiers", ids), &e))
        acme_problem(k, 500, "serverInternal", "%s", e.msg);
    else {
        acme_url(a, k->rs->location, sizeof(k->rs->location), "order", oid);
        acme_reply(k, 201, order_view(a, oid, o));
    }
    json_decref(o);
}

void acme_order(struct acme_call *k, const char *id) {
    json_t *o = load_owned(k, "order", id);
    if (o == NULL) return;
    if (k->payload != NULL) acme_problem(k, 400, "malformed", "an order is read with POST-as-GET (an empty payload)");
    else acme_reply(k, 200, order_view(k->a, id, o));
    json_decref(o);
}

static void deactivate_authz(struct acme_call *k, const char *id, json_t *z) {
    const char *s = json_string_value(json_object_get(k->payload, "status"));
    /* Other members are ignored (RFC 8555 7.5.2; Go's x/crypto/acme adds "delete"). */
    if (s == NULL || strcmp(s, "deactivated") != 0)
        return (void)acme_problem(k, 400, "malformed", "an authorization takes {\"status\": \"deactivated\"}");
    const char *st = str(z, "status");
    if (strcmp(st, "pending") != 0 && strcmp(st, "valid") != 0)
        return (void)acme_problem(k, 400, "malformed", "a %s authorization cannot be deactivated", st);
    json_object_set_new(z, "status", json_string("deactivated"));
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "authz", id, z);
    struct rerr e;
    if (!acme_txn_commit(k->a->core, &t, "acme-authz-deactivate", NULL, json_pack("{s:s}", "authz", id), &e))
        return (void)acme_problem(k, 500, "serverInternal", "%s", e.msg);
    acme_reply(k, 200, authz_view(k->a, id, z));
}

void acme_authz(struct acme_call *k, const char *id) {
    json_t *z = load_owned(k, "authz", id);
    if (z == NULL) return;
    if (k->payload != NULL) deactivate_authz(k, id, z);
    else acme_reply(k, 200, authz_view(k->a, id, z));
    json_decref(z);
}

/* key_authz: TOKEN "." the account key's thumbprint (RFC 8555 8.1). */
static int key_authz(const json_t *acct, const char *token, char *out, size_t size) {
    const char *thumb = str(acct, "thumbprint");
    int n = snprintf(out, size, "%s.%s", token, thumb);
    return *thumb && n > 0 && (size_t)n < size;
}

/* submit: a validation job for challenge c of authorization z. */
static int submit(struct acme *a, const char *zid, const json_t *z, const json_t *c, const json_t *acct) {
    struct acme_vjob j;
    memset(&j, 0, sizeof(j));
    snprintf(j.authz, sizeof(j.authz), "%s", zid);
    const char *type = str(c, "type");
    j.type = strcmp(type, "http-01") == 0 ? ACME_CHAL_HTTP01 : strcmp(type, "dns-01") == 0 ? ACME_CHAL_DNS01
                                                                                          : ACME_CHAL_TLSALPN01;
    snprintf(j.id_type, sizeof(j.id_type), "%s", str(z, "type"));
    snprintf(j.id_value, sizeof(j.id_value), "%s", str(z, "value"));
    snprintf(j.token, sizeof(j.token), "%s", str(c, "token"));
    if (!key_authz(acct, j.token, j.key_authz, sizeof(j.key_authz))) return 0;
    return acme_vpool_submit(a->pool, &j);
}

static json_t *find_chal(json_t *z, const char *type) {
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(z, "challenges"), i, c) if (strcmp(str(c, "type"), type) == 0) return c;
    return NULL;
}

void acme_challenge(struct acme_call *k, const char *zid, const char *type) {
    json_t *z = load_owned(k, "authz", zid);
    if (z == NULL) return;
    json_t *c = find_chal(z, type);
    if (c == NULL) {
        json_decref(z);
        return (void)acme_problem(k, 404, "malformed", "this authorization has no %.20s challenge", type);
    }
    acme_link_up(k, "authz", zid);
    int start = k->payload != NULL && strcmp(str(z, "status"), "pending") == 0 &&
                strcmp(str(c, "status"), "pending") == 0;
    if (start && json_integer_value(json_object_get(z, "expires")) < rtime_now()) {
        json_decref(z);
        return (void)acme_problem(k, 400, "malformed", "the authorization has expired");
    }
    if (start) {
        /* Queued first: a full queue changes nothing. A result that comes
         * back for a write that failed finds no challenge processing. */
        if (!submit(k->a, zid, z, c, k->acct)) {
            json_decref(z);
            k->rs->retry_after = 5;
            return (void)acme_problem(k, 429, "rateLimited", "too many validations wait; try again shortly");
        }
        json_object_set_new(c, "status", json_string("processing"));
        struct acme_txn t;
        acme_txn_init(&t);
        acme_txn_put(&t, "authz", zid, z);
        json_t *mark = json_pack("{s:s}", "type", type);
        acme_txn_put(&t, "vp", zid, mark);
        json_decref(mark);
        struct rerr e;
        if (!acme_txn_commit(k->a->core, &t, "acme-challenge-start", NULL,
                             json_pack("{s:s,s:s,s:s}", "authz", zid, "type", type, "identifier", str(z, "value")), &e)) {
            json_decref(z);
            return (void)acme_problem(k, 500, "serverInternal", "%s", e.msg);
        }
    }
    acme_reply(k, 200, chal_view(k->a, zid, c));
    json_decref(z);
}

/* ---- the pool's verdicts ---- */

/* order_after: the order of z once z's status changed: invalid when one
 * authorization is, ready when all are valid. NULL when nothing changes. */
static json_t *order_after(struct acme *a, const json_t *z, const char *zid, json_t **err) {
    struct rerr e;
    json_t *o = acme_load(a->core, "order", str(z, "order"), &e);
    if (o == NULL || strcmp(str(o, "status"), "pending") != 0) return json_decref(o), NULL;
    if (strcmp(str(z, "status"), "invalid") == 0) {
        json_object_set_new(o, "status", json_string("invalid"));
        if (*err) json_object_set(o, "error", *err);
        return o;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(o, "authz"), i, v) {
        const char *id = json_string_value(v);
        if (id && strcmp(id, zid) == 0) continue;
        json_t *other = id ? acme_load(a->core, "authz", id, &e) : NULL;
        int valid = other != NULL && strcmp(str(other, "status"), "valid") == 0;
        json_decref(other);
        if (!valid) return json_decref(o), NULL;
    }
    json_object_set_new(o, "status", json_string("ready"));
    return o;
}

void acme_validated(struct acme *a, const struct acme_vjob *j) {
    struct rerr e;
    json_t *z = acme_load(a->core, "authz", j->authz, &e), *c = NULL, *err = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(z ? json_object_get(z, "challenges") : NULL, i, v)
        if (strcmp(str(v, "status"), "processing") == 0) c = v;
    if (c == NULL) {
        json_decref(z);
        return;
    }
    if (j->ok) {
        json_object_set_new(c, "status", json_string("valid"));
        json_object_set_new(c, "validated", json_integer(rtime_now()));
        json_object_set_new(z, "status", json_string("valid"));
    } else {
        char type[96];
        snprintf(type, sizeof(type), ACME_ERR "%s", j->result.problem ? j->result.problem : "unauthorized");
        err = json_pack("{s:s,s:s,s:i}", "type", type, "detail", j->result.detail, "status", 403);
        json_object_set(c, "error", err);
        json_object_set_new(c, "status", json_string("invalid"));
        json_object_set_new(z, "status", json_string("invalid"));
    }
    json_t *o = order_after(a, z, j->authz, &err);
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "authz", j->authz, z);
    acme_txn_del(&t, "vp", j->authz);
    if (o != NULL) acme_txn_put(&t, "order", str(z, "order"), o);
    ca_set_actor(a->core, "acme:validation", "internal");
    json_t *params = json_pack("{s:s,s:s,s:s,s:s,s:s}", "authz", j->authz, "identifier", j->id_value, "type",
                               str(c, "type"), "result", j->ok ? "valid" : "invalid", "detail",
                               j->ok ? "" : j->result.detail);
    acme_txn_commit(a->core, &t, "acme-challenge-result", NULL, params, &e);
    ca_set_actor(a->core, "revd serve", "internal");
    json_decref(err);
    json_decref(o);
    json_decref(z);
}

/* ---- finalize ---- */

/* csr_names: the CSR's SAN entries (dNSName, iPAddress; anything else
 * refused) and its CN, canonical, as {type, value} objects into names. */
static int csr_names(X509_REQ *req, json_t *names, const char **why) {
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = NULL;
    int ok = 1;
    for (int i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(x)) == NID_subject_alt_name && gens == NULL)
            gens = X509V3_EXT_d2i(x);
    }
    for (int i = 0; ok && gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char canon[ACME_IDENT_MAX + 1], raw[ACME_IDENT_MAX + 1];
        if (g->type == GEN_DNS && ASN1_STRING_length(g->d.dNSName) <= ACME_IDENT_MAX) {
            int n = ASN1_STRING_length(g->d.dNSName);
            memcpy(raw, ASN1_STRING_get0_data(g->d.dNSName), (size_t)n);
            raw[n] = '\0';
            ok = strlen(raw) == (size_t)n && acme_ident_canon("dns", raw, canon, why);
            if (ok) json_array_append_new(names, json_pack("{s:s,s:s}", "type", "dns", "value", canon));
        } else if (g->type == GEN_IPADD && (g->d.ip->length == 4 || g->d.ip->length == 16)) {
            inet_ntop(g->d.ip->length == 4 ? AF_INET : AF_INET6, g->d.ip->data, canon, sizeof(canon));
            json_array_append_new(names, json_pack("{s:s,s:s}", "type", "ip", "value", canon));
        } else {
            ok = 0;
            *why = "the CSR's subjectAltName holds only DNS names and IP addresses";
        }
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

/* cn_named: the CSR's CN, if any, is one of names. */
static int cn_named(X509_REQ *req, const json_t *names) {
    X509_NAME *subj = X509_REQ_get_subject_name(req);
    int idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (idx < 0) return 1;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
    int n = ASN1_STRING_length(s);
    char cn[ACME_IDENT_MAX + 1], canon[ACME_IDENT_MAX + 1];
    if (n <= 0 || n > ACME_IDENT_MAX) return 0;
    memcpy(cn, ASN1_STRING_get0_data(s), (size_t)n);
    cn[n] = '\0';
    const char *why;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
        if (acme_ident_canon(str(v, "type"), cn, canon, &why) && strcmp(canon, str(v, "value")) == 0) return 1;
    }
    return 0;
}

static int same_set(const json_t *a, const json_t *b) {
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(a, i, v) {
        int found = 0;
        json_array_foreach(b, j, w) found |= json_equal(v, w);
        if (!found) return 0;
    }
    return 1;
}

/* check_csr: the CSR (DER) names exactly the order's identifiers, and its
 * self-signature holds. */
static int check_csr(struct acme_call *k, const uint8_t *der, size_t len, const json_t *o) {
    const uint8_t *p = der;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req == NULL || p != der + len) {
        X509_REQ_free(req);
        return acme_problem(k, 400, "badCSR", "the csr is not one DER certificate request");
    }
    json_t *names = json_array(), *want = json_object_get(o, "identifiers");
    const char *why = "";
    EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
    int ok = 0;
    if (pk == NULL || X509_REQ_verify(req, pk) != 1)
        acme_problem(k, 400, "badCSR", "the CSR's self-signature does not verify");
    else if (!csr_names(req, names, &why))
        acme_problem(k, 400, "badCSR", "%s", why);
    else if (!cn_named(req, want))
        acme_problem(k, 400, "badCSR", "the CSR's common name is none of the order's identifiers");
    else if (!same_set(names, want) || !same_set(want, names))
        acme_problem(k, 400, "badCSR", "the CSR's subjectAltName must name exactly the order's identifiers");
    else
        ok = 1;
    json_decref(names);
    X509_REQ_free(req);
    return ok;
}

void acme_finalize(struct acme_call *k, const char *id) {
    json_t *o = load_owned(k, "order", id);
    if (o == NULL) return;
    const char *csr = json_string_value(json_object_get(k->payload, "csr"));
    uint8_t *der = malloc(CSR_MAX);
    size_t len = 0;
    struct rerr e;
    if (strcmp(order_status(o), "ready") != 0)
        acme_problem(k, 403, "orderNotReady", "the order is %s, not ready", order_status(o));
    else if (csr == NULL || der == NULL || !b64url_decode(csr, strlen(csr), der, CSR_MAX, &len))
        acme_problem(k, 400, "badCSR", "csr: base64url DER of at most %d octets is expected", CSR_MAX);
    else if (check_csr(k, der, len, o)) {
        json_object_set_new(o, "status", json_string("processing"));
        json_object_set_new(o, "csr", json_string(csr));
        struct acme_txn t;
        acme_txn_init(&t);
        acme_txn_put(&t, "order", id, o);
        json_t *mark = json_object();
        acme_txn_put(&t, "pr", id, mark);
        json_decref(mark);
        struct acme_pending *pend = calloc(1, sizeof(*pend));
        if (pend == NULL || !acme_txn_commit(k->a->core, &t, "acme-order-finalize", str(o, "ca"),
                                             json_pack("{s:s,s:s}", "account", k->acct_id, "order", id), &e)) {
            free(pend);
            acme_problem(k, 500, "serverInternal", "%s", pend ? e.msg : "out of memory");
        } else {
            snprintf(pend->order, sizeof(pend->order), "%s", id);
            pend->next = k->a->to_issue;
            k->a->to_issue = pend;
            acme_vpool_kick(k->a->pool);
            acme_url(k->a, k->rs->location, sizeof(k->rs->location), "order", id);
            k->rs->retry_after = 1;
            acme_reply(k, 200, order_view(k->a, id, o));
        }
    }
    free(der);
    json_decref(o);
}

/* ---- issuing ---- */

static void san_of(const json_t *o, char *out, size_t size) {
    size_t i, n = 0;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(json_object_get(o, "identifiers"), i, v) {
        int w = snprintf(out + n, size - n, "%s%s:%s", i ? "," : "", strcmp(str(v, "type"), "ip") ? "DNS" : "IP",
                         str(v, "value"));
        if (w < 0 || (size_t)w >= size - n) return;
        n += (size_t)w;
    }
}

/* issue: ca_issue for order o; *pem the chain, or 0 with e set. */
static int issue(struct acme *a, const char *id, const json_t *o, char **pem, struct rerr *e) {
    const char *csr = str(o, "csr");
    uint8_t *der = malloc(CSR_MAX);
    char *san = malloc(ACME_ORDER_IDENTS_MAX * (ACME_IDENT_MAX + 6));
    char idem[64];
    size_t len = 0;
    int ok = 0;
    if (der == NULL || san == NULL || !b64url_decode(csr, strlen(csr), der, CSR_MAX, &len)) {
        rerr_set(e, "the order's CSR cannot be read back");
    } else {
        san_of(o, san, ACME_ORDER_IDENTS_MAX * (ACME_IDENT_MAX + 6));
        snprintf(idem, sizeof(idem), "acme-order-%s", id);
        int64_t na = json_integer_value(json_object_get(o, "not_after"));
        const struct acme_profile *prof = acme_profile_find(str(o, "template"));
        int days = prof && prof->max_days > 0 && prof->max_days < a->cf.max_days ? prof->max_days : a->cf.max_days;
        struct ca_issue_params p = {.ca = str(o, "ca"), .template_name = str(o, "template"), .csr = der,
                                    .csr_len = len, .validity = na > 0 ? na - rtime_now() : (int64_t)days * 86400,
                                    .san = san, .idempotency_key = idem, .path_len = -1, .with_chain = 1};
        ok = ca_issue(a->core, &p, pem, e);
    }
    free(der);
    free(san);
    return ok;
}

static void issue_one(struct acme *a, const char *id) {
    struct rerr e;
    json_t *o = acme_load(a->core, "order", id, &e);
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_del(&t, "pr", id);
    if (o == NULL || strcmp(str(o, "status"), "processing") != 0) {
        acme_txn_commit(a->core, &t, NULL, NULL, NULL, &e);
        json_decref(o);
        return;
    }
    char who[64], serial[ACME_SERIAL_HEX_MAX];
    snprintf(who, sizeof(who), "acme:acct/%s", str(o, "acct"));
    ca_set_actor(a->core, who, "acme finalize");
    char *pem = NULL;
    const char *op;
    X509 *leaf = NULL;
    int ok = issue(a, id, o, &pem, &e) && (leaf = acme_pem_leaf(pem)) != NULL && acme_serial_hex(leaf, serial);
    X509_free(leaf);
    if (ok) {
        json_object_set_new(o, "status", json_string("valid"));
        json_object_set_new(o, "cert", json_string(serial));
        json_t *c = json_pack("{s:s,s:s,s:s,s:s}", "acct", str(o, "acct"), "order", id, "ca", str(o, "ca"), "pem", pem);
        acme_txn_put(&t, "cert", serial, c);
        json_decref(c);
        op = "acme-order-valid";
        if (a->cf.changed) a->cf.changed(a->cf.changed_arg, "an ACME issuance");
    } else {
        int nc = strncmp(e.msg, "PCA_NAME_CONSTRAINTS_VALIDATION", 31) == 0;
        char type[96];
        snprintf(type, sizeof(type), ACME_ERR "%s", nc ? "rejectedIdentifier" : "badCSR");
        json_object_set_new(o, "status", json_string("invalid"));
        json_object_set_new(o, "error", json_pack("{s:s,s:s,s:i}", "type", type, "detail", e.msg, "status", 400));
        op = "acme-order-invalid";
    }
    acme_txn_put(&t, "order", id, o);
    acme_txn_commit(a->core, &t, op, str(o, "ca"), json_pack("{s:s,s:s}", "order", id, "serial",
                                                             strcmp(op, "acme-order-valid") ? "" : serial), &e);
    ca_set_actor(a->core, "revd serve", "internal");
    free(pem);
    json_decref(o);
}

void acme_issue_pending(struct acme *a) {
    struct acme_pending *p = a->to_issue;
    a->to_issue = NULL;
    while (p != NULL) {
        struct acme_pending *next = p->next;
        issue_one(a, p->order);
        free(p);
        p = next;
    }
}

/* ---- taking up what a stop left ---- */

static int resume_issue(void *arg, const char *id, json_t *obj) {
    struct acme *a = arg;
    struct acme_pending *p = calloc(1, sizeof(*p));
    if (p == NULL || strlen(id) > ACME_ID_LEN) return free(p), 1;
    snprintf(p->order, sizeof(p->order), "%s", id);
    p->next = a->to_issue;
    a->to_issue = p;
    return 1;
}

static int resume_validation(void *arg, const char *id, json_t *mark) {
    struct acme *a = arg;
    struct rerr e;
    json_t *z = acme_load(a->core, "authz", id, &e);
    json_t *acct = z ? acme_load(a->core, "acct", str(z, "acct"), &e) : NULL;
    json_t *c = z ? find_chal(z, str(mark, "type")) : NULL;
    if (c != NULL && acct != NULL && strcmp(str(c, "status"), "processing") == 0) submit(a, id, z, c, acct);
    json_decref(acct);
    json_decref(z);
    return 1;
}

int acme_resume(struct acme *a, struct rerr *e) {
    if (!acme_scan(a->core, "pr", "", resume_issue, a, e) || !acme_scan(a->core, "vp", "", resume_validation, a, e))
        return 0;
    if (a->to_issue != NULL) acme_vpool_kick(a->pool);
    return 1;
}

/* ---- the certificate ---- */

void acme_cert(struct acme_call *k, const char *serial) {
    if (strlen(serial) > 2 * HEX_SERIAL_MAX + 2) return (void)acme_problem(k, 404, "malformed", "no such certificate");
    json_t *c = load_owned(k, "cert", serial);
    if (c == NULL) return;
    k->rs->status = 200;
    k->rs->content_type = "application/pem-certificate-chain";
    k->rs->body = strdup(str(c, "pem"));
    k->rs->len = k->rs->body ? strlen(k->rs->body) : 0;
    json_decref(c);
}
