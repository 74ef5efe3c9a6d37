/* cpus: where the threads of `revd serve` run (the shard-cpus and
 * work-cpus settings, node/settings.c): a plan made at start from the
 * cores this process may use (sched_getaffinity), then applied once the
 * shards run. The shards get one core each, round robin over the shard
 * cores (shard/server.c pins them through struct server_config); every
 * other thread of the process (the CA-core thread, RocksDB's background
 * threads, the signing lane, the store readers, ...) is moved onto the
 * work cores, so the threads it starts later (bulk signing, CRL building,
 * the feed, webhooks) inherit them. When the work cores include a shard
 * core, those threads also run at nice +10 (CPUS_LOW_NICE over the
 * process's own, at most 19), so a burst of signing or a
 * compaction yields to serving.
 *
 * Ownership: a struct cpus_plan is plain data, owned by the caller.
 * Returns: 1/0, errors through a struct rerr or a why buffer.
 * Thread: cpus_plan_make and cpus_place on the thread that starts the
 * server (the CA-core thread, before and after server_start); cpus_check
 * and cpus_describe on any. */
#ifndef REVD_NODE_CPUS_H
#define REVD_NODE_CPUS_H

#include <sched.h>
#include <stddef.h>

#include "common/rerr.h"

/* The most cores a list may name (the size of a cpu_set_t). */
#define CPUS_MAX CPU_SETSIZE

/* How much nicer the work threads are when they share the shards' cores. */
#define CPUS_LOW_NICE 10

struct cpus_plan {
    int off;                 /* shard-cpus off: nothing placed (the cores below unused) */
    int shard[CPUS_MAX];     /* the shard cores, ascending */
    int num_shard;
    cpu_set_t work;          /* where every other thread runs */
    int num_work;
    int low_priority;        /* the work cores include a shard core: at nice below */
    int nice;                /* the starting thread's nice + CPUS_LOW_NICE, at most 19 */
    int num_allowed;         /* the cores this process may use */
};

/* cpus_check says whether v is a core list ("0-3,6": numbers and ranges,
 * ascending or not, comma-separated, each below CPUS_MAX, no blanks, no
 * empty item, no range running backwards). On success, *out (may be NULL)
 * holds the cores. 1, or 0 with why set to what is wrong. */
int cpus_check(const char *v, cpu_set_t *out, char *why, size_t wl);

/* cpus_plan_make makes the plan for shard_spec ("auto", "off" or a list)
 * and work_spec ("auto" or a list) over the cores the calling thread may
 * use, for threads shards (0: as many as the plan has shard cores). Under
 * auto the shard cores are, of the allowed cores in ascending order: all
 * but the last when threads is 0 (the one, when there is only one); the
 * first threads when threads is below their number; else all of them.
 * 1, or 0 with e naming the setting and the core that is not allowed. */
int cpus_plan_make(const char *shard_spec, const char *work_spec, int threads, struct cpus_plan *out,
                   struct rerr *e);

/* cpus_place moves every thread of the process whose name does not start
 * with "revd-shard" (nor "iou-", io_uring's own workers) onto the plan's
 * work cores (and to the plan's nice when low_priority, unless nicer
 * already), the calling thread included. Nothing when the plan
 * is off. 1, or 0 with e set (a thread that ended meanwhile is skipped). */
int cpus_place(const struct cpus_plan *p, struct rerr *e);

/* cpus_describe writes the placement as the start log says it ("shards
 * on cores 0; signing, CRLs, index on cores 1"). */
void cpus_describe(const struct cpus_plan *p, char *out, size_t cap);

#endif
