#include "ocsp/lane.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ca/responder.h"
#include "ca/view.h"
#include "common/etag.h"
#include "common/rtime.h"
#include "common/spsc.h"
#include "ocsp/job.h"
#include "ocsp/response.h"

/* Each shard's queue holds at most its pool of jobs (shard/server.c). */
#define LANE_QUEUE 256

/* What the lane knows of one CA: taken on the CA-core thread, then
 * read-only. */
struct lane_ca {
    uint32_t id;
    uint8_t nh[4][64], kh[4][64]; /* issuer hashes per enum ocsp_hash */
    struct ca_responder *resp;    /* the lane's own copy */
};

struct lane_snap {
    int refs; /* under lane.mu */
    size_t num;
    struct lane_ca *cas;
};

struct lane {
    struct ca_core *core; /* read only through ca_view_cert_get, from the lane's thread */
    _Atomic int64_t validity, backdate; /* lane_set_times: a reload */
    int unknown_signed;
    int num_shards;
    struct spsc *queues; /* one per shard: the shard pushes, the lane pops */
    int efd;             /* wakes the lane */
    pthread_t thread;
    int started;
    atomic_int stopping;
    _Atomic uint64_t signed_count;
    void (*done)(void *arg, struct ocsp_job *job);
    void *done_arg;
    pthread_mutex_t mu; /* guards snap and refs: the lane's thread and the CA-core thread */
    struct lane_snap *snap;
};

static void snap_free(struct lane_snap *s) {
    if (s == NULL) return;
    for (size_t i = 0; i < s->num; i++) ca_responder_put(s->cas[i].resp);
    free(s->cas);
    free(s);
}

static void snap_put(struct lane *l, struct lane_snap *s) {
    pthread_mutex_lock(&l->mu);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (last) snap_free(s);
}

struct lane *lane_new(struct ca_core *c, int num_shards, int64_t validity, int unknown_signed, struct rerr *e) {
    struct lane *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    l->core = c;
    l->validity = validity;
    l->backdate = ca_ocsp_backdate(c);
    l->unknown_signed = unknown_signed;
    l->num_shards = num_shards;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->mu, NULL);
    l->queues = calloc((size_t)num_shards, sizeof(struct spsc));
    int ok = l->efd >= 0 && l->queues != NULL;
    for (int i = 0; ok && i < num_shards; i++) ok = spsc_init(&l->queues[i], LANE_QUEUE);
    if (!ok || !lane_update(l, c, e)) {
        if (!ok) rerr_set(e, "cannot set up the signing lane: %s", strerror(errno ? errno : ENOMEM));
        lane_free(l);
        return NULL;
    }
    return l;
}

int lane_update(struct lane *l, struct ca_core *c, struct rerr *e) {
    struct lane_snap *s = calloc(1, sizeof(*s));
    size_t num = ca_count(c);
    if (s == NULL || (s->cas = calloc(num + 1, sizeof(struct lane_ca))) == NULL) {
        free(s);
        return rerr_set(e, "out of memory");
    }
    s->refs = 1;
    for (size_t i = 0; i < num; i++) {
        struct ca_info info;
        ca_info_at(c, i, &info);
        if (!info.publishes) continue;
        char name[CA_NAME_MAX + 1]; /* info's strings last until the core changes: a rotation may */
        snprintf(name, sizeof(name), "%s", info.name);
        struct lane_ca *lc = &s->cas[s->num];
        struct ca_view_ca vc;
        if (!ca_view_ca_get(c, name, &vc, e)) {
            snap_free(s);
            return 0;
        }
        lc->id = vc.id;
        for (int h = 0; h < 4; h++)
            if (!ca_issuer_hashes(c, name, (enum ca_digest)h, lc->nh[h], lc->kh[h], e)) {
                snap_free(s);
                return 0;
            }
        if ((lc->resp = ca_responder_dup(c, name, e)) == NULL) {
            snap_free(s);
            return 0;
        }
        s->num++;
    }
    pthread_mutex_lock(&l->mu);
    struct lane_snap *old = l->snap;
    l->snap = s;
    int last = old != NULL && --old->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (last) snap_free(old);
    return 1;
}

