/* revoke: revoke-cert (RFC 8555 7.6) for certificates this ACME server
 * issued: signed by the account that ordered it, or by the certificate's
 * own key (a jwk). Any RFC 5280 reason but unused (7); the revocation is
 * the CA core's (ca_revoke), so OCSP and the CRL partition follow as for
 * any other. */
#include "acme/revoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ca/ca.h"
#include "common/b64url.h"
#include "common/hex.h"

#define CERT_MAX (16 * 1024)

/* The certificate's serial as hex (the record's key) and octets. */
static int serial_of(X509 *x, char hex[ACME_SERIAL_HEX_MAX], uint8_t oct[HEX_SERIAL_MAX + 1], size_t *olen) {
    return acme_serial_hex(x, hex) && hex_parse_serial(hex, oct, olen);
}

/* same_leaf: der is the first certificate of the stored chain. */
static int same_leaf(const char *pem, X509 *x) {
    X509 *y = acme_pem_leaf(pem);
    int same = y != NULL && X509_cmp(x, y) == 0;
    X509_free(y);
    return same;
}

static int authorized(struct acme_call *k, const json_t *rec, X509 *x) {
    if (k->acct != NULL) {
        const char *owner = json_string_value(json_object_get(rec, "acct"));
        if (owner != NULL && strcmp(owner, k->acct_id) == 0) return 1;
        return acme_problem(k, 403, "unauthorized", "this account did not order this certificate");
    }
    EVP_PKEY *pub = X509_get0_pubkey(x);
    if (pub != NULL && EVP_PKEY_eq(pub, k->key) == 1) return 1;
    return acme_problem(k, 403, "unauthorized", "the jwk is not this certificate's key");
}

static int reason_of(struct acme_call *k, int *reason) {
    json_t *r = json_object_get(k->payload, "reason");
    *reason = 0;
    if (r == NULL) return 1;
    json_int_t v = json_integer_value(r);
    if (!json_is_integer(r) || v < 0 || v > 10 || v == 7)
        return acme_problem(k, 400, "badRevocationReason", "reason: an RFC 5280 reason code (0-6, 8-10)");
    *reason = (int)v;
    return 1;
}

void acme_revoke(struct acme_call *k) {
    const char *b64 = json_string_value(json_object_get(k->payload, "certificate"));
    uint8_t *der = malloc(CERT_MAX), oct[HEX_SERIAL_MAX + 1];
    size_t len = 0, olen = 0;
    char hex[ACME_SERIAL_HEX_MAX];
    int reason;
    X509 *x = NULL;
    json_t *rec = NULL;
    struct rerr e;
    if (b64 == NULL || der == NULL || !b64url_decode(b64, strlen(b64), der, CERT_MAX, &len)) {
        acme_problem(k, 400, "malformed", "certificate: base64url DER of at most %d octets", CERT_MAX);
        goto out;
    }
    const uint8_t *p = der;
    x = d2i_X509(NULL, &p, (long)len);
    if (x == NULL || p != der + len || !serial_of(x, hex, oct, &olen)) {
        acme_problem(k, 400, "malformed", "certificate: not one DER certificate");
        goto out;
    }
    rec = acme_load(k->a->core, "cert", hex, &e);
    if (rec == NULL || !same_leaf(json_string_value(json_object_get(rec, "pem")), x)) {
        acme_problem(k, 404, "malformed", "this ACME server did not issue this certificate");
        goto out;
    }
    if (!authorized(k, rec, x) || !reason_of(k, &reason)) goto out;
    const char *ca = json_string_value(json_object_get(rec, "ca"));
    struct ca_cert_status st;
    if (!ca_status(k->a->core, ca, oct, olen, &st, &e)) {
        acme_problem(k, 500, "serverInternal", "%s", e.msg);
        goto out;
    }
    if (st.found && st.status == CERT_REVOKED && st.reason != 6) {
        acme_problem(k, 400, "alreadyRevoked", "the certificate is revoked already");
        goto out;
    }
    if (!ca_revoke(k->a->core, ca, oct, olen, reason, 0, &e)) {
        acme_problem(k, 400, "malformed", "%s", e.msg);
        goto out;
    }
    if (k->a->cf.changed) k->a->cf.changed(k->a->cf.changed_arg, "an ACME revocation");
    acme_reply(k, 200, NULL);
out:
    json_decref(rec);
    X509_free(x);
    free(der);
}
