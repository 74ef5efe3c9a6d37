/* getpath: the base64 request of an OCSP GET (RFC 6960 A.1), in the
 * spellings real clients send (see getpath.h).
 *
 * Two passes over a bounded input: the first turns the path into base64
 * sextets (percent-escapes undone, base64url mapped, padding counted) and
 * checks the shape (padding at the end only, a possible length, zero
 * trailing bits, the decoded length against out_cap); the second writes the
 * bytes. Nothing is written to out unless the whole path is good, and never
 * more than out_cap bytes. s is read only within [0, len). */
#include "ocsp/getpath.h"

/* The value of one hex digit, or -1. */
static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The sextet of each base64 or base64url character (RFC 4648 4 and 5:
 * '+' and '-' 62, '/' and '_' 63), 64 for '=', -1 for any other octet:
 * one load a character on the request path. */
static const signed char b64_table[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, 62, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, 64, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int b64val(unsigned char c) { return b64_table[c]; }

int getpath_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len) {
    /* Each base64 character takes at least one byte of s, so GETPATH_MAX
     * sextets is enough. 8 KiB of stack: the shards allocate nothing here. */
    uint8_t sextet[GETPATH_MAX];
    size_t num_sextets = 0, num_pad = 0, i = 0;

    if (out_len != NULL) *out_len = 0;
    if (out_len == NULL || len > GETPATH_MAX || (s == NULL && len != 0)) return 0;

    /* "{url}//{b64}": the base64 of a DER SEQUENCE starts with 'M', so raw
     * leading '/' are separators. An escaped "%2F" is a base64 character. */
    while (i < len && s[i] == '/') i++;

    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            /* "%XX": both digits must be within len. No double decoding:
             * "%252B" gives '%', which is then refused. */
            if (len - i < 3) return 0;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return 0;
            c = (unsigned char)(hi << 4 | lo);
            i += 3;
        } else {
            i++;
        }
        int v = b64val(c);
        if (v < 0) return 0;
        if (v == 64) {
            num_pad++;
        } else {
            if (num_pad != 0) return 0; /* '=' only at the end */
            sextet[num_sextets++] = (uint8_t)v;
        }
    }

    /* The characters a last group of 1, 2 or 3 sextets leaves to pad: a
     * group of one cannot be (6 bits are not a byte). Padding is optional,
     * whole or partial, but never more than the group needs. */
    size_t rem = num_sextets % 4;
    if (rem == 1) return 0;
    size_t pad_room = rem == 0 ? 0 : 4 - rem;
    if (num_pad > pad_room) return 0;

    /* Canonical base64: the bits of the last sextet beyond the last byte are
     * zero, so one byte string has one encoding (modulo spelling). */
    if (rem == 2 && (sextet[num_sextets - 1] & 0x0f) != 0) return 0;
    if (rem == 3 && (sextet[num_sextets - 1] & 0x03) != 0) return 0;

    size_t n = num_sextets / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (n > out_cap) return 0;

    size_t o = 0, k = 0;
    for (; k + 4 <= num_sextets; k += 4) {
        uint32_t w = (uint32_t)sextet[k] << 18 | (uint32_t)sextet[k + 1] << 12 |
                     (uint32_t)sextet[k + 2] << 6 | sextet[k + 3];
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (rem >= 2) {
        uint32_t w = (uint32_t)sextet[k] << 18 | (uint32_t)sextet[k + 1] << 12;
        if (rem == 3) w |= (uint32_t)sextet[k + 2] << 6;
        out[o++] = (uint8_t)(w >> 16);
        if (rem == 3) out[o++] = (uint8_t)(w >> 8);
    }
    *out_len = o;
    return 1;
}
