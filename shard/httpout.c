#include "shard/httpout.h"

#include "common/rtime.h"

#include <string.h>
#include <time.h>

/* Two decimal digits. */
static char *put2(char *p, int v) {
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

void httpout_date(int64_t t, char out[30]) {
    /* Formatted by hand (this is on the request path: snprintf and gmtime
     * cost more than the rest of a response head). Days to civil date:
     * H. Hinnant's algorithm, proleptic Gregorian. */
    static const char days[] = "ThuFriSatSunMonTueWed"; /* 1970-01-01 was a Thursday */
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int64_t d = t >= 0 ? t / 86400 : (t - 86399) / 86400, sec = t - d * 86400;
    int64_t z = d + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int mday = (int)(doy - (153 * mp + 2) / 5 + 1), mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    if (mon <= 2) y++;
    int wd = (int)(((d % 7) + 7) % 7);
    y = ((y % 10000) + 10000) % 10000;
    char *p = out;
    memcpy(p, days + 3 * wd, 3);
    p[3] = ',';
    p[4] = ' ';
    p = put2(p + 5, mday);
    *p++ = ' ';
    memcpy(p, mons + 3 * (mon - 1), 3);
    p[3] = ' ';
    p = put2(put2(p + 4, (int)(y / 100)), (int)(y % 100));
    *p++ = ' ';
    p = put2(p, (int)(sec / 3600));
    *p++ = ':';
    p = put2(p, (int)(sec / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sec % 60));
    memcpy(p, " GMT", 5);
}

int64_t httpout_max_age(const struct httpout_cache *c, int64_t now) {
    int64_t m = c->next_update - now;
    if (c->refresh_at - now < m) m = c->refresh_at - now;
    if (c->max_age_cap < m) m = c->max_age_cap;
    return m > 0 ? m : 0;
}

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static size_t with_body(uint8_t *out, size_t cap, size_t h, const uint8_t *body, size_t body_len, int head_only) {
    if (h == 0) return 0;
    if (head_only || body_len == 0) return h;
    if (cap - h < body_len) return 0;
    memcpy(out + h, body, body_len);
    return h + body_len;
}

/* An appender over out[0..cap): after an overflow, len is cap + 1. */
struct app {
    uint8_t *out;
    size_t cap, len;
};

static void app_mem(struct app *a, const void *p, size_t n) {
    if (a->len > a->cap || a->cap - a->len < n) {
        a->len = a->cap + 1;
        return;
    }
    memcpy(a->out + a->len, p, n);
    a->len += n;
}

static void app_str(struct app *a, const char *s) { app_mem(a, s, strlen(s)); }

static void app_u64(struct app *a, uint64_t v) {
    char b[20];
    int i = 20;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    app_mem(a, b + i, (size_t)(20 - i));
}

/* The Date header's value, formatted once a second per thread. */
static const char *date_now(int64_t now) {
    static _Thread_local int64_t at = -1;
    static _Thread_local char s[30];
    if (now != at) {
        httpout_date(now, s);
        at = now;
    }
    return s;
}

static size_t cached_head(uint8_t *out, size_t cap, int status, const char *ctype, size_t body_len,
                          const char *etag, const struct httpout_cache *c, int64_t now, int keep_alive) {
    char lm[30], exp[30];
    httpout_date(c->this_update, lm);
    httpout_date(c->next_update, exp);
    struct app a = {out, cap, 0};
    app_str(&a, status == 200 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 304 Not Modified\r\n");
    if (status == 200) {
        app_str(&a, ctype);
        app_str(&a, "Content-Length: ");
        app_u64(&a, body_len);
        app_str(&a, "\r\n");
    }
    app_str(&a, "Date: ");
    app_mem(&a, date_now(now), 29);
    app_str(&a, "\r\nLast-Modified: ");
    app_mem(&a, lm, 29);
    app_str(&a, "\r\nExpires: ");
    app_mem(&a, exp, 29);
    app_str(&a, "\r\nETag: \"");
    app_mem(&a, etag, HTTPOUT_ETAG_LEN);
    app_str(&a, "\"\r\nCache-Control: max-age=");
    app_u64(&a, (uint64_t)httpout_max_age(c, now));
    app_str(&a, ", public, no-transform, must-revalidate\r\n");
    if (!keep_alive) app_str(&a, "Connection: close\r\n");
    app_str(&a, "\r\n");
    /* As head(): 0 when it does not fit, or fills the buffer exactly. */
    return a.len < cap ? a.len : 0;
}

size_t httpout_ocsp(uint8_t *out, size_t cap, const uint8_t *body, size_t body_len,
                    const char etag[HTTPOUT_ETAG_LEN + 1], const struct httpout_cache *c, int64_t now,
                    int keep_alive, int head_only) {
    size_t h = cached_head(out, cap, 200, "Content-Type: application/ocsp-response\r\n", body_len, etag, c, now,
                           keep_alive);
    return with_body(out, cap, h, body, body_len, head_only);
}

size_t httpout_crl_head(uint8_t *out, size_t cap, size_t body_len, const char etag[HTTPOUT_ETAG_LEN + 1],
                        const struct httpout_cache *c, int64_t now, int keep_alive) {
    return cached_head(out, cap, 200, "Content-Type: application/pkix-crl\r\n", body_len, etag, c, now, keep_alive);
}

int httpout_parse_date(const char *s, size_t n, int64_t *out) {
    /* IMF-fixdate only (RFC 9110 5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
    static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (n != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
        s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return 0;
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, mons + 3 * i, 3) == 0) mon = i;
    int v[6];
    const int at[6] = {5, 12, 17, 20, 23, 0}, len[6] = {2, 4, 2, 2, 2, 0};
    for (int k = 0; k < 5; k++) {
        v[k] = 0;
        for (int j = 0; j < len[k]; j++) {
            char ch = s[at[k] + j];
            if (ch < '0' || ch > '9') return 0;
            v[k] = v[k] * 10 + (ch - '0');
        }
    }
    if (mon < 0 || v[0] < 1 || v[0] > 31 || v[2] > 23 || v[3] > 59 || v[4] > 60) return 0;
    *out = rtime_from_civil(v[1], mon + 1, v[0], v[2], v[3], v[4]);
    return 1;
}

size_t httpout_not_modified(uint8_t *out, size_t cap, const char etag[HTTPOUT_ETAG_LEN + 1],
                            const struct httpout_cache *c, int64_t now, int keep_alive) {
    return cached_head(out, cap, 304, "", 0, etag, c, now, keep_alive);
}

/* A status with Cache-Control: max-age=0, no-cache; extra: more header
 * lines ("Name: value\r\n"), or NULL. */
static size_t uncached(uint8_t *out, size_t cap, int status, const char *extra, const char *content_type,
                       const uint8_t *body, size_t body_len, int64_t now, int keep_alive, int head_only) {
    /* On the request path too (unauthorized, tryLater): no stdio. */
    struct app a = {out, cap, 0};
    app_str(&a, "HTTP/1.1 ");
    app_u64(&a, (uint64_t)status);
    app_str(&a, " ");
    app_str(&a, reason_phrase(status));
    app_str(&a, "\r\n");
    if (content_type != NULL) {
        app_str(&a, "Content-Type: ");
        app_str(&a, content_type);
        app_str(&a, "\r\n");
    }
    if (extra != NULL) app_str(&a, extra);
    app_str(&a, "Content-Length: ");
    app_u64(&a, body_len);
    app_str(&a, "\r\nDate: ");
    app_mem(&a, date_now(now), 29);
    app_str(&a, "\r\nCache-Control: max-age=0, no-cache\r\n");
    if (!keep_alive) app_str(&a, "Connection: close\r\n");
    app_str(&a, "\r\n");
    size_t h = a.len < cap ? a.len : 0;
    return with_body(out, cap, h, body, body_len, head_only);
}

size_t httpout_uncached(uint8_t *out, size_t cap, int status, const char *content_type,
                        const uint8_t *body, size_t body_len, int64_t now, int keep_alive, int head_only) {
    return uncached(out, cap, status, NULL, content_type, body, body_len, now, keep_alive, head_only);
}

size_t httpout_not_allowed(uint8_t *out, size_t cap, const char *allow, int64_t now, int keep_alive) {
    struct app a = {NULL, 0, 0};
    char line[64];
    a.out = (uint8_t *)line;
    a.cap = sizeof(line) - 1;
    app_str(&a, "Allow: ");
    app_str(&a, allow);
    app_str(&a, "\r\n");
    if (a.len > a.cap) return 0;
    line[a.len] = '\0';
    return uncached(out, cap, 405, line, NULL, NULL, 0, now, keep_alive, 0);
}

int httpout_etag_matches(const char *inm, size_t len, const char etag[HTTPOUT_ETAG_LEN + 1]) {
    size_t i = 0;
    while (i < len) {
        while (i < len && (inm[i] == ' ' || inm[i] == '\t' || inm[i] == ',')) i++;
        if (i >= len) break;
        if (inm[i] == '*') return 1;
        if (len - i >= 2 && inm[i] == 'W' && inm[i + 1] == '/') i += 2;
        if (i >= len || inm[i] != '"') return 0; /* not an entity-tag: no match */
        size_t start = ++i;
        while (i < len && inm[i] != '"') i++;
        if (i >= len) return 0;
        if (i - start == HTTPOUT_ETAG_LEN && memcmp(inm + start, etag, HTTPOUT_ETAG_LEN) == 0) return 1;
        i++;
    }
    return 0;
}
