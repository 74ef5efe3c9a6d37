/* serve: `revd serve`. Holds DIR and answers the other commands over its
 * socket; with --listen it also runs the shards (shard/server) over
 * generations of signed responses (ocsp/gen) that this thread, the CA-core
 * thread, builds: at start (stored responses reused), after every command
 * that changed a status, and by the refresher, which re-signs each response
 * at about half its validity (ocsp_refresh_at) between commands. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
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
#include "cmd/cli.h"
#include "crl/publish.h"
#include "node/webhook.h"
#include "crl/set.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "common/rtime.h"
#include "ocsp/gen.h"
#include "ocsp/table.h"
#include "shard/metrics.h"
#include "shard/server.h"
#include "ocsp/answer.h"
#include "crl/handler.h"

/* What the shards' handlers read, published into these slots
 * (server_publish): the OCSP generation (ocsp/answer.h) and the CRL set
 * (crl/handler.h). */
enum { SERVE_SLOT_GEN, SERVE_SLOT_CRLS };

#define VALIDITY_DEFAULT_S (4 * 86400)
#define VALIDITY_MIN_S (8 * 3600)
#define VALIDITY_MAX_S (7 * 86400)

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

/* The settings of `revd serve`: defaults, then DIR/revd.conf (or
 * --config), then the command line; read again on SIGHUP. */
struct serve_opts {
    struct server_config cfg;
    int64_t validity, crl_validity, crl_coalesce_ms;
    int64_t backdate; /* ocsp-backdate */
    int drain_timeout;     /* seconds */
    int expiry_warn_days;  /* cert.expiring events from this many days before notAfter */
    const char *events_file; /* NULL: DIR/events.jsonl */
    const char *admin_listen; /* NULL: no admin API */
    int require_approval;
    struct admin_limits admin_limits;
    const char *webhook_url, *webhook_ca; /* NULL: no webhooks; the system's CAs */
    enum log_format log_format;
    const char *report_dir;  /* NULL: no scheduled reports */
    int64_t report_every;    /* seconds */
    const char *report_format; /* csv, json or both */
    int webhook_timeout, webhook_min_severity;
};

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
    struct serve_opts opts;
    struct conf *conf;
    char *listen; /* opts.cfg.listen, kept across reloads */
    struct conf **old_confs; /* settings files read before the last reload (their strings may be in use) */
    size_t n_old_confs;
    struct admin *admin;
    struct webhook *webhook;
    int64_t next_expiry;
    int64_t next_report; /* 0: not yet known (read from DIR/report.last) */
};

static const char usage[] =
    "usage: revd serve [--dir DIR] [--listen ADDRESS:PORT] [--threads N] [--validity DURATION]\n"
    "                  [--max-age SECONDS] [--nonce echo|off] [--unknown unauthorized|signed]\n"
    "                  [--sign-rate N] [--io uring|libevent] [--idle-timeout S] [--read-timeout S]\n"
    "                  [--crl-validity DURATION] [--crl-coalesce DURATION] [--no-metrics]\n"
    "                  [--drain-timeout S] [--expiry-warn-days N] [--events-file PATH]\n"
    "                  [--admin-listen ADDRESS:PORT] [--require-approval] [--webhook-url URLS]\n"
    "                  [--webhook-ca FILE] [--webhook-timeout S] [--webhook-min-severity N]\n"
    "                  [--log-format plain|kv|json] [--report-dir DIR2] [--report-every D]\n"
    "                  [--report-format csv|json|both] [--admin-max-conns N]\n"
    "                  [--admin-max-conns-per-source N] [--admin-handshake-timeout S]\n"
    "                  [--admin-request-timeout S] [--fd-reserve N] [--metrics-allow PREFIXES]\n"
    "                  [--ocsp-backdate DURATION]\n"
    "                  [--config FILE]\n";

/* parse_duration reads "N", "Ns", "Nm", "Nh" or "Nd" into seconds. */
static int parse_duration(const char *s, int64_t *out) {
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n < 0 || n > 100000000LL || s[0] == '-' || s[0] == '+') return 0;
    int64_t unit = 1;
    if (*end == 's') unit = 1, end++;
    else if (*end == 'm') unit = 60, end++;
    else if (*end == 'h') unit = 3600, end++;
    else if (*end == 'd') unit = 86400, end++;
    if (*end != '\0') return 0;
    *out = (int64_t)n * unit;
    return 1;
}

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
    server_publish(st->srv, SERVE_SLOT_GEN, g, ocsp_answer_free_gen);
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
    server_publish(st->srv, SERVE_SLOT_CRLS, crl_set_ref(crlpub_set(st->crl)), crl_handler_free_set);
    /* A publication as before (counted, the lane refreshed), of the same tables. */
    struct gen *g = gen_clone(st->gen);
    if (g == NULL) return;
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
        metrics_observe(&m->revoke_ocsp, MHK_US, (uint64_t)((mono() - ctl_command_started()) * 1e6));
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

static void opts_default(struct serve_opts *o) {
    memset(o, 0, sizeof(*o));
    o->cfg.max_age = 3600;
    o->cfg.lane.rate = 1000;
    o->validity = VALIDITY_DEFAULT_S;
    o->backdate = OCSP_BACKDATE_S;
    o->crl_validity = 7 * 86400;
    o->crl_coalesce_ms = 1000;
    o->drain_timeout = 10;
    o->expiry_warn_days = 45;
    o->webhook_timeout = 10;
    o->report_every = 86400;
    o->report_format = "both";
    o->admin_limits = (struct admin_limits)ADMIN_LIMITS_DEFAULT;
}

