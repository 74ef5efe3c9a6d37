#include "shard/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const int codes[METRIC_CODES] = {200, 304, 400, 404, 405, 411, 412, 413, 414, 415, 431, 500, 501, 505, 0};

int metrics_code_index(int status) {
    for (int i = 0; i < METRIC_CODES - 1; i++)
        if (codes[i] == status) return i;
    return METRIC_CODES - 1;
}

/* Bucket upper bounds, in each kind's unit; the label is the same bound
 * in seconds. */
static const uint64_t b_latency[] = {10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
                                     5000000, 10000000, 50000000, 100000000, 500000000, 1000000000};
static const char *const l_latency[] = {"1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001",
                                        "0.0025", "0.005", "0.01", "0.05", "0.1", "0.5", "1"};
static const uint64_t b_age[] = {60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400};
static const char *const l_age[] = {"60", "300", "900", "3600", "14400", "43200", "86400", "172800", "345600",
                                    "604800"};
static const uint64_t b_us[] = {1000, 5000, 10000, 50000, 100000, 250000, 500000, 1000000, 1500000, 2000000,
                                5000000, 10000000, 60000000};
static const char *const l_us[] = {"0.001", "0.005", "0.01", "0.05", "0.1", "0.25", "0.5", "1", "1.5", "2", "5",
                                   "10", "60"};

static void bounds(enum metric_hist_kind kind, const uint64_t **b, const char *const **l, size_t *n, double *unit) {
    switch (kind) {
    case MHK_LATENCY_NS: *b = b_latency, *l = l_latency, *n = sizeof(b_latency) / 8, *unit = 1e-9; break;
    case MHK_AGE_S: *b = b_age, *l = l_age, *n = sizeof(b_age) / 8, *unit = 1; break;
    default: *b = b_us, *l = l_us, *n = sizeof(b_us) / 8, *unit = 1e-6; break;
    }
}

void metrics_observe(struct metric_hist *h, enum metric_hist_kind kind, uint64_t v) {
    const uint64_t *b;
    const char *const *l;
    size_t n, i = 0;
    double unit;
    bounds(kind, &b, &l, &n, &unit);
    while (i < n && v > b[i]) i++;
    metrics_add(&h->bucket[i], 1);
    metrics_add(&h->count, 1);
    metrics_add(&h->sum, v);
}

struct out {
    char *p;
    size_t len, cap;
    int overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...) {
    if (o->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) o->overflow = 1;
    else o->len += (size_t)n;
}

static uint64_t ld(const _Atomic uint64_t *x) { return atomic_load_explicit(x, memory_order_relaxed); }

#define SUM(expr)                                                                                                     \
    ({                                                                                                                \
        uint64_t s_ = 0;                                                                                              \
        for (int i_ = 0; i_ < n; i_++) s_ += ld(&shards[i_]->expr);                                                   \
        s_;                                                                                                           \
    })

