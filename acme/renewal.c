/* renewal: ACME Renewal Information (acme/renewal.h). Marks are kept as
 * "rim/CA/s:SERIAL", "rim/CA/p:PARTITION" and "rim/CA/all". */
#include "acme/renewal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "common/b64url.h"
#include "common/hex.h"
#include "common/rtime.h"

#define CA_ROTATE_MARGIN_S (30 * 86400)
#define NOW_WIDTH_S 3600

int acme_certid_parse(const char *certid, uint8_t aki[64], size_t *aki_len, char serial[2 * 21 + 3]) {
    const char *dot = strchr(certid, '.');
    uint8_t sn[21];
    size_t sl = 0;
    if (dot == NULL || strlen(certid) > 200 || !b64url_decode(certid, (size_t)(dot - certid), aki, 64, aki_len) ||
        *aki_len == 0 || !b64url_decode(dot + 1, strlen(dot + 1), sn, sizeof(sn), &sl) || sl == 0)
        return 0;
    /* INTEGER content octets: positive (a leading 0x00 only before a set top bit). */
    if ((sn[0] & 0x80) || (sl > 1 && sn[0] == 0 && !(sn[1] & 0x80))) return 0;
    if (sn[0] == 0 && sl == 1) return 0;
    hex_encode_serial(sn, sl, serial);
    return 1;
}

/* The mark that applies to the certificate, if any: its time and spread. */
static int find_mark(struct ca_core *c, const char *ca, const char *serial, uint32_t partition, int64_t *at,
                     int64_t *spread) {
    char keys[3][CA_REC_KEY_MAX];
    snprintf(keys[0], sizeof(keys[0]), "%s/s:%s", ca, serial);
    snprintf(keys[1], sizeof(keys[1]), "%s/p:%u", ca, (unsigned)partition);
    snprintf(keys[2], sizeof(keys[2]), "%s/all", ca);
    for (int i = 0; i < 3; i++) {
        struct rerr e;
        json_t *m = acme_load(c, "rim", keys[i], &e);
        if (m == NULL) continue;
        *at = json_integer_value(json_object_get(m, "at"));
        *spread = json_integer_value(json_object_get(m, "spread"));
        json_decref(m);
        return 1;
    }
    return 0;
}

/* window: [start, end) for the certificate, from revd's state. */
static void window(struct ca_core *c, const char *ca, const char *serial, const struct ca_cert_status *st,
                   int64_t *start, int64_t *end, const char **why) {
    int64_t now = rtime_now(), at, spread;
    struct ca_info info;
    struct rerr e;
    int ca_ok = ca_info_get(c, ca, &info, &e) && info.state == CA_STATE_ACTIVE;
    if (st->status == CERT_REVOKED || !ca_ok) {
        *start = now - 60, *end = now - 60 + NOW_WIDTH_S;
        *why = st->status == CERT_REVOKED ? "revoked" : "its CA issues no more";
    } else if (find_mark(c, ca, serial, st->partition, &at, &spread)) {
        *start = at, *end = at + (spread > 0 ? spread : NOW_WIDTH_S);
        *why = "marked for early renewal";
    } else if (info.not_after < st->not_after + CA_ROTATE_MARGIN_S) {
        *start = now, *end = now + 86400;
        *why = "its CA is about to expire";
    } else {
        int64_t life = st->not_after - st->not_before;
        *start = st->not_before + life * 2 / 3, *end = st->not_before + life * 5 / 6;
        *why = "";
    }
}

/* same_aki: the stored certificate's authority key identifier is aki. */
static int same_aki(const char *pem, const uint8_t *aki, size_t aki_len) {
    X509 *x = acme_pem_leaf(pem);
    const ASN1_OCTET_STRING *id = x ? X509_get0_authority_key_id(x) : NULL;
    int same = id != NULL && (size_t)ASN1_STRING_length(id) == aki_len &&
               memcmp(ASN1_STRING_get0_data(id), aki, aki_len) == 0;
    X509_free(x);
    return same;
}

void acme_renewal_info(struct acme_call *k, const char *certid) {
    uint8_t aki[64];
    size_t al = 0;
    char serial[2 * 21 + 3];
    if (!acme_certid_parse(certid, aki, &al, serial))
        return (void)acme_problem(k, 400, "malformed", "not a certificate identifier (RFC 9773 4.1)");
    struct rerr e;
    json_t *rec = acme_load(k->a->core, "cert", serial, &e);
    const char *ca = json_string_value(json_object_get(rec, "ca"));
    uint8_t oct[HEX_SERIAL_MAX + 1];
    size_t ol = 0;
    struct ca_cert_status st;
    if (rec == NULL || ca == NULL || !same_aki(json_string_value(json_object_get(rec, "pem")), aki, al) ||
        !hex_parse_serial(serial, oct, &ol) || !ca_status(k->a->core, ca, oct, ol, &st, &e) || !st.found) {
        json_decref(rec);
        return (void)acme_problem(k, 404, "malformed", "this ACME server issued no such certificate");
    }
    int64_t start, end;
    const char *why;
    window(k->a->core, ca, serial, &st, &start, &end, &why);
    char s[21], t[21];
    rtime_format(start, s);
    rtime_format(end, t);
    json_t *body = json_pack("{s:{s:s,s:s}}", "suggestedWindow", "start", s, "end", t);
    if (*why) json_object_set_new(body, "explanation", json_string(why));
    k->rs->retry_after = ACME_RENEWAL_RETRY_S;
    acme_reply(k, 200, body);
    json_decref(rec);
}

int acme_renew_early(struct ca_core *c, const char *ca, const char *serial, long partition, int all, int64_t spread_s,
                     struct rerr *e) {
    struct ca_info info;
    if (ca == NULL || !ca_info_get(c, ca, &info, e)) return ca == NULL ? rerr_set(e, "--ca is required") : 0;
    if ((serial != NULL) + (partition >= 0) + (all != 0) != 1)
        return rerr_set(e, "say which certificates: one of --serial HEX, --partition N, --all");
    if (spread_s < 1 || spread_s > ACME_RENEW_EARLY_SPREAD_MAX_S)
        return rerr_set(e, "the spread must be 1 s to %d days", ACME_RENEW_EARLY_SPREAD_MAX_S / 86400);
    char key[CA_REC_KEY_MAX], hex[2 * HEX_SERIAL_MAX + 3];
    uint8_t oct[HEX_SERIAL_MAX + 1];
    size_t ol;
    if (serial != NULL) {
        if (!hex_parse_serial(serial, oct, &ol)) return rerr_set(e, "--serial '%.60s' is not a hex serial", serial);
        hex_encode_serial(oct, ol, hex);
        snprintf(key, sizeof(key), "%s/s:%s", ca, hex);
    } else if (partition >= 0) {
        snprintf(key, sizeof(key), "%s/p:%ld", ca, partition);
    } else {
        snprintf(key, sizeof(key), "%s/all", ca);
    }
    json_t *m = json_pack("{s:I,s:I}", "at", (json_int_t)rtime_now(), "spread", (json_int_t)spread_s);
    struct acme_txn t;
    acme_txn_init(&t);
    acme_txn_put(&t, "rim", key, m);
    json_decref(m);
    return acme_txn_commit(c, &t, "acme-renew-early", ca,
                           json_pack("{s:s,s:I}", "which", strchr(key, '/') + 1, "spread", (json_int_t)spread_s), e);
}