/* The settings, as options (--NAME VALUE) and as configuration keys. */
static const char *const setting_names[] = {
    "listen", "threads", "validity", "max-age", "nonce", "unknown", "sign-rate", "io", "idle-timeout",
    "read-timeout", "crl-validity", "crl-coalesce", "metrics", "drain-timeout", "expiry-warn-days", "events-file",
    "admin-listen", "require-approval", "webhook-url", "webhook-ca", "webhook-timeout", "webhook-min-severity",
    "log-format", "report-dir", "report-every", "report-format", "admin-max-conns", "admin-max-conns-per-source",
    "admin-handshake-timeout", "admin-request-timeout", "fd-reserve", "metrics-allow", "ocsp-backdate", NULL,
};

static int is_setting(const char *name) {
    for (const char *const *n = setting_names; *n; n++)
        if (strcmp(*n, name) == 0) return 1;
    return 0;
}

/* set_opt applies one setting. Returns 1, or 0 with why set to what the
 * value must be. The strings are kept (argv or the loaded file). */
static int set_opt(struct serve_opts *o, const char *name, const char *v, char *why, size_t wl) {
    char *end;
    if (strcmp(name, "listen") == 0) {
        o->cfg.listen = v;
    } else if (strcmp(name, "threads") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 256) return snprintf(why, wl, "must be 1 to 256"), 0;
        o->cfg.threads = (int)n;
    } else if (strcmp(name, "validity") == 0) {
        if (!parse_duration(v, &o->validity) || o->validity < VALIDITY_MIN_S || o->validity > VALIDITY_MAX_S)
            return snprintf(why, wl, "must be 8h to 7d (as 8h, 96h, 4d, 28800)"), 0;
    } else if (strcmp(name, "max-age") == 0) {
        long long n = strtoll(v, &end, 10);
        if (*end != '\0' || end == v || n < 0 || n > VALIDITY_MAX_S)
            return snprintf(why, wl, "must be 0 to 604800 seconds"), 0;
        o->cfg.max_age = n;
    } else if (strcmp(name, "nonce") == 0) {
        if (strcmp(v, "echo") != 0 && strcmp(v, "off") != 0) return snprintf(why, wl, "must be echo or off"), 0;
        o->cfg.lane.nonce_echo = strcmp(v, "echo") == 0;
    } else if (strcmp(name, "unknown") == 0) {
        if (strcmp(v, "unauthorized") != 0 && strcmp(v, "signed") != 0)
            return snprintf(why, wl, "must be unauthorized or signed"), 0;
        o->cfg.lane.unknown_signed = strcmp(v, "signed") == 0;
    } else if (strcmp(name, "io") == 0) {
        if (strcmp(v, "uring") == 0) o->cfg.io = SERVER_IO_URING;
        else if (strcmp(v, "libevent") == 0) o->cfg.io = SERVER_IO_LIBEVENT;
        else return snprintf(why, wl, "must be uring or libevent"), 0;
    } else if (strcmp(name, "idle-timeout") == 0 || strcmp(name, "read-timeout") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 86400) return snprintf(why, wl, "must be 1 to 86400 seconds"), 0;
        if (name[0] == 'i') o->cfg.idle_timeout = (int)n;
        else o->cfg.read_timeout = (int)n;
    } else if (strcmp(name, "crl-validity") == 0) {
        if (!parse_duration(v, &o->crl_validity) || o->crl_validity < 3600 || o->crl_validity > 30 * 86400)
            return snprintf(why, wl, "must be 1h to 30d"), 0;
    } else if (strcmp(name, "crl-coalesce") == 0) {
        size_t l = strlen(v);
        int64_t d;
        char tmp[32];
        int ok;
        if (l > 2 && l < sizeof(tmp) && strcmp(v + l - 2, "ms") == 0) {
            memcpy(tmp, v, l - 2);
            tmp[l - 2] = '\0';
            ok = parse_duration(tmp, &d) && strspn(tmp, "0123456789") == l - 2;
        } else {
            ok = parse_duration(v, &d);
            d *= 1000;
        }
        if (!ok || d > 600000) return snprintf(why, wl, "must be 0ms to 10m"), 0;
        o->crl_coalesce_ms = d;
    } else if (strcmp(name, "sign-rate") == 0) {
        long long n = strtoll(v, &end, 10);
        if (*end != '\0' || end == v || n < 0 || n > 10000000)
            return snprintf(why, wl, "must be 0 to 10000000 per second"), 0;
        o->cfg.lane.rate = (uint32_t)n;
    } else if (strcmp(name, "metrics") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) return snprintf(why, wl, "must be on or off"), 0;
        o->cfg.no_metrics = strcmp(v, "off") == 0;
    } else if (strcmp(name, "ocsp-backdate") == 0) {
        if (!parse_duration(v, &o->backdate) || o->backdate > OCSP_BACKDATE_MAX_S)
            return snprintf(why, wl, "must be 0 to 1h (as 0, 60, 1h)"), 0;
    } else if (strcmp(name, "metrics-allow") == 0) {
        char w[160];
        if (!cidr_parse_list(v, o->cfg.metrics_allow, CIDR_LIST_MAX, &o->cfg.num_metrics_allow, w, sizeof(w)))
            return snprintf(why, wl, "%.100s (a list of prefixes, as 127.0.0.0/8,::1, or any)", w), 0;
    } else if (strcmp(name, "drain-timeout") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 0 || n > 600) return snprintf(why, wl, "must be 0 to 600 seconds"), 0;
        o->drain_timeout = (int)n;
    } else if (strcmp(name, "expiry-warn-days") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 0 || n > 365) return snprintf(why, wl, "must be 0 to 365 days"), 0;
        o->expiry_warn_days = (int)n;
    } else if (strcmp(name, "report-dir") == 0) {
        if (v[0] != '/' || strlen(v) >= PATH_MAX - 80) return snprintf(why, wl, "must be an absolute path"), 0;
        o->report_dir = v;
    } else if (strcmp(name, "report-every") == 0) {
        if (!parse_duration(v, &o->report_every) || o->report_every < 1 || o->report_every > 366 * 86400)
            return snprintf(why, wl, "must be 1s to 366d"), 0;
    } else if (strcmp(name, "report-format") == 0) {
        if (strcmp(v, "csv") != 0 && strcmp(v, "json") != 0 && strcmp(v, "both") != 0)
            return snprintf(why, wl, "must be csv, json or both"), 0;
        o->report_format = v;
    } else if (strcmp(name, "log-format") == 0) {
        if (!log_format_parse(v, &o->log_format)) return snprintf(why, wl, "must be plain, kv or json"), 0;
    } else if (strcmp(name, "webhook-url") == 0) {
        if (!webhook_check(v, why, wl)) return 0;
        o->webhook_url = v;
    } else if (strcmp(name, "webhook-ca") == 0) {
        if (v[0] == '\0') return snprintf(why, wl, "must be a file of PEM certificates"), 0;
        o->webhook_ca = v;
    } else if (strcmp(name, "webhook-timeout") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 120) return snprintf(why, wl, "must be 1 to 120 seconds"), 0;
        o->webhook_timeout = (int)n;
    } else if (strcmp(name, "webhook-min-severity") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 0 || n > 100) return snprintf(why, wl, "must be 0 to 100"), 0;
        o->webhook_min_severity = (int)n;
    } else if (strcmp(name, "admin-listen") == 0) {
        o->admin_listen = v;
    } else if (strcmp(name, "require-approval") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) return snprintf(why, wl, "must be on or off"), 0;
        o->require_approval = strcmp(v, "on") == 0;
    } else if (strcmp(name, "admin-max-conns") == 0 || strcmp(name, "admin-max-conns-per-source") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 65536) return snprintf(why, wl, "must be 1 to 65536"), 0;
        if (strcmp(name, "admin-max-conns") == 0) o->admin_limits.max_conns = (int)n;
        else o->admin_limits.max_conns_per_source = (int)n;
    } else if (strcmp(name, "admin-handshake-timeout") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 300) return snprintf(why, wl, "must be 1 to 300 seconds"), 0;
        o->admin_limits.handshake_timeout_s = (int)n;
    } else if (strcmp(name, "admin-request-timeout") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 1 || n > 3600) return snprintf(why, wl, "must be 1 to 3600 seconds"), 0;
        o->admin_limits.request_timeout_s = (int)n;
    } else if (strcmp(name, "fd-reserve") == 0) {
        long n = strtol(v, &end, 10);
        if (*end != '\0' || end == v || n < 16 || n > 65536) return snprintf(why, wl, "must be 16 to 65536"), 0;
        o->admin_limits.fd_reserve = (int)n;
    } else if (strcmp(name, "events-file") == 0) {
        if (v[0] != '/' || strlen(v) >= PATH_MAX - 1) return snprintf(why, wl, "must be an absolute path"), 0;
        o->events_file = v;
    } else {
        return snprintf(why, wl, "unknown setting"), 0;
    }
    return 1;
}

