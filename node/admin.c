/* admin: the HTTPS admin API (node/admin.h, docs/admin.md). */
#include "node/admin.h"
#include "node/adminbody.h"
#include "node/tlshttp.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "acme/eab.h"
#include "ca/pkcs11.h"
#include "ca/ca.h"
#include "ca/cred.h"
#include "ca/keyfile.h"
#include "common/hex.h"
#include "common/jsonsafe.h"
#include "common/log.h"
#include "common/reason.h"
#include "common/rtime.h"

/* What a request asks for. */
enum op {
    OP_LIST_CAS, OP_GET_CA, OP_CREATE_CA, OP_DISABLE, OP_ENABLE, OP_DELETE, OP_RESTORE, OP_CRL_REBUILD,
    OP_ISSUE, OP_GET_CERT, OP_REVOKE, OP_UNHOLD, OP_REPORT, OP_AUDIT, OP_AUDIT_VERIFY,
    OP_CRED_LIST, OP_CRED_ISSUE, OP_CRED_REVOKE, OP_APPROVALS, OP_APPROVE, OP_EAB_LIST, OP_EAB_CREATE,
    OP_EAB_REVOKE, OP_NUM
};

static const char *const op_names[OP_NUM] = {
    "list CAs", "describe a CA", "create a CA", "disable a CA", "enable a CA", "delete a CA", "restore a CA",
    "rebuild CRLs", "issue", "get a certificate", "revoke", "unhold", "report", "read the audit log",
    "verify the audit log", "list credentials", "issue a credential", "revoke a credential", "list approvals",
    "approve", "list ACME EAB keys", "create an ACME EAB key", "revoke an ACME EAB key",
};

/* Which roles may do what; scoped roles only within their CAs (and, for
 * issue, templates). */
static int role_may(enum cred_role r, enum op op) {
    switch (r) {
    case ROLE_ADMIN:
        return op == OP_LIST_CAS || op == OP_GET_CA || op == OP_CREATE_CA || op == OP_DISABLE || op == OP_ENABLE ||
               op == OP_DELETE || op == OP_RESTORE || op == OP_CRL_REBUILD || op == OP_CRED_LIST ||
               op == OP_CRED_ISSUE || op == OP_CRED_REVOKE || op == OP_APPROVALS || op == OP_APPROVE ||
               op == OP_EAB_LIST || op == OP_EAB_CREATE || op == OP_EAB_REVOKE;
    case ROLE_ISSUER: return op == OP_ISSUE || op == OP_GET_CERT || op == OP_GET_CA;
    case ROLE_REVOKER: return op == OP_REVOKE || op == OP_UNHOLD || op == OP_GET_CERT;
    case ROLE_AUDITOR:
        return op == OP_LIST_CAS || op == OP_GET_CA || op == OP_GET_CERT || op == OP_REPORT || op == OP_AUDIT ||
               op == OP_AUDIT_VERIFY || op == OP_CRED_LIST;
    }
    return 0;
}

static const char *role_summary(enum cred_role r) {
    switch (r) {
    case ROLE_ADMIN: return "CA lifecycle, CRL rebuilds, credentials, approvals, ACME EAB keys";
    case ROLE_ISSUER: return "issue, get, describe, within its CAs and templates";
    case ROLE_REVOKER: return "revoke, unhold, status, within its CAs";
    case ROLE_AUDITOR: return "reports, the audit log, reads";
    }
    return "";
}

struct approval {
    char id[33];
    enum op op;
    char ca[CA_NAME_MAX + 1];
    char arg[CRED_NAME_MAX + 1]; /* the credential of a credential revocation */
    json_t *body;
    char by[CRED_NAME_MAX + 1];
    int64_t at;
};

/* Refusal records per principal: each is a synced write on the CA-core
 * thread, so a client looping on 403s could stall it. At most
 * REFUSALS_PER_S a second each; the rest are counted and recorded as one
 * admin-forbidden-suppressed record at that principal's next refusal. */
#define REFUSALS_PER_S 10
#define REFUSAL_SLOTS 64

struct refusals {
    char principal[CRED_NAME_MAX + 32];
    int64_t second;
    unsigned count, suppressed;
};

struct admin {
    struct ca_core *core;
    struct admin_hooks hooks;
    struct tlshttp *t; /* the listener, its connections, caps and deadlines */
    int require_approval;
    struct approval approvals[ADMIN_APPROVALS_MAX];
    int napprovals;
    struct refusals refusals[REFUSAL_SLOTS];
    unsigned next_slot;
};

/* One request being answered. */
struct call {
    struct admin *a;
    struct evhttp_request *req;
    struct ca_cred cred;
    char principal[CRED_NAME_MAX + 32];
    char source[96];
    char method[8];
    char path[512];
    enum op op;
    char ca[CA_NAME_MAX + 1];
    char arg[CRED_NAME_MAX + 1]; /* a serial (hex), a credential's name, an approval id */
    json_t *body;                /* a JSON object; never NULL once parsed */
    struct evkeyvalq query;
};

/* serial_octets: a certificate's serial as INTEGER content octets (what
 * hex_encode_serial and the index take). Returns the length, 0 if it does
 * not fit (or is not positive). */
static size_t serial_octets(const ASN1_INTEGER *sn, uint8_t out[HEX_SERIAL_MAX + 1]) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
    size_t len = 0;
    if (bn != NULL && !BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bytes(bn) <= HEX_SERIAL_MAX) {
        int n = BN_bn2bin(bn, out + 1);
        if (out[1] & 0x80) { /* a leading zero keeps it positive */
            out[0] = 0;
            len = (size_t)n + 1;
        } else {
            memmove(out, out + 1, (size_t)n);
            len = (size_t)n;
        }
    }
    BN_free(bn);
    return len;
}

/* ---- answers ---- */


static void reply(struct evhttp_request *req, int status, json_t *body) {
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(body);
    struct evbuffer *b = evbuffer_new();
    if (s == NULL || b == NULL) {
        if (b) evbuffer_free(b);
        free(s);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, s, strlen(s));
    evbuffer_add(b, "\n", 1);
    free(s);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, tlshttp_phrase(status), b);
    evbuffer_free(b);
}

__attribute__((format(printf, 4, 5))) static void fail(struct call *k, int status, const char *code, const char *fmt,
                                                       ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply(k->req, status, json_pack("{s:s,s:o}", "error", code, "message", jsafe_string(msg)));
}

