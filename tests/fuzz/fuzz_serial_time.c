/* libFuzzer target: the text forms of serial numbers and times that come in
 * from the command line, the control socket and import files (common/hex,
 * common/rtime). What is accepted must survive a round trip through the
 * matching encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_cstr.h"
#include "common/hex.h"
#include "common/rtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T_MIN (-631152000LL)     /* 1950-01-01T00:00:00Z */
#define T_MAX 253402300799LL     /* 9999-12-31T23:59:59Z */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstr(data, size, 4096); /* nothing longer is meaningful; keeps runs fast */
    if (s == NULL) return 0;

    uint8_t serial[HEX_SERIAL_MAX + 1];
    size_t sl = 0;
    if (hex_parse_serial(s, serial, &sl)) {
        if (sl == 0 || sl > HEX_SERIAL_MAX) abort();
        if (serial[0] & 0x80) abort();
        if (serial[0] == 0 && (sl == 1 || !(serial[1] & 0x80))) abort();
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode(serial, sl, hex);
        uint8_t back[HEX_SERIAL_MAX + 1];
        size_t bl = 0;
        if (!hex_parse_serial(hex, back, &bl) || bl != sl || memcmp(back, serial, sl) != 0) abort();
    }

    int64_t t = 0;
    int ok = rtime_parse(s, &t);
    if (ok) {
        if (t < T_MIN || t > T_MAX) abort();
        char out[21];
        rtime_format(t, out);
        int64_t back = 0;
        if (!rtime_parse(out, &back) || back != t) abort();
    }
    /* Over exactly the input bytes, which are not NUL-terminated: an
     * over-read shows under ASan. It agrees with rtime_parse when the input
     * holds no NUL. */
    int64_t t2 = 0;
    int ok2 = rtime_parse_n((const char *)data, size, &t2);
    if (memchr(data, '\0', size) == NULL && (ok2 != ok || (ok && t2 != t))) abort();
    free(s);
    return 0;
}
