/* metrics: what `GET /metrics` reports, in Prometheus' text format 0.0.4.
 *
 * Each shard counts into its own struct shard_metrics, alone: relaxed
 * atomic stores of a value it read itself (no read-modify-write, no lock,
 * no shared cache line with another shard's counters). The CA-core thread
 * counts into struct metrics_core the same way. metrics_render, run by
 * whichever shard answers /metrics, sums every shard's counters with
 * relaxed loads: a moment's view, in which each counter only grows.
 *
 * Thread: metrics_count_* and metrics_observe by the owner of the struct
 * only; metrics_render by any thread. */
#ifndef REVD_SHARD_METRICS_H
#define REVD_SHARD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What a request asked for. */
enum metric_kind { MK_OCSP_GET, MK_OCSP_POST, MK_CRL, MK_CA_CERT, MK_HEALTHZ, MK_METRICS, MK_OTHER, MK_NUM };

/* The HTTP status codes the shards send; anything else counts as "other". */
#define METRIC_CODES 15

/* Hostile or broken input, each counted where it is refused. */
enum metric_hostile {
    MH_BAD_DER,        /* an OCSP request that is not strict DER, or a bad GET path */
    MH_BAD_HTTP,       /* malformed HTTP framing (400) */
    MH_OVERSIZED,      /* request line, head or body over its cap (413, 414, 431) */
    MH_UNKNOWN_ISSUER, /* a CertID naming no CA revd serves */
    MH_UNKNOWN_SERIAL, /* a serial the CA never issued */
    MH_READ_TIMEOUT,   /* a request unfinished past --read-timeout (slow senders) */
    MH_CONN_REFUSED,   /* past the connection cap, with no idle connection to make room */
    MH_CONN_EVICTED,   /* an idle connection closed at the cap to make room for a new one */
    MH_NUM
};

/* A histogram: counts per bucket (cumulated when rendered), count, sum in
 * the histogram's integer unit. */
#define METRIC_BUCKETS_MAX 14
struct metric_hist {
    _Atomic uint64_t bucket[METRIC_BUCKETS_MAX + 1]; /* the last: +Inf */
    _Atomic uint64_t count, sum;
};

/* Where a response of a CA on disk came from: the shard's cache, the page
 * cache (read on the shard), a store reader; or tryLater (the readers'
 * queue full). */
enum metric_store_way { MS_CACHE, MS_PAGE_CACHE, MS_READER, MS_BUSY, MS_NUM };

struct shard_metrics {
    _Atomic uint64_t requests[MK_NUM][METRIC_CODES];
    _Atomic uint64_t ocsp_requests[4][2]; /* [enum ocsp_hash][nonce] */
    _Atomic uint64_t ocsp_status[7];      /* [enum ocsp_resp_status] */
    _Atomic uint64_t hostile[MH_NUM];
    /* Responses of CAs on disk (ocsp/store.h), by where a lookup found
     * them: [enum metric_store_way]. */
    _Atomic uint64_t ocsp_store[MS_NUM];
    _Atomic uint64_t conns_accepted, conns_open, idle_closed;
    struct metric_hist latency;  /* ns: request complete in the input to its answer queued */
    struct metric_hist age;      /* s: now - thisUpdate of each OCSP response served */
    /* ns: each turn of the shard's loop, from its wait returning to its
     * next wait (what it got, processed); and the longest since start. */
    struct metric_hist loop_stall;
    _Atomic uint64_t loop_stall_max;
    char pad[64];
};

/* The CA-core thread's figures. */
/* The NATS feed's (feed/pub.h on a primary, feed/edge.h on an edge):
 * each field has one writer except refused and stale (atomic adds). */
struct metrics_feed {
    _Atomic uint64_t role; /* 0: no feed, 1: a primary that publishes, 2: an edge */
    _Atomic uint64_t outbox_depth, outbox_age_s, published, publish_errors;       /* primary */
    _Atomic uint64_t lag_messages, lag_s, applied, refused, stale, bootstrap;     /* edge */
};

struct metrics_core {
    struct metrics_feed feed;
    _Atomic uint64_t crl_builds, crl_failures, publications, publish_failures, refreshed;
    _Atomic uint64_t sign_queue; /* gauge: status changes waiting to be signed and published */
    _Atomic uint64_t responses;  /* gauge: certificates in the published tables */
    _Atomic int64_t reloaded_at; /* gauge: the last configuration (re)load, Unix seconds */
    struct metric_hist crl_build;   /* µs: one CRL read, built, signed, checked and stored */
    struct metric_hist revoke_ocsp; /* µs: a command received to its new OCSP responses served */
    struct metric_hist revoke_crl;  /* µs: a status change noted to its CRL partition served */
};

enum metric_hist_kind { MHK_LATENCY_NS, MHK_AGE_S, MHK_US };

/* metrics_observe adds v (in the histogram's unit) to h. Owner only. */
void metrics_observe(struct metric_hist *h, enum metric_hist_kind kind, uint64_t v);

/* metrics_add: *x += n, by its only writer. */
static inline void metrics_add(_Atomic uint64_t *x, uint64_t n) {
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n, memory_order_relaxed);
}

/* metrics_max: *x = max(*x, v), by its only writer. */
static inline void metrics_max(_Atomic uint64_t *x, uint64_t v) {
    if (v > atomic_load_explicit(x, memory_order_relaxed)) atomic_store_explicit(x, v, memory_order_relaxed);
}

/* metrics_code_index: the slot of an HTTP status code. */
int metrics_code_index(int status);

/* metrics_render writes the text exposition of n shards' metrics and the
 * core's (may be NULL) into out. Returns its length, or 0 when it does not
 * fit in cap. */
size_t metrics_render(const struct shard_metrics *const *shards, int n, const struct metrics_core *core, char *out,
                      size_t cap);

#endif
