/* oplog: the operations log ('o' records, JSON), hash-chained (each record
 * carries its predecessor's SHA-256; ca/audit.c verifies the chain), with
 * its head ('m' "audit_head") written with every record. A record's event
 * (ca/events.c) is queued when it is encoded and written once the record
 * is durable (oplog_commit). On disk: the JSON and the chain must not
 * change. CA-core thread. */
#ifndef REVD_CA_OPLOG_H
#define REVD_CA_OPLOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ca/core.h"
#include "ca/store.h"

#define AUDIT_HEAD_LEN 40

/* oplog_add adds an operations-log record to b: time, op, CA, serial (may
 * be NULL), params (a JSON object it takes ownership of, may be NULL) and
 * result ("ok" or the error). */
void oplog_add(struct ca_core *c, struct store_batch *b, const char *op, const char *ca,
               const uint8_t *serial, size_t slen, json_t *params, const char *result);

/* oplog_encode is oplog_add's record: it fills key and returns the
 * malloc'd JSON value (takes params; never NULL: aborts when out of
 * memory even for the short form). */
char *oplog_encode(struct ca_core *c, uint8_t key[9], const char *op, const char *ca,
                   const uint8_t *serial, size_t slen, json_t *params, const char *result);

/* oplog_rollback forgets the records given out since the last successful
 * write (it failed); oplog_written makes them the durable ones. Both do
 * the same for the change log's records (ca/chlog.h), which ride in the
 * same batches. oplog_head
 * fills the 'm' "audit_head" key and value for the last record given out;
 * returns the key length. */
void oplog_rollback(struct ca_core *c);
void oplog_written(struct ca_core *c);
size_t oplog_head(const struct ca_core *c, uint8_t key[16], uint8_t val[AUDIT_HEAD_LEN]);

/* oplog_commit writes b synced. On failure the log sequence numbers it gave
 * out are taken back, so the log stays gap-free. Returns 1, or 0 with e set. */
int oplog_commit(struct ca_core *c, struct store_batch *b, struct rerr *e);

/* oplog_failure writes a failed operation's record on its own. */
void oplog_failure(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial,
                   size_t slen, json_t *params, const struct rerr *why);

/* oplog_load finds where the log stands in c's index (its last record and
 * head) when a core is opened. Returns 1, or 0 with e set. */
int oplog_load(struct ca_core *c, struct rerr *e);

#endif