/* A refusal the audit log keeps (role, scope, approval): who, what, why. */
/* audit_refusal records a refusal under the current actor, within the
 * principal's rate (params taken). */
static void audit_refusal(struct call *k, const char *ca, json_t *params, const char *why) {
    struct admin *a = k->a;
    int64_t now = rtime_now();
    struct refusals *r = NULL;
    for (int i = 0; i < REFUSAL_SLOTS && r == NULL; i++)
        if (strcmp(a->refusals[i].principal, k->principal) == 0) r = &a->refusals[i];
    if (r == NULL) { /* a slot in turn (a principal that comes back starts afresh) */
        r = &a->refusals[a->next_slot++ % REFUSAL_SLOTS];
        memset(r, 0, sizeof(*r));
        snprintf(r->principal, sizeof(r->principal), "%s", k->principal);
    }
    if (r->second != now) {
        if (r->suppressed > 0)
            ca_audit_refused(a->core, "admin-forbidden-suppressed", NULL,
                             json_pack("{s:I,s:i}", "count", (json_int_t)r->suppressed, "per_second", REFUSALS_PER_S),
                             "refusals over the rate, not recorded one by one");
        r->second = now;
        r->count = r->suppressed = 0;
    }
    if (r->count >= REFUSALS_PER_S) {
        r->suppressed++;
        json_decref(params);
        return;
    }
    r->count++;
    ca_audit_refused(a->core, "admin-forbidden", ca, params, why);
}

__attribute__((format(printf, 3, 4))) static void forbid(struct call *k, const char *code, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    audit_refusal(k, k->ca[0] ? k->ca : NULL,
                  json_pack("{s:s,s:o,s:s}", "method", k->method, "path", jsafe_string(k->path), "operation",
                            op_names[k->op]),
                  msg);
    reply(k->req, 403, json_pack("{s:s,s:o}", "error", code, "message", jsafe_string(msg)));
}

/* A CA core refusal: 404 for what does not exist, else 422. */
static void refused(struct call *k, const struct rerr *e) {
    int nf = strncmp(e->msg, "no CA named", 11) == 0 || strstr(e->msg, "has no certificate with serial") != NULL ||
             strncmp(e->msg, "no credential named", 19) == 0;
    /* A refusal with a machine-readable reason ("REASON: ...") carries it. */
    size_t rl = strlen(CA_NC_REASON);
    if (!nf && strncmp(e->msg, CA_NC_REASON ": ", rl + 2) == 0) {
        reply(k->req, 422, json_pack("{s:s,s:s,s:o}", "error", "refused", "reason", CA_NC_REASON, "message",
                                     jsafe_string(e->msg)));
        return;
    }
    fail(k, nf ? 404 : 422, nf ? "not_found" : "refused", "%s", e->msg);
}

/* ---- the request's body ---- */

/* fields: the names the body may hold, NULL-terminated; required: those it
 * must. Answers 400 and returns 0 otherwise. */
static int fields_ok(struct call *k, enum adminbody_kind kind) {
    char why[600];
    if (adminbody_check(kind, k->body, why, sizeof(why))) return 1;
    fail(k, 400, "bad_request", "%s", why);
    return 0;
}

/* str/num: a field's value, with its type checked (400 otherwise). */
static int str(struct call *k, const char *name, const char **out) {
    json_t *v = json_object_get(k->body, name);
    *out = NULL;
    if (v == NULL || json_is_null(v)) return 1;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        fail(k, 400, "bad_request", "field %s must be a string (without NUL)", name);
        return 0;
    }
    *out = json_string_value(v);
    return 1;
}

static int num(struct call *k, const char *name, long long lo, long long hi, long long *out, int *set) {
    json_t *v = json_object_get(k->body, name);
    if (set) *set = 0;
    if (v == NULL || json_is_null(v)) return 1;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        fail(k, 400, "bad_request", "field %s must be a whole number from %lld to %lld", name, lo, hi);
        return 0;
    }
    *out = json_integer_value(v);
    if (set) *set = 1;
    return 1;
}

static int boolean(struct call *k, const char *name, int *out) {
    json_t *v = json_object_get(k->body, name);
    if (v == NULL || json_is_null(v)) return 1;
    if (!json_is_boolean(v)) {
        fail(k, 400, "bad_request", "field %s must be true or false", name);
        return 0;
    }
    *out = json_is_true(v);
    return 1;
}

/* ---- the operations ---- */

static void changed(struct call *k, const char *what) {
    if (k->a->hooks.changed != NULL) k->a->hooks.changed(k->a->hooks.arg, what);
}

static void do_list_cas(struct call *k) {
    json_t *arr = json_array();
    for (size_t i = 0; i < ca_count(k->a->core); i++) {
        struct ca_info info;
        ca_info_at(k->a->core, i, &info);
        json_array_append_new(arr, ca_info_json(&info, 0));
    }
    reply(k->req, 200, json_pack("{s:o}", "cas", arr));
}

static void do_get_ca(struct call *k) {
    struct ca_info info;
    struct rerr e;
    if (!ca_info_get(k->a->core, k->ca, &info, &e)) return refused(k, &e);
    reply(k->req, 200, ca_info_json(&info, 0));
}


/* The name constraints of a create-CA body (checked by fields_ok). */
struct nc_store {
    const char *v[CA_NC_KINDS][CA_NC_MAX];
};

static void create_nc(struct call *k, struct ca_create_params *p, struct nc_store *ns) {
    static const char *const keys[CA_NC_KINDS] = {"permit_dns", "exclude_dns", "permit_ip", "exclude_ip"};
    for (int i = 0; i < CA_NC_KINDS; i++) {
        json_t *a = json_object_get(k->body, keys[i]);
        size_t n = json_is_array(a) ? json_array_size(a) : 0;
        for (size_t j = 0; j < n && j < CA_NC_MAX; j++) ns->v[i][j] = json_string_value(json_array_get(a, j));
        p->nc[i] = ns->v[i];
        p->num_nc[i] = n; /* past CA_NC_MAX: ca_create refuses it */
    }
}

