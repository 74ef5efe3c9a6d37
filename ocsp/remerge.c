/* remerge: a store written again a slice at a time (ocsp/remerge.h). */
#include "ocsp/remerge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/view.h"
#include "common/rtime.h"
#include "ocsp/precompute.h"
#include "ocsp/request.h"
#include "ocsp/store.h"
#include "ocsp/table.h"

/* One overlay entry, with the status it was signed for (read from the
 * index when the remerge starts: every change up to then is applied). */
struct over_ent {
    const uint8_t *serial;
    size_t serial_len;
    struct ca_view_cert r; /* serial not kept */
};

struct remerge {
    struct ca_core *c;
    char name[CA_NAME_MAX + 1];
    struct ocsp_store *old;
    struct ocsp_table *overlay;
    struct ocsp_store_build *b;
    struct ocsp_store_scan *scan;
    struct ocsp_store_rec rec;
    int have; /* rec holds the old store's next record */
    struct over_ent *over;
    size_t num_over, next_over;
    int64_t resign_by, now;
    uint64_t resigned;
};

static int ent_cmp(const void *a, const void *b) {
    const struct over_ent *x = a, *y = b;
    return ocsp_store_serial_cmp(x->serial, x->serial_len, y->serial, y->serial_len);
}

/* The overlay's entries in serial order, with their statuses. */
static int over_load(struct remerge *m, uint32_t ca_id, struct rerr *e) {
    size_t n = ocsp_table_count(m->overlay), pos = 0;
    if ((m->over = calloc(n + 1, sizeof(*m->over))) == NULL) return rerr_set(e, "out of memory");
    const uint8_t *serial;
    size_t sl;
    int64_t tu, nu;
    while (ocsp_table_next(m->overlay, &pos, &serial, &sl, &tu, &nu)) {
        struct over_ent *o = &m->over[m->num_over];
        enum ca_view_got got = ca_view_cert_get(m->c, ca_id, serial, sl, &o->r, e);
        if (got == CA_VIEW_ERROR) return 0;
        if (got != CA_VIEW_FOUND) continue; /* gone or damaged: nothing to keep */
        o->r.serial = NULL;
        o->serial = serial;
        o->serial_len = sl;
        m->num_over++;
    }
    qsort(m->over, m->num_over, sizeof(*m->over), ent_cmp);
    return 1;
}

struct remerge *remerge_new(struct ca_core *c, const char *name, struct ocsp_store *old, struct ocsp_table *overlay,
                            const char *path, int64_t validity, int64_t resign_by, struct rerr *e) {
    struct remerge *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    m->c = c;
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->old = ocsp_store_ref(old);
    m->overlay = ocsp_table_ref(overlay);
    m->resign_by = resign_by;
    m->now = rtime_now();
    if (!over_load(m, ocsp_store_meta(old)->ca_id, e) ||
        (m->b = ocsp_store_build_new(c, name, path, validity, ca_view_changes_last(c), e)) == NULL ||
        (m->scan = ocsp_store_scan_new(old, e)) == NULL) {
        remerge_free(m);
        return NULL;
    }
    m->have = -2; /* not read yet */
    return m;
}

/* Puts overlay entry o in the new store (unless its certificate expired). */
static int put_over(struct remerge *m, const struct over_ent *o, struct rerr *e) {
    if (o->r.not_after <= m->now) return 1;
    struct ocsp_store_rec rec = {0};
    rec.serial = o->serial;
    rec.serial_len = o->serial_len;
    rec.status = (uint8_t)o->r.status;
    rec.reason = o->r.status == CERT_REVOKED ? o->r.reason : 0;
    rec.revoked_at = o->r.status == CERT_REVOKED ? o->r.revoked_at : 0;
    rec.not_after = o->r.not_after;
    if (!ocsp_table_times(m->overlay, o->serial, o->serial_len, &rec.this_update, &rec.next_update) ||
        !ocsp_table_find(m->overlay, o->serial, o->serial_len, OCSP_HASH_SHA1, &rec.der[0], &rec.der_len[0]) ||
        !ocsp_table_find(m->overlay, o->serial, o->serial_len, OCSP_HASH_SHA256, &rec.der[1], &rec.der_len[1]))
        return rerr_set(e, "an overlay entry without its responses");
    if (rec.next_update <= m->now) return 1;
    return ocsp_store_build_copy(m->b, &rec, e);
}

/* Puts the old store's record rec: signed again when due, left out when
 * run out. */
static int put_old(struct remerge *m, const struct ocsp_store_rec *rec, struct rerr *e) {
    if (rec->next_update <= m->now || rec->not_after <= m->now) return 1;
    if (ocsp_refresh_at(rec->serial, rec->serial_len, rec->this_update, rec->next_update) <= m->resign_by) {
        m->resigned++;
        return ocsp_store_build_resign(m->b, rec, e);
    }
    return ocsp_store_build_copy(m->b, rec, e);
}

int remerge_step(struct remerge *m, double budget, struct ocsp_store **out, struct rerr *e) {
    double t0 = rtime_mono();
    for (unsigned k = 0;; k++) {
        if ((k & 255) == 255 && rtime_mono() - t0 >= budget) return 1;
        if (m->have == -2 && (m->have = ocsp_store_scan_next(m->scan, &m->rec, e)) < 0) return 0;
        const struct over_ent *o = m->next_over < m->num_over ? &m->over[m->next_over] : NULL;
        if (m->have == 0 && o == NULL) break;
        int c = m->have == 0 ? 1
                : o == NULL  ? -1
                             : ocsp_store_serial_cmp(m->rec.serial, m->rec.serial_len, o->serial, o->serial_len);
        int ok;
        if (c >= 0) { /* the overlay's, in place of the old one's when both */
            ok = put_over(m, o, e);
            m->next_over++;
            if (c == 0) m->have = -2;
        } else {
            ok = put_old(m, &m->rec, e);
            m->have = -2;
        }
        if (!ok) return 0;
    }
    struct ocsp_store_build *b = m->b;
    m->b = NULL;
    return ocsp_store_build_commit(b, out, NULL, e) ? 2 : 0;
}

const struct ocsp_store *remerge_old(const struct remerge *m) { return m->old; }
const struct ocsp_table *remerge_overlay(const struct remerge *m) { return m->overlay; }
const char *remerge_ca(const struct remerge *m) { return m->name; }
uint64_t remerge_signed(const struct remerge *m) { return m->resigned; }

void remerge_free(struct remerge *m) {
    if (m == NULL) return;
    ocsp_store_build_abort(m->b);
    ocsp_store_scan_free(m->scan);
    ocsp_store_put(m->old);
    ocsp_table_free(m->overlay);
    free(m->over);
    free(m);
}
