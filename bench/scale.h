/* scale: what bench/scale.sh's generators share, so that the requests
 * bench/loadgen sends (--serials) name the certificates bench/scalegen
 * wrote into the inventory: the i-th certificate's serial, a fixed
 * pseudo-random permutation of [0, n) (popularity rank to certificate),
 * and a Zipf(s) sampler over n ranks that needs no table (rejection-
 * inversion, W. Hörmann and G. Derflinger, "Rejection-inversion to
 * generate variates from monotone discrete distributions", 1996; the
 * form of Apache Commons RNG's RejectionInversionZipfSampler).
 *
 * Pure functions and a value type; any thread. Header-only: loadgen
 * links nothing but libc and libm. */
#ifndef REVD_BENCH_SCALE_H
#define REVD_BENCH_SCALE_H

#include <math.h>
#include <stdint.h>

/* scale_mix64: splitmix64's finaliser (a bijection of 64-bit words). */
static inline uint64_t scale_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* scale_serial writes the i-th certificate's serial (i < 2^56): 16
 * octets, 0x40, i in 7 octets, then 8 octets mixed from i: positive in
 * DER without a leading zero, unique, and spread like real random serials
 * in the low half. */
static inline void scale_serial(uint64_t i, uint8_t out[16]) {
    uint64_t m = scale_mix64(i + 0x9e3779b97f4a7c15ull);
    out[0] = 0x40;
    for (int k = 0; k < 7; k++) out[1 + k] = (uint8_t)(i >> (8 * (6 - k)));
    for (int k = 0; k < 8; k++) out[8 + k] = (uint8_t)(m >> (8 * (7 - k)));
}

/* A permutation of [0, n): a 4-round Feistel network over the smallest
 * even number of bits that holds n, cycle-walked back into [0, n) (fewer
 * than 4 rounds of walking on average). */
struct scale_perm {
    uint64_t n, seed;
    unsigned half;
};

static inline struct scale_perm scale_perm_make(uint64_t n, uint64_t seed) {
    unsigned bits = 2;
    while (bits < 64 && (1ull << bits) < n) bits += 2;
    return (struct scale_perm){n, seed, bits / 2};
}

static inline uint64_t scale_perm_at(const struct scale_perm *p, uint64_t k) {
    uint64_t mask = (1ull << p->half) - 1;
    do {
        uint64_t l = k >> p->half, r = k & mask;
        for (uint64_t round = 0; round < 4; round++) {
            uint64_t f = scale_mix64(r ^ p->seed ^ (round * 0x632be59bd9b4e019ull)) & mask;
            uint64_t nl = r;
            r = l ^ f;
            l = nl;
        }
        k = (l << p->half) | r;
    } while (k >= p->n);
    return k;
}

/* Zipf(s) over ranks 1..n (s > 0, s != 1 within 1e-8 is fine): P(k) is
 * proportional to k^-s. */
struct scale_zipf {
    double s, n, hx1, hn, sq;
};

static inline double scale_zipf_h(const struct scale_zipf *z, double x) { return exp(-z->s * log(x)); }
/* (exp(x) - 1) / x and log(1 + x) / x, exact near 0. */
static inline double scale_zipf_h2(double x) {
    return fabs(x) > 1e-8 ? expm1(x) / x : 1 + x * 0.5 * (1 + x / 3 * (1 + x * 0.25));
}
static inline double scale_zipf_h1(double x) {
    return fabs(x) > 1e-8 ? log1p(x) / x : 1 - x * (0.5 - x * (1.0 / 3 - x * 0.25));
}
static inline double scale_zipf_hint(const struct scale_zipf *z, double x) {
    double lx = log(x);
    return scale_zipf_h2((1 - z->s) * lx) * lx;
}
static inline double scale_zipf_hinv(const struct scale_zipf *z, double x) {
    double t = x * (1 - z->s);
    if (t < -1) t = -1; /* rounding */
    return exp(scale_zipf_h1(t) * x);
}

static inline struct scale_zipf scale_zipf_make(uint64_t n, double s) {
    struct scale_zipf z = {s, (double)n, 0, 0, 0};
    z.hx1 = scale_zipf_hint(&z, 1.5) - 1;
    z.hn = scale_zipf_hint(&z, z.n + 0.5);
    z.sq = 2 - scale_zipf_hinv(&z, scale_zipf_hint(&z, 2.5) - scale_zipf_h(&z, 2));
    return z;
}

/* scale_zipf_draw: a rank in 1..n; next() returns uniform doubles in [0, 1). */
static inline uint64_t scale_zipf_draw(const struct scale_zipf *z, double (*next)(void *), void *arg) {
    for (;;) {
        double u = z->hn + next(arg) * (z->hx1 - z->hn);
        double x = scale_zipf_hinv(z, u);
        double k = floor(x + 0.5);
        if (k < 1) k = 1;
        else if (k > z->n) k = z->n;
        if (k - x <= z->sq || u >= scale_zipf_hint(z, k + 0.5) - scale_zipf_h(z, k)) return (uint64_t)k;
    }
}

#endif
