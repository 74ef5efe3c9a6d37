/* ikey: the index's key layout (ca/ikey.h). */
#include "ca/ikey.h"

#include <stdlib.h>
#include <string.h>

#include "ca/core.h"
#include "ca/store.h"
#include "common/bytes.h"

size_t ikey_cert(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen) {
    out[0] = K_CERT;
    bytes_put_u32(out + 1, ca_id);
    out[5] = (uint8_t)slen;
    memcpy(out + 6, serial, slen);
    return 6 + slen;
}

size_t ikey_part_change(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    out[0] = K_PART_CHANGE;
    bytes_put_u32(out + 1, ca_id);
    bytes_put_u32(out + 5, part);
    return 9;
}

int ikey_part_change_get(struct ca_core *c, uint32_t ca_id, uint32_t part, uint64_t *out, struct rerr *e) {
    uint8_t key[KEY_MAX], *v;
    size_t vl;
    *out = 0;
    int r = store_get(c->st, key, ikey_part_change(key, ca_id, part), &v, &vl, e);
    if (r < 0) return 0;
    if (r == 1 && vl == 8) *out = bytes_get_u64(v);
    if (r == 1) free(v);
    return 1;
}

size_t ikey_resp(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen) {
    size_t n = ikey_cert(out, ca_id, serial, slen);
    out[0] = K_RESP;
    return n;
}

size_t ikey_revoked(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part, const uint8_t *serial,
                    size_t slen) {
    out[0] = K_REVOKED;
    bytes_put_u32(out + 1, ca_id);
    bytes_put_u32(out + 5, part);
    out[9] = (uint8_t)slen;
    memcpy(out + 10, serial, slen);
    return 10 + slen;
}

size_t ikey_part(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part) {
    out[0] = K_PART;
    bytes_put_u32(out + 1, ca_id);
    bytes_put_u32(out + 5, part);
    return 9;
}

