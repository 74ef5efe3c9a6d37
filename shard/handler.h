/* handler: what a registered route's handler (shard/route.h) may do with
 * the connection it answers. It writes its answer in place, into the
 * connection's output (shard_out, then shard_emit: no copy), or a status
 * alone (shard_status); it may send a large body from where it lives after
 * the head (shard_body_ref); it may hand the request to another thread and
 * answer later (shard_wait, then shard_resume on the shard's thread).
 *
 * A handler answers one request with one answer at most, in at most
 * SHARD_ANSWER_MAX octets of output (the room the shard guarantees before
 * it calls the handler). Every status it emits is counted in /metrics under
 * its route's kind.
 *
 * Threads: all of it on the connection's shard's thread. */
#ifndef REVD_SHARD_HANDLER_H
#define REVD_SHARD_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "shard/metrics.h"

struct shard_conn;

/* The output room an answer may take, head and body (a CA certificate or
 * an OCSP response). */
#define SHARD_ANSWER_MAX (16 * 1024)

/* shard_out: where the answer goes (the connection's output after what is
 * queued); *out_cap: the room there. */
uint8_t *shard_out(struct shard_conn *c, size_t *out_cap);

/* shard_emit accounts for an answer of n octets written at shard_out (an
 * httpout_* writer's return, with the status line first: it is counted by
 * that status). n 0 (it did not fit): the client gets a 500 and the
 * connection closes, so pipelined answers never fall out of step. */
void shard_emit(struct shard_conn *c, size_t n);

/* shard_status answers status with no body (uncached). */
void shard_status(struct shard_conn *c, int status, int keep_alive);

/* shard_body_ref: after the head just emitted, body[0..len) is sent from
 * where it lives; put(ref) is called once it is sent or the connection
 * closes (ref is the caller's reference that keeps body alive). Nothing
 * more is answered on the connection meanwhile. */
void shard_body_ref(struct shard_conn *c, const uint8_t *body, size_t len, void (*put)(void *ref), void *ref);

/* shard_slot: the pointer published in slot (server_publish), valid until
 * this shard's next tick: never kept past the handler's return. */
const void *shard_slot(const struct shard_conn *c, int slot);

/* shard_metrics_of: the shard's own counters (metrics_add on them). */
struct shard_metrics *shard_metrics_of(struct shard_conn *c);

/* shard_count_bad counts a malformed request (the shard's bad_requests). */
void shard_count_bad(struct shard_conn *c);

/* shard_max_age: the Cache-Control cap in seconds (--max-age, reloadable). */
int64_t shard_max_age(const struct shard_conn *c);

/* shard_index: the connection's shard (0..num_shards). */
int shard_index(const struct shard_conn *c);

/* shard_wait: the handler answers later: no more is read or answered on c
 * until then. Returns the connection's number, for shard_resume. A
 * connection closed meanwhile is not reused under the same number. */
uint64_t shard_wait(struct shard_conn *c);

/* shard_resume: on c's shard's thread, the connection waited on (c and id
 * from shard_wait), or NULL when it closed meanwhile. Not NULL: answer it,
 * then call shard_resumed. */
struct shard_conn *shard_resume(void *c, uint64_t id);

/* shard_resumed: the answer to the waited request is emitted; the
 * connection closes after it unless keep_alive, and goes on. */
void shard_resumed(struct shard_conn *c, int keep_alive);

#endif
