/* make: a CRL from the index to the archive. ca/ lends what it holds (the
 * revoked range, the issuer's name and key identifier, the signer, the
 * recorded numbers) through ca/view.h; the policy is here: which entries a
 * CRL lists, its scope and IDP, its number and times, the checks before
 * the number is stored. */
#include "crl/make.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "ca/signer.h"
#include "ca/view.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/urls.h"
#include "crl/archive.h"
#include "crl/build.h"

_Static_assert(CRL_SIG_MAX == CA_SIG_MAX, "crl/build places what a ca_signer signs");

int crl_last(struct ca_core *c, const char *ca, const struct crl_ref *ref, uint64_t *number, int64_t *this_update,
             struct rerr *e) {
    struct ca_crl_state st;
    int got = ca_crl_state_get(c, ca, ref->part, &st, e);
    *number = st.number;
    *this_update = st.this_update;
    return got;
}

/* An entry read from the index, with its serial copied out. */
struct rentry {
    uint8_t serial[21];
    size_t serial_len;
    int64_t revoked_at, invalidity;
    int reason;
};

struct entries {
    struct rentry *list;
    size_t num, cap;
    int64_t now;
    const char *why; /* set when add_entry stopped the walk */
};

/* Keeps the revoked certificates that have not expired by now. */
static int add_entry(void *arg, const struct ca_crl_revoked *r) {
    struct entries *l = arg;
    if (r->not_after < l->now) return 1; /* expired: it leaves the CRL */
    if (r->serial_len > sizeof(l->list[0].serial)) { /* ca/ gives 1..21 only */
        l->why = "a serial longer than 21 octets";
        return 0;
    }
    if (l->num == l->cap) {
        struct rentry *l2 = realloc(l->list, 2 * l->cap * sizeof(*l2));
        if (l2 == NULL) {
            l->why = "out of memory";
            return 0;
        }
        l->list = l2;
        l->cap *= 2;
    }
    struct rentry *d = &l->list[l->num++];
    memcpy(d->serial, r->serial, r->serial_len);
    d->serial_len = r->serial_len;
    d->revoked_at = r->revoked_at;
    d->invalidity = r->invalidity;
    d->reason = r->reason;
    return 1;
}

/* The revoked certificates of one partition that have not expired by now. */
static int read_entries(struct ca_core *c, const char *ca, uint32_t part, int64_t now, struct rentry **out, size_t *n,
                        struct rerr *e) {
    struct entries l = {malloc(256 * sizeof(struct rentry)), 0, 256, now, NULL};
    if (l.list == NULL) return rerr_set(e, "out of memory");
    int ok = ca_crl_each_revoked(c, ca, part, add_entry, &l, e);
    if (ok && l.why != NULL) ok = rerr_set(e, "CA %s partition %u: %s", ca, part, l.why);
    if (!ok) {
        free(l.list);
        return 0;
    }
    *out = l.list;
    *n = l.num;
    return 1;
}

/* The audit record's params: what the CA key signed. */
static json_t *sign_params(const struct crl_ref *ref, const struct crl_params *p, size_t n, const uint8_t *der,
                           size_t len) {
    uint8_t h[32];
    char hx[65], tu[21];
    SHA256(der, len, h);
    for (int i = 0; i < 32; i++) snprintf(hx + 2 * i, 3, "%02x", h[i]);
    rtime_format(p->this_update, tu);
    return json_pack("{s:o,s:I,s:I,s:s,s:s}", "partition",
                     ref->part == URLS_PART_CA ? json_string("ca") : json_integer((json_int_t)ref->part), "number",
                     (json_int_t)p->number, "entries", (json_int_t)n, "this_update", tu, "sha256", hx);
}

/* crl_make is one sequence of checked steps, each of which may end it
 * (read, encode and sign, check, record, archive); split, the steps would
 * pass a dozen values between them. */
