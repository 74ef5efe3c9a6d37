/* call: the answers every ACME resource gives (acme/call.h). */
#include "acme/call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>

#include "ca/ca.h"
#include "common/rtime.h"

static void body_json(struct acme_resp *rs, json_t *body, const char *ct) {
    rs->body = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    rs->len = rs->body ? strlen(rs->body) : 0;
    rs->content_type = ct;
    json_decref(body);
}

int acme_problem(struct acme_call *k, int status, const char *problem, const char *fmt, ...) {
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    char type[96];
    snprintf(type, sizeof(type), ACME_ERR "%s", problem);
    free(k->rs->body);
    k->rs->body = NULL;
    k->rs->status = status;
    body_json(k->rs, json_pack("{s:s,s:s,s:i}", "type", type, "detail", detail, "status", status),
              "application/problem+json");
    return 0;
}

void acme_reply(struct acme_call *k, int status, json_t *body) {
    k->rs->status = status;
    free(k->rs->body);
    k->rs->body = NULL;
    if (body != NULL) body_json(k->rs, body, "application/json");
}

void acme_url(const struct acme *a, char *out, size_t size, const char *kind, const char *id) {
    snprintf(out, size, "%s/acme/%s%s%s", a->base, kind, id ? "/" : "", id ? id : "");
}

void acme_link_up(struct acme_call *k, const char *kind, const char *id) {
    if (k->rs->nlinks >= 2) return;
    char u[512];
    acme_url(k->a, u, sizeof(u), kind, id);
    snprintf(k->rs->link[k->rs->nlinks++], sizeof(k->rs->link[0]), "<%s>;rel=\"up\"", u);
}

void acme_set_actor(struct acme_call *k) {
    char who[64], from[160];
    if (k->acct_id[0]) snprintf(who, sizeof(who), "acme:acct/%s", k->acct_id);
    else snprintf(who, sizeof(who), "acme:jwk");
    snprintf(from, sizeof(from), "acme https %s", k->rq->source ? k->rq->source : "?");
    ca_set_actor(k->a->core, who, from);
}

int acme_rate_take(struct acme *a, const char *key, int per_hour) {
    if (per_hour <= 0) return 1;
    uint32_t h = 2166136261u;
    for (const char *p = key; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    struct acme_rate *r = &a->rate[h % ACME_RATE_SLOTS];
    int64_t now = rtime_now();
    if (strcmp(r->key, key) != 0 || now - r->window >= 3600) {
        snprintf(r->key, sizeof(r->key), "%s", key);
        r->window = now;
        r->count = 0;
    }
    return ++r->count <= per_hour;
}

X509 *acme_pem_leaf(const char *pem) {
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return x;
}

int acme_serial_hex(const X509 *x, char out[ACME_SERIAL_HEX_MAX]) {
    BIGNUM *bn = x ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
    char *h = bn ? BN_bn2hex(bn) : NULL;
    int ok = h != NULL && strlen(h) < ACME_SERIAL_HEX_MAX;
    if (ok) snprintf(out, ACME_SERIAL_HEX_MAX, "%s", h);
    OPENSSL_free(h);
    BN_free(bn);
    return ok;
}
