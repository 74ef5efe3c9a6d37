/* settings: `revd serve`'s settings table and what it drives (node/settings.h). */
#include "node/settings.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cidr.h"
#include "acme/profile.h"
#include "acme/validate.h"
#include "common/rerr.h"
#include "node/cpus.h"
#include "node/webhook.h"
#include "ocsp/response.h"
#include "shard/server.h"

/* A numeric macro as the string the table wants for its default. */
#define SETTINGS_STR_(x) #x
#define SETTINGS_STR(x) SETTINGS_STR_(x)

/* A number macro as the table's text (the default of another module). */
#define STR_(x) #x
#define STR(x) STR_(x)

#define FIELD(f) .offset = offsetof(struct settings, f), .size = sizeof(((struct settings *)0)->f)

static const struct settings_choice on_off[] = {{"on", 1}, {"off", 0}, {NULL, 0}};
static const struct settings_choice metrics_on_off[] = {{"on", 0}, {"off", 1}, {NULL, 0}};
static const struct settings_choice nonce_choices[] = {{"echo", 1}, {"off", 0}, {NULL, 0}};
static const struct settings_choice unknown_choices[] = {{"unauthorized", 0}, {"signed", 1}, {NULL, 0}};
static const struct settings_choice io_choices[] = {
    {"uring", SERVER_IO_URING}, {"libevent", SERVER_IO_LIBEVENT}, {NULL, 0}};
static const struct settings_choice shard_cpus_choices[] = {{"auto", 0}, {"off", 0}, {NULL, 0}};
static const struct settings_choice work_cpus_choices[] = {{"auto", 0}, {NULL, 0}};
static const struct settings_choice log_choices[] = {{"plain", LOG_PLAIN}, {"kv", LOG_KV}, {"json", LOG_JSON}, {NULL, 0}};
static const struct settings_choice report_choices[] = {{"csv", SETTINGS_REPORT_CSV},
                                                        {"json", SETTINGS_REPORT_JSON},
                                                        {"both", SETTINGS_REPORT_CSV | SETTINGS_REPORT_JSON},
                                                        {NULL, 0}};

static const struct settings_choice eab_choices[] = {{"required", 0}, {"optional", 1}, {NULL, 0}};

static int check_resolver(const char *v, char *why, size_t wl) {
    struct rerr e = {{0}};
    if (acme_vconf_resolver_ok(v, &e)) return 1;
    snprintf(why, wl, "%s", e.msg);
    return 0;
}

static int check_profile(const char *v, char *why, size_t wl) {
    if (acme_profile_find(v) != NULL) return 1;
    snprintf(why, wl, "an ACME profile: server, end-entity, client or short-lived");
    return 0;
}

static int check_acme_url(const char *v, char *why, size_t wl) {
    if (strncmp(v, "https://", 8) == 0 && strlen(v) < 200 && strspn(v + 8, "abcdefghijklmnopqrstuvwxyz"
                                                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]/") ==
                                                                   strlen(v + 8))
        return 1;
    snprintf(why, wl, "an https:// URL of under 200 characters (host, port, path)");
    return 0;
}

static int check_uring_off(const char *v, char *why, size_t wl) {
    unsigned mask;
    struct rerr e = {{0}};
    if (server_uring_off_parse(v, &mask, &e)) return 1;
    snprintf(why, wl, "%s", e.msg);
    return 0;
}

