/* expiry: the daily scan for certificates that expire soon or just did,
 * as events (ca_expiry_scan in ca/ca.h): above ca/report.c, whose rows it
 * reads, and ca/events.c, which writes what it finds. CA-core thread. */
#include "ca/core.h"

#include <stdlib.h>
#include <string.h>

#include "ca/store.h"
#include "common/bytes.h"
#include "common/rtime.h"


struct scan {
    struct ca_core *c;
    const char *ca;
    int64_t now, warn_until, since;
    uint64_t expiring, expired;
};

static int scan_row(void *arg, const struct ca_report_row *r) {
    struct scan *s = arg;
    /* Revoked certificates, and the OCSP responders revd renews by itself
     * in their last 10 days, say nothing. */
    if (r->revoked || strcmp(r->template_name, "ocsp-responder") == 0) return 1;
    if (r->not_after > s->now && r->not_after <= s->warn_until) {
        int64_t days = (r->not_after - s->now + 86399) / 86400;
        char na[21];
        rtime_format(r->not_after, na);
        ca_event(s->c, "cert.expiring", days <= 7 ? 50 : 30, s->ca, r->serial, r->serial_len,
                 json_pack("{s:s,s:I}", "not_after", na, "days_left", (json_int_t)days));
        s->expiring++;
    } else if (r->not_after <= s->now && r->not_after > s->since) {
        char na[21];
        rtime_format(r->not_after, na);
        ca_event(s->c, "cert.expired", 20, s->ca, r->serial, r->serial_len, json_pack("{s:s}", "not_after", na));
        s->expired++;
    }
    return 1;
}

int ca_expiry_scan(struct ca_core *c, int64_t now, int warn_days, uint64_t *expiring, uint64_t *expired,
                   struct rerr *e) {
    static const char key[] = "mexpiry_scan";
    uint8_t *v;
    size_t vl;
    int r = store_get(c->st, key, sizeof(key) - 1, &v, &vl, e);
    if (r < 0) return 0;
    int64_t since = 0;
    if (r == 1) {
        if (vl == 8) since = (int64_t)bytes_get_u64(v);
        free(v);
    }
    *expiring = *expired = 0;
    /* Once a day: a restart within the day says nothing again. */
    if (since != 0 && now - since < 86400 && now >= since) return 1;
    if (since == 0) since = now - 86400; /* the first scan reports the last day's expiries */
    for (size_t i = 0; i < c->num_cas; i++) {
        struct ca *ca = c->cas[i];
        if (!core_ca_publishes(ca, now)) continue; /* pending, purged, past its window */
        struct scan s = {c, ca->name, now, now + (int64_t)warn_days * 86400, since, 0, 0};
        if (!ca_report(c, ca->name, 0, scan_row, &s, e)) return 0;
        *expiring += s.expiring;
        *expired += s.expired;
    }
    uint8_t nv[8];
    bytes_put_u64(nv, (uint64_t)now);
    struct store_batch *b = store_batch_new();
    store_batch_put(b, key, sizeof(key) - 1, nv, 8);
    int ok = store_write(c->st, b, 0, e);
    store_batch_free(b);
    return ok;
}
