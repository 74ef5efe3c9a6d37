#include "crl/publish.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crl/file.h"
#include "crl/make.h"
#include "crl/partition.h"
#include "crl/pool.h"

#include <jansson.h>
#include <openssl/sha.h>

#include "ca/responder.h"
#include "ca/view.h"
#include "common/rtime.h"
#include "common/urls.h"
#include "crl/set.h"
#include "shard/metrics.h"

#define BACKOFF_MAX_MS 60000

/* One CRL the publisher keeps: which, when it is next due. */
struct slot {
    char ca[CA_NAME_MAX + 1];
    struct crl_ref ref;
    int64_t due_ms;     /* rebuild at (0: not dirty) */
    int64_t refresh_at; /* re-sign at (half its validity), seconds */
    int failures;       /* in a row: the backoff */
    int64_t noted_ms;   /* the first status change not yet in a published CRL (0: none) */
    uint8_t issuer[32]; /* the CA as its served CRL names it (issuer_id); zeros: not known */
};

struct crl_publisher {
    struct ca_core *c;
    int64_t validity, coalesce_ms;
    struct slot *slots; /* sorted by (ca, part) */
    size_t n;
    struct crl_set *set;
    int reload;
    struct crl_publish_stats st;
    struct metrics_core *m; /* NULL: not counted */
    int set_changed;        /* the set lost CRLs outside a rebuild (drop_unpublished) */
    int threads;            /* crl/pool threads for a batch */
    int64_t check_ms;       /* a full change: find the stale CRLs at (0: none to) */
    struct {                /* a pass rebuilding every CRL of every CA */
        int active;
        double t0;
        size_t built, failed;
    } all;
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int slot_cmp(const void *a, const void *b) {
    const struct slot *x = a, *y = b;
    int c = strcmp(x->ca, y->ca);
    return c != 0 ? c : (x->ref.part > y->ref.part) - (x->ref.part < y->ref.part);
}

static struct slot *find(const struct crl_publisher *p, const char *ca, uint32_t part) {
    if (p->n == 0) return NULL;
    struct slot key;
    snprintf(key.ca, sizeof(key.ca), "%s", ca);
    key.ref.part = part;
    return bsearch(&key, p->slots, p->n, sizeof(key), slot_cmp);
}

/* Drops from the set the CRLs of CAs that publish nothing any more (purged,
 * past their restore window): their URLs answer 404 from then on. */
static void drop_unpublished(struct crl_publisher *p) {
    size_t m = crl_set_count(p->set), keep = 0;
    struct crl_blob **kept = malloc((m + 1) * sizeof(*kept));
    if (kept == NULL) return;
    for (size_t i = 0; i < m; i++) {
        struct crl_blob *b = crl_set_at(p->set, i);
        /* b->path is /crl/NAME/...: the CA's name is its second segment. */
        const char *name = strncmp(b->path, "/crl/", 5) == 0 ? b->path + 5 : NULL;
        /* /crl/NAME/PART.crl, or /crl/NAME.crl for a complete CRL. */
        const char *slash = name ? strchr(name, '/') : NULL;
        if (name != NULL && slash == NULL) {
            size_t l = strlen(name);
            slash = l > 4 && strcmp(name + l - 4, ".crl") == 0 ? name + l - 4 : NULL;
        }
        char ca[CA_NAME_MAX + 1];
        struct ca_info info;
        struct rerr e;
        int publishes = 1;
        if (slash != NULL && (size_t)(slash - name) <= CA_NAME_MAX) {
            memcpy(ca, name, (size_t)(slash - name));
            ca[slash - name] = '\0';
            publishes = ca_info_get(p->c, ca, &info, &e) && info.publishes;
        }
        if (publishes) kept[keep++] = b;
    }
    if (keep < m) {
        struct crl_set *ns = crl_set_with(NULL, kept, keep);
        if (ns != NULL) {
            crl_set_free(p->set);
            p->set = ns;
            p->set_changed = 1;
        }
    }
    free(kept);
}

/* Lists every CRL of every CA with a certificate; slots already known keep
 * their state, new ones are due at once. */
static int load(struct crl_publisher *p, struct rerr *e) {
    size_t cap = p->n + 64, n = 0;
    struct slot *s = malloc(cap * sizeof(*s));
    if (s == NULL) return rerr_set(e, "out of memory");
    for (size_t i = 0; i < ca_count(p->c); i++) {
        struct ca_info info;
        ca_info_at(p->c, i, &info);
        if (!info.publishes) continue; /* pending, purged, past its restore window */
        struct crl_ref *refs;
        size_t nr;
        if (!crl_partition_list(p->c, info.name, &refs, &nr, e)) {
            free(s);
            return 0;
        }
        if (n + nr > cap) {
            cap = 2 * (n + nr);
            struct slot *s2 = realloc(s, cap * sizeof(*s));
            if (s2 == NULL) {
                free(refs);
                free(s);
                return rerr_set(e, "out of memory");
            }
            s = s2;
        }
        for (size_t k = 0; k < nr; k++) {
            struct slot *d = &s[n++];
            memset(d, 0, sizeof(*d));
            snprintf(d->ca, sizeof(d->ca), "%s", info.name);
            d->ref = refs[k];
            const struct slot *old = find(p, d->ca, d->ref.part);
            if (old != NULL) {
                d->due_ms = old->due_ms;
                d->refresh_at = old->refresh_at;
                d->failures = old->failures;
                d->noted_ms = old->noted_ms;
                memcpy(d->issuer, old->issuer, sizeof(d->issuer));
            } else {
                d->due_ms = 1; /* never built by this server: now */
            }
        }
        free(refs);
    }
    qsort(s, n, sizeof(*s), slot_cmp);
    free(p->slots);
    p->slots = s;
    p->n = n;
    drop_unpublished(p);
    return 1;
}

/* The CA as its CRLs name it (issuer, key identifier, scope): a CRL made
 * under another (a renewed or re-keyed CA certificate) is stale. Zeros when
 * it cannot be read. */
static void issuer_id(struct ca_core *c, const char *ca, uint8_t out[32]) {
    struct ca_crl_issuer is;
    struct rerr e;
    memset(out, 0, 32);
    if (ca_crl_issuer_get(c, ca, &is, &e) != 1) return;
    size_t len = is.subject_len + is.ski_len + 2;
    uint8_t *buf = malloc(len);
    if (buf == NULL) return;
    memcpy(buf, is.subject, is.subject_len);
    if (is.ski != NULL) memcpy(buf + is.subject_len, is.ski, is.ski_len);
    buf[len - 2] = (uint8_t)is.root;
    buf[len - 1] = (uint8_t)is.complete_crl;
    SHA256(buf, len, out);
    free(buf);
}

/* Sets the issuer of slots[0..n) (sorted by CA: one look-up per CA). */
static void note_issuers(struct crl_publisher *p, struct slot **slots, size_t n) {
    uint8_t id[32];
    const char *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (last == NULL || strcmp(last, slots[i]->ca) != 0) issuer_id(p->c, slots[i]->ca, id);
        last = slots[i]->ca;
        memcpy(slots[i]->issuer, id, sizeof(id));
    }
}

