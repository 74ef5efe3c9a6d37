/* der: the strict DER cursor and the fixed-buffer builder (common/der.h).
 *
 * Reading follows X.690 section 10 (DER) with two house limits: low tag
 * numbers only (an identifier octet whose number bits are all ones, 0x1f,
 * starts a high tag number and is refused), and at most 4 length octets.
 * Every read checks what is left before touching it, and a failed read
 * leaves the cursor where it was. */
#include "common/der.h"

#include <string.h>

/* ---- reading ---- */

void der_init(struct der *d, const uint8_t *p, size_t len) {
    d->p = p;
    d->len = len;
}

/* The identifier octet [UNIVERSAL 0] (0x00, or 0x20 constructed) is the
 * end-of-contents marker of BER's indefinite lengths: it is never a DER
 * element, and accepting it would make "00 00" look like a value. */
static int tag_ok(unsigned tag) {
    return tag <= 0xffu && (tag & 0x1fu) != 0x1fu && (tag & ~DER_CONSTRUCTED) != 0;
}

/* Reads the header of the next element without moving d: its identifier
 * octet, header length and contents length. Strict DER (see der_get). */
static int parse_header(const struct der *d, unsigned *out_tag, size_t *out_hdr, size_t *out_len) {
    if (d->len < 2) return 0;
    unsigned tag = d->p[0];
    if (!tag_ok(tag)) return 0;
    uint8_t b = d->p[1];
    size_t len, hdr;
    if (b < 0x80) {
        len = b;
        hdr = 2;
    } else {
        /* 0x80 is BER's indefinite length; 0xff is reserved; more than four
         * length octets is over our limit (and over any sane element). */
        size_t n = b & 0x7fu;
        if (n == 0 || n > 4) return 0;
        if (d->len - 2 < n) return 0;
        if (d->p[2] == 0) return 0; /* a leading zero octet: not minimal */
        len = 0;
        for (size_t i = 0; i < n; i++) len = (len << 8) | d->p[2 + i];
        if (len < 0x80) return 0; /* fits the short form: not minimal */
        hdr = 2 + n;
    }
    if (d->len - hdr < len) return 0;
    *out_tag = tag;
    *out_hdr = hdr;
    *out_len = len;
    return 1;
}

int der_get_any(struct der *d, unsigned *out_tag, struct der *out, struct der *out_element) {
    unsigned tag;
    size_t hdr, len;
    if (!parse_header(d, &tag, &hdr, &len)) return 0;
    if (out_tag != NULL) *out_tag = tag;
    if (out != NULL) der_init(out, d->p + hdr, len);
    if (out_element != NULL) der_init(out_element, d->p, hdr + len);
    d->p += hdr + len;
    d->len -= hdr + len;
    return 1;
}

int der_get(struct der *d, unsigned tag, struct der *out) {
    unsigned got;
    size_t hdr, len;
    if (!parse_header(d, &got, &hdr, &len) || got != tag) return 0;
    return der_get_any(d, NULL, out, NULL);
}

int der_peek(const struct der *d, unsigned tag) { return d->len >= 1 && d->p[0] == tag; }

int der_get_optional(struct der *d, unsigned tag, int *present, struct der *out) {
    if (der_peek(d, tag)) {
        if (!der_get(d, tag, out)) return 0;
        if (present != NULL) *present = 1;
        return 1;
    }
    if (present != NULL) *present = 0;
    if (out != NULL) der_init(out, NULL, 0);
    return 1;
}

/* X.690 8.3.2: the first nine bits of an INTEGER's contents are not all
 * zeros nor all ones. */
static int integer_minimal(const struct der *c) {
    if (c->len == 0) return 0;
    if (c->len >= 2) {
        if (c->p[0] == 0x00 && (c->p[1] & 0x80) == 0) return 0;
        if (c->p[0] == 0xff && (c->p[1] & 0x80) != 0) return 0;
    }
    return 1;
}

int der_get_integer(struct der *d, struct der *out) {
    struct der copy = *d, c;
    if (!der_get(&copy, DER_INTEGER, &c) || !integer_minimal(&c)) return 0;
    *d = copy;
    if (out != NULL) *out = c;
    return 1;
}

int der_get_small_uint(struct der *d, unsigned tag, uint32_t *out) {
    struct der copy = *d, c;
    if (!der_get(&copy, tag, &c) || !integer_minimal(&c)) return 0;
    if (c.p[0] & 0x80) return 0; /* negative */
    /* Minimal and non-negative: five octets only as 00 xx xx xx xx. */
    if (c.len > 5 || (c.len == 5 && c.p[0] != 0)) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < c.len; i++) v = (v << 8) | c.p[i];
    *d = copy;
    if (out != NULL) *out = v;
    return 1;
}

int der_get_bool(struct der *d, int *out) {
    struct der copy = *d, c;
    /* X.690 11.1: DER encodes TRUE as 0xff, never any other non-zero. */
    if (!der_get(&copy, DER_BOOLEAN, &c) || c.len != 1 || (c.p[0] != 0x00 && c.p[0] != 0xff))
        return 0;
    *d = copy;
    if (out != NULL) *out = c.p[0] == 0xff;
    return 1;
}