static int create_params(struct call *k, struct ca_create_params *p, struct nc_store *ns) {
    memset(p, 0, sizeof(*p));
    p->key = CA_KEY_EC_P256;
    p->path_len = -1;
    const char *key = NULL;
    long long days = 0, psize = 0, plen = -1;
    int plen_set = 0;
    if (!fields_ok(k, AB_CREATE_CA) || !str(k, "name", &p->name) || !str(k, "parent", &p->parent) ||
        !str(k, "subject", &p->subject) || !str(k, "key", &key) || !str(k, "key_uri", &p->key_uri) || !str(k, "base_url", &p->base_url) ||
        !num(k, "days", 1, 36500, &days, NULL) || !num(k, "partition_size", 1, 100000000, &psize, NULL) ||
        !num(k, "path_len", 0, 100, &plen, &plen_set) || !boolean(k, "complete_crl", &p->complete_crl))
        return 0;
    struct rerr ue;
    if (p->key_uri != NULL && !pkcs11_uri_valid(p->key_uri, &ue)) { /* before an approval records the body */
        fail(k, 400, "bad_request", "field key_uri: %s", ue.msg);
        return 0;
    }
    if (key != NULL && p->key_uri != NULL) {
        fail(k, 400, "bad_request", "fields key and key_uri exclude each other (a token key's type is its own)");
        return 0;
    }
    if (key != NULL && !ca_key_type_parse(key, &p->key)) {
        fail(k, 400, "bad_request", "field key must be ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096");
        return 0;
    }
    p->days = (int)days;
    p->partition_size = (uint32_t)psize;
    p->path_len = plen_set ? (int)plen : (p->parent ? 0 : -1);
    create_nc(k, p, ns);
    return 1;
}

static void do_create(struct call *k) {
    struct ca_create_params p;
    struct nc_store ns;
    if (!create_params(k, &p, &ns)) return;
    struct rerr e;
    if (!ca_create(k->a->core, &p, &e)) return refused(k, &e);
    changed(k, "a new CA");
    struct ca_info info;
    if (!ca_info_get(k->a->core, p.name, &info, &e)) return refused(k, &e);
    reply(k->req, 201, ca_info_json(&info, 0));
}


static void do_lifecycle(struct call *k) {
    struct rerr e;
    int ok;
    long long days = 30;
    switch (k->op) {
    case OP_DISABLE:
    case OP_ENABLE:
        if (!fields_ok(k, AB_NONE)) return;
        ok = ca_set_enabled(k->a->core, k->ca, k->op == OP_ENABLE, &e);
        break;
    case OP_DELETE:
        if (!fields_ok(k, AB_DELETE) ||
            !num(k, "restore_days", CA_RESTORE_DAYS_MIN, CA_RESTORE_DAYS_MAX, &days, NULL))
            return;
        ok = ca_delete(k->a->core, k->ca, (int)days, &e);
        break;
    default:
        if (!fields_ok(k, AB_NONE)) return;
        ok = ca_restore(k->a->core, k->ca, &e);
    }
    if (!ok) return refused(k, &e);
    changed(k, op_names[k->op]);
    struct ca_info info;
    if (!ca_info_get(k->a->core, k->ca, &info, &e)) return refused(k, &e);
    reply(k->req, 200, ca_info_json(&info, 0));
}

static void do_crl_rebuild(struct call *k) {
    if (!fields_ok(k, AB_NONE)) return;
    struct ca_info info;
    struct rerr e;
    if (!ca_info_get(k->a->core, k->ca, &info, &e)) return refused(k, &e);
    ca_audit_note(k->a->core, "admin-crl-rebuild", k->ca, NULL);
    if (k->a->hooks.crl_rebuild != NULL) k->a->hooks.crl_rebuild(k->a->hooks.arg);
    reply(k->req, 202, json_pack("{s:s,s:s}", "ca", k->ca, "status", "every CRL is rebuilt within a second"));
}

static int serial_arg(struct call *k, uint8_t out[HEX_SERIAL_MAX + 1], size_t *len) {
    if (!hex_parse_serial(k->arg, out, len)) {
        fail(k, 400, "bad_request", "'%s' is not a serial (hex, at most 20 octets)", k->arg);
        return 0;
    }
    return 1;
}


static void do_issue(struct call *k, const char *tpl) {
    struct ca_issue_params p;
    memset(&p, 0, sizeof(p));
    const char *csr;
    long long days = 0, hours = 0, plen = -1;
    int dset, hset;
    if (!str(k, "csr", &csr) || !str(k, "san", &p.san) || !str(k, "idempotency_key", &p.idempotency_key) ||
        !num(k, "days", 1, 36500, &days, &dset) || !num(k, "hours", 1, 876000, &hours, &hset) ||
        !num(k, "path_len", 0, 100, &plen, NULL))
        return;
    if (csr == NULL) return fail(k, 400, "bad_request", "field csr must be a PEM certificate request");
    if (dset && hset) return fail(k, 400, "bad_request", "fields days and hours exclude each other");
    p.ca = k->ca;
    p.template_name = tpl;
    p.csr = (const uint8_t *)csr;
    p.csr_len = strlen(csr);
    p.validity = dset ? days * 86400 : hset ? hours * 3600 : 0;
    p.path_len = (int)plen;
    p.with_chain = 1;
    char *pem = NULL;
    struct rerr e;
    if (!ca_issue(k->a->core, &p, &pem, &e)) return refused(k, &e);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1] = "";
    uint8_t so[HEX_SERIAL_MAX + 1];
    size_t sl = x != NULL ? serial_octets(X509_get0_serialNumber(x), so) : 0;
    if (sl > 0) hex_encode_serial(so, sl, hex);
    X509_free(x);
    changed(k, "an issuance");
    reply(k->req, 201, json_pack("{s:s,s:s,s:s,s:s}", "ca", k->ca, "serial", hex, "template", tpl, "certificate", pem));
    free(pem);
}

static void do_get_cert(struct call *k) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!serial_arg(k, serial, &slen)) return;
    struct ca_cert_status st;
    struct rerr e;
    if (!ca_status(k->a->core, k->ca, serial, slen, &st, &e)) return refused(k, &e);
    if (!st.found) return fail(k, 404, "not_found", "CA %s has no certificate with serial %s", k->ca, k->arg);
    char nb[21], na[21], ra[21] = "";
    rtime_format(st.not_before, nb);
    rtime_format(st.not_after, na);
    const char *status = st.status != CERT_REVOKED ? "good" : st.reason == 6 ? "on_hold" : "revoked";
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "ca", k->ca, "serial", k->arg, "status", status, "not_before",
                          nb, "not_after", na, "crl_url", st.crl_url);
    if (st.status == CERT_REVOKED) {
        rtime_format(st.revoked_at, ra);
        json_object_set_new(j, "revoked_at", json_string(ra));
        json_object_set_new(j, "reason", json_string(reason_name(st.reason) ? reason_name(st.reason) : "?"));
    }
    char *pem = NULL;
    if (k->cred.role != ROLE_REVOKER && ca_cert_pem(k->a->core, k->ca, serial, slen, &pem, &e) == 1)
        json_object_set_new(j, "certificate", json_string(pem));
    free(pem);
    reply(k->req, 200, j);
}


