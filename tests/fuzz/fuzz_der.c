/* libFuzzer target: common/der. The input is walked as nested DER with the
 * cursor (constructed elements descended into); everything read is written
 * again with the builder, into a buffer exactly as large as the input. Strict
 * DER has one encoding per value, so whenever the whole input reads as DER
 * the builder must give back the same bytes. Along the way each element is
 * also read with the typed getters, and what they accept is re-encoded too
 * (derb_add_uint, derb_add_gentime). Anything may be refused; nothing may
 * be read outside the input, and a refusal must leave the cursor as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/der.h"
#include "common/rtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Deeper than the builder nests, elements are checked with the cursor only
 * and written whole. */
#define CHECK_MAX_DEPTH 64

static void same_cursor(const struct der *a, const struct der *b) {
    if (a->p != b->p || a->len != b->len) abort();
}

/* The element el (identifier tag, contents in) through the typed getters. */
static void typed(unsigned tag, const struct der *el, const struct der *in) {
    struct der d, out, before;
    uint8_t buf[32];
    struct derb b;
    size_t len;

    der_init(&d, el->p, el->len);
    before = d;
    if (!der_peek(&d, tag)) abort();
    if (der_peek(&d, tag ^ 0x01u) || der_get(&d, tag ^ 0x01u, &out)) abort();
    same_cursor(&d, &before);
    if (!der_get(&d, tag, &out) || d.len != 0 || out.p != in->p || out.len != in->len) abort();

    d = before;
    int present = 0;
    if (!der_get_optional(&d, tag, &present, &out) || !present || d.len != 0) abort();

    /* INTEGER: minimal means at least one octet and no redundant sign octet. */
    d = before;
    if (der_get_integer(&d, &out)) {
        if (tag != DER_INTEGER || out.len == 0 || d.len != 0) abort();
        if (out.len > 1 && ((out.p[0] == 0x00 && !(out.p[1] & 0x80)) || (out.p[0] == 0xff && (out.p[1] & 0x80))))
            abort();
    } else {
        same_cursor(&d, &before);
    }

    /* A small unsigned integer re-encodes to the same bytes. */
    uint32_t v;
    d = before;
    if (der_get_small_uint(&d, tag, &v)) {
        derb_init(&b, buf, sizeof(buf));
        derb_add_uint(&b, tag, v);
        if (!derb_finish(&b, &len) || len != el->len || memcmp(buf, el->p, len) != 0) abort();
    } else {
        same_cursor(&d, &before);
    }

    int bv;
    d = before;
    if (der_get_bool(&d, &bv)) {
        if (tag != DER_BOOLEAN || in->len != 1 || in->p[0] != (bv ? 0xff : 0x00)) abort();
    } else {
        same_cursor(&d, &before);
    }

    if (tag == DER_OID && !der_oid_eq(in, in->p, in->len)) abort();

    /* A GeneralizedTime of the form derb_add_gentime writes, of a real
     * date, is written back the same. */
    if (tag == DER_GENERALIZEDTIME && in->len == 15 && in->p[14] == 'Z') {
        int f[6], n = 0, ok = 1;
        static const int widths[6] = {4, 2, 2, 2, 2, 2};
        const uint8_t *s = in->p;
        for (int i = 0; i < 6; i++) {
            f[i] = 0;
            for (int j = 0; j < widths[i]; j++, n++) {
                if (s[n] < '0' || s[n] > '9') ok = 0;
                f[i] = f[i] * 10 + (s[n] - '0');
            }
        }
        static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (ok && f[1] >= 1 && f[1] <= 12 && f[2] >= 1 && f[3] <= 23 && f[4] <= 59 && f[5] <= 59) {
            int leap = (f[0] % 4 == 0 && f[0] % 100 != 0) || f[0] % 400 == 0;
            if (f[2] <= mdays[f[1] - 1] + (f[1] == 2 && leap)) {
                int64_t t = rtime_from_civil(f[0], f[1], f[2], f[3], f[4], f[5]);
                derb_init(&b, buf, sizeof(buf));
                derb_add_gentime(&b, t);
                if (!derb_finish(&b, &len) || len != el->len || memcmp(buf, el->p, len) != 0) abort();
            }
        }
    }
}

/* Cursor-only check of a run of elements; 1 when all of it is DER. */
static int check(struct der d, int depth) {
    while (d.len > 0) {
        unsigned tag;
        struct der in, el, before = d;
        if (!der_get_any(&d, &tag, &in, &el)) {
            same_cursor(&d, &before);
            return 0;
        }
        if ((tag & DER_CONSTRUCTED) && depth < CHECK_MAX_DEPTH && !check(in, depth + 1)) return 0;
    }
    return 1;
}

/* Reads the run of elements d and writes each again into b. Returns 1 when
 * all of d is DER (then b holds the same bytes), 0 at the first refusal. */
static int walk(struct der d, struct derb *b, int depth) {
    while (d.len > 0) {
        unsigned tag;
        struct der in, el, before = d;
        if (!der_get_any(&d, &tag, &in, &el)) {
            same_cursor(&d, &before);
            return 0;
        }
        /* The views: the element is where the cursor was, the contents end
         * where it ends, and the cursor moved past it. */
        if (el.p != before.p || in.p + in.len != el.p + el.len || d.p != el.p + el.len ||
            d.len != before.len - el.len || in.len >= el.len)
            abort();
        /* The identifier octet: low tag number, not [UNIVERSAL 0]. */
        if ((tag & 0x1fu) == 0x1fu || (tag & ~DER_CONSTRUCTED) == 0 || tag > 0xffu) abort();
        typed(tag, &el, &in);
        if ((tag & DER_CONSTRUCTED) && b->depth < DER_MAX_DEPTH) {
            derb_open(b, tag);
            if (!walk(in, b, depth + 1)) return 0;
            derb_close(b);
        } else {
            if ((tag & DER_CONSTRUCTED) && !check(in, depth + 1)) return 0;
            derb_add(b, tag, in.p, in.len);
        }
        if (b->err) abort(); /* never larger than what was read */
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *out = malloc(size ? size : 1);
    if (out == NULL) return 0;
    struct der d;
    struct derb b;
    der_init(&d, data, size);
    derb_init(&b, out, size);
    if (walk(d, &b, 0)) {
        size_t len;
        if (!derb_finish(&b, &len) || len != size || (size > 0 && memcmp(out, data, size) != 0)) abort();
    }
    free(out);
    return 0;
}
