/* events: the events an operations-log record makes (ca/oplog.c queues
 * them when a record is encoded, and has them written once it is durable).
 * The public half (ca_event, ca_events_*) is in ca/ca.h. CA-core thread. */
#ifndef REVD_CA_EVENTS_H
#define REVD_CA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ca/core.h"

/* events_pending queues the event an operations-log record (just encoded,
 * so c->oplog_seq is its seq) makes, if any (params borrowed); events_flush
 * writes the queue when durable, and empties it either way. */
void events_pending(struct ca_core *c, const char *op, const char *ca, const uint8_t *serial, size_t slen,
                    json_t *params);
void events_flush(struct ca_core *c, int durable);

#endif
