/* publish: the OCSP publisher, which applies changes and refreshes. It
 * keeps the generation last published (ocsp/gen.h) and makes the next
 * one: after a command changed statuses (the certificates' responses
 * re-signed into their CA's overlay; a new CA or a bulk import: every
 * table built again, stored responses reused), and by the refresher, which
 * re-signs each response at about half its validity (ocsp_refresh_at)
 * between commands, in passes of about REFRESH_PASS_S. A change whose
 * publication failed stays pending and is retried: a revocation is never
 * left unpublished. Overlays are folded into their base once they grow.
 *
 * A new generation goes to whoever serves it through hooks.publish (the
 * serving process hands it to the shards, which own it from then on);
 * what changed goes to the other pipelines (CRLs) through hooks.changed.
 * The signing lane (ocsp/lane.h), when there is one, takes every CA's
 * responders again after each publication.
 *
 * Thread: the CA-core thread only (it owns the ca_core). */
#ifndef REVD_OCSP_PUBLISH_H
#define REVD_OCSP_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

struct gen;
struct lane;
struct metrics_core;
struct ocsp_publisher;

struct ocsp_publish_hooks {
    /* publish hands g over (it is the receiver's from then on: it frees it
     * once no reader holds it); fresh: g was built whole (a full
     * generation), not cloned from the one before. */
    void (*publish)(void *arg, struct gen *g, int fresh);
    /* changed: what ca_take_changes gave, before it is signed: everything
     * (full), or the certificates changes[0..num). */
    void (*changed)(void *arg, int full, const struct ca_change *changes, size_t num);
    void *arg;
};

/* ocsp_publish_new makes the publisher of core, whose first generation
 * first was built by ocsp_precompute_gen with o (copied) and is already
 * served (not taken), signing responses valid for o->validity seconds, thisUpdate
 * backdate seconds before the signature (the refresher's bound:
 * refresh_min_window). lane (may be NULL): the signing lane to keep up to
 * date; m: the metrics it counts into. NULL on out of memory. */
struct ocsp_gen_opts;
struct ocsp_publisher *ocsp_publish_new(struct ca_core *core, const struct gen *first, const struct ocsp_gen_opts *o,
                                        int64_t backdate, struct lane *lane, struct metrics_core *m,
                                        const struct ocsp_publish_hooks *hooks);

/* ocsp_publish_free frees the publisher (what is pending is dropped; the
 * generations are the receiver's). Accepts NULL. */
void ocsp_publish_free(struct ocsp_publisher *p);

/* ocsp_publish_current: the generation last published (read-only; the
 * receiver frees it). */
const struct gen *ocsp_publish_current(const struct ocsp_publisher *p);

/* ocsp_publish_gen publishes g (taken), made elsewhere from the current
 * one (gen_clone: new CRLs, say), as the publisher's own are. */
void ocsp_publish_gen(struct ocsp_publisher *p, struct gen *g);

/* ocsp_publish_changes publishes what changed since the last call (and
 * what is pending), if anything; after names what for the log. When that
 * fails, what failed stays pending (ocsp_publish_retry_due), the failure is
 * logged and counted, and 0 is returned; else 1. */
int ocsp_publish_changes(struct ocsp_publisher *p, const char *after);

/* ocsp_publish_retry_due: whether at now a publication that failed (or a
 * full generation asked for) waits to be tried (ocsp_publish_changes). */
int ocsp_publish_retry_due(const struct ocsp_publisher *p, int64_t now);

/* ocsp_publish_refresh: the refresher's pass at now (between commands,
 * after what is pending was published): re-signs and publishes the
 * responses that are due, as many as take about REFRESH_PASS_S. Returns the
 * milliseconds until it wants to run again: 0 when more are due now, else
 * wait (the caller's own next deadline) or less. */
int ocsp_publish_refresh(struct ocsp_publisher *p, int64_t now, int wait);

/* ocsp_publish_set_validity: responses are valid for validity seconds from
 * now on; every response is signed again in a full generation (at the next
 * ocsp_publish_changes). ocsp_publish_set_backdate: the backdate of the
 * responses signed from now on (ca_ocsp_set_backdate is the caller's). */
void ocsp_publish_set_validity(struct ocsp_publisher *p, int64_t validity);
void ocsp_publish_set_backdate(struct ocsp_publisher *p, int64_t backdate);

/* ocsp_publish_lane_refresh: the signing lane takes every CA's current
 * responder again (after a reload of the keys). Accepts NULL. */
void ocsp_publish_lane_refresh(struct ocsp_publisher *p);

/* ocsp_publish_refreshed: responses re-signed by the refresher so far. */
uint64_t ocsp_publish_refreshed(const struct ocsp_publisher *p);

#endif
