#include "common/hex.h"

#include <string.h>

void hex_encode(const uint8_t *p, size_t len, char *out) {
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

void hex_encode_serial(const uint8_t *p, size_t len, char *out) {
    if (len > 1 && p[0] == 0 && (p[1] & 0x80)) {
        p++;
        len--;
    }
    hex_encode(p, len, out);
}

static int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hex_parse_serial(const char *s, uint8_t out[HEX_SERIAL_MAX + 1], size_t *out_len) {
    uint8_t digits[2 * (HEX_SERIAL_MAX + 1) + 64];
    size_t n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    for (; *s != '\0'; s++) {
        if (*s == ':') continue;
        int v = nibble(*s);
        if (v < 0) return 0;
        if (n == 0 && v == 0) continue; /* leading zeros */
        if (n >= sizeof(digits)) return 0;
        digits[n++] = (uint8_t)v;
    }
    if (n == 0) return 0; /* zero or empty */
    size_t octets = (n + 1) / 2;
    if (octets > HEX_SERIAL_MAX) return 0;
    size_t o = 0;
    size_t i = 0;
    /* A top bit set needs a 0x00 in front to stay a positive INTEGER. */
    uint8_t first = (n % 2 == 1) ? digits[0] : (uint8_t)(digits[0] << 4 | digits[1]);
    if (first & 0x80) {
        if (octets + 1 > HEX_SERIAL_MAX) return 0;
        out[o++] = 0;
    }
    if (n % 2 == 1) {
        out[o++] = digits[0];
        i = 1;
    }
    for (; i < n; i += 2) out[o++] = (uint8_t)(digits[i] << 4 | digits[i + 1]);
    *out_len = o;
    return 1;
}
