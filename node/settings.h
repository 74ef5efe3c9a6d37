/* settings: the settings of `revd serve`, as one table (as nginx's
 * ngx_command_t): each entry names a setting, its type, range, default,
 * whether a reload (SIGHUP) applies it, where it lives in struct settings
 * and what it does. That one table drives
 *   - parsing: DIR/revd.conf or --config FILE (`name = value`), then the
 *     command line (`--name VALUE`, or a bare flag such as --no-metrics);
 *   - `revd serve --help` (the option list) and its usage line;
 *   - reload: settings_copy_live copies the entries marked SETTINGS_LIVE
 *     (node/serve.c applies the SETTINGS_OWN ones its own way and warns
 *     about the SETTINGS_START ones);
 *   - docs/config.md's table of settings (settings_markdown, printed by
 *     `revd serve --help-config`; tests/cli/test_config_doc.sh checks that
 *     the doc holds exactly that).
 *
 * Ownership: the strings a struct settings points to (listen, paths,
 * URLs) are the caller's: argv, or the struct conf that settings_load
 * returns, which must outlive the settings read from it.
 * Returns: 1/0 (settings_load: 0 a bad setting, 2 a usage error).
 * Thread: whichever starts or reloads the server (the CA-core thread); the
 * table itself is constant (any thread). */
#ifndef REVD_NODE_SETTINGS_H
#define REVD_NODE_SETTINGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/conf.h"
#include "common/log.h"
#include "node/admin.h"
#include "ocsp/answer.h"
#include "shard/server.h"

/* report-format: which files a scheduled report writes (bits). */
#define SETTINGS_REPORT_CSV 1
#define SETTINGS_REPORT_JSON 2

/* The settings of `revd serve`: defaults, then DIR/revd.conf (or
 * --config), then the command line; read again on SIGHUP. */
/* A certificate's responses in memory, about (two of them, their ETags,
 * its index entry): a CA with more certificates than --response-cache /
 * this is served from a store on disk (primary and edge alike). */
#define SETTINGS_RESPONSE_BYTES 2048

struct settings {
    struct server_config cfg;
    struct ocsp_answer_config ocsp; /* nonce, unknown, sign-rate (ocsp/answer.h) */
    int64_t validity, crl_validity, crl_coalesce_ms;
    int64_t response_cache;   /* bytes (ocsp/cache.h); a CA past response_cache / 2048 certificates is on disk */
    int64_t backdate;         /* ocsp-backdate */
    int drain_timeout;        /* seconds */
    int expiry_warn_days;     /* cert.expiring events from this many days before notAfter */
    const char *events_file;  /* NULL: DIR/events.jsonl */
    const char *admin_listen; /* NULL: no admin API */
    int require_approval;
    struct admin_limits admin_limits;
    const char *webhook_url, *webhook_ca; /* NULL: no webhooks; the system's CAs */
    const char *nats;         /* NULL: no feed; else NATS URLs (feed/pub.h, feed/edge.h) */
    const char *nats_hub_domain; /* an edge: the JetStream domain whose streams its local server mirrors */
    const char *trust;        /* an edge: PEM certificates its CAs must chain to (feed/verify.h) */
    int64_t heartbeat_max_age; /* an edge: seconds; an older heartbeat of the primary fails /healthz */
    enum log_format log_format;
    const char *report_dir; /* NULL: no scheduled reports */
    int64_t report_every;   /* seconds */
    int report_format;      /* SETTINGS_REPORT_* bits */
    int webhook_timeout, webhook_min_severity;
    const char *shard_cpus, *work_cpus; /* "auto", "off" (shard-cpus) or a list of cores (node/cpus.h) */
    /* The ACME server (node/acmehttp.h; NULL acme_listen: none). */
    const char *acme_listen, *acme_cert, *acme_key, *acme_url, *acme_ca, *acme_template, *acme_resolver;
    int acme_eab_optional, acme_http_port, acme_tls_port, acme_validation_timeout, acme_validation_threads;
    int acme_orders_per_hour, acme_accounts_per_hour, acme_max_days, acme_max_conns, acme_max_conns_per_source;
};