/* A failed build: the previous CRL stays served; retried with a backoff. */
static void build_failed(struct crl_publisher *p, struct slot *s, int64_t now, const struct rerr *e) {
    p->st.failures++;
    if (p->m != NULL) metrics_add(&p->m->crl_failures, 1);
    s->failures++;
    int64_t back = 1000LL << (s->failures < 6 ? s->failures : 6);
    s->due_ms = now + (back < BACKOFF_MAX_MS ? back : BACKOFF_MAX_MS);
    rlog(LOG_WARN, "crl.build_failed", "CRL %s: %s (retrying in %lld ms)", s->ref.url, e->msg,
         (long long)(s->due_ms - now));
    ca_event(p->c, "crl.publish_failed", 70, s->ca, NULL, 0,
             json_pack("{s:s,s:s,s:i,s:I}", "url", s->ref.url, "error", e->msg, "failures_in_a_row", s->failures,
                       "retry_in_ms", (json_int_t)(s->due_ms - now)));
}

/* A built CRL published: counted, the slot clean. */
static void build_done(struct crl_publisher *p, struct slot *s, const struct crl *crl, int64_t refresh_at) {
    p->st.last_build_ms = crl->build_seconds * 1e3;
    s->refresh_at = refresh_at;
    s->due_ms = 0;
    s->failures = 0;
    p->st.built++;
    if (p->m != NULL) {
        metrics_observe(&p->m->crl_build, MHK_US, (uint64_t)(crl->build_seconds * 1e6));
        metrics_add(&p->m->crl_builds, 1);
        if (s->noted_ms != 0) {
            int64_t d = now_ms() - s->noted_ms;
            metrics_observe(&p->m->revoke_crl, MHK_US, d > 0 ? (uint64_t)d * 1000 : 0);
        }
    }
    s->noted_ms = 0;
}

