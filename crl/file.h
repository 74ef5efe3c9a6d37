/* file: a signed CRL (struct crl) and its published file,
 * DIR/crl/<ref.file>: written whole (temporary file, fsync, rename: a
 * reader never sees half of one) and read back at a restart, so as not to
 * sign every CRL again, when it is still the last one made.
 *
 * Thread: the thread that owns the ca_core. */
#ifndef REVD_CRL_FILE_H
#define REVD_CRL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"
#include "crl/partition.h"

/* A signed CRL: which, its number and times, its DER. */
struct crl {
    struct crl_ref ref;
    uint64_t number;
    int64_t this_update, next_update;
    size_t entries;
    uint8_t *der; /* malloc'd: the holder frees it */
    size_t der_len;
    double build_seconds; /* reading the index, encoding, signing, checking (crl_make) */
};

/* crl_file_write publishes crl->der as DIR/crl/<crl->ref.file>. Returns 1,
 * or 0 with e set (and the audit log says the signed CRL is not published). */
int crl_file_write(struct ca_core *c, const struct crl *crl, struct rerr *e);

/* crl_file_load reads back the CRL of ref of CA ca published under
 * DIR/crl/: it must parse, verify against the CA certificate, carry the
 * last number and thisUpdate stored, and be built from the partition as it
 * is now. Returns 1 with out filled (free out->der), 0 when there is none
 * or it does not qualify (e says why), -1 when there is no such CA. */
int crl_file_load(struct ca_core *c, const char *ca, const struct crl_ref *ref, struct crl *out, struct rerr *e);

/* crl_file_number reads the cRLNumber and thisUpdate of the file published
 * for ref, if there is one that parses with a positive number (it is not
 * verified: a restored index goes on from it, never back). 1 when found. */
int crl_file_number(struct ca_core *c, const struct crl_ref *ref, uint64_t *number, int64_t *this_update);

#endif
