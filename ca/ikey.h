/* ikey: the index's key layout, one builder per kind of key. All integers
 * big-endian (common/bytes.h), so that byte order is numeric order; a
 * serial is its minimal positive INTEGER content octets, and the length
 * byte in front makes byte order equal numeric order. On disk: these bytes
 * must never change.
 *
 *   'a' name                          -> CA record (JSON, ca/carec.c)
 *   'x' ca_id:4 slen:1 serial         -> certificate record (binary, ca/crec.h)
 *   'r' ca_id:4 part:4 slen:1 serial  -> revocation entry (revoked certificates
 *                                        only: a CRL rebuild reads one range)
 *   'p' ca_id:4 part:4                -> the partition's CDP URI, byte for byte
 *   'u' ca_id:4 uri                   -> part:4 (imported CDPs)
 *   'i' ca_id:4 key                   -> idempotency: sha256(request):32 serial
 *   'o' seq:8                         -> operations-log record (JSON, ca/oplog.c)
 *   'R' ca_id:4                       -> the CA's OCSP responder certificate (DER)
 *   's' ca_id:4 slen:1 serial         -> the certificate's signed OCSP responses
 *   'C' name                          -> admin API credential (JSON, ca/cred.c)
 *   'd' ca_id:4 part:4                -> u64: a number that grows with every change
 *                                        to the partition's revocation entries,
 *                                        written with them (a CRL records the
 *                                        one it was built from: ikey_part_change)
 *   'c' seq:8                         -> change record: ca_id:4 kind:1 slen:1
 *                                        serial, written with the change
 *                                        (ca/chlog.h)
 *   'm' "next_ca_id"                  -> u32
 *   'm' "audit_head"                  -> seq:8 sha256:32 of the last 'o' record,
 *                                        written with it (ca/oplog.c)
 *
 * The builders write into out (KEY_MAX bytes) and return the key's length;
 * the caller guarantees slen <= HEX_SERIAL_MAX + 1. Pure, any thread, but
 * ikey_part_change_get (the CA-core thread: it reads the index). */
#ifndef REVD_CA_IKEY_H
#define REVD_CA_IKEY_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define K_CA 'a'
#define K_CERT 'x'
#define K_REVOKED 'r'
#define K_PART 'p'
#define K_EXTCDP 'u'
#define K_IDEM 'i'
#define K_OPLOG 'o'
#define K_META 'm'
#define K_RESPONDER 'R'
#define K_RESP 's'
#define K_PART_CHANGE 'd'
#define K_CHANGE 'c'

/* The largest key: 'r' + 4 + 4 + 1 + 21. */
#define KEY_MAX 64

struct ca_core;

size_t ikey_cert(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen);
size_t ikey_revoked(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part, const uint8_t *serial,
                    size_t slen);
size_t ikey_part(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part);
/* ikey_part_change: the partition's change number ('d'). */
size_t ikey_part_change(uint8_t out[KEY_MAX], uint32_t ca_id, uint32_t part);
/* ikey_resp: the signed OCSP responses of a certificate (ca/responder.c). */
size_t ikey_resp(uint8_t out[KEY_MAX], uint32_t ca_id, const uint8_t *serial, size_t slen);

/* ikey_part_change_get reads the partition's change number into *out (0:
 * never changed since this key exists). Returns 1, or 0 with e set (the
 * index could not be read). */
int ikey_part_change_get(struct ca_core *c, uint32_t ca_id, uint32_t part, uint64_t *out, struct rerr *e);

#endif
