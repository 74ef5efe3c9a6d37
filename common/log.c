#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SLOTS 128

struct slot {
    const char *event; /* the caller's string constant */
    time_t window;     /* when its window began */
    unsigned lines, suppressed;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static enum log_format format = LOG_PLAIN;
static struct slot slots[SLOTS];

int log_format_parse(const char *s, enum log_format *out) {
    if (strcmp(s, "plain") == 0) *out = LOG_PLAIN;
    else if (strcmp(s, "kv") == 0) *out = LOG_KV;
    else if (strcmp(s, "json") == 0) *out = LOG_JSON;
    else return 0;
    return 1;
}

void log_set_format(enum log_format f) {
    pthread_mutex_lock(&mu);
    format = f;
    pthread_mutex_unlock(&mu);
}

/* escape writes s into out (cap bytes): printable ASCII as it is; in kv
 * and json '"' and '\' escaped; any other byte as \xNN (\u00NN in json). */
static void escape(char *out, size_t cap, const char *s, enum log_format f) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 7 < cap; p++) {
        int quote = f != LOG_PLAIN && (*p == '"' || *p == '\\');
        if (*p >= 0x20 && *p < 0x7f && !quote) {
            out[o++] = (char)*p;
        } else if (quote) {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else {
            out[o++] = '\\';
            if (f == LOG_JSON) {
                memcpy(out + o, "u00", 3);
                o += 3;
            } else {
                out[o++] = 'x';
            }
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

void log_escape(char *out, size_t cap, const char *s) { escape(out, cap, s, LOG_PLAIN); }

static const char *const level_names[] = {"error", "warn", "info"};

static void emit(enum log_level level, const char *event, const char *msg) {
    char esc[8192];
    escape(esc, sizeof(esc), msg, format);
    if (format == LOG_PLAIN) {
        fprintf(stderr, "revd: %s\n", esc);
        return;
    }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (format == LOG_KV)
        fprintf(stderr, "ts=%s level=%s event=%s msg=\"%s\"\n", ts, level_names[level], event, esc);
    else
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\",\"msg\":\"%s\"}\n", ts,
                level_names[level], event, esc);
}

void rlog(enum log_level level, const char *event, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    pthread_mutex_lock(&mu);
    struct slot *s = NULL;
    for (int i = 0; i < SLOTS && s == NULL; i++)
        if (slots[i].event == NULL || strcmp(slots[i].event, event) == 0) s = &slots[i];
    if (s != NULL) {
        if (s->event == NULL) s->event = event;
        if (now - s->window >= LOG_WINDOW_S || now < s->window) {
            if (s->suppressed > 0) {
                char m[200];
                snprintf(m, sizeof(m), "%u more '%s' lines were not written (at most %d per %d s)", s->suppressed,
                         event, LOG_BURST, LOG_WINDOW_S);
                emit(LOG_WARN, "log.suppressed", m);
            }
            s->window = now;
            s->lines = s->suppressed = 0;
        }
        if (s->lines >= LOG_BURST) {
            s->suppressed++;
            pthread_mutex_unlock(&mu);
            return;
        }
        s->lines++;
    }
    emit(level, event, msg);
    fflush(stderr);
    pthread_mutex_unlock(&mu);
}
