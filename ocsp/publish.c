/* publish: the OCSP publisher (ocsp/publish.h). Moved from node/serve.c:
 * apply_changes, next_gen, lane_refresh, the publishing of a generation,
 * collect and the refresher's pass, unchanged in what they do and when. */
#include "ocsp/publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/responder.h"
#include "common/log.h"
#include "common/rtime.h"
#include "ocsp/gen.h"
#include "ocsp/lane.h"
#include "ocsp/precompute.h"
#include "ocsp/remerge.h"
#include "ocsp/response.h"
#include "ocsp/store.h"
#include "ocsp/table.h"
#include "shard/metrics.h"

/* The refresher signs, in one pass, every response due within
 * REFRESH_SLACK_S, as many as take about REFRESH_PASS_S to sign (measured
 * on the last pass; REFRESH_BATCH_MIN to REFRESH_BATCH certificates), and
 * looks again at least every REFRESH_IDLE_S. */
#define REFRESH_SLACK_S 10
#define REFRESH_PASS_S 0.1
#define REFRESH_BATCH_MIN 16
#define REFRESH_BATCH 4096
#define REFRESH_BATCH_FIRST 256
#define REFRESH_IDLE_S 60
#define REFRESH_RETRY_S 10

/* Overlays are folded into their base (bytes copied, nothing re-signed)
 * once they pass max(OVERLAY_FOLD_MIN, min(base / 8, OVERLAY_FOLD_MAX)):
 * every publication copies the overlay, so it stays small. */
#define OVERLAY_FOLD_MIN 1024
#define OVERLAY_FOLD_MAX 16384

struct ocsp_publisher {
    struct ca_core *core;
    struct ocsp_gen_opts opts; /* validity: opts.validity; store_dir: owned */
    struct remerge *rm;        /* a store being written again, or NULL */
    uint64_t rm_epoch;         /* ca_responder_epoch when rm started */
    int64_t rm_retry_at;       /* after a remerge failed: not before */
    double rm_started;         /* rtime_mono when rm started */
    size_t rm_next;            /* the CA stores_due looks at first: one failing never starves the rest */
    struct lane *lane;        /* NULL: none */
    struct metrics_core *m;
    struct ocsp_publish_hooks hooks;
    const struct gen *gen;    /* the last published: read-only here, freed by the receiver */
    int64_t backdate;
    int64_t next_scan;  /* when the refresher looks again */
    int64_t next_sweep; /* the earliest full generation that drops responses run out (collect) */
    uint64_t lane_epoch; /* ca_responder_epoch when the lane last took the responders */
    size_t refresh_batch;
    uint64_t refreshed, refresh_failures, publish_failures;
    /* Changes whose publication failed, retried from retry_at. */
    struct ca_change *pending;
    size_t npending;
    int pending_full;
    int64_t retry_at;
};

struct ocsp_publisher *ocsp_publish_new(struct ca_core *core, const struct gen *first, const struct ocsp_gen_opts *o,
                                        int64_t backdate, struct lane *lane, struct metrics_core *m,
                                        const struct ocsp_publish_hooks *hooks) {
    struct ocsp_publisher *p = calloc(1, sizeof(*p));
    if (p == NULL) return NULL;
    p->opts = *o;
    if (o->store_dir != NULL && (p->opts.store_dir = strdup(o->store_dir)) == NULL) {
        free(p);
        return NULL;
    }
    p->core = core;
    p->lane = lane;
    p->m = m;
    p->hooks = *hooks;
    p->gen = first;
    p->backdate = backdate;
    p->refresh_batch = REFRESH_BATCH_FIRST;
    if (lane != NULL) p->lane_epoch = ca_responder_epoch(core);
    return p;
}

void ocsp_publish_free(struct ocsp_publisher *p) {
    if (p == NULL) return;
    remerge_free(p->rm);
    free((char *)p->opts.store_dir);
    free(p->pending);
    free(p);
}

const struct gen *ocsp_publish_current(const struct ocsp_publisher *p) { return p->gen; }

uint64_t ocsp_publish_refreshed(const struct ocsp_publisher *p) { return p->refreshed; }

int ocsp_publish_retry_due(const struct ocsp_publisher *p, int64_t now) { return now >= p->retry_at; }

