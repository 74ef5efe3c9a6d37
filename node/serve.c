/* serve: `revd serve`. Holds DIR and answers the other commands over its
 * socket; with --listen it also runs the shards (shard/server) over
 * generations of signed responses (ocsp/gen) that this thread, the CA-core
 * thread, builds: at start (stored responses reused), after every command
 * that changed a status, and by the refresher, which re-signs each response
 * at about half its validity (ocsp_refresh_at) between commands. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <unistd.h>

#include <event2/event.h>

#include "ca/ca.h"
#include "common/log.h"
#include "ocsp/lane.h"
#include "ca/responder.h"
#include "node/admin.h"
#include "node/ctl.h"
#include "node/env.h"
#include "node/housekeeping.h"
#include "node/serve.h"
#include "node/settings.h"
#include "crl/publish.h"
#include "node/webhook.h"
#include "crl/set.h"
#include "common/conf.h"
#include "common/rtime.h"
#include "ocsp/gen.h"
#include "ocsp/table.h"
#include "shard/metrics.h"
#include "shard/server.h"

/* The refresher signs, in one pass, every response due within
 * REFRESH_SLACK_S, as many as take about REFRESH_PASS_S to sign (measured
 * on the last pass; REFRESH_BATCH_MIN to REFRESH_BATCH certificates), and
 * looks again at least every REFRESH_IDLE_S. */
#define REFRESH_SLACK_S 10
#define REFRESH_PASS_S 0.1
#define REFRESH_BATCH_MIN 16
#define REFRESH_BATCH 4096
#define REFRESH_IDLE_S 60
#define REFRESH_RETRY_S 10

/* Overlays are folded into their base (bytes copied, nothing re-signed)
 * once they pass max(OVERLAY_FOLD_MIN, min(base / 8, OVERLAY_FOLD_MAX)):
 * every publication copies the overlay, so it stays small. */
#define OVERLAY_FOLD_MIN 1024
#define OVERLAY_FOLD_MAX 16384

struct serve_state {
    struct ca_core *core;
    struct server *srv;
    struct lane *lane;
    struct crlpub *crl;
    const struct gen *gen; /* the last published: read-only here, freed by the server */
    int64_t validity;
    int64_t next_scan; /* when the refresher looks again */
    int64_t next_sweep; /* the earliest full generation that drops responses run out (collect) */
    uint64_t lane_epoch; /* ca_responder_epoch when the lane last took the responders */
    size_t refresh_batch;
    uint64_t refreshed, refresh_failures, publish_failures;
    /* Changes whose publication failed, retried from retry_at. */
    struct ca_change *pending;
    size_t npending;
    int pending_full;
    int64_t retry_at;
    /* The settings, and what reading them again needs (SIGHUP). */
    const char *dir, *config_path;
    int argc;
    char **argv;
    struct settings opts;
    struct conf *conf;
    char *listen; /* opts.cfg.listen, kept across reloads */
    struct conf **old_confs; /* settings files read before the last reload (their strings may be in use) */
    size_t n_old_confs;
    struct admin *admin;
    struct webhook *webhook;
    struct housekeeping hk; /* purges, expiry events, scheduled reports */
};

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A generation with the responses of changes[0..n) re-signed into their
 * CA's overlay (*signed_count, when not NULL: how many certificates were).
 * NULL (e set) on failure. */
static struct gen *apply_changes(struct serve_state *st, const struct ca_change *ch, size_t n, size_t *signed_count,
                                 struct rerr *e) {
    if (signed_count != NULL) *signed_count = 0;
    struct gen *g = gen_clone(st->gen);
    if (g == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < g->num; i++) {
        struct gen_ca *gc = &g->cas[i];
        size_t k = 0;
        while (k < n && strcmp(ch[k].ca, gc->name) != 0) k++;
        if (k == n) continue; /* no change for this CA */
        struct ocsp_table *over;
        size_t done = 0;
        if (!ca_ocsp_overlay(st->core, gc->name, gc->overlay, ch, n, st->validity, &over, &done, e)) {
            gen_free(g);
            return NULL;
        }
        if (signed_count != NULL) *signed_count += done;
        ocsp_table_free(gc->overlay);
        gc->overlay = over;
        size_t fold = ocsp_table_count(gc->table) / 8;
        if (fold > OVERLAY_FOLD_MAX) fold = OVERLAY_FOLD_MAX;
        if (fold < OVERLAY_FOLD_MIN) fold = OVERLAY_FOLD_MIN;
        if (ocsp_table_count(over) > fold) {
            struct ocsp_table *merged = ocsp_table_merge(gc->table, over);
            if (merged != NULL) {
                ocsp_table_free(gc->table);
                ocsp_table_free(gc->overlay);
                gc->table = merged;
                gc->overlay = NULL;
            }
        }
    }
    return g;
}

