/* remerge: a CA's response store (ocsp/store.h) written again, a slice at
 * a time, on the CA-core thread between commands: the records of the old
 * store in order, with the overlay's (the responses re-signed since it was
 * written) put in their place, the run-out ones left out, and those whose
 * refresh time falls before resign_by signed again on the sign pool. It is
 * how an overlay is folded into a store, and how a store's responses are
 * refreshed, without holding the CA-core thread for longer than a slice
 * and without holding more than a batch in memory.
 *
 * The overlay given is a snapshot: what changes during the remerge goes
 * into newer overlays as usual. When the new store is in place, the
 * overlay served beside it is the newer one less the snapshot's entries
 * (ocsp_table_subtract). The store records the change-log position
 * (ca_view_changes_last) taken at the start: every change up to it is in
 * the snapshot, and a restart replays what came after.
 *
 * Thread: the CA-core thread only. */
#ifndef REVD_OCSP_REMERGE_H
#define REVD_OCSP_REMERGE_H

#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

struct ocsp_store;
struct ocsp_table;
struct remerge;

/* remerge_new starts writing CA name's store again at path from old and
 * overlay (references taken; overlay may be NULL), signing with validity
 * the records whose refresh time is before resign_by (INT64_MIN: none).
 * NULL with e set. */
struct remerge *remerge_new(struct ca_core *c, const char *name, struct ocsp_store *old, struct ocsp_table *overlay,
                            const char *path, int64_t validity, int64_t resign_by, struct rerr *e);

/* remerge_step does about budget seconds of it. Returns 1 when there is
 * more, 2 when it is done (*out: the new store, opened; the caller's
 * reference), 0 on failure (e set: the old store stays; the file is
 * removed by remerge_free). */
int remerge_step(struct remerge *m, double budget, struct ocsp_store **out, struct rerr *e);

/* The old store and the overlay snapshot it started from (views). */
const struct ocsp_store *remerge_old(const struct remerge *m);
const struct ocsp_table *remerge_overlay(const struct remerge *m);
const char *remerge_ca(const struct remerge *m);
/* remerge_signed: responses signed again so far. */
uint64_t remerge_signed(const struct remerge *m);

/* remerge_free drops what m holds (a file not finished is removed).
 * Accepts NULL. */
void remerge_free(struct remerge *m);

#endif