/* conf_error says what is wrong with the settings file: on err at start,
 * in the running log at a reload (err NULL). */
__attribute__((format(printf, 2, 3))) static void conf_error(FILE *err, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char esc[4200];
    log_escape(esc, sizeof(esc), msg);
    if (err != NULL) fprintf(err, "revd: %s\n", esc);
    else rlog(LOG_WARN, "reload.config_error", "%s", msg);
}

/* load_opts fills o: defaults, the configuration file (config_path; NULL:
 * DIR/revd.conf when it exists), then argv's options. *conf keeps the
 * file's strings (conf_free it when o is done with). Messages go to err;
 * returns 0 on a bad setting (2: a usage error on the command line). */
static int load_opts(const char *dir, const char *config_path, int argc, char **argv, struct serve_opts *o,
                     struct conf **conf, FILE *err) {
    opts_default(o);
    *conf = NULL;
    char def[PATH_MAX];
    const char *path = config_path;
    if (path == NULL) {
        snprintf(def, sizeof(def), "%s/revd.conf", dir);
        if (access(def, F_OK) == 0) path = def;
    }
    char why[160];
    if (path != NULL) {
        struct rerr e;
        if (!conf_load(path, conf, &e)) {
            conf_error(err, "%s", e.msg);
            return 0;
        }
        for (size_t i = 0; i < (*conf)->num; i++) {
            const struct conf_entry *ce = &(*conf)->entries[i];
            if (!is_setting(ce->key)) {
                conf_error(err, "%s:%u: unknown setting '%s' (the settings are revd serve's options without --: "
                             "listen, threads, validity, max-age, nonce, unknown, sign-rate, io, idle-timeout, "
                             "read-timeout, crl-validity, crl-coalesce, metrics, drain-timeout, expiry-warn-days, "
                             "events-file, admin-listen, require-approval, webhook-url, webhook-ca, "
                             "webhook-timeout, webhook-min-severity, log-format, report-dir, report-every, "
                             "report-format, admin-max-conns, admin-max-conns-per-source, admin-handshake-timeout, "
                             "admin-request-timeout, fd-reserve, metrics-allow, ocsp-backdate)",
                        path, ce->line, ce->key);
                return 0;
            }
            if (!set_opt(o, ce->key, ce->value, why, sizeof(why))) {
                conf_error(err, "%s:%u: %s '%s': %s", path, ce->line, ce->key, ce->value, why);
                return 0;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--dir") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            i++;
            continue;
        }
        if (strncmp(a, "--dir=", 6) == 0 || strncmp(a, "--config=", 9) == 0) continue;
        if (strcmp(a, "--no-metrics") == 0) {
            o->cfg.no_metrics = 1;
            continue;
        }
        if (strcmp(a, "--require-approval") == 0) {
            o->require_approval = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || !is_setting(a + 2) || strcmp(a + 2, "metrics") == 0 ||
            strcmp(a + 2, "require-approval") == 0 || i + 1 >= argc) {
            conf_error(err, "%s '%s'", strncmp(a, "--", 2) == 0 && is_setting(a + 2) ? "option needs a value:"
                                                                                       : "unknown option", a);
            if (err != NULL) fputs(usage, err);
            return 2;
        }
        if (!set_opt(o, a + 2, argv[i + 1], why, sizeof(why))) {
            conf_error(err, "%s '%s': %s", a, argv[i + 1], why);
            if (err != NULL) fputs(usage, err);
            return 2;
        }
        i++;
    }
    return 1;
}

static const char *config_from_args(int argc, char **argv) {
    const char *c = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) c = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0) c = argv[i] + 9;
    }
    return c;
}