static void do_revoke(struct call *k) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    struct rerr e;
    if (!serial_arg(k, serial, &slen)) return;
    if (k->op == OP_UNHOLD) {
        if (!fields_ok(k, AB_NONE)) return;
        if (!ca_unhold(k->a->core, k->ca, serial, slen, &e)) return refused(k, &e);
        changed(k, "an unhold");
        return reply(k->req, 200, json_pack("{s:s,s:s,s:s}", "ca", k->ca, "serial", k->arg, "status", "good"));
    }
    const char *rname, *inv;
    if (!fields_ok(k, AB_REVOKE) || !str(k, "reason", &rname) || !str(k, "invalidity_date", &inv)) return;
    int reason = 0;
    int64_t invalidity = 0;
    if (rname != NULL && !reason_parse(rname, &reason))
        return fail(k, 400, "bad_request", "field reason: not a revocation reason (%s)", reason_list());
    if (inv != NULL && !rtime_parse(inv, &invalidity))
        return fail(k, 400, "bad_request", "field invalidity_date must be YYYY-MM-DDTHH:MM:SSZ");
    if (!ca_revoke(k->a->core, k->ca, serial, slen, reason, invalidity, &e)) return refused(k, &e);
    changed(k, "a revocation");
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "ca", k->ca, "serial", k->arg, "status",
                          reason == 6 ? "on_hold" : "revoked", "reason", reason_name(reason));
    if (ca_notice(k->a->core)[0]) json_object_set_new(j, "notice", json_string(ca_notice(k->a->core)));
    reply(k->req, 200, j);
}

/* Report and audit answers are capped; the caller pages on. */
#define REPORT_MAX 100000
#define AUDIT_MAX 10000

struct rows {
    json_t *arr;
    size_t n, max;
    uint64_t next;
};

static int report_row(void *arg, const struct ca_report_row *r) {
    struct rows *s = arg;
    if (s->n == s->max) return 0;
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1], nb[21] = "", na[21], ra[21] = "";
    hex_encode_serial(r->serial, r->serial_len, hex);
    if (r->not_before) rtime_format(r->not_before, nb);
    rtime_format(r->not_after, na);
    if (r->revoked) rtime_format(r->revoked_at, ra);
    json_array_append_new(s->arr, json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s?,s:o}", "serial", hex, "subject",
                                            jsafe_string(r->subject), "sans", jsafe_string(r->sans), "not_before",
                                            nb, "not_after", na, "status",
                                            !r->revoked ? "good" : r->reason == 6 ? "on_hold" : "revoked",
                                            "revoked_at", ra, "reason", r->revoked ? reason_name(r->reason) : NULL,
                                            "template", jsafe_string(r->template_name)));
    s->n++;
    return 1;
}

static const char *query(struct call *k, const char *name) { return evhttp_find_header(&k->query, name); }