/* The table. Its order is the docs' and the error's list of names. */
static const struct setting table[] = {
    {.name = "listen", .type = SETTINGS_STRING, FIELD(cfg.listen), .arg = "ADDRESS:PORT",
     .def_doc = "none: no OCSP or CRL listener", .reload = SETTINGS_START,
     .doc = "answer OCSP (POST /ocsp, GET /ocsp/{base64}), /ca/NAME.der, /crl/..., /healthz and /metrics over "
            "HTTP on this address, from precomputed responses; CRLs are also published under DIR/crl/"},
    {.name = "threads", .type = SETTINGS_INT, FIELD(cfg.threads), .min = 1, .max = 256, .arg = "N",
     .def_doc = "one per shard core (one per core with shard-cpus off)", .reload = SETTINGS_START,
     .doc = "shards answering HTTP, round robin over the shard cores; when given, also how many threads sign in "
            "bulk (the first start, a new CA, an import, refresh passes), which otherwise use every core at the "
            "first start and the work cores after it"},
    {.name = "shard-cpus", .type = SETTINGS_CPUS, FIELD(shard_cpus), .choices = shard_cpus_choices, .def = "auto",
     .def_doc = "auto: of the cores this process may use, all but the highest, which is left to the rest (the "
                "one core when there is only one); with --threads N, the lowest N (all of them when N is as many "
                "or more)",
     .arg = "LIST", .reload = SETTINGS_START,
     .doc = "the cores the shards run on, one core each (a list as 0-3,6, of cores this process may use; "
            "off: revd places no thread, the system does)"},
    {.name = "work-cpus", .type = SETTINGS_CPUS, FIELD(work_cpus), .choices = work_cpus_choices, .def = "auto",
     .def_doc = "auto: the cores the shards do not use; every core when they use them all",
     .arg = "LIST", .reload = SETTINGS_START,
     .doc = "the cores every thread but the shards runs on after the first start's signing: the CA-core thread, "
            "bulk signing, the signing lane, CRL building, RocksDB's background work, the store readers, the "
            "feed and webhooks; where they share a core with a shard they run at nice +10"},
    {.name = "validity", .type = SETTINGS_DURATION, FIELD(validity), .min = OCSP_VALIDITY_MIN_S,
     .max = OCSP_VALIDITY_MAX_S,
     .def = "4d", .hint = " (as 8h, 96h, 4d, 28800)", .arg = "DURATION", .reload = SETTINGS_OWN,
     .reload_doc = "at once: a shorter one re-signs every response valid for longer (a full generation); "
                   "a longer one lets the shorter responses run to their refresh",
     .doc = "response validity (N, Ns, Nm, Nh or Nd); every response is re-signed at about half of it"},
    {.name = "response-cache", .type = SETTINGS_INT, FIELD(response_cache), .min = 0,
     .max = (int64_t)1 << 40, .unit = " bytes", .def = "268435456", .arg = "BYTES", .reload = SETTINGS_START,
     .doc = "memory for OCSP responses read from disk, shared out among the shards; a CA whose responses would "
            "not fit it (more certificates than BYTES / 2048) is served from a response store on disk "
            "(DIR/ocsp/ID.store), read off the shards' loops on a miss, and restarts without reading its "
            "responses back (0: every CA on disk, no cache)"},
    {.name = "max-age", .type = SETTINGS_INT, FIELD(cfg.max_age), .min = 0, .max = 7 * 86400, .unit = " seconds",
     .def = "3600", .arg = "SECONDS", .reload = SETTINGS_LIVE,
     .doc = "Cache-Control max-age cap; an answer's max-age never reaches past its nextUpdate or refresh"},
    {.name = "nonce", .type = SETTINGS_ENUM, FIELD(ocsp.nonce_echo), .choices = nonce_choices, .def = "off",
     .arg = "echo|off", .reload = SETTINGS_LIVE,
     .doc = "echo: a request with a nonce gets a freshly signed response carrying it (the signing lane); off: "
            "the precomputed response, without a nonce (RFC 5019)"},
    {.name = "unknown", .type = SETTINGS_ENUM, FIELD(ocsp.unknown_signed), .choices = unknown_choices,
     .def = "unauthorized", .arg = "unauthorized|signed", .reload = SETTINGS_START,
     .doc = "a serial the CA never issued: unauthorized, or a signed \"unknown\" (the signing lane); beside an "
            "issued one in a request with several CertIDs, always \"unknown\""},
    {.name = "sign-rate", .type = SETTINGS_INT, FIELD(ocsp.rate), .min = 0, .max = 10000000,
     .unit = " per second", .def = "1000", .arg = "N", .reload = SETTINGS_OWN,
     .reload_doc = "at once between two non-zero rates; to or from 0 at the next start",
     .doc = "signatures per second the signing lane may make for nonces, SHA-384/512 CertIDs, unknown serials "
            "and requests with several CertIDs (0: none); past it, the precomputed answer, or tryLater for a "
            "SHA-384/512 CertID or several CertIDs"},
    {.name = "io", .type = SETTINGS_ENUM, FIELD(cfg.io), .choices = io_choices, .arg = "uring|libevent",
     .def_doc = "uring, or libevent where io_uring is unavailable, said once at start", .reload = SETTINGS_START,
     .doc = "the shards' event loop"},
    {.name = "io-uring-off", .type = SETTINGS_STRING, FIELD(cfg.uring_off), .arg = "FEATURE,...",
     .def_doc = "none: every feature the kernel has", .reload = SETTINGS_START,
     .doc = "for tests: io_uring features the shards leave out, as a kernel without them would (defer-taskrun, "
            "recv-multishot, accept-multishot, poll-first, linked-close, all, none); the log says at start which "
            "are used",
     .check = check_uring_off},
    {.name = "idle-timeout", .type = SETTINGS_INT, FIELD(cfg.idle_timeout), .min = 1, .max = 86400,
     .unit = " seconds", .def_doc = STR(SERVER_IDLE_TIMEOUT_S), .arg = "S", .reload = SETTINGS_LIVE,
     .doc = "close a connection this many seconds after its last bytes"},
    {.name = "read-timeout", .type = SETTINGS_INT, FIELD(cfg.read_timeout), .min = 1, .max = 86400,
     .unit = " seconds", .def_doc = STR(SERVER_READ_TIMEOUT_S), .arg = "S", .reload = SETTINGS_LIVE,
     .doc = "close a connection whose request is still unfinished this many seconds after it began"},
    {.name = "crl-validity", .type = SETTINGS_DURATION, FIELD(crl_validity), .min = 3600, .max = 30 * 86400,
     .def = "7d", .arg = "D", .reload = SETTINGS_LIVE,
     .doc = "CRL validity (the next CRLs); each CRL is re-signed at half of it"},
    {.name = "crl-coalesce", .type = SETTINGS_DURATION_MS, FIELD(crl_coalesce_ms), .min = 0, .max = 600000,
     .def = "1s", .arg = "D", .reload = SETTINGS_LIVE,
     .doc = "how long after a revocation its CRL partition is rebuilt (Nms accepted): revocations within it "
            "share one rebuild"},
    {.name = "metrics", .type = SETTINGS_ENUM, FIELD(cfg.no_metrics), .choices = metrics_on_off, .def = "on",
     .flag = "no-metrics", .flag_value = "off", .reload = SETTINGS_LIVE,
     .doc = "on: GET /metrics answers in the Prometheus text format (docs/metrics.md); off: 404"},
    {.name = "drain-timeout", .type = SETTINGS_INT, FIELD(drain_timeout), .min = 0, .max = 600,
     .unit = " seconds", .def = "10", .arg = "S", .reload = SETTINGS_LIVE,
     .doc = "on SIGTERM, how long answers in progress may take before the connections are cut"},
    {.name = "expiry-warn-days", .type = SETTINGS_INT, FIELD(expiry_warn_days), .min = 0, .max = 365,
     .unit = " days", .def = "45", .arg = "N", .reload = SETTINGS_LIVE,
     .doc = "cert.expiring events, once a day, for certificates that expire within this many days (0: none)"},
    {.name = "events-file", .type = SETTINGS_PATH, FIELD(events_file), .max = PATH_MAX - 1, .arg = "PATH",
     .def_doc = "DIR/events.jsonl", .reload = SETTINGS_OWN,
     .reload_doc = "opened again at once (after a rotation, or a new path); the webhooks follow the old one "
                   "until the next start",
     .doc = "where events go (docs/events.md)"},
    {.name = "admin-listen", .type = SETTINGS_STRING, FIELD(admin_listen), .arg = "ADDRESS:PORT",
     .def_doc = "none: no admin API", .reload = SETTINGS_START,
     .doc = "the HTTPS admin API (docs/admin.md; revd admin init first)"},
    {.name = "require-approval", .type = SETTINGS_ENUM, FIELD(require_approval), .choices = on_off, .def = "off",
     .flag = "require-approval", .flag_value = "on", .reload = SETTINGS_START,
     .doc = "over the admin API, a second admin approves " ADMIN_APPROVAL_SUMMARY},
    {.name = "acme-listen", .type = SETTINGS_STRING, FIELD(acme_listen), .arg = "ADDRESS:PORT",
     .def_doc = "none: no ACME server", .reload = SETTINGS_START,
     .doc = "the ACME server (RFC 8555; docs/acme.md) over HTTPS on this address; its directory is "
            "https://ADDRESS:PORT/acme/directory (or under acme-url)"},
    {.name = "acme-cert", .type = SETTINGS_FILE, FIELD(acme_cert), .must = "a file of PEM certificates",
     .arg = "FILE", .def_doc = "none (needed with acme-listen)", .reload = SETTINGS_START,
     .doc = "the ACME server's TLS certificate chain (PEM; one revd issued itself will do); it and acme-key "
            "are read again on SIGHUP (a renewed certificate at the same path)"},
    {.name = "acme-key", .type = SETTINGS_FILE, FIELD(acme_key), .must = "a PEM private key file", .arg = "FILE",
     .def_doc = "none (needed with acme-listen)", .reload = SETTINGS_START,
     .doc = "the private key of acme-cert (PEM, unencrypted: it is no CA key)"},
    {.name = "acme-url", .type = SETTINGS_STRING, FIELD(acme_url), .arg = "URL",
     .def_doc = "https://ACME-LISTEN", .reload = SETTINGS_START, .check = check_acme_url,
     .doc = "the ACME server's URL as clients reach it (behind a proxy or a name): every URL it hands out, and "
            "every JWS's url, begins with it"},
    {.name = "acme-eab", .type = SETTINGS_ENUM, FIELD(acme_eab_optional), .choices = eab_choices,
     .def = "required", .arg = "required|optional", .reload = SETTINGS_START,
     .doc = "required: a new ACME account needs an External Account Binding key (revd acme eab-create), which "
            "names its CA, template and allowed names; optional: accounts without one issue from acme-ca"},
    {.name = "acme-ca", .type = SETTINGS_STRING, FIELD(acme_ca), .arg = "NAME",
     .def_doc = "none: accounts without an EAB key cannot order", .reload = SETTINGS_START,
     .doc = "the CA that issues to ACME accounts opened without an EAB key (acme-eab optional)"},
    {.name = "acme-template", .type = SETTINGS_STRING, FIELD(acme_template), .arg = "PROFILE", .def = "server",
     .reload = SETTINGS_START, .check = check_profile,
     .doc = "the profile (revd template) of accounts without an EAB key: server, end-entity, client or "
            "short-lived (docs/acme.md)"},
    {.name = "acme-resolver", .type = SETTINGS_STRING, FIELD(acme_resolver), .arg = "HOST:PORT",
     .def_doc = "the system's (/etc/resolv.conf)", .reload = SETTINGS_START, .check = check_resolver,
     .doc = "the only DNS server ACME validation asks (names for http-01 and tls-alpn-01, TXT for dns-01); no "
            "fallback to any other"},
    {.name = "acme-http-port", .type = SETTINGS_INT, FIELD(acme_http_port), .min = 1, .max = 65535, .def = "80",
     .arg = "N", .reload = SETTINGS_START,
     .doc = "for tests: the port http-01 validation connects to (RFC 8555 says 80)"},
    {.name = "acme-tls-port", .type = SETTINGS_INT, FIELD(acme_tls_port), .min = 1, .max = 65535, .def = "443",
     .arg = "N", .reload = SETTINGS_START,
     .doc = "for tests: the port tls-alpn-01 validation connects to (RFC 8737 says 443)"},
    {.name = "acme-validation-timeout", .type = SETTINGS_INT, FIELD(acme_validation_timeout), .min = 1, .max = 120,
     .unit = " seconds", .def = "10", .arg = "S", .reload = SETTINGS_START,
     .doc = "one validation attempt, whole (connect, TLS, answer; every redirect)"},
    {.name = "acme-validation-threads", .type = SETTINGS_INT, FIELD(acme_validation_threads), .min = 1, .max = 64,
     .def = "4", .arg = "N", .reload = SETTINGS_START,
     .doc = "threads validating challenges at once (each waits on the network, not on a core)"},
    {.name = "acme-orders-per-hour", .type = SETTINGS_INT, FIELD(acme_orders_per_hour), .min = 0, .max = 1000000,
     .def = "300", .arg = "N", .reload = SETTINGS_START,
     .doc = "new orders one ACME account may open an hour (0: no limit); past it, rateLimited (429)"},
    {.name = "acme-accounts-per-hour", .type = SETTINGS_INT, FIELD(acme_accounts_per_hour), .min = 0,
     .max = 1000000, .def = "100", .arg = "N", .reload = SETTINGS_START,
     .doc = "new ACME accounts one client address may open an hour (0: no limit); past it, rateLimited (429)"},
    {.name = "acme-max-days", .type = SETTINGS_INT, FIELD(acme_max_days), .min = 1, .max = 3650, .unit = " days",
     .def = "90", .arg = "N", .reload = SETTINGS_START,
     .doc = "an ACME certificate's validity: the default, and the most an order's notAfter may ask"},
    {.name = "acme-max-conns", .type = SETTINGS_INT, FIELD(acme_max_conns), .min = 1, .max = 65536, .def = "1024",
     .arg = "N", .reload = SETTINGS_START,
     .doc = "ACME connections open at once, at most (the deadlines are admin-handshake-timeout and "
            "admin-request-timeout; the descriptor reserve is fd-reserve)"},
    {.name = "acme-max-conns-per-source", .type = SETTINGS_INT, FIELD(acme_max_conns_per_source), .min = 1,
     .max = 65536, .def = "64", .arg = "N", .reload = SETTINGS_START,
     .doc = "ACME connections from one client address (for IPv6, its /64); more are closed"},
    {.name = "webhook-url", .type = SETTINGS_URLS, FIELD(webhook_url), .arg = "URLS", .def_doc = "none",
     .reload = SETTINGS_START,
     .doc = "POST every event to these http(s) URLs (comma-separated, at most 4), retried until delivered "
            "(docs/events.md)"},
    {.name = "nats", .type = SETTINGS_STRING, FIELD(nats), .arg = "URLS", .def_doc = "none: no feed",
     .reload = SETTINGS_START,
     .doc = "NATS JetStream servers (nats://HOST:PORT, comma-separated): a primary publishes every signed "
            "response, CRL and CA certificate there for its edges; an edge (--edge) reads them from there "
            "(docs/edge.md)"},
    {.name = "nats-hub-domain", .type = SETTINGS_STRING, FIELD(nats_hub_domain), .arg = "DOMAIN",
     .def_doc = "none: the edge's server holds the streams", .reload = SETTINGS_START,
     .doc = "an edge whose NATS server is a leaf node: the JetStream domain of the primary's cluster, whose "
            "streams the edge's server mirrors (made at start when missing)"},
    {.name = "trust", .type = SETTINGS_FILE, FIELD(trust), .must = "a file of PEM certificates", .arg = "FILE",
     .def_doc = "none (an edge needs it)", .reload = SETTINGS_START,
     .doc = "an edge: the certificates (roots, or the CAs themselves) that every CA it serves must chain to; a "
            "message of any other CA is refused"},
    {.name = "heartbeat-max-age", .type = SETTINGS_DURATION, FIELD(heartbeat_max_age), .min = 2, .max = 86400,
     .def = "10s", .arg = "DURATION", .reload = SETTINGS_START,
     .doc = "an edge: /healthz fails (503) when the primary's last heartbeat is older than this, so that a load "
            "balancer drains it; it still answers what has not expired"},
    {.name = "webhook-ca", .type = SETTINGS_FILE, FIELD(webhook_ca), .must = "a file of PEM certificates",
     .arg = "FILE", .def_doc = "the system's", .reload = SETTINGS_START,
     .doc = "PEM certificates to check https webhooks"},
    {.name = "webhook-timeout", .type = SETTINGS_INT, FIELD(webhook_timeout), .min = 1, .max = 120,
     .unit = " seconds", .def = "10", .arg = "S", .reload = SETTINGS_START, .doc = "per POST"},
    {.name = "webhook-min-severity", .type = SETTINGS_INT, FIELD(webhook_min_severity), .min = 0, .max = 100,
     .def = "0", .arg = "N", .reload = SETTINGS_START, .doc = "only events of this severity and up go to webhooks"},
    {.name = "log-format", .type = SETTINGS_ENUM, FIELD(log_format), .choices = log_choices, .def = "plain",
     .arg = "plain|kv|json", .reload = SETTINGS_OWN, .reload_doc = "at once",
     .doc = "the running log on stderr: plain \"revd: ...\" lines, or ts=, level=, event=, msg= as key=value "
            "(kv) or JSON; any event at most 10 lines per 10 s"},
    {.name = "report-dir", .type = SETTINGS_PATH, FIELD(report_dir), .max = PATH_MAX - 80, .arg = "DIR2",
     .def_doc = "none: no scheduled reports", .reload = SETTINGS_START,
     .doc = "write every CA's report (revd report) there on a schedule, as NAME-YYYYMMDDTHHMMSSZ.csv and .json"},
    {.name = "report-every", .type = SETTINGS_DURATION, FIELD(report_every), .min = 1, .max = 366 * 86400,
     .def = "1d", .arg = "D", .reload = SETTINGS_START, .doc = "the reports' schedule"},
    {.name = "report-format", .type = SETTINGS_ENUM, FIELD(report_format), .choices = report_choices,
     .def = "both", .arg = "csv|json|both", .reload = SETTINGS_START, .doc = "which files each report writes"},
    {.name = "admin-max-conns", .type = SETTINGS_INT, FIELD(admin_limits.max_conns), .min = 1, .max = 65536,
     .def = SETTINGS_STR(ADMIN_MAX_CONNS_DEFAULT), .arg = "N", .reload = SETTINGS_LIVE,
     .doc = "admin connections open at once, at most; past it the listener waits for one to close"},
    {.name = "admin-max-conns-per-source", .type = SETTINGS_INT, FIELD(admin_limits.max_conns_per_source),
     .min = 1, .max = 65536, .def = SETTINGS_STR(ADMIN_MAX_CONNS_PER_SOURCE_DEFAULT), .arg = "N",
     .reload = SETTINGS_LIVE,
     .doc = "admin connections from one client address (for IPv6, its /64); more are closed"},
    {.name = "admin-handshake-timeout", .type = SETTINGS_INT, FIELD(admin_limits.handshake_timeout_s), .min = 1,
     .max = 300, .unit = " seconds", .def = SETTINGS_STR(ADMIN_HANDSHAKE_TIMEOUT_DEFAULT_S), .arg = "S",
     .reload = SETTINGS_LIVE,
     .doc = "from connect until the first request is in whole, TLS handshake included, bytes or not"},
    {.name = "admin-request-timeout", .type = SETTINGS_INT, FIELD(admin_limits.request_timeout_s), .min = 1,
     .max = 3600, .unit = " seconds", .def = SETTINGS_STR(ADMIN_REQUEST_TIMEOUT_DEFAULT_S), .arg = "S",
     .reload = SETTINGS_LIVE,
     .doc = "from a request until its answer is sent and the next request is in whole"},
    {.name = "fd-reserve", .type = SETTINGS_INT, FIELD(admin_limits.fd_reserve), .min = 16, .max = 65536,
     .def = SETTINGS_STR(ADMIN_FD_RESERVE_DEFAULT), .arg = "N", .reload = SETTINGS_LIVE,
     .doc = "descriptors the admin API leaves to the control socket, the index and CRL files; the OCSP/CRL "
            "shards leave a quarter of it (at least 16, read at start)"},
    {.name = "metrics-allow", .type = SETTINGS_CIDRS, .offset = offsetof(struct settings, cfg.metrics_allow),
     .arg = "PREFIXES", .def_doc = "127.0.0.0/8,::1, loopback only", .reload = SETTINGS_START,
     .doc = "who may GET /metrics: comma-separated prefixes, as 10.0.0.0/8,2001:db8::/32, or any; others get 404"},
    {.name = "ocsp-backdate", .type = SETTINGS_DURATION, FIELD(backdate), .min = 0, .max = OCSP_BACKDATE_MAX_S,
     .def = STR(OCSP_BACKDATE_S), .hint = " (as 0, 60, 1h)", .arg = "D", .reload = SETTINGS_OWN,
     .reload_doc = "at once: the responses signed from then on",
     .doc = "a response's thisUpdate is this long before it is signed, for clients whose clock is slow"},
};