int lane_submit(void *lane, struct ocsp_job *job) {
    struct lane *l = lane;
    if (!spsc_push(&l->queues[job->shard], job)) return 0;
    uint64_t one = 1;
    ssize_t n = write(l->efd, &one, sizeof(one)); /* EAGAIN: the counter is full, the lane awake */
    (void)n;
    return 1;
}

void lane_set_times(struct lane *l, int64_t validity, int64_t backdate) {
    atomic_store_explicit(&l->validity, validity, memory_order_relaxed);
    atomic_store_explicit(&l->backdate, backdate, memory_order_relaxed);
}

uint64_t lane_signed(const struct lane *l) { return atomic_load(&l->signed_count); }

/* One CertID's SingleResponse: the certificate's status from the index.
 * Returns OCSP_SUCCESSFUL with *one filled (certid written into certid[0..
 * certid_cap)), or the status the whole request gets: unauthorized for a
 * serial never issued or expired (unless --unknown signed or unknown_ok:
 * then "unknown"), damaged;
 * tryLater when the index cannot be read. */
static enum ocsp_resp_status single_of(struct lane *l, const struct lane_ca *ca, const struct ocsp_job_cert *jc,
                                       int unknown_ok, int64_t now, struct ocsp_single *one, uint8_t *certid,
                                       size_t certid_cap) {
    if (jc->serial_len == 0 || jc->serial_len > 21 || (unsigned)jc->hash > OCSP_HASH_SHA512) return OCSP_UNAUTHORIZED;
    struct rerr e;
    struct ca_view_cert r;
    enum ca_view_got got = ca_view_cert_get(l->core, ca->id, jc->serial, jc->serial_len, &r, &e);
    int64_t validity = atomic_load_explicit(&l->validity, memory_order_relaxed);
    int64_t backdate = atomic_load_explicit(&l->backdate, memory_order_relaxed);
    *one = (struct ocsp_single){NULL, 0, OCSP_UNKNOWN, 0, -1, now - backdate, now + validity};
    if (got == CA_VIEW_ERROR) return OCSP_TRY_LATER;
    int decoded = got == CA_VIEW_FOUND, exists = got != CA_VIEW_NONE;
    if (decoded && ocsp_times(now, validity, backdate, r.not_after, &one->this_update, &one->next_update)) {
        one->status = r.status == CERT_REVOKED ? OCSP_REVOKED : OCSP_GOOD;
        one->revoked_at = r.revoked_at;
        if (r.status == CERT_REVOKED && r.reason != 0) one->reason = r.reason;
    } else if ((exists && !(decoded && unknown_ok)) || !(l->unknown_signed || unknown_ok)) {
        /* Damaged; expired alone (the tables do not answer for expired
         * certificates either; beside issued ones it is unknown); never
         * issued without --unknown signed: unauthorized. */
        return OCSP_UNAUTHORIZED;
    }
    if (!ocsp_certid_build(jc->hash, ca->nh[jc->hash], ca->kh[jc->hash], jc->serial, jc->serial_len, certid,
                           certid_cap, &one->certid_len))
        return OCSP_INTERNAL_ERROR;
    one->certid = certid;
    return OCSP_SUCCESSFUL;
}

/* Answers one job: each certificate's status from the index, in one
 * response signed now. A request with several CertIDs is answered whole or
 * not at all (RFC 6960 4.2.2.3: a SingleResponse for each). */
