/* archive (crl_archive_*): every CRL a CA signs, kept for auditors in an append-only
 * file per CA, DIR/crl-archive/NAME.log: records of a fixed header and the
 * CRL's DER as one zstd frame. A record is appended (and fsynced) before
 * the CRL is published, so a published CRL is always in the archive.
 *
 *   record: "RCRL" | u32 partition | u64 number | i64 thisUpdate |
 *           u32 DER length | u32 compressed length | zstd frame
 *   (integers big-endian)
 *
 * Thread: the CA-core thread appends (crl_archive_pack: any thread);
 * readers (revd crl history) parse the file under caps as untrusted
 * input. */
#ifndef REVD_CRL_ARCHIVE_H
#define REVD_CRL_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define CRL_ARCHIVE_MAX_DER (16u << 20)

/* crl_archive_append adds der (the CRL of partition part, its number and
 * thisUpdate) to DIR/crl-archive/<ca>.log. Returns 1, or 0 with e set. */
int crl_archive_append(const char *dir, const char *ca, uint32_t part, uint64_t number, int64_t this_update,
                      const uint8_t *der, size_t len, struct rerr *e);

/* crl_archive_pack encodes the record of der (the CRL of partition part,
 * its number and thisUpdate), compressed: *out malloc'd (caller frees),
 * *out_len. Any thread. Returns 1, or 0 with e set. */
int crl_archive_pack(uint32_t part, uint64_t number, int64_t this_update, const uint8_t *der, size_t len,
                     uint8_t **out, size_t *out_len, struct rerr *e);

/* crl_archive_write appends the packed records recs[0..n) (lens[i] octets
 * each) to CA ca's archive, in that order, with one fsync. Returns 1, or 0
 * with e set (then a part of them may be there: a damaged tail, which
 * crl_archive_each reports). */
int crl_archive_write(const char *dir, const char *ca, const uint8_t *const *recs, const size_t *lens, size_t n,
                      struct rerr *e);

struct crl_archive_rec {
    uint32_t part;
    uint64_t number;
    int64_t this_update;
    size_t der_len, comp_len;
    uint64_t offset; /* of the record in the file */
};

/* crl_archive_each calls cb for every record of CA ca, in the order they
 * were written; with want_der, der (malloc'd by the archive, valid during
 * the call) holds the decompressed CRL. cb returns 1 to go on. A damaged
 * or truncated record ends the walk with an error naming its offset.
 * Returns 1 (also for no archive yet), or 0 with e set. */
int crl_archive_each(const char *dir, const char *ca, int want_der,
                    int (*cb)(void *arg, const struct crl_archive_rec *r, const uint8_t *der), void *arg,
                    struct rerr *e);

#endif
