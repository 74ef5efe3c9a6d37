/* make: a CRL from the index to the archive. ca/ lends what it holds (the
 * revoked range, the issuer's name and key identifier, the signer, the
 * recorded numbers) through ca/view.h; the policy is here: which entries a
 * CRL lists, its scope and IDP, its number and times, the checks before
 * the number is stored. */
#include "crl/make.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "ca/signer.h"
#include "ca/view.h"
#include "common/log.h"
#include "common/rtime.h"
#include "common/urls.h"
#include "crl/archive.h"
#include "crl/build.h"
#include "crl/pool.h"

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

/* What a job carries between its steps: prepared on the calling thread,
 * worked on a pool thread, finished on the calling thread. */
struct work {
    struct ca_signer signer;
    struct ca_crl_issuer is;
    struct ca_crl_state last;
    uint64_t built_from;
    int64_t now, validity;
    double t0;
    struct crl_params p;
    size_t entries;
    char sha256[65]; /* hex, of what the CA key signed (out.der) */
    uint8_t *arch;   /* the archive record, packed */
    size_t arch_len;
    int prepared;
};

/* The audit record's params: what the CA key signed. */
static json_t *sign_params(const struct crl_ref *ref, const struct work *w) {
    char tu[21];
    rtime_format(w->p.this_update, tu);
    return json_pack("{s:o,s:I,s:I,s:s,s:s}", "partition",
                     ref->part == URLS_PART_CA ? json_string("ca") : json_integer((json_int_t)ref->part), "number",
                     (json_int_t)w->p.number, "entries", (json_int_t)w->entries, "this_update", tu, "sha256",
                     w->sha256);
}

/* Step 1, calling thread: what ca/ lends (the signer first: it may load
 * the key; then the issuer's pointers into the CA certificate) and the
 * state the CRL goes on from, read with the partition change it is built
 * from (nothing changes until the batch is done: this thread owns the
 * core and waits for the pool). */
static int prepare(struct ca_core *c, struct crl_job *j, struct work *w, struct rerr *e) {
    if (!ca_crl_signer(c, j->ca, &w->signer, e)) return 0;
    if (ca_crl_issuer_get(c, j->ca, &w->is, e) != 1) return 0;
    if (ca_crl_state_get(c, j->ca, j->ref.part, &w->last, e) < 0) return 0;
    if (!ca_crl_part_change(c, j->ca, j->ref.part, &w->built_from, e)) return 0;
    if (w->is.ski == NULL) return rerr_set(e, "cannot prepare the CRL of CA %s: its certificate has no key identifier", j->ca);
    w->now = rtime_now();
    w->prepared = 1;
    return 1;
}

/* The parameters of the CRL w makes: its number and times, scope and IDP. */
static void params_of(const struct crl_job *j, struct work *w) {
    /* A clock that went back must not make thisUpdate go back. */
    int64_t this_update = w->now > w->last.this_update ? w->now : w->last.this_update;
    int root_scope = j->ref.part == URLS_PART_CA && w->is.root;
    w->p = (struct crl_params){w->is.subject,
                               w->is.subject_len,
                               this_update,
                               this_update + w->validity,
                               w->last.number + 1,
                               w->is.ski,
                               w->is.ski_len,
                               /* A root's CA-scope CRL also covers the root
                                  itself, which has no CDP: OpenSSL's
                                  -crl_check_all looks for a CRL at every
                                  level, and an IDP with a distributionPoint
                                  never matches a certificate without a CDP.
                                  Its IDP keeps onlyContainsCACerts. */
                               root_scope ? NULL : j->ref.url,
                               root_scope ? 0 : strlen(j->ref.url),
                               j->ref.part == URLS_PART_CA                             ? CRL_SCOPE_CA_CERTS
                               : j->ref.part >= URLS_PART_EXTERNAL || w->is.complete_crl ? CRL_SCOPE_ALL
                                                                                         : CRL_SCOPE_USER_CERTS};
}

