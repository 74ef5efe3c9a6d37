/* The commands of docs/cli.md. Each parses its options, opens DIR unless the
 * server already holds it, calls the CA core and prints the result. */
#include "cmd/cli.h"
#include "node/env.h"
#include "node/report.h"
#include "common/jsonsafe.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>

#include <openssl/crypto.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "ca/crl.h"
#include "crl/archive.h"
#include "ca/cred.h"
#include "ca/keyfile.h"
#include "ca/pkcs11.h"
#include "ca/responder.h"
#include "ocsp/response.h"
#include "ocsp/table.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

#define FILE_MAX_BYTES (1 << 20)

enum {
    O_HELP = 1000, O_DIR, O_NAME, O_SUBJECT, O_KEY, O_DAYS, O_HOURS, O_BASE_URL, O_PSIZE,
    O_COMPLETE, O_MAXB, O_PARENT, O_PATHLEN, O_CERT, O_CHAIN, O_JSON, O_CA, O_CSR, O_TEMPLATE,
    O_SAN, O_IDEM, O_SERIAL, O_REASON, O_INVALIDITY, O_FORMAT, O_SINCE, O_FILE, O_FROM, O_HASH, O_OUT,
    O_PARTITION, O_ALL, O_NUMBER, O_ANCHOR, O_RESTORE_DAYS, O_ROLE, O_NAMES, O_NEWPASS,
    O_KEY_URI,
};

struct opts {
    const char *dir, *name, *subject, *key, *base_url, *parent, *cert, *chain, *ca, *csr,
        *template_name, *san, *idem, *serial, *reason, *invalidity, *format, *since, *file;
    long days, hours, psize, maxb, path_len;
    unsigned long long seq_from;
    const char *hash, *out, *partition, *number, *anchor, *role, *names, *newpass, *key_uri;
    int complete, json, with_chain, help, days_set, hours_set, all, restore_days_set;
    long restore_days;
};

struct cmd {
    const char *name;
    const char *usage;
    const char *help;
    const int *allowed;
    int (*run)(struct cli *cli, struct opts *o, const char *pos);
    int needs_positional;
    int creates_dir;
};

static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') return 0;
    *out = v;
    return 1;
}

static int fail(struct cli *cli, const char *msg) {
    fprintf(cli->err, "revd: %s\n", msg);
    return 1;
}

/* A usage error found after option parsing: exit 2 with a usage line. */
static int usage_fail(struct cli *cli, const char *msg) {
    fprintf(cli->err, "revd: %s\nusage: see revd --help\n", msg);
    return 2;
}

__attribute__((format(printf, 2, 3))) static int failf(struct cli *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(cli->err, "revd: ");
    vfprintf(cli->err, fmt, ap);
    fprintf(cli->err, "\n");
    va_end(ap);
    return 1;
}

/* resolve: a file argument of a forwarded command is taken from the
 * client's directory. A name too long for that is passed on as it is, and
 * the open then fails naming it. */
static const char *resolve(struct cli *cli, const char *path, char buf[PATH_MAX]) {
    if (path[0] == '/' || cli->cwd == NULL) return path;
    int n = snprintf(buf, PATH_MAX, "%s/%s", cli->cwd, path);
    if (n < 0 || n >= PATH_MAX) return path;
    return buf;
}

static int open_core(struct cli *cli, struct opts *o, int create, struct ca_core **out, int *owned) {
    if (cli->core != NULL) {
        *out = cli->core;
        *owned = 0;
        return 1;
    }
    struct rerr e;
    if (!ca_core_open(o->dir, create, out, &e)) return fail(cli, e.msg) - 1;
    if (!env_passphrase(*out, &e)) {
        ca_core_free(*out);
        return fail(cli, e.msg) - 1;
    }
    *owned = 1;
    char who[96], from[32];
    env_local_user(getuid(), who, sizeof(who));
    snprintf(from, sizeof(from), "cli pid=%ld", (long)getpid());
    ca_set_actor(*out, who, from);
    return 1;
}

static void close_core(struct ca_core *c, int owned) {
    if (owned) ca_core_free(c);
}

/* ---- ca create-root / create-sub / csr / import ---- */

static int fill_create(struct cli *cli, struct opts *o, struct ca_create_params *p) {
    memset(p, 0, sizeof(*p));
    p->name = o->name;
    p->subject = o->subject;
    p->parent = o->parent;
    p->base_url = o->base_url;
    p->complete_crl = o->complete;
    p->path_len = (int)o->path_len;
    p->key = CA_KEY_EC_P256;
    p->key_uri = o->key_uri;
    if (o->key != NULL && o->key_uri != NULL)
        return usage_fail(cli, "--key and --key-uri exclude each other (a token key's type is its own)");
    struct rerr ue;
    if (o->key_uri != NULL && !pkcs11_uri_valid(o->key_uri, &ue)) return failf(cli, "--key-uri: %s", ue.msg);
    if (o->key != NULL && !ca_key_type_parse(o->key, &p->key))
        return failf(cli, "--key %s: expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096", o->key);
    if (o->days_set && (o->days < 1 || o->days > 36500))
        return fail(cli, "--days must be 1 to 36500");
    p->days = o->days_set ? (int)o->days : 0;
    if (o->psize != 0 && (o->psize < 1 || o->psize > 100000000))
        return fail(cli, "--partition-size must be 1 to 100000000");
    p->partition_size = (uint32_t)o->psize;
    if (o->maxb != 0 && (o->maxb < 4096 || o->maxb > 100000000))
        return fail(cli, "--crl-max-bytes must be 4096 to 100000000");
    p->crl_max_bytes = (uint32_t)o->maxb;
    if (o->complete && o->psize) return usage_fail(cli, "--partition-size and --complete-crl exclude each other");
    if (o->path_len < -1 || o->path_len > 10) return fail(cli, "--path-len must be 0 to 10");
    return 0;
}

static int run_create(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_create_params p;
    int bad = fill_create(cli, o, &p);
    if (bad) return bad;
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_create(c, &p, &e);
    if (ok) {
        struct ca_info info;
        ca_info_get(c, p.name, &info, &e);
        fprintf(cli->out, "created CA %s\ncertificate: %s\n", p.name, info.cert_path);
        if (ca_notice(c)[0] != '\0') fprintf(cli->err, "revd: %s\n", ca_notice(c));
    }
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_csr(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_create_params p;
    int bad = fill_create(cli, o, &p);
    if (bad) return bad;
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    char *pem = NULL;
    int ok = ca_csr(c, &p, &pem, &e);
    if (ok) fputs(pem, cli->out);
    free(pem);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_import_ca(struct cli *cli, struct opts *o, const char *pos) {
    char b1[PATH_MAX], b2[PATH_MAX];
    uint8_t *cert = NULL, *chain = NULL;
    size_t cl, chl;
    struct rerr e;
    if (!fs_read_file(resolve(cli, o->cert, b1), FILE_MAX_BYTES, &cert, &cl, &e)) return fail(cli, e.msg);
    if (!fs_read_file(resolve(cli, o->chain, b2), FILE_MAX_BYTES, &chain, &chl, &e)) {
        free(cert);
        return fail(cli, e.msg);
    }
    struct ca_core *c;
    int owned, ok = 0;
    if (open_core(cli, o, 0, &c, &owned)) {
        ok = ca_import_cert(c, o->name, cert, cl, chain, chl, &e);
        if (ok) fprintf(cli->out, "imported the certificate of CA %s; it is active\n", o->name);
        if (ok && ca_notice(c)[0] != '\0') fprintf(cli->err, "revd: %s\n", ca_notice(c));
        close_core(c, owned);
    } else {
        free(cert);
        free(chain);
        return 1;
    }
    free(cert);
    free(chain);
    return ok ? 0 : fail(cli, e.msg);
}

/* ---- ca list / show / enable / disable ---- */

static int run_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    json_t *arr = json_array();
    if (!o->json) fprintf(cli->out, "%-24s %-9s %-9s %-24s %-20s %10s %10s\n", "NAME", "STATE", "KEY",
                          "PARENT", "NOT-AFTER", "ISSUED", "REVOKED");
    for (size_t i = 0; i < ca_count(c); i++) {
        struct ca_info info;
        ca_info_at(c, i, &info);
        if (o->json) {
            json_array_append_new(arr, ca_info_json(&info, 1));
            continue;
        }
        char na[21];
        rtime_format(info.not_after, na);
        fprintf(cli->out, "%-24s %-9s %-9s %-24s %-20s %10llu %10llu\n", info.name,
                ca_state_name(info.state), ca_key_type_name(info.key), info.parent[0] ? info.parent : "-",
                info.state == CA_STATE_PENDING ? "-" : na, (unsigned long long)(info.issued + info.imported),
                (unsigned long long)(info.revoked + info.held));
    }
    if (o->json) {
        json_dumpf(arr, cli->out, JSON_INDENT(2));
        fputc('\n', cli->out);
    }
    json_decref(arr);
    close_core(c, owned);
    return 0;
}

static int run_show(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct ca_info i;
    struct rerr e;
    if (!ca_info_get(c, name, &i, &e)) {
        close_core(c, owned);
        return fail(cli, e.msg);
    }
    json_t *j = ca_info_json(&i, 1);
    if (o->json) {
        json_dumpf(j, cli->out, JSON_INDENT(2));
        fputc('\n', cli->out);
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            char k[64];
            snprintf(k, sizeof(k), "%s", key);
            for (char *p = k; *p; p++)
                if (*p == '_') *p = '-';
            if (json_is_string(v)) fprintf(cli->out, "%s: %s\n", k, json_string_value(v));
            else fprintf(cli->out, "%s: %lld\n", k, (long long)json_integer_value(v));
        }
    }
    json_decref(j);
    close_core(c, owned);
    return 0;
}

