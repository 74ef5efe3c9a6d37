/* msg: the feed's wire format (feed/msg.h). */
#include "feed/msg.h"

#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "common/hex.h"

static const char magic[4][4] = {{'R', 'V', 'O', '1'}, {'R', 'V', 'C', '1'}, {'R', 'V', 'A', '1'},
                                 {'R', 'V', 'H', '1'}};

static const char *const stream_names[FEED_STREAMS] = {"REVD_OCSP_0", "REVD_OCSP_1", "REVD_OCSP_2",
                                                       "REVD_OCSP_3", "REVD_CRL",    "REVD_META"};
static const char *const stream_subjects[FEED_STREAMS] = {"revd.ocsp.0.>", "revd.ocsp.1.>", "revd.ocsp.2.>",
                                                          "revd.ocsp.3.>", "revd.crl.>",    "revd.meta.>"};

const char *feed_stream_name(unsigned i) { return i < FEED_STREAMS ? stream_names[i] : NULL; }
const char *feed_stream_subject(unsigned i) { return i < FEED_STREAMS ? stream_subjects[i] : NULL; }

/* FNV-1a, 64 bits: spreads serials over streams and names CRL subjects. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
#define FNV0 0xcbf29ce484222325ull

unsigned feed_msg_shard(const uint8_t *serial, size_t len) {
    return (unsigned)(fnv(FNV0, serial, len) % FEED_OCSP_STREAMS);
}

uint64_t feed_msg_key(const struct feed_msg *m) {
    uint8_t head[5] = {(uint8_t)m->kind};
    bytes_put_u32(head + 1, m->caid);
    uint64_t h = fnv(FNV0, head, sizeof(head));
    if (m->kind == FEED_OCSP) return fnv(h, m->serial, m->serial_len);
    if (m->kind == FEED_CRL) return fnv(h, m->name, m->name_len);
    return h;
}

/* Fixed part of each kind after the magic. */
size_t feed_msg_size(const struct feed_msg *m) {
    switch (m->kind) {
    case FEED_OCSP:
        if (m->serial_len == 0 || m->serial_len > FEED_SERIAL_MAX || m->der_len[0] > FEED_RESPONSE_MAX ||
            m->der_len[1] > FEED_RESPONSE_MAX)
            return 0;
        return 4 + 8 + 4 + 1 + m->serial_len + 4 + m->der_len[0] + 4 + m->der_len[1];
    case FEED_CRL:
        if (m->name_len == 0 || m->name_len > FEED_NAME_MAX || m->der_len[0] > FEED_CRL_MAX) return 0;
        return 4 + 8 + 4 + 2 + m->name_len + 8 + 4 + m->der_len[0];
    case FEED_CA:
        if (m->name_len == 0 || m->name_len > FEED_NAME_MAX || m->der_len[0] > FEED_CERT_MAX) return 0;
        return 4 + 8 + 4 + 2 + m->name_len + 4 + m->der_len[0];
    case FEED_HB: return 4 + 8 + 8 + 8 + 8 + 8 * FEED_STREAMS;
    }
    return 0;
}

/* put: appends n bytes at *p. */
static uint8_t *put(uint8_t *p, const void *s, size_t n) {
    if (n) memcpy(p, s, n);
    return p + n;
}

size_t feed_msg_encode(const struct feed_msg *m, uint8_t *out, size_t cap) {
    size_t n = feed_msg_size(m);
    if (n == 0 || n > cap) return 0;
    uint8_t *p = put(out, magic[m->kind], 4);
    bytes_put_u64(p, m->version), p += 8;
    if (m->kind == FEED_HB) {
        bytes_put_u64(p, (uint64_t)m->sent_at_us), p += 8;
        bytes_put_u64(p, m->position), p += 8;
        bytes_put_u64(p, m->complete), p += 8;
        for (unsigned i = 0; i < FEED_STREAMS; i++) bytes_put_u64(p, m->acked[i]), p += 8;
        return n;
    }
    bytes_put_u32(p, m->caid), p += 4;
    if (m->kind == FEED_OCSP) {
        *p++ = (uint8_t)m->serial_len;
        p = put(p, m->serial, m->serial_len);
        for (int h = 0; h < 2; h++) {
            bytes_put_u32(p, (uint32_t)m->der_len[h]), p += 4;
            p = put(p, m->der[h], m->der_len[h]);
        }
        return n;
    }
    bytes_put_u16(p, (uint16_t)m->name_len), p += 2;
    p = put(p, m->name, m->name_len);
    if (m->kind == FEED_CRL) bytes_put_u64(p, (uint64_t)m->refresh_at), p += 8;
    bytes_put_u32(p, (uint32_t)m->der_len[0]), p += 4;
    put(p, m->der[0], m->der_len[0]);
    return n;
}

