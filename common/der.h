/* der: strict DER, read through a cursor that never reads past its length,
 * and written through a builder with nested lengths and a sticky error
 * (after BoringSSL's CBS/CBB). Pure; any thread; no allocation in the
 * cursor. Used for hostile input (OCSP requests) and for the responses and
 * CRLs revd builds itself.
 *
 * Tags are the identifier octet (class | constructed | number), low tag
 * numbers only (0..30): DER_SEQUENCE is 0x30, [0] EXPLICIT is
 * DER_CONTEXT(0) | DER_CONSTRUCTED = 0xa0. */
#ifndef REVD_COMMON_DER_H
#define REVD_COMMON_DER_H

#include <stddef.h>
#include <stdint.h>

#define DER_BOOLEAN 0x01u
#define DER_INTEGER 0x02u
#define DER_BIT_STRING 0x03u
#define DER_OCTET_STRING 0x04u
#define DER_NULL 0x05u
#define DER_OID 0x06u
#define DER_ENUMERATED 0x0au
#define DER_UTCTIME 0x17u
#define DER_GENERALIZEDTIME 0x18u
#define DER_SEQUENCE 0x30u
#define DER_SET 0x31u
#define DER_CONSTRUCTED 0x20u
#define DER_CONTEXT(n) (0x80u | (unsigned)(n))

/* ---- reading ---- */

/* A view of bytes still to be read: p[0..len). */
struct der {
    const uint8_t *p;
    size_t len;
};

void der_init(struct der *d, const uint8_t *p, size_t len);

/* der_get reads one element whose identifier octet is tag; *out views its
 * contents. Strict DER: a low-number tag; a definite length in minimal form
 * (short form below 128, no leading zero octet, at most 4 length octets);
 * the element fits in what is left. Returns 1, or 0 (d unchanged). */
int der_get(struct der *d, unsigned tag, struct der *out);

/* der_get_any reads one element of any low-number tag: *out_tag, *out
 * (contents) and *out_element (the whole element, identifier and length
 * included); any output may be NULL. Returns 1 or 0 (d unchanged). */
int der_get_any(struct der *d, unsigned *out_tag, struct der *out, struct der *out_element);

/* der_peek: 1 when the next element's identifier octet is tag. */
int der_peek(const struct der *d, unsigned tag);

/* der_get_optional reads the element if the next one has tag: *present
 * says whether it was there. Returns 0 only for a malformed element. */
int der_get_optional(struct der *d, unsigned tag, int *present, struct der *out);

/* der_get_integer reads an INTEGER and checks it is minimally encoded (no
 * superfluous leading 0x00 or 0xff octet, at least one octet). *out views
 * its content octets (two's complement). Returns 1 or 0. */
int der_get_integer(struct der *d, struct der *out);

/* der_get_small_uint reads a non-negative INTEGER (or, with tag
 * DER_ENUMERATED, an ENUMERATED) that fits in 32 bits. Returns 1 or 0. */
int der_get_small_uint(struct der *d, unsigned tag, uint32_t *out);

/* der_get_bool reads a DER BOOLEAN (0x00 or 0xff only). Returns 1 or 0. */
int der_get_bool(struct der *d, int *out);

/* der_oid_eq: the contents in o are the OID whose content octets are
 * oid[0..oid_len). */
int der_oid_eq(const struct der *o, const uint8_t *oid, size_t oid_len);

/* ---- writing ---- */

#define DER_MAX_DEPTH 16

/* A builder over a caller's buffer (fixed: no allocation). Every call
 * after an error does nothing; der_finish reports it. */
struct derb {
    uint8_t *buf;
    size_t cap, len;
    int err;
    int depth;
    size_t open[DER_MAX_DEPTH]; /* offset of each open element's identifier octet */
};

void derb_init(struct derb *b, uint8_t *buf, size_t cap);

/* derb_open starts a constructed (or any) element with tag; its length is
 * written by the matching derb_close, which moves the contents up when the
 * length needs more than one octet. */
void derb_open(struct derb *b, unsigned tag);
void derb_close(struct derb *b);

/* derb_add writes a whole element: tag, length, contents p[0..len). */
void derb_add(struct derb *b, unsigned tag, const uint8_t *p, size_t len);

/* derb_raw appends bytes as they are (a pre-encoded element). */
void derb_raw(struct derb *b, const uint8_t *p, size_t len);

/* derb_add_uint writes a non-negative INTEGER (or ENUMERATED with that
 * tag), minimally encoded. */
void derb_add_uint(struct derb *b, unsigned tag, uint64_t v);

/* derb_add_gentime writes a GeneralizedTime "YYYYMMDDHHMMSSZ" of Unix time
 * t (years 0..9999). */
void derb_add_gentime(struct derb *b, int64_t t);

/* derb_finish: 1 when every element was closed and nothing overflowed,
 * with *out_len the bytes written; else 0. */
int derb_finish(struct derb *b, size_t *out_len);

#endif
