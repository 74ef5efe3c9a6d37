/* rerr: an error message that travels back to whoever reports it.
 *
 * Functions that can fail for a reason the user must see take a
 * `struct rerr *e` and fill it; the caller prints it once. The message says
 * what was wrong and, where it can, what to do. Any thread; not shared. */
#ifndef REVD_COMMON_RERR_H
#define REVD_COMMON_RERR_H

#include <stddef.h>

struct rerr {
    char msg[512];
};

/* rerr_set formats the message (printf-style) and returns 0, so that
 * `return rerr_set(e, "...")` reads as a failed 1/0 step. e may be NULL. */
int rerr_set(struct rerr *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* rerr_ssl is rerr_set plus the first entry of OpenSSL's error queue, which it
 * drains. */
int rerr_ssl(struct rerr *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
