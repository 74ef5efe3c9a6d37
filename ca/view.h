/* view: the read-only way into the revocation index for the pipelines
 * (ocsp/, crl/). ca/ is the index's only writer and the only holder of
 * keys; everything else reads certificate records, a partition's revoked
 * range and the stored responses through the functions here, never
 * through ca/internal.h.
 *
 * Thread: as each function says. */
#ifndef REVD_CA_VIEW_H
#define REVD_CA_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

/* ---- certificate records and stored responses (ocsp/) ---- */

/* ---- partitions and their revoked ranges (crl/) ---- */

#endif
