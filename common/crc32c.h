/* crc32c: the CRC-32C (Castagnoli) of bytes, for checksums of what revd
 * wrote to disk and reads back (ocsp/store.c). Table-driven, a byte at a
 * time: about 1 GB/s, far below a disk read's cost. Pure; any thread. */
#ifndef REVD_COMMON_CRC32C_H
#define REVD_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c_update continues crc (0 to start) over p[0..len). */
uint32_t crc32c_update(uint32_t crc, const void *p, size_t len);

#endif