#define NUM_SETTINGS (sizeof(table) / sizeof(table[0]))

const struct setting *settings_table(size_t *num) {
    *num = NUM_SETTINGS;
    return table;
}

const struct setting *settings_find(const char *name) {
    for (size_t i = 0; i < NUM_SETTINGS; i++)
        if (strcmp(table[i].name, name) == 0) return &table[i];
    return NULL;
}

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

/* parse_duration_ms: a duration, or "Nms", in milliseconds. */
static int parse_duration_ms(const char *v, int64_t *out) {
    size_t l = strlen(v);
    char tmp[32];
    if (l > 2 && l < sizeof(tmp) && strcmp(v + l - 2, "ms") == 0) {
        memcpy(tmp, v, l - 2);
        tmp[l - 2] = '\0';
        return parse_duration(tmp, out) && strspn(tmp, "0123456789") == l - 2;
    }
    if (!parse_duration(v, out)) return 0;
    *out *= 1000;
    return 1;
}

/* fmt_duration writes d seconds in the largest unit that divides it ("8h", "0"). */
static void fmt_duration(char *out, size_t cap, int64_t d) {
    if (d == 0) snprintf(out, cap, "0");
    else if (d % 86400 == 0) snprintf(out, cap, "%lldd", (long long)(d / 86400));
    else if (d % 3600 == 0) snprintf(out, cap, "%lldh", (long long)(d / 3600));
    else if (d % 60 == 0) snprintf(out, cap, "%lldm", (long long)(d / 60));
    else snprintf(out, cap, "%llds", (long long)d);
}