static void answer(struct lane *l, const struct lane_snap *s, struct ocsp_job *j) {
    j->status = OCSP_UNAUTHORIZED;
    const struct lane_ca *ca = NULL;
    for (size_t i = 0; i < s->num && ca == NULL; i++)
        if (s->cas[i].id == j->ca_id) ca = &s->cas[i];
    if (ca == NULL || j->num_certs == 0 || j->num_certs > OCSP_JOB_MAX_CERTS) return;
    int64_t now = rtime_now();
    int unknown_ok = j->unknown_ok;
    if (unknown_ok == OCSP_JOB_UNKNOWN_IF_ANY) { /* the shard could not tell (a CA on disk) */
        unknown_ok = 0;
        for (size_t i = 0; i < j->num_certs && !unknown_ok; i++) {
            struct ca_view_cert r;
            struct rerr e;
            const struct ocsp_job_cert *jc = &j->certs[i];
            unknown_ok = jc->serial_len > 0 && jc->serial_len <= 21 &&
                         ca_view_cert_get(l->core, ca->id, jc->serial, jc->serial_len, &r, &e) == CA_VIEW_FOUND &&
                         r.not_after > now;
        }
    }
    struct ocsp_single singles[OCSP_JOB_MAX_CERTS];
    uint8_t certids[OCSP_JOB_MAX_CERTS][256];
    for (size_t i = 0; i < j->num_certs; i++) {
        j->status = single_of(l, ca, &j->certs[i], unknown_ok, now, &singles[i], certids[i], sizeof(certids[i]));
        if (j->status != OCSP_SUCCESSFUL) return;
    }
    struct ca_signer signer;
    ca_responder_signer_of(ca->resp, &signer);
    if (!ocsp_response_sign_many(&signer, singles, j->num_certs, now, j->nonce_len ? j->nonce : NULL, j->nonce_len,
                                 j->resp, sizeof(j->resp), &j->resp_len)) {
        j->status = OCSP_INTERNAL_ERROR;
        return;
    }
    etag_of(j->resp, j->resp_len, j->etag);
    /* Cached no longer than its shortest-lived SingleResponse. */
    j->this_update = singles[0].this_update;
    j->next_update = singles[0].next_update;
    for (size_t i = 1; i < j->num_certs; i++)
        if (singles[i].next_update < j->next_update) j->next_update = singles[i].next_update;
    j->status = OCSP_SUCCESSFUL;
    atomic_fetch_add(&l->signed_count, 1);
}

static void *lane_main(void *arg) {
    struct lane *l = arg;
    while (!atomic_load(&l->stopping)) {
        struct pollfd p = {l->efd, POLLIN, 0};
        poll(&p, 1, 100);
        uint64_t n;
        ssize_t r = read(l->efd, &n, sizeof(n));
        (void)r;
        pthread_mutex_lock(&l->mu);
        struct lane_snap *s = l->snap;
        s->refs++;
        pthread_mutex_unlock(&l->mu);
        for (int more = 1; more && !atomic_load(&l->stopping);) {
            more = 0;
            for (int i = 0; i < l->num_shards; i++) {
                struct ocsp_job *j = spsc_pop(&l->queues[i]);
                if (j == NULL) continue;
                more = 1;
                answer(l, s, j);
                l->done(l->done_arg, j);
            }
        }
        snap_put(l, s);
    }
    return NULL;
}

int lane_start(struct lane *l, void (*done)(void *arg, struct ocsp_job *job), void *arg, struct rerr *e) {
    l->done = done;
    l->done_arg = arg;
    if (pthread_create(&l->thread, NULL, lane_main, l) != 0) return rerr_set(e, "cannot start the signing lane");
    pthread_setname_np(l->thread, "revd-lane"); /* for top -H */
    l->started = 1;
    return 1;
}

void lane_stop(struct lane *l) {
    if (l == NULL) return;
    atomic_store(&l->stopping, 1);
    if (l->started) pthread_join(l->thread, NULL);
    l->started = 0;
}

void lane_free(struct lane *l) {
    if (l == NULL) return;
    lane_stop(l);
    for (int i = 0; l->queues != NULL && i < l->num_shards; i++) spsc_free(&l->queues[i]);
    free(l->queues);
    if (l->efd >= 0) close(l->efd);
    snap_free(l->snap);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
