/* libFuzzer target: the base64 request in the path of an OCSP GET
 * (ocsp/getpath). The input is the path after "{ocsp-path}/", as the shard
 * hands it over: a length, no NUL. Anything may be refused; nothing may be
 * read past the input or written past out_cap, and what is accepted must be
 * self-consistent:
 *   - at most 3 bytes per 4 input characters (and len <= GETPATH_MAX);
 *   - the same bytes whatever out_cap, as long as they fit, and a refusal
 *     when they do not;
 *   - the output, encoded again as standard base64 (raw, and URL-encoded as
 *     RFC 6960 A.1 has it), and as unpadded base64url behind "//", decodes
 *     to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocsp/getpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 of in[0..n) into dst (which holds 4 * ceil(n / 3) bytes,
 * no NUL); returns its length. */
static size_t encode_std(const uint8_t *in, size_t n, char *dst) {
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        dst[o++] = b64chars[w >> 18 & 63];
        dst[o++] = b64chars[w >> 12 & 63];
        dst[o++] = b64chars[w >> 6 & 63];
        dst[o++] = b64chars[w & 63];
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)in[i] << 16;
        dst[o++] = b64chars[w >> 18 & 63];
        dst[o++] = b64chars[w >> 12 & 63];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        dst[o++] = b64chars[w >> 18 & 63];
        dst[o++] = b64chars[w >> 12 & 63];
        dst[o++] = b64chars[w >> 6 & 63];
        dst[o++] = '=';
    }
    return o;
}

/* Decodes s[0..len) into an exact-size heap copy (so ASan sees an over-read)
 * and an output of exactly out_cap bytes (so it sees an over-write). */
static int decode_exact(const char *s, size_t len, uint8_t *got, size_t out_cap, size_t *got_len) {
    char *in = malloc(len ? len : 1);
    uint8_t *out = malloc(out_cap ? out_cap : 1);
    if (in == NULL || out == NULL) abort();
    memcpy(in, s, len);
    size_t n = 0;
    int ok = getpath_decode(in, len, out, out_cap, &n);
    if (ok) {
        if (n > out_cap) abort();
        memcpy(got, out, n);
        *got_len = n;
    }
    free(in);
    free(out);
    return ok;
}

/* s[0..len) decodes to want[0..n). */
static void same(const char *s, size_t len, const uint8_t *want, size_t n) {
    uint8_t got[GETPATH_MAX];
    size_t got_len = 0;
    if (!decode_exact(s, len, got, n, &got_len)) abort();
    if (got_len != n || memcmp(got, want, n) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    uint8_t out[GETPATH_MAX];
    size_t n = 0;

    if (!getpath_decode(s, size, out, sizeof(out), &n)) {
        /* Refused with room to spare: refused with any room. */
        uint8_t small[4];
        size_t m = 0;
        if (getpath_decode(s, size, small, sizeof(small), &m)) abort();
        return 0;
    }
    if (size > GETPATH_MAX) abort();
    if (n > sizeof(out) || 4 * n > 3 * size) abort();

    /* Deterministic; the exact out_cap fits, one less does not. */
    uint8_t again[GETPATH_MAX];
    size_t m = 0;
    if (!decode_exact(s, size, again, n, &m) || m != n || memcmp(again, out, n) != 0) abort();
    if (n > 0 && decode_exact(s, size, again, n - 1, &m)) abort();

    /* Standard base64. A raw leading '/' (first byte 0xfc..0xff) would be a
     * separator, so that one is escaped: the shards' clients would have to. */
    char enc[3 * GETPATH_MAX + 8];
    size_t e = encode_std(out, n, enc);
    if (e > GETPATH_MAX) abort();
    if (e == 0 || enc[0] != '/') {
        same(enc, e, out, n);
    } else {
        char esc[GETPATH_MAX + 8];
        memcpy(esc, "%2F", 3);
        memcpy(esc + 3, enc + 1, e - 1);
        if (e + 2 <= GETPATH_MAX) same(esc, e + 2, out, n);
    }

    /* URL-encoded, as RFC 6960 A.1 has it; when it fits under the cap. */
    char url[3 * GETPATH_MAX + 8];
    size_t u = 0;
    for (size_t i = 0; i < e; i++) {
        char c = enc[i];
        if (c == '+' || c == '/' || c == '=') {
            url[u++] = '%';
            url[u++] = '2' + (c == '=');
            url[u++] = c == '+' ? 'B' : c == '/' ? 'f' : 'D';
        } else {
            url[u++] = c;
        }
    }
    if (u <= GETPATH_MAX) same(url, u, out, n);

    /* Base64url without padding, behind an OCSP URL that ends in '/'. */
    char b64url[GETPATH_MAX + 8];
    size_t b = 0;
    b64url[b++] = '/';
    b64url[b++] = '/';
    for (size_t i = 0; i < e && enc[i] != '='; i++)
        b64url[b++] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
    if (b <= GETPATH_MAX) same(b64url, b, out, n);
    return 0;
}