int crl_make(struct ca_core *c, const char *name, const struct crl_ref *ref, int64_t validity, struct crl *out,
             struct rerr *e) {
    memset(out, 0, sizeof(*out));
    double t0 = rtime_mono();
    /* The signer first (it may load the key), then the issuer's pointers
     * into the CA certificate. */
    struct ca_signer signer;
    if (!ca_crl_signer(c, name, &signer, e)) return 0;
    struct ca_crl_issuer is;
    if (ca_crl_issuer_get(c, name, &is, e) != 1) return 0;
    struct ca_crl_state last;
    if (ca_crl_state_get(c, name, ref->part, &last, e) < 0) return 0;
    /* The index restored from a backup is behind the CRL already
     * published: the number goes on from the published one, never back
     * (a relying party would keep the newer CRL). */
    uint64_t pub_number;
    int64_t pub_this;
    if (crl_file_number(c, ref, &pub_number, &pub_this) && pub_number > last.number) {
        rlog(LOG_WARN, "crl.number_ahead",
             "CRL %s: the published file has number %llu, the index %llu (an index restored from a backup?): "
             "going on from the published one", ref->url, (unsigned long long)pub_number,
             (unsigned long long)last.number);
        last.number = pub_number;
        if (pub_this > last.this_update) last.this_update = pub_this;
    }
    uint64_t built_from;
    if (!ca_crl_part_change(c, name, ref->part, &built_from, e)) return 0;
    int64_t now = rtime_now();
    struct rentry *ents = NULL;
    size_t n = 0;
    if (!read_entries(c, name, ref->part, now, &ents, &n, e)) return 0;
    struct crl_entry *ce = malloc((n + 1) * sizeof(*ce));
    int ok = ce != NULL && is.ski != NULL;
    if (!ok) rerr_ssl(e, "cannot prepare the CRL of CA %s", name);
    for (size_t i = 0; ok && i < n; i++)
        ce[i] = (struct crl_entry){ents[i].serial, ents[i].serial_len, ents[i].revoked_at,
                                   ents[i].reason == 0 ? -1 : ents[i].reason, ents[i].invalidity};
    /* A clock that went back must not make thisUpdate go back. */
    int64_t this_update = now > last.this_update ? now : last.this_update;
    int root_scope = ref->part == URLS_PART_CA && is.root;
    struct crl_params p = {is.subject,
                           is.subject_len,
                           this_update,
                           this_update + validity,
                           last.number + 1,
                           is.ski,
                           is.ski_len,
                           /* A root's CA-scope CRL also covers the root itself,
                              which has no CDP: OpenSSL's -crl_check_all looks
                              for a CRL at every level, and an IDP with a
                              distributionPoint never matches a certificate
                              without a CDP. Its IDP keeps onlyContainsCACerts. */
                           root_scope ? NULL : ref->url,
                           root_scope ? 0 : strlen(ref->url),
                           ref->part == URLS_PART_CA                          ? CRL_SCOPE_CA_CERTS
                           : ref->part >= URLS_PART_EXTERNAL || is.complete_crl ? CRL_SCOPE_ALL
                                                                                : CRL_SCOPE_USER_CERTS};
    struct crl_signer cs = {signer.sigalg, signer.sigalg_len, signer.sign, signer.arg};
    if (ok && !crl_build(&p, ce, n, &cs, &out->der, &out->der_len)) {
        ok = rerr_set(e, "building the CRL of CA %s partition %u failed", name, ref->part);
        out->der = NULL;
    }
    /* Checked before anything is published: the signature against the CA
     * certificate, the number and the time against the last CRL's. */
    if (ok && !ca_crl_verify(c, name, out->der, out->der_len))
        ok = rerr_ssl(e, "the new CRL of CA %s partition %u does not verify: not published", name, ref->part);
    if (ok && (p.number <= last.number || p.this_update < last.this_update))
        ok = rerr_set(e, "the new CRL of CA %s partition %u goes backwards: not published", name, ref->part);
    /* The CA key signed: the audit log says so, with the number (same
     * synced write), or says why what it signed is not published. */
    json_t *params = out->der != NULL ? sign_params(ref, &p, n, out->der, out->der_len) : NULL;
    if (ok) {
        /* The number, thisUpdate, and the partition change this CRL was
         * built from (read with its entries: nothing changes in between,
         * this is the thread that owns the core). */
        struct ca_crl_state st = {p.number, p.this_update, built_from};
        ok = ca_crl_record(c, name, ref->part, &st, params, e);
    } else if (params != NULL) {
        ca_crl_audit_failure(c, "crl-sign", name, params, e);
    }
    /* Every CRL signed is archived before it can be published (after its
     * number is taken: a failure leaves a gap, never a number twice). */
    if (ok) ok = crl_archive_append(ca_core_dir(c), name, ref->part, p.number, p.this_update, out->der, out->der_len, e);
    free(ce);
    free(ents);
    if (!ok) {
        free(out->der);
        out->der = NULL;
        return 0;
    }
    out->ref = *ref;
    out->number = p.number;
    out->this_update = p.this_update;
    out->next_update = p.next_update;
    out->entries = n;
    out->build_seconds = rtime_mono() - t0;
    return 1;
}
