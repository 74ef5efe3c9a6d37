/* order: ACME orders, authorizations, challenges and certificates
 * (acme/order.c). The resources answer k; acme_validated and
 * acme_issue_pending are the work acme_drain does, acme_resume what
 * acme_new takes up. CA-core thread. */
#ifndef REVD_ACME_ORDER_H
#define REVD_ACME_ORDER_H

#include "acme/call.h"

void acme_new_order(struct acme_call *k);
void acme_order(struct acme_call *k, const char *id);
void acme_finalize(struct acme_call *k, const char *id);
void acme_authz(struct acme_call *k, const char *id);
void acme_challenge(struct acme_call *k, const char *authz, const char *type);
void acme_cert(struct acme_call *k, const char *serial);

void acme_validated(struct acme *a, const struct acme_vjob *j);
void acme_issue_pending(struct acme *a);
/* acme_resume: 1, or 0 with e set. */
int acme_resume(struct acme *a, struct rerr *e);

#endif