static void family(struct out *o, const char *name, const char *type, const char *help) {
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* scalar writes a family of one unlabelled sample. */
static void scalar(struct out *o, const char *name, const char *type, const char *help, uint64_t v) {
    family(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* Writes histogram name from hs[0..nh) summed. */
static void hist(struct out *o, const char *name, const char *help, const struct metric_hist *const *hs, int nh,
                 enum metric_hist_kind kind) {
    const uint64_t *b;
    const char *const *l;
    size_t nb;
    double unit;
    bounds(kind, &b, &l, &nb, &unit);
    family(o, name, "histogram", help);
    uint64_t cum = 0, count = 0, sum = 0;
    for (size_t i = 0; i <= nb; i++) {
        for (int k = 0; k < nh; k++) cum += ld(&hs[k]->bucket[i]);
        if (i < nb) put(o, "%s_bucket{le=\"%s\"} %llu\n", name, l[i], (unsigned long long)cum);
    }
    for (int k = 0; k < nh; k++) {
        count += ld(&hs[k]->count);
        sum += ld(&hs[k]->sum);
    }
    /* +Inf is the count, so that the buckets and the count agree even when
     * read while a shard is between its stores. */
    if (count < cum) count = cum;
    put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, (unsigned long long)count, name,
        (double)sum * unit, name, (unsigned long long)count);
}

static const char *const kind_names[MK_NUM] = {"ocsp_get", "ocsp_post", "crl", "ca_cert", "healthz", "metrics",
                                               "other"};
static const char *const hash_names[4] = {"sha1", "sha256", "sha384", "sha512"};
static const char *const hostile_names[MH_NUM] = {"bad_der",        "bad_http",     "oversized",
                                                  "unknown_issuer", "unknown_serial", "read_timeout",
                                                  "conn_refused",   "conn_evicted"};

/* The feed's, when there is one. */
static void feed_metrics(struct out *o, const struct metrics_feed *f) {
    uint64_t role = ld(&f->role);
    if (role == 1) {
        scalar(o, "revd_feed_outbox_depth", "gauge", "Messages waiting to be acknowledged by NATS JetStream.",
               ld(&f->outbox_depth));
        scalar(o, "revd_feed_outbox_age_seconds", "gauge", "Age of the oldest message waiting.", ld(&f->outbox_age_s));
        scalar(o, "revd_feed_published_total", "counter", "Messages acknowledged by NATS JetStream.", ld(&f->published));
        scalar(o, "revd_feed_publish_errors_total", "counter", "Batches that failed and were sent again.",
               ld(&f->publish_errors));
    } else if (role == 2) {
        scalar(o, "revd_edge_lag_messages", "gauge", "Messages in the streams not yet applied.", ld(&f->lag_messages));
        scalar(o, "revd_edge_lag_seconds", "gauge", "Age of the primary's last heartbeat applied.", ld(&f->lag_s));
        scalar(o, "revd_edge_applied_total", "counter", "Messages verified, stored and served.", ld(&f->applied));
        scalar(o, "revd_edge_refused_total", "counter",
               "Messages refused: malformed, not signed by a known CA, or older than what is held.", ld(&f->refused));
        scalar(o, "revd_edge_stale_total", "counter", "Answers refused because what is held is past its nextUpdate.",
               ld(&f->stale));
        scalar(o, "revd_edge_bootstrap_messages", "gauge", "Messages read while bootstrapping (until caught up).",
               ld(&f->bootstrap));
    }
}

size_t metrics_render(const struct shard_metrics *const *shards, int n, const struct metrics_core *core, char *out,
                      size_t cap) {
    struct out o = {out, 0, cap, 0};
    family(&o, "revd_http_requests_total", "counter", "HTTP requests answered, by what they asked for and status.");
    for (int k = 0; k < MK_NUM; k++)
        for (int c = 0; c < METRIC_CODES; c++) {
            uint64_t v = SUM(requests[k][c]);
            if (v == 0 && !(c == 0 && k <= MK_CRL)) continue; /* the main series always exist */
            if (codes[c] != 0)
                put(&o, "revd_http_requests_total{kind=\"%s\",code=\"%d\"} %llu\n", kind_names[k], codes[c],
                    (unsigned long long)v);
            else
                put(&o, "revd_http_requests_total{kind=\"%s\",code=\"other\"} %llu\n", kind_names[k],
                    (unsigned long long)v);
        }
    family(&o, "revd_ocsp_requests_total", "counter", "Parsed OCSP requests, by CertID hash and nonce.");
    for (int h = 0; h < 4; h++)
        for (int nn = 0; nn < 2; nn++)
            put(&o, "revd_ocsp_requests_total{hash=\"%s\",nonce=\"%s\"} %llu\n", hash_names[h], nn ? "yes" : "no",
                (unsigned long long)SUM(ocsp_requests[h][nn]));
    family(&o, "revd_ocsp_responses_total", "counter", "OCSP responses sent, by responseStatus.");
    static const char *const st_names[7] = {"successful", "malformedRequest", "internalError", "tryLater", NULL,
                                            "sigRequired", "unauthorized"};
    for (int s = 0; s < 7; s++)
        if (st_names[s] != NULL)
            put(&o, "revd_ocsp_responses_total{status=\"%s\"} %llu\n", st_names[s],
                (unsigned long long)SUM(ocsp_status[s]));
    family(&o, "revd_ocsp_store_lookups_total", "counter",
           "Responses of CAs on disk, by where they came from (busy: tryLater, the readers full).");
    static const char *const way_names[MS_NUM] = {"cache", "page_cache", "reader", "busy"};
    for (int w = 0; w < MS_NUM; w++)
        put(&o, "revd_ocsp_store_lookups_total{way=\"%s\"} %llu\n", way_names[w],
            (unsigned long long)SUM(ocsp_store[w]));
    family(&o, "revd_hostile_input_total", "counter", "Requests and connections refused as broken or hostile.");
    for (int h = 0; h < MH_NUM; h++)
        put(&o, "revd_hostile_input_total{what=\"%s\"} %llu\n", hostile_names[h], (unsigned long long)SUM(hostile[h]));
    family(&o, "revd_connections_accepted_total", "counter", "TCP connections accepted.");
    put(&o, "revd_connections_accepted_total %llu\n", (unsigned long long)SUM(conns_accepted));
    family(&o, "revd_connections_idle_closed_total", "counter", "Connections closed after --idle-timeout.");
    put(&o, "revd_connections_idle_closed_total %llu\n", (unsigned long long)SUM(idle_closed));
    family(&o, "revd_connections_open", "gauge", "TCP connections open now.");
    put(&o, "revd_connections_open %llu\n", (unsigned long long)SUM(conns_open));
    family(&o, "revd_shards", "gauge", "Shards (event loops, one per core).");
    put(&o, "revd_shards %d\n", n);
    const struct metric_hist *hs[256] = {0};
    int nh = n < 256 ? n : 256;
    for (int i = 0; i < nh; i++) hs[i] = &shards[i]->latency;
    hist(&o, "revd_response_latency_seconds",
         "From a request complete in the input to its answer queued for sending (the signing lane included).", hs,
         nh, MHK_LATENCY_NS);
    for (int i = 0; i < nh; i++) hs[i] = &shards[i]->age;
    hist(&o, "revd_ocsp_response_age_seconds", "Age (now - thisUpdate) of each OCSP response served.", hs, nh,
         MHK_AGE_S);
    for (int i = 0; i < nh; i++) hs[i] = &shards[i]->loop_stall;
    hist(&o, "revd_shard_loop_stall_seconds",
         "Each turn of a shard's event loop: from its wait returning to its next wait (the events it got, processed).",
         hs, nh, MHK_LATENCY_NS);
    uint64_t stall_max = 0;
    for (int i = 0; i < n; i++)
        if (ld(&shards[i]->loop_stall_max) > stall_max) stall_max = ld(&shards[i]->loop_stall_max);
    family(&o, "revd_shard_loop_stall_max_seconds", "gauge",
           "The longest turn of any shard's event loop since start (nothing else ran on that shard meanwhile).");
    put(&o, "revd_shard_loop_stall_max_seconds %.9f\n", (double)stall_max * 1e-9);
    if (core != NULL) {
        scalar(&o, "revd_crl_builds_total", "counter", "CRLs built, signed and published.", ld(&core->crl_builds));
        scalar(&o, "revd_crl_build_failures_total", "counter", "CRL builds that failed (the previous CRL stays).", ld(&core->crl_failures));
        scalar(&o, "revd_publications_total", "counter", "New generations of responses handed to the shards.", ld(&core->publications));
        scalar(&o, "revd_publish_failures_total", "counter", "Re-signings after a change that failed (retried).", ld(&core->publish_failures));
        scalar(&o, "revd_ocsp_refreshed_total", "counter", "OCSP responses re-signed before they expire.", ld(&core->refreshed));
        scalar(&o, "revd_signing_queue_depth", "gauge", "Status changes waiting to be signed and published.", ld(&core->sign_queue));
        scalar(&o, "revd_ocsp_certificates", "gauge", "Certificates with responses in the published tables.", ld(&core->responses));
        family(&o, "revd_config_loaded_timestamp_seconds", "gauge", "When the configuration was last (re)loaded.");
        put(&o, "revd_config_loaded_timestamp_seconds %lld\n",
            (long long)atomic_load_explicit(&core->reloaded_at, memory_order_relaxed));
        feed_metrics(&o, &core->feed);
        const struct metric_hist *one[1] = {&core->crl_build};
        hist(&o, "revd_crl_build_seconds", "One CRL read from the index, built, signed, checked and stored.", one, 1,
             MHK_US);
        one[0] = &core->revoke_ocsp;
        hist(&o, "revd_revocation_to_ocsp_seconds", "A status-changing command received to its responses served.",
             one, 1, MHK_US);
        one[0] = &core->revoke_crl;
        hist(&o, "revd_revocation_to_crl_seconds", "A status change noted to its CRL partition served.", one, 1,
             MHK_US);
    }
    return o.overflow ? 0 : o.len;
}
