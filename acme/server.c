/* server: the ACME server's frame (acme/server.h): the directory and
 * nonces, every POST's JWS checked in one place (the signature, then the
 * nonce, the URL, the account), the routes, and the problem documents.
 *
 * A POST is checked in this order: the media type and size; the JWS's
 * syntax (acme/jws.c); the URL it was signed for; the key (a jwk only where
 * RFC 8555 allows one: new-account, revoke-cert; else the kid's account,
 * which must be valid); the signature; then the nonce, which is spent only
 * by a request that was signed, so no one can burn another's nonces. */
#include "acme/server.h"
#include "acme/account.h"
#include "acme/call.h"
#include "acme/order.h"
#include "acme/profile.h"
#include "acme/renewal.h"
#include "acme/revoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

/* ---- GETs ---- */

static void directory(struct acme_call *k) {
    struct acme *a = k->a;
    char u[6][512];
    acme_url(a, u[0], sizeof(u[0]), "new-nonce", NULL);
    acme_url(a, u[1], sizeof(u[1]), "new-account", NULL);
    acme_url(a, u[2], sizeof(u[2]), "new-order", NULL);
    acme_url(a, u[3], sizeof(u[3]), "revoke-cert", NULL);
    acme_url(a, u[4], sizeof(u[4]), "key-change", NULL);
    acme_url(a, u[5], sizeof(u[5]), "renewal-info", NULL);
    json_t *meta = json_pack("{s:b,s:o}", "externalAccountRequired", a->cf.eab_required, "profiles",
                             acme_profiles_json());
    acme_reply(k, 200, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "newNonce", u[0], "newAccount", u[1], "newOrder",
                                 u[2], "revokeCert", u[3], "keyChange", u[4], "renewalInfo", u[5], "meta", meta));
}

/* ---- the JWS of a POST ---- */

/* The account a kid names: BASE/acme/acct/ID. */
static int load_kid(struct acme_call *k) {
    char prefix[300];
    acme_url(k->a, prefix, sizeof(prefix), "acct", "");
    size_t pl = strlen(prefix);
    const char *id = k->jws.kid + pl;
    if (strncmp(k->jws.kid, prefix, pl) != 0 || strlen(id) != ACME_ID_LEN)
        return acme_problem(k, 400, "accountDoesNotExist", "the kid is not an account URL of this server");
    struct rerr e;
    k->acct = acme_load(k->a->core, "acct", id, &e);
    if (k->acct == NULL && e.msg[0]) return acme_problem(k, 500, "serverInternal", "%s", e.msg);
    if (k->acct == NULL) return acme_problem(k, 400, "accountDoesNotExist", "no account %s", id);
    snprintf(k->acct_id, sizeof(k->acct_id), "%s", id);
    const char *st = json_string_value(json_object_get(k->acct, "status"));
    if (st == NULL || strcmp(st, "valid") != 0)
        return acme_problem(k, 401, "unauthorized", "account %s is %s", id, st ? st : "unusable");
    const char *problem = "badPublicKey";
    k->key = jwk_to_key(json_object_get(k->acct, "jwk"), &problem, &e);
    if (k->key == NULL) return acme_problem(k, 500, "serverInternal", "the account's key: %s", e.msg);
    return 1;
}

static int jwk_allowed(const char *path) {
    return strcmp(path, "/acme/new-account") == 0 || strcmp(path, "/acme/revoke-cert") == 0;
}

static int check_jws(struct acme_call *k) {
    const struct acme_req *rq = k->rq;
    const char *ct = rq->content_type;
    if (ct == NULL || strncmp(ct, "application/jose+json", 21) != 0 || (ct[21] != '\0' && ct[21] != ';'))
        return acme_problem(k, 415, "malformed", "a POST must be application/jose+json");
    if (rq->len > JWS_MAX_BODY)
        return acme_problem(k, 413, "malformed", "the body is %zu bytes; at most %d", rq->len, JWS_MAX_BODY);
    const char *problem = "malformed";
    struct rerr e;
    if (!jws_parse((const char *)rq->body, rq->len, &k->jws, &problem, &e))
        return acme_problem(k, 400, problem, "%s", e.msg);
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", k->a->base, rq->path);
    if (strcmp(k->jws.url, want) != 0)
        return acme_problem(k, 401, "unauthorized", "the JWS was signed for another URL than this request's");
    if (k->jws.jwk != NULL) {
        if (!jwk_allowed(rq->path))
            return acme_problem(k, 400, "malformed", "this resource takes a kid (an account URL), not a jwk");
        if ((k->key = jwk_to_key(k->jws.jwk, &problem, &e)) == NULL) return acme_problem(k, 400, problem, "%s", e.msg);
    } else if (!load_kid(k)) {
        return 0;
    }
    if (!jws_verify(&k->jws, k->key, &e))
        return acme_problem(k, 400, "malformed", "the JWS signature does not verify: %s", e.msg);
    int r = acme_nonce_take(k->a->nonces, k->jws.nonce, &e);
    if (r < 0) return acme_problem(k, 500, "serverInternal", "%s", e.msg);
    if (r == 0) return acme_problem(k, 400, "badNonce", "the nonce is unknown, used or expired: get a new one");
    if (k->jws.payload_len > 0) {
        json_error_t je;
        k->payload = json_loadb((const char *)k->jws.payload, k->jws.payload_len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(k->payload))
            return acme_problem(k, 400, "malformed", "the payload is not a JSON object");
    }
    acme_set_actor(k);
    return 1;
}