static void do_report(struct call *k) {
    int64_t since = 0;
    const char *q = query(k, "since");
    if (q != NULL && !rtime_parse(q, &since))
        return fail(k, 400, "bad_request", "since must be YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    struct rows s = {json_array(), 0, REPORT_MAX, 0};
    struct rerr e;
    if (!ca_report(k->a->core, k->ca, since, report_row, &s, &e)) {
        json_decref(s.arr);
        return refused(k, &e);
    }
    reply(k->req, 200, json_pack("{s:s,s:o,s:b}", "ca", k->ca, "certificates", s.arr, "truncated", s.n == s.max));
}

static int audit_row(void *arg, uint64_t seq, const char *text, size_t len) {
    struct rows *s = arg;
    if (s->n == s->max) {
        s->next = seq;
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    json_array_append_new(s->arr, j ? j : json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "damaged", "not JSON"));
    s->n++;
    return 1;
}

static int uint_query(struct call *k, const char *name, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out) {
    const char *q = query(k, name);
    if (q == NULL) return 1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(q, &end, 10);
    if (errno != 0 || end == q || *end != '\0' || q[0] == '-' || v < lo || v > hi) {
        fail(k, 400, "bad_request", "%s must be a whole number from %llu to %llu", name, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static void do_audit(struct call *k) {
    unsigned long long from = 0, limit = 1000;
    if (!uint_query(k, "from", 0, UINT64_MAX, &from) || !uint_query(k, "limit", 1, AUDIT_MAX, &limit)) return;
    struct rows s = {json_array(), 0, (size_t)limit, 0};
    struct rerr e;
    if (!ca_oplog(k->a->core, from, audit_row, &s, &e)) {
        json_decref(s.arr);
        return refused(k, &e);
    }
    json_t *j = json_pack("{s:o}", "records", s.arr);
    if (s.next) json_object_set_new(j, "next_from", json_integer((json_int_t)s.next));
    reply(k->req, 200, j);
}

static void verify_problem(void *arg, uint64_t seq, const char *msg) {
    json_array_append_new(arg, json_pack("{s:I,s:s}", "seq", (json_int_t)seq, "problem", msg));
}

static void do_audit_verify(struct call *k) {
    json_t *problems = json_array();
    struct ca_audit_result r;
    struct rerr e;
    if (!ca_audit_verify(k->a->core, 0, NULL, verify_problem, problems, &r, &e)) {
        json_decref(problems);
        return refused(k, &e);
    }
    char head[100];
    snprintf(head, sizeof(head), "%llu:%s", (unsigned long long)r.last_seq, r.head);
    reply(k->req, 200, json_pack("{s:b,s:I,s:s,s:o}", "intact", r.problems == 0, "records", (json_int_t)r.records,
                                 "head", head, "problems", problems));
}

static int cred_row(void *arg, const struct ca_cred *c) {
    char na[21];
    rtime_format(c->not_after, na);
    json_array_append_new(arg, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "name", c->name, "role",
                                         cred_role_name(c->role), "revoked", c->revoked, "not_after", na, "cas",
                                         c->cas, "templates", c->templates, "serial", c->serial));
    return 1;
}


static void do_cred(struct call *k) {
    struct rerr e;
    if (k->op == OP_CRED_LIST) {
        json_t *arr = json_array();
        if (!ca_cred_each(k->a->core, cred_row, arr, &e)) {
            json_decref(arr);
            return refused(k, &e);
        }
        return reply(k->req, 200, json_pack("{s:o}", "credentials", arr));
    }
    if (k->op == OP_CRED_REVOKE) {
        if (!fields_ok(k, AB_NONE)) return;
        if (!ca_cred_revoke(k->a->core, k->arg, &e)) return refused(k, &e);
        return reply(k->req, 200, json_pack("{s:s,s:b}", "name", k->arg, "revoked", 1));
    }
    const char *name, *role, *cas, *tpl, *csr;
    long long days = 365;
    enum cred_role r;
    if (!fields_ok(k, AB_CRED) || !str(k, "name", &name) || !str(k, "role", &role) || !str(k, "cas", &cas) ||
        !str(k, "templates", &tpl) || !str(k, "csr", &csr) || !num(k, "days", 1, 825, &days, NULL))
        return;
    if (role == NULL || !cred_role_parse(role, &r))
        return fail(k, 400, "bad_request", "field role must be admin, issuer, revoker or auditor");
    if (csr == NULL) return fail(k, 400, "bad_request", "field csr must be a PEM certificate request");
    char *cert = NULL;
    if (!ca_cred_issue(k->a->core, name, r, cas, tpl, (int)days, (const uint8_t *)csr, strlen(csr), &cert, NULL, &e))
        return refused(k, &e);
    reply(k->req, 201, json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "certificate", cert));
    free(cert);
}

/* ---- ACME External Account Binding keys (acme/eab.h) ---- */

static void do_eab(struct call *k) {
    struct rerr e;
    if (k->op == OP_EAB_LIST) {
        json_t *arr = acme_eab_list(k->a->core, &e);
        if (arr == NULL) return refused(k, &e);
        return reply(k->req, 200, json_pack("{s:o}", "eab_keys", arr));
    }
    if (k->op == OP_EAB_REVOKE) {
        if (!fields_ok(k, AB_NONE)) return;
        if (!acme_eab_revoke(k->a->core, k->arg, &e)) return refused(k, &e);
        return reply(k->req, 200, json_pack("{s:s,s:b}", "kid", k->arg, "revoked", 1));
    }
    const char *ca, *tpl;
    if (!fields_ok(k, AB_EAB) || !str(k, "ca", &ca) || !str(k, "templates", &tpl)) return;
    json_t *al = json_object_get(k->body, "allow");
    const char *allow[ACME_EAB_ALLOW_MAX];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(al, i, v) if (n < ACME_EAB_ALLOW_MAX) allow[n++] = json_string_value(v);
    char kid[ACME_ID_LEN + 1], hmac[ACME_EAB_HMAC_LEN + 1];
    if (!acme_eab_create(k->a->core, ca, tpl, allow, n, kid, hmac, &e)) return refused(k, &e);
    reply(k->req, 201, json_pack("{s:s,s:s,s:s}", "kid", kid, "hmac", hmac, "ca", ca));
}

/* ---- approvals (--require-approval) ---- */

/* needs_approval: whether k's operation waits for a second admin under
 * --require-approval. Every action that one admin could use to undo or get
 * round an approved one needs it too: restoring a deleted CA undoes an
 * approved deletion; a root's disable and enable are its ceremony (no
 * parent can revoke it); issuing a credential (else one admin makes a
 * second admin credential and approves alone) and revoking one (else one
 * admin locks the other out). ADMIN_APPROVAL_SUMMARY says the same for the
 * log and docs/admin.md. */
static int needs_approval(struct call *k) {
    struct ca_info info;
    struct rerr e;
    switch (k->op) {
    case OP_CREATE_CA:
    case OP_DELETE:
    case OP_RESTORE:
    case OP_CRED_ISSUE:
    case OP_CRED_REVOKE: return 1;
    case OP_DISABLE:
    case OP_ENABLE: /* a CA that does not exist gets its 404 at once */
        return ca_info_get(k->a->core, k->ca, &info, &e) && (info.parent == NULL || info.parent[0] == '\0');
    default: return 0;
    }
}

/* cred_expired: a credential past its notAfter counts as revoked. */
static int cred_expired(const struct ca_cred *c) { return c->not_after <= rtime_now(); }

static void expire_approvals(struct admin *a) {
    int64_t now = rtime_now();
    int j = 0;
    for (int i = 0; i < a->napprovals; i++) {
        if (now - a->approvals[i].at < 86400) a->approvals[j++] = a->approvals[i];
        else json_decref(a->approvals[i].body);
    }
    a->napprovals = j;
}

static void request_approval(struct call *k) {
    struct admin *a = k->a;
    expire_approvals(a);
    if (a->napprovals == ADMIN_APPROVALS_MAX)
        return fail(k, 409, "too_many_pending", "%d requests already wait for approval", ADMIN_APPROVALS_MAX);
    struct approval *p = &a->approvals[a->napprovals];
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) return fail(k, 500, "internal", "no randomness");
    for (int i = 0; i < 8; i++) snprintf(p->id + 2 * i, 3, "%02x", rnd[i]);
    p->op = k->op;
    snprintf(p->ca, sizeof(p->ca), "%s", k->ca);
    snprintf(p->arg, sizeof(p->arg), "%s", k->arg);
    p->body = json_incref(k->body);
    snprintf(p->by, sizeof(p->by), "%s", k->cred.name);
    p->at = rtime_now();
    a->napprovals++;
    ca_audit_note(a->core, "approval-request", k->ca[0] ? k->ca : NULL,
                  json_pack("{s:s,s:s,s:O}", "id", p->id, "operation", op_names[k->op], "body", k->body));
    reply(k->req, 202, json_pack("{s:s,s:s,s:s,s:s}", "approval", p->id, "operation", op_names[k->op], "requested_by",
                                 p->by, "message", "waiting for a second admin: POST /v1/approvals/ID/approve"));
}

static void run_op(struct call *k, const char *tpl);

static void do_approvals(struct call *k) {
    struct admin *a = k->a;
    expire_approvals(a);
    if (k->op == OP_APPROVALS) {
        json_t *arr = json_array();
        for (int i = 0; i < a->napprovals; i++) {
            char at[21];
            rtime_format(a->approvals[i].at, at);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:O}", "approval", a->approvals[i].id,
                                                 "operation", op_names[a->approvals[i].op], "ca", a->approvals[i].ca,
                                                 "requested_by", a->approvals[i].by, "requested_at", at, "body",
                                                 a->approvals[i].body));
        }
        return reply(k->req, 200, json_pack("{s:o}", "approvals", arr));
    }
    if (!fields_ok(k, AB_NONE)) return;
    int i = 0;
    while (i < a->napprovals && strcmp(a->approvals[i].id, k->arg) != 0) i++;
    if (i == a->napprovals) return fail(k, 404, "not_found", "no pending approval %s (expired after a day?)", k->arg);
    if (strcmp(a->approvals[i].by, k->cred.name) == 0)
        return forbid(k, "forbidden", "%s asked for this: a second admin must approve it", k->cred.name);
    /* A request whose asker has since lost their credential is void. */
    struct ca_cred asker;
    struct rerr e;
    int found = ca_cred_get(a->core, a->approvals[i].by, &asker, &e);
    if (found != 1 || asker.revoked || cred_expired(&asker)) {
        char by[sizeof(a->approvals[i].by)];
        memcpy(by, a->approvals[i].by, sizeof(by));
        json_decref(a->approvals[i].body);
        memmove(&a->approvals[i], &a->approvals[i + 1], (size_t)(a->napprovals - i - 1) * sizeof(a->approvals[0]));
        a->napprovals--;
        return forbid(k, "forbidden", "the credential %s that asked for this is %s: the request is dropped",
                      by, found == 1 && !asker.revoked ? "expired" : "revoked");
    }
    struct approval p = a->approvals[i];
    memmove(&a->approvals[i], &a->approvals[i + 1], (size_t)(a->napprovals - i - 1) * sizeof(p));
    a->napprovals--;
    ca_audit_note(a->core, "approval-granted", p.ca[0] ? p.ca : NULL,
                  json_pack("{s:s,s:s,s:s}", "id", p.id, "operation", op_names[p.op], "requested_by", p.by));
    /* The approved request runs as asked, under the approver's name. */
    json_decref(k->body);
    k->body = p.body;
    k->op = p.op;
    snprintf(k->ca, sizeof(k->ca), "%s", p.ca);
    snprintf(k->arg, sizeof(k->arg), "%s", p.arg);
    run_op(k, NULL);
}

