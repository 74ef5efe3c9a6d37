/* eab: External Account Binding keys (acme/eab.h). */
#include "acme/eab.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "acme/ident.h"
#include "acme/profile.h"
#include "ca/ca.h"
#include "common/b64url.h"
#include "common/rtime.h"

int acme_eab_create(struct ca_core *c, const char *ca, const char *tmpl, const char *const *allow, size_t nallow,
                    char kid[ACME_ID_LEN + 1], char hmac[ACME_EAB_HMAC_LEN + 1], struct rerr *e) {
    struct ca_info info;
    if (ca == NULL || !ca_info_get(c, ca, &info, e)) return ca == NULL ? rerr_set(e, "--ca is required") : 0;
    json_t *tmpls = NULL;
    if (!acme_profiles_parse(tmpl != NULL ? tmpl : "server", &tmpls, e)) return 0;
    if (nallow > ACME_EAB_ALLOW_MAX) {
        json_decref(tmpls);
        return rerr_set(e, "at most %d --allow entries", ACME_EAB_ALLOW_MAX);
    }
    json_t *al = json_array();
    for (size_t i = 0; i < nallow; i++) {
        if (!acme_allow_entry_ok(allow[i])) {
            json_decref(al);
            json_decref(tmpls);
            return rerr_set(e, "--allow '%.80s': expected a DNS suffix (example.test, .example.test) or an "
                               "address prefix (192.0.2.0/24, 2001:db8::/32)", allow[i]);
        }
        json_array_append_new(al, json_string(allow[i]));
    }
    uint8_t key[32];
    if (RAND_bytes(key, sizeof(key)) != 1) {
        json_decref(al);
        json_decref(tmpls);
        return rerr_set(e, "no randomness for the HMAC key");
    }
    b64url_encode(key, sizeof(key), hmac, ACME_EAB_HMAC_LEN + 1);
    OPENSSL_cleanse(key, sizeof(key));
    acme_new_id(kid);
    char now[21];
    rtime_format(rtime_now(), now);
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s,s:b}", "kid", kid, "hmac", hmac, "ca", ca, "templates", tmpls,
                          "allow", al, "created", now, "revoked", 0);
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "eab", kid, o);
    json_t *params = json_pack("{s:s,s:O,s:O}", "kid", kid, "templates", json_object_get(o, "templates"), "allow",
                               json_object_get(o, "allow"));
    json_decref(o);
    return acme_txn_commit(c, &t, "acme-eab-create", ca, params, e);
}

static int list_row(void *arg, const char *id, json_t *obj) {
    json_t *copy = json_deep_copy(obj);
    json_object_del(copy, "hmac");
    json_array_append_new(arg, copy);
    return 1;
}

json_t *acme_eab_list(struct ca_core *c, struct rerr *e) {
    json_t *a = json_array();
    if (!acme_scan(c, "eab", "", list_row, a, e)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

int acme_eab_revoke(struct ca_core *c, const char *kid, struct rerr *e) {
    json_t *o = acme_load(c, "eab", kid, e);
    if (o == NULL) return e->msg[0] ? 0 : rerr_set(e, "no EAB key '%.60s' (revd acme eab-list)", kid);
    if (json_is_true(json_object_get(o, "revoked"))) {
        json_decref(o);
        return rerr_set(e, "EAB key %.60s is revoked already", kid);
    }
    json_object_set_new(o, "revoked", json_true());
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "eab", kid, o);
    const char *ca = json_string_value(json_object_get(o, "ca"));
    int ok = acme_txn_commit(c, &t, "acme-eab-revoke", ca, json_pack("{s:s}", "kid", kid), e);
    json_decref(o);
    return ok;
}