/* A generation for what changed (a command, a responder rotated while
 * signing) plus what an earlier failure left pending: the certificates
 * whose status changed get their responses re-signed into their CA's
 * overlay; a new CA or a bulk import rebuilds every table (stored
 * responses reused). NULL on failure, with the changes kept pending for
 * the next try (e set); *none when nothing changed. */
static struct gen *next_gen(struct serve_state *st, int *none, struct rerr *e) {
    struct ca_change *ch;
    size_t n;
    *none = 0;
    int full = ca_take_changes(st->core, &ch, &n) || st->pending_full;
    if (st->npending > 0) { /* the pending ones first, in their order */
        struct ca_change *all = malloc((st->npending + n + 1) * sizeof(*all));
        if (all == NULL) {
            free(ch);
            st->pending_full = 1; /* out of memory: rebuild everything later */
            rerr_set(e, "out of memory");
            return NULL;
        }
        memcpy(all, st->pending, st->npending * sizeof(*all));
        if (n > 0) memcpy(all + st->npending, ch, n * sizeof(*all));
        n += st->npending;
        free(ch);
        free(st->pending);
        ch = all;
        st->pending = NULL;
        st->npending = 0;
    }
    st->pending_full = 0;
    if (st->crl != NULL) {
        if (full) crlpub_changed_all(st->crl);
        else crlpub_changed(st->crl, ch, n);
    }
    struct gen *g = NULL;
    if (!full && n == 0) {
        *none = 1;
        free(ch);
        return NULL;
    }
    if (full ? ca_ocsp_gen(st->core, st->validity, &g, NULL, e) : (g = apply_changes(st, ch, n, NULL, e)) != NULL) {
        free(ch);
        if (full && st->crl != NULL) g->crls = crl_set_ref(crlpub_set(st->crl));
        return g;
    }
    /* Kept for the next try: a revocation is never left unpublished. */
    st->pending_full = full;
    st->pending = full ? NULL : ch;
    st->npending = full ? 0 : n;
    if (full) free(ch);
    st->retry_at = rtime_now() + REFRESH_RETRY_S;
    return NULL;
}

/* The signing lane takes every CA's current responder again. */
static void lane_refresh(struct serve_state *st) {
    struct rerr e;
    if (st->lane == NULL) return;
    if (lane_update(st->lane, st->core, &e)) st->lane_epoch = ca_responder_epoch(st->core);
    else rlog(LOG_WARN, "lane.update_failed", "the signing lane keeps its previous CAs: %s", e.msg);
}

static void publish(struct serve_state *st, struct gen *g) {
    server_publish(st->srv, g);
    st->gen = g;
    struct metrics_core *m = server_core_metrics(st->srv);
    metrics_add(&m->publications, 1);
    uint64_t certs = 0;
    for (size_t i = 0; i < g->num; i++) certs += ocsp_table_count(g->cas[i].table);
    atomic_store_explicit(&m->responses, certs, memory_order_relaxed);
    lane_refresh(st);
}

/* The publisher's CRLs, to every shard at once (the OCSP tables as they are). */
static void publish_crls(struct serve_state *st) {
    struct gen *g = gen_clone(st->gen);
    if (g == NULL) return; /* out of memory: the next change publishes them */
    crl_set_free(g->crls);
    g->crls = crl_set_ref(crlpub_set(st->crl));
    publish(st, g);
}

/* Publishes what changed; says so when that fails (what failed stays
 * pending and is retried by the refresher). */
