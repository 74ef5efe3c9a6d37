#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define CIDR_TEXT_MAX 1024

/* One item, n characters at p, with no spaces around it. */
static int parse_item(const char *p, size_t n, struct cidr *out, char *why, size_t wl) {
    char buf[INET6_ADDRSTRLEN + 8];
    if (n == 0) return snprintf(why, wl, "an empty item (two commas, or one at an end)"), 0;
    if (n >= sizeof(buf)) return snprintf(why, wl, "'%.*s...' is too long for an address", 20, p), 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *b = slash + 1;
        if (*b == '\0' || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b) || (b[0] == '0' && b[1] != '\0'))
            return snprintf(why, wl, "'%.*s': the prefix length must be a number of bits", (int)n, p), 0;
        bits = 0;
        for (; *b; b++) bits = bits * 10 + (*b - '0');
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = 4;
        if (bits > 32) return snprintf(why, wl, "'%.*s': an IPv4 prefix is at most 32 bits", (int)n, p), 0;
        out->bits = (uint8_t)(bits < 0 ? 32 : bits);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = 6;
        if (bits > 128) return snprintf(why, wl, "'%.*s': an IPv6 prefix is at most 128 bits", (int)n, p), 0;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return snprintf(why, wl, "'%.*s' is not an IPv4 or IPv6 address (as 127.0.0.0/8 or ::1)", (int)n, p), 0;
    }
    size_t len = out->family == 4 ? 4 : 16;
    for (size_t i = 0; i < len; i++) {
        size_t from = i * 8;
        uint8_t mask = from >= out->bits ? 0xff : out->bits - from >= 8 ? 0 : (uint8_t)(0xff >> (out->bits - from));
        if (out->addr[i] & mask)
            return snprintf(why, wl, "'%.*s' has bits set past its /%u prefix", (int)n, p, out->bits), 0;
    }
    return 1;
}

int cidr_parse_list(const char *s, struct cidr *out, size_t max, size_t *num, char *why, size_t wl) {
    *num = 0;
    if (strlen(s) > CIDR_TEXT_MAX) return snprintf(why, wl, "a list of at most %d characters", CIDR_TEXT_MAX), 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        while (n > 0 && *p == ' ') p++, n--;
        while (n > 0 && p[n - 1] == ' ') n--;
        if (n == 3 && memcmp(p, "any", 3) == 0) {
            if (max - *num < 2) return snprintf(why, wl, "at most %zu prefixes", max), 0;
            memset(&out[*num], 0, 2 * sizeof(*out));
            out[(*num)++].family = 4;
            out[(*num)++].family = 6;
        } else {
            if (*num == max) return snprintf(why, wl, "at most %zu prefixes", max), 0;
            if (!parse_item(p, n, &out[*num], why, wl)) return 0;
            (*num)++;
        }
        if (end == NULL) break;
        p = end + 1;
    }
    return 1;
}

static int in_prefix(const struct cidr *c, const uint8_t *addr) {
    size_t whole = c->bits / 8u, rest = c->bits % 8u;
    if (memcmp(c->addr, addr, whole) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[whole] & mask) == (addr[whole] & mask);
}

int cidr_match(const struct cidr *list, size_t num, const struct sockaddr *sa, socklen_t salen) {
    uint8_t addr[16];
    int family;
    if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        family = 4;
    } else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(addr, &a6->s6_addr[12], 4);
            family = 4;
        } else {
            memcpy(addr, a6->s6_addr, 16);
            family = 6;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < num; i++)
        if (list[i].family == family && in_prefix(&list[i], addr)) return 1;
    return 0;
}

void cidr_format(const struct cidr *c, char out[64]) {
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a)) == NULL) snprintf(a, sizeof(a), "?");
    snprintf(out, 64, "%s/%u", a, c->bits);
}
