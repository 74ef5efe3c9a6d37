#include "ca/csvrow.h"

#include <string.h>
#include <strings.h>

#include "common/reason.h"
#include "common/rtime.h"

#define MAX_FIELDS 6

int csvrow_is_header(const char *line, size_t len) {
    return len >= 6 && strncasecmp(line, "serial", 6) == 0;
}

static int field_eq(const char *f, size_t n, const char *word) {
    return strlen(word) == n && strncasecmp(f, word, n) == 0;
}

int csvrow_parse(const char *line, size_t len, struct csvrow *out, struct rerr *e) {
    if (len > CSVROW_MAX_LINE) return rerr_set(e, "line longer than %d bytes", CSVROW_MAX_LINE);
    /* Fields are handed to C-string parsers: a NUL would cut them short. */
    if (memchr(line, '\0', len) != NULL) return rerr_set(e, "line holds a NUL byte");
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t num = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (num == MAX_FIELDS)
                return rerr_set(e, "more than %d columns (serial,not_after,status,revocation_time,reason,cdp)",
                                MAX_FIELDS);
            f[num] = line + start;
            fl[num] = i - start;
            num++;
            start = i + 1;
        }
    }
    if (num < 3) return rerr_set(e, "expected at least serial,not_after,status");
    char tmp[64];
    if (fl[0] == 0 || fl[0] >= sizeof(tmp)) return rerr_set(e, "bad serial");
    memcpy(tmp, f[0], fl[0]);
    tmp[fl[0]] = '\0';
    if (!hex_parse_serial(tmp, out->serial, &out->serial_len))
        return rerr_set(e, "serial '%s' is not a positive hex number of at most 20 octets", tmp);
    if (!rtime_parse_n(f[1], fl[1], &out->not_after))
        return rerr_set(e, "not_after is not a time (YYYY-MM-DDTHH:MM:SSZ)");
    if (field_eq(f[2], fl[2], "good")) out->status = CSVROW_GOOD;
    else if (field_eq(f[2], fl[2], "revoked")) out->status = CSVROW_REVOKED;
    else if (field_eq(f[2], fl[2], "hold")) out->status = CSVROW_HOLD;
    else return rerr_set(e, "status must be good, revoked or hold");
    out->revoked_at = 0;
    out->reason = 0;
    int has_time = num > 3 && fl[3] > 0;
    int has_reason = num > 4 && fl[4] > 0;
    if (out->status == CSVROW_GOOD) {
        if (has_time || has_reason) return rerr_set(e, "a good certificate has no revocation time or reason");
    } else {
        if (!has_time) return rerr_set(e, "a revoked certificate needs its revocation_time");
        if (!rtime_parse_n(f[3], fl[3], &out->revoked_at))
            return rerr_set(e, "revocation_time is not a time (YYYY-MM-DDTHH:MM:SSZ)");
        if (has_reason) {
            if (fl[4] >= sizeof(tmp)) return rerr_set(e, "unknown reason");
            memcpy(tmp, f[4], fl[4]);
            tmp[fl[4]] = '\0';
            if (!reason_parse(tmp, &out->reason))
                return rerr_set(e, "reason '%s' is not one of: %s", tmp, reason_list());
        }
        if (out->status == CSVROW_HOLD) {
            if (has_reason && out->reason != REASON_CERTIFICATE_HOLD)
                return rerr_set(e, "status hold goes with reason certificateHold (or none)");
            out->reason = REASON_CERTIFICATE_HOLD;
        } else if (out->reason == REASON_CERTIFICATE_HOLD) {
            out->status = CSVROW_HOLD;
        }
    }
    out->cdp = NULL;
    out->cdp_len = 0;
    if (num > 5 && fl[5] > 0) {
        if (fl[5] > CSVROW_MAX_CDP) return rerr_set(e, "cdp longer than %d bytes", CSVROW_MAX_CDP);
        if (!(fl[5] > 7 && strncmp(f[5], "http://", 7) == 0) && !(fl[5] > 8 && strncmp(f[5], "https://", 8) == 0))
            return rerr_set(e, "cdp must be an http:// or https:// URL");
        for (size_t i = 0; i < fl[5]; i++) {
            unsigned char ch = (unsigned char)f[5][i];
            if (ch <= 0x20 || ch >= 0x7f || ch == '"')
                return rerr_set(e, "cdp has a character that a URL cannot hold");
        }
        out->cdp = f[5];
        out->cdp_len = fl[5];
    }
    return 1;
}
