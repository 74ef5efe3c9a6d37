/* fuzz_feed_msg: a feed message (feed/msg.h) as an edge takes it from NATS,
 * where anyone who may publish to the streams could have written it.
 * Properties: no crash or leak whatever the bytes; a payload that decodes
 * encodes back to the same bytes (the format has one encoding), and its
 * views lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "feed/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    const uint8_t *b = p;
    return n == 0 || (b >= data && b + n <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct feed_msg m;
    struct rerr e;
    if (!feed_msg_decode(data, size, &m, &e)) return 0;
    if (!inside(m.serial, m.serial_len, data, size) || !inside(m.der[0], m.der_len[0], data, size) ||
        !inside(m.der[1], m.der_len[1], data, size) || !inside(m.name, m.name_len, data, size))
        abort();
    uint8_t *out = malloc(size ? size : 1);
    if (out == NULL) return 0;
    size_t n = feed_msg_encode(&m, out, size);
    if (n != size || memcmp(out, data, size) != 0) abort();
    char subject[FEED_SUBJECT_MAX], stream[16];
    if (feed_msg_subject(&m, subject, stream) >= FEED_SUBJECT_MAX) abort();
    free(out);
    return 0;
}