int der_oid_eq(const struct der *o, const uint8_t *oid, size_t oid_len) {
    return o->len == oid_len && (oid_len == 0 || memcmp(o->p, oid, oid_len) == 0);
}

/* ---- writing ---- */

void derb_init(struct derb *b, uint8_t *buf, size_t cap) {
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->err = 0;
    b->depth = 0;
}

static int room(struct derb *b, size_t n) {
    if (b->err) return 0;
    if (b->cap - b->len < n) {
        b->err = 1;
        return 0;
    }
    return 1;
}

/* Octets needed after the first length octet for len: 0 (short form) or
 * 1..4 (long form). Over four octets (4 GiB) is refused, as on reading. */
static int len_octets(size_t len, size_t *out_n) {
    size_t n = 0;
    if (len >= 0x80) {
        for (size_t v = len; v != 0; v >>= 8) n++;
        if (n > 4) return 0;
    }
    *out_n = n;
    return 1;
}

/* Writes the length octets of len at dst (1 + len_octets bytes). */
static void put_len(uint8_t *dst, size_t len, size_t n) {
    if (n == 0) {
        dst[0] = (uint8_t)len;
        return;
    }
    dst[0] = (uint8_t)(0x80u | n);
    for (size_t i = 0; i < n; i++) dst[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
}

void derb_open(struct derb *b, unsigned tag) {
    if (b->err) return;
    if (!tag_ok(tag) || b->depth >= DER_MAX_DEPTH) {
        b->err = 1;
        return;
    }
    if (!room(b, 2)) return;
    b->open[b->depth++] = b->len;
    b->buf[b->len++] = (uint8_t)tag;
    b->buf[b->len++] = 0; /* the length, written by derb_close */
}

void derb_close(struct derb *b) {
    if (b->err) return;
    if (b->depth <= 0) {
        b->err = 1;
        return;
    }
    size_t start = b->open[--b->depth];
    size_t body = start + 2, len = b->len - body, n;
    if (!len_octets(len, &n)) {
        b->err = 1;
        return;
    }
    if (n > 0) {
        if (!room(b, n)) return;
        memmove(b->buf + body + n, b->buf + body, len);
        b->len += n;
    }
    put_len(b->buf + start + 1, len, n);
}

void derb_add(struct derb *b, unsigned tag, const uint8_t *p, size_t len) {
    size_t n;
    if (b->err) return;
    if (!tag_ok(tag) || !len_octets(len, &n)) {
        b->err = 1;
        return;
    }
    /* Header first, then contents: no sum that could wrap. */
    if (!room(b, 2 + n)) return;
    if (b->cap - b->len - (2 + n) < len) {
        b->err = 1;
        return;
    }
    b->buf[b->len] = (uint8_t)tag;
    put_len(b->buf + b->len + 1, len, n);
    b->len += 2 + n;
    if (len > 0) memcpy(b->buf + b->len, p, len);
    b->len += len;
}

void derb_raw(struct derb *b, const uint8_t *p, size_t len) {
    if (!room(b, len)) return;
    if (len > 0) memcpy(b->buf + b->len, p, len);
    b->len += len;
}

void derb_add_uint(struct derb *b, unsigned tag, uint64_t v) {
    uint8_t c[9];
    size_t n = 0;
    /* Big-endian without leading zero octets, then one 0x00 in front when
     * the top bit is set (it would read as negative); 0 is a single 0x00. */
    int started = 0;
    for (int i = 7; i >= 0; i--) {
        uint8_t o = (uint8_t)(v >> (8 * i));
        if (!started && o == 0) continue;
        if (!started && (o & 0x80)) c[n++] = 0x00;
        started = 1;
        c[n++] = o;
    }
    if (n == 0) c[n++] = 0x00;
    derb_add(b, tag, c, n);
}

/* Howard Hinnant's civil_from_days: the proleptic Gregorian date of a day
 * count from 1970-01-01 (the inverse of common/rtime's days_from_civil). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void derb_add_gentime(struct derb *b, int64_t t) {
    /* 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
    if (t < -62167219200 || t > 253402300799) {
        b->err = 1;
        return;
    }
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t secs = t - days * 86400;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int v[6] = {(int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60)};
    uint8_t s[15];
    size_t n = 0;
    for (int i = 0; i < 6; i++) {
        if (i == 0) {
            s[n++] = (uint8_t)('0' + v[0] / 1000);
            s[n++] = (uint8_t)('0' + v[0] / 100 % 10);
        }
        s[n++] = (uint8_t)('0' + v[i] / 10 % 10);
        s[n++] = (uint8_t)('0' + v[i] % 10);
    }
    s[n++] = 'Z';
    derb_add(b, DER_GENERALIZEDTIME, s, n);
}

int derb_finish(struct derb *b, size_t *out_len) {
    if (b->err || b->depth != 0) return 0;
    if (out_len != NULL) *out_len = b->len;
    return 1;
}
