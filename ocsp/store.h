/* store: one CA's signed OCSP responses in a file, for a CA too large to
 * hold in memory (issue 15). Memory keeps a sparse index (24 octets per run
 * of about 4 KiB of records: a few octets per certificate) and the CA's
 * common response suffix; a lookup is one read of one run.
 *
 * File (DIR/ocsp/<ca id>.store, written whole under a temporary name,
 * synced and renamed: common/fsutil.h; a reader sees an old file or a new
 * one, never a part), big-endian:
 *   runs      u32 payload length, u32 CRC-32C of the payload, payload:
 *             records in the index's serial order (length, then octets)
 *   suffix    the responder's certificates block ([0] { SEQUENCE {
 *             Certificate } }) that ends every response it signed: stored
 *             once and stripped from each response that ends with it
 *   index     per run: its first serial (u8 length, 21 octets, zero
 *             padded), u64 offset, i64 the earliest refresh time
 *             (ocsp_refresh_at) of its records
 *   footer    STORE_FOOTER octets: magic, version, meta, offsets, counts,
 *             CRC-32C of the index, of the suffix and of the footer
 * A record: u8 serial length, serial, u8 status (enum cert_status), u8
 * reason, i64 revokedAt, i64 the certificate's notAfter, i64 thisUpdate, i64 nextUpdate, u8 flags (bit h:
 * response h had the suffix stripped), u16 length x 2, the two responses
 * (h = 0: SHA-1 CertID, 1: SHA-256). Records never split across runs: a
 * serial is in the last run whose first serial is not above its own.
 *
 * A damaged file (a CRC that does not match, a length out of bounds) is an
 * error naming the file: never a wrong answer.
 *
 * Threads: a writer belongs to its caller. An open store is read-only and
 * may be read from any thread (pread on its descriptor); its references
 * are atomic (ocsp_store_ref, ocsp_store_put: the last frees it). */
#ifndef REVD_OCSP_STORE_H
#define REVD_OCSP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

/* A run is read whole: at most this many octets (a record is at most
 * STORE_REC_MAX). */
#define STORE_RUN_TARGET 4096
#define STORE_REC_MAX 20000
#define STORE_RUN_MAX (STORE_RUN_TARGET + STORE_REC_MAX + 8)

struct ocsp_store;
struct ocsp_store_writer;

/* What a store was built from: checked before it is used again. */
struct ocsp_store_meta {
    uint32_t ca_id;
    uint64_t built_seq;       /* the last change (ca_view_changes_last) it reflects */
    uint8_t issuer_kh[20];    /* SHA-1 of the CA's key */
    uint8_t responder_kh[20]; /* SHA-1 of the key that signed its responses */
    int64_t window;           /* the longest nextUpdate - thisUpdate of its records */
    int64_t next_update_min;  /* the earliest nextUpdate of its records */
    int64_t created;
};

/* One certificate's record: views (into the caller's or the run's bytes). */
struct ocsp_store_rec {
    const uint8_t *serial;
    size_t serial_len;
    uint8_t status, reason;
    int64_t revoked_at, not_after, this_update, next_update;
    const uint8_t *der[2]; /* as stored: without the suffix when stripped[h] */
    size_t der_len[2];
    int stripped[2];
};

/* ocsp_store_writer_open starts the store at path (its directory must
 * exist) for m (ca_id, built_seq, key hashes; window and created are the
 * writer's), whose responses end with suffix[0..suffix_len) (copied; may
 * be empty). NULL with e set. */
struct ocsp_store_writer *ocsp_store_writer_open(const char *path, const struct ocsp_store_meta *m,
                                                 const uint8_t *suffix, size_t suffix_len, struct rerr *e);

/* ocsp_store_writer_add appends r: its der are whole responses (stripped
 * here when they end with the suffix), or already stripped (r->stripped, as
 * a scan gives them). Records come in the index's serial order, each
 * serial once. Returns 1, or 0 with e set (the writer is then only for
 * ocsp_store_writer_abort). */
int ocsp_store_writer_add(struct ocsp_store_writer *w, const struct ocsp_store_rec *r, struct rerr *e);

