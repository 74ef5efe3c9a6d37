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
#include "node/acmehttp.h"
#include "node/admin.h"
#include "node/cpus.h"
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
#include "ocsp/precompute.h"
#include "ocsp/publish.h"
#include "ocsp/response.h"
#include "ocsp/table.h"
#include "shard/metrics.h"
#include "shard/server.h"
#include "ocsp/answer.h"
#include "ocsp/reader.h"
#include "crl/handler.h"
#include "feed/pub.h"
#include "ca/view.h"

/* What the shards' handlers read, published into these slots
 * (server_publish): the OCSP generation (ocsp/answer.h) and the CRL set
 * (crl/handler.h). */
enum { SERVE_SLOT_GEN, SERVE_SLOT_CRLS };

struct serve_state {
    struct ca_core *core;
    struct server *srv;
    struct lane *lane;
    struct reader *reader; /* the stores' readers (ocsp/reader.h) */
    struct crl_publisher *crl;
    struct ocsp_publisher *pub; /* the OCSP publisher (ocsp/publish.h); NULL without --listen */
    struct ocsp_answer *ans;    /* the OCSP handler (ocsp/answer.h); NULL without --listen */
    struct feed_pub *feed;      /* the NATS feed (feed/pub.h); NULL without --nats */
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
    struct acmehttp *acme;  /* the ACME server; NULL without --acme-listen */
    struct webhook *webhook;
    struct housekeeping hk; /* purges, expiry events, scheduled reports */
    struct cpus_plan cpus;  /* where the threads run (shard-cpus, work-cpus), made at start */
};

/* The publisher's new generation, to every shard (ocsp_publish_hooks). A
 * full generation gets the current CRLs. */
static void serve_gen(void *arg, struct gen *g, int fresh) {
    struct serve_state *st = arg;
    (void)fresh; /* the CRLs have their own slot (publish_crls) */
    if (st->feed != NULL) feed_pub_gen(st->feed, g);
    server_publish(st->srv, SERVE_SLOT_GEN, g, ocsp_answer_free_gen);
}

/* What the OCSP publisher takes in, to the CRL publisher too. */
static void serve_changed(void *arg, int full, const struct ca_change *ch, size_t n) {
    struct serve_state *st = arg;
    if (st->crl == NULL) return;
    if (full) crl_publish_changed_all(st->crl);
    else crl_publish_changed(st->crl, ch, n);
}

/* The publisher's CRLs, to every shard at once (the OCSP tables as they are). */
static void publish_crls(struct serve_state *st) {
    server_publish(st->srv, SERVE_SLOT_CRLS, crl_set_ref(crl_publish_set(st->crl)), crl_handler_free_set);
    if (st->feed != NULL) feed_pub_crls(st->feed, crl_publish_set(st->crl), ocsp_publish_current(st->pub));
    /* A publication as before (counted, the lane refreshed), of the same tables. */
    struct gen *g = gen_clone(ocsp_publish_current(st->pub));
    if (g == NULL) return;
    ocsp_publish_gen(st->pub, g);
}

/* Publishes what changed; says so when that fails (what failed stays
 * pending and is retried by the refresher). */
static void publish_changes(struct serve_state *st, const char *after) {
    ocsp_publish_changes(st->pub, after);
}

/* The admin API changed something: the shards get it before the answer. */
static void admin_changed(void *arg, const char *what) {
    struct serve_state *st = arg;
    if (st->srv != NULL) publish_changes(st, what);
}

static void admin_crl_rebuild(void *arg) {
    struct serve_state *st = arg;
    if (st->crl != NULL) crl_publish_rebuild_all(st->crl);
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
        st->crl != NULL && crl_publish_adopt_files(st->crl))
        publish_crls(st);
    if (atomic_load_explicit(&m->publications, memory_order_relaxed) != before)
        metrics_observe(&m->revoke_ocsp, MHK_US, (uint64_t)((rtime_mono() - ctl_command_started()) * 1e6));
}

/* The refresher: between commands, publishes what is pending, then
 * re-signs the responses that are due (ocsp_publish_refresh). */