void ocsp_publish_set_validity(struct ocsp_publisher *p, int64_t validity) {
    p->opts.validity = validity;
    p->pending_full = 1;
    p->retry_at = 0;
}

void ocsp_publish_set_backdate(struct ocsp_publisher *p, int64_t backdate) { p->backdate = backdate; }

/* Starts writing CA gc's store again (one at a time), signing what is due
 * by resign_by. Logged on failure: the store and overlay stay. */
static void remerge_start(struct ocsp_publisher *p, const struct gen_ca *gc, int64_t resign_by) {
    if (p->rm != NULL || gen_ca_store(gc) == NULL) return;
    char path[4096];
    struct rerr e;
    ocsp_store_path_of(p->opts.store_dir, gen_ca_id(gc), path, sizeof(path));
    p->rm = remerge_new(p->core, gen_ca_name(gc), gen_ca_store(gc), (struct ocsp_table *)gen_ca_overlay(gc), path,
                        p->opts.validity, resign_by, &e);
    if (p->rm == NULL)
        rlog(LOG_WARN, "ocsp.store_merge_failed", "writing the response store of CA %s again: %s", gen_ca_name(gc),
             e.msg);
    else
        rlog(LOG_INFO, "ocsp.store_merge_started",
             "writing the response store of CA %s again (%llu certificates, %zu overlay entries to fold)",
             gen_ca_name(gc), (unsigned long long)ocsp_store_count(gen_ca_store(gc)),
             ocsp_table_count(gen_ca_overlay(gc)));
    p->rm_epoch = ca_responder_epoch(p->core);
    p->rm_started = rtime_mono();
}

/* Overlays past their bound are folded into their base (a store's: by a
 * remerge, a slice at a time). */
static void fold(struct ocsp_publisher *p, struct gen_ca *gc) {
    const struct ocsp_table *base = gen_ca_table(gc), *over = gen_ca_overlay(gc);
    if (gen_ca_store(gc) != NULL) {
        if (ocsp_table_count(over) > OVERLAY_FOLD_MAX) remerge_start(p, gc, rtime_now() + REFRESH_SLACK_S);
        return;
    }
    size_t bound = ocsp_table_count(base) / 8;
    if (bound > OVERLAY_FOLD_MAX) bound = OVERLAY_FOLD_MAX;
    if (bound < OVERLAY_FOLD_MIN) bound = OVERLAY_FOLD_MIN;
    if (ocsp_table_count(over) > bound) {
        struct ocsp_table *merged = ocsp_table_merge(base, over);
        if (merged != NULL) {
            gen_ca_set_table(gc, merged);
            gen_ca_set_overlay(gc, NULL);
        }
    }
}

/* A generation with the responses of ch[0..n) re-signed into their CA's
 * overlay (*signed_count, when not NULL: how many certificates were).
 * NULL (e set) on failure. */
static struct gen *apply_changes(struct ocsp_publisher *p, const struct ca_change *ch, size_t n,
                                 size_t *signed_count, struct rerr *e) {
    if (signed_count != NULL) *signed_count = 0;
    struct gen *g = gen_clone(p->gen);
    if (g == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < g->num; i++) {
        struct gen_ca *gc = gen_ca_at_mut(g, i);
        size_t k = 0;
        while (k < n && strcmp(ch[k].ca, gen_ca_name(gc)) != 0) k++;
        if (k == n) continue; /* no change for this CA */
        struct ocsp_table *over;
        size_t done = 0;
        if (!ocsp_precompute_overlay(p->core, gen_ca_name(gc), gen_ca_overlay(gc), ch, n, p->opts.validity, &over, &done,
                                     e)) {
            gen_free(g);
            return NULL;
        }
        if (signed_count != NULL) *signed_count += done;
        gen_ca_set_overlay(gc, over);
        fold(p, gc);
    }
    return g;
}

/* A generation for what changed (a command, a responder rotated while
 * signing) plus what an earlier failure left pending: the certificates
 * whose status changed get their responses re-signed into their CA's
 * overlay; a new CA or a bulk import rebuilds every table (stored
 * responses reused; *full set). NULL on failure, with the changes kept
 * pending for the next try (e set); *none when nothing changed. */