/* ---- routing ---- */

static void run_op(struct call *k, const char *tpl) {
    switch (k->op) {
    case OP_LIST_CAS: return do_list_cas(k);
    case OP_GET_CA: return do_get_ca(k);
    case OP_CREATE_CA: return do_create(k);
    case OP_DISABLE:
    case OP_ENABLE:
    case OP_DELETE:
    case OP_RESTORE: return do_lifecycle(k);
    case OP_CRL_REBUILD: return do_crl_rebuild(k);
    case OP_ISSUE: return do_issue(k, tpl);
    case OP_GET_CERT: return do_get_cert(k);
    case OP_REVOKE:
    case OP_UNHOLD: return do_revoke(k);
    case OP_REPORT: return do_report(k);
    case OP_AUDIT: return do_audit(k);
    case OP_AUDIT_VERIFY: return do_audit_verify(k);
    case OP_CRED_LIST:
    case OP_CRED_ISSUE:
    case OP_CRED_REVOKE: return do_cred(k);
    case OP_APPROVALS:
    case OP_APPROVE: return do_approvals(k);
    case OP_EAB_LIST:
    case OP_EAB_CREATE:
    case OP_EAB_REVOKE: return do_eab(k);
    case OP_NUM: break;
    }
}

/* route maps the method and path to k->op (and k->ca, k->arg). Returns 1,
 * or answers 404 / 405 and returns 0. */
static int route(struct call *k, int post) {
    char buf[512];
    if (strlen(k->path) >= sizeof(buf) || strchr(k->path, '%') != NULL)
        return fail(k, 404, "not_found", "no such path"), 0;
    snprintf(buf, sizeof(buf), "%s", k->path);
    char *seg[8];
    int n = 0;
    for (char *s = strtok(buf, "/"); s != NULL; s = strtok(NULL, "/")) {
        if (n == 8) return fail(k, 404, "not_found", "no such path"), 0;
        seg[n++] = s;
    }
    if (n < 2 || strcmp(seg[0], "v1") != 0) return fail(k, 404, "not_found", "no such path (the API is under /v1/)"), 0;
    int want_post = -1; /* the method the path takes: 0 GET, 1 POST, -1 both (chosen below) */
    int ok = 0;
    if (strcmp(seg[1], "cas") == 0) {
        if (n >= 3) {
            if (strlen(seg[2]) > CA_NAME_MAX) return fail(k, 404, "not_found", "no CA with so long a name"), 0;
            snprintf(k->ca, sizeof(k->ca), "%s", seg[2]);
        }
        if (n >= 5 && strlen(seg[4]) > CRED_NAME_MAX) return fail(k, 404, "not_found", "no such serial"), 0;
        if (n >= 5) snprintf(k->arg, sizeof(k->arg), "%s", seg[4]);
        ok = 1;
        if (n == 2) k->op = post ? OP_CREATE_CA : OP_LIST_CAS;
        else if (n == 3) k->op = OP_GET_CA, want_post = 0;
        else if (n == 4 && strcmp(seg[3], "disable") == 0) k->op = OP_DISABLE, want_post = 1;
        else if (n == 4 && strcmp(seg[3], "enable") == 0) k->op = OP_ENABLE, want_post = 1;
        else if (n == 4 && strcmp(seg[3], "delete") == 0) k->op = OP_DELETE, want_post = 1;
        else if (n == 4 && strcmp(seg[3], "restore") == 0) k->op = OP_RESTORE, want_post = 1;
        else if (n == 4 && strcmp(seg[3], "crl-rebuild") == 0) k->op = OP_CRL_REBUILD, want_post = 1;
        else if (n == 4 && strcmp(seg[3], "report") == 0) k->op = OP_REPORT, want_post = 0;
        else if (n == 4 && strcmp(seg[3], "certificates") == 0) k->op = OP_ISSUE, want_post = 1;
        else if (n == 5 && strcmp(seg[3], "certificates") == 0) k->op = OP_GET_CERT, want_post = 0;
        else if (n == 6 && strcmp(seg[3], "certificates") == 0 && strcmp(seg[5], "revoke") == 0)
            k->op = OP_REVOKE, want_post = 1;
        else if (n == 6 && strcmp(seg[3], "certificates") == 0 && strcmp(seg[5], "unhold") == 0)
            k->op = OP_UNHOLD, want_post = 1;
        else ok = 0;
    } else if (strcmp(seg[1], "audit") == 0) {
        ok = 1;
        if (n == 2) k->op = OP_AUDIT, want_post = 0;
        else if (n == 3 && strcmp(seg[2], "verify") == 0) k->op = OP_AUDIT_VERIFY, want_post = 0;
        else ok = 0;
    } else if (strcmp(seg[1], "credentials") == 0) {
        ok = 1;
        if (n == 2) k->op = post ? OP_CRED_ISSUE : OP_CRED_LIST;
        else if (n == 4 && strcmp(seg[3], "revoke") == 0 && strlen(seg[2]) <= CRED_NAME_MAX)
            k->op = OP_CRED_REVOKE, want_post = 1, snprintf(k->arg, sizeof(k->arg), "%s", seg[2]);
        else ok = 0;
    } else if (strcmp(seg[1], "acme") == 0 && n >= 3 && strcmp(seg[2], "eab") == 0) {
        ok = 1;
        if (n == 3) k->op = post ? OP_EAB_CREATE : OP_EAB_LIST;
        else if (n == 5 && strcmp(seg[4], "revoke") == 0 && strlen(seg[3]) <= CRED_NAME_MAX)
            k->op = OP_EAB_REVOKE, want_post = 1, snprintf(k->arg, sizeof(k->arg), "%s", seg[3]);
        else ok = 0;
    } else if (strcmp(seg[1], "approvals") == 0) {
        ok = 1;
        if (n == 2) k->op = OP_APPROVALS, want_post = 0;
        else if (n == 4 && strcmp(seg[3], "approve") == 0 && strlen(seg[2]) <= CRED_NAME_MAX)
            k->op = OP_APPROVE, want_post = 1, snprintf(k->arg, sizeof(k->arg), "%s", seg[2]);
        else ok = 0;
    }
    if (!ok) return fail(k, 404, "not_found", "no such path"), 0;
    if (want_post >= 0 && want_post != post) {
        evhttp_add_header(evhttp_request_get_output_headers(k->req), "Allow", want_post ? "POST" : "GET");
        return fail(k, 405, "method_not_allowed", "%s takes %s", k->path, want_post ? "POST" : "GET"), 0;
    }
    return 1;
}

