/* view: the read-only way into the revocation index for the pipelines
 * (ocsp/, crl/). ca/ is the index's only writer and the only holder of
 * keys; everything else reads certificate records, a partition's revoked
 * range and the stored responses through the functions here, never
 * through ca/internal.h.
 *
 * Thread: as each function says. */
#ifndef REVD_CA_VIEW_H
#define REVD_CA_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/rerr.h"

/* ---- certificate records and stored responses (ocsp/) ---- */

/* ca_view_ca: what the OCSP pipeline needs of one CA besides its issuer
 * hashes and signer (ca/responder.h): its number in the index and how many
 * certificates it holds (a size hint). ca_view_ca_get fills it for the CA
 * named name: 1, or 0 with e set (no such CA). CA-core thread. */
struct ca_view_ca {
    uint32_t id;
    uint64_t certificates; /* issued + imported: a size hint, not a count */
};
int ca_view_ca_get(const struct ca_core *c, const char *name, struct ca_view_ca *out, struct rerr *e);

/* ca_view_ca_cert: the certificate of CA name, DER, in *out (malloc'd,
 * caller frees), *out_len octets. 1, or 0 with e set (no such CA, pending,
 * out of memory). CA-core thread. */
int ca_view_ca_cert(const struct ca_core *c, const char *name, uint8_t **out, size_t *out_len, struct rerr *e);

/* A certificate record as the pipelines see it (the index's own encoding
 * stays in ca/). serial is a view whose lifetime the call that filled it
 * says; NULL where the caller already has the serial. */
struct ca_view_cert {
    const uint8_t *serial;
    size_t serial_len;
    enum cert_status status;
    uint8_t reason; /* RFC 5280 CRLReason; 0 unless revoked */
    int64_t not_before, not_after;
    int64_t revoked_at; /* 0 unless revoked (or on hold) */
};

/* What ca_view_cert_get found. */
enum ca_view_got {
    CA_VIEW_NONE,    /* no record: a serial the CA never issued */
    CA_VIEW_FOUND,   /* *out filled */
    CA_VIEW_DAMAGED, /* a record that does not decode */
    CA_VIEW_ERROR,   /* the index could not be read (e set) */
};

/* ca_view_cert_get reads the record of serial[0..serial_len) of the CA
 * numbered ca_id (ca_view_ca) into *out (out->serial NULL). Any thread: it
 * only reads the index, which RocksDB allows beside the CA-core thread's
 * writes. */
enum ca_view_got ca_view_cert_get(struct ca_core *c, uint32_t ca_id, const uint8_t *serial, size_t serial_len,
                                  struct ca_view_cert *out, struct rerr *e);

/* A walk over a CA's certificate records in serial order (the index's:
 * by length, then bytes), each with its stored responses record when it has
 * one (with_stored). ca_view_walk_new starts one for CA name: NULL with e
 * set. ca_view_walk_next returns 1 with *out filled (out->serial a view
 * valid until the next call) and *stored, *stored_len the stored record
 * (opaque to ca/: ocsp/precompute.c encodes it) or NULL, 0 at the end, -1
 * on a damaged record (e set). ca_view_walk_free accepts NULL. CA-core
 * thread. */
struct ca_view_walk;
struct ca_view_walk *ca_view_walk_new(struct ca_core *c, const char *name, int with_stored, struct rerr *e);
int ca_view_walk_next(struct ca_view_walk *w, struct ca_view_cert *out, const uint8_t **stored, size_t *stored_len,
                      struct rerr *e);
void ca_view_walk_free(struct ca_view_walk *w);

/* The one thing ocsp/ writes, through ca/: the stored responses of a
 * certificate (key_resp in docs/index.md), a cache of signatures. A batch
 * collects puts and drops for the CA numbered ca_id; ca_view_stored_write
 * applies them without syncing the WAL (a crash loses some: they are
 * signed again) and empties the batch: 1, or 0 with e set (the batch is
 * emptied too). ca_view_stored_new returns NULL on out of memory;
 * ca_view_stored_free accepts NULL. CA-core thread. */
struct ca_view_stored;
struct ca_view_stored *ca_view_stored_new(struct ca_core *c, uint32_t ca_id);
void ca_view_stored_put(struct ca_view_stored *b, const uint8_t *serial, size_t serial_len, const uint8_t *rec,
                        size_t rec_len);
void ca_view_stored_drop(struct ca_view_stored *b, const uint8_t *serial, size_t serial_len);
size_t ca_view_stored_count(const struct ca_view_stored *b);
int ca_view_stored_write(struct ca_view_stored *b, struct rerr *e);
void ca_view_stored_free(struct ca_view_stored *b);

/* ---- partitions and their revoked ranges (crl/) ---- */

#endif