/* A tick builds CRLs for at most this long (more wait for the next tick),
 * so that commands keep their turn; the first build at start has no cap.
 * CRLs are made BATCH at a time: one synced write of their numbers, one
 * fsync of each CA's archive, and at most BATCH CRLs held in memory (a
 * full partition's is 1 MB). */
#define TICK_BUDGET_MS 100
#define BATCH 64

/* Writing the files (each synced) waits on the disk more than it computes:
 * it runs on this many threads per core's worth of pool threads (measured
 * on the 2-core VM: 64 files in 0.35 s on 8 threads, 0.7 s on 2). */
#define IO_PER_THREAD 4

/* One batch being published: the file written and the blob made on the
 * pool's threads. */
struct batch {
    struct crl_publisher *p;
    struct crl_job jobs[BATCH];
    struct slot *slots[BATCH];
    struct crl_blob *blobs[BATCH];
    struct rerr store_err[BATCH];
    int stored[BATCH];
};

static void publish_run(void *arg, size_t i) {
    struct batch *b = arg;
    const struct crl *crl = &b->jobs[i].out;
    if (!b->jobs[i].ok) return;
    b->stored[i] = crl_file_store(ca_core_dir(b->p->c), crl, &b->store_err[i]);
    if (b->stored[i])
        b->blobs[i] = crl_blob_new(b->slots[i]->ref.path, crl->der, crl->der_len, crl->number, crl->this_update,
                                   crl->next_update, crl->this_update + b->p->validity / 2);
}

/* Makes and publishes the CRLs of b->slots[0..n) (sorted): made (crl/make),
 * written and turned into blobs on the pool, each slot's outcome noted.
 * The blobs made go to fresh (*nf of them; room for n more). */
static void build_batch(struct crl_publisher *p, struct batch *b, size_t n, int64_t now, struct crl_blob **fresh,
                        size_t *nf, struct rerr *first_err) {
    for (size_t i = 0; i < n; i++) {
        b->jobs[i] = (struct crl_job){.ca = b->slots[i]->ca, .ref = b->slots[i]->ref};
        b->blobs[i] = NULL;
        b->stored[i] = 0;
    }
    crl_make_many(p->c, b->jobs, n, p->validity, p->threads);
    crl_pool_run(n, p->threads * IO_PER_THREAD, publish_run, b);
    note_issuers(p, b->slots, n);
    for (size_t i = 0; i < n; i++) {
        struct crl_job *j = &b->jobs[i];
        struct slot *s = b->slots[i];
        if (j->ok && !b->stored[i]) { /* numbered, not written: the audit log says so */
            crl_file_unpublished(p->c, &j->out, &b->store_err[i]);
            j->err = b->store_err[i];
        } else if (j->ok && b->blobs[i] == NULL) {
            rerr_set(&j->err, "out of memory");
        }
        if (b->blobs[i] == NULL) {
            build_failed(p, s, now, &j->err);
            if (p->all.active) p->all.failed++;
            if (first_err != NULL && first_err->msg[0] == '\0') *first_err = j->err;
        } else {
            build_done(p, s, &j->out, b->blobs[i]->refresh_at);
            if (p->all.active) p->all.built++;
            fresh[(*nf)++] = b->blobs[i];
        }
        free(j->out.der);
    }
}