/* The client's credential, from its certificate (verified by TLS against
 * the admin CA). Answers and returns 0 when there is none usable. */
static int identify(struct call *k) {
    SSL *ssl = tlshttp_ssl(k->req);
    X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
    if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK) {
        X509_free(peer);
        fail(k, 401, "unauthenticated", "a client certificate from revd's admin CA is required");
        return 0;
    }
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t len = serial_octets(X509_get0_serialNumber(peer), serial);
    X509_free(peer);
    struct rerr e;
    int r = len ? ca_cred_for_serial(k->a->core, serial, len, &k->cred, &e) : 0;
    if (r < 0) {
        fail(k, 500, "internal", "%s", e.msg);
        return 0;
    }
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1] = "?";
    if (len) hex_encode_serial(serial, len, hex);
    /* TLS checked the certificate's dates; the record's are checked too,
     * so that an expired credential counts as revoked wherever it is met. */
    if (r == 0 || k->cred.revoked || cred_expired(&k->cred)) {
        const char *what = r == 0 ? "" : k->cred.revoked ? "revoked" : "expired";
        snprintf(k->principal, sizeof(k->principal), r ? "cred:%s(%s)" : "cert:%s%s", r ? k->cred.name : hex, what);
        ca_set_actor(k->a->core, k->principal, k->source);
        k->op = OP_NUM;
        audit_refusal(k, NULL, json_pack("{s:s,s:o}", "method", k->method, "path", jsafe_string(k->path)),
                      r == 0 ? "a certificate that is no registered credential"
                      : k->cred.revoked ? "a revoked credential" : "an expired credential");
        if (r == 0) fail(k, 403, "forbidden", "certificate %s is no registered credential", hex);
        else fail(k, 403, "forbidden", "the credential %s is %s", k->cred.name, what);
        return 0;
    }
    snprintf(k->principal, sizeof(k->principal), "cred:%s(%s)", k->cred.name, cred_role_name(k->cred.role));
    return 1;
}

/* read_body takes the request's body: JSON, an object, under the cap;
 * nothing for a GET (k->body an empty object then). 1, or 0 answered. */
static int read_body(struct call *k, struct evhttp_request *req, int post) {
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > ADMIN_MAX_BODY) {
        fail(k, 413, "too_large", "the body is %zu bytes; at most %d", n, ADMIN_MAX_BODY);
        return 0;
    }
    if (n > 0 && !post) {
        fail(k, 400, "bad_request", "a GET takes no body");
        return 0;
    }
    if (n > 0) {
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (ct == NULL || strncmp(ct, "application/json", 16) != 0 || (ct[16] != '\0' && ct[16] != ';')) {
            fail(k, 415, "unsupported_media_type", "the body must be application/json");
            return 0;
        }
        json_error_t je;
        k->body = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)n), n, JSON_REJECT_DUPLICATES, &je);
        if (k->body == NULL) {
            char text[sizeof(je.text) * 4 + 8]; /* jansson quotes the client's bytes */
            log_escape(text, sizeof(text), je.text);
            fail(k, 400, "bad_request", "the body is not JSON: line %d, column %d: %s", je.line, je.column, text);
            return 0;
        }
        if (!json_is_object(k->body)) {
            fail(k, 400, "bad_request", "the body must be a JSON object");
            return 0;
        }
    } else {
        k->body = json_object();
    }
    return 1;
}

/* authorize checks the credential's role, then its scope (CAs, and
 * templates for an issue: *out_tpl the template asked). 1, or 0 answered. */
