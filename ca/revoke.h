/* revoke: revocation, hold and release (ca_revoke and the rest in
 * ca/ca.h); and the check a new issuance makes of its CA's chain.
 * CA-core thread. */
#ifndef REVD_CA_REVOKE_H
#define REVD_CA_REVOKE_H

#include "ca/core.h"

/* revoke_chain_unrevoked: 1 when no certificate on the path from ca up to
 * the top of DIR is revoked or on hold at its parent; else 0 with e set. */
int revoke_chain_unrevoked(struct ca_core *c, const struct ca *ca, struct rerr *e);

#endif
