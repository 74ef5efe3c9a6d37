/* bench_crl: the CRL publisher of `revd serve` on a data directory, in one
 * process, without the OCSP side.
 *
 *   bench_crl DIR [THREADS]
 *
 * Opens DIR and starts the publisher as `revd serve` does (crl_publish_new:
 * the CRLs published under DIR/crl/ that are still current are taken back,
 * the others built), then makes it rebuild every CRL of every CA
 * (crl_publish_rebuild_all, ticked until nothing is due), and prints both
 * times. THREADS (default: the cores) is what --threads gives the
 * publisher. Run it twice on a copy of DIR: the first start builds, the
 * second takes back. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/responder.h"
#include "common/rerr.h"
#include "crl/pool.h"
#include "crl/publish.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_crl DIR [THREADS]\n");
        return 2;
    }
    struct ca_core *c;
    struct rerr e;
    if (!ca_core_open(argv[1], 0, &c, &e)) {
        fprintf(stderr, "bench_crl: %s\n", e.msg);
        return 1;
    }
    ca_ocsp_set_threads(c, crl_pool_threads(argc == 3 ? atoi(argv[2]) : 0));
    double t0 = now();
    struct crl_publisher *p = crl_publish_new(c, 7 * 86400, 0, &e);
    if (p == NULL) {
        fprintf(stderr, "bench_crl: %s\n", e.msg);
        ca_core_free(c);
        return 1;
    }
    double t1 = now();
    struct crl_publish_stats st;
    crl_publish_stats(p, &st);
    printf("start: %llu CRLs built, %llu taken back in %.3f s on %d threads\n", (unsigned long long)st.built,
           (unsigned long long)st.reused, t1 - t0, ca_ocsp_threads(c));
    uint64_t built0 = st.built;
    crl_publish_rebuild_all(p);
    int wait = 0;
    do crl_publish_tick(p, &wait);
    while (wait == 0);
    double t2 = now();
    crl_publish_stats(p, &st);
    printf("rebuild all: %llu CRLs built (%llu failed) in %.3f s\n", (unsigned long long)(st.built - built0),
           (unsigned long long)st.failures, t2 - t1);
    crl_publish_free(p);
    ca_core_free(c);
    return 0;
}
