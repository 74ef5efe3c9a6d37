/* report: a CA's report as CSV or JSON (node/report.h). */
#include "node/report.h"

#include <jansson.h>
#include <string.h>

#include "ca/ca.h"
#include "common/hex.h"
#include "common/jsonsafe.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

struct report_state {
    FILE *out;
    int json, n;
};

/* partition_name: "ca" for the CA-scope partition, "ext-N" for the Nth
 * imported CDP, else the partition's number (docs/urls.md). */
void report_partition_name(uint32_t part, char out[16]) {
    if (part == URLS_PART_CA) snprintf(out, 16, "ca");
    else if (part == URLS_PART_NONE) snprintf(out, 16, "none");
    else if (part >= URLS_PART_EXTERNAL) snprintf(out, 16, "ext-%u", part - URLS_PART_EXTERNAL);
    else snprintf(out, 16, "%u", part);
}

/* csv_field writes s as one RFC 4180 field. A field a spreadsheet would
 * take for a formula (=, +, -, @ first) gets a leading apostrophe. */
void report_csv_field(FILE *f, const char *s) {
    if (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') fputc('\'', f);
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int report_row(void *arg, const struct ca_report_row *r) {
    struct report_state *st = arg;
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1], nb[21] = "", na[21], rt[21] = "";
    hex_encode_serial(r->serial, r->serial_len, hex);
    if (r->not_before) rtime_format(r->not_before, nb);
    rtime_format(r->not_after, na);
    if (r->revoked) rtime_format(r->revoked_at, rt);
    const char *status = !r->revoked ? "good" : r->reason == REASON_CERTIFICATE_HOLD ? "hold" : "revoked";
    const char *reason = r->revoked ? reason_name(r->reason) : "";
    char part[16];
    report_partition_name(r->partition, part);
    if (st->json) {
        json_t *j = json_pack("{s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "serial", hex, "subject",
                              jsafe_string(r->subject), "sans", jsafe_string(r->sans), "not_before", nb, "not_after", na, "status",
                              status, "revocation_time", rt, "reason", reason, "partition", part,
                              "template", r->template_name);
        if (j == NULL) return 0; /* out of memory */
        fputs(st->n ? ",\n  " : "[\n  ", st->out);
        json_dumpf(j, st->out, JSON_COMPACT);
        json_decref(j);
    } else {
        fprintf(st->out, "%s,", hex);
        report_csv_field(st->out, r->subject);
        fputc(',', st->out);
        report_csv_field(st->out, r->sans);
        fprintf(st->out, ",%s,%s,%s,%s,%s,%s,", nb, na, status, rt, reason, part);
        report_csv_field(st->out, r->template_name);
        fputc('\n', st->out);
    }
    st->n++;
    return !ferror(st->out);
}

int report_write(struct ca_core *c, const char *ca, int64_t since, int json, FILE *out, struct rerr *e) {
    struct report_state st = {out, json, 0};
    if (!json)
        fputs("serial,subject,sans,not_before,not_after,status,revocation_time,reason,partition,template\n", out);
    if (!ca_report(c, ca, since, report_row, &st, e)) return 0;
    if (json) fputs(st.n ? "\n]\n" : "[]\n", out);
    if (ferror(out)) return rerr_set(e, "writing the report failed");
    return 1;
}