/* A reader over the payload: every take checks what is left. */
struct rd {
    const uint8_t *p;
    size_t left;
    int bad;
};

static const uint8_t *take(struct rd *r, size_t n) {
    if (r->bad || n > r->left) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n, r->left -= n;
    return at;
}

static uint64_t take_u64(struct rd *r) {
    const uint8_t *p = take(r, 8);
    return p ? bytes_get_u64(p) : 0;
}
static uint32_t take_u32(struct rd *r) {
    const uint8_t *p = take(r, 4);
    return p ? bytes_get_u32(p) : 0;
}
static uint16_t take_u16(struct rd *r) {
    const uint8_t *p = take(r, 2);
    return p ? bytes_get_u16(p) : 0;
}

/* take_blob: a u32 length under max, then that many bytes. */
static const uint8_t *take_blob(struct rd *r, size_t max, size_t *len) {
    *len = take_u32(r);
    if (*len == 0 || *len > max) r->bad = 1;
    return take(r, *len);
}

static int decode_body(struct rd *r, struct feed_msg *m) {
    if (m->kind == FEED_HB) {
        m->sent_at_us = (int64_t)take_u64(r);
        m->position = take_u64(r);
        m->complete = take_u64(r);
        if (m->complete > 1) r->bad = 1;
        for (unsigned i = 0; i < FEED_STREAMS; i++) m->acked[i] = take_u64(r);
        return !r->bad;
    }
    m->caid = take_u32(r);
    if (m->kind == FEED_OCSP) {
        const uint8_t *l = take(r, 1);
        m->serial_len = l ? *l : 0;
        if (m->serial_len == 0 || m->serial_len > FEED_SERIAL_MAX) return 0;
        m->serial = take(r, m->serial_len);
        m->der[0] = take_blob(r, FEED_RESPONSE_MAX, &m->der_len[0]);
        m->der[1] = take_blob(r, FEED_RESPONSE_MAX, &m->der_len[1]);
        return !r->bad;
    }
    m->name_len = take_u16(r);
    if (m->name_len == 0 || m->name_len > FEED_NAME_MAX) return 0;
    m->name = (const char *)take(r, m->name_len);
    if (m->kind == FEED_CRL) m->refresh_at = (int64_t)take_u64(r);
    m->der[0] = take_blob(r, m->kind == FEED_CRL ? FEED_CRL_MAX : FEED_CERT_MAX, &m->der_len[0]);
    if (r->bad) return 0;
    /* A name or path is printable text without NULs (it becomes a path,
     * a log line). */
    for (size_t i = 0; i < m->name_len; i++)
        if ((unsigned char)m->name[i] < 0x21 || (unsigned char)m->name[i] > 0x7e) return 0;
    return 1;
}

int feed_msg_decode(const uint8_t *p, size_t len, struct feed_msg *m, struct rerr *e) {
    memset(m, 0, sizeof(*m));
    struct rd r = {p, len, 0};
    const uint8_t *mg = take(&r, 4);
    int k = -1;
    for (int i = 0; mg != NULL && i < 4; i++)
        if (memcmp(mg, magic[i], 4) == 0) k = i;
    if (k < 0) return rerr_set(e, "not a revd feed message (magic)"), 0;
    m->kind = (enum feed_kind)k;
    m->version = take_u64(&r);
    if (!decode_body(&r, m)) return rerr_set(e, "malformed feed message (a length past its cap or the payload)"), 0;
    if (r.left != 0) return rerr_set(e, "malformed feed message (%zu bytes after it)", r.left), 0;
    return 1;
}

size_t feed_msg_subject(const struct feed_msg *m, char out[FEED_SUBJECT_MAX], char *stream) {
    int n = 0;
    unsigned s = FEED_OCSP_STREAMS + 1;
    char hex[2 * FEED_SERIAL_MAX + 1];
    switch (m->kind) {
    case FEED_OCSP:
        s = feed_msg_shard(m->serial, m->serial_len);
        hex_encode(m->serial, m->serial_len, hex);
        n = snprintf(out, FEED_SUBJECT_MAX, "revd.ocsp.%u.%u.%s", s, m->caid, hex);
        break;
    case FEED_CRL:
        s = FEED_OCSP_STREAMS;
        n = snprintf(out, FEED_SUBJECT_MAX, "revd.crl.%u.%016llx", m->caid,
                     (unsigned long long)fnv(FNV0, m->name, m->name_len));
        break;
    case FEED_CA: n = snprintf(out, FEED_SUBJECT_MAX, "revd.meta.ca.%u", m->caid); break;
    case FEED_HB: n = snprintf(out, FEED_SUBJECT_MAX, "revd.meta.hb"); break;
    }
    if (stream != NULL) strcpy(stream, stream_names[s]);
    return n < 0 ? 0 : (size_t)n;
}
