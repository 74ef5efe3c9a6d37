/* bytes: big-endian integers in byte buffers (the index's keys and records,
 * the CRL archive): byte order is numeric order, so that the index sorts.
 * The caller guarantees the 2, 4 or 8 bytes; nothing is checked here. Pure;
 * any thread. */
#ifndef REVD_COMMON_BYTES_H
#define REVD_COMMON_BYTES_H

#include <stdint.h>

/* bytes_put_u16 writes v at p[0..1], most significant byte first. */
static inline void bytes_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* bytes_get_u16 reads what bytes_put_u16 wrote. */
static inline uint16_t bytes_get_u16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* bytes_put_u32 writes v at p[0..3], most significant byte first. */
static inline void bytes_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* bytes_get_u32 reads what bytes_put_u32 wrote. */
static inline uint32_t bytes_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* bytes_put_u64 writes v at p[0..7], most significant byte first. */
static inline void bytes_put_u64(uint8_t *p, uint64_t v) {
    bytes_put_u32(p, (uint32_t)(v >> 32));
    bytes_put_u32(p + 4, (uint32_t)v);
}

/* bytes_get_u64 reads what bytes_put_u64 wrote. */
static inline uint64_t bytes_get_u64(const uint8_t *p) {
    return (uint64_t)bytes_get_u32(p) << 32 | bytes_get_u32(p + 4);
}

#endif
