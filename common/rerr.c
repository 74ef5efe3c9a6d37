#include "common/rerr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int rerr_set(struct rerr *e, const char *fmt, ...) {
    if (e == NULL) return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return 0;
}

int rerr_ssl(struct rerr *e, const char *fmt, ...) {
    unsigned long code = ERR_peek_error();
    char detail[256] = "";
    if (code != 0) ERR_error_string_n(code, detail, sizeof(detail));
    ERR_clear_error();
    if (e == NULL) return 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    if (detail[0] != '\0') {
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof(e->msg) - n, " (%s)", detail);
    }
    return 0;
}
