/* libFuzzer target: a CRL as an edge takes it from the feed
 * (feed_verify_crl in feed/verify.c), checked against a fixed CA
 * (tests/fuzz/feed_trust.h). What is refused says why; what is accepted
 * has its info filled (the sentinels overwritten). */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "feed_trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct feed_trust *t = feed_fuzz_trust();
    struct feed_crl_info info = {UINT64_MAX, -1, -1};
    struct rerr e;
    e.msg[0] = '\0';
    if (feed_verify_crl(t, data, size, &info, &e)) {
        if (info.this_update == -1 || info.next_update == -1) abort();
    } else if (e.msg[0] == '\0') {
        abort();
    }
    ERR_clear_error();
    return 0;
}