static int set_enabled(struct cli *cli, struct opts *o, const char *name, int enabled) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_set_enabled(c, name, enabled, &e);
    if (ok) fprintf(cli->out, "CA %s is %s\n", name, enabled ? "active" : "disabled");
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_enable(struct cli *cli, struct opts *o, const char *name) { return set_enabled(cli, o, name, 1); }

static int run_delete(struct cli *cli, struct opts *o, const char *name) {
    long days = o->restore_days_set ? o->restore_days : 30;
    if (days < CA_RESTORE_DAYS_MIN || days > CA_RESTORE_DAYS_MAX)
        return usage_fail(cli, "--restore-days must be 7 to 3650");
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_delete(c, name, (int)days, &e);
    struct ca_info i;
    if (ok && ca_info_get(c, name, &i, &e)) {
        char pa[21];
        rtime_format(i.purge_at, pa);
        fprintf(cli->out,
                "CA %s is deleted: it issues nothing; its OCSP responses and CRLs are served until %s,\n"
                "then its keys are destroyed (revd ca restore %s undoes this until then)\n",
                name, pa, name);
    }
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_restore(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_restore(c, name, &e);
    struct ca_info i;
    if (ok && ca_info_get(c, name, &i, &e)) fprintf(cli->out, "CA %s is restored: %s\n", name, ca_state_name(i.state));
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}
static int run_disable(struct cli *cli, struct opts *o, const char *name) { return set_enabled(cli, o, name, 0); }

/* ---- issue / revoke / unhold / status ---- */

static int run_issue(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    uint8_t *csr = NULL;
    size_t csr_len;
    struct rerr e;
    if (o->days_set && o->hours_set) return usage_fail(cli, "--days and --hours exclude each other");
    if (o->days_set && (o->days < 1 || o->days > 36500)) return fail(cli, "--days must be 1 to 36500");
    if (o->hours_set && (o->hours < 1 || o->hours > 876000)) return fail(cli, "--hours must be 1 to 876000");
    if (o->path_len < -1 || o->path_len > 10) return fail(cli, "--path-len must be 0 to 10");
    if (!fs_read_file(resolve(cli, o->csr, buf), 65536, &csr, &csr_len, &e)) return fail(cli, e.msg);
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) {
        free(csr);
        return 1;
    }
    struct ca_issue_params p = {
        .ca = o->ca,
        .template_name = o->template_name,
        .csr = csr,
        .csr_len = csr_len,
        .validity = o->days_set ? o->days * 86400 : o->hours_set ? o->hours * 3600 : 0,
        .san = o->san,
        .idempotency_key = o->idem,
        .path_len = (int)o->path_len,
        .with_chain = o->with_chain,
    };
    char *pem = NULL;
    int ok = ca_issue(c, &p, &pem, &e);
    if (ok) fputs(pem, cli->out);
    free(pem);
    free(csr);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int parse_serial(struct cli *cli, struct opts *o, uint8_t *s, size_t *len) {
    if (!hex_parse_serial(o->serial, s, len))
        return failf(cli, "--serial '%.80s' is not a positive hex serial of at most 20 octets", o->serial) - 1;
    return 1;
}

/* Bulk revocation: --file holds one serial (hex) per line; blank lines
 * and # comments are skipped. Checked whole before anything is written. */
#define SERIALS_FILE_MAX (16u << 20)

static int revoke_file(struct cli *cli, struct opts *o, int reason, int64_t inval) {
    char buf[PATH_MAX];
    uint8_t *text;
    size_t len;
    struct rerr e;
    if (!fs_read_file(resolve(cli, o->file, buf), SERIALS_FILE_MAX, &text, &len, &e)) return fail(cli, e.msg);
    size_t cap = 1024, n = 0, line = 0;
    struct ca_serial *list = malloc(cap * sizeof(*list));
    int status = list == NULL ? fail(cli, "out of memory") : 0;
    char *save = NULL;
    for (char *l = strtok_r((char *)text, "\n", &save); status == 0 && l != NULL; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t ll = strlen(l);
        while (ll > 0 && (l[ll - 1] == '\r' || l[ll - 1] == ' ' || l[ll - 1] == '\t')) l[--ll] = '\0';
        while (*l == ' ' || *l == '\t') l++;
        if (*l == '\0' || *l == '#') continue;
        if (n == CA_REVOKE_MANY_MAX) {
            status = failf(cli, "%s: more than %d serials; split the file", o->file, CA_REVOKE_MANY_MAX);
            break;
        }
        if (n == cap) {
            struct ca_serial *l2 = realloc(list, 2 * cap * sizeof(*list));
            if (l2 == NULL) {
                status = fail(cli, "out of memory");
                break;
            }
            list = l2;
            cap *= 2;
        }
        if (!hex_parse_serial(l, list[n].bytes, &list[n].len)) {
            status = failf(cli, "%s line %zu: '%.60s' is not a serial (hex, at most 20 octets)", o->file, line, l);
            break;
        }
        n++;
    }
    free(text);
    if (status == 0 && n == 0) status = failf(cli, "%s holds no serial", o->file);
    if (status != 0) {
        free(list);
        return status;
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) {
        free(list);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = ca_revoke_many(c, o->ca, list, n, reason, inval, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close_core(c, owned);
    free(list);
    if (!ok) return fail(cli, e.msg);
    fprintf(cli->out, "revoked %zu certificates (%s) in %.2f s\n", n, reason_name(reason),
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static int run_revoke(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (o->file != NULL && o->serial != NULL) return usage_fail(cli, "--serial and --file: one or the other");
    if (o->file == NULL && !parse_serial(cli, o, serial, &slen)) return 1;
    int reason = 0;
    if (o->reason != NULL && !reason_parse(o->reason, &reason)) {
        fprintf(cli->err, "revd: --reason %.80s: expected one of %s\n", o->reason, reason_list());
        return 1;
    }
    int64_t inval = 0;
    if (o->invalidity != NULL && !rtime_parse(o->invalidity, &inval))
        return fail(cli, "--invalidity-date: expected YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or @SECONDS");
    if (o->file != NULL) return revoke_file(cli, o, reason, inval);
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_revoke(c, o->ca, serial, slen, reason, inval, &e);
    if (ok) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        fprintf(cli->out, "revoked %s (%s)\n", hex, reason_name(reason));
        if (ca_notice(c)[0] != '\0') fprintf(cli->out, "%s\n", ca_notice(c));
    }
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_unhold(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!parse_serial(cli, o, serial, &slen)) return 1;
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_unhold(c, o->ca, serial, slen, &e);
    if (ok) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        fprintf(cli->out, "released %s\n", hex);
    }
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

/* partition_name: "ca" for the CA-scope partition, "ext-N" for the Nth
 * imported CDP, else the partition's number (docs/urls.md). */
static void partition_name(uint32_t part, char out[16]) {
    if (part == URLS_PART_CA) snprintf(out, 16, "ca");
    else if (part == URLS_PART_NONE) snprintf(out, 16, "none");
    else if (part >= URLS_PART_EXTERNAL) snprintf(out, 16, "ext-%u", part - URLS_PART_EXTERNAL);
    else snprintf(out, 16, "%u", part);
}

static int run_status(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!parse_serial(cli, o, serial, &slen)) return 1;
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_cert_status s;
    int ok = ca_status(c, o->ca, serial, slen, &s, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1], t[21];
    hex_encode_serial(serial, slen, hex);
    if (!s.found) {
        fprintf(cli->out, "unknown\nserial: %s\n", hex);
        return 0;
    }
    fprintf(cli->out, "%s\nserial: %s\n", s.status == CERT_REVOKED ? "revoked" : "good", hex);
    rtime_format(s.not_after, t);
    fprintf(cli->out, "not-after: %s\n", t);
    if (s.status == CERT_REVOKED) {
        rtime_format(s.revoked_at, t);
        fprintf(cli->out, "revocation-time: %s\nreason: %s\n", t, reason_name(s.reason));
        if (s.invalidity) {
            rtime_format(s.invalidity, t);
            fprintf(cli->out, "invalidity-date: %s\n", t);
        }
    }
    char part[16];
    partition_name(s.partition, part);
    fprintf(cli->out, "partition: %s\n", part);
    fprintf(cli->out, "crl: %s\n", s.crl_url);
    return 0;
}

/* ---- report / import ---- */

static int run_report(struct cli *cli, struct opts *o, const char *pos) {
    int json;
    if (strcmp(o->format, "csv") == 0) json = 0;
    else if (strcmp(o->format, "json") == 0) json = 1;
    else return usage_fail(cli, "--format must be csv or json");
    int64_t since = 0;
    if (o->since != NULL && !rtime_parse(o->since, &since))
        return fail(cli, "--since: expected YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or @SECONDS");
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = report_write(c, o->ca, since, json, cli->out, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    return 0;
}

static int run_import(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_import_result r;
    int ok = ca_import_csv(c, o->ca, resolve(cli, o->file, buf), cli->err, &r, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    fprintf(cli->out, "imported %llu certificates (%llu revoked) in %.2f s: %.0f rows/s\n",
            (unsigned long long)r.rows, (unsigned long long)r.revoked, r.seconds,
            r.seconds > 0 ? r.rows / r.seconds : 0.0);
    return 0;
}

static int log_line(void *arg, uint64_t seq, const char *json, size_t len) {
    FILE *f = arg;
    fwrite(json, 1, len, f);
    fputc('\n', f);
    return !ferror(f);
}

static int run_log(struct cli *cli, struct opts *o, const char *pos) {
    if (o->since != NULL) {
        long v;
        if (!parse_long(o->since, &v) || v < 0) return usage_fail(cli, "--from must be a sequence number (0 or more)");
        o->seq_from = (unsigned long long)v;
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_oplog(c, o->seq_from, log_line, cli->out, &e);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

/* ---- audit verify / export ---- */

static void audit_problem(void *arg, uint64_t seq, const char *msg) {
    struct cli *cli = arg;
    if (seq > 0) fprintf(cli->out, "record %llu %s\n", (unsigned long long)seq, msg);
    else fprintf(cli->out, "%s\n", msg);
}

static int run_audit_verify(struct cli *cli, struct opts *o, const char *pos) {
    unsigned long long aseq = 0;
    char ahex[65] = "";
    if (o->anchor != NULL) {
        const char *colon = strchr(o->anchor, ':');
        char *end;
        errno = 0;
        aseq = strtoull(o->anchor, &end, 10);
        if (colon == NULL || end != colon || errno != 0 || aseq == 0 || strlen(colon + 1) != 64 ||
            strspn(colon + 1, "0123456789abcdef") != 64)
            return usage_fail(cli, "--anchor must be SEQ:SHA256 (as `revd audit verify` printed it, lowercase hex)");
        memcpy(ahex, colon + 1, 65);
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_audit_result r;
    int ok = ca_audit_verify(c, aseq, ahex, audit_problem, cli, &r, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    if (r.problems > 0) {
        fprintf(cli->out, "audit log: %llu records, %llu problem%s: it was tampered with\n",
                (unsigned long long)r.records, (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
        return 1;
    }
    fprintf(cli->out, "audit log: %llu records, chain intact", (unsigned long long)r.records);
    if (r.unchained > 0)
        fprintf(cli->out, " (the first %llu predate the chain and are not covered)", (unsigned long long)r.unchained);
    fprintf(cli->out, "\nhead: %llu:%s\n", (unsigned long long)r.last_seq, r.records ? r.head : "");
    return 0;
}

struct export_state {
    FILE *out;
    int json, n, bad;
};

static int export_record(void *arg, uint64_t seq, const char *text, size_t len) {
    struct export_state *st = arg;
    if (st->json) {
        fputs(st->n++ ? ",\n" : "[\n", st->out);
        fwrite(text, 1, len, st->out);
        return !ferror(st->out);
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        st->bad = 1;
        return 0;
    }
    static const char *const cols[] = {"time", "principal", "source", "op", "ca", "serial", "result"};
    fprintf(st->out, "%llu", (unsigned long long)seq);
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        const char *v = json_string_value(json_object_get(j, cols[i]));
        fputc(',', st->out);
        report_csv_field(st->out, v ? v : "");
    }
    char *params = json_dumps(json_object_get(j, "params"), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fputc(',', st->out);
    report_csv_field(st->out, params ? params : "");
    free(params);
    const char *prev = json_string_value(json_object_get(j, "prev"));
    fprintf(st->out, ",%s\n", prev ? prev : "");
    json_decref(j);
    st->n++;
    return !ferror(st->out);
}

static int run_audit_export(struct cli *cli, struct opts *o, const char *pos) {
    struct export_state st = {cli->out, 0, 0, 0};
    if (strcmp(o->format, "json") == 0) st.json = 1;
    else if (strcmp(o->format, "csv") != 0) return usage_fail(cli, "--format must be json or csv");
    if (o->since != NULL) {
        long v;
        if (!parse_long(o->since, &v) || v < 0) return usage_fail(cli, "--from must be a sequence number (0 or more)");
        o->seq_from = (unsigned long long)v;
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    if (!st.json) fputs("seq,time,principal,source,op,ca,serial,result,params,prev\n", cli->out);
    struct rerr e;
    int ok = ca_oplog(c, o->seq_from, export_record, &st, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    if (st.bad) return fail(cli, "a log record is not JSON: run revd audit verify");
    if (st.json) fputs(st.n ? "\n]\n" : "[]\n", cli->out);
    return 0;
}

/* ---- admin: the HTTPS API's PKI and credentials ---- */

static int run_admin_init(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 1, &c, &owned)) return 1;
    struct rerr e;
    struct ca_admin_paths p;
    int ok = ca_admin_init(c, o->names, &e) && ca_admin_paths(c, &p, &e);
    if (ok)
        fprintf(cli->out,
                "admin PKI ready: CA %s (give it to clients, to check the server)\n"
                "server certificate %s, key %s\n"
                "next: revd admin issue-credential --name NAME --role admin --out DIR; then\n"
                "revd serve --admin-listen 127.0.0.1:8443\n",
                p.ca_pem, p.server_pem, p.server_key);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_admin_issue(struct cli *cli, struct opts *o, const char *pos) {
    enum cred_role role;
    if (!cred_role_parse(o->role, &role))
        return usage_fail(cli, "--role must be admin, issuer, revoker or auditor");
    long days = o->days_set ? o->days : 365;
    char b1[PATH_MAX], b2[PATH_MAX];
    uint8_t *csr = NULL;
    size_t csr_len = 0;
    struct rerr e;
    if (o->csr != NULL && !fs_read_file(resolve(cli, o->csr, b1), 65536, &csr, &csr_len, &e)) return fail(cli, e.msg);
    const char *dir = resolve(cli, o->out, b2);
    if (!fs_mkdirs(dir, 0700, &e)) {
        free(csr);
        return fail(cli, e.msg);
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) {
        free(csr);
        return 1;
    }
    char *cert = NULL, *key = NULL;
    struct ca_admin_paths p;
    int ok = ca_admin_paths(c, &p, &e) && ca_cred_issue(c, o->name, role, o->ca, o->template_name, (int)days, csr,
                                                         csr_len, &cert, csr ? NULL : &key, &e);
    free(csr);
    uint8_t *ca_pem = NULL;
    size_t ca_len = 0;
    char path[PATH_MAX + 80];
    if (ok) ok = fs_read_file(p.ca_pem, FILE_MAX_BYTES, &ca_pem, &ca_len, &e);
    if (ok) {
        snprintf(path, sizeof(path), "%s/%s.pem", dir, o->name);
        ok = fs_write(path, cert, strlen(cert), 0644, FS_NAMED, &e);
    }
    if (ok && key != NULL) {
        snprintf(path, sizeof(path), "%s/%s.key", dir, o->name);
        ok = fs_write(path, key, strlen(key), 0600, FS_NAMED, &e);
    }
    if (ok) {
        snprintf(path, sizeof(path), "%s/ca.pem", dir);
        ok = fs_write(path, ca_pem, ca_len, 0644, FS_NAMED, &e);
    }
    if (ok)
        fprintf(cli->out, "credential %s (%s) written to %s: %s.pem%s%s%s, and ca.pem (the admin CA)\n", o->name,
                o->role, dir, o->name, key ? ", " : "", key ? o->name : "", key ? ".key" : "");
    if (ok && key != NULL) fprintf(cli->out, "its key %s/%s.key is unencrypted: hand it over and delete it here\n",
                                   dir, o->name);
    if (key != NULL) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
    }
    free(cert);
    free(ca_pem);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int cred_line(void *arg, const struct ca_cred *k) {
    struct cli *cli = arg;
    char na[21];
    rtime_format(k->not_after, na);
    fprintf(cli->out, "%-24s %-8s %-8s %-20s %-24s %s\n", k->name, cred_role_name(k->role),
            k->revoked ? "revoked" : "valid", na, k->cas[0] ? k->cas : "-", k->templates[0] ? k->templates : "-");
    return 1;
}

static int cred_json(void *arg, const struct ca_cred *k) {
    char na[21];
    rtime_format(k->not_after, na);
    json_array_append_new(arg, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "name", k->name, "role",
                                         cred_role_name(k->role), "revoked", k->revoked, "not_after", na, "cas",
                                         k->cas, "templates", k->templates, "serial", k->serial));
    return 1;
}

static int run_admin_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok;
    if (o->json) {
        json_t *arr = json_array();
        ok = ca_cred_each(c, cred_json, arr, &e);
        if (ok) {
            json_dumpf(arr, cli->out, JSON_INDENT(2));
            fputc('\n', cli->out);
        }
        json_decref(arr);
    } else {
        fprintf(cli->out, "%-24s %-8s %-8s %-20s %-24s %s\n", "NAME", "ROLE", "STATE", "NOT-AFTER", "CAS", "TEMPLATES");
        ok = ca_cred_each(c, cred_line, cli, &e);
    }
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_admin_revoke(struct cli *cli, struct opts *o, const char *name) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_cred_revoke(c, name, &e);
    if (ok) fprintf(cli->out, "credential %s is revoked: refused from its next request\n", name);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

/* ---- keys: encryption at rest ---- */

struct key_status {
    FILE *out;
    size_t encrypted, plain, token;
};

static int key_status_line(void *arg, const char *path) {
    struct key_status *ks = arg;
    int r = keyfile_encrypted(path);
    fprintf(ks->out, "%-10s %s\n", r == 1 ? "encrypted" : r == 2 ? "token" : r == 0 ? "PLAIN" : "unreadable", path);
    if (r == 1) ks->encrypted++;
    else if (r == 2) ks->token++;
    else ks->plain++;
    return 1;
}

static int run_keys_status(struct cli *cli, struct opts *o, const char *pos) {
    struct key_status ks = {cli->out, 0, 0, 0};
    keyfile_each(o->dir, key_status_line, &ks);
    if (ks.token > 0) fprintf(cli->out, "%zu encrypted, %zu in a PKCS#11 token, %zu not\n", ks.encrypted, ks.token, ks.plain);
    else fprintf(cli->out, "%zu encrypted, %zu not\n", ks.encrypted, ks.plain);
    return 0;
}

static int run_keys_encrypt(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    size_t done, already;
    int ok = ca_encrypt_keys(c, &done, &already, &e);
    if (ok) fprintf(cli->out, "%zu keys encrypted, %zu were already\n", done, already);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

static int run_keys_rekey(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    uint8_t *p;
    size_t n;
    struct rerr e;
    if (!fs_read_file(resolve(cli, o->newpass, buf), 1026, &p, &n, &e)) return fail(cli, e.msg);
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) {
        OPENSSL_cleanse(p, n);
        free(p);
        return 1;
    }
    size_t done;
    int ok = ca_rekey(c, (const char *)p, n, &done, &e);
    OPENSSL_cleanse(p, n);
    free(p);
    if (ok)
        fprintf(cli->out, "%zu keys now open with the new passphrase: give it from now on (REVD_KEY_PASSPHRASE_FILE)\n",
                done);
    close_core(c, owned);
    return ok ? 0 : fail(cli, e.msg);
}

/* ---- ocsp respond ---- */

/* The default validity of a response (issue #3 makes it configurable). */
#define RESPONSE_VALIDITY_S (4 * 86400)

static int run_ocsp_respond(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!parse_serial(cli, o, serial, &slen)) return 1;
    enum ocsp_hash h = OCSP_HASH_SHA1;
    if (o->hash != NULL) {
        if (strcmp(o->hash, "sha1") == 0) h = OCSP_HASH_SHA1;
        else if (strcmp(o->hash, "sha256") == 0) h = OCSP_HASH_SHA256;
        else if (strcmp(o->hash, "sha384") == 0) h = OCSP_HASH_SHA384;
        else if (strcmp(o->hash, "sha512") == 0) h = OCSP_HASH_SHA512;
        else return usage_fail(cli, "--hash must be sha1, sha256, sha384 or sha512");
    }
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_cert_status st;
    struct ca_signer signer;
    uint8_t name_hash[64], key_hash[64], certid[256], out[16384];
    size_t certid_len, out_len = 0;
    int ok = ca_status(c, o->ca, serial, slen, &st, &e);
    const char *what = "";
    char reason_buf[64] = "";
    int64_t now = rtime_now(), next_update = 0;
    if (ok && !st.found) {
        /* Never "good" for a serial this CA never issued (RFC 5019). */
        out_len = ocsp_response_error(OCSP_UNAUTHORIZED, out);
        what = "unauthorized (this CA never issued that serial)";
    } else if (ok) {
        ok = ca_issuer_hashes(c, o->ca, h, name_hash, key_hash, &e) && ca_responder_signer(c, o->ca, &signer, &e);
        if (ok && !ocsp_certid_build(h, name_hash, key_hash, serial, slen, certid, sizeof(certid), &certid_len))
            ok = rerr_set(&e, "cannot build the CertID");
        struct ocsp_single r = {certid, certid_len, st.status == CERT_REVOKED ? OCSP_REVOKED : OCSP_GOOD,
                                st.revoked_at, -1, 0, 0};
        if (ok && !ocsp_times(now, RESPONSE_VALIDITY_S, ca_ocsp_backdate(c), st.not_after, &r.this_update,
                              &r.next_update))
            ok = rerr_set(&e, "the certificate has expired: there is no status to sign");
        next_update = r.next_update;
        /* unspecified is sent as no reason (RFC 5280 5.3.1). */
        if (st.status == CERT_REVOKED && st.reason != 0) r.reason = st.reason;
        if (ok && !ocsp_response_sign(&signer, &r, now, NULL, 0, out, sizeof(out), &out_len))
            ok = rerr_set(&e, "signing the response failed");
        if (st.status == CERT_REVOKED) snprintf(reason_buf, sizeof(reason_buf), "revoked (%s)", reason_name(st.reason));
        what = st.status == CERT_REVOKED ? reason_buf : "good";
    }
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    char buf[PATH_MAX];
    if (!fs_write(resolve(cli, o->out, buf), out, out_len, 0644, FS_NAMED, &e)) return fail(cli, e.msg);
    char until[21];
    rtime_format(next_update, until);
    fprintf(cli->out, "wrote %s: %s, %zu bytes%s%s\n", o->out, what, out_len, st.found ? ", next update " : "",
            st.found ? until : "");
    return 0;
}

static int run_ocsp_precompute(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ocsp_table *t = NULL;
    struct ca_precompute_stats st;
    int ok = ca_ocsp_precompute(c, o->ca, RESPONSE_VALIDITY_S, 0, &t, &st, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    size_t bytes = ocsp_table_bytes(t);
    fprintf(cli->out,
            "precomputed %llu responses for %llu certificates of CA %s (%llu expired skipped) in %.2f s: "
            "%.0f signatures/s, %.0f bytes of memory per response\n",
            (unsigned long long)st.responses, (unsigned long long)st.certificates, o->ca,
            (unsigned long long)st.skipped_expired, st.seconds, st.seconds > 0 ? st.responses / st.seconds : 0.0,
            st.responses ? (double)bytes / (double)st.responses : 0.0);
    ocsp_table_free(t);
    return 0;
}

/* ---- crl ---- */

/* The CRLs --partition names (a number, "ca", or "all"/none with --all):
 * indices into list. */
static int crl_pick(struct cli *cli, const struct opts *o, const struct ca_crl_ref *list, size_t n, size_t *idx,
                    size_t *nidx) {
    *nidx = 0;
    if (o->partition == NULL || o->all) {
        for (size_t i = 0; i < n; i++) idx[(*nidx)++] = i;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof(num), "%u", list[i].part);
        int ca_scope = list[i].part == URLS_PART_CA;
        if ((ca_scope && strcmp(o->partition, "ca") == 0) || (!ca_scope && strcmp(o->partition, num) == 0)) {
            idx[(*nidx)++] = i;
            return 1;
        }
    }
    return failf(cli, "CA %s has no CRL partition '%.40s' (revd crl list --ca %s)", o->ca, o->partition, o->ca) &&
           0;
}

/* A CRL's partition as operators write it: its number, or "ca". */
static const char *part_label(uint32_t part, char out[16]) {
    if (part == URLS_PART_CA) return "ca";
    snprintf(out, 16, "%u", part);
    return out;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int run_crl_list(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_crl_ref *list;
    size_t n;
    int ok = ca_crl_list(c, o->ca, &list, &n, &e);
    close_core(c, owned);
    if (!ok) return fail(cli, e.msg);
    if (o->json) { /* the array of URLs, as CCADB asks CAs to disclose */
        fputc('[', cli->out);
        for (size_t i = 0; i < n; i++) {
            if (i) fputc(',', cli->out);
            json_str(cli->out, list[i].url);
        }
        fputs("]\n", cli->out);
    } else {
        for (size_t i = 0; i < n; i++) {
            char part[16];
            fprintf(cli->out, "%s\t%s\tcrl/%s\n", part_label(list[i].part, part), list[i].url, list[i].file);
        }
    }
    free(list);
    return 0;
}

/* rebuild (build, sign, check, number, write the files) or show (the
 * last numbers, what a build would hold). */
static int crl_each(struct cli *cli, struct opts *o, int rebuild) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_crl_ref *list;
    size_t n;
    if (!ca_crl_list(c, o->ca, &list, &n, &e)) {
        close_core(c, owned);
        return fail(cli, e.msg);
    }
    size_t *idx = malloc((n + 1) * sizeof(size_t)), nidx = 0;
    int status = 0;
    if (idx == NULL || !crl_pick(cli, o, list, n, idx, &nidx)) status = 1;
    for (size_t k = 0; status == 0 && k < nidx; k++) {
        const struct ca_crl_ref *r = &list[idx[k]];
        if (rebuild) {
            struct ca_crl crl;
            if (!ca_crl_build(c, o->ca, r, CA_CRL_VALIDITY_DEFAULT_S, &crl, &e) || !ca_crl_write_file(c, &crl, &e)) {
                free(crl.der);
                status = fail(cli, e.msg);
                break;
            }
            char tu[21], nu[21];
            rtime_format(crl.this_update, tu);
            rtime_format(crl.next_update, nu);
            fprintf(cli->out, "crl/%s: number %llu, %zu entries, %zu bytes, thisUpdate %s, nextUpdate %s (%.1f ms)\n",
                    r->file, (unsigned long long)crl.number, crl.entries, crl.der_len, tu, nu,
                    crl.build_seconds * 1e3);
            free(crl.der);
        } else {
            uint64_t num;
            int64_t tu;
            int got = ca_crl_last(c, o->ca, r, &num, &tu, &e);
            if (got < 0) {
                status = fail(cli, e.msg);
                break;
            }
            char tus[21] = "-", part[16];
            if (got == 1) rtime_format(tu, tus);
            fprintf(cli->out, "partition: %s\nurl: %s\nfile: crl/%s\nlast-number: %llu\nlast-this-update: %s\n\n",
                    part_label(r->part, part), r->url, r->file, (unsigned long long)num, tus);
        }
    }
    free(idx);
    free(list);
    close_core(c, owned);
    return status;
}

static int run_crl_rebuild(struct cli *cli, struct opts *o, const char *pos) { return crl_each(cli, o, 1); }

struct history {
    struct cli *cli;
    int has_part, has_number, found;
    uint32_t part;
    uint64_t number;
    const char *out;
    struct rerr e;
};

static int history_cb(void *arg, const struct crlarchive_rec *r, const uint8_t *der) {
    struct history *h = arg;
    if (h->has_part && r->part != h->part) return 1;
    if (h->has_number && r->number != h->number) return 1;
    h->found++;
    if (h->out != NULL) { /* the one asked for, written out */
        char buf[PATH_MAX];
        if (!fs_write(resolve(h->cli, h->out, buf), der, r->der_len, 0644, FS_NAMED, &h->e)) h->found = -1;
        return 0;
    }
    char tu[21], part[16];
    rtime_format(r->this_update, tu);
    fprintf(h->cli->out, "%s\t%llu\t%s\t%zu\t%zu\n", part_label(r->part, part), (unsigned long long)r->number, tu,
            r->der_len, r->comp_len);
    return 1;
}

static int run_crl_history(struct cli *cli, struct opts *o, const char *pos) {
    struct ca_core *c;
    int owned;
    if (!open_core(cli, o, 0, &c, &owned)) return 1;
    struct ca_info info;
    struct rerr e;
    int known = ca_info_get(c, o->ca, &info, &e);
    close_core(c, owned);
    if (!known) return fail(cli, e.msg);
    struct history h = {.cli = cli, .out = o->out};
    if (o->partition != NULL) {
        long v;
        h.has_part = 1;
        if (strcmp(o->partition, "ca") == 0) h.part = URLS_PART_CA;
        else if (parse_long(o->partition, &v) && v >= 0 && v < (long)URLS_PART_CA) h.part = (uint32_t)v;
        else return usage_fail(cli, "--partition: a partition number or ca");
    }
    if (o->number != NULL) {
        char *end;
        errno = 0;
        h.number = strtoull(o->number, &end, 10);
        if (errno != 0 || end == o->number || *end != '\0') return usage_fail(cli, "--number: a CRL number");
        h.has_number = 1;
    }
    if (o->out != NULL && (!h.has_part || !h.has_number))
        return usage_fail(cli, "--out needs --partition and --number (one CRL)");
    if (o->out == NULL) fprintf(cli->out, "partition\tnumber\tthis-update\tbytes\tcompressed\n");
    if (!crlarchive_each(o->dir, o->ca, o->out != NULL, history_cb, &h, &e)) return fail(cli, e.msg);
    if (h.found < 0) return fail(cli, h.e.msg);
    if (o->out != NULL && h.found == 0)
        return failf(cli, "the archive of CA %s has no CRL %s of partition %s", o->ca, o->number, o->partition);
    if (o->out != NULL) fprintf(cli->out, "wrote %s\n", o->out);
    return 0;
}
static int run_crl_show(struct cli *cli, struct opts *o, const char *pos) { return crl_each(cli, o, 0); }

/* ---- the table ---- */

#define CREATE_OPTS O_NAME, O_SUBJECT, O_KEY, O_KEY_URI, O_DAYS, O_BASE_URL, O_PSIZE, O_COMPLETE, O_MAXB
static const int a_root[] = {CREATE_OPTS, O_PATHLEN, 0};
static const int a_sub[] = {CREATE_OPTS, O_PARENT, O_PATHLEN, 0};
static const int a_csr[] = {O_NAME, O_SUBJECT, O_KEY, O_KEY_URI, O_BASE_URL, O_PSIZE, O_COMPLETE, O_MAXB, 0};
static const int a_caimport[] = {O_NAME, O_CERT, O_CHAIN, 0};
static const int a_list[] = {O_JSON, 0};
static const int a_none[] = {0};
static const int a_issue[] = {O_CA, O_CSR, O_TEMPLATE, O_DAYS, O_HOURS, O_SAN, O_IDEM, O_CHAIN, O_PATHLEN, 0};
static const int a_revoke[] = {O_CA, O_SERIAL, O_FILE, O_REASON, O_INVALIDITY, 0};
static const int a_serial[] = {O_CA, O_SERIAL, 0};
static const int a_report[] = {O_CA, O_FORMAT, O_SINCE, 0};
static const int a_import[] = {O_CA, O_FILE, 0};
static const int a_log[] = {O_FROM, 0};
static const int a_audit_verify[] = {O_ANCHOR, 0};
static const int a_delete[] = {O_RESTORE_DAYS, 0};
static const int a_rekey[] = {O_NEWPASS, 0};
static const int a_admin_init[] = {O_NAMES, 0};
static const int a_admin_issue[] = {O_NAME, O_ROLE, O_CA, O_TEMPLATE, O_DAYS, O_CSR, O_OUT, 0};
static const int a_audit_export[] = {O_FORMAT, O_FROM, 0};
static const int a_respond[] = {O_CA, O_SERIAL, O_HASH, O_OUT, 0};
static const int a_precompute[] = {O_CA, 0};
static const int a_crl_list[] = {O_CA, O_JSON, 0};
static const int a_crl_each[] = {O_CA, O_PARTITION, O_ALL, 0};
static const int a_crl_history[] = {O_CA, O_PARTITION, O_NUMBER, O_OUT, 0};

#define KEY_HELP                                                                                   \
    "  --key ec-p256|ec-p384|rsa-2048|rsa-3072|rsa-4096   key type (default ec-p256)\n"              \
    "  --key-uri pkcs11:...  the key is this object in a PKCS#11 token (RFC 7512 URI,\n"              \
    "                        e.g. pkcs11:token=ca;object=root), made there beforehand;\n"            \
    "                        $REVD_PKCS11_MODULE, $REVD_PKCS11_PIN_FILE (or _PIN) (docs/keys.md)\n"
#define CRL_HELP                                                                                   \
    "  --base-url URL        where CRLs, OCSP and the CA certificate are served\n"                   \
    "                        (default http://127.0.0.1:8080)\n"                                      \
    "  --partition-size N    certificates per CRL partition (default: the most whose\n"             \
    "                        fully revoked CRL fits in --crl-max-bytes)\n"                           \
    "  --complete-crl        one CRL for the whole CA (then at most 1,000,000 certificates)\n"     \
    "  --crl-max-bytes N     CRL size cap (default 1000000)\n"

static const struct cmd ca_cmds[] = {
    {"create-root", "revd ca create-root --name NAME --subject /CN=... [options]",
     "Creates a self-signed root CA.\n  --days N              validity (default 3650)\n" KEY_HELP CRL_HELP
     "  --path-len N          basicConstraints pathLen (default: none)\n",
     a_root, run_create, 0, 1},
    {"create-sub", "revd ca create-sub --name NAME --parent PARENT --subject /CN=... [options]",
     "Creates a CA signed by PARENT (a CA in DIR).\n"
     "  --days N              validity (default 1825, never past the parent's notAfter)\n" KEY_HELP CRL_HELP
     "  --path-len N          basicConstraints pathLen (default 0)\n",
     a_sub, run_create, 0, 0},
    {"csr", "revd ca csr --name NAME --subject /CN=... [--key K | --key-uri URI] [CRL options]",
     "Creates the key of a CA whose parent is outside revd (or takes it from a token)\nand prints its CSR.\n" KEY_HELP CRL_HELP,
     a_csr, run_csr, 0, 1},
    {"import", "revd ca import --name NAME --cert FILE --chain FILE",
     "Installs the certificate an outside parent signed for a pending CA.\n"
     "  --cert FILE           the CA certificate (PEM or DER)\n"
     "  --chain FILE          the parent's chain, PEM, ending in its root\n",
     a_caimport, run_import_ca, 0, 0},
    {"list", "revd ca list [--json]", "Lists the CAs in DIR.\n", a_list, run_list, 0, 0},
    {"show", "revd ca show NAME [--json]", "Shows one CA: state, key, validity, counts, revocation settings.\n",
     a_list, run_show, 1, 0},
    {"disable", "revd ca disable NAME", "Stops a CA issuing; it still publishes status.\n", a_none,
     run_disable, 1, 0},
    {"enable", "revd ca enable NAME", "Lets a disabled CA issue again.\n", a_none, run_enable, 1, 0},
    {"delete", "revd ca delete NAME [--restore-days N]",
     "Deletes a CA, with a window in which it can be restored: from now on it issues\n"
     "nothing, while its OCSP responses and CRLs are still served and its\n"
     "certificates can still be revoked; when the window ends, a running revd serve\n"
     "purges it within the hour: its key files (CA and OCSP responder) are removed\n"
     "and its status is no longer published. Its records and audit log stay.\n"
     "Refused while a CA under it is not deleted.\n"
     "  --restore-days N      the window, 7 to 3650 days (default 30)\n",
     a_delete, run_delete, 1, 0},
    {"restore", "revd ca restore NAME", "Undoes revd ca delete within the restore window: the CA is as it was.\n",
     a_none, run_restore, 1, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd ocsp_cmds[] = {
    {"respond", "revd ocsp respond --ca NAME --serial HEX --out FILE [--hash sha1|sha256|sha384|sha512]",
     "Signs the OCSP response for one certificate from the index, as the responder\n"
     "will serve it, and writes it (DER) to FILE: good, revoked (with its reason), or\n"
     "unauthorized for a serial the CA never issued. Signed by the CA's delegated\n"
     "responder, created (or renewed) on first use. Valid 4 days.\n"
     "  --hash H              the CertID hash algorithm (default sha1)\n",
     a_respond, run_ocsp_respond, 0, 0},
    {"precompute", "revd ocsp precompute --ca NAME",
     "Signs the responses of every unexpired certificate of a CA (SHA-1 and SHA-256\n"
     "CertIDs) into memory, as the responder will at start, and reports how long it\n"
     "took and the memory per response. Writes nothing (a measurement, for now).\n",
     a_precompute, run_ocsp_precompute, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd crl_cmds[] = {
    {"list", "revd crl list --ca NAME [--json]",
     "Lists every CRL of a CA: partition, URL (the CDP of its certificates and the\n"
     "CRL's issuingDistributionPoint), file under DIR/crl/. --json prints the JSON\n"
     "array of the URLs (the form CCADB asks CAs to disclose).\n",
     a_crl_list, run_crl_list, 0, 0},
    {"show", "revd crl show --ca NAME [--partition N|ca]",
     "Shows a CA's CRLs (or one): URL, file, the last CRL number and thisUpdate.\n", a_crl_each, run_crl_show, 0,
     0},
    {"rebuild", "revd crl rebuild --ca NAME [--partition N|ca | --all]",
     "Builds, signs and checks a CA's CRLs (all, or one partition) from the index,\n"
     "each with the next CRL number, valid 7 days, and publishes them as files under\n"
     "DIR/crl/ (temporary file, fsync, rename).\n",
     a_crl_each, run_crl_rebuild, 0, 0},
    {"history", "revd crl history --ca NAME [--partition N|ca] [--number K --out FILE]",
     "Lists every CRL the CA has signed, from its archive (DIR/crl-archive/NAME.log,\n"
     "zstd-compressed): partition, number, thisUpdate, size. With --partition,\n"
     "--number and --out, writes that CRL (DER) to FILE.\n",
     a_crl_history, run_crl_history, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd audit_cmds[] = {
    {"verify", "revd audit verify [--anchor SEQ:SHA256]",
     "Checks the audit log's hash chain: every record must carry the SHA-256 of the\n"
     "one before it, the sequence must have no gap, and the last record must match\n"
     "the head written with it. Prints each problem (edited, removed, reordered or\n"
     "added records) with its record number and exits 1; else prints the record\n"
     "count and the head (SEQ:SHA256), which you may keep elsewhere and pass back:\n"
     "  --anchor SEQ:SHA256   record SEQ must still hash to this (a head kept\n"
     "                        earlier): detects a log rewritten whole\n",
     a_audit_verify, run_audit_verify, 0, 0},
    {"export", "revd audit export --format json|csv [--from SEQ]",
     "Writes the audit log: json, an array of the records as stored (one per line);\n"
     "csv, seq,time,principal,source,op,ca,serial,result,params,prev (RFC 4180;\n"
     "params as JSON).\n",
     a_audit_export, run_audit_export, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd admin_cmds[] = {
    {"init", "revd admin init [--names LIST]",
     "Makes the admin API's PKI under DIR/admin: revd's own admin CA (ca.pem, ca.key)\n"
     "and the HTTPS server's certificate (server.pem, server.key) for LIST. Run again,\n"
     "it keeps the admin CA and makes a new server certificate.\n"
     "  --names LIST          the server's names (default DNS:localhost,IP:127.0.0.1,IP:::1)\n",
     a_admin_init, run_admin_init, 0, 1},
    {"issue-credential",
     "revd admin issue-credential --name N --role admin|issuer|revoker|auditor [--ca LIST]\n"
     "                            [--template LIST] [--days N] [--csr FILE] --out DIR",
     "Issues a client certificate for the admin API (docs/admin.md) and writes\n"
     "DIR/N.pem, DIR/N.key (a new P-256 key, mode 0600; none with --csr) and DIR/ca.pem.\n"
     "  --role R              admin: CA lifecycle, CRL rebuilds, credentials; issuer:\n"
     "                        issue, get, describe; revoker: revoke, unhold, status;\n"
     "                        auditor: reports and the audit log, read-only\n"
     "  --ca LIST             the CAs an issuer or revoker may act on (a,b or *)\n"
     "  --template LIST       the templates an issuer may use (a,b or *)\n"
     "  --days N              validity, 1 to 825 (default 365)\n"
     "  --csr FILE            certify this CSR's key instead of making one\n",
     a_admin_issue, run_admin_issue, 0, 0},
    {"list-credentials", "revd admin list-credentials [--json]",
     "Lists the credentials: name, role, state, notAfter, scope.\n", a_list, run_admin_list, 0, 0},
    {"revoke-credential", "revd admin revoke-credential NAME",
     "Revokes a credential: the admin API refuses it from its next request.\n", a_none, run_admin_revoke, 1, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd keys_cmds[] = {
    {"status", "revd keys status", "Lists the private key files of DIR (keys/, admin/): encrypted, PLAIN, or token\n(a reference to a key in a PKCS#11 token).\n", a_none,
     run_keys_status, 0, 0},
    {"rekey", "revd keys rekey --new-passphrase-file FILE",
     "Rewrites every private key file of DIR (not references to keys in a PKCS#11\n"
     "token) encrypted with the passphrase in FILE, reading\n"
     "them with the current one ($REVD_KEY_PASSPHRASE_FILE, or none for plain keys).\n"
     "Each file is replaced atomically; a run cut short is finished by running it\n"
     "again with the same two passphrases. Through a running server, the server's\n"
     "current passphrase is used and the new one is its own from then on.\n",
     a_rekey, run_keys_rekey, 0, 0},
    {"encrypt", "revd keys encrypt",
     "Rewrites every plain private key of DIR encrypted with the passphrase of\n"
     "$REVD_KEY_PASSPHRASE_FILE (or $REVD_KEY_PASSPHRASE): PKCS#8, PBKDF2-HMAC-SHA256,\n"
     "AES-256-CBC. From then on revd needs the passphrase to sign (docs/keys.md).\n",
     a_none, run_keys_encrypt, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct cmd top_cmds[] = {
    {"issue", "revd issue --ca NAME --csr FILE [options]",
     "Issues a certificate from a CSR and prints it (PEM).\n"
     "  --template T          end-entity (default), server, client, code-signing, email,\n"
     "                        ocsp-signing, sub-ca, passthrough\n"
     "  --days N | --hours N  validity (default 90 days)\n"
     "  --san LIST            DNS:x,IP:y,email:z,URI:u (default: the CSR's)\n"
     "  --idempotency-key K   the same key and request give the same certificate\n"
     "  --chain               also print the issuing CA and its parents (not the root)\n"
     "  --path-len N          pathLen of a sub-ca certificate (default 0)\n",
     a_issue, run_issue, 0, 0},
    {"revoke", "revd revoke --ca NAME (--serial HEX | --file SERIALS) [--reason R] [--invalidity-date TIME]",
     "Revokes a certificate. R: unspecified (default), keyCompromise, cACompromise,\n"
     "affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
     "privilegeWithdrawn, aACompromise. Only certificateHold can be undone (revd unhold).\n"
     "  --file SERIALS        revoke every serial in the file (hex, one per line; blank\n"
     "                        lines and # comments skipped; at most 200,000) with the\n"
     "                        same reason, in one atomic write: all of them or none\n",
     a_revoke, run_revoke, 0, 0},
    {"unhold", "revd unhold --ca NAME --serial HEX", "Releases a certificateHold.\n", a_serial, run_unhold, 0, 0},
    {"status", "revd status --ca NAME --serial HEX",
     "Prints good, revoked or unknown, then the details and the CRL partition.\n", a_serial, run_status, 0, 0},
    {"report", "revd report --ca NAME --format csv|json [--since TIME]",
     "Lists every certificate issued, imported or revoked (since TIME).\n", a_report, run_report, 0, 0},
    {"import", "revd import --ca NAME --file F.csv",
     "Bulk-loads another CA's inventory: serial,not_after,status[,revocation_time,reason[,cdp]]\n"
     "(status good|revoked|hold; optional header line). Checked whole before writing.\n",
     a_import, run_import, 0, 0},
    {"log", "revd log [--from SEQ]",
     "Prints the operations log, one JSON record per line (seq, time, op, ca, serial,\n"
     "params, result), from sequence number SEQ (default: the first).\n",
     a_log, run_log, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0},
};

static const struct option long_opts[] = {
    {"help", no_argument, NULL, O_HELP},
    {"dir", required_argument, NULL, O_DIR},
    {"name", required_argument, NULL, O_NAME},
    {"subject", required_argument, NULL, O_SUBJECT},
    {"key", required_argument, NULL, O_KEY},
    {"days", required_argument, NULL, O_DAYS},
    {"hours", required_argument, NULL, O_HOURS},
    {"base-url", required_argument, NULL, O_BASE_URL},
    {"partition-size", required_argument, NULL, O_PSIZE},
    {"complete-crl", no_argument, NULL, O_COMPLETE},
    {"crl-max-bytes", required_argument, NULL, O_MAXB},
    {"parent", required_argument, NULL, O_PARENT},
    {"path-len", required_argument, NULL, O_PATHLEN},
    {"cert", required_argument, NULL, O_CERT},
    {"chain", optional_argument, NULL, O_CHAIN},
    {"json", no_argument, NULL, O_JSON},
    {"ca", required_argument, NULL, O_CA},
    {"csr", required_argument, NULL, O_CSR},
    {"template", required_argument, NULL, O_TEMPLATE},
    {"san", required_argument, NULL, O_SAN},
    {"idempotency-key", required_argument, NULL, O_IDEM},
    {"serial", required_argument, NULL, O_SERIAL},
    {"reason", required_argument, NULL, O_REASON},
    {"invalidity-date", required_argument, NULL, O_INVALIDITY},
    {"format", required_argument, NULL, O_FORMAT},
    {"since", required_argument, NULL, O_SINCE},
    {"file", required_argument, NULL, O_FILE},
    {"from", required_argument, NULL, O_FROM},
    {"hash", required_argument, NULL, O_HASH},
    {"out", required_argument, NULL, O_OUT},
    {"partition", required_argument, NULL, O_PARTITION},
    {"all", no_argument, NULL, O_ALL},
    {"number", required_argument, NULL, O_NUMBER},
    {"anchor", required_argument, NULL, O_ANCHOR},
    {"restore-days", required_argument, NULL, O_RESTORE_DAYS},
    {"role", required_argument, NULL, O_ROLE},
    {"names", required_argument, NULL, O_NAMES},
    {"new-passphrase-file", required_argument, NULL, O_NEWPASS},
    {"key-uri", required_argument, NULL, O_KEY_URI},
    {NULL, 0, NULL, 0},
};

static const char *opt_name(int id) {
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == id) return o->name;
    return "?";
}


static void print_cmd_help(FILE *f, const struct cmd *c) {
    fprintf(f, "usage: %s [--dir DIR]\n\n%s  --dir DIR             the data directory (default $REVD_DIR, else ./revd-data)\n",
            c->usage, c->help);
}

__attribute__((format(printf, 3, 4))) static int usage_error(struct cli *cli, const struct cmd *c, const char *what, ...) {
    va_list ap;
    va_start(ap, what);
    fprintf(cli->err, "revd: ");
    vfprintf(cli->err, what, ap);
    va_end(ap);
    fprintf(cli->err, "\nusage: %s (see --help)\n", c->usage);
    return 2;
}

static int allowed(const struct cmd *c, int id) {
    if (id == O_HELP || id == O_DIR) return 1;
    for (const int *a = c->allowed; *a; a++)
        if (*a == id) return 1;
    return 0;
}

static int run_cmd(struct cli *cli, const struct cmd *c, int argc, char **argv) {
    struct opts o;
    memset(&o, 0, sizeof(o));
    o.path_len = -1;
    o.dir = env_dir_from_args(argc, argv);
    optind = 0;
    opterr = 0;
    int id;
    while ((id = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        if (id == '?') return usage_error(cli, c, "unknown option '%s'", argv[optind - 1]);
        if (id == ':') return usage_error(cli, c, "option '%s' needs a value", argv[optind - 1]);
        if (!allowed(c, id)) return usage_error(cli, c, "option --%s does not apply here", opt_name(id));
        long *num = NULL;
        switch (id) {
        case O_HELP: print_cmd_help(cli->out, c); return 0;
        case O_DIR: o.dir = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_SUBJECT: o.subject = optarg; break;
        case O_KEY: o.key = optarg; break;
        case O_DAYS: num = &o.days; o.days_set = 1; break;
        case O_HOURS: num = &o.hours; o.hours_set = 1; break;
        case O_BASE_URL: o.base_url = optarg; break;
        case O_PSIZE: num = &o.psize; break;
        case O_COMPLETE: o.complete = 1; break;
        case O_MAXB: num = &o.maxb; break;
        case O_PARENT: o.parent = optarg; break;
        case O_PATHLEN: num = &o.path_len; break;
        case O_CERT: o.cert = optarg; break;
        case O_CHAIN:
            /* `ca import --chain FILE`; `issue --chain` is a flag. */
            if (c->run == run_import_ca) {
                if (optarg == NULL && optind < argc) optarg = argv[optind++];
                o.chain = optarg;
            } else if (optarg != NULL) {
                return usage_error(cli, c, "--chain takes no value here");
            } else {
                o.with_chain = 1;
            }
            break;
        case O_JSON: o.json = 1; break;
        case O_CA: o.ca = optarg; break;
        case O_CSR: o.csr = optarg; break;
        case O_TEMPLATE: o.template_name = optarg; break;
        case O_SAN: o.san = optarg; break;
        case O_IDEM: o.idem = optarg; break;
        case O_SERIAL: o.serial = optarg; break;
        case O_REASON: o.reason = optarg; break;
        case O_INVALIDITY: o.invalidity = optarg; break;
        case O_FORMAT: o.format = optarg; break;
        case O_SINCE: o.since = optarg; break;
        case O_FILE: o.file = optarg; break;
        case O_FROM: o.since = optarg; break;
        case O_HASH: o.hash = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_PARTITION: o.partition = optarg; break;
        case O_ALL: o.all = 1; break;
        case O_NUMBER: o.number = optarg; break;
        case O_ANCHOR: o.anchor = optarg; break;
        case O_RESTORE_DAYS: num = &o.restore_days; o.restore_days_set = 1; break;
        case O_ROLE: o.role = optarg; break;
        case O_NAMES: o.names = optarg; break;
        case O_NEWPASS: o.newpass = optarg; break;
        case O_KEY_URI: o.key_uri = optarg; break;
        }
        if (num != NULL && !parse_long(optarg, num))
            return usage_error(cli, c, "--%s needs a whole number", opt_name(id));
    }
    const char *pos = NULL;
    if (c->needs_positional) {
        if (optind >= argc) return usage_error(cli, c, "missing the CA name%s", "");
        pos = argv[optind++];
    }
    if (optind < argc) return usage_error(cli, c, "unexpected argument '%s'", argv[optind]);
    /* Required options. */
    const int *a = c->allowed;
    for (; *a; a++) {
        const char *v = NULL;
        int required = 1;
        switch (*a) {
        case O_NAME: v = o.name; break;
        case O_SUBJECT: v = o.subject; break;
        case O_PARENT: v = o.parent; break;
        case O_CERT: v = o.cert; break;
        case O_CSR: required = c->run != run_admin_issue; v = o.csr; break;
        case O_SERIAL: required = !(c->run == run_revoke && o.file != NULL); v = o.serial; break;
        case O_FILE: required = c->run != run_revoke; v = o.file; break;
        case O_FORMAT: v = o.format; break;
        case O_OUT: required = c->run != run_crl_history; v = o.out; break;
        case O_ROLE: v = o.role; break;
        case O_NEWPASS: v = o.newpass; break;
        case O_CA: required = c->run != run_admin_issue; v = o.ca; break;
        case O_TEMPLATE: required = 0; break;
        case O_CHAIN: required = c->run == run_import_ca; v = o.chain; break;
        default: required = 0;
        }
        if (required && v == NULL) return usage_error(cli, c, "missing --%s", opt_name(*a));
    }
    return c->run(cli, &o, pos);
}

void cli_usage(FILE *f) {
    fputs("usage: revd COMMAND [options] [--dir DIR]\n"
          "\n"
          "revd: a certificate authority that publishes revocation status (OCSP, CRLs).\n"
          "DIR holds the index, keys and certificates (default $REVD_DIR, else ./revd-data).\n"
          "\n"
          "CAs:\n"
          "  ca create-root    create a self-signed root CA\n"
          "  ca create-sub     create a CA signed by a CA in DIR\n"
          "  ca csr            create a CA key and CSR for a parent outside revd\n"
          "  ca import         install the certificate an outside parent signed\n"
          "  ca list | show NAME | disable NAME | enable NAME\n"
          "  ca delete NAME    delete a CA, restorable for --restore-days (default 30)\n"
          "  ca restore NAME   undo a deletion within its window\n"
          "Certificates:\n"
          "  issue             issue a certificate from a CSR\n"
          "  revoke            revoke a certificate (RFC 5280 reasons)\n"
          "  unhold            release a certificateHold\n"
          "  status            good, revoked or unknown, and the CRL partition\n"
          "  report            every certificate, as CSV or JSON\n"
          "  import            bulk-load another CA's inventory (CSV)\n"
          "  log               the operations log (JSON lines)\n"
          "Admin API (HTTPS, docs/admin.md):\n"
          "  admin init        make the admin CA and the server's certificate\n"
          "  admin issue-credential | list-credentials | revoke-credential NAME\n"
          "Keys at rest (docs/keys.md):\n"
          "  keys status       which private keys are encrypted\n"
          "  keys encrypt      encrypt them with $REVD_KEY_PASSPHRASE_FILE's passphrase\n"
          "  keys rekey        encrypt them with a new passphrase\n"
          "  (CA keys in a PKCS#11 token: ca create-root --key-uri, $REVD_PKCS11_MODULE,\n"
          "   $REVD_PKCS11_PIN_FILE)\n"
          "Audit:\n"
          "  audit verify      check the audit log's hash chain (edits, removals, reordering)\n"
          "  audit export      the audit log as JSON or CSV\n"
          "OCSP:\n"
          "  ocsp respond      sign one certificate's OCSP response from the index\n"
          "CRLs:\n"
          "  crl list          every CRL URL of a CA (--json: for CCADB)\n"
          "  crl show          a CA's CRLs and their last numbers\n"
          "  crl rebuild       build, sign and publish a CA's CRLs as files under DIR/crl/\n"
          "  crl history       every CRL a CA has signed, from its archive\n"
          "Running:\n"
          "  demo              create a demo CA in ./demo and show how to use it\n"
          "  serve             hold DIR and answer the commands above over DIR/revd.sock\n"
          "\n"
          "revd COMMAND --help describes a command. Exit status: 0 done, 1 failed, 2 usage error.\n",
          f);
}

int cli_run(struct cli *cli, int argc, char **argv) {
    if (argc < 1) {
        cli_usage(cli->err);
        return 2;
    }
    const struct cmd *table = top_cmds;
    const char *word = argv[0];
    if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
        cli_usage(cli->out);
        return 0;
    }
    if (strcmp(word, "demo") == 0) return demo_run(cli, argc, argv);
    /* "revd GROUP SUBCOMMAND ...": the group's table. */
    static const struct group {
        const char *word;
        const struct cmd *table;
        const char *subs;
    } groups[] = {
        {"ocsp", ocsp_cmds, "respond|precompute"},
        {"crl", crl_cmds, "list|show|rebuild|history"},
        {"admin", admin_cmds, "init|issue-credential|list-credentials|revoke-credential"},
        {"audit", audit_cmds, "verify|export"},
        {"keys", keys_cmds, "status|encrypt|rekey"},
        {"ca", ca_cmds, "create-root|create-sub|csr|import|list|show|disable|enable|delete|restore"},
    };
    const char *prefix = "";
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        if (strcmp(word, groups[g].word) != 0) continue;
        if (argc < 2 || strcmp(argv[1], "--help") == 0) {
            FILE *f = argc < 2 ? cli->err : cli->out;
            fprintf(f, "usage: revd %s %s [options]\nrevd %s SUBCOMMAND --help describes one.\n", groups[g].word,
                    groups[g].subs, groups[g].word);
            return argc < 2 ? 2 : 0;
        }
        table = groups[g].table;
        prefix = groups[g].word;
        word = argv[1];
        argc--;
        argv++;
        break;
    }
    for (const struct cmd *c = table; c->name; c++)
        if (strcmp(c->name, word) == 0) return run_cmd(cli, c, argc, argv);
    fprintf(cli->err, "revd: unknown command '%s%s%.60s'\nusage: revd COMMAND [options] (see revd --help)\n", prefix,
            prefix[0] ? " " : "", word);
    return 2;
}
