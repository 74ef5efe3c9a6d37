/* crc32c: CRC-32C (common/crc32c.h). The reflected polynomial 0x82F63B78;
 * crc32c_update(0, "123456789", 9) is 0xE3069283 (the check value). */
#include "common/crc32c.h"

#include <pthread.h>

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

uint32_t crc32c_update(uint32_t crc, const void *p, size_t len) {
    pthread_once(&table_once, table_init);
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