/* ocsp_store_writer_commit writes the index and footer, syncs, and renames
 * the file over path; ocsp_store_writer_abort removes it. Both free w.
 * commit returns 1, or 0 with e set (nothing replaced). */
int ocsp_store_writer_commit(struct ocsp_store_writer *w, struct rerr *e);
void ocsp_store_writer_abort(struct ocsp_store_writer *w);

/* ocsp_store_open opens the store at path: its footer, index and suffix are
 * read and checked (one read each: not proportional to the records). NULL
 * with e set: no such file (ENOENT in *errno_out when not NULL) or a
 * damaged one (e names it). */
struct ocsp_store *ocsp_store_open(const char *path, int *errno_out, struct rerr *e);

struct ocsp_store *ocsp_store_ref(struct ocsp_store *s);
void ocsp_store_put(struct ocsp_store *s); /* accepts NULL */

const struct ocsp_store_meta *ocsp_store_meta(const struct ocsp_store *s);
uint64_t ocsp_store_count(const struct ocsp_store *s);
/* ocsp_store_uid: a number no other store opened by this process has (a
 * cache's key). */
uint32_t ocsp_store_uid(const struct ocsp_store *s);
const uint8_t *ocsp_store_suffix(const struct ocsp_store *s, size_t *len);
const char *ocsp_store_path(const struct ocsp_store *s);
/* ocsp_store_memory: octets the open store holds in memory (index, suffix). */
size_t ocsp_store_memory(const struct ocsp_store *s);
/* ocsp_store_file_bytes: the file's size. */
uint64_t ocsp_store_file_bytes(const struct ocsp_store *s);

/* ocsp_store_read looks serial up: one pread of its run into buf
 * (STORE_RUN_MAX octets). Returns 1 with *r (views into buf), 0 when the
 * store has no such serial, -1 with e set (a read error, a damaged run:
 * e names the file). Any thread. */
int ocsp_store_read(const struct ocsp_store *s, const uint8_t *serial, size_t serial_len, uint8_t *buf,
                    struct ocsp_store_rec *r, struct rerr *e);

/* ocsp_store_read_nowait is ocsp_store_read that never waits for the disk:
 * -2 when the run is not wholly in the page cache (preadv2 RWF_NOWAIT),
 * for a shard to try before it hands the read to a reader thread. Any
 * thread. */
int ocsp_store_read_nowait(const struct ocsp_store *s, const uint8_t *serial, size_t serial_len, uint8_t *buf,
                           struct ocsp_store_rec *r, struct rerr *e);

/* ocsp_store_assemble writes response h of r whole (the suffix put back)
 * into out[0..cap). Returns 1 with *len, or 0 when it does not fit. */
int ocsp_store_assemble(const struct ocsp_store *s, const struct ocsp_store_rec *r, int h, uint8_t *out,
                        size_t cap, size_t *len);

/* A scan: every record in order, a run at a time (for merges). next
 * returns 1 with *r (views valid until the next call), 0 at the end, -1
 * with e set. */
struct ocsp_store_scan;
struct ocsp_store_scan *ocsp_store_scan_new(const struct ocsp_store *s, struct rerr *e);
int ocsp_store_scan_next(struct ocsp_store_scan *sc, struct ocsp_store_rec *r, struct rerr *e);
void ocsp_store_scan_free(struct ocsp_store_scan *sc);

/* ocsp_store_refresh_min: the earliest refresh time of any record (INT64_MAX
 * when empty). ocsp_store_due calls cb with each record of the runs whose
 * earliest refresh time is at most by (cb checks each record's own): it
 * reads those runs only. cb returns 1 to go on. Returns 1, or 0 with e set.
 * Any thread (the CA-core thread's refresher). */
int64_t ocsp_store_refresh_min(const struct ocsp_store *s);
int ocsp_store_due(const struct ocsp_store *s, int64_t by,
                   int (*cb)(void *arg, const struct ocsp_store_rec *r), void *arg, struct rerr *e);

/* ocsp_store_serial_cmp orders two serials as the index does (length,
 * then octets). Pure. */
int ocsp_store_serial_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);

#endif