static int due_at(const struct slot *s, int64_t now) {
    return (s->due_ms != 0 && s->due_ms <= now) || (s->refresh_at != 0 && s->refresh_at <= now / 1000);
}

/* The pass over every CRL ends when none is due any more (those that
 * failed wait for their backoff): it says how long it took. */
static void all_pass_end(struct crl_publisher *p, int64_t now) {
    if (!p->all.active) return;
    for (size_t i = 0; i < p->n; i++)
        if (due_at(&p->slots[i], now)) return;
    p->all.active = 0;
    rlog(LOG_INFO, "crl.rebuilt_all", "CRLs of every CA rebuilt: %zu partitions in %.3f s on %d threads, %zu not built",
         p->all.built, rtime_mono() - p->all.t0, p->threads, p->all.failed);
}

/* Rebuilds the slots due by now (ms), a batch at a time, within budget_ms
 * (0: no cap); returns 1 when the set changed. */
static int rebuild_due(struct crl_publisher *p, int64_t now, int64_t budget_ms, struct rerr *first_err) {
    size_t due = 0;
    for (size_t i = 0; i < p->n; i++) due += due_at(&p->slots[i], now);
    if (due == 0) return 0;
    if (!p->all.active && due == p->n) {
        p->all.active = 1;
        p->all.t0 = rtime_mono();
        p->all.built = p->all.failed = 0;
    }
    struct crl_blob **fresh = malloc(due * sizeof(*fresh));
    struct batch *b = malloc(sizeof(*b));
    size_t nf = 0;
    if (fresh == NULL || b == NULL) {
        free(fresh);
        free(b);
        return 0; /* out of memory: the next tick tries again */
    }
    b->p = p;
    for (size_t i = 0; i < p->n;) {
        if (budget_ms > 0 && now_ms() - now > budget_ms) break; /* the rest: next tick */
        size_t k = 0;
        for (; i < p->n && k < BATCH; i++)
            if (due_at(&p->slots[i], now)) b->slots[k++] = &p->slots[i];
        if (k > 0) build_batch(p, b, k, now, fresh, &nf, first_err);
    }
    free(b);
    int changed = 0;
    if (nf > 0) {
        struct crl_set *ns = crl_set_with(p->set, fresh, nf);
        if (ns != NULL) {
            crl_set_free(p->set);
            p->set = ns;
            changed = 1;
        }
        for (size_t i = 0; i < nf; i++) crl_blob_put(fresh[i]); /* the set holds its own */
    }
    free(fresh);
    all_pass_end(p, now);
    return changed;
}

/* Taking the published files back, on the pool: each slot's file read,
 * checked (crl_file_load) and turned into a blob when it qualifies. */
struct take {
    struct crl_publisher *p;
    int64_t now;
    int newer_only;
    struct crl_blob **blobs; /* per slot; NULL: not taken */
};

static void take_run(void *arg, size_t i) {
    struct take *t = arg;
    struct crl_publisher *p = t->p;
    struct slot *s = &p->slots[i];
    struct crl crl;
    struct rerr le;
    if (crl_file_load(p->c, s->ca, &s->ref, &crl, &le) != 1) return;
    const struct crl_blob *cur = p->set ? crl_set_find(p->set, s->ref.path, strlen(s->ref.path)) : NULL;
    /* Re-signed at half its validity, or half of --crl-validity when
     * that is shorter (the operator shortened it). */
    int64_t half = crl.this_update + (crl.next_update - crl.this_update) / 2;
    if (crl.this_update + p->validity / 2 < half) half = crl.this_update + p->validity / 2;
    if (half > t->now / 1000 + 60 && (!t->newer_only || cur == NULL || crl.number > cur->number))
        t->blobs[i] = crl_blob_new(s->ref.path, crl.der, crl.der_len, crl.number, crl.this_update, crl.next_update,
                                   half);
    free(crl.der);
}

/* Takes the CRL files published under DIR/crl/ into the set: those still
 * before their re-signing time and, with newer_only, only those whose
 * number is above the one served (a `revd crl rebuild` made through the
 * socket wrote them). Returns how many were taken. */
