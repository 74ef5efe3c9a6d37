/* file: a signed CRL (struct crl) and its published file,
 * DIR/crl/<ref.file>: written whole (temporary file, fsync, rename: a
 * reader never sees half of one) and read back at a restart, so as not to
 * sign every CRL again, when it is still the last one made.
 *
 * Thread: the thread that owns the ca_core, unless said otherwise. */
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

/* crl_file_store is crl_file_write without the audit record of a failure
 * (crl_file_unpublished writes it, on the thread that owns the core): dir
 * is ca_core_dir's. Any thread. Returns 1, or 0 with e set. */
int crl_file_store(const char *dir, const struct crl *crl, struct rerr *e);
void crl_file_unpublished(struct ca_core *c, const struct crl *crl, const struct rerr *e);

/* crl_file_load reads back the CRL of ref of CA ca published under
 * DIR/crl/ when it is still the last one built: what ca/ recorded says so
 * first (a number, and built from the partition as it is now: no file is
 * read otherwise), then the file must carry that number and thisUpdate
 * (read from its head, its entries framed but not decoded: a restart does
 * not parse every published CRL) and verify against the CA certificate.
 * Returns 1 with out filled (free out->der), 0 when there is none or it
 * does not qualify (e says why), -1 when there is no such CA. May run on
 * crl/'s pool threads while the owner of the core waits (ca/view.h). */
int crl_file_load(struct ca_core *c, const char *ca, const struct crl_ref *ref, struct crl *out, struct rerr *e);

/* crl_file_number reads the cRLNumber and thisUpdate of the file published
 * for ref, if there is one whose head reads with a positive number (it is
 * not verified: a restored index goes on from it, never back). 1 when
 * found. Any thread. */
int crl_file_number(struct ca_core *c, const struct crl_ref *ref, uint64_t *number, int64_t *this_update);

#endif
