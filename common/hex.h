/* hex: serial numbers and digests as text. Pure functions; any thread. */
#ifndef REVD_COMMON_HEX_H
#define REVD_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* hex_encode_serial writes a serial's INTEGER content octets as
 * `openssl x509 -serial` does: without the 0x00 octet that keeps a
 * top-bit-set value positive. out holds 2*len+1 bytes. */
void hex_encode_serial(const uint8_t *p, size_t len, char *out);

/* The longest serial RFC 5280 allows: 20 octets. */
#define HEX_SERIAL_MAX 20

/* hex_encode writes 2*len upper-case hex digits and a NUL to out, which must
 * hold 2*len+1 bytes. */
void hex_encode(const uint8_t *p, size_t len, char *out);

/* hex_parse_serial reads a serial number written as hex: case-insensitive,
 * optional "0x" prefix, optional ':' between octets, odd digit counts allowed
 * (a leading 0 is implied). Leading zero octets are dropped so that the result
 * is the minimal unsigned big-endian form; the value must be non-zero and at
 * most HEX_SERIAL_MAX octets, and its top bit must be clear (a DER INTEGER
 * serial is positive; one with the top bit set would need a leading 0x00,
 * which is kept: out holds up to HEX_SERIAL_MAX + 1 bytes).
 * Returns 1 and sets *out_len, or 0 on anything else. */
int hex_parse_serial(const char *s, uint8_t out[HEX_SERIAL_MAX + 1], size_t *out_len);

#endif
