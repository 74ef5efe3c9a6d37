#include "common/urls.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

int urls_normalize_base(const char *in, char out[URLS_MAX], struct rerr *e) {
    size_t n = strlen(in);
    if (n == 0 || n >= URLS_MAX - 64)
        return rerr_set(e, "base URL '%.80s' must be 1 to %d characters", in, URLS_MAX - 65);
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
    int in_host = 1;
    size_t host_len = 0;
    for (const char *p = rest; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '/') in_host = 0;
        if (in_host) {
            if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
                return rerr_set(e, "base URL '%.80s': character '%c' not allowed in the host", in,
                                isprint(c) ? c : '?');
            out[o++] = (char)tolower(c);
            host_len++;
        } else {
            if (!(isalnum(c) || strchr("/-._~", c) != NULL))
                return rerr_set(e,
                                "base URL '%.80s': character '%c' not allowed in the path "
                                "(no query, fragment or percent-escapes)",
                                in, isprint(c) ? c : '?');
            out[o++] = (char)c;
        }
    }
    if (host_len == 0) return rerr_set(e, "base URL '%.80s' has no host", in);
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
