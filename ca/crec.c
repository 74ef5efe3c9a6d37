/* crec: the certificate record and the revocation entry value (ca/crec.h). */
#include "ca/crec.h"

#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "common/bytes.h"

int crec_encode(const struct crec *r, uint8_t **out, size_t *out_len) {
    size_t tl = strnlen(r->template_name, sizeof(r->template_name) - 1);
    size_t n = CREC_FIXED + 1 + tl + 4 + r->der_len;
    uint8_t *p = malloc(n);
    if (p == NULL) return 0;
    p[0] = 1;
    p[1] = r->status;
    p[2] = r->reason;
    p[3] = r->flags;
    bytes_put_u32(p + 4, r->partition);
    bytes_put_u64(p + 8, (uint64_t)r->not_before);
    bytes_put_u64(p + 16, (uint64_t)r->not_after);
    bytes_put_u64(p + 24, (uint64_t)r->revoked_at);
    bytes_put_u64(p + 32, (uint64_t)r->invalidity);
    p[40] = (uint8_t)tl;
    memcpy(p + 41, r->template_name, tl);
    bytes_put_u32(p + 41 + tl, r->der_len);
    if (r->der_len > 0) memcpy(p + 45 + tl, r->der, r->der_len);
    *out = p;
    *out_len = n;
    return 1;
}

int crec_decode(const uint8_t *p, size_t len, struct crec *out) {
    if (len < CREC_FIXED + 1 || p[0] != 1 || p[1] > CERT_REVOKED || p[2] > 10) return 0;
    out->status = p[1];
    out->reason = p[2];
    out->flags = p[3];
    out->partition = bytes_get_u32(p + 4);
    out->not_before = (int64_t)bytes_get_u64(p + 8);
    out->not_after = (int64_t)bytes_get_u64(p + 16);
    out->revoked_at = (int64_t)bytes_get_u64(p + 24);
    out->invalidity = (int64_t)bytes_get_u64(p + 32);
    size_t tl = p[40];
    if (tl >= sizeof(out->template_name) || len < CREC_FIXED + 1 + tl + 4) return 0;
    memcpy(out->template_name, p + 41, tl);
    out->template_name[tl] = '\0';
    uint32_t dl = bytes_get_u32(p + 41 + tl);
    if (len - (CREC_FIXED + 1 + tl + 4) != dl) return 0;
    out->der_len = dl;
    out->der = dl > 0 ? p + 45 + tl : NULL;
    return 1;
}

void crec_rev_value(const struct crec *r, uint8_t out[REV_VALUE_LEN]) {
    bytes_put_u64(out, (uint64_t)r->revoked_at);
    out[8] = r->reason;
    out[9] = (r->flags & CREC_F_INVALIDITY) ? 1 : 0;
    bytes_put_u64(out + 10, (uint64_t)r->invalidity);
    bytes_put_u64(out + 18, (uint64_t)r->not_after);
}

