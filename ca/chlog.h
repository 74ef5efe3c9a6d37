/* chlog: the change log ('c' records, docs/index.md): one record for every
 * status change that what is published must follow, numbered by a sequence
 * that only grows, written in the same synced batch as the change itself,
 * so that a record is durable exactly when its change is. The OCSP response
 * store reads it through ca/view.h (ca_view_changes_*) to find, after a
 * restart, what changed since its file was written.
 *
 * On disk (these bytes must never change):
 *   'c' seq:8 -> ca_id:4 kind:1 slen:1 serial   (kind 0: that certificate;
 *                kind 1, slen 0: every certificate of CA ca_id; ca_id 0
 *                with kind 1: of every CA)
 *   'm' "changes_trimmed" -> seq:8, the highest seq ca_view_changes_trim
 *                removed: numbering goes on above it when no record is left.
 *
 * Gap-free: a number is given out when its record is added to a batch and
 * taken back when that batch fails (oplog_rollback calls chlog_rollback,
 * oplog_written chlog_written: every batch that carries a record is
 * written through oplog_commit, or as ca/import.c does, through the same
 * two calls). A reader must still not rely on it: trimming leaves a hole
 * at the start. CA-core thread. */
#ifndef REVD_CA_CHLOG_H
#define REVD_CA_CHLOG_H

#include <stddef.h>
#include <stdint.h>

#include "ca/core.h"
#include "ca/ikey.h"
#include "ca/store.h"
#include "common/hex.h"
#include "common/rerr.h"

#define CHLOG_KEY_LEN 9
#define CHLOG_VAL_MAX (4 + 1 + 1 + HEX_SERIAL_MAX + 1)

/* chlog_encode gives out the next sequence number and fills key and val
 * with the record of serial[0..slen) of CA ca_id (full: every certificate
 * of it; serial then ignored); returns val's length. slen <= HEX_SERIAL_MAX
 * + 1 (a longer serial is recorded as a full change of its CA). */
size_t chlog_encode(struct ca_core *c, uint8_t key[CHLOG_KEY_LEN], uint8_t val[CHLOG_VAL_MAX], uint32_t ca_id,
                    int full, const uint8_t *serial, size_t slen);

/* chlog_add adds that record to b (chlog_encode's numbering). */
void chlog_add(struct ca_core *c, struct store_batch *b, uint32_t ca_id, int full, const uint8_t *serial,
               size_t slen);

/* chlog_write writes a record on its own, synced: for a change found
 * outside any operation's batch. Returns 1, or 0 with e set (its number
 * taken back). */
int chlog_write(struct ca_core *c, uint32_t ca_id, int full, const uint8_t *serial, size_t slen, struct rerr *e);

/* chlog_rollback takes back the numbers given out since the last write
 * (it failed); chlog_written makes them the durable ones. */
void chlog_rollback(struct ca_core *c);
void chlog_written(struct ca_core *c);

/* chlog_load finds the last number given out in c's index when a core is
 * opened. Returns 1, or 0 with e set. */
int chlog_load(struct ca_core *c, struct rerr *e);

#endif
