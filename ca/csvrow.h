/* csvrow: one line of a `revd import` inventory, parsed under a length.
 *
 *   serial,not_after,status[,revocation_time,reason[,cdp]]
 *
 * Pure; any thread. The input is hostile: every field is checked, and a line
 * is at most CSVROW_MAX_LINE bytes. */
#ifndef REVD_CA_CSVROW_H
#define REVD_CA_CSVROW_H

#include <stddef.h>
#include <stdint.h>

#include "common/hex.h"
#include "common/rerr.h"

#define CSVROW_MAX_LINE 2048
#define CSVROW_MAX_CDP 255

enum csvrow_status { CSVROW_GOOD, CSVROW_REVOKED, CSVROW_HOLD };

struct csvrow {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t serial_len;
    int64_t not_after;
    enum csvrow_status status;
    int64_t revoked_at; /* 0 when good */
    int reason;         /* RFC 5280 code; certificateHold for hold */
    const char *cdp;    /* view into the line; NULL when absent */
    size_t cdp_len;
};

/* csvrow_is_header: the optional first line (it starts with "serial"). */
int csvrow_is_header(const char *line, size_t len);

/* csvrow_parse reads len bytes (no line ending). Returns 1, or 0 with e set
 * to what is wrong (the caller adds the line number). */
int csvrow_parse(const char *line, size_t len, struct csvrow *out, struct rerr *e);

#endif
