/* edge: `revd serve --edge` (node/edge.h). */
#include "node/edge.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "crl/handler.h"
#include "crl/set.h"
#include "feed/edge.h"
#include "node/cpus.h"
#include "node/serve.h"
#include "node/settings.h"
#include "ocsp/answer.h"
#include "ocsp/gen.h"
#include "ocsp/reader.h"
#include "shard/server.h"

enum { EDGE_SLOT_GEN, EDGE_SLOT_CRLS };

/* serve_edge: the shards over x's first generation, then the feed, until
 * a signal. 0, or 1 (said). */
static int serve_edge(struct settings *o, const struct cpus_plan *cp, struct feed_edge *x, struct gen *g,
                      struct crl_set *crls) {
    struct rerr e = {{0}};
    struct server_config cfg = o->cfg;
    cfg.threads = serve_threads(o, cp);
    cfg.shard_cpus = cp->off ? NULL : cp->shard;
    cfg.num_shard_cpus = cp->off ? 0 : cp->num_shard;
    cfg.fd_reserve = 16;
    /* No signing lane: an edge holds no key (a nonce gets the precomputed
     * answer; an unknown serial, unauthorized). */
    struct ocsp_answer *ans = ocsp_answer_new(cfg.threads, EDGE_SLOT_GEN, &o->ocsp, NULL, NULL, &e);
    struct server_slot slots[SERVER_SLOTS] = {[EDGE_SLOT_GEN] = {g, ocsp_answer_free_gen},
                                              [EDGE_SLOT_CRLS] = {crls, crl_handler_free_set}};
    /* A large CA is served from a store, read by a small pool off the
     * shards' loops (as on the primary). */
    struct reader *rd = NULL;
    int readers = cfg.threads < 4 ? cfg.threads : 4;
    if (ans == NULL || (rd = reader_new(cfg.threads, readers, &e)) == NULL ||
        !ocsp_answer_set_store(ans, reader_submit, rd, (size_t)o->response_cache / (size_t)cfg.threads, &e) ||
        !ocsp_answer_register(ans, &cfg) || !crl_handler_register(&cfg, EDGE_SLOT_CRLS)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg[0] ? e.msg : "too many routes");
        ocsp_answer_free_gen(g);
        crl_handler_free_set(crls);
        reader_free(rd);
        ocsp_answer_free(ans);
        return 1;
    }
    struct server *srv = server_start(&cfg, slots, &e);
    if (srv == NULL || !reader_start(rd, ocsp_answer_job_done, ans, &e) ||
        !feed_edge_start(x, srv, EDGE_SLOT_GEN, EDGE_SLOT_CRLS, ans, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        reader_stop(rd);
        server_stop(srv);
        reader_free(rd);
        ocsp_answer_free(ans);
        return 1;
    }
    /* The shards pinned as they started; the rest (the feed's threads,
     * the applier, the readers, RocksDB's) on the work cores. */
    char where[600];
    if (!cpus_place(cp, &e))
        rlog(LOG_WARN, "serve.cpus_failed", "placing the threads: %s (they run where they are)", e.msg);
    cpus_describe(cp, where, sizeof(where));
    rlog(LOG_INFO, "serve.cpus", "%s", where);
    rlog(LOG_INFO, "ocsp.listening", "edge: answering OCSP and CRLs on http://%s (%d shards, %s), fed from %s",
         cfg.listen, cfg.threads, server_io_name(srv), o->nats);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    rlog(LOG_INFO, "serve.stopping", "edge: stopping (signal %d)", sig);
    int left = server_drain(srv, o->drain_timeout * 1000);
    if (left) rlog(LOG_WARN, "serve.drained", "drained the connections: %d still open, closed", left);
    feed_edge_stop(x);
    reader_stop(rd);
    server_stop(srv);
    reader_free(rd);
    ocsp_answer_free(ans);
    rlog(LOG_INFO, "serve.stopped", "stopped (signal %d)", sig);
    return 0;
}

int edge_run(const char *dir, int argc, char **argv) {
    struct settings o;
    struct conf *conf = NULL;
    struct cpus_plan *cp = NULL; /* a few kilobytes: not on the stack */
    int lr = settings_load(dir, settings_config_path(argc, argv), argc, argv, &o, &conf, stderr);
    if (lr != 1) {
        conf_free(conf);
        return lr == 2 ? 2 : 1;
    }
    log_set_format(o.log_format);
    int rc = 1;
    if (o.cfg.listen == NULL || o.nats == NULL) {
        fprintf(stderr, "revd: an edge needs --listen ADDRESS:PORT and --nats URLS\n");
        goto out;
    }
    cp = malloc(sizeof(*cp));
    struct rerr pe;
    if (cp == NULL || !cpus_plan_make(o.shard_cpus, o.work_cpus, o.cfg.threads, cp, &pe)) {
        fprintf(stderr, "revd: %s\n", cp == NULL ? "out of memory" : pe.msg);
        goto out;
    }
    /* The signals are taken by sigwait: blocked before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct rerr e;
    if (!fs_mkdirs(dir, 0700, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        goto out;
    }
    char store_dir[PATH_MAX];
    snprintf(store_dir, sizeof(store_dir), "%s/ocsp", dir);
    if (!fs_mkdirs(store_dir, 0700, &e)) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        goto out;
    }
    struct feed_edge_config fc = {o.nats, dir, o.nats_hub_domain, o.trust, o.heartbeat_max_age, store_dir,
                                  (uint64_t)o.response_cache / SETTINGS_RESPONSE_BYTES};
    struct gen *g = NULL;
    struct crl_set *crls = NULL;
    struct feed_edge *x = feed_edge_open(&fc, &g, &crls, &e);
    if (x == NULL) {
        rlog(LOG_ERR, "serve.start_failed", "%s", e.msg);
        goto out;
    }
    rc = serve_edge(&o, cp, x, g, crls);
    feed_edge_free(x);
out:
    free(cp);
    conf_free(conf);
    return rc;
}