/* range_text: what the values of s may be ("1 to 256", "8h to 7d",
 * "echo or off"), or "" when any text of its type does. */
static void range_text(const struct setting *s, char *out, size_t cap) {
    char a[24], b[24];
    out[0] = '\0';
    switch (s->type) {
    case SETTINGS_INT:
        snprintf(out, cap, "%lld to %lld", (long long)s->min, (long long)s->max);
        break;
    case SETTINGS_DURATION:
        fmt_duration(a, sizeof(a), s->min);
        fmt_duration(b, sizeof(b), s->max);
        snprintf(out, cap, "%s to %s", a, b);
        break;
    case SETTINGS_DURATION_MS:
        if (s->min % 1000 == 0) fmt_duration(a, sizeof(a), s->min / 1000);
        if (s->min % 1000 != 0 || s->min == 0) snprintf(a, sizeof(a), "%lldms", (long long)s->min);
        fmt_duration(b, sizeof(b), s->max / 1000);
        snprintf(out, cap, "%s to %s", a, b);
        break;
    case SETTINGS_ENUM: {
        size_t n = 0, len = 0;
        while (s->choices[n].name != NULL) n++;
        for (size_t i = 0; i < n && len < cap; i++)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                    s->choices[i].name);
        break;
    }
    case SETTINGS_PATH:
        snprintf(out, cap, "an absolute path");
        break;
    case SETTINGS_CPUS: {
        size_t len = 0;
        for (const struct settings_choice *c = s->choices; c->name != NULL && len < cap; c++)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", c->name, c[1].name != NULL ? ", " : "");
        if (len < cap) snprintf(out + len, cap - len, " or a list of cores, as 0-3,6");
        break;
    }
    case SETTINGS_FILE:
    case SETTINGS_STRING:
    case SETTINGS_CIDRS:
    case SETTINGS_URLS:
        if (s->must != NULL) snprintf(out, cap, "%s", s->must);
        break;
    }
}

