/* audit: `revd log` (the operations log) and `revd audit verify|export`
 * (its hash chain, and the log as JSON or CSV). */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "ca/ca.h"
#include "cmd/cmd.h"
#include "node/report.h"

static int log_line(void *arg, uint64_t seq, const char *json, size_t len) {
    FILE *f = arg;
    fwrite(json, 1, len, f);
    fputc('\n', f);
    return !ferror(f);
}

static int run_log(struct cli *cli, struct opts *o, const char *pos) {
    if (o->since != NULL) {
        long v;
        if (!cmd_parse_long(o->since, &v) || v < 0) return cmd_usage_fail(cli, "--from must be a sequence number (0 or more)");
        o->seq_from = (unsigned long long)v;
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    int ok = ca_oplog(c, o->seq_from, log_line, cli->out, &e);
    cmd_close_core(c, owned);
    return ok ? 0 : cmd_fail(cli, e.msg);
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
            return cmd_usage_fail(cli, "--anchor must be SEQ:SHA256 (as `revd audit verify` printed it, lowercase hex)");
        memcpy(ahex, colon + 1, 65);
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct ca_audit_result r;
    int ok = ca_audit_verify(c, aseq, ahex, audit_problem, cli, &r, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
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
    else if (strcmp(o->format, "csv") != 0) return cmd_usage_fail(cli, "--format must be json or csv");
    if (o->since != NULL) {
        long v;
        if (!cmd_parse_long(o->since, &v) || v < 0) return cmd_usage_fail(cli, "--from must be a sequence number (0 or more)");
        o->seq_from = (unsigned long long)v;
    }
    struct ca_core *c;
    int owned;
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    if (!st.json) fputs("seq,time,principal,source,op,ca,serial,result,params,prev\n", cli->out);
    struct rerr e;
    int ok = ca_oplog(c, o->seq_from, export_record, &st, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
    if (st.bad) return cmd_fail(cli, "a log record is not JSON: run revd audit verify");
    if (st.json) fputs(st.n ? "\n]\n" : "[]\n", cli->out);
    return 0;
}

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_audit_verify[] = {O_ANCHOR, 0};
static const int a_audit_export[] = {O_FORMAT, O_FROM, 0};

const struct cmd cmd_audit_cmds[] = {
    {"verify", "revd audit verify [--anchor SEQ:SHA256]",
     "Checks the audit log's hash chain: every record must carry the SHA-256 of the\n"
     "one before it, the sequence must have no gap, and the last record must match\n"
     "the head written with it. Prints each problem (edited, removed, reordered or\n"
     "added records) with its record number and exits 1; else prints the record\n"
     "count and the head (SEQ:SHA256), which you may keep elsewhere and pass back:\n"
     "  --anchor SEQ:SHA256   record SEQ must still hash to this (a head kept\n"
     "                        earlier): detects a log rewritten whole\n",
     a_audit_verify, run_audit_verify, 0, 0, 0},
    {"export", "revd audit export --format json|csv [--from SEQ]",
     "Writes the audit log: json, an array of the records as stored (one per line);\n"
     "csv, seq,time,principal,source,op,ca,serial,result,params,prev (RFC 4180;\n"
     "params as JSON).\n",
     a_audit_export, run_audit_export, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};

static const int a_log[] = {O_FROM, 0};

const struct cmd cmd_log_cmds[] = {
    {"log", "revd log [--from SEQ]",
     "Prints the operations log, one JSON record per line (seq, time, op, ca, serial,\n"
     "params, result), from sequence number SEQ (default: the first).\n",
     a_log, run_log, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
