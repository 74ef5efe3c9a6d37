#include "common/urls.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int urls_normalize_base(const char *in, char out[URLS_MAX], struct rerr *e) {
    size_t n = strlen(in);
    if (n == 0 || n > URLS_BASE_MAX)
        return rerr_set(e, "base URL '%.80s' must be 1 to %d characters", in, URLS_BASE_MAX);
    const char *rest;
    if (strncasecmp(in, "http://", 7) == 0) {
        memcpy(out, "http://", 7);
        rest = in + 7;
    } else if (strncasecmp(in, "https://", 8) == 0) {
        memcpy(out, "https://", 8);
        rest = in + 8;
    } else {
        return rerr_set(e, "base URL '%.80s' must start with http:// or https://", in);
    }
    size_t o = (size_t)(rest - in);
    /* authority = host [":" port]; host = reg-name or "[" IPv6 "]" */
    const char *auth_end = rest + strcspn(rest, "/");
    const char *host_end = auth_end;
    const char *port = NULL;
    if (*rest == '[') {
        const char *close = memchr(rest, ']', (size_t)(auth_end - rest));
        if (close == NULL) return rerr_set(e, "base URL '%.80s': unclosed '[' in the host", in);
        host_end = close + 1;
        for (const char *p = rest + 1; p < close; p++)
            if (!(isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
                return rerr_set(e, "base URL '%.80s': bad IPv6 address", in);
        if (close == rest + 1) return rerr_set(e, "base URL '%.80s' has no host", in);
    } else {
        for (const char *p = rest; p < auth_end; p++)
            if (*p == ':') {
                host_end = p;
                break;
            }
        if (host_end == rest) return rerr_set(e, "base URL '%.80s' has no host", in);
        for (const char *p = rest; p < host_end; p++) {
            unsigned char c = (unsigned char)*p;
            if (!(isalnum(c) || c == '.' || c == '-'))
                return rerr_set(e, "base URL '%.80s': character '%c' not allowed in the host", in,
                                isprint(c) ? c : '?');
        }
    }
    if (host_end < auth_end) {
        if (*host_end != ':') return rerr_set(e, "base URL '%.80s': junk after the host", in);
        port = host_end + 1;
        long v = 0;
        if (port == auth_end) return rerr_set(e, "base URL '%.80s': empty port", in);
        for (const char *p = port; p < auth_end; p++) {
            if (!isdigit((unsigned char)*p) || (v = v * 10 + (*p - '0')) > 65535)
                return rerr_set(e, "base URL '%.80s': the port must be a number from 1 to 65535", in);
        }
        if (v == 0) return rerr_set(e, "base URL '%.80s': the port must be a number from 1 to 65535", in);
    }
    for (const char *p = rest; p < auth_end; p++) out[o++] = (char)tolower((unsigned char)*p);
    for (const char *p = auth_end; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || strchr("/-._~", c) != NULL))
            return rerr_set(e,
                            "base URL '%.80s': character '%c' not allowed in the path "
                            "(no query, fragment or percent-escapes)",
                            in, isprint(c) ? c : '?');
        out[o++] = (char)c;
    }
    while (o > 0 && out[o - 1] == '/') o--;
    out[o] = '\0';
    if (strstr(out + 8, "//") != NULL)
        return rerr_set(e, "base URL '%.80s' has an empty path segment", in);
    return 1;
}

static int fit(int n) { return n > 0 && n < URLS_MAX; }

int urls_crl_partition(const char *base, const char *ca, uint32_t part, char *out) {
    return fit(snprintf(out, URLS_MAX, "%s/crl/%s/%u.crl", base, ca, part));
}

int urls_crl_complete(const char *base, const char *ca, char *out) {
    return fit(snprintf(out, URLS_MAX, "%s/crl/%s.crl", base, ca));
}

int urls_crl_ca_scope(const char *base, const char *ca, char *out) {
    return fit(snprintf(out, URLS_MAX, "%s/crl/%s/ca.crl", base, ca));
}

int urls_ocsp(const char *base, char *out) { return fit(snprintf(out, URLS_MAX, "%s/ocsp", base)); }

int urls_ca_issuers(const char *base, const char *ca, char *out) {
    return fit(snprintf(out, URLS_MAX, "%s/ca/%s.der", base, ca));
}