static void store_int(void *p, size_t size, int64_t v) {
    if (size == sizeof(int32_t)) {
        int32_t x = (int32_t)v;
        memcpy(p, &x, sizeof(x));
    } else {
        memcpy(p, &v, sizeof(v));
    }
}

int settings_set(struct settings *o, const struct setting *s, const char *v, char *why, size_t wl) {
    void *p = (char *)o + s->offset;
    char range[160];
    int ok = 0;
    int64_t n = 0;
    char *end;
    switch (s->type) {
    case SETTINGS_INT: {
        long long x = strtoll(v, &end, 10);
        n = x;
        ok = *end == '\0' && end != v && x >= s->min && x <= s->max;
        if (ok) store_int(p, s->size, n);
        break;
    }
    case SETTINGS_DURATION:
        ok = parse_duration(v, &n) && n >= s->min && n <= s->max;
        if (ok) store_int(p, s->size, n);
        break;
    case SETTINGS_DURATION_MS:
        ok = parse_duration_ms(v, &n) && n >= s->min && n <= s->max;
        if (ok) store_int(p, s->size, n);
        break;
    case SETTINGS_ENUM:
        for (const struct settings_choice *c = s->choices; c->name != NULL; c++)
            if (strcmp(c->name, v) == 0) {
                store_int(p, s->size, c->value);
                ok = 1;
            }
        break;
    case SETTINGS_STRING:
        if (s->check != NULL && !s->check(v, why, wl)) return 0;
        ok = 1;
        break;
    case SETTINGS_FILE:
        ok = v[0] != '\0';
        break;
    case SETTINGS_PATH:
        ok = v[0] == '/' && strlen(v) < (size_t)s->max;
        break;
    case SETTINGS_CIDRS: {
        char w[160];
        if (!cidr_parse_list(v, o->cfg.metrics_allow, CIDR_LIST_MAX, &o->cfg.num_metrics_allow, w, sizeof(w))) {
            snprintf(why, wl, "%.100s (a list of prefixes, as 127.0.0.0/8,::1, or any)", w);
            return 0;
        }
        return 1;
    }
    case SETTINGS_URLS:
        if (!webhook_check(v, why, wl)) return 0;
        ok = 1;
        break;
    case SETTINGS_CPUS:
        for (const struct settings_choice *c = s->choices; c->name != NULL && !ok; c++) ok = strcmp(c->name, v) == 0;
        if (!ok && v[0] >= '0' && v[0] <= '9') {
            if (!cpus_check(v, NULL, why, wl)) return 0;
            ok = 1;
        }
        break;
    }
    if (ok && (s->type == SETTINGS_STRING || s->type == SETTINGS_FILE || s->type == SETTINGS_PATH ||
               s->type == SETTINGS_URLS || s->type == SETTINGS_CPUS))
        memcpy(p, &v, sizeof(v));
    if (!ok) {
        range_text(s, range, sizeof(range));
        snprintf(why, wl, "must be %s%s%s", range, s->unit ? s->unit : "", s->hint ? s->hint : "");
    }
    return ok;
}

