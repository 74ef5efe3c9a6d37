/* report: a CA's certificates as `revd report` prints them, CSV (RFC 4180,
 * a header line, formula-looking fields prefixed with an apostrophe) or a
 * JSON array of objects: serial, subject, sans, not_before, not_after,
 * status (good, revoked, hold), revocation_time, reason, partition,
 * template. Used by `revd report` (cmd/report.c) and by the scheduled
 * reports of `revd serve` (node/serve.c report_tick), so both write the
 * same bytes.
 *
 * Ownership: out and c are the caller's. Returns 1, or 0 with e set (the
 * CA unknown, the index unreadable, a write that failed).
 * Thread: whichever holds c (the CA-core thread in `revd serve`). */
#ifndef REVD_NODE_REPORT_H
#define REVD_NODE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "common/rerr.h"

struct ca_core;

/* report_write writes ca's report of the certificates issued or revoked at
 * or after since (0: all) to out, as JSON when json is 1, else CSV. */
int report_write(struct ca_core *c, const char *ca, int64_t since, int json, FILE *out, struct rerr *e);

/* report_partition_name: "ca" for the CA-scope partition, "none", "ext-N"
 * for the Nth imported CDP, else the partition's number (docs/urls.md). */
void report_partition_name(uint32_t part, char out[16]);

/* report_csv_field writes s as one RFC 4180 field; a field a spreadsheet
 * would take for a formula (=, +, -, @ first) gets a leading apostrophe. */
void report_csv_field(FILE *f, const char *s);

#endif