static void key_problem(void *arg, const char *msg) { rlog(LOG_WARN, "reload.key_refused", "reload: %s", msg); }

/* SIGHUP: the configuration read again and the settings a running server
 * can change applied; the CA keys re-read. A bad file changes nothing. */
static void reload(struct serve_state *st) {
    struct rerr e0;
    struct serve_opts n;
    struct conf *conf;
    int r = load_opts(st->dir, st->config_path, st->argc, st->argv, &n, &conf, NULL);
    if (r != 1) {
        rlog(LOG_WARN, "reload.refused", "reload refused: the running settings stay");
        conf_free(conf);
        return;
    }
    const struct serve_opts *o = &st->opts;
    char fixed[256] = "";
    if (st->srv != NULL) {
        const char *l0 = st->listen ? st->listen : "", *l1 = n.cfg.listen ? n.cfg.listen : "";
        if (strcmp(l0, l1) != 0) strcat(fixed, " listen");
        if (n.cfg.threads != 0 && n.cfg.threads != o->cfg.threads) strcat(fixed, " threads");
        if (n.cfg.io != o->cfg.io) strcat(fixed, " io");
        if (n.cfg.lane.unknown_signed != o->cfg.lane.unknown_signed) strcat(fixed, " unknown");
        if (n.cfg.num_metrics_allow != o->cfg.num_metrics_allow ||
            memcmp(n.cfg.metrics_allow, o->cfg.metrics_allow, n.cfg.num_metrics_allow * sizeof(struct cidr)) != 0)
            strcat(fixed, " metrics-allow");
        if ((n.cfg.lane.rate == 0) != (o->cfg.lane.rate == 0)) strcat(fixed, " sign-rate(0)");
    }
    if (fixed[0] != '\0')
        rlog(LOG_WARN, "reload.needs_restart", "reload: changed, but applied only at the next start:%s", fixed);
    /* What a running server changes now. */
    st->opts.cfg.max_age = n.cfg.max_age;
    st->opts.cfg.lane.nonce_echo = n.cfg.lane.nonce_echo;
    if (o->cfg.lane.rate != 0 && n.cfg.lane.rate != 0) st->opts.cfg.lane.rate = n.cfg.lane.rate;
    st->opts.cfg.idle_timeout = n.cfg.idle_timeout;
    st->opts.cfg.read_timeout = n.cfg.read_timeout;
    st->opts.cfg.no_metrics = n.cfg.no_metrics;
    st->opts.crl_validity = n.crl_validity;
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
    st->opts.crl_coalesce_ms = n.crl_coalesce_ms;
    st->opts.drain_timeout = n.drain_timeout;
    st->opts.expiry_warn_days = n.expiry_warn_days;
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
    st->opts.admin_limits = n.admin_limits;
    if (st->admin != NULL) admin_set_limits(st->admin, &st->opts.admin_limits);
    if (st->admin != NULL && !admin_reload_cert(st->admin, &e0))
        rlog(LOG_WARN, "reload.admin_cert_failed", "reload: the admin API keeps its certificate: %s", e0.msg);
    size_t keys = ca_reload_keys(st->core, key_problem, NULL);
    lane_refresh(st);
    rlog(LOG_INFO, "reload.done", "reloaded the configuration%s%s and %zu CA keys", conf ? " from " : "",
            conf ? conf->path : " (no settings file: the defaults and the command line)", keys);
}

/* Every hour: deleted CAs whose restore window ended are purged (their
 * keys destroyed, their status no longer published: the next generation
 * leaves them out), and expiry events (ca_expiry_scan itself runs once a
 * day: it keeps its last time in the index). */