static struct gen *next_gen(struct ocsp_publisher *p, int *none, int *fresh, struct rerr *e) {
    struct ca_change *ch;
    size_t n;
    *none = 0;
    int full = ca_take_changes(p->core, &ch, &n) || p->pending_full;
    *fresh = full;
    if (p->npending > 0) { /* the pending ones first, in their order */
        struct ca_change *all = malloc((p->npending + n + 1) * sizeof(*all));
        if (all == NULL) {
            free(ch);
            p->pending_full = 1; /* out of memory: rebuild everything later */
            rerr_set(e, "out of memory");
            return NULL;
        }
        memcpy(all, p->pending, p->npending * sizeof(*all));
        if (n > 0) memcpy(all + p->npending, ch, n * sizeof(*all));
        n += p->npending;
        free(ch);
        free(p->pending);
        ch = all;
        p->pending = NULL;
        p->npending = 0;
    }
    p->pending_full = 0;
    if (p->hooks.changed != NULL) p->hooks.changed(p->hooks.arg, full, ch, n);
    if (full) { /* every store is looked at again: a remerge would race it */
        remerge_free(p->rm);
        p->rm = NULL;
    }
    struct gen *g = NULL;
    if (!full && n == 0) {
        *none = 1;
        free(ch);
        return NULL;
    }
    if (full ? ocsp_precompute_gen(p->core, &p->opts, &g, NULL, e) : (g = apply_changes(p, ch, n, NULL, e)) != NULL) {
        free(ch);
        return g;
    }
    /* Kept for the next try: a revocation is never left unpublished. */
    p->pending_full = full;
    p->pending = full ? NULL : ch;
    p->npending = full ? 0 : n;
    if (full) free(ch);
    p->retry_at = rtime_now() + REFRESH_RETRY_S;
    return NULL;
}

void ocsp_publish_lane_refresh(struct ocsp_publisher *p) {
    struct rerr e;
    if (p == NULL || p->lane == NULL) return;
    if (lane_update(p->lane, p->core, &e)) p->lane_epoch = ca_responder_epoch(p->core);
    else rlog(LOG_WARN, "lane.update_failed", "the signing lane keeps its previous CAs: %s", e.msg);
}

static void publish(struct ocsp_publisher *p, struct gen *g, int fresh) {
    p->hooks.publish(p->hooks.arg, g, fresh);
    p->gen = g;
    metrics_add(&p->m->publications, 1);
    atomic_store_explicit(&p->m->responses, gen_responses(g), memory_order_relaxed);
    ocsp_publish_lane_refresh(p);
}

void ocsp_publish_gen(struct ocsp_publisher *p, struct gen *g) { publish(p, g, 0); }

int ocsp_publish_changes(struct ocsp_publisher *p, const char *after) {
    struct rerr e;
    int none, fresh = 0;
    /* A responder replaced (one revoked): the lane stops signing with the
     * old one now, not after the full generation that follows. */
    if (p->lane != NULL && ca_responder_epoch(p->core) != p->lane_epoch) ocsp_publish_lane_refresh(p);
    struct gen *g = next_gen(p, &none, &fresh, &e);
    atomic_store_explicit(&p->m->sign_queue, p->pending_full ? 1 : p->npending, memory_order_relaxed);
    if (none) return 1;
    if (g == NULL) {
        p->publish_failures++;
        metrics_add(&p->m->publish_failures, 1);
        rlog(LOG_WARN, "ocsp.publish_failed",
             "re-signing after %s failed (retrying in %d s), still serving the previous responses: %s", after,
             REFRESH_RETRY_S, e.msg);
        return 0;
    }
    publish(p, g, fresh);
    return 1;
}

/* What a refresher's pass collects. */
struct due {
    struct ca_change *list;
    size_t n, max;
    int64_t by, next; /* take what is due by `by`; next: the earliest of the rest */
    int64_t now;
    int64_t min_window; /* refresh_min_window */
    size_t ran_out;     /* responses past their nextUpdate: left to a full generation */
};

/* A response whose whole window (nextUpdate - thisUpdate) is shorter than
 * this ends at its certificate's notAfter (ocsp_times): it is not
 * refreshed, since a new one could not last longer. Refreshing at half of
 * an ever shorter window would sign it again every second of the
 * certificate's last minutes: once less than the backdating is left, half
 * the window is already past. */
