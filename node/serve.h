/* serve: the serving process of `revd serve` (node/serve.c): it holds DIR
 * and answers the other commands over its control socket (node/ctl.h);
 * with listen set it also runs the shards (shard/server.h) over the
 * generations of signed responses it builds, the CRL publisher, the admin
 * API, webhooks, scheduled reports and the hourly housekeeping. Its
 * settings: node/settings.h.
 *
 * Returns: the exit status (0 stopped by a signal, 1 failed, 2 a usage
 * error in argv). Thread: the main thread, which becomes the CA-core
 * thread; once per process. */
#ifndef REVD_NODE_SERVE_H
#define REVD_NODE_SERVE_H

/* serve_run serves dir with the settings of argv (argv[0] is "serve";
 * --dir and --config are skipped there, the rest are settings) over those
 * of the settings file, until SIGTERM or SIGINT. */
int serve_run(const char *dir, int argc, char **argv);

struct settings;
struct cpus_plan;

/* serve_threads: how many shards serve: --threads, or one per shard core
 * of p (one per core online when p is off). Any thread. */
int serve_threads(const struct settings *o, const struct cpus_plan *p);

#endif
