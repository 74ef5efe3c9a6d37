/* serve: `revd serve`. Holds DIR and answers the other commands over its
 * socket; with --listen it also runs the shards (shard/server) over
 * generations of signed responses (ocsp/gen) that this thread, the CA-core
 * thread, builds: at start (stored responses reused), after every command
 * that changed a status, and by the refresher, which re-signs each response
 * at about half its validity (ocsp_refresh_at) between commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <unistd.h>

#include "ca/ca.h"
#include "ca/lane.h"
#include "ca/responder.h"
#include "cmd/cli.h"
#include "cmd/crlpub.h"
#include "crl/set.h"
#include "common/rtime.h"
#include "ocsp/gen.h"
#include "ocsp/table.h"
#include "shard/metrics.h"
#include "shard/server.h"

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

struct serve_state {
    struct ca_core *core;
    struct server *srv;
    struct lane *lane;
    struct crlpub *crl;
    const struct gen *gen; /* the last published: read-only here, freed by the server */
    int64_t validity;
    int64_t next_scan; /* when the refresher looks again */
    size_t refresh_batch;
    uint64_t refreshed, refresh_failures, publish_failures;
    /* Changes whose publication failed, retried from retry_at. */
    struct ca_change *pending;
    size_t npending;
    int pending_full;
    int64_t retry_at;
};

static const char usage[] =
    "usage: revd serve [--dir DIR] [--listen ADDRESS:PORT] [--threads N] [--validity DURATION]\n"
    "                  [--max-age SECONDS] [--nonce echo|off] [--unknown unauthorized|signed]\n"
    "                  [--sign-rate N] [--io uring|libevent] [--idle-timeout S] [--read-timeout S]\n"
    "                  [--crl-validity DURATION] [--crl-coalesce DURATION] [--no-metrics]\n";

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

static void publish(struct serve_state *st, struct gen *g) {
    server_publish(st->srv, g);
    st->gen = g;
    struct metrics_core *m = server_core_metrics(st->srv);
    metrics_add(&m->publications, 1);
    uint64_t certs = 0;
    for (size_t i = 0; i < g->num; i++) certs += ocsp_table_count(g->cas[i].table);
    atomic_store_explicit(&m->responses, certs, memory_order_relaxed);
    struct rerr e;
    if (st->lane != NULL && !lane_update(st->lane, st->core, &e))
        fprintf(stderr, "revd: the signing lane keeps its previous CAs: %s\n", e.msg);
}

/* Publishes what changed; says so when that fails (what failed stays
 * pending and is retried by the refresher). */
static void publish_changes(struct serve_state *st, const char *after) {
    struct rerr e;
    int none;
    struct gen *g = next_gen(st, &none, &e);
    if (none) return;
    if (g == NULL) {
        st->publish_failures++;
        metrics_add(&server_core_metrics(st->srv)->publish_failures, 1);
        fprintf(stderr, "revd: re-signing after %s failed (retrying in %d s), still serving the previous responses: %s\n",
                after, REFRESH_RETRY_S, e.msg);
        return;
    }
    publish(st, g);
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
    if (atomic_load_explicit(&m->publications, memory_order_relaxed) != before)
        metrics_observe(&m->revoke_ocsp, MHK_US, (uint64_t)((mono() - ctl_command_started()) * 1e6));
    atomic_store_explicit(&m->sign_queue, st->npending, memory_order_relaxed);
}

struct due {
    struct ca_change *list;
    size_t n, max;
    int64_t by, next; /* take what is due by `by`; next: the earliest of the rest */
};

