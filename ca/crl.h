/* crl (ca side): each CA's CRLs, built from the revocation index and signed
 * with the CA's key (which stays in ca/): the end-entity partitions (their
 * URL is the CDP of their certificates, byte for byte: key 'p'), the
 * CA-scope CRL (onlyContainsCACerts, always published), the CRLs of
 * imported CDPs, or the one complete CRL of a --complete-crl CA. The DER is
 * encoded by crl/build.
 *
 * Thread: the CA-core thread (numbers are written to the index). */
#ifndef REVD_CA_CRL_H
#define REVD_CA_CRL_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

#define CA_CRL_VALIDITY_DEFAULT_S (7 * 86400)

/* One CRL of a CA: where it is published. */
struct ca_crl_ref {
    uint32_t part;  /* the partition (URLS_PART_CA: CA scope; >= URLS_PART_EXTERNAL: an imported CDP) */
    char url[256];  /* its URL: the IDP URI and the certificates' CDP */
    char file[320]; /* its file under DIR/crl/, relative ("NAME/3.crl") */
    char path[336]; /* the HTTP path the shards serve it at ("/crl/NAME/3.crl") */
};

/* ca_crl_list gives every CRL of CA ca (*out malloc'd, caller frees): the
 * CA-scope CRL first, then the partitions in order. Returns 1 or 0 with e. */
int ca_crl_list(struct ca_core *c, const char *ca, struct ca_crl_ref **out, size_t *n, struct rerr *e);

struct ca_crl {
    struct ca_crl_ref ref;
    uint64_t number;
    int64_t this_update, next_update;
    size_t entries;
    uint8_t *der; /* malloc'd */
    size_t der_len;
    double build_seconds; /* reading the index, encoding, signing, checking */
};

/* ca_crl_build builds the CRL of ref (from ca_crl_list): the revoked
 * certificates of that partition that have not expired by now, thisUpdate
 * now, nextUpdate now + validity, the next CRL number. Before it returns,
 * the CRL's signature is checked against the CA certificate, its number is
 * checked to be higher and its thisUpdate not earlier than the last one's,
 * and the number is stored (WAL synced: it never repeats). On failure
 * nothing is stored. Returns 1 (free out->der), or 0 with e set. */
int ca_crl_build(struct ca_core *c, const char *ca, const struct ca_crl_ref *ref, int64_t validity,
                 struct ca_crl *out, struct rerr *e);

/* ca_crl_write_file publishes crl->der as DIR/crl/<ref.file> (temporary
 * file, fsync, rename: a reader never sees half of it). */
int ca_crl_write_file(struct ca_core *c, const struct ca_crl *crl, struct rerr *e);

/* ca_crl_load_file reads back the CRL of ref published under DIR/crl/ (at
 * a restart, so as not to sign every CRL again): it must parse, verify
 * against the CA certificate and carry the last number stored. Returns 1
 * with out filled (free out->der), 0 when there is none or it does not
 * qualify (e says why), -1 on an I/O error. */
int ca_crl_load_file(struct ca_core *c, const char *ca, const struct ca_crl_ref *ref, struct ca_crl *out,
                     struct rerr *e);

/* ca_crl_last: the number and thisUpdate of the last CRL built for ref;
 * 0 when none was. */
int ca_crl_last(struct ca_core *c, const char *ca, const struct ca_crl_ref *ref, uint64_t *number,
                int64_t *this_update, struct rerr *e);

#endif