static int64_t refresh_min_window(int64_t backdate) { return 2 * backdate + 120; }

static void collect(struct due *d, const char *ca, const struct ocsp_table *t, const struct ocsp_table *shadow) {
    size_t pos = 0;
    const uint8_t *serial;
    size_t sl;
    int64_t tu, nu;
    while (ocsp_table_next(t, &pos, &serial, &sl, &tu, &nu)) {
        if (shadow != NULL && ocsp_table_has(shadow, serial, sl)) continue;
        /* Run out: its certificate has expired (nextUpdate is capped at its
         * notAfter), so there is nothing to sign; a full generation, which
         * leaves expired certificates out, drops it (ocsp_publish_refresh). */
        if (nu <= d->now) {
            d->ran_out++;
            continue;
        }
        if (nu - tu < d->min_window) continue;
        int64_t at = ocsp_refresh_at(serial, sl, tu, nu);
        if (at > d->by || d->n == d->max) {
            if (at < d->next) d->next = at;
            continue;
        }
        struct ca_change *c = &d->list[d->n++];
        snprintf(c->ca, sizeof(c->ca), "%s", ca);
        memcpy(c->serial, serial, sl);
        c->serial_len = sl;
    }
}

/* Puts the store a remerge wrote in place of the one it started from, with
 * the overlay less what the store now holds, and publishes that. */
static void remerge_install(struct ocsp_publisher *p, struct ocsp_store *fresh, double seconds) {
    struct gen *g = gen_clone(p->gen);
    struct gen_ca *gc = NULL;
    for (size_t i = 0; g != NULL && i < g->num && gc == NULL; i++)
        if (gen_ca_store(gen_ca_at(g, i)) == remerge_old(p->rm)) gc = gen_ca_at_mut(g, i);
    struct ocsp_table *over = gc != NULL ? ocsp_table_subtract(gen_ca_overlay(gc), remerge_overlay(p->rm)) : NULL;
    if (gc == NULL || over == NULL) { /* replaced meanwhile, or out of memory: the next one tries again */
        gen_free(g);
        ocsp_store_put(fresh);
        return;
    }
    rlog(LOG_INFO, "ocsp.store_merged",
         "the response store of CA %s was written again: %llu certificates, %llu responses signed again, "
         "%zu overlay entries folded, %.1f s",
         gen_ca_name(gc), (unsigned long long)ocsp_store_count(fresh), (unsigned long long)remerge_signed(p->rm),
         ocsp_table_count(remerge_overlay(p->rm)), seconds);
    gen_ca_set_store(gc, fresh);
    if (ocsp_table_count(over) == 0) {
        ocsp_table_free(over);
        over = NULL;
    }
    gen_ca_set_overlay(gc, over);
    publish(p, g, 0);
    ocsp_precompute_trim_changes(p->core, g);
}

/* A slice of the store being written again, if any. Returns 1 when more
 * is to do now. */
static int remerge_pass(struct ocsp_publisher *p, int64_t now) {
    if (p->rm == NULL) return 0;
    if (ca_responder_epoch(p->core) != p->rm_epoch) { /* a full generation follows */
        remerge_free(p->rm);
        p->rm = NULL;
        return 0;
    }
    struct ocsp_store *fresh = NULL;
    struct rerr e;
    int r = remerge_step(p->rm, REFRESH_PASS_S, &fresh, &e);
    if (r == 1) return 1;
    if (r == 0) {
        rlog(LOG_WARN, "ocsp.store_merge_failed",
             "writing the response store of CA %s again failed (still serving the previous one; retrying in %d s): "
             "%s",
             remerge_ca(p->rm), REFRESH_RETRY_S, e.msg);
        p->rm_retry_at = now + REFRESH_RETRY_S;
    } else {
        remerge_install(p, fresh, rtime_mono() - p->rm_started);
    }
    remerge_free(p->rm);
    p->rm = NULL;
    return 0;
}

/* Starts the remerge that refreshes a store whose responses fall due
 * (those due within an eighth of the validity are signed again in it);
 * *next: the earliest a store's falls due otherwise. */
