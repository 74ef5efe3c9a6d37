/* table: one CA's precomputed OCSP responses, frozen for reading.
 *
 * Built on a signing thread (ocsp_table_builder_*), then published read-only
 * to every shard (shared immutable data, swapped whole as a new generation:
 * STYLE "Memory and threads"). Lookups take a serial (INTEGER content
 * octets) and a CertID hash and return a view of the signed response DER:
 * no lock, no allocation, no copy.
 *
 * Layout: arenas hold the responses (and their ETags) back to back; an
 * open-addressed index of 16-byte slots (serial fingerprint, arena and
 * offset) at most half full. A built table has one arena; a merge shares
 * the arenas of both sides and makes only an index of its own, so folding
 * an overlay into a base of 10^6 certificates copies the index (32 MB),
 * not the responses (a gigabyte). The records a merge replaced stay, dead,
 * in their shared arena until a merge finds them past half of the live
 * bytes (or 256 arenas), and then copies what is live into one arena.
 * Memory per certificate: its responses (about 450 octets each with an
 * ECDSA responder, the responder certificate included) + 32 octets of
 * index, + up to half again while dead records wait. */
#ifndef REVD_OCSP_TABLE_H
#define REVD_OCSP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"
#include "ocsp/request.h"

/* The CertID hashes each certificate has a response for. */
#define OCSP_TABLE_HASHES 2 /* SHA-1, SHA-256 */

struct ocsp_table;
struct ocsp_table_builder;

/* ocsp_table_builder_new starts a table expecting about num entries (a
 * hint). Returns NULL on out of memory. */
struct ocsp_table_builder *ocsp_table_builder_new(size_t num);

/* ocsp_table_builder_add adds the responses of one serial: der[h] for
 * OCSP_HASH_SHA1 (h = 0) and OCSP_HASH_SHA256 (h = 1). A serial added twice
 * replaces nothing: the second add fails. Returns 1, or 0 with e set. */
int ocsp_table_builder_add(struct ocsp_table_builder *b, const uint8_t *serial, size_t serial_len,
                           const uint8_t *const der[OCSP_TABLE_HASHES],
                           const size_t der_len[OCSP_TABLE_HASHES], struct rerr *e);

/* ocsp_table_builder_set_times gives the thisUpdate and nextUpdate of the
 * responses added from now on (for the HTTP caching headers). */
void ocsp_table_builder_set_times(struct ocsp_table_builder *b, int64_t this_update, int64_t next_update);

/* ocsp_table_builder_finish freezes the table (and frees b). NULL on out of
 * memory. */
struct ocsp_table *ocsp_table_builder_finish(struct ocsp_table_builder *b);
void ocsp_table_builder_free(struct ocsp_table_builder *b);

/* ocsp_table_find returns 1 with a view of the response for serial and
 * hash h (SHA-1 or SHA-256), 0 when the table has none. Any thread. */
int ocsp_table_find(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len, enum ocsp_hash h,
                    const uint8_t **out, size_t *out_len);

/* ocsp_table_find_etag is ocsp_table_find that also gives the response's
 * ETag: the hex SHA-256 of its DER (64 characters, NUL-terminated), computed
 * once when it was added. */
int ocsp_table_find_etag(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len,
                         enum ocsp_hash h, const uint8_t **out, size_t *out_len, const char **etag);

/* ocsp_table_times gives the thisUpdate and nextUpdate of serial's
 * responses. Returns 1, or 0 when the table has none. */
int ocsp_table_times(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len, int64_t *this_update,
                     int64_t *next_update);

/* ocsp_table_next walks the entries in arena order (within an arena, the
 * order added), each serial once (dead records skipped): *pos starts at 0.
 * Returns 1 with a view of the serial and its times, 0 past the last. */
int ocsp_table_next(const struct ocsp_table *t, size_t *pos, const uint8_t **serial, size_t *serial_len,
                    int64_t *this_update, int64_t *next_update);

/* ocsp_refresh_at is when the response of serial signed for
 * [this_update, next_update) is re-signed: at half its validity, earlier by
 * a jitter of up to an eighth of it drawn from the serial and this_update,
 * so that responses signed together are not all refreshed (nor all expire
 * from caches) together. Pure; the shards use it for Cache-Control. */
int64_t ocsp_refresh_at(const uint8_t *serial, size_t serial_len, int64_t this_update, int64_t next_update);

/* ocsp_table_has: whether the table holds serial. */
int ocsp_table_has(const struct ocsp_table *t, const uint8_t *serial, size_t serial_len);

/* ocsp_table_merge builds a new table of every entry of over and every entry
 * of base whose serial over does not hold (over wins): no signing, and no
 * bytes copied while the dead records stay under the bound above (the
 * arenas are shared; each table keeps its own references). NULL on out of
 * memory. Either may be NULL. */
struct ocsp_table *ocsp_table_merge(const struct ocsp_table *base, const struct ocsp_table *over);

/* ocsp_table_subtract builds a new table of the entries of t that gone does
 * not hold with the same responses (an overlay less what a store now
 * holds: ocsp/remerge.h). NULL on out of memory. gone may be NULL. */
struct ocsp_table *ocsp_table_subtract(const struct ocsp_table *t, const struct ocsp_table *gone);

/* ocsp_table_ref takes another reference (generations share tables);
 * ocsp_table_free drops one and frees the table with the last. One thread
 * (the CA-core thread) manages a table's references; the arenas' (shared
 * between tables by merges) are atomic. */
struct ocsp_table *ocsp_table_ref(struct ocsp_table *t);

size_t ocsp_table_count(const struct ocsp_table *t);
/* ocsp_table_bytes: memory the table holds (arena + index). */
size_t ocsp_table_bytes(const struct ocsp_table *t);
void ocsp_table_free(struct ocsp_table *t);

#endif
