/* publish (crl_publish_*): the CRL publisher of `revd serve`. It keeps every
 * CA's CRLs made (crl/make), published as files under DIR/crl/ (crl/file)
 * and as a crl_set for the shards; a revocation marks its partition dirty,
 * and dirty partitions are rebuilt once the coalescing window has passed
 * (a burst rebuilds each partition once); every CRL is re-signed at half
 * its validity. A failed build is logged, counted and retried with a
 * backoff while the previous CRL stays served. CRLs are made in batches on
 * crl/pool's threads (as many as ca_ocsp_threads, else the cores), and a
 * pass that rebuilds every CRL of every CA logs crl.rebuilt_all with how
 * many and how long.
 *
 * Thread: the CA-core thread. */
#ifndef REVD_CRL_PUBLISH_H
#define REVD_CRL_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

struct crl_publisher;
struct crl_set;

struct crl_publish_stats {
    uint64_t built, failures, reused; /* reused: taken back from DIR/crl/ at start */
    double last_build_ms;
};

/* crl_publish_new takes back the CRLs published under DIR/crl/ that are still
 * the last ones built and before their re-signing time, and builds, checks
 * and publishes the others. NULL with e set on failure. */
struct crl_publisher *crl_publish_new(struct ca_core *c, int64_t validity, int64_t coalesce_ms, struct rerr *e);

/* crl_publish_set: the current set (the publisher keeps its own reference). */
struct crl_set *crl_publish_set(const struct crl_publisher *p);

/* crl_publish_changed notes certificates whose status changed (their
 * partitions are rebuilt after the coalescing window); crl_publish_changed_all
 * that anything may have changed (an import, a new CA, more changes than
 * the core lists): after the window, the CRLs that are stale (their
 * partition changed since they were built, or their CA's name or key) are
 * rebuilt, and only those; crl_publish_rebuild_all that every CRL is
 * (an operator asked). */
void crl_publish_changed(struct crl_publisher *p, const struct ca_change *ch, size_t n);
void crl_publish_changed_all(struct crl_publisher *p);
void crl_publish_rebuild_all(struct crl_publisher *p);

/* crl_publish_adopt_files takes into the set the CRL files under DIR/crl/
 * newer than those it serves (`revd crl rebuild` run through the socket
 * builds and writes them itself), so that the file and the URL agree.
 * Returns 1 when the set changed. */
int crl_publish_adopt_files(struct crl_publisher *p);

/* crl_publish_tick rebuilds what is due. Returns 1 when the set changed;
 * *wait_ms: how soon it wants to be called again (at most 1000). */
int crl_publish_tick(struct crl_publisher *p, int *wait_ms);

void crl_publish_stats(const struct crl_publisher *p, struct crl_publish_stats *out);
void crl_publish_free(struct crl_publisher *p);

/* crl_publish_set_timing: a new --crl-validity (the next CRLs built) and
 * --crl-coalesce (the next changes). */
void crl_publish_set_timing(struct crl_publisher *p, int64_t validity, int64_t coalesce_ms);

/* crl_publish_set_metrics: builds, failures, build time and the time from a
 * status change to its CRL are counted into m from now on (shard/metrics.h). */
struct metrics_core;
void crl_publish_set_metrics(struct crl_publisher *p, struct metrics_core *m);

#endif
