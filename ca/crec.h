/* crec: the binary certificate record ('x' keys, ca/ikey.h) and the
 * revocation entry value ('r' keys). On disk: the layouts below must never
 * change. Pure; any thread.
 *
 * Certificate record, version 1:
 *   u8 version, u8 status, u8 reason, u8 flags, u32 partition,
 *   i64 not_before, i64 not_after, i64 revoked_at, i64 invalidity,
 *   u8 template_len, template, u32 der_len, der */
#ifndef REVD_CA_CREC_H
#define REVD_CA_CREC_H

#include <stddef.h>
#include <stdint.h>

#define CREC_FIXED 40
#define CREC_F_IMPORTED 1
#define CREC_F_CA 2
#define CREC_F_INVALIDITY 4

struct crec {
    uint8_t status, reason, flags;
    uint32_t partition;
    int64_t not_before, not_after, revoked_at, invalidity;
    char template_name[32];
    const uint8_t *der; /* view into the encoded record */
    uint32_t der_len;
};

/* crec_encode returns a malloc'd record in *out (the caller frees).
 * crec_decode parses one strictly (trailing bytes rejected); der points
 * into p. Both return 1/0. */
int crec_encode(const struct crec *r, uint8_t **out, size_t *out_len);
int crec_decode(const uint8_t *p, size_t len, struct crec *out);

/* The revocation entry value: i64 revoked_at, u8 reason, u8 has_invalidity,
 * i64 invalidity, i64 not_after (the certificate's: it leaves the CRL once
 * expired). Entries written before not_after was kept are 18 octets.
 * crec_rev_value fills out from r. */
#define REV_VALUE_LEN_V1 18
#define REV_VALUE_LEN 26
void crec_rev_value(const struct crec *r, uint8_t out[REV_VALUE_LEN]);

#endif
