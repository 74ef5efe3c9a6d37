/* store: the ACME server's objects (accounts, orders, authorizations, EAB
 * keys, certificates) as JSON objects in the index, through the CA core's
 * front-end records (ca/ca.h ca_rec_*, namespace "acme"). Keys are
 * "KIND/ID". A transaction gathers puts and deletes and commits them in one
 * atomic, synced write with its audit-log record: an order and its
 * authorizations change together or not at all.
 *
 * Ownership: acme_load returns a new reference; a transaction copies what
 * it is given. Thread: the CA-core thread. Returns: 1/0 unless said. */
#ifndef REVD_ACME_STORE_H
#define REVD_ACME_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "common/rerr.h"

struct ca_core;

/* An object id: 16 random octets, base64url (22 characters). */
#define ACME_ID_LEN 22
void acme_new_id(char out[ACME_ID_LEN + 1]);

/* acme_load reads KIND/ID. A JSON object, or NULL: absent (e->msg "") or
 * the index failed or held something that is not an object (e->msg set). */
json_t *acme_load(struct ca_core *c, const char *kind, const char *id, struct rerr *e);

/* acme_scan calls cb for each object whose key starts with KIND/PREFIX,
 * until cb returns 0 (cb's obj is borrowed). */
int acme_scan(struct ca_core *c, const char *kind, const char *prefix,
              int (*cb)(void *arg, const char *id, json_t *obj), void *arg, struct rerr *e);

struct acme_txn {
    struct ca_rec_put *puts;
    char **bufs; /* what puts point at: keys and values, freed at the end */
    size_t n, cap, nbufs;
    int failed;  /* out of memory on the way: the commit fails */
};

void acme_txn_init(struct acme_txn *t);
void acme_txn_put(struct acme_txn *t, const char *kind, const char *id, const json_t *obj);
void acme_txn_del(struct acme_txn *t, const char *kind, const char *id);
/* acme_txn_commit writes it all with the audit record op (ca may be NULL,
 * params taken, may be NULL) and frees the transaction's buffers, whatever
 * the outcome. */
int acme_txn_commit(struct ca_core *c, struct acme_txn *t, const char *op, const char *ca, json_t *params,
                    struct rerr *e);
void acme_txn_abort(struct acme_txn *t);

#endif
