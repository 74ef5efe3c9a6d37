/* cert: `revd issue|revoke|unhold|status|report|import`: certificates, one
 * at a time or in bulk. Each calls the CA core and prints the result. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "ca/ca.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "node/report.h"

/* ---- issue / revoke / unhold / status ---- */

static int run_issue(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    uint8_t *csr = NULL;
    size_t csr_len;
    struct rerr e;
    if (o->days_set && o->hours_set) return cmd_usage_fail(cli, "--days and --hours exclude each other");
    if (o->days_set && (o->days < 1 || o->days > 36500)) return cmd_fail(cli, "--days must be 1 to 36500");
    if (o->hours_set && (o->hours < 1 || o->hours > 876000)) return cmd_fail(cli, "--hours must be 1 to 876000");
    if (o->path_len < -1 || o->path_len > 10) return cmd_fail(cli, "--path-len must be 0 to 10");
    if (!fs_read_file(cmd_resolve(cli, o->csr, buf), 65536, &csr, &csr_len, &e)) return cmd_fail(cli, e.msg);
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) {
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
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

/* Bulk revocation: --file holds one serial (hex) per line; blank lines
 * and # comments are skipped. Checked whole before anything is written. */
#define SERIALS_FILE_MAX (16u << 20)

static int revoke_file(struct cli *cli, struct opts *o, int reason, int64_t inval) {
    char buf[PATH_MAX];
    uint8_t *text;
    size_t len;
    struct rerr e;
    if (!fs_read_file(cmd_resolve(cli, o->file, buf), SERIALS_FILE_MAX, &text, &len, &e)) return cmd_fail(cli, e.msg);
    size_t cap = 1024, n = 0, line = 0;
    struct ca_serial *list = malloc(cap * sizeof(*list));
    int status = list == NULL ? cmd_fail(cli, "out of memory") : 0;
    char *save = NULL;
    for (char *l = strtok_r((char *)text, "\n", &save); status == 0 && l != NULL; l = strtok_r(NULL, "\n", &save)) {
        line++;
        size_t ll = strlen(l);
        while (ll > 0 && (l[ll - 1] == '\r' || l[ll - 1] == ' ' || l[ll - 1] == '\t')) l[--ll] = '\0';
        while (*l == ' ' || *l == '\t') l++;
        if (*l == '\0' || *l == '#') continue;
        if (n == CA_REVOKE_MANY_MAX) {
            status = cmd_failf(cli, "%s: more than %d serials; split the file", o->file, CA_REVOKE_MANY_MAX);
            break;
        }
        if (n == cap) {
            struct ca_serial *l2 = realloc(list, 2 * cap * sizeof(*list));
            if (l2 == NULL) {
                status = cmd_fail(cli, "out of memory");
                break;
            }
            list = l2;
            cap *= 2;
        }
        if (!hex_parse_serial(l, list[n].bytes, &list[n].len)) {
            status = cmd_failf(cli, "%s line %zu: '%.60s' is not a serial (hex, at most 20 octets)", o->file, line, l);
            break;
        }
        n++;
    }
    free(text);
    if (status == 0 && n == 0) status = cmd_failf(cli, "%s holds no serial", o->file);
    if (status != 0) {
        free(list);
        return status;
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) {
        free(list);
        return 1;
    }
    double t0 = rtime_mono();
    int ok = ca_revoke_many(c, o->ca, list, n, reason, inval, &e);
    double took = rtime_mono() - t0;
    cmd_close_core(c, owned);
    free(list);
    if (!ok) return cmd_fail(cli, e.msg);
    fprintf(cli->out, "revoked %zu certificates (%s) in %.2f s\n", n, reason_name(reason),
            took);
    return 0;
}

static int run_revoke(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (o->file != NULL && o->serial != NULL) return cmd_usage_fail(cli, "--serial and --file: one or the other");
    if (o->file == NULL && !cmd_parse_serial(cli, o, serial, &slen)) return 1;
    int reason = 0;
    if (o->reason != NULL && !reason_parse(o->reason, &reason)) {
        fprintf(cli->err, "revd: --reason %.80s: expected one of %s\n", o->reason, reason_list());
        return 1;
    }
    int64_t inval = 0;
    if (o->invalidity != NULL && !rtime_parse(o->invalidity, &inval))
        return cmd_fail(cli, "--invalidity-date: expected YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or @SECONDS");
    if (o->file != NULL) return revoke_file(cli, o, reason, inval);
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_revoke(c, o->ca, serial, slen, reason, inval, &e);
    if (ok) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        fprintf(cli->out, "revoked %s (%s)\n", hex, reason_name(reason));
        if (ca_notice(c)[0] != '\0') fprintf(cli->out, "%s\n", ca_notice(c));
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_unhold(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!cmd_parse_serial(cli, o, serial, &slen)) return 1;
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_unhold(c, o->ca, serial, slen, &e);
    if (ok) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(serial, slen, hex);
        fprintf(cli->out, "released %s\n", hex);
    }
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
}