/* Encodes and signs the entries into out->der. */
static int encode(struct ca_core *c, struct crl_job *j, struct work *w, const struct rentry *ents, size_t n) {
    struct crl_entry *ce = malloc((n + 1) * sizeof(*ce));
    if (ce == NULL) return rerr_set(&j->err, "out of memory");
    for (size_t i = 0; i < n; i++)
        ce[i] = (struct crl_entry){ents[i].serial, ents[i].serial_len, ents[i].revoked_at,
                                   ents[i].reason == 0 ? -1 : ents[i].reason, ents[i].invalidity};
    struct crl_signer cs = {w->signer.sigalg, w->signer.sigalg_len, w->signer.sign, w->signer.arg};
    int ok = crl_build(&w->p, ce, n, &cs, &j->out.der, &j->out.der_len);
    free(ce);
    if (!ok) {
        j->out.der = NULL;
        return rerr_set(&j->err, "building the CRL of CA %s partition %u failed", j->ca, j->ref.part);
    }
    /* Checked before anything is published: the signature against the CA
     * certificate, the number and the time against the last CRL's. */
    if (!ca_crl_verify(c, j->ca, j->out.der, j->out.der_len))
        return rerr_ssl(&j->err, "the new CRL of CA %s partition %u does not verify: not published", j->ca,
                        j->ref.part);
    if (w->p.number <= w->last.number || w->p.this_update < w->last.this_update)
        return rerr_set(&j->err, "the new CRL of CA %s partition %u goes backwards: not published", j->ca, j->ref.part);
    return 1;
}

/* Step 2, a pool thread: the entries read, the CRL encoded, signed,
 * checked, hashed for the audit record and packed for the archive. */
static int work_one(struct ca_core *c, struct crl_job *j, struct work *w) {
    /* The index restored from a backup is behind the CRL already
     * published: the number goes on from the published one, never back
     * (a relying party would keep the newer CRL). */
    uint64_t pub_number;
    int64_t pub_this;
    if (crl_file_number(c, &j->ref, &pub_number, &pub_this) && pub_number > w->last.number) {
        rlog(LOG_WARN, "crl.number_ahead",
             "CRL %s: the published file has number %llu, the index %llu (an index restored from a backup?): "
             "going on from the published one", j->ref.url, (unsigned long long)pub_number,
             (unsigned long long)w->last.number);
        w->last.number = pub_number;
        if (pub_this > w->last.this_update) w->last.this_update = pub_this;
    }
    struct rentry *ents = NULL;
    size_t n = 0;
    if (!read_entries(c, j->ca, j->ref.part, w->now, &ents, &n, &j->err)) return 0;
    w->entries = n;
    params_of(j, w);
    int ok = encode(c, j, w, ents, n);
    free(ents);
    if (j->out.der != NULL) {
        uint8_t h[32];
        SHA256(j->out.der, j->out.der_len, h);
        for (int i = 0; i < 32; i++) snprintf(w->sha256 + 2 * i, 3, "%02x", h[i]);
    }
    if (ok)
        ok = crl_archive_pack(j->ref.part, w->p.number, w->p.this_update, j->out.der, j->out.der_len, &w->arch,
                              &w->arch_len, &j->err);
    return ok;
}

struct batch {
    struct ca_core *c;
    struct crl_job *jobs;
};

static void work_run(void *arg, size_t i) {
    struct batch *b = arg;
    struct crl_job *j = &b->jobs[i];
    struct work *w = j->work;
    if (w->prepared) j->ok = work_one(b->c, j, w);
    ERR_clear_error(); /* this thread's queue: what failed is in j->err */
}

/* Step 3, calling thread: each CA's records appended to its archive (once
 * their numbers are stored: a failure leaves a gap, never a number twice). */
static void archive_all(struct ca_core *c, struct crl_job *jobs, size_t n) {
    const uint8_t **recs = malloc((n + 1) * sizeof(*recs));
    size_t *lens = malloc((n + 1) * sizeof(*lens)), *idx = malloc((n + 1) * sizeof(*idx));
    for (size_t i = 0; i < n; i++) {
        struct work *w = jobs[i].work;
        if (!jobs[i].ok || w->arch == NULL) continue; /* done, or failed */
        size_t m = 0;
        for (size_t k = i; k < n; k++) {
            struct work *wk = jobs[k].work;
            if (!jobs[k].ok || wk->arch == NULL || strcmp(jobs[k].ca, jobs[i].ca) != 0) continue;
            if (recs != NULL && lens != NULL && idx != NULL) {
                recs[m] = wk->arch;
                lens[m] = wk->arch_len;
                idx[m++] = k;
            }
        }
        struct rerr e;
        int ok = m > 0 ? crl_archive_write(ca_core_dir(c), jobs[i].ca, recs, lens, m, &e) : rerr_set(&e, "out of memory");
        for (size_t k = i; k < n; k++) {
            struct work *wk = jobs[k].work;
            if (!jobs[k].ok || wk->arch == NULL || strcmp(jobs[k].ca, jobs[i].ca) != 0) continue;
            free(wk->arch);
            wk->arch = NULL;
            if (!ok) {
                jobs[k].ok = 0;
                jobs[k].err = e;
            }
        }
    }
    free(recs);
    free(lens);
    free(idx);
}