static void collect(struct due *d, const char *ca, const struct ocsp_table *t, const struct ocsp_table *shadow) {
    size_t pos = 0;
    const uint8_t *serial;
    size_t sl;
    int64_t tu, nu;
    while (ocsp_table_next(t, &pos, &serial, &sl, &tu, &nu)) {
        if (shadow != NULL && ocsp_table_has(shadow, serial, sl)) continue;
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
    if (st->crl != NULL && crlpub_tick(st->crl, &wait)) {
        struct gen *g = gen_clone(st->gen);
        if (g != NULL) { /* the new CRLs, every shard at once */
            crl_set_free(g->crls);
            g->crls = crl_set_ref(crlpub_set(st->crl));
            publish(st, g);
        }
    }
    if (now < st->next_scan) return wait;
    struct due d = {malloc(st->refresh_batch * sizeof(struct ca_change)), 0, st->refresh_batch, now + REFRESH_SLACK_S,
                    now + REFRESH_IDLE_S};
    if (d.list == NULL) {
        st->next_scan = now + REFRESH_RETRY_S;
        return 1000;
    }
    for (size_t i = 0; i < st->gen->num; i++) {
        const struct gen_ca *gc = &st->gen->cas[i];
        collect(&d, gc->name, gc->overlay, NULL);
        collect(&d, gc->name, gc->table, gc->overlay);
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
            fprintf(stderr, "revd: refreshing %zu responses failed (retrying in %d s): %s\n", d.n, REFRESH_RETRY_S,
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
            fprintf(stderr, "revd: %zu of %zu due responses could not be re-signed (their index records are "
                            "missing or damaged); looking again in %d s\n", d.n - done, d.n, REFRESH_RETRY_S);
            free(d.list);
            st->next_scan = now + REFRESH_RETRY_S;
            return 1000;
        }
        if (more) fprintf(stderr, "revd: refreshed %zu responses (%llu so far), more are due\n", d.n,
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

int serve_run(int argc, char **argv) {
    const char *dir = cli_dir_from_args(argc, argv);
    struct server_config cfg = {.listen = NULL, .threads = 0, .max_age = 3600, .lane = {.rate = 1000}};
    int64_t validity = VALIDITY_DEFAULT_S, crl_validity = 7 * 86400, crl_coalesce_ms = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("%s\n"
                   "Holds DIR and answers the other commands over DIR/revd.sock (mode 0600), so\n"
                   "that they keep working while it runs. With --listen, it also answers OCSP\n"
                   "(POST /ocsp, GET /ocsp/{base64}), /ca/NAME.der and /healthz over HTTP on N\n"
                   "shards (default: one per core), from precomputed responses: stored ones are\n"
                   "reused at start, a changed status is re-signed before the command returns,\n"
                   "and every response is re-signed at about half its validity. Bulk signing\n"
                   "(the first start, a new CA, an import, refresh passes) uses N threads.\n\n"
                   "  --validity DURATION  response validity, 8h to 7d (default 4d); N, Ns, Nm,\n"
                   "                       Nh or Nd\n"
                   "  --max-age SECONDS    Cache-Control max-age cap (default 3600); the answer's\n"
                   "                       max-age never reaches past its nextUpdate or refresh\n"
                   "  --nonce echo|off     echo: a request with a nonce gets a freshly signed\n"
                   "                       response carrying it (the signing lane); off (default):\n"
                   "                       the precomputed response, without a nonce (RFC 5019)\n"
                   "  --unknown unauthorized|signed\n"
                   "                       a serial the CA never issued: unauthorized (default)\n"
                   "                       or a signed \"unknown\" (the signing lane)\n"
                   "  --sign-rate N        signatures per second the signing lane may make for\n"
                   "                       nonces, SHA-384/512 CertIDs and unknown serials\n"
                   "                       (default 1000; 0: none). Past it, the precomputed\n"
                   "                       answer, or tryLater for a SHA-384/512 CertID.\n"
                   "  --io uring|libevent  the shards' event loop (default: io_uring, or libevent\n"
                   "                       where io_uring is unavailable, said once at start)\n"
                   "  --idle-timeout S     close a connection S seconds after its last bytes (30)\n"
                   "  --read-timeout S     close one whose request is still unfinished S seconds\n"
                   "                       after it began (10)\n"
                   "  --crl-validity D     CRL validity, 1h to 30d (default 7d); re-signed at half\n"
                   "  --crl-coalesce D     how long after a revocation its CRL partition is rebuilt\n"
                   "                       (default 1s; 0ms to 10m; Nms accepted): revocations\n"
                   "                       within it share one rebuild\n\n"
                   "  --no-metrics         GET /metrics answers 404 (default: the Prometheus text\n"
                   "                       format, every shard's counters summed; docs/metrics.md)\n\n"
                   "With --listen, CRLs are served at /crl/... and published under DIR/crl/.\n\n"
                   "SIGTERM or SIGINT stops it.\n",
                   usage);
            return 0;
        }
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) i++;
        else if (strncmp(argv[i], "--dir=", 6) == 0) continue;
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) cfg.listen = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 256) {
                fprintf(stderr, "revd: --threads must be 1 to 256\n%s", usage);
                return 2;
            }
            cfg.threads = (int)n;
        } else if (strcmp(argv[i], "--validity") == 0 && i + 1 < argc) {
            i++;
            if (!parse_duration(argv[i], &validity) || validity < VALIDITY_MIN_S || validity > VALIDITY_MAX_S) {
                fprintf(stderr, "revd: --validity '%s': must be 8h to 7d (as 8h, 96h, 4d, 28800)\n%s", argv[i],
                        usage);
                return 2;
            }
        } else if (strcmp(argv[i], "--max-age") == 0 && i + 1 < argc) {
            i++;
            char *end;
            long long n = strtoll(argv[i], &end, 10);
            if (*end != '\0' || end == argv[i] || n < 0 || n > VALIDITY_MAX_S) {
                fprintf(stderr, "revd: --max-age '%s': must be 0 to 604800 seconds\n%s", argv[i], usage);
                return 2;
            }
            cfg.max_age = n;
        } else if (strcmp(argv[i], "--nonce") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "echo") != 0 && strcmp(argv[i], "off") != 0) {
                fprintf(stderr, "revd: --nonce '%s': must be echo or off\n%s", argv[i], usage);
                return 2;
            }
            cfg.lane.nonce_echo = strcmp(argv[i], "echo") == 0;
        } else if (strcmp(argv[i], "--unknown") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "unauthorized") != 0 && strcmp(argv[i], "signed") != 0) {
                fprintf(stderr, "revd: --unknown '%s': must be unauthorized or signed\n%s", argv[i], usage);
                return 2;
            }
            cfg.lane.unknown_signed = strcmp(argv[i], "signed") == 0;
        } else if (strcmp(argv[i], "--io") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "uring") == 0) cfg.io = SERVER_IO_URING;
            else if (strcmp(argv[i], "libevent") == 0) cfg.io = SERVER_IO_LIBEVENT;
            else {
                fprintf(stderr, "revd: --io '%s': must be uring or libevent\n%s", argv[i], usage);
                return 2;
            }
        } else if ((strcmp(argv[i], "--idle-timeout") == 0 || strcmp(argv[i], "--read-timeout") == 0) && i + 1 < argc) {
            const char *opt = argv[i++];
            char *end;
            long n = strtol(argv[i], &end, 10);
            if (*end != '\0' || end == argv[i] || n < 1 || n > 86400) {
                fprintf(stderr, "revd: %s '%s': must be 1 to 86400 seconds\n%s", opt, argv[i], usage);
                return 2;
            }
            if (opt[2] == 'i') cfg.idle_timeout = (int)n;
            else cfg.read_timeout = (int)n;
        } else if (strcmp(argv[i], "--crl-validity") == 0 && i + 1 < argc) {
            i++;
            if (!parse_duration(argv[i], &crl_validity) || crl_validity < 3600 || crl_validity > 30 * 86400) {
                fprintf(stderr, "revd: --crl-validity '%s': must be 1h to 30d\n%s", argv[i], usage);
                return 2;
            }
        } else if (strcmp(argv[i], "--crl-coalesce") == 0 && i + 1 < argc) {
            i++;
            size_t l = strlen(argv[i]);
            int64_t v;
            char tmp[32];
            int ok;
            if (l > 2 && l < sizeof(tmp) && strcmp(argv[i] + l - 2, "ms") == 0) {
                memcpy(tmp, argv[i], l - 2);
                tmp[l - 2] = '\0';
                ok = parse_duration(tmp, &v) && strspn(tmp, "0123456789") == l - 2;
                crl_coalesce_ms = v;
            } else {
                ok = parse_duration(argv[i], &v);
                crl_coalesce_ms = v * 1000;
            }
            if (!ok || crl_coalesce_ms > 600000) {
                fprintf(stderr, "revd: --crl-coalesce '%s': must be 0ms to 10m\n%s", argv[i], usage);
                return 2;
            }
        } else if (strcmp(argv[i], "--no-metrics") == 0) {
            cfg.no_metrics = 1;
        } else if (strcmp(argv[i], "--sign-rate") == 0 && i + 1 < argc) {
            i++;
            char *end;
            long long n = strtoll(argv[i], &end, 10);
            if (*end != '\0' || end == argv[i] || n < 0 || n > 10000000) {
                fprintf(stderr, "revd: --sign-rate '%s': must be 0 to 10000000 per second\n%s", argv[i], usage);
                return 2;
            }
            cfg.lane.rate = (uint32_t)n;
        } else {
            fprintf(stderr, "revd: unknown option '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    /* Up to SERVER_MAX_CONNS_PER_SHARD connections per shard: the soft
     * descriptor limit (often 1024) is raised to the hard one. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct rerr e;
    struct serve_state st = {.core = NULL, .validity = validity, .refresh_batch = 256};
    if (!ca_core_open(dir, 0, &st.core, &e)) {
        fprintf(stderr, "revd: %s\n", e.msg);
        return 1;
    }
    ca_set_actor(st.core, "revd serve", "internal");
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
        /* Tables are built and refresh passes signed on as many threads as
         * there are shards (each with its own responder copy). */
        ca_ocsp_set_threads(st.core, cfg.threads);
        if ((st.crl = crlpub_new(st.core, crl_validity, crl_coalesce_ms, &e)) == NULL ||
            !ca_ocsp_gen(st.core, validity, &g, &ps, &e)) {
            fprintf(stderr, "revd: %s\n", e.msg);
            crlpub_free(st.crl);
            ca_core_free(st.core);
            return 1;
        }
        g->crls = crl_set_ref(crlpub_set(st.crl));
        if (cfg.lane.rate > 0) {
            st.lane = lane_new(st.core, cfg.threads, validity, cfg.lane.unknown_signed, &e);
            if (st.lane == NULL) {
                fprintf(stderr, "revd: %s\n", e.msg);
                gen_free(g);
                ca_core_free(st.core);
                return 1;
            }
            cfg.lane.submit = lane_submit;
            cfg.lane.arg = st.lane;
        }
        if ((st.srv = server_start(&cfg, g, &e)) == NULL || (st.lane && !lane_start(st.lane, server_job_done, st.srv, &e))) {
            fprintf(stderr, "revd: %s\n", e.msg);
            lane_stop(st.lane);
            server_stop(st.srv);
            lane_free(st.lane);
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
        fprintf(stderr,
                "revd: responses for %llu certificates: %llu reused from the index, %llu responses signed (%.2f s)\n"
                "revd: answering OCSP on http://%s (%d shards, %s)\n",
                (unsigned long long)ps.certificates, (unsigned long long)ps.reused,
                (unsigned long long)ps.responses, ps.seconds, cfg.listen, cfg.threads, server_io_name(st.srv));
    }
    int rc = ctl_serve(st.core, dir, stderr, after_command, refresh_tick, &st);
    /* The lane first: it hands answers to the shards. */
    lane_stop(st.lane);
    if (st.srv != NULL) {
        struct server_stats ss;
        server_stats(st.srv, &ss);
        fprintf(stderr,
                "revd: served %llu requests (%llu malformed), refused %llu connections; signing lane: %llu signed,"
                " %llu answered without it; %llu tryLater past nextUpdate; %llu responses refreshed\n",
                (unsigned long long)ss.requests, (unsigned long long)ss.bad_requests,
                (unsigned long long)ss.refused_conns, (unsigned long long)(st.lane ? lane_signed(st.lane) : 0),
                (unsigned long long)ss.lane_fallbacks, (unsigned long long)ss.expired,
                (unsigned long long)st.refreshed);
    }
    server_stop(st.srv);
    lane_free(st.lane);
    if (st.crl != NULL) {
        struct crlpub_stats cs;
        crlpub_stats(st.crl, &cs);
        fprintf(stderr, "revd: CRLs: %llu built, %llu taken back at start, %llu failed builds\n",
                (unsigned long long)cs.built, (unsigned long long)cs.reused, (unsigned long long)cs.failures);
    }
    crlpub_free(st.crl);
    free(st.pending);
    ca_core_free(st.core);
    return rc;
}