static void publish_changes(struct serve_state *st, const char *after) {
    struct rerr e;
    int none;
    /* A responder replaced (one revoked): the lane stops signing with the
     * old one now, not after the full generation that follows. */
    if (st->lane != NULL && ca_responder_epoch(st->core) != st->lane_epoch) lane_refresh(st);
    struct gen *g = next_gen(st, &none, &e);
    if (st->srv != NULL)
        atomic_store_explicit(&server_core_metrics(st->srv)->sign_queue, st->pending_full ? 1 : st->npending,
                              memory_order_relaxed);
    if (none) return;
    if (g == NULL) {
        st->publish_failures++;
        metrics_add(&server_core_metrics(st->srv)->publish_failures, 1);
        rlog(LOG_WARN, "ocsp.publish_failed", "re-signing after %s failed (retrying in %d s), still serving the previous responses: %s",
                after, REFRESH_RETRY_S, e.msg);
        return;
    }
    publish(st, g);
}

/* The admin API changed something: the shards get it before the answer. */
static void admin_changed(void *arg, const char *what) {
    struct serve_state *st = arg;
    if (st->srv != NULL) publish_changes(st, what);
}

static void admin_crl_rebuild(void *arg) {
    struct serve_state *st = arg;
    if (st->crl != NULL) crlpub_changed_all(st->crl);
}

/* After a command made through the socket, and before its client hears
 * back, the shards get what it changed. */
static void after_command(void *arg, int argc, char **argv, int status) {
    struct serve_state *st = arg;
    if (st->srv == NULL) return;
    char what[64];
    snprintf(what, sizeof(what), "'%s'", argc > 0 ? argv[0] : "?");
    struct metrics_core *m = server_core_metrics(st->srv);
    uint64_t before = atomic_load_explicit(&m->publications, memory_order_relaxed);
    publish_changes(st, what);
    /* `revd crl rebuild` wrote new CRL files: the shards serve those bytes
     * before its client hears back. */
    if (status == 0 && argc >= 2 && strcmp(argv[0], "crl") == 0 && strcmp(argv[1], "rebuild") == 0 &&
        st->crl != NULL && crlpub_adopt_files(st->crl))
        publish_crls(st);
    if (atomic_load_explicit(&m->publications, memory_order_relaxed) != before)
        metrics_observe(&m->revoke_ocsp, MHK_US, (uint64_t)((rtime_mono() - ctl_command_started()) * 1e6));
}