void settings_default(struct settings *o) {
    memset(o, 0, sizeof(*o));
    char why[160];
    for (size_t i = 0; i < NUM_SETTINGS; i++)
        if (table[i].def != NULL && !settings_set(o, &table[i], table[i].def, why, sizeof(why)))
            abort(); /* a default outside its own range: a bug in the table (tests/cli/test_config_doc.sh) */
}

const char *settings_config_path(int argc, char **argv) {
    const char *c = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) c = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0) c = argv[i] + 9;
    }
    return c;
}

/* load_error says what is wrong with the settings: on err at start, in
 * the running log at a reload (err NULL). */
__attribute__((format(printf, 2, 3))) static void load_error(FILE *err, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char esc[6200];
    log_escape(esc, sizeof(esc), msg);
    if (err != NULL) fprintf(err, "revd: %s\n", esc);
    else rlog(LOG_WARN, "reload.config_error", "%s", msg);
}

/* load_file applies the settings file at path. 1, or 0 (said on err). */
static int load_file(const char *path, struct settings *o, struct conf **conf, FILE *err) {
    struct rerr e;
    char why[160];
    if (!conf_load(path, conf, &e)) {
        load_error(err, "%s", e.msg);
        return 0;
    }
    for (size_t i = 0; i < (*conf)->num; i++) {
        const struct conf_entry *ce = &(*conf)->entries[i];
        const struct setting *s = settings_find(ce->key);
        if (s == NULL) {
            char names[1024];
            size_t len = 0;
            for (size_t k = 0; k < NUM_SETTINGS && len < sizeof(names); k++)
                len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", k ? ", " : "", table[k].name);
            load_error(err, "%s:%u: unknown setting '%s' (the settings are revd serve's options without --: %s)",
                       path, ce->line, ce->key, names);
            return 0;
        }
        if (!settings_set(o, s, ce->value, why, sizeof(why))) {
            load_error(err, "%s:%u: %s '%s': %s", path, ce->line, ce->key, ce->value, why);
            return 0;
        }
    }
    return 1;
}

