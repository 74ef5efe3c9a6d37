/* responder: each CA's delegated OCSP responder (RFC 6960 4.2.2.2): its own
 * key (DIR/keys/NAME.ocsp.key, mode 0600) and a short-lived certificate the
 * CA issues to it (EKU id-kp-OCSPSigning only, id-pkix-ocsp-nocheck, KU
 * digitalSignature), rotated before it expires. The key stays here: ocsp/
 * gets a struct ca_signer whose callback signs.
 *
 * Thread: the CA-core thread (creation and rotation write the index); the
 * signing callback may be called from any one thread at a time per
 * responder. */
#ifndef REVD_CA_RESPONDER_H
#define REVD_CA_RESPONDER_H

#include <stdint.h>

#include "ca/ca.h"
#include "ca/signer.h"
#include "common/rerr.h"

/* Responder certificates live this long, and are replaced once less than
 * CA_RESPONDER_RENEW_S is left (more than the longest response validity, 7
 * days, so a response never outlives its signer). */
#define CA_RESPONDER_LIFETIME_S (30 * 86400)
#define CA_RESPONDER_RENEW_S (10 * 86400)

/* ca_responder_signer gives the signer of CA ca, creating or rotating its
 * responder first when needed. The signer's pointers stay valid until the
 * next call for this CA or ca_core_free. Returns 1, or 0 with e set. */
int ca_responder_signer(struct ca_core *c, const char *ca, struct ca_signer *out, struct rerr *e);

/* ca_responder_dup: a copy of CA ca's current responder (rotated first when
 * due) for use on another thread: its own signing context, the key and
 * certificate shared by reference. Freed with responder_free
 * or ca_responder_put. CA-core thread; NULL with e set. */
struct ca_responder;
struct ca_responder *ca_responder_dup(struct ca_core *c, const char *ca, struct rerr *e);
void ca_responder_put(struct ca_responder *r);

/* responder_free frees r (NULL is fine). A CA's own responder is freed by
 * core_ca_free through the hook (struct ca's responder_free) this unit
 * sets with it. Any thread that owns r. */
void responder_free(struct ca_responder *r);

/* responder_retire: when serial is that of ca's current OCSP responder,
 * issues a new responder now (its own synced write) and marks every
 * response to be signed again (changes_all); *retired says whether it did.
 * Called by a revocation before it is written. CA-core thread. Returns 1,
 * or 0 with e set (nothing retired). */
struct ca;
int responder_retire(struct ca_core *c, struct ca *ca, const uint8_t *serial, size_t slen, int *retired,
                     struct rerr *e);

/* ca_responder_epoch: a number that grows each time any CA gets a new
 * responder (rotation, or one revoked and replaced): copies held elsewhere
 * (the signing lane's) are stale once it moved. CA-core thread. */
uint64_t ca_responder_epoch(const struct ca_core *c);

/* ca_responder_signer_of: the signer of r (valid while r lives); signs on
 * one thread at a time. */
void ca_responder_signer_of(struct ca_responder *r, struct ca_signer *out);

/* ca_responder_copy: a copy of CA ca's responder as it is now (no
 * rotation: what the last ca_responder_signer for ca gave stays valid), for
 * another thread, as ca_responder_dup. NULL with e set (none loaded yet, out
 * of memory). CA-core thread. */
struct ca_responder *ca_responder_copy(struct ca_core *c, const char *ca, struct rerr *e);

/* The digests of CertID issuer hashes, in the order of enum ocsp_hash
 * (ocsp/request.h), which ocsp/ checks: ca/ knows no OCSP. */
enum ca_digest { CA_DIGEST_SHA1, CA_DIGEST_SHA256, CA_DIGEST_SHA384, CA_DIGEST_SHA512 };

/* ca_issuer_hashes writes the CertID issuer hashes of CA ca for digest d:
 * the hash of its subject name's DER and of its public key's bits. */
int ca_issuer_hashes(struct ca_core *c, const char *ca, enum ca_digest d, uint8_t name_hash[64], uint8_t key_hash[64],
                     struct rerr *e);

/* The default of ca_ocsp_set_backdate: OCSP_BACKDATE_S (ocsp/response.h),
 * which ocsp/ checks is the same. */
#define CA_OCSP_BACKDATE_DEFAULT_S 60

/* ca_ocsp_set_threads: how many threads sign responses in bulk (building a
 * table, a refresh pass: ocsp/precompute.h): each gets its own copy of the
 * responder. Default 1. ca_ocsp_threads reads it. CA-core thread. */
void ca_ocsp_set_threads(struct ca_core *c, int threads);
int ca_ocsp_threads(const struct ca_core *c);

/* ca_ocsp_set_backdate: how long before its signature a response's
 * thisUpdate is (default CA_OCSP_BACKDATE_DEFAULT_S; ocsp_times);
 * ca_ocsp_backdate reads it. CA-core thread. */
void ca_ocsp_set_backdate(struct ca_core *c, int64_t seconds);
int64_t ca_ocsp_backdate(const struct ca_core *c);

#endif
