/* account: ACME accounts (acme/account.c). Each answers k. CA-core thread. */
#ifndef REVD_ACME_ACCOUNT_H
#define REVD_ACME_ACCOUNT_H

#include "acme/call.h"

void acme_new_account(struct acme_call *k);
void acme_account(struct acme_call *k, const char *id, int orders);
void acme_key_change(struct acme_call *k);

#endif