static void hourly_tick(struct serve_state *st) {
    int64_t now = rtime_now();
    if (now < st->next_expiry) return;
    st->next_expiry = now + 3600;
    uint64_t soon, gone;
    struct rerr e;
    size_t purged;
    if (!ca_purge_due(st->core, now, &purged, &e))
        rlog(LOG_WARN, "ca.purge_failed", "purging deleted CAs failed (again in an hour): %s", e.msg);
    else if (purged > 0)
        rlog(LOG_INFO, "ca.purged", "purged %zu deleted CA%s whose restore window ended", purged, purged > 1 ? "s" : "");
    /* The next window's end, if sooner than the hour. */
    for (size_t i = 0; i < ca_count(st->core); i++) {
        struct ca_info info;
        ca_info_at(st->core, i, &info);
        if (info.state == CA_STATE_DELETED && info.purge_at > now && info.purge_at < st->next_expiry)
            st->next_expiry = info.purge_at;
    }
    if (!ca_expiry_scan(st->core, now, st->opts.expiry_warn_days, &soon, &gone, &e))
        rlog(LOG_WARN, "expiry.scan_failed", "expiry scan failed (again in an hour): %s", e.msg);
    else if (soon + gone > 0)
        rlog(LOG_INFO, "expiry.scan", "expiry: %llu certificates expire within %d days, %llu expired since the last look",
                (unsigned long long)soon, st->opts.expiry_warn_days, (unsigned long long)gone);
}

/* One report of one CA into dir, as `revd report` writes it: a private
 * temporary file (fs_tmp: a random name, never one planted there), synced,
 * renamed; mode 0600, as every file revd writes of its own. */
static int write_report(struct serve_state *st, const char *ca, const char *fmt, const char *stamp) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s-%s.%s", st->opts.report_dir, ca, stamp, fmt);
    struct fs_tmp t;
    struct rerr e;
    if (!fs_tmp_open(&t, path, 0600, 0, &e)) {
        rlog(LOG_WARN, "report.failed", "report %s", e.msg);
        return 0;
    }
    int fd = dup(t.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0) close(fd);
        fs_tmp_abort(&t);
        rlog(LOG_WARN, "report.failed", "report %s: %s", path, strerror(errno));
        return 0;
    }
    char errbuf[600] = "";
    FILE *err = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
    struct cli cli = {.out = f, .err = err ? err : stderr, .cwd = NULL, .core = st->core};
    char w0[] = "report", w1[] = "--ca", w3[] = "--format", name[CA_NAME_MAX + 1], form[8];
    snprintf(name, sizeof(name), "%s", ca);
    snprintf(form, sizeof(form), "%s", fmt);
    char *argv[] = {w0, w1, name, w3, form, NULL};
    int rc = cli_run(&cli, 5, argv);
    if (err != NULL) fclose(err);
    int ok = rc == 0 && fflush(f) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fs_tmp_abort(&t);
        rlog(LOG_WARN, "report.failed", "report %s: %s", path, errbuf[0] ? errbuf : strerror(errno));
        return 0;
    }
    if (!fs_tmp_commit(&t, &e)) {
        rlog(LOG_WARN, "report.failed", "report %s", e.msg);
        return 0;
    }
    return 1;
}

/* Scheduled reports: every report-every, each CA's report (CSV, JSON or
 * both) into report-dir as NAME-YYYYMMDDTHHMMSSZ.csv; the time of the last
 * is kept in DIR/report.last, so a restart does not start the period over. */
static void report_tick(struct serve_state *st) {
    if (st->opts.report_dir == NULL) return;
    int64_t now = rtime_now();
    char last_path[PATH_MAX];
    snprintf(last_path, sizeof(last_path), "%s/report.last", st->dir);
    if (st->next_report == 0) {
        FILE *f = fopen(last_path, "r");
        long long last = 0;
        if (f == NULL || fscanf(f, "%lld", &last) != 1) last = 0;
        if (f) fclose(f);
        st->next_report = last > 0 ? last + st->opts.report_every : now;
    }
    if (now < st->next_report) return;
    struct rerr e;
    /* A directory revd did not make is checked: one another user can
     * write lets that user replace the reports (or plant names in it). */
    if (!fs_mkdirs(st->opts.report_dir, 0700, &e) || !fs_dir_check(st->opts.report_dir, 0, &e)) {
        rlog(LOG_WARN, "report.failed", "%s (again in %lld s)", e.msg, (long long)st->opts.report_every);
        st->next_report = now + st->opts.report_every;
        return;
    }
    char stamp[32];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    size_t written = 0, failed = 0;
    for (size_t i = 0; i < ca_count(st->core); i++) {
        struct ca_info info;
        ca_info_at(st->core, i, &info);
        if (info.state == CA_STATE_PENDING) continue;
        const char *f = st->opts.report_format;
        if (strcmp(f, "json") != 0) write_report(st, info.name, "csv", stamp) ? written++ : failed++;
        if (strcmp(f, "csv") != 0) write_report(st, info.name, "json", stamp) ? written++ : failed++;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)now);
    if (!fs_write_atomic(last_path, buf, (size_t)n, 0600, &e)) rlog(LOG_WARN, "report.failed", "%s", e.msg);
    st->next_report = now + st->opts.report_every;
    rlog(failed ? LOG_WARN : LOG_INFO, "report.written", "reports: %zu written to %s, %zu failed", written,
         st->opts.report_dir, failed);
}

static int serve_tick(void *arg) {
    struct serve_state *st = arg;
    if (ctl_take_hup()) reload(st);
    hourly_tick(st);
    report_tick(st);
    return refresh_tick(arg);
}