/* flag_of: the entry whose bare flag is a ("--no-metrics"), or NULL. */
static const struct setting *flag_of(const char *a) {
    if (strncmp(a, "--", 2) != 0) return NULL;
    for (size_t i = 0; i < NUM_SETTINGS; i++)
        if (table[i].flag != NULL && strcmp(table[i].flag, a + 2) == 0) return &table[i];
    return NULL;
}

int settings_load(const char *dir, const char *config_path, int argc, char **argv, struct settings *o,
                  struct conf **conf, FILE *err) {
    settings_default(o);
    *conf = NULL;
    char def[PATH_MAX];
    const char *path = config_path;
    if (path == NULL) {
        snprintf(def, sizeof(def), "%s/revd.conf", dir);
        if (access(def, F_OK) == 0) path = def;
    }
    if (path != NULL && !load_file(path, o, conf, err)) return 0;
    char why[160];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--dir") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            i++;
            continue;
        }
        if (strncmp(a, "--dir=", 6) == 0 || strncmp(a, "--config=", 9) == 0) continue;
        const struct setting *s = flag_of(a);
        if (s != NULL) {
            settings_set(o, s, s->flag_value, why, sizeof(why));
            continue;
        }
        /* A setting with a bare flag takes no --name VALUE. */
        s = strncmp(a, "--", 2) == 0 ? settings_find(a + 2) : NULL;
        if (s == NULL || s->flag != NULL || i + 1 >= argc) {
            load_error(err, "%s '%s'", s != NULL ? "option needs a value:" : "unknown option", a);
            if (err != NULL) settings_usage(err);
            return 2;
        }
        if (!settings_set(o, s, argv[i + 1], why, sizeof(why))) {
            load_error(err, "%s '%s': %s", a, argv[i + 1], why);
            if (err != NULL) settings_usage(err);
            return 2;
        }
        i++;
    }
    return 1;
}

