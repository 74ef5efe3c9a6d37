/* crl: `revd crl list|show|rebuild|history`: a CA's CRLs, their files
 * under DIR/crl/ and their archive. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "ca/ca.h"
#include "crl/make.h"
#include "cmd/cmd.h"
#include "common/fsutil.h"
#include "common/rtime.h"
#include "common/urls.h"
#include "crl/archive.h"

/* ---- crl ---- */

/* The CRLs --partition names (a number, "ca", or "all"/none with --all):
 * indices into list. */
static int crl_pick(struct cli *cli, const struct opts *o, const struct crl_ref *list, size_t n, size_t *idx,
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
    return cmd_failf(cli, "CA %s has no CRL partition '%.40s' (revd crl list --ca %s)", o->ca, o->partition, o->ca) &&
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
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct crl_ref *list;
    size_t n;
    int ok = crl_partition_list(c, o->ca, &list, &n, &e);
    cmd_close_core(c, owned);
    if (!ok) return cmd_fail(cli, e.msg);
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
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct rerr e;
    struct crl_ref *list;
    size_t n;
    if (!crl_partition_list(c, o->ca, &list, &n, &e)) {
        cmd_close_core(c, owned);
        return cmd_fail(cli, e.msg);
    }
    size_t *idx = malloc((n + 1) * sizeof(size_t)), nidx = 0;
    int status = 0;
    if (idx == NULL || !crl_pick(cli, o, list, n, idx, &nidx)) status = 1;
    for (size_t k = 0; status == 0 && k < nidx; k++) {
        const struct crl_ref *r = &list[idx[k]];
        if (rebuild) {
            struct crl crl;
            if (!crl_make(c, o->ca, r, CRL_VALIDITY_DEFAULT_S, &crl, &e) || !crl_file_write(c, &crl, &e)) {
                free(crl.der);
                status = cmd_fail(cli, e.msg);
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
            int got = crl_last(c, o->ca, r, &num, &tu, &e);
            if (got < 0) {
                status = cmd_fail(cli, e.msg);
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
    cmd_close_core(c, owned);
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

static int history_cb(void *arg, const struct crl_archive_rec *r, const uint8_t *der) {
    struct history *h = arg;
    if (h->has_part && r->part != h->part) return 1;
    if (h->has_number && r->number != h->number) return 1;
    h->found++;
    if (h->out != NULL) { /* the one asked for, written out */
        char buf[PATH_MAX];
        if (!fs_write(cmd_resolve(h->cli, h->out, buf), der, r->der_len, 0644, FS_NAMED, &h->e)) h->found = -1;
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
    if (!cmd_open_core(cli, o, 0, &c, &owned)) return 1;
    struct ca_info info;
    struct rerr e;
    int known = ca_info_get(c, o->ca, &info, &e);
    cmd_close_core(c, owned);
    if (!known) return cmd_fail(cli, e.msg);
    struct history h = {.cli = cli, .out = o->out};
    if (o->partition != NULL) {
        long v;
        h.has_part = 1;
        if (strcmp(o->partition, "ca") == 0) h.part = URLS_PART_CA;
        else if (cmd_parse_long(o->partition, &v) && v >= 0 && v < (long)URLS_PART_CA) h.part = (uint32_t)v;
        else return cmd_usage_fail(cli, "--partition: a partition number or ca");
    }
    if (o->number != NULL) {
        char *end;
        errno = 0;
        h.number = strtoull(o->number, &end, 10);
        if (errno != 0 || end == o->number || *end != '\0') return cmd_usage_fail(cli, "--number: a CRL number");
        h.has_number = 1;
    }
    if (o->out != NULL && (!h.has_part || !h.has_number))
        return cmd_usage_fail(cli, "--out needs --partition and --number (one CRL)");
    if (o->out == NULL) fprintf(cli->out, "partition\tnumber\tthis-update\tbytes\tcompressed\n");
    if (!crl_archive_each(o->dir, o->ca, o->out != NULL, history_cb, &h, &e)) return cmd_fail(cli, e.msg);
    if (h.found < 0) return cmd_fail(cli, h.e.msg);
    if (o->out != NULL && h.found == 0)
        return cmd_failf(cli, "the archive of CA %s has no CRL %s of partition %s", o->ca, o->number, o->partition);
    if (o->out != NULL) fprintf(cli->out, "wrote %s\n", o->out);
    return 0;
}
static int run_crl_show(struct cli *cli, struct opts *o, const char *pos) { return crl_each(cli, o, 0); }

/* ---- the table (cmd/cli.c dispatches) ---- */

static const int a_crl_list[] = {O_CA, O_JSON, 0};
static const int a_crl_each[] = {O_CA, O_PARTITION, O_ALL, 0};
static const int a_crl_history[] = {O_CA, O_PARTITION, O_NUMBER, O_OUT, 0};

const struct cmd cmd_crl_cmds[] = {
    {"list", "revd crl list --ca NAME [--json]",
     "Lists every CRL of a CA: partition, URL (the CDP of its certificates and the\n"
     "CRL's issuingDistributionPoint), file under DIR/crl/. --json prints the JSON\n"
     "array of the URLs (the form CCADB asks CAs to disclose).\n",
     a_crl_list, run_crl_list, 0, 0, 0},
    {"show", "revd crl show --ca NAME [--partition N|ca]",
     "Shows a CA's CRLs (or one): URL, file, the last CRL number and thisUpdate.\n", a_crl_each, run_crl_show, 0,
     0, 0},
    {"rebuild", "revd crl rebuild --ca NAME [--partition N|ca | --all]",
     "Builds, signs and checks a CA's CRLs (all, or one partition) from the index,\n"
     "each with the next CRL number, valid 7 days, and publishes them as files under\n"
     "DIR/crl/ (temporary file, fsync, rename).\n",
     a_crl_each, run_crl_rebuild, 0, 0, 0},
    {"history", "revd crl history --ca NAME [--partition N|ca] [--number K --out FILE]",
     "Lists every CRL the CA has signed, from its archive (DIR/crl-archive/NAME.log,\n"
     "zstd-compressed): partition, number, thisUpdate, size. With --partition,\n"
     "--number and --out, writes that CRL (DER) to FILE.\n",
     a_crl_history, run_crl_history, 0, 0, CMD_OUT_OPTIONAL},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0},
};
