/* partition: which CRLs a CA publishes, and where. The end-entity
 * partitions (their URL is the CDP of their certificates, byte for byte:
 * ca/ binds it at issuance and crl/ reads it through ca/view.h), the
 * CA-scope CRL (onlyContainsCACerts, always published), the CRLs of
 * imported CDPs, or the one complete CRL of a --complete-crl CA. Each gets
 * a file under DIR/crl/ and the HTTP path the shards serve it at, derived
 * here from its URL.
 *
 * Returns 1, or 0 with e set. Thread: the thread that owns the ca_core. */
#ifndef REVD_CRL_PARTITION_H
#define REVD_CRL_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"
#include "common/urls.h"

/* One CRL of a CA: where it is published. */
struct crl_ref {
    uint32_t part;  /* the partition (URLS_PART_CA: CA scope; >= URLS_PART_EXTERNAL: an imported CDP) */
    char url[URLS_MAX];  /* its URL: the IDP URI and the certificates' CDP */
    char file[320]; /* its file under DIR/crl/, relative ("NAME/3.crl") */
    char path[336]; /* the HTTP path the shards serve it at ("/crl/NAME/3.crl") */
};

/* crl_partition_list gives every CRL of CA ca (*out malloc'd, caller
 * frees; *n of them): the CA-scope CRL first, then the partitions in
 * order. */
int crl_partition_list(struct ca_core *c, const char *ca, struct crl_ref **out, size_t *n, struct rerr *e);

#endif
