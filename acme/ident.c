/* ident: ACME identifiers and allow lists (acme/ident.h). */
#include "acme/ident.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/cidr.h"

static int dns_ok(const char *v, char *out, const char **why) {
    size_t len = strlen(v);
    if (len == 0 || len > ACME_IDENT_MAX) return *why = "a DNS name of 1 to 253 characters is expected", 0;
    const char *p = v;
    if (strncmp(p, "*.", 2) == 0) p += 2;
    int labels = 0;
    const char *start = p; /* of the current label */
    for (const char *q = p;; q++) {
        if (*q == '.' || *q == '\0') {
            size_t lab = (size_t)(q - start);
            if (lab == 0 || lab > 63) return *why = "a label is empty or longer than 63 characters", 0;
            if (q[-1] == '-' || *start == '-') return *why = "a label begins or ends with '-'", 0;
            labels++;
            if (*q == '\0') break;
            start = q + 1;
            continue;
        }
        unsigned char ch = (unsigned char)*q;
        if (!isalnum(ch) && ch != '-') return *why = "a DNS name holds only letters, digits, '-' and '.'", 0;
    }
    if (labels < 2) return *why = "a DNS name of at least two labels is expected", 0;
    for (size_t i = 0; i <= len; i++) out[i] = (char)tolower((unsigned char)v[i]);
    return 1;
}

int acme_ident_canon(const char *type, const char *value, char *out, const char **why) {
    *why = "";
    if (type == NULL || value == NULL) return *why = "an identifier needs a type and a value", 0;
    unsigned char a[16];
    if (strcmp(type, "dns") == 0) {
        if (inet_pton(AF_INET, value, a) == 1 || inet_pton(AF_INET6, value, a) == 1)
            return *why = "an IP address is an identifier of type ip (RFC 8738), not dns", 0;
        return dns_ok(value, out, why);
    }
    if (strcmp(type, "ip") != 0) return *why = "the identifier type must be dns or ip", 0;
    if (inet_pton(AF_INET, value, a) == 1) return inet_ntop(AF_INET, a, out, ACME_IDENT_MAX + 1) != NULL;
    if (inet_pton(AF_INET6, value, a) == 1) return inet_ntop(AF_INET6, a, out, ACME_IDENT_MAX + 1) != NULL;
    return *why = "not an IPv4 or IPv6 address", 0;
}

int acme_allow_entry_ok(const char *s) {
    char out[ACME_IDENT_MAX + 1];
    const char *why;
    struct cidr c;
    size_t n = 0;
    char w[128];
    if (strchr(s, '/') != NULL || strchr(s, ':') != NULL)
        return cidr_parse_list(s, &c, 1, &n, w, sizeof(w)) && n == 1 && strchr(s, ',') == NULL;
    if (strchr(s, '*') != NULL) return 0;
    const char *name = s[0] == '.' ? s + 1 : s;
    if (dns_ok(name, out, &why)) return 1;
    /* One label ("test") is a fine suffix too. */
    char two[ACME_IDENT_MAX + 8];
    return strlen(name) < ACME_IDENT_MAX - 2 && snprintf(two, sizeof(two), "x.%s", name) > 0 &&
           dns_ok(two, out, &why);
}

static int suffix_covers(const char *suffix, const char *name) {
    if (strncmp(name, "*.", 2) == 0) name += 2;
    int sub_only = suffix[0] == '.';
    if (sub_only) suffix++;
    size_t sl = strlen(suffix), nl = strlen(name);
    if (nl == sl) return !sub_only && strcasecmp(name, suffix) == 0;
    return nl > sl && name[nl - sl - 1] == '.' && strcasecmp(name + nl - sl, suffix) == 0;
}

static int prefix_covers(const char *entry, const char *addr) {
    struct cidr c;
    size_t n = 0;
    char w[128];
    if (!cidr_parse_list(entry, &c, 1, &n, w, sizeof(w))) return 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        sl = sizeof(struct sockaddr_in6);
    } else {
        return 0;
    }
    return cidr_match(&c, 1, (struct sockaddr *)&ss, sl);
}

int acme_allowed(const json_t *allow, const char *type, const char *value) {
    if (allow == NULL || json_array_size(allow) == 0) return 1;
    int ip = strcmp(type, "ip") == 0;
    size_t i;
    json_t *v;
    json_array_foreach(allow, i, v) {
        const char *s = json_string_value(v);
        if (s == NULL) continue;
        int is_prefix = strchr(s, '/') != NULL || strchr(s, ':') != NULL;
        if (ip && is_prefix && prefix_covers(s, value)) return 1;
        if (!ip && !is_prefix && suffix_covers(s, value)) return 1;
    }
    return 0;
}
