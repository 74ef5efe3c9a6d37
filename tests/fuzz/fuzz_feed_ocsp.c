/* libFuzzer target: an OCSP response as an edge takes it from the feed
 * (feed_verify_ocsp in feed/verify.c), checked against a fixed CA
 * (tests/fuzz/feed_trust.h); every input is also offered as a CA
 * certificate (feed_trust_new). What is refused says why; what is accepted
 * says what a verified response must: one of the two hashes, a positive
 * serial viewed inside the input, a known status, nextUpdate not before
 * thisUpdate. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "feed_trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct feed_trust *t = feed_fuzz_trust();
    struct feed_ocsp_info info;
    struct rerr e;
    e.msg[0] = '\0';
    if (feed_verify_ocsp(t, data, size, FEED_FUZZ_NOW, &info, &e)) {
        if (info.hash != OCSP_HASH_SHA1 && info.hash != OCSP_HASH_SHA256) abort();
        if (info.serial < data || info.serial_len == 0 || info.serial + info.serial_len > data + size) abort();
        if (info.serial[0] & 0x80) abort();
        if (info.status != OCSP_GOOD && info.status != OCSP_REVOKED && info.status != OCSP_UNKNOWN) abort();
        if (info.next_update < info.this_update) abort();
        if (info.status != OCSP_REVOKED && (info.revoked_at != 0 || info.reason != -1)) abort();
    } else if (e.msg[0] == '\0') {
        abort();
    }
    e.msg[0] = '\0';
    struct feed_trust *other = feed_trust_new(feed_fuzz_anchors, data, size, &e);
    if (other == NULL && e.msg[0] == '\0') abort();
    feed_trust_free(other);
    ERR_clear_error();
    return 0;
}