static int refresh_tick(void *arg) {
    struct serve_state *st = arg;
    if (st->srv == NULL) return 1000;
    server_reclaim(st->srv);
    int64_t now = rtime_now();
    if (ocsp_publish_retry_due(st->pub, now)) publish_changes(st, "a background change");
    int wait = 1000;
    if (st->crl != NULL && crl_publish_tick(st->crl, &wait)) publish_crls(st);
    if (st->feed != NULL) {
        int fw = feed_pub_tick(st->feed, ca_view_changes_last(st->core));
        if (fw < wait) wait = fw;
    }
    return ocsp_publish_refresh(st->pub, now, wait);
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
        if (n->ocsp.unknown_signed != o->ocsp.unknown_signed) strcat(fixed, " unknown");
        if (n->cfg.num_metrics_allow != o->cfg.num_metrics_allow ||
            memcmp(n->cfg.metrics_allow, o->cfg.metrics_allow, n->cfg.num_metrics_allow * sizeof(struct cidr)) != 0)
            strcat(fixed, " metrics-allow");
        if ((n->ocsp.rate == 0) != (o->ocsp.rate == 0)) strcat(fixed, " sign-rate(0)");
        if (strcmp(n->shard_cpus, o->shard_cpus) != 0) strcat(fixed, " shard-cpus");
        if (strcmp(n->work_cpus, o->work_cpus) != 0) strcat(fixed, " work-cpus");
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
    if (o->ocsp.rate != 0 && n.ocsp.rate != 0) st->opts.ocsp.rate = n.ocsp.rate;
    if (st->srv != NULL && n.validity != o->validity) {
        /* A new --validity takes effect at once: a full generation signs
         * again every response valid for longer (it reuses only those
         * within the bound); when it grows, the shorter ones stay until
         * their refresh. */
        rlog(LOG_INFO, "reload.validity", "reload: responses are now valid for %lld s (were %lld s): re-signing them",
             (long long)n.validity, (long long)o->validity);
        st->opts.validity = n.validity;
        ocsp_publish_set_validity(st->pub, n.validity);
    }
    if (st->srv != NULL && n.backdate != o->backdate) { /* the next responses signed */
        st->opts.backdate = n.backdate;
        ca_ocsp_set_backdate(st->core, n.backdate);
        ocsp_publish_set_backdate(st->pub, n.backdate);
        if (st->feed != NULL) feed_pub_set_backdate(st->feed, n.backdate);
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
        ocsp_answer_set_live(st->ans, &st->opts.ocsp);
        atomic_store_explicit(&server_core_metrics(st->srv)->reloaded_at, rtime_now(), memory_order_relaxed);
    }
    if (st->crl != NULL) crl_publish_set_timing(st->crl, st->opts.crl_validity, st->opts.crl_coalesce_ms);
    if (n.require_approval != o->require_approval || (n.admin_listen == NULL) != (st->admin == NULL))
        rlog(LOG_WARN, "reload.needs_restart", "reload: admin-listen and require-approval change at the next start");
    if ((n.webhook_url == NULL) != (st->webhook == NULL))
        rlog(LOG_WARN, "reload.needs_restart", "reload: the webhook settings change at the next start");
    if (st->admin != NULL) admin_set_limits(st->admin, &st->opts.admin_limits);
    if (st->admin != NULL && !admin_reload_cert(st->admin, &e0))
        rlog(LOG_WARN, "reload.admin_cert_failed", "reload: the admin API keeps its certificate: %s", e0.msg);
    if (st->acme != NULL && !acmehttp_reload_cert(st->acme, &e0))
        rlog(LOG_WARN, "reload.acme_cert_failed", "reload: the ACME server keeps its certificate: %s", e0.msg);
    size_t keys = ca_reload_keys(st->core, key_problem, NULL);
    ocsp_publish_lane_refresh(st->pub);
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

/* start_shards registers the handlers (shard/route.h: the issuers'
 * certificates and OCSP, then the CRLs), puts g and the CRL set in their
 * slots and starts the shards, then the signing lane when there is one.
 * 1, or 0 with e set (g and the set freed; the caller stops what started). */
static int start_shards(struct serve_state *st, struct server_config *cfg, struct gen *g, struct rerr *e) {
    st->ans = ocsp_answer_new(cfg->threads, SERVE_SLOT_GEN, &st->opts.ocsp, st->lane ? lane_submit : NULL, st->lane, e);
    struct server_slot slots[SERVER_SLOTS] = {[SERVE_SLOT_GEN] = {g, ocsp_answer_free_gen},
                                              [SERVE_SLOT_CRLS] = {crl_set_ref(crl_publish_set(st->crl)),
                                                                   crl_handler_free_set}};
    /* A small pool reads the stores (a CA may go on disk at any full
     * generation); each shard's cache gets its share. */
    int readers = cfg->threads < 4 ? cfg->threads : 4;
    int routed = st->ans != NULL && (st->reader = reader_new(cfg->threads, readers, e)) != NULL &&
                 ocsp_answer_set_store(st->ans, reader_submit, st->reader,
                                       (size_t)st->opts.response_cache / (size_t)cfg->threads, e) &&
                 ocsp_answer_register(st->ans, cfg) && crl_handler_register(cfg, SERVE_SLOT_CRLS);
    if (!routed) { /* server_start would have freed them */
        if (st->ans != NULL && st->reader != NULL && e->msg[0] == '\0') rerr_set(e, "too many routes");
        ocsp_answer_free_gen(g);
        crl_handler_free_set(slots[SERVE_SLOT_CRLS].p);
        return 0;
    }
    if ((st->srv = server_start(cfg, slots, e)) == NULL) return 0;
    if (!reader_start(st->reader, ocsp_answer_job_done, st->ans, e)) return 0;
    return st->lane == NULL || lane_start(st->lane, ocsp_answer_job_done, st->ans, e);
}

static void stop_ocsp(struct serve_state *st);
static int start_feed(struct serve_state *st);

/* serve_cores: the cores this process may use (shard-cpus off: the cores
 * online, as the shards then spread over them). */
static int serve_cores(const struct cpus_plan *p) {
    long cores = p->off ? sysconf(_SC_NPROCESSORS_ONLN) : p->num_allowed;
    return cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
}

/* serve_threads: the shards: --threads, or one per shard core (one per
 * core with shard-cpus off). Also node/edge.c's. */
int serve_threads(const struct settings *o, const struct cpus_plan *p) {
    if (o->cfg.threads > 0) return o->cfg.threads;
    if (p->off) return serve_cores(p);
    return p->num_shard < 256 ? p->num_shard : 256;
}

/* place_threads puts every thread but the shards on the work cores (the
 * shards were pinned as they started), says where, and signs the next
 * bulk passes on as many threads as there are work cores (unless
 * --threads said). A failure is said; serving goes on unplaced. */
static void place_threads(struct serve_state *st) {
    struct rerr e;
    char where[600];
    if (!cpus_place(&st->cpus, &e))
        rlog(LOG_WARN, "serve.cpus_failed", "placing the threads: %s (they run where they are)", e.msg);
    cpus_describe(&st->cpus, where, sizeof(where));
    rlog(LOG_INFO, "serve.cpus", "%s", where);
    if (st->opts.cfg.threads == 0 && !st->cpus.off) ca_ocsp_set_threads(st->core, st->cpus.num_work);
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
    struct ocsp_precompute_stats ps;
    cfg.threads = serve_threads(&st->opts, &st->cpus);
    cfg.shard_cpus = st->cpus.off ? NULL : st->cpus.shard;
    cfg.num_shard_cpus = st->cpus.off ? 0 : st->cpus.num_shard;
    fd_budget(cfg.threads, st->opts.admin_listen != NULL ? st->opts.admin_limits.max_conns : 0,
              st->opts.admin_limits.fd_reserve);
    /* Tables are built on --threads threads, or by default on every core
     * this process may use (each with its own responder copy); after the
     * start, place_threads says how many sign the refresh passes. */
    ca_ocsp_set_threads(st->core, st->opts.cfg.threads > 0 ? st->opts.cfg.threads : serve_cores(&st->cpus));
    ca_ocsp_set_backdate(st->core, st->opts.backdate);
    char store_dir[PATH_MAX];
    snprintf(store_dir, sizeof(store_dir), "%s/ocsp", st->dir);
    struct ocsp_gen_opts go = {validity, store_dir, (uint64_t)st->opts.response_cache / SETTINGS_RESPONSE_BYTES};
    if ((st->crl = crl_publish_new(st->core, st->opts.crl_validity, st->opts.crl_coalesce_ms, &e)) == NULL ||
        !ocsp_precompute_gen(st->core, &go, &g, &ps, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        crl_publish_free(st->crl);
        st->crl = NULL;
        return 0;
    }
    if (st->opts.ocsp.rate > 0) {
        st->lane = lane_new(st->core, cfg.threads, validity, st->opts.ocsp.unknown_signed, &e);
        if (st->lane == NULL) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            gen_free(g);
            crl_publish_free(st->crl);
            st->crl = NULL;
            return 0;
        }
    }
    if (!start_shards(st, &cfg, g, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        lane_stop(st->lane);
        reader_stop(st->reader);
        server_stop(st->srv);
        lane_free(st->lane);
        reader_free(st->reader);
        ocsp_answer_free(st->ans);
        crl_publish_free(st->crl);
        st->srv = NULL, st->lane = NULL, st->crl = NULL, st->ans = NULL, st->reader = NULL;
        return 0;
    }
    struct metrics_core *m = server_core_metrics(st->srv);
    struct ocsp_publish_hooks ph = {serve_gen, serve_changed, st};
    if ((st->pub = ocsp_publish_new(st->core, g, &go, st->opts.backdate, st->lane, m, &ph)) == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "out of memory");
        lane_stop(st->lane);
        reader_stop(st->reader);
        server_stop(st->srv);
        lane_free(st->lane);
        reader_free(st->reader);
        ocsp_answer_free(st->ans);
        crl_publish_free(st->crl);
        st->srv = NULL, st->lane = NULL, st->crl = NULL, st->ans = NULL, st->reader = NULL;
        return 0;
    }
    place_threads(st);
    crl_publish_set_metrics(st->crl, m);
    struct crl_publish_stats cs0;
    crl_publish_stats(st->crl, &cs0);
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
    if (start_feed(st)) return 1;
    stop_ocsp(st);
    return 0;
}

/* start_feed starts the NATS feed when --nats is set: what is served now
 * goes first. 1, or 0 (said). */
static int start_feed(struct serve_state *st) {
    if (st->opts.nats == NULL) return 1;
    struct rerr e;
    struct feed_pub_config fc = {st->opts.nats, st->dir, st->opts.backdate};
    if ((st->feed = feed_pub_new(&fc, server_core_metrics(st->srv), &e)) == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 0;
    }
    feed_pub_gen(st->feed, ocsp_publish_current(st->pub));
    feed_pub_crls(st->feed, crl_publish_set(st->crl), ocsp_publish_current(st->pub));
    rlog(LOG_INFO, "feed.started", "publishing responses, CRLs and CA certificates to NATS at %s", st->opts.nats);
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

/* start_acme starts the ACME server on base when acme-listen is set. 1, or 0 (said). */
static int start_acme(struct serve_state *st, struct event_base *base) {
    const struct settings *o = &st->opts;
    if (o->acme_listen == NULL) return 1;
    struct rerr e;
    st->acme = acmehttp_start(base, st->core, o, admin_changed, st, &e);
    if (st->acme == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 0;
    }
    char url[256];
    snprintf(url, sizeof(url), "%s%s", o->acme_url ? "" : "https://", o->acme_url ? o->acme_url : o->acme_listen);
    rlog(LOG_INFO, "acme.listening", "ACME server on https://%s: directory %s/acme/directory (EAB %s)", o->acme_listen,
         url, o->acme_eab_optional ? "optional" : "required");
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
    acmehttp_free(st->acme); /* its validation threads finish the job in hand (at most its timeout) */
    st->acme = NULL;
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
    feed_pub_free(st->feed); /* what is waiting, sent for up to two seconds */
    st->feed = NULL;
    /* The lane and the readers first: they hand answers to the shards. */
    lane_stop(st->lane);
    reader_stop(st->reader);
    if (st->srv != NULL) {
        struct server_stats ss;
        server_stats(st->srv, &ss);
        struct ocsp_answer_stats as;
        ocsp_answer_stats(st->ans, &as);
        rlog(LOG_INFO, "serve.stats",
                "served %llu requests (%llu malformed), refused %llu connections; signing lane: %llu signed,"
                " %llu answered without it; %llu tryLater past nextUpdate; %llu responses refreshed",
                (unsigned long long)ss.requests, (unsigned long long)ss.bad_requests,
                (unsigned long long)ss.refused_conns, (unsigned long long)(st->lane ? lane_signed(st->lane) : 0),
                (unsigned long long)as.lane_fallbacks, (unsigned long long)as.expired,
                (unsigned long long)ocsp_publish_refreshed(st->pub));
        if (as.store_reads > 0 || as.store_inline > 0 || as.cache_bytes > 0)
            rlog(LOG_INFO, "serve.store_stats",
                 "response stores: %llu reads by the readers, %llu from the page cache on the shards (%llu "
                 "tryLater with the readers full); shard caches of %llu bytes: %llu hits, %llu misses, %llu "
                 "evictions",
                 (unsigned long long)as.store_reads, (unsigned long long)as.store_inline,
                 (unsigned long long)as.store_busy,
                 (unsigned long long)as.cache_bytes, (unsigned long long)as.cache_hits,
                 (unsigned long long)as.cache_misses, (unsigned long long)as.cache_evictions);
    }
    server_stop(st->srv);
    lane_free(st->lane);
    reader_free(st->reader);
    ocsp_answer_free(st->ans);
    if (st->crl != NULL) {
        struct crl_publish_stats cs;
        crl_publish_stats(st->crl, &cs);
        rlog(LOG_INFO, "crl.stats", "CRLs: %llu built, %llu taken back at start, %llu failed builds",
                (unsigned long long)cs.built, (unsigned long long)cs.reused, (unsigned long long)cs.failures);
    }
    crl_publish_free(st->crl);
    ocsp_publish_free(st->pub);
    st->srv = NULL, st->lane = NULL, st->crl = NULL, st->pub = NULL, st->ans = NULL, st->reader = NULL;
}

/* free_state frees what the state still holds: the core and the settings files. */
static void free_state(struct serve_state *st) {
    ca_core_free(st->core);
    conf_free(st->conf);
    for (size_t i = 0; i < st->n_old_confs; i++) conf_free(st->old_confs[i]);
    free(st->old_confs);
    free(st->listen);
}

int serve_run(const char *dir, int argc, char **argv) {
    struct serve_state st = {.dir = dir, .argc = argc, .argv = argv};
    st.config_path = settings_config_path(argc, argv);
    int lr = settings_load(dir, st.config_path, argc, argv, &st.opts, &st.conf, stderr);
    if (lr != 1) {
        conf_free(st.conf);
        return lr == 2 ? 2 : 1;
    }
    log_set_format(st.opts.log_format);
    event_set_log_callback(libevent_log);
    if (st.opts.nats != NULL && st.opts.cfg.listen == NULL) {
        fprintf(stderr, "revd: --nats publishes what --listen serves: give --listen too\n");
        free_state(&st);
        return 2;
    }
    struct rerr pe;
    if (st.opts.cfg.listen != NULL &&
        !cpus_plan_make(st.opts.shard_cpus, st.opts.work_cpus, st.opts.cfg.threads, &st.cpus, &pe)) {
        fprintf(stderr, "revd: %s\n", pe.msg);
        free_state(&st);
        return 1;
    }
    raise_nofile();
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
    int rc = base != NULL && start_admin(&st, base) && start_acme(&st, base) && start_webhook(&st) ? 0 : 1;
    if (rc == 0) rc = ctl_serve(st.core, dir, stderr, after_command, serve_tick, &st, base);
    stop_admin_webhook(&st);
    stop_ocsp(&st);
    free_state(&st);
    if (base != NULL) event_base_free(base);
    return rc;
}
