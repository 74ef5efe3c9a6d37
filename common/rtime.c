#include "common/rtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t rtime_from_civil(int y, int mon, int d, int h, int mi, int s) {
    return days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + s;
}

static int digits(const char *p, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int rtime_parse_n(const char *s, size_t len, int64_t *out) {
    if (len >= 2 && s[0] == '@') {
        int64_t v = 0;
        for (size_t i = 1; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || i > 12) return 0;
            v = v * 10 + (s[i] - '0');
        }
        if (v > 253402300799) return 0; /* 9999-12-31T23:59:59Z */
        *out = v;
        return 1;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (len != 10 && len != 20) return 0;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return 0;
    if (len == 20) {
        if (s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
            s[16] != ':' || !digits(s + 17, 2, &sec) || s[19] != 'Z')
            return 0;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1950 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return 0;
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y))) return 0;
    *out = rtime_from_civil(y, mo, d, h, mi, sec);
    return 1;
}

int rtime_parse(const char *s, int64_t *out) { return rtime_parse_n(s, strlen(s), out); }

void rtime_format(int64_t t, char out[21]) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[64];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", (tm.tm_year + 1900) % 10000,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, 20);
    out[20] = '\0';
}

int64_t rtime_now(void) { return (int64_t)time(NULL); }

double rtime_mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t rtime_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