static void stores_due(struct ocsp_publisher *p, int64_t now, int64_t *next) {
    size_t num = p->gen->num;
    for (size_t k = 0; k < num; k++) {
        size_t i = (p->rm_next + k) % num;
        const struct gen_ca *gc = gen_ca_at(p->gen, i);
        const struct ocsp_store *st = gen_ca_store(gc);
        if (st == NULL) continue;
        int64_t at = ocsp_store_refresh_min(st);
        if (at <= now + REFRESH_SLACK_S && p->rm == NULL && now >= p->rm_retry_at) {
            remerge_start(p, gc, now + p->opts.validity / 8);
            p->rm_next = i + 1;
        } else if (at < *next) {
            *next = at;
        }
    }
}

/* The refresher's pass: re-signs the responses that are due, in passes
 * sized to take about REFRESH_PASS_S each (whatever the key type). */
int ocsp_publish_refresh(struct ocsp_publisher *p, int64_t now, int wait) {
    if (remerge_pass(p, now)) return 0;
    if (now < p->next_scan) return wait;
    struct due d = {malloc(p->refresh_batch * sizeof(struct ca_change)), 0, p->refresh_batch, now + REFRESH_SLACK_S,
                    now + REFRESH_IDLE_S, now, refresh_min_window(p->backdate), 0};
    if (d.list == NULL) {
        p->next_scan = now + REFRESH_RETRY_S;
        return 1000;
    }
    for (size_t i = 0; i < p->gen->num; i++) {
        const struct gen_ca *gc = gen_ca_at(p->gen, i);
        collect(&d, gen_ca_name(gc), gen_ca_overlay(gc), NULL);
        collect(&d, gen_ca_name(gc), gen_ca_table(gc), gen_ca_overlay(gc));
    }
    stores_due(p, now, &d.next);
    /* Responses of expired certificates: swept by a full generation (stored
     * responses reused), at most once an hour. */
    if (d.ran_out > 0 && now >= p->next_sweep) {
        p->next_sweep = now + 3600;
        p->pending_full = 1;
        p->retry_at = now;
    }
    int more = d.n == d.max;
    if (d.n > 0) {
        struct rerr e;
        size_t done = 0;
        double t0 = rtime_mono();
        struct gen *g = apply_changes(p, d.list, d.n, &done, &e);
        double dt = rtime_mono() - t0;
        if (g == NULL) {
            p->refresh_failures++;
            rlog(LOG_WARN, "ocsp.refresh_failed", "refreshing %zu responses failed (retrying in %d s): %s", d.n,
                 REFRESH_RETRY_S, e.msg);
            free(d.list);
            p->next_scan = now + REFRESH_RETRY_S;
            return 1000;
        }
        publish(p, g, 0);
        p->refreshed += done;
        metrics_add(&p->m->refreshed, done);
        /* Next pass: about REFRESH_PASS_S of signing. */
        if (done > 0) {
            double per = dt / (double)done, want = REFRESH_PASS_S / (per > 1e-7 ? per : 1e-7);
            p->refresh_batch = want < REFRESH_BATCH_MIN ? REFRESH_BATCH_MIN
                               : want > REFRESH_BATCH   ? REFRESH_BATCH
                                                        : (size_t)want;
        }
        if (done < d.n) { /* records missing or damaged: never busy-loop on them */
            p->refresh_failures++;
            rlog(LOG_WARN, "ocsp.refresh_incomplete",
                 "%zu of %zu due responses could not be re-signed (their index records are "
                 "missing or damaged); looking again in %d s\n",
                 d.n - done, d.n, REFRESH_RETRY_S);
            free(d.list);
            p->next_scan = now + REFRESH_RETRY_S;
            return 1000;
        }
        if (more)
            rlog(LOG_INFO, "ocsp.refresh_progress", "refreshed %zu responses (%llu so far), more are due", d.n,
                 (unsigned long long)p->refreshed);
    }
    free(d.list);
    if (more || p->rm != NULL) {
        p->next_scan = now;
        return 0;
    }
    p->next_scan = d.next - REFRESH_SLACK_S > now ? d.next - REFRESH_SLACK_S : now + 1;
    return wait;
}