/* Step 3, calling thread: the numbers stored in one synced write, with the
 * audit records of what the CA key signed (or why it is not published). */
static void record_all(struct ca_core *c, struct crl_job *jobs, size_t n) {
    struct ca_crl_rec *r = calloc(n + 1, sizeof(*r));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct work *w = jobs[i].work;
        json_t *params = jobs[i].out.der != NULL ? sign_params(&jobs[i].ref, w) : NULL;
        if (!jobs[i].ok || r == NULL) {
            if (params != NULL) ca_crl_audit_failure(c, "crl-sign", jobs[i].ca, params, &jobs[i].err);
            if (r == NULL && jobs[i].ok) jobs[i].ok = rerr_set(&jobs[i].err, "out of memory");
            continue;
        }
        /* The number, thisUpdate, and the partition change it was built from. */
        r[m++] = (struct ca_crl_rec){jobs[i].ca, jobs[i].ref.part, {w->p.number, w->p.this_update, w->built_from},
                                     params, 0};
    }
    struct rerr e;
    int wrote = m == 0 || ca_crl_record_many(c, r, m, &e);
    for (size_t i = 0, k = 0; i < n && r != NULL; i++) {
        if (!jobs[i].ok) continue;
        if (!wrote) jobs[i].err = e;
        else if (!r[k].ok) rerr_set(&jobs[i].err, "the new CRL of CA %s partition %u goes backwards: not published",
                                    jobs[i].ca, jobs[i].ref.part);
        jobs[i].ok = wrote && r[k].ok;
        k++;
    }
    free(r);
}

size_t crl_make_many(struct ca_core *c, struct crl_job *jobs, size_t n, int64_t validity, int threads) {
    struct work *ws = calloc(n + 1, sizeof(*ws));
    for (size_t i = 0; i < n; i++) {
        memset(&jobs[i].out, 0, sizeof(jobs[i].out));
        jobs[i].ok = 0;
        jobs[i].err.msg[0] = '\0';
        jobs[i].work = ws != NULL ? &ws[i] : NULL;
        if (ws == NULL) {
            rerr_set(&jobs[i].err, "out of memory");
            continue;
        }
        ws[i].t0 = rtime_mono();
        ws[i].validity = validity;
        prepare(c, &jobs[i], &ws[i], &jobs[i].err);
    }
    if (ws == NULL) return 0;
    struct batch b = {c, jobs};
    crl_pool_run(n, ca_crl_sign_parallel(c) ? threads : 1, work_run, &b);
    record_all(c, jobs, n);
    archive_all(c, jobs, n);
    size_t made = 0;
    for (size_t i = 0; i < n; i++) {
        struct crl_job *j = &jobs[i];
        struct work *w = &ws[i];
        free(w->arch);
        j->work = NULL;
        if (!j->ok) {
            free(j->out.der);
            memset(&j->out, 0, sizeof(j->out));
            continue;
        }
        j->out.ref = j->ref;
        j->out.number = w->p.number;
        j->out.this_update = w->p.this_update;
        j->out.next_update = w->p.next_update;
        j->out.entries = w->entries;
        j->out.build_seconds = rtime_mono() - w->t0;
        made++;
    }
    free(ws);
    return made;
}

int crl_make(struct ca_core *c, const char *name, const struct crl_ref *ref, int64_t validity, struct crl *out,
             struct rerr *e) {
    struct crl_job j = {.ca = name, .ref = *ref};
    crl_make_many(c, &j, 1, validity, 1);
    *out = j.out;
    if (!j.ok) *e = j.err;
    return j.ok;
}
