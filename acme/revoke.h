/* revoke: revoke-cert (acme/revoke.c). CA-core thread. */
#ifndef REVD_ACME_REVOKE_H
#define REVD_ACME_REVOKE_H

#include "acme/call.h"

void acme_revoke(struct acme_call *k);

#endif
