/* scalegen: bench/scale.sh's data, fast (10^7 inventory lines in seconds,
 * where Python takes a minute).
 *
 *   scalegen inventory N        the inventory of a CA with N certificates,
 *                               as `revd import` reads it: serial(i) for i
 *                               in [0, N) (bench/scale.h), valid to
 *                               2031-01-01, every 20th (i % 20 == 0)
 *                               revoked: 5%
 *   scalegen serial I           serial(I) in hex
 *   scalegen zipf N S DRAWS M   checks the Zipf(S) sampler over N ranks
 *                               with DRAWS draws against the exact shares
 *                               of rank 1, ranks 1..10 and ranks 1..M,
 *                               and prints the share of requests that the
 *                               M most popular certificates take (what a
 *                               perfect cache of M certificates would hit)
 *
 * Needs libc and libm only (build: make build/rel/bench/scalegen). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/scale.h"

static uint64_t arg_u64(const char *what, const char *s) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
        fprintf(stderr, "scalegen: %s: not a number: %s\n", what, s);
        exit(2);
    }
    return v;
}

static void hex(const uint8_t *p, size_t n, char *out) {
    static const char d[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int inventory(uint64_t n) {
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));
    for (uint64_t i = 0; i < n; i++) {
        uint8_t s[16];
        char h[33];
        scale_serial(i, s);
        hex(s, 16, h);
        if (i % 20 == 0) printf("%s,2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n", h);
        else printf("%s,2031-01-01,good\n", h);
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

static double next_double(void *arg) {
    uint64_t *s = arg;
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    return (double)(scale_mix64(z) >> 11) * 0x1.0p-53;
}

static int zipf_check(uint64_t n, double s, uint64_t draws, uint64_t m) {
    if (m > n) m = n;
    struct scale_zipf z = scale_zipf_make(n, s);
    uint64_t rng = 12345, c1 = 0, c10 = 0, cm = 0;
    for (uint64_t d = 0; d < draws; d++) {
        uint64_t k = scale_zipf_draw(&z, next_double, &rng);
        if (k < 1 || k > n) {
            fprintf(stderr, "scalegen: a draw out of range: %" PRIu64 "\n", k);
            return 1;
        }
        c1 += k == 1;
        c10 += k <= 10;
        cm += k <= m;
    }
    double h = 0, h10 = 0, hm = 0;
    for (uint64_t k = n; k >= 1; k--) h += pow((double)k, -s); /* smallest terms first */
    for (uint64_t k = (m < 10 ? m : 10); k >= 1; k--) h10 += pow((double)k, -s);
    for (uint64_t k = m; k >= 1; k--) hm += pow((double)k, -s);
    printf("zipf %.3f over %" PRIu64 " ranks, %" PRIu64 " draws:\n", s, n, draws);
    printf("  rank 1       observed %.5f  exact %.5f\n", (double)c1 / (double)draws, 1 / h);
    printf("  ranks 1..10  observed %.5f  exact %.5f\n", (double)c10 / (double)draws, h10 / h);
    printf("  ranks 1..%" PRIu64 " observed %.5f  exact %.5f\n", m, (double)cm / (double)draws, hm / h);
    printf("top_share %.6f\n", hm / h);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "inventory") == 0) return inventory(arg_u64("N", argv[2]));
    if (argc == 3 && strcmp(argv[1], "serial") == 0) {
        uint8_t s[16];
        char h[33];
        scale_serial(arg_u64("I", argv[2]), s);
        hex(s, 16, h);
        printf("%s\n", h);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "zipf") == 0) {
        uint64_t n = arg_u64("N", argv[2]);
        double s = strtod(argv[3], NULL);
        if (n == 0 || !(s > 0)) {
            fprintf(stderr, "scalegen: zipf wants N > 0 and S > 0\n");
            return 2;
        }
        return zipf_check(n, s, arg_u64("DRAWS", argv[4]), arg_u64("M", argv[5]));
    }
    fprintf(stderr, "usage: scalegen inventory N | serial I | zipf N S DRAWS M\n");
    return 2;
}
