/* acme/vutil: what the challenge validators (acme/validate.c, vhttp.c,
 * vtls.c) share: the identifier once checked, the failure writer and the
 * deadline clock. For acme/v*.c only. Any thread; returns 1/0 where it
 * returns a verdict. */
#ifndef REVD_ACME_VUTIL_H
#define REVD_ACME_VUTIL_H

#include <stdint.h>

#include "acme/vdns.h"
#include "acme/vtypes.h"

/* A checked identifier. */
struct acme_vid {
    int is_ip;
    struct acme_vdns_addr ip;   /* is_ip: the address */
    char name[ACME_ID_MAX + 1]; /* the DNS name (no "*."), or the IP literal as given */
};

/* acme_vfail sets out's problem (a static string) and detail (printf-style)
 * and returns 0. */
int acme_vfail(struct acme_vresult *out, const char *problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* acme_vnow_ms: CLOCK_MONOTONIC in milliseconds. */
int64_t acme_vnow_ms(void);

/* acme_vleft_ms: the milliseconds left before deadline, at least 1 (a step
 * started at the deadline fails fast, it does not wait forever). */
int acme_vleft_ms(int64_t deadline);

#endif