/* ---- routes ---- */

/* path_id: when path is PREFIX followed by an id (and maybe "/" REST),
 * copies the id to id and returns the rest ("" or "/..."); else NULL. */
static const char *path_id(const char *path, const char *prefix, char *id, size_t size) {
    size_t pl = strlen(prefix);
    if (strncmp(path, prefix, pl) != 0) return NULL;
    const char *p = path + pl, *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= size) return NULL;
    memcpy(id, p, n);
    id[n] = '\0';
    return p + n;
}

static void route_post(struct acme_call *k) {
    const char *p = k->rq->path, *rest;
    char id[96];
    if (strcmp(p, "/acme/new-account") == 0) return acme_new_account(k);
    if (strcmp(p, "/acme/new-order") == 0) return acme_new_order(k);
    if (strcmp(p, "/acme/revoke-cert") == 0) return acme_revoke(k);
    if (strcmp(p, "/acme/key-change") == 0) return acme_key_change(k);
    if ((rest = path_id(p, "/acme/acct/", id, sizeof(id))) != NULL && (!*rest || !strcmp(rest, "/orders")))
        return acme_account(k, id, *rest != '\0');
    if ((rest = path_id(p, "/acme/order/", id, sizeof(id))) != NULL && (!*rest || !strcmp(rest, "/finalize")))
        return *rest ? acme_finalize(k, id) : acme_order(k, id);
    if ((rest = path_id(p, "/acme/authz/", id, sizeof(id))) != NULL && !*rest) return acme_authz(k, id);
    if ((rest = path_id(p, "/acme/chall/", id, sizeof(id))) != NULL && rest[0] == '/' && strlen(rest) < 32)
        return acme_challenge(k, id, rest + 1);
    if ((rest = path_id(p, "/acme/cert/", id, sizeof(id))) != NULL && !*rest) return acme_cert(k, id);
    acme_problem(k, 404, "malformed", "no such resource");
}

static int known_path(const char *p) { return strncmp(p, "/acme/", 6) == 0; }

void acme_handle(struct acme *a, const struct acme_req *rq, struct acme_resp *rs) {
    struct acme_call k;
    memset(&k, 0, sizeof(k));
    memset(rs, 0, sizeof(*rs));
    k.a = a;
    k.rq = rq;
    k.rs = rs;
    int get = strcmp(rq->method, "GET") == 0, head = strcmp(rq->method, "HEAD") == 0;
    if (strcmp(rq->path, "/acme/directory") == 0 && (get || head)) {
        directory(&k);
    } else if (strcmp(rq->path, "/acme/new-nonce") == 0 && (get || head)) {
        acme_reply(&k, head ? 200 : 204, NULL);
    } else if (strncmp(rq->path, "/acme/renewal-info/", 19) == 0 && (get || head)) {
        acme_renewal_info(&k, rq->path + 19);
    } else if (strcmp(rq->method, "POST") == 0 && known_path(rq->path)) {
        if (check_jws(&k)) route_post(&k);
    } else if (known_path(rq->path)) {
        acme_problem(&k, 405, "malformed", "use POST (POST-as-GET for reading, RFC 8555 6.3)");
    } else {
        acme_problem(&k, 404, "malformed", "no such resource; the directory is at %s/acme/directory", a->base);
    }
    acme_nonce_mint(a->nonces, rs->nonce);
    jws_free(&k.jws);
    json_decref(k.payload);
    json_decref(k.acct);
    EVP_PKEY_free(k.key);
    ca_set_actor(a->core, "revd serve", "internal");
}

/* ---- life ---- */

struct acme *acme_new(struct ca_core *core, const struct acme_config *cf, struct rerr *e) {
    struct acme *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    a->core = core;
    a->cf = *cf;
    snprintf(a->base, sizeof(a->base), "%s", cf->base_url);
    snprintf(a->ca, sizeof(a->ca), "%s", cf->ca ? cf->ca : "");
    snprintf(a->tmpl, sizeof(a->tmpl), "%s", cf->tmpl ? cf->tmpl : "server");
    a->cf.base_url = a->base;
    a->cf.ca = a->ca;
    a->cf.tmpl = a->tmpl;
    if ((a->nonces = acme_nonces_new(core, e)) == NULL ||
        (a->pool = acme_vpool_new(cf->validation_threads, &cf->v, e)) == NULL || !acme_resume(a, e)) {
        acme_free(a);
        return NULL;
    }
    return a;
}

void acme_free(struct acme *a) {
    if (a == NULL) return;
    acme_vpool_free(a->pool);
    acme_nonces_free(a->nonces);
    while (a->to_issue != NULL) {
        struct acme_pending *n = a->to_issue->next;
        free(a->to_issue);
        a->to_issue = n;
    }
    free(a);
}

int acme_fd(const struct acme *a) { return acme_vpool_fd(a->pool); }

void acme_drain(struct acme *a) {
    struct acme_vjob *j = acme_vpool_done(a->pool);
    while (j != NULL) {
        struct acme_vjob *next = j->next;
        acme_validated(a, j);
        free(j);
        j = next;
    }
    acme_issue_pending(a);
}

size_t acme_purge(struct acme *a) { return acme_nonces_purge(a->nonces); }