static int run_status(struct cli *cli, struct opts *o, const char *pos) {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t slen;
    if (!cmd_parse_serial(cli, o, serial, &slen)) return 1;
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_cert_status s;
    int ok = ca_status(c, o->ca, serial, slen, &s, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
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
    report_partition_name(s.partition, part);
    fprintf(cli->out, "partition: %s\n", part);
    fprintf(cli->out, "crl: %s\n", s.crl_url);
    return 0;
}

/* ---- report / import ---- */

static int run_report(struct cli *cli, struct opts *o, const char *pos) {
    int json;
    if (strcmp(o->format, "csv") == 0) json = 0;
    else if (strcmp(o->format, "json") == 0) json = 1;
    else return cmd_usage_fail(cli, "--format must be csv or json");
    int64_t since = 0;
    if (o->since != NULL && !rtime_parse(o->since, &since))
        return cmd_fail(cli, "--since: expected YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or @SECONDS");
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = report_write(c, o->ca, since, json, cli->out, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    return 0;
}

static int run_import(struct cli *cli, struct opts *o, const char *pos) {
    char buf[PATH_MAX];
    struct ca_core *c;
    int owned;
    if (o->chunk_rows < 0 || o->chunk_rows > CA_IMPORT_CHUNK_ROWS_MAX)
        return cmd_failf(cli, "--chunk-rows must be 1 to %d (default %d)", CA_IMPORT_CHUNK_ROWS_MAX,
                         CA_IMPORT_CHUNK_ROWS);
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_import_result r;
    int ok = ca_import_csv(c, o->ca, cmd_resolve(cli, o->file, buf), (size_t)o->chunk_rows, cli->err, &r, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    fprintf(cli->out, "imported %llu certificates (%llu revoked) in %.2f s: %.0f rows/s\n",
            (unsigned long long)r.rows, (unsigned long long)r.revoked, r.seconds,
            r.seconds > 0 ? r.rows / r.seconds : 0.0);
    return 0;
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_issue[] = {O_CA, O_CSR, O_TEMPLATE, O_DAYS, O_HOURS, O_SAN, O_IDEM, O_CHAIN, O_PATHLEN, 0};
static const int a_revoke[] = {O_CA, O_SERIAL, O_FILE, O_REASON, O_INVALIDITY, 0};
static const int a_serial[] = {O_CA, O_SERIAL, 0};
static const int a_report[] = {O_CA, O_FORMAT, O_SINCE, 0};
static const int a_import[] = {O_CA, O_FILE, O_CHUNK_ROWS, 0};

const struct cmd cmd_cert_cmds[] = {
    {"issue", "revd issue --ca NAME --csr FILE [options]",
     "Issues a certificate from a CSR and prints it (PEM).\n"
     "  --template T          end-entity (default), server, client, code-signing, email,\n"
     "                        ocsp-signing, sub-ca, passthrough, short-lived (7 days at\n"
     "                        most, no CRL or OCSP pointers)\n"
     "  --days N | --hours N  validity (default 90 days)\n"
     "  --san LIST            DNS:x,IP:y,email:z,URI:u (default: the CSR's)\n"
     "  --idempotency-key K   the same key and request give the same certificate\n"
     "  --chain               also print the issuing CA and its parents (not the root)\n"
     "  --path-len N          pathLen of a sub-ca certificate (default 0)\n",
     a_issue, run_issue, 0, 0, 0},
    {"revoke", "revd revoke --ca NAME (--serial HEX | --file SERIALS) [--reason R] [--invalidity-date TIME]",
     "Revokes a certificate. R: unspecified (default), keyCompromise, cACompromise,\n"
     "affiliationChanged, superseded, cessationOfOperation, certificateHold,\n"
     "privilegeWithdrawn, aACompromise. Only certificateHold can be undone (revd unhold).\n"
     "  --file SERIALS        revoke every serial in the file (hex, one per line; blank\n"
     "                        lines and # comments skipped; at most 200,000) with the\n"
     "                        same reason, in one atomic write: all of them or none\n",
     a_revoke, run_revoke, 0, 0, CMD_SERIAL_OR_FILE},
    {"unhold", "revd unhold --ca NAME --serial HEX", "Releases a certificateHold.\n", a_serial, run_unhold, 0, 0, 0},
    {"status", "revd status --ca NAME --serial HEX",
     "Prints good, revoked or unknown, then the details and the CRL partition.\n", a_serial, run_status, 0, 0, 0},
    {"report", "revd report --ca NAME --format csv|json [--since TIME]",
     "Lists every certificate issued, imported or revoked (since TIME).\n", a_report, run_report, 0, 0, 0},
    {"import", "revd import --ca NAME --file F.csv [--chunk-rows N]",
     "Bulk-loads another CA's inventory: serial,not_after,status[,revocation_time,reason[,cdp]]\n"
     "(status good|revoked|hold; optional header line). Checked whole before writing.\n"
     "  --chunk-rows N        rows sorted in memory at a time, 64 bytes each (default\n"
     "                        4,000,000); a larger file is sorted in runs under DIR\n",
     a_import, run_import, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
