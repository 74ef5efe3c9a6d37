/* acme/vutil: the failure writer and the deadline clock (see vutil.h). */
#include "acme/vutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int acme_vfail(struct acme_vresult *out, const char *problem, const char *fmt, ...) {
    va_list ap;
    out->problem = problem;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
    va_end(ap);
    return 0;
}

int64_t acme_vnow_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int acme_vleft_ms(int64_t deadline) {
    int64_t left = deadline - acme_vnow_ms();
    return left < 1 ? 1 : left > 3600000 ? 3600000 : (int)left;
}