enum settings_type {
    SETTINGS_INT,         /* a decimal integer in [min, max]; int, int64_t or uint32_t (size) */
    SETTINGS_DURATION,    /* N, Ns, Nm, Nh or Nd, in seconds, in [min, max]; int64_t */
    SETTINGS_DURATION_MS, /* the same, or Nms, in milliseconds; int64_t */
    SETTINGS_ENUM,        /* one of choices; int (or an enum of int's size) */
    SETTINGS_STRING,      /* any text (an address); const char * */
    SETTINGS_FILE,        /* a non-empty file name; const char * */
    SETTINGS_PATH,        /* an absolute path under max bytes; const char * */
    SETTINGS_CIDRS,       /* prefixes (common/cidr.h) into cfg.metrics_allow */
    SETTINGS_URLS,        /* webhook URLs (node/webhook.h webhook_check) */
    SETTINGS_CPUS,        /* one of choices, or a list of cores (node/cpus.h cpus_check); const char * */
};

/* What a reload does with a setting. */
enum settings_reload {
    SETTINGS_START, /* applied at the next start (a change is said in the log) */
    SETTINGS_LIVE,  /* copied into the running settings (settings_copy_live) */
    SETTINGS_OWN,   /* applied at once, by node/serve.c's reload in its own way */
};

struct settings_choice {
    const char *name;
    int value;
};

struct setting {
    const char *name;  /* in the file; --name on the command line */
    enum settings_type type;
    size_t offset;     /* into struct settings */
    size_t size;       /* of the field (SETTINGS_INT, SETTINGS_ENUM) */
    int64_t min, max;  /* SETTINGS_INT, SETTINGS_DURATION* (max: SETTINGS_PATH's bytes) */
    const struct settings_choice *choices; /* SETTINGS_ENUM, SETTINGS_CPUS: NULL-terminated */
    const char *def;   /* the default, parsed as a value would be; NULL: none (zero) */
    const char *def_doc; /* the default as the docs say it, when def is NULL or says too little */
    const char *unit;  /* appended to the range in errors (" seconds"), or NULL */
    const char *hint;  /* appended to the error, as " (as 8h, 96h, 4d, 28800)", or NULL */
    const char *must;  /* the error's "must be ..." when the type's own says too little */
    const char *arg;   /* the value's name in --help (DURATION) */
    const char *flag;  /* a bare command-line flag meaning flag_value (no --name VALUE then) */
    const char *flag_value;
    enum settings_reload reload;
    const char *reload_doc; /* SETTINGS_OWN: what a reload does, for the docs */
    const char *doc;   /* one paragraph: what the setting does */
    /* SETTINGS_STRING: checks the value (NULL: any): 1, or 0 with why set. */
    int (*check)(const char *v, char *why, size_t wl);
};

/* settings_table: the entries, in the order the docs list them; *num their count. */
const struct setting *settings_table(size_t *num);

/* settings_find: the entry named name, or NULL. */
const struct setting *settings_find(const char *name);

/* settings_default fills o with every setting's default. */
void settings_default(struct settings *o);

/* settings_set parses v for the entry s into o. Returns 1, or 0 with why
 * set to what the value must be (v is kept, not copied). */
int settings_set(struct settings *o, const struct setting *s, const char *v, char *why, size_t wl);

/* settings_config_path: the --config FILE (or --config=FILE) of argv, or NULL. */
const char *settings_config_path(int argc, char **argv);

/* settings_load fills o: defaults, the configuration file (config_path;
 * NULL: DIR/revd.conf when it exists), then argv's options (argv[0] is the
 * command; --dir and --config are skipped). *conf keeps the file's strings
 * (conf_free it when o is done with). Messages go to err (NULL: the
 * running log, as at a reload); returns 1, 0 on a bad setting, 2 on a
 * usage error on the command line (the usage then printed on err). */
int settings_load(const char *dir, const char *config_path, int argc, char **argv, struct settings *o,
                  struct conf **conf, FILE *err);

/* settings_copy_live copies from into to the settings marked SETTINGS_LIVE. */
void settings_copy_live(struct settings *to, const struct settings *from);

/* settings_usage prints `revd serve`'s usage line(s); settings_help the
 * option list of its --help; settings_markdown the table of
 * docs/config.md (between its settings markers). */
void settings_usage(FILE *f);
void settings_help(FILE *f);
void settings_markdown(FILE *f);

/* settings_help_reload prints --help's paragraph on SIGHUP (the settings
 * a reload applies at once). */
void settings_help_reload(FILE *f);

#endif