void settings_copy_live(struct settings *to, const struct settings *from) {
    for (size_t i = 0; i < NUM_SETTINGS; i++)
        if (table[i].reload == SETTINGS_LIVE)
            memcpy((char *)to + table[i].offset, (const char *)from + table[i].offset, table[i].size);
}

/* option_text: how --help writes s ("--validity DURATION", "--no-metrics"). */
static void option_text(const struct setting *s, char *out, size_t cap) {
    if (s->flag != NULL) snprintf(out, cap, "--%s", s->flag);
    else snprintf(out, cap, "--%s %s", s->name, s->arg ? s->arg : "VALUE");
}

void settings_usage(FILE *f) {
    static const char head[] = "usage: revd serve [--dir DIR]";
    size_t col = fputs(head, f) >= 0 ? sizeof(head) - 1 : 0;
    char opt[96];
    for (size_t i = 0; i <= NUM_SETTINGS; i++) {
        if (i < NUM_SETTINGS) option_text(&table[i], opt, sizeof(opt));
        else snprintf(opt, sizeof(opt), "--config FILE");
        size_t w = strlen(opt) + 3;
        if (col + w > 100) {
            fputs("\n                 ", f);
            col = 17;
        }
        fprintf(f, " [%s]", opt);
        col += w;
    }
    fputc('\n', f);
}

/* wrap writes text from column col, wrapped at 80 columns, continued at
 * column indent. */
static void wrap(FILE *f, const char *text, size_t col, size_t indent) {
    const char *p = text;
    int first = 1;
    while (*p != '\0') {
        size_t w = strcspn(p, " ");
        if (!first && col + 1 + w > 80) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, w, f);
        col += w;
        p += w;
        first = 0;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

/* default_text: the default as the docs say it. */
static const char *default_text(const struct setting *s) {
    if (s->def_doc != NULL) return s->def_doc;
    return s->def != NULL ? s->def : "none";
}

void settings_help(FILE *f) {
    char opt[96], range[160], text[1024];
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        const struct setting *s = &table[i];
        option_text(s, opt, sizeof(opt));
        range_text(s, range, sizeof(range));
        int n = snprintf(text, sizeof(text), "%s (default: %s%s%s%s)", s->doc, default_text(s),
                         range[0] && s->type != SETTINGS_ENUM ? "; " : "",
                         range[0] && s->type != SETTINGS_ENUM ? range : "", s->unit && range[0] ? s->unit : "");
        if (s->flag != NULL && n > 0 && (size_t)n < sizeof(text))
            snprintf(text + n, sizeof(text) - (size_t)n, "; in the file: %s = %s", s->name, s->flag_value);
        if (strlen(opt) <= 20) {
            fprintf(f, "  %-20s ", opt);
            wrap(f, text, 23, 23);
        } else {
            fprintf(f, "  %s\n%23s", opt, "");
            wrap(f, text, 23, 23);
        }
    }
}

void settings_help_reload(FILE *f) {
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof(text), "SIGHUP reads the settings file again:");
    size_t num = 0, k = 0;
    for (size_t i = 0; i < NUM_SETTINGS; i++) num += table[i].reload != SETTINGS_START;
    for (size_t i = 0; i < NUM_SETTINGS && len < sizeof(text); i++) {
        if (table[i].reload == SETTINGS_START) continue;
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s", k == 0 ? " " : k + 1 == num ? " and " : ", ",
                                table[i].name);
        k++;
    }
    if (len < sizeof(text))
        snprintf(text + len, sizeof(text) - len, "%s",
                 " change at once, without dropping a connection (the others at the next start; "
                 "docs/config.md says how each applies), and the CA keys are read again from DIR/keys (a key "
                 "that fails to load or match is said and the old one kept). A file with an error changes "
                 "nothing.");
    wrap(f, text, 0, 0);
}

static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s, f);
    }
}

void settings_markdown(FILE *f) {
    char range[160];
    fputs("| setting | default | values | on reload (SIGHUP) | what |\n| --- | --- | --- | --- | --- |\n", f);
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        const struct setting *s = &table[i];
        range_text(s, range, sizeof(range));
        fprintf(f, "| `%s`", s->name);
        if (s->flag != NULL) fprintf(f, " (`--%s`)", s->flag);
        fputs(" | ", f);
        md_cell(f, default_text(s));
        fputs(" | ", f);
        md_cell(f, range[0] ? range : s->arg ? s->arg : "text");
        if (range[0] && s->unit) md_cell(f, s->unit);
        fputs(" | ", f);
        md_cell(f, s->reload == SETTINGS_LIVE    ? "at once"
                   : s->reload == SETTINGS_START ? "at the next start"
                                                 : s->reload_doc);
        fputs(" | ", f);
        md_cell(f, s->doc);
        fputs(" |\n", f);
    }
}
