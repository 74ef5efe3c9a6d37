/* handler: GET/HEAD /crl/..., the CRLs the shards serve (crl/set.h), a
 * handler registered with the shards (shard/route.h). It reads the CRL set
 * the serving process publishes in its slot (server_publish), answers 304
 * to a matching If-None-Match or If-Modified-Since, and otherwise writes
 * the head and sends the body from the blob itself, holding a reference
 * until it is sent (a slow client never keeps a set alive, only its blob).
 *
 * Threads: crl_handler_register and crl_handler_free_set on the serving
 * process's main thread; the handler on the shards'. */
#ifndef REVD_CRL_HANDLER_H
#define REVD_CRL_HANDLER_H

#include "shard/config.h"

/* crl_handler_register adds GET/HEAD /crl/ to cfg, answering from the set
 * published in slot (0..SERVER_SLOTS). Returns 1, or 0 when cfg has no
 * room. */
int crl_handler_register(struct server_config *cfg, int slot);

/* crl_handler_free_set drops a published set's reference (server_publish's
 * free function for the slot; accepts NULL). */
void crl_handler_free_set(void *set);

/* crl_handler_stale: requests answered 503 because the CRL was past its
 * nextUpdate, since start (every shard). Any thread. */
uint64_t crl_handler_stale(void);

#endif
