#include "common/etag.h"

#include <openssl/evp.h>

int etag_of(const uint8_t *p, size_t len, char out[ETAG_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    uint8_t d[32];
    unsigned int dl = 32;
    out[0] = '\0';
    if (!EVP_Digest(p, len, d, &dl, EVP_sha256(), NULL)) return 0;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[ETAG_LEN] = '\0';
    return 1;
}
