/* libFuzzer target: a metrics-allow list (cidr_parse_list in common/cidr.c),
 * from the settings file or --metrics-allow. What is accepted formats back
 * to a list that parses to the same prefixes; a refusal says why; every
 * accepted prefix matches its own address and, past /0, not the address
 * with its last prefix bit flipped. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_cstr.h"
#include "common/cidr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int matches(const struct cidr *l, size_t n, const struct cidr *c, int flip) {
    uint8_t a[16];
    memcpy(a, c->addr, 16);
    if (flip) a[(c->bits - 1) / 8] ^= (uint8_t)(0x80 >> ((c->bits - 1) % 8));
    if (c->family == 4) {
        struct sockaddr_in s = {.sin_family = AF_INET};
        memcpy(&s.sin_addr, a, 4);
        return cidr_match(l, n, (struct sockaddr *)&s, sizeof(s));
    }
    struct sockaddr_in6 s = {.sin6_family = AF_INET6};
    memcpy(&s.sin6_addr, a, 16);
    if (IN6_IS_ADDR_V4MAPPED(&s.sin6_addr)) return -1; /* matched as IPv4: not this prefix's business */
    return cidr_match(l, n, (struct sockaddr *)&s, sizeof(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstr(data, size, 2048);
    if (s == NULL) return 0;
    struct cidr l[CIDR_LIST_MAX], again[CIDR_LIST_MAX];
    size_t n, m;
    char why[160] = "";
    if (cidr_parse_list(s, l, CIDR_LIST_MAX, &n, why, sizeof(why))) {
        if (n == 0 || n > CIDR_LIST_MAX) abort();
        char text[CIDR_LIST_MAX * 64 + CIDR_LIST_MAX] = "";
        for (size_t i = 0; i < n; i++) {
            if ((l[i].family != 4 && l[i].family != 6) || l[i].bits > (l[i].family == 4 ? 32 : 128)) abort();
            char one[64];
            cidr_format(&l[i], one);
            if (i > 0) strcat(text, ",");
            strcat(text, one);
            if (matches(l, n, &l[i], 0) == 0) abort();
            /* The flipped address may still fall in another prefix of the
             * list: only a lone prefix is checked for it. */
            if (n == 1 && l[i].bits > 0 && matches(l, n, &l[i], 1) == 1) abort();
        }
        if (!cidr_parse_list(text, again, CIDR_LIST_MAX, &m, why, sizeof(why)) || m != n ||
            memcmp(again, l, n * sizeof(l[0])) != 0)
            abort();
    } else if (why[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