static size_t take_files(struct crl_publisher *p, int64_t now, int newer_only) {
    struct take t = {p, now, newer_only, calloc(p->n + 1, sizeof(struct crl_blob *))};
    struct slot **taken = malloc((p->n + 1) * sizeof(*taken));
    if (t.blobs == NULL || taken == NULL) {
        free(t.blobs);
        free(taken);
        return 0;
    }
    /* OpenSSL fills a certificate's extension cache (the key identifier)
     * on its first use, testing its flag outside its lock: this thread
     * reads each CA's issuer once before the pool does. */
    uint8_t id[32];
    for (size_t i = 0; i < p->n; i++)
        if (i == 0 || strcmp(p->slots[i].ca, p->slots[i - 1].ca) != 0) issuer_id(p->c, p->slots[i].ca, id);
    crl_pool_run(p->n, p->threads, take_run, &t);
    size_t nk = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (t.blobs[i] == NULL) continue;
        struct slot *s = &p->slots[i];
        t.blobs[nk] = t.blobs[i];
        taken[nk++] = s;
        s->due_ms = 0;
        s->refresh_at = t.blobs[nk - 1]->refresh_at;
        s->noted_ms = 0;
        if (!newer_only) p->st.reused++;
    }
    note_issuers(p, taken, nk);
    if (nk > 0) {
        struct crl_set *ns = crl_set_with(p->set, t.blobs, nk);
        if (ns != NULL) {
            crl_set_free(p->set);
            p->set = ns;
        } else {
            nk = 0;
        }
    }
    for (size_t i = 0; i < nk; i++) crl_blob_put(t.blobs[i]);
    free(t.blobs);
    free(taken);
    return nk;
}

/* After a full change (an import, a new or renewed CA, more changes than
 * the core lists): the CRLs that are stale are due, the others stay.
 * Stale: its partition changed since it was built (ca_crl_part_change
 * against the built_from recorded with it), none was ever recorded, or its
 * CA names itself otherwise now (issuer_id). */
static void mark_stale(struct crl_publisher *p, int64_t due) {
    uint8_t id[32];
    const char *last = NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct slot *s = &p->slots[i];
        if (last == NULL || strcmp(last, s->ca) != 0) issuer_id(p->c, s->ca, id);
        last = s->ca;
        if (s->due_ms != 0) continue; /* due already */
        struct ca_crl_state st;
        uint64_t change = 0;
        struct rerr e;
        int stale = ca_crl_state_get(p->c, s->ca, s->ref.part, &st, &e) != 1 ||
                    !ca_crl_part_change(p->c, s->ca, s->ref.part, &change, &e) || change != st.built_from ||
                    memcmp(id, s->issuer, sizeof(id)) != 0;
        if (stale) s->due_ms = due;
    }
}

int crl_publish_adopt_files(struct crl_publisher *p) {
    struct rerr e;
    if (!load(p, &e)) { /* a new partition since: listed first */
        rlog(LOG_WARN, "crl.list_failed", "listing the CRLs failed: %s", e.msg);
        return 0;
    }
    return take_files(p, now_ms(), 1) > 0 || p->set_changed;
}

struct crl_publisher *crl_publish_new(struct ca_core *c, int64_t validity, int64_t coalesce_ms, struct rerr *e) {
    struct crl_publisher *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    p->c = c;
    p->validity = validity;
    p->coalesce_ms = coalesce_ms;
    p->threads = crl_pool_threads(ca_ocsp_threads(c));
    e->msg[0] = '\0';
    if (!load(p, e)) {
        crl_publish_free(p);
        return NULL;
    }
    /* A restart takes back the CRLs it published while they are before
     * their re-signing time; the rest are built now. */
    int64_t now = now_ms();
    double t0 = rtime_mono();
    size_t taken = take_files(p, now, 0);
    if (taken > 0)
        rlog(LOG_INFO, "crl.taken_back", "%zu of %zu CRLs taken back from %s/crl in %.3f s", taken, p->n,
             ca_core_dir(c), rtime_mono() - t0);
    rebuild_due(p, now, 0, e);
    if (e->msg[0] != '\0') { /* at start, every CRL must be built */
        crl_publish_free(p);
        return NULL;
    }
    if (p->set == NULL && (p->set = crl_set_with(NULL, NULL, 0)) == NULL) {
        rerr_set(e, "out of memory");
        crl_publish_free(p);
        return NULL;
    }
    return p;
}

