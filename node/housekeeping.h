/* housekeeping: what the CA-core thread of `revd serve` does between
 * commands besides OCSP and CRLs: every hour, deleted CAs whose restore
 * window ended are purged and cert.expiring events written (ca_expiry_scan
 * itself runs once a day); every report-every, each CA's report (node/
 * report.h, the bytes `revd report` prints) is written into report-dir as
 * NAME-YYYYMMDDTHHMMSSZ.csv and .json, the time of the last kept in
 * DIR/report.last so that a restart keeps the schedule.
 *
 * Ownership: hk's core and dir are the caller's. Failures are logged and
 * tried again later (an hour, or report-every); nothing is returned.
 * Thread: the CA-core thread (it calls the CA core and writes files: never
 * a serving thread). */
#ifndef REVD_NODE_HOUSEKEEPING_H
#define REVD_NODE_HOUSEKEEPING_H

#include <stdint.h>

#include "node/settings.h"

struct ca_core;

struct housekeeping {
    struct ca_core *core;
    const char *dir;     /* DIR: report.last */
    int64_t next_expiry; /* when the hourly work is next due */
    int64_t next_report; /* 0: not yet known (read from DIR/report.last) */
};

/* housekeeping_tick does what is due now under the settings o. */
void housekeeping_tick(struct housekeeping *hk, const struct settings *o);

#endif