struct due {
    struct ca_change *list;
    size_t n, max;
    int64_t by, next; /* take what is due by `by`; next: the earliest of the rest */
    int64_t now;
    int64_t min_window; /* refresh_min_window */
    size_t ran_out; /* responses past their nextUpdate: left to a full generation */
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
         * leaves expired certificates out, drops it (refresh_tick). */
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

/* The refresher: between commands, publishes what is pending, then
 * re-signs the responses that are due, in passes sized to take about
 * REFRESH_PASS_S each (whatever the key type). */
static int refresh_tick(void *arg) {
    struct serve_state *st = arg;
    if (st->srv == NULL) return 1000;
    server_reclaim(st->srv);
    int64_t now = rtime_now();
    if (now >= st->retry_at) publish_changes(st, "a background change");
    int wait = 1000;
    if (st->crl != NULL && crlpub_tick(st->crl, &wait)) publish_crls(st);
    if (now < st->next_scan) return wait;
    struct due d = {malloc(st->refresh_batch * sizeof(struct ca_change)), 0, st->refresh_batch, now + REFRESH_SLACK_S,
                    now + REFRESH_IDLE_S, now, refresh_min_window(st->opts.backdate), 0};
    if (d.list == NULL) {
        st->next_scan = now + REFRESH_RETRY_S;
        return 1000;
    }
    for (size_t i = 0; i < st->gen->num; i++) {
        const struct gen_ca *gc = &st->gen->cas[i];
        collect(&d, gc->name, gc->overlay, NULL);
        collect(&d, gc->name, gc->table, gc->overlay);
    }
    /* Responses of expired certificates: swept by a full generation (stored
     * responses reused), at most once an hour. */
    if (d.ran_out > 0 && now >= st->next_sweep) {
        st->next_sweep = now + 3600;
        st->pending_full = 1;
        st->retry_at = now;
    }
    int more = d.n == d.max;
    if (d.n > 0) {
        struct rerr e;
        size_t done = 0;
        double t0 = mono();
        struct gen *g = apply_changes(st, d.list, d.n, &done, &e);
        double dt = mono() - t0;
        if (g == NULL) {
            st->refresh_failures++;
            rlog(LOG_WARN, "ocsp.refresh_failed", "refreshing %zu responses failed (retrying in %d s): %s", d.n, REFRESH_RETRY_S,
                    e.msg);
            free(d.list);
            st->next_scan = now + REFRESH_RETRY_S;
            return 1000;
        }
        publish(st, g);
        st->refreshed += done;
        metrics_add(&server_core_metrics(st->srv)->refreshed, done);
        /* Next pass: about REFRESH_PASS_S of signing. */
        if (done > 0) {
            double per = dt / (double)done, want = REFRESH_PASS_S / (per > 1e-7 ? per : 1e-7);
            st->refresh_batch = want < REFRESH_BATCH_MIN ? REFRESH_BATCH_MIN
                                : want > REFRESH_BATCH   ? REFRESH_BATCH
                                                         : (size_t)want;
        }
        if (done < d.n) { /* records missing or damaged: never busy-loop on them */
            st->refresh_failures++;
            rlog(LOG_WARN, "ocsp.refresh_incomplete", "%zu of %zu due responses could not be re-signed (their index records are "
                            "missing or damaged); looking again in %d s\n", d.n - done, d.n, REFRESH_RETRY_S);
            free(d.list);
            st->next_scan = now + REFRESH_RETRY_S;
            return 1000;
        }
        if (more) rlog(LOG_INFO, "ocsp.refresh_progress", "refreshed %zu responses (%llu so far), more are due", d.n,
                          (unsigned long long)st->refreshed);
    }
    free(d.list);
    if (more) {
        st->next_scan = now;
        return 0;
    }
    st->next_scan = d.next - REFRESH_SLACK_S > now ? d.next - REFRESH_SLACK_S : now + 1;
    return wait;
}

/* libevent's own messages ("Error from accept() call: Too many open
 * files", ...) go through the running log, in its format and within its
 * rate, never straight to stderr. Any thread (rlog locks). */
static void libevent_log(int severity, const char *msg) {
    if (severity == EVENT_LOG_ERR) rlog(LOG_ERR, "libevent.error", "libevent: %s", msg);
    else if (severity == EVENT_LOG_WARN) rlog(LOG_WARN, "libevent.warn", "libevent: %s", msg);
    else rlog(LOG_INFO, "libevent.info", "libevent: %s", msg);
}

/* Descriptors besides the connections: RocksDB's files, the control
 * socket, the CRL files, the listeners, webhooks. */
#define FD_BASELINE 512

/* fd_budget says when the open-file limit (its soft limit already raised
 * to the hard one) is below what the connection caps can take: every
 * shard's, with its closing slack, the admin API's, and the reserve. A
 * flood on the public port could then take the descriptors the control
 * socket and the index need (the shards and the admin listener back off
 * on EMFILE, but keep what they hold). */
static void fd_budget(int threads, int admin_conns, int reserve) {
    rlim_t need = (rlim_t)threads * (SERVER_MAX_CONNS_PER_SHARD + 256) + (rlim_t)admin_conns + (rlim_t)reserve +
                  FD_BASELINE;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
        rlog(LOG_WARN, "serve.fd_limit", "the open-file limit is %llu, below the %llu that %d shards of %d connections, "
             "the admin API and the reserve can take: raise it (LimitNOFILE= in the systemd unit, ulimit -n) or "
             "lower --threads", (unsigned long long)rl.rlim_cur, (unsigned long long)need, threads,
             SERVER_MAX_CONNS_PER_SHARD);
}

static void key_problem(void *arg, const char *msg) { rlog(LOG_WARN, "reload.key_refused", "reload: %s", msg); }

/* warn_restart says which of the shards' start-only settings n changes
 * (listen, threads, io, unknown, metrics-allow, sign-rate to or from 0). */
static void warn_restart(const struct serve_state *st, const struct settings *n) {
    const struct settings *o = &st->opts;
    char fixed[256] = "";
    if (st->srv != NULL) {
        const char *l0 = st->listen ? st->listen : "", *l1 = n->cfg.listen ? n->cfg.listen : "";
        if (strcmp(l0, l1) != 0) strcat(fixed, " listen");
        if (n->cfg.threads != 0 && n->cfg.threads != o->cfg.threads) strcat(fixed, " threads");
        if (n->cfg.io != o->cfg.io) strcat(fixed, " io");
        if (n->cfg.lane.unknown_signed != o->cfg.lane.unknown_signed) strcat(fixed, " unknown");
        if (n->cfg.num_metrics_allow != o->cfg.num_metrics_allow ||
            memcmp(n->cfg.metrics_allow, o->cfg.metrics_allow, n->cfg.num_metrics_allow * sizeof(struct cidr)) != 0)
            strcat(fixed, " metrics-allow");
        if ((n->cfg.lane.rate == 0) != (o->cfg.lane.rate == 0)) strcat(fixed, " sign-rate(0)");
    }
    if (fixed[0] != '\0')
        rlog(LOG_WARN, "reload.needs_restart", "reload: changed, but applied only at the next start:%s", fixed);
}

/* SIGHUP: the configuration read again and the settings a running server
 * can change applied; the CA keys re-read. A bad file changes nothing. */
static void reload(struct serve_state *st) {
    struct rerr e0;
    struct settings n;
    struct conf *conf;
    int r = settings_load(st->dir, st->config_path, st->argc, st->argv, &n, &conf, NULL);
    if (r != 1) {
        rlog(LOG_WARN, "reload.refused", "reload refused: the running settings stay");
        conf_free(conf);
        return;
    }
    const struct settings *o = &st->opts;
    warn_restart(st, &n);
    /* What a running server changes now: the settings marked
     * SETTINGS_LIVE in node/settings.c, then the SETTINGS_OWN ones. */
    settings_copy_live(&st->opts, &n);
    if (o->cfg.lane.rate != 0 && n.cfg.lane.rate != 0) st->opts.cfg.lane.rate = n.cfg.lane.rate;
    if (st->srv != NULL && n.validity != o->validity) {
        /* A new --validity takes effect at once: a full generation signs
         * again every response valid for longer (it reuses only those
         * within the bound); when it grows, the shorter ones stay until
         * their refresh. */
        rlog(LOG_INFO, "reload.validity", "reload: responses are now valid for %lld s (were %lld s): re-signing them",
             (long long)n.validity, (long long)o->validity);
        st->validity = n.validity;
        st->opts.validity = n.validity;
        st->pending_full = 1;
        st->retry_at = 0;
    }
    if (st->srv != NULL && n.backdate != o->backdate) { /* the next responses signed */
        st->opts.backdate = n.backdate;
        ca_ocsp_set_backdate(st->core, n.backdate);
    }
    if (st->lane != NULL) lane_set_times(st->lane, st->opts.validity, st->opts.backdate);
    if ((n.report_dir == NULL) != (o->report_dir == NULL) || n.report_every != o->report_every)
        rlog(LOG_WARN, "reload.needs_restart", "reload: the report settings change at the next start");
    log_set_format(n.log_format);
    /* The events file is opened again (after a rotation, or a new path). */
    char before[PATH_MAX], after[PATH_MAX];
    ca_events_path(st->core, before, sizeof(before));
    ca_events_set_path(st->core, n.events_file); /* copied */
    ca_events_path(st->core, after, sizeof(after));
    if (st->webhook != NULL && strcmp(before, after) != 0)
        rlog(LOG_WARN, "reload.needs_restart", "reload: the webhooks follow %s until the next start", before);
    /* The running settings may point into the files read before (strings
     * such as report-dir): every file read stays until the server stops. */
    if (conf != NULL) {
        struct conf **grown = realloc(st->old_confs, (st->n_old_confs + 1) * sizeof(*grown));
        if (grown != NULL) {
            grown[st->n_old_confs++] = st->conf;
            st->old_confs = grown;
            st->conf = conf;
        } else {
            conf_free(conf); /* out of memory: keep the old file; n's strings are not used below */
        }
    }
    if (st->srv != NULL) {
        server_set_live(st->srv, &st->opts.cfg);
        atomic_store_explicit(&server_core_metrics(st->srv)->reloaded_at, rtime_now(), memory_order_relaxed);
    }
    if (st->crl != NULL) crlpub_set_timing(st->crl, st->opts.crl_validity, st->opts.crl_coalesce_ms);
    if (n.require_approval != o->require_approval || (n.admin_listen == NULL) != (st->admin == NULL))
        rlog(LOG_WARN, "reload.needs_restart", "reload: admin-listen and require-approval change at the next start");
    if ((n.webhook_url == NULL) != (st->webhook == NULL))
        rlog(LOG_WARN, "reload.needs_restart", "reload: the webhook settings change at the next start");
    if (st->admin != NULL) admin_set_limits(st->admin, &st->opts.admin_limits);
    if (st->admin != NULL && !admin_reload_cert(st->admin, &e0))
        rlog(LOG_WARN, "reload.admin_cert_failed", "reload: the admin API keeps its certificate: %s", e0.msg);
    size_t keys = ca_reload_keys(st->core, key_problem, NULL);
    lane_refresh(st);
    rlog(LOG_INFO, "reload.done", "reloaded the configuration%s%s and %zu CA keys", conf ? " from " : "",
            conf ? conf->path : " (no settings file: the defaults and the command line)", keys);
}

static int serve_tick(void *arg) {
    struct serve_state *st = arg;
    if (ctl_take_hup()) reload(st);
    housekeeping_tick(&st->hk, &st->opts);
    return refresh_tick(arg);
}

/* raise_nofile: up to SERVER_MAX_CONNS_PER_SHARD connections per shard,
 * so the soft descriptor limit (often 1024) is raised to the hard one. */
static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* open_core opens DIR's CA core with the key passphrase of the
 * environment. 1, or 0 (said). */
static int open_core(struct serve_state *st) {
    struct rerr e;
    if (!ca_core_open(st->dir, 0, &st->core, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 0;
    }
    if (!env_passphrase(st->core, &e)) {
        fprintf(stderr, "revd: %s\n", e.msg);
        ca_core_free(st->core);
        st->core = NULL;
        return 0;
    }
    ca_set_actor(st->core, "revd serve", "internal");
    ca_events_set_path(st->core, st->opts.events_file);
    return 1;
}

/* start_ocsp starts what --listen serves: the CRL publisher, the first
 * generation, the signing lane and the shards. 1, or 0 (said; what it
 * started is stopped, the core left open). */
static int start_ocsp(struct serve_state *st) {
    struct server_config cfg = st->opts.cfg;
    /* The shards, which serve the public, leave a quarter of what the admin
     * API leaves (at least 16): under a flood of the admin port OCSP still
     * has room, and under either the control socket has some. */
    cfg.fd_reserve = st->opts.admin_limits.fd_reserve / 4 > 16 ? st->opts.admin_limits.fd_reserve / 4 : 16;
    int64_t validity = st->opts.validity;
    struct rerr e;
    struct gen *g;
    struct ca_change *ch;
    size_t n;
    ca_take_changes(st->core, &ch, &n); /* what opening did is in the first generation */
    free(ch);
    struct ca_precompute_stats ps;
    if (cfg.threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
    }
    fd_budget(cfg.threads, st->opts.admin_listen != NULL ? st->opts.admin_limits.max_conns : 0,
              st->opts.admin_limits.fd_reserve);
    /* Tables are built and refresh passes signed on as many threads as
     * there are shards (each with its own responder copy). */
    ca_ocsp_set_threads(st->core, cfg.threads);
    ca_ocsp_set_backdate(st->core, st->opts.backdate);
    if ((st->crl = crlpub_new(st->core, st->opts.crl_validity, st->opts.crl_coalesce_ms, &e)) == NULL ||
        !ca_ocsp_gen(st->core, validity, &g, &ps, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        crlpub_free(st->crl);
        st->crl = NULL;
        return 0;
    }
    g->crls = crl_set_ref(crlpub_set(st->crl));
    if (cfg.lane.rate > 0) {
        st->lane = lane_new(st->core, cfg.threads, validity, cfg.lane.unknown_signed, &e);
        if (st->lane == NULL) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            gen_free(g);
            crlpub_free(st->crl);
            st->crl = NULL;
            return 0;
        }
        st->lane_epoch = ca_responder_epoch(st->core);
        cfg.lane.submit = lane_submit;
        cfg.lane.arg = st->lane;
    }
    if ((st->srv = server_start(&cfg, g, &e)) == NULL || (st->lane && !lane_start(st->lane, server_job_done, st->srv, &e))) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        lane_stop(st->lane);
        server_stop(st->srv);
        lane_free(st->lane);
        crlpub_free(st->crl);
        st->srv = NULL, st->lane = NULL, st->crl = NULL;
        return 0;
    }
    st->gen = g;
    struct metrics_core *m = server_core_metrics(st->srv);
    crlpub_set_metrics(st->crl, m);
    struct crlpub_stats cs0;
    crlpub_stats(st->crl, &cs0);
    metrics_add(&m->crl_builds, cs0.built);
    atomic_store_explicit(&m->responses, ps.certificates, memory_order_relaxed);
    atomic_store_explicit(&m->reloaded_at, rtime_now(), memory_order_relaxed);
    /* Responders created while building it are in it already. */
    ca_take_changes(st->core, &ch, &n);
    free(ch);
    rlog(LOG_INFO, "ocsp.ready", "responses for %llu certificates: %llu reused from the index, %llu responses signed (%.2f s)",
         (unsigned long long)ps.certificates, (unsigned long long)ps.reused, (unsigned long long)ps.responses,
         ps.seconds);
    rlog(LOG_INFO, "ocsp.listening", "answering OCSP on http://%s (%d shards, %s)", cfg.listen, cfg.threads,
         server_io_name(st->srv));
    st->opts.cfg.threads = cfg.threads;
    return 1;
}

/* start_admin starts the admin API on base when admin-listen is set. 1, or 0 (said). */
static int start_admin(struct serve_state *st, struct event_base *base) {
    const struct settings *o = &st->opts;
    if (o->admin_listen == NULL) return 1;
    struct rerr e;
    struct admin_hooks hooks = {admin_changed, admin_crl_rebuild, st};
    st->admin = admin_start(base, st->core, o->admin_listen, o->require_approval, &o->admin_limits, &hooks, &e);
    if (st->admin == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 0;
    }
    rlog(LOG_INFO, "admin.listening", "admin API on https://%s%s", o->admin_listen,
         o->require_approval ? " (a second admin approves " ADMIN_APPROVAL_SUMMARY ")" : "");
    return 1;
}

/* start_webhook starts the webhook thread when webhook-url is set. 1, or 0 (said). */
static int start_webhook(struct serve_state *st) {
    const struct settings *o = &st->opts;
    if (o->webhook_url == NULL) return 1;
    struct rerr e;
    char events[PATH_MAX];
    ca_events_path(st->core, events, sizeof(events));
    struct webhook_config wc = {o->webhook_url, o->webhook_ca, events, st->dir, o->webhook_timeout,
                                o->webhook_min_severity};
    st->webhook = webhook_start(&wc, &e);
    if (st->webhook == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 0;
    }
    rlog(LOG_INFO, "webhook.started", "events of severity %d and up are POSTed to %s", o->webhook_min_severity,
         o->webhook_url);
    return 1;
}

/* stop_admin_webhook stops the admin API and the webhooks, with their counts. */
static void stop_admin_webhook(struct serve_state *st) {
    if (st->admin != NULL) {
        struct admin_stats as;
        admin_stats(st->admin, &as);
        rlog(LOG_INFO, "admin.stats", "admin API: connections refused: %llu past admin-max-conns-per-source, %llu past "
             "the descriptor reserve; %llu closed at a deadline; %llu failed accepts",
             as.refused_source, as.refused_fds, as.deadline_closed, as.accept_failures);
    }
    admin_free(st->admin);
    st->admin = NULL;
    if (st->webhook != NULL) {
        uint64_t sent, failed;
        webhook_stats(st->webhook, &sent, &failed);
        webhook_stop(st->webhook);
        st->webhook = NULL;
        rlog(LOG_INFO, "webhook.stats", "webhooks: %llu events delivered, %llu failed attempts", (unsigned long long)sent,
                (unsigned long long)failed);
    }
}

/* stop_ocsp drains and stops the shards, the lane and the CRL publisher,
 * with their counts. */
static void stop_ocsp(struct serve_state *st) {
    /* Drain: no new connection; what is in progress is answered. The lane
     * keeps running meanwhile (a connection may wait on it). */
    if (st->srv != NULL) {
        int left = server_drain(st->srv, st->opts.drain_timeout * 1000);
        if (left) rlog(LOG_WARN, "serve.drained", "drained the connections: %d still open after %d s, closed", left,
                       st->opts.drain_timeout);
        else rlog(LOG_INFO, "serve.drained", "drained the connections");
    }
    /* The lane first: it hands answers to the shards. */
    lane_stop(st->lane);
    if (st->srv != NULL) {
        struct server_stats ss;
        server_stats(st->srv, &ss);
        rlog(LOG_INFO, "serve.stats",
                "served %llu requests (%llu malformed), refused %llu connections; signing lane: %llu signed,"
                " %llu answered without it; %llu tryLater past nextUpdate; %llu responses refreshed",
                (unsigned long long)ss.requests, (unsigned long long)ss.bad_requests,
                (unsigned long long)ss.refused_conns, (unsigned long long)(st->lane ? lane_signed(st->lane) : 0),
                (unsigned long long)ss.lane_fallbacks, (unsigned long long)ss.expired,
                (unsigned long long)st->refreshed);
    }
    server_stop(st->srv);
    lane_free(st->lane);
    if (st->crl != NULL) {
        struct crlpub_stats cs;
        crlpub_stats(st->crl, &cs);
        rlog(LOG_INFO, "crl.stats", "CRLs: %llu built, %llu taken back at start, %llu failed builds",
                (unsigned long long)cs.built, (unsigned long long)cs.reused, (unsigned long long)cs.failures);
    }
    crlpub_free(st->crl);
    st->srv = NULL, st->lane = NULL, st->crl = NULL;
}

/* free_state frees what the state still holds: the core and the settings files. */
static void free_state(struct serve_state *st) {
    free(st->pending);
    ca_core_free(st->core);
    conf_free(st->conf);
    for (size_t i = 0; i < st->n_old_confs; i++) conf_free(st->old_confs[i]);
    free(st->old_confs);
    free(st->listen);
}

int serve_run(const char *dir, int argc, char **argv) {
    struct serve_state st = {.refresh_batch = 256, .dir = dir, .argc = argc, .argv = argv};
    st.config_path = settings_config_path(argc, argv);
    int lr = settings_load(dir, st.config_path, argc, argv, &st.opts, &st.conf, stderr);
    if (lr != 1) {
        conf_free(st.conf);
        return lr == 2 ? 2 : 1;
    }
    log_set_format(st.opts.log_format);
    event_set_log_callback(libevent_log);
    raise_nofile();
    st.validity = st.opts.validity;
    if (!open_core(&st)) {
        free_state(&st);
        return 1;
    }
    st.hk = (struct housekeeping){.core = st.core, .dir = dir};
    if (st.opts.cfg.listen != NULL && !start_ocsp(&st)) {
        free_state(&st);
        return 1;
    }
    st.listen = st.opts.cfg.listen ? strdup(st.opts.cfg.listen) : NULL;
    st.opts.cfg.listen = st.listen;
    struct event_base *base = event_base_new();
    if (base == NULL) rlog(LOG_ERR, "serve.start_failed", "cannot make the control loop");
    int rc = base != NULL && start_admin(&st, base) && start_webhook(&st) ? 0 : 1;
    if (rc == 0) rc = ctl_serve(st.core, dir, stderr, after_command, serve_tick, &st, base);
    stop_admin_webhook(&st);
    stop_ocsp(&st);
    free_state(&st);
    if (base != NULL) event_base_free(base);
    return rc;
}