static int authorize(struct call *k, const char **out_tpl) {
    const char *tpl = NULL;
    *out_tpl = NULL;
    if (!role_may(k->cred.role, k->op)) {
        forbid(k, "forbidden", "role %s may not %s (it may: %s)", cred_role_name(k->cred.role), op_names[k->op],
               role_summary(k->cred.role));
        return 0;
    }
    if ((k->cred.role == ROLE_ISSUER || k->cred.role == ROLE_REVOKER) && !cred_allows(k->cred.cas, k->ca)) {
        forbid(k, "forbidden", "credential %s may not act on CA %s (its CAs: %s)", k->cred.name, k->ca, k->cred.cas);
        return 0;
    }
    if (k->op == OP_ISSUE) {
        if (!fields_ok(k, AB_ISSUE) || !str(k, "template", &tpl)) return 0;
        if (tpl == NULL) tpl = "end-entity";
        if (!cred_allows_template(k->cred.templates, tpl)) {
            forbid(k, "forbidden", "credential %s may not use template %s (its templates: %s)", k->cred.name, tpl,
                   k->cred.templates);
            return 0;
        }
    }
    *out_tpl = tpl;
    return 1;
}

/* on_request answers a request, read whole (tlshttp has set its
 * connection's request deadline). */
static void on_request(struct evhttp_request *req, void *arg) {
    struct admin *a = arg;
    struct call k;
    memset(&k, 0, sizeof(k));
    k.a = a;
    k.req = req;
    TAILQ_INIT(&k.query);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    int post = m == EVHTTP_REQ_POST;
    snprintf(k.method, sizeof(k.method), "%s", post ? "POST" : m == EVHTTP_REQ_GET ? "GET" : "other");
    char *host = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    snprintf(k.source, sizeof(k.source), "https %s:%u", host ? host : "?", (unsigned)port);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path != NULL && strlen(path) >= sizeof(k.path)) {
        fail(&k, 404, "not_found", "no such path (longer than %zu bytes)", sizeof(k.path) - 1);
        return;
    }
    snprintf(k.path, sizeof(k.path), "%s", path ? path : "/");
    const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        fail(&k, 405, "method_not_allowed", "the admin API takes GET and POST");
        return;
    }
    if (!identify(&k)) {
        /* No second try on this connection. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        goto out;
    }
    ca_set_actor(a->core, k.principal, k.source);
    if (qs != NULL && evhttp_parse_query_str(qs, &k.query) != 0) {
        fail(&k, 400, "bad_request", "the query string is malformed");
        goto out;
    }
    if (!route(&k, post)) goto out;
    if (!read_body(&k, req, post)) goto out;
    /* Role, then scope. */
    const char *tpl;
    if (!authorize(&k, &tpl)) goto out;
    if (a->require_approval && needs_approval(&k)) {
        /* The request is checked now, run when a second admin approves. */
        struct ca_create_params p;
        struct nc_store ns;
        long long d;
        int ok = k.op == OP_CREATE_CA ? create_params(&k, &p, &ns)
                 : k.op == OP_DELETE  ? fields_ok(&k, AB_DELETE) &&
                                           num(&k, "restore_days", CA_RESTORE_DAYS_MIN, CA_RESTORE_DAYS_MAX, &d, NULL)
                 : k.op == OP_CRED_ISSUE ? fields_ok(&k, AB_CRED)
                                         : fields_ok(&k, AB_NONE);
        if (!ok) goto out;
        request_approval(&k);
        goto out;
    }
    run_op(&k, tpl);
out:
    ca_set_actor(a->core, "revd serve", "internal");
    json_decref(k.body);
    evhttp_clear_headers(&k.query);
}

/* ---- limits, stats ---- */

static struct tlshttp_limits tls_limits(const struct admin_limits *l) {
    struct tlshttp_limits t = {l->max_conns, l->max_conns_per_source, l->handshake_timeout_s, l->request_timeout_s,
                               l->fd_reserve};
    return t;
}

void admin_set_limits(struct admin *a, const struct admin_limits *limits) {
    struct tlshttp_limits l = tls_limits(limits);
    tlshttp_set_limits(a->t, &l);
}

void admin_stats(const struct admin *a, struct admin_stats *out) {
    struct tlshttp_stats s;
    tlshttp_stats(a->t, &s);
    *out = (struct admin_stats){s.open, s.refused_total, s.refused_source, s.refused_fds, s.deadline_closed,
                                s.accept_failures};
}

/* ---- TLS, start, stop ---- */

static SSL_CTX *make_ctx(struct ca_core *core, struct rerr *e) {
    struct ca_admin_paths p;
    if (!ca_admin_paths(core, &p, e)) return NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        rerr_ssl(e, "cannot make a TLS context");
        return NULL;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(p.ca_pem);
    EVP_PKEY *key = keyfile_read(core, p.server_key, e); /* encrypted at rest when a passphrase is set */
    if (key == NULL) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        SSL_CTX_free(ctx);
        return NULL;
    }
    int key_ok = SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate_chain_file(ctx, p.server_pem) != 1 || !key_ok || SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_load_verify_locations(ctx, p.ca_pem, NULL) != 1 || names == NULL) {
        rerr_ssl(e, "%s/admin: the server certificate, its key or the admin CA cannot be loaded (revd admin init)",
                 ca_core_dir(core));
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* No resumption at all (no cache, no TLS 1.3 tickets): every
     * connection shows and verifies its certificate. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

struct admin *admin_start(struct event_base *base, struct ca_core *core, const char *listen, int require_approval,
                          const struct admin_limits *limits, const struct admin_hooks *hooks, struct rerr *e) {
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    a->core = core;
    a->require_approval = require_approval;
    if (hooks != NULL) a->hooks = *hooks;
    SSL_CTX *ctx = make_ctx(core, e);
    struct admin_limits def = ADMIN_LIMITS_DEFAULT;
    struct tlshttp_limits lim = tls_limits(limits != NULL ? limits : &def);
    /* Bodies past ADMIN_MAX_BODY get the API's own 413 (read_body); past
     * 1 MiB libevent refuses them itself. */
    if (ctx != NULL)
        a->t = tlshttp_start(base, "admin API", "admin", "--admin-listen", listen, ctx, &lim, 1 << 20,
                             EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                 EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH,
                             on_request, a, e);
    if (a->t == NULL) {
        admin_free(a);
        return NULL;
    }
    return a;
}

int admin_reload_cert(struct admin *a, struct rerr *e) {
    SSL_CTX *ctx = make_ctx(a->core, e);
    if (ctx == NULL) return 0;
    tlshttp_set_ctx(a->t, ctx); /* connections made from now on use it; those open keep theirs */
    return 1;
}

void admin_free(struct admin *a) {
    if (a == NULL) return;
    tlshttp_free(a->t);
    for (int i = 0; i < a->napprovals; i++) json_decref(a->approvals[i].body);
    free(a);
}
