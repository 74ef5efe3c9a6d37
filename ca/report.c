/* Reports: every certificate of a CA with its status, in serial order. */
#include "ca/core.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/store.h"
#include "common/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>
#include <openssl/err.h>

static void describe(const struct crec *r, char *subject, size_t subject_len, char *sans,
                     size_t sans_len) {
    subject[0] = sans[0] = '\0';
    if (r->der == NULL) return;
    const uint8_t *q = r->der;
    X509 *x = d2i_X509(NULL, &q, r->der_len);
    if (x == NULL) return;
    X509_NAME_oneline(X509_get_subject_name(x), subject, (int)subject_len);
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;
    for (int i = 0; g != NULL && i < sk_GENERAL_NAME_num(g); i++) {
        GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
        char v[300] = "";
        const char *kind = NULL;
        if (n->type == GEN_DNS || n->type == GEN_EMAIL || n->type == GEN_URI) {
            kind = n->type == GEN_DNS ? "DNS" : n->type == GEN_EMAIL ? "email" : "URI";
            snprintf(v, sizeof(v), "%.*s", n->d.ia5->length, (const char *)n->d.ia5->data);
        } else if (n->type == GEN_IPADD) {
            kind = "IP";
            char *s = i2s_ASN1_OCTET_STRING(NULL, n->d.ip);
            const uint8_t *ip = n->d.ip->data;
            if (n->d.ip->length == 4)
                snprintf(v, sizeof(v), "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
            else if (s != NULL)
                snprintf(v, sizeof(v), "%s", s);
            OPENSSL_free(s);
        }
        if (kind == NULL) continue;
        int w = snprintf(sans + o, sans_len - o, "%s%s:%s", o ? ";" : "", kind, v);
        if (w < 0 || (size_t)w >= sans_len - o) break;
        o += (size_t)w;
    }
    GENERAL_NAMES_free(g);
    X509_free(x);
}

int ca_report(struct ca_core *c, const char *name, int64_t since,
              int (*cb)(void *arg, const struct ca_report_row *row), void *arg, struct rerr *e) {
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) return 0;
    uint8_t prefix[5];
    prefix[0] = K_CERT;
    bytes_put_u32(prefix + 1, ca->id);
    struct store_iter *it = store_iter_new(c->st, prefix, 5, NULL, 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    int ok = 1;
    char subject[1024], sans[4096];
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct crec r;
        if (kl < 7 || k[5] != kl - 6 || !crec_decode(v, vl, &r)) {
            ok = rerr_set(e, "index: a certificate record of CA %s is damaged", ca->name);
            break;
        }
        if (since != 0 && r.not_before < since && !(r.status == CERT_REVOKED && r.revoked_at >= since))
            continue;
        describe(&r, subject, sizeof(subject), sans, sizeof(sans));
        struct ca_report_row row = {
            .serial = k + 6,
            .serial_len = kl - 6,
            .subject = subject,
            .sans = sans,
            .template_name = r.template_name,
            .not_before = r.not_before,
            .not_after = r.not_after,
            .revoked_at = r.revoked_at,
            .revoked = r.status == CERT_REVOKED,
            .reason = r.reason,
            .partition = r.partition,
        };
        if (!cb(arg, &row)) break;
    }
    store_iter_free(it);
    return ok;
}