struct crl_set *crl_publish_set(const struct crl_publisher *p) { return p->set; }

void crl_publish_changed(struct crl_publisher *p, const struct ca_change *ch, size_t n) {
    int64_t due = now_ms() + p->coalesce_ms;
    for (size_t i = 0; i < n; i++) {
        struct ca_cert_status cs;
        struct rerr e;
        if (!ca_status(p->c, ch[i].ca, ch[i].serial, ch[i].serial_len, &cs, &e) || !cs.found) continue;
        if (cs.partition == URLS_PART_NONE) continue; /* in no CRL: an OCSP responder's certificate */
        struct slot *s = find(p, ch[i].ca, cs.partition);
        if (s == NULL) { /* a partition (or CA) this publisher has not seen: list again */
            p->reload = 1;
            continue;
        }
        /* Coalescing: the first change starts the window; later ones ride it. */
        if (s->due_ms == 0 || s->due_ms > due) s->due_ms = due;
        if (s->noted_ms == 0) s->noted_ms = due - p->coalesce_ms;
    }
}

void crl_publish_set_metrics(struct crl_publisher *p, struct metrics_core *m) { p->m = m; }

void crl_publish_set_timing(struct crl_publisher *p, int64_t validity, int64_t coalesce_ms) {
    p->validity = validity;
    p->coalesce_ms = coalesce_ms;
}

void crl_publish_rebuild_all(struct crl_publisher *p) {
    /* Every CRL is rebuilt after the window (and the list read again for
     * new CAs and partitions). */
    int64_t due = now_ms() + p->coalesce_ms;
    for (size_t i = 0; i < p->n; i++)
        if (p->slots[i].due_ms == 0 || p->slots[i].due_ms > due) p->slots[i].due_ms = due;
    p->reload = 1;
}

void crl_publish_changed_all(struct crl_publisher *p) {
    /* Anything may have changed: after the window, the list is read again
     * (new CAs and partitions are built) and the stale CRLs rebuilt. */
    int64_t due = now_ms() + p->coalesce_ms;
    if (p->check_ms == 0 || p->check_ms > due) p->check_ms = due;
    p->reload = 1;
}

int crl_publish_tick(struct crl_publisher *p, int *wait_ms) {
    int64_t now = now_ms();
    if (p->reload) {
        struct rerr e;
        if (load(p, &e)) p->reload = 0;
        else rlog(LOG_WARN, "crl.list_failed", "listing the CRLs failed (retrying): %s", e.msg);
    }
    if (p->check_ms != 0 && p->check_ms <= now && !p->reload) {
        mark_stale(p, p->check_ms);
        p->check_ms = 0;
    }
    int changed = rebuild_due(p, now, TICK_BUDGET_MS, NULL) || p->set_changed;
    p->set_changed = 0;
    /* Next: the earliest dirty slot (or one left over), at most a second away. */
    int64_t next = now + 1000, secs = now / 1000;
    if (p->check_ms != 0 && p->check_ms < next) next = p->check_ms;
    for (size_t i = 0; i < p->n; i++) {
        if (p->slots[i].due_ms != 0 && p->slots[i].due_ms < next) next = p->slots[i].due_ms;
        if (p->slots[i].refresh_at != 0 && p->slots[i].refresh_at <= secs) next = now;
    }
    *wait_ms = (int)(next > now ? next - now : 0);
    return changed;
}

void crl_publish_stats(const struct crl_publisher *p, struct crl_publish_stats *out) { *out = p->st; }

void crl_publish_free(struct crl_publisher *p) {
    if (p == NULL) return;
    crl_set_free(p->set);
    free(p->slots);
    free(p);
}