int serve_run(int argc, char **argv) {
    const char *dir = cli_dir_from_args(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\n"
                   "Holds DIR and answers the other commands over DIR/revd.sock (mode 0600), so\n"
                   "that they keep working while it runs. With --listen, it also answers OCSP\n"
                   "(POST /ocsp, GET /ocsp/{base64}), /ca/NAME.der, /healthz and /metrics over HTTP\n"
                   "on N shards (default: one per core), from precomputed responses: stored ones are\n"
                   "reused at start, a changed status is re-signed before the command returns,\n"
                   "and every response is re-signed at about half its validity. Bulk signing\n"
                   "(the first start, a new CA, an import, refresh passes) uses N threads.\n\n"
                   "  --config FILE        settings file (default DIR/revd.conf when it exists):\n"
                   "                       `name = value` lines, names as the options below\n"
                   "                       without --; options given here override it\n"
                   "  --validity DURATION  response validity, 8h to 7d (default 4d); N, Ns, Nm,\n"
                   "                       Nh or Nd\n"
                   "  --max-age SECONDS    Cache-Control max-age cap (default 3600); the answer's\n"
                   "                       max-age never reaches past its nextUpdate or refresh\n"
                   "  --nonce echo|off     echo: a request with a nonce gets a freshly signed\n"
                   "                       response carrying it (the signing lane); off (default):\n"
                   "                       the precomputed response, without a nonce (RFC 5019)\n"
                   "  --unknown unauthorized|signed\n"
                   "                       a serial the CA never issued: unauthorized (default)\n"
                   "                       or a signed \"unknown\" (the signing lane); beside an\n"
                   "                       issued one in a request with several CertIDs, always\n"
                   "                       \"unknown\"\n"
                   "  --sign-rate N        signatures per second the signing lane may make for\n"
                   "                       nonces, SHA-384/512 CertIDs, unknown serials and\n"
                   "                       requests with several CertIDs (default 1000; 0:\n"
                   "                       none). Past it, the precomputed answer, or tryLater\n"
                   "                       for a SHA-384/512 CertID or several CertIDs.\n"
                   "  --io uring|libevent  the shards' event loop (default: io_uring, or libevent\n"
                   "                       where io_uring is unavailable, said once at start)\n"
                   "  --idle-timeout S     close a connection S seconds after its last bytes (30)\n"
                   "  --read-timeout S     close one whose request is still unfinished S seconds\n"
                   "                       after it began (10)\n"
                   "  --crl-validity D     CRL validity, 1h to 30d (default 7d); re-signed at half\n"
                   "  --crl-coalesce D     how long after a revocation its CRL partition is rebuilt\n"
                   "                       (default 1s; 0ms to 10m; Nms accepted): revocations\n"
                   "                       within it share one rebuild\n"
                   "  --no-metrics         GET /metrics answers 404 (in the file: metrics = off;\n"
                   "                       default: the Prometheus text format, docs/metrics.md)\n"
                   "  --ocsp-backdate D    a response's thisUpdate is this long before it is signed,\n"
                   "                       for clients whose clock is slow (default 60s; 0 to 1h)\n"
                   "  --metrics-allow P    who may GET /metrics: comma-separated prefixes, as\n"
                   "                       10.0.0.0/8,2001:db8::/32, or any (default: loopback\n"
                   "                       only, 127.0.0.0/8,::1; others get 404); at start only\n"
                   "  --drain-timeout S    on SIGTERM, how long answers in progress may take before\n"
                   "                       the connections are cut (default 10; 0 to 600)\n"
                   "  --expiry-warn-days N cert.expiring events, once a day, for certificates that\n"
                   "                       expire within N days (default 45; 0: none)\n"
                   "  --events-file PATH   where events go (default DIR/events.jsonl; docs/events.md)\n"
                   "  --admin-listen ADDRESS:PORT\n"
                   "                       the HTTPS admin API (docs/admin.md; revd admin init first)\n"
                   "  --require-approval   over the admin API, a second admin approves creating,\n"
                   "                       deleting or restoring a CA, disabling or enabling a root\n"
                   "                       CA, issuing or revoking a credential\n"
                   "  --admin-max-conns N  admin connections open at once, at most (default 256);\n"
                   "                       past it the listener waits for one to close\n"
                   "  --admin-max-conns-per-source N\n"
                   "                       from one client address (default 32; more are closed)\n"
                   "  --admin-handshake-timeout S\n"
                   "                       from connect until the first request is in whole, TLS\n"
                   "                       handshake included, bytes or not (default 10)\n"
                   "  --admin-request-timeout S\n"
                   "                       from a request until its answer is sent and the next\n"
                   "                       request is in whole (default 30)\n"
                   "  --fd-reserve N       descriptors the admin API leaves to the control socket,\n"
                   "                       the index and CRL files (default 128; 16 to 65536);\n"
                   "                       the OCSP/CRL shards leave a quarter of it (at least 16,\n"
                   "                       read at start)\n"
                   "  --webhook-url URLS   POST every event to these http(s) URLs (comma-separated,\n"
                   "                       at most 4), retried until delivered (docs/events.md)\n"
                   "  --webhook-ca FILE    PEM certificates to check https webhooks (default: the\n"
                   "                       system's)\n"
                   "  --webhook-timeout S  per POST (default 10)\n"
                   "  --webhook-min-severity N  only events of this severity and up (default 0)\n"
                   "  --report-dir DIR2    write every CA's report (revd report) there on a schedule,\n"
                   "                       as NAME-YYYYMMDDTHHMMSSZ.csv and .json\n"
                   "  --report-every D     the schedule (default 1d; 1s to 366d)\n"
                   "  --report-format csv|json|both   (default both)\n"
                   "  --log-format plain|kv|json\n"
                   "                       the running log on stderr: plain \"revd: ...\" lines (default),\n"
                   "                       or ts=, level=, event=, msg= as key=value or JSON; any\n"
                   "                       event at most 10 lines per 10 s (docs/config.md)\n\n"
                   "With --listen, CRLs are served at /crl/... and published under DIR/crl/.\n\n"
                   "SIGHUP reads the settings file again: max-age, nonce, sign-rate, idle-timeout,\n"
                   "read-timeout, crl-validity, crl-coalesce, metrics, drain-timeout and the admin\n"
                   "limits (admin-max-conns..., fd-reserve) change at once, without dropping a\n"
                   "connection (the others at the next start), and the CA keys are read again\n"
                   "from DIR/keys (a key that fails to load or match is said and the old one\n"
                   "kept). A file with an error changes nothing.\n"
                   "SIGTERM or SIGINT stops it: no new connection, the answers in progress are\n"
                   "sent, then every connection is closed.\n",
                   usage);
            return 0;
        }
    }
    struct serve_opts opts;
    struct conf *conf;
    const char *config_path = config_from_args(argc, argv);
    int lr = load_opts(dir, config_path, argc, argv, &opts, &conf, stderr);
    if (lr != 1) {
        conf_free(conf);
        return lr == 2 ? 2 : 1;
    }
    struct server_config cfg = opts.cfg;
    struct ocsp_answer *ans = NULL; /* the OCSP handler (ocsp/answer.h), once the shards are set up */
    /* The shards, which serve the public, leave a quarter of what the admin
     * API leaves (at least 16): under a flood of the admin port OCSP still
     * has room, and under either the control socket has some. */
    cfg.fd_reserve = opts.admin_limits.fd_reserve / 4 > 16 ? opts.admin_limits.fd_reserve / 4 : 16;
    log_set_format(opts.log_format);
    event_set_log_callback(libevent_log);
    int64_t validity = opts.validity, crl_validity = opts.crl_validity, crl_coalesce_ms = opts.crl_coalesce_ms;
    /* Up to SERVER_MAX_CONNS_PER_SHARD connections per shard: the soft
     * descriptor limit (often 1024) is raised to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct rerr e;
    struct serve_state st = {.core = NULL, .validity = validity, .refresh_batch = 256, .dir = dir,
                             .config_path = config_path, .argc = argc, .argv = argv, .opts = opts, .conf = conf};
    if (!ca_core_open(dir, 0, &st.core, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        return 1;
    }
    if (!cli_passphrase(st.core, &e)) {
        fprintf(stderr, "revd: %s\n", e.msg);
        ca_core_free(st.core);
        return 1;
    }
    ca_set_actor(st.core, "revd serve", "internal");
    ca_events_set_path(st.core, opts.events_file);
    if (cfg.listen != NULL) {
        struct gen *g;
        struct ca_change *ch;
        size_t n;
        ca_take_changes(st.core, &ch, &n); /* what opening did is in the first generation */
        free(ch);
        struct ca_precompute_stats ps;
        if (cfg.threads == 0) {
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            cfg.threads = cores > 0 ? (int)(cores < 256 ? cores : 256) : 1;
        }
        fd_budget(cfg.threads, opts.admin_listen != NULL ? opts.admin_limits.max_conns : 0,
                  opts.admin_limits.fd_reserve);
        /* Tables are built and refresh passes signed on as many threads as
         * there are shards (each with its own responder copy). */
        ca_ocsp_set_threads(st.core, cfg.threads);
        ca_ocsp_set_backdate(st.core, opts.backdate);
        if ((st.crl = crlpub_new(st.core, crl_validity, crl_coalesce_ms, &e)) == NULL ||
            !ca_ocsp_gen(st.core, validity, &g, &ps, &e)) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            crlpub_free(st.crl);
            ca_core_free(st.core);
            return 1;
        }
        if (cfg.lane.rate > 0) {
            st.lane = lane_new(st.core, cfg.threads, validity, cfg.lane.unknown_signed, &e);
            if (st.lane == NULL) {
                rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
                gen_free(g);
                ca_core_free(st.core);
                return 1;
            }
            st.lane_epoch = ca_responder_epoch(st.core);
        }
        /* The handlers (shard/route.h): the issuers' certificates and OCSP,
         * then the CRLs; what they read is in the slots. */
        ans = ocsp_answer_new(cfg.threads, SERVE_SLOT_GEN, &cfg.lane, st.lane ? lane_submit : NULL, st.lane, &e);
        struct server_slot slots[SERVER_SLOTS] = {[SERVE_SLOT_GEN] = {g, ocsp_answer_free_gen},
                                                  [SERVE_SLOT_CRLS] = {crl_set_ref(crlpub_set(st.crl)),
                                                                       crl_handler_free_set}};
        int routed = ans != NULL && ocsp_answer_register(ans, &cfg) && crl_handler_register(&cfg, SERVE_SLOT_CRLS);
        if (!routed) { /* server_start would have freed them */
            if (ans != NULL) rerr_set(&e, "too many routes");
            ocsp_answer_free_gen(g);
            crl_handler_free_set(slots[SERVE_SLOT_CRLS].p);
        }
        if (!routed || (st.srv = server_start(&cfg, slots, &e)) == NULL ||
            (st.lane && !lane_start(st.lane, ocsp_answer_job_done, ans, &e))) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            lane_stop(st.lane);
            server_stop(st.srv);
            lane_free(st.lane);
            ocsp_answer_free(ans);
            crlpub_free(st.crl);
            ca_core_free(st.core);
            return 1;
        }
        st.gen = g;
        struct metrics_core *m = server_core_metrics(st.srv);
        crlpub_set_metrics(st.crl, m);
        struct crlpub_stats cs0;
        crlpub_stats(st.crl, &cs0);
        metrics_add(&m->crl_builds, cs0.built);
        atomic_store_explicit(&m->responses, ps.certificates, memory_order_relaxed);
        atomic_store_explicit(&m->reloaded_at, rtime_now(), memory_order_relaxed);
        /* Responders created while building it are in it already. */
        ca_take_changes(st.core, &ch, &n);
        free(ch);
        rlog(LOG_INFO, "ocsp.ready", "responses for %llu certificates: %llu reused from the index, %llu responses signed (%.2f s)",
             (unsigned long long)ps.certificates, (unsigned long long)ps.reused, (unsigned long long)ps.responses,
             ps.seconds);
        rlog(LOG_INFO, "ocsp.listening", "answering OCSP on http://%s (%d shards, %s)", cfg.listen, cfg.threads,
             server_io_name(st.srv));
    }
    if (cfg.listen != NULL) st.opts.cfg.threads = cfg.threads;
    st.listen = cfg.listen ? strdup(cfg.listen) : NULL;
    st.opts.cfg.listen = st.listen;
    struct event_base *base = event_base_new();
    if (base == NULL) rlog(LOG_ERR, "serve.start_failed", "cannot make the control loop");
    int rc = base != NULL ? 0 : 1;
    if (base != NULL && opts.admin_listen != NULL) {
        struct admin_hooks hooks = {admin_changed, admin_crl_rebuild, &st};
        st.admin = admin_start(base, st.core, opts.admin_listen, opts.require_approval, &opts.admin_limits, &hooks, &e);
        if (st.admin == NULL) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            rc = 1;
        } else {
            rlog(LOG_INFO, "admin.listening", "admin API on https://%s%s", opts.admin_listen,
                    opts.require_approval ? " (a second admin approves " ADMIN_APPROVAL_SUMMARY ")" : "");
        }
    }
    if (rc == 0 && opts.webhook_url != NULL) {
        char events[PATH_MAX];
        ca_events_path(st.core, events, sizeof(events));
        struct webhook_config wc = {opts.webhook_url, opts.webhook_ca, events, dir, opts.webhook_timeout,
                                    opts.webhook_min_severity};
        st.webhook = webhook_start(&wc, &e);
        if (st.webhook == NULL) {
            rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
            rc = 1;
        } else {
            rlog(LOG_INFO, "webhook.started", "events of severity %d and up are POSTed to %s", opts.webhook_min_severity,
                    opts.webhook_url);
        }
    }
    if (rc == 0) rc = ctl_serve(st.core, dir, stderr, after_command, serve_tick, &st, base);
    if (st.admin != NULL) {
        struct admin_stats as;
        admin_stats(st.admin, &as);
        rlog(LOG_INFO, "admin.stats", "admin API: connections refused: %llu past admin-max-conns-per-source, %llu past "
             "the descriptor reserve; %llu closed at a deadline; %llu failed accepts",
             as.refused_source, as.refused_fds, as.deadline_closed, as.accept_failures);
    }
    admin_free(st.admin);
    if (st.webhook != NULL) {
        uint64_t sent, failed;
        webhook_stats(st.webhook, &sent, &failed);
        webhook_stop(st.webhook);
        rlog(LOG_INFO, "webhook.stats", "webhooks: %llu events delivered, %llu failed attempts", (unsigned long long)sent,
                (unsigned long long)failed);
    }
    /* Drain: no new connection; what is in progress is answered. The lane
     * keeps running meanwhile (a connection may wait on it). */
    if (st.srv != NULL) {
        int left = server_drain(st.srv, st.opts.drain_timeout * 1000);
        if (left) rlog(LOG_WARN, "serve.drained", "drained the connections: %d still open after %d s, closed", left,
                       st.opts.drain_timeout);
        else rlog(LOG_INFO, "serve.drained", "drained the connections");
    }
    /* The lane first: it hands answers to the shards. */
    lane_stop(st.lane);
    if (st.srv != NULL) {
        struct server_stats ss;
        server_stats(st.srv, &ss);
        struct ocsp_answer_stats as;
        ocsp_answer_stats(ans, &as);
        rlog(LOG_INFO, "serve.stats",
                "served %llu requests (%llu malformed), refused %llu connections; signing lane: %llu signed,"
                " %llu answered without it; %llu tryLater past nextUpdate; %llu responses refreshed",
                (unsigned long long)ss.requests, (unsigned long long)ss.bad_requests,
                (unsigned long long)ss.refused_conns, (unsigned long long)(st.lane ? lane_signed(st.lane) : 0),
                (unsigned long long)as.lane_fallbacks, (unsigned long long)as.expired,
                (unsigned long long)st.refreshed);
    }
    server_stop(st.srv);
    lane_free(st.lane);
    ocsp_answer_free(ans);
    if (st.crl != NULL) {
        struct crlpub_stats cs;
        crlpub_stats(st.crl, &cs);
        rlog(LOG_INFO, "crl.stats", "CRLs: %llu built, %llu taken back at start, %llu failed builds",
                (unsigned long long)cs.built, (unsigned long long)cs.reused, (unsigned long long)cs.failures);
    }
    crlpub_free(st.crl);
    free(st.pending);
    ca_core_free(st.core);
    conf_free(st.conf);
    for (size_t i = 0; i < st.n_old_confs; i++) conf_free(st.old_confs[i]);
    free(st.old_confs);
    free(st.listen);
    if (base != NULL) event_base_free(base);
    return rc;
}
