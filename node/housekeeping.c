/* housekeeping: the CA-core thread's periodic work between commands
 * (node/housekeeping.h). */
#include "node/housekeeping.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/rtime.h"
#include "node/report.h"

/* Every hour: deleted CAs whose restore window ended are purged (their
 * keys destroyed, their status no longer published: the next generation
 * leaves them out), and expiry events (ca_expiry_scan itself runs once a
 * day: it keeps its last time in the index). */
static void hourly(struct housekeeping *hk, int expiry_warn_days) {
    int64_t now = rtime_now();
    if (now < hk->next_expiry) return;
    hk->next_expiry = now + 3600;
    uint64_t soon, gone;
    struct rerr e;
    size_t purged;
    if (!ca_purge_due(hk->core, now, &purged, &e))
        rlog(LOG_WARN, "ca.purge_failed", "purging deleted CAs failed (again in an hour): %s", e.msg);
    else if (purged > 0)
        rlog(LOG_INFO, "ca.purged", "purged %zu deleted CA%s whose restore window ended", purged, purged > 1 ? "s" : "");
    /* The next window's end, if sooner than the hour. */
    for (size_t i = 0; i < ca_count(hk->core); i++) {
        struct ca_info info;
        ca_info_at(hk->core, i, &info);
        if (info.state == CA_STATE_DELETED && info.purge_at > now && info.purge_at < hk->next_expiry)
            hk->next_expiry = info.purge_at;
    }
    if (!ca_expiry_scan(hk->core, now, expiry_warn_days, &soon, &gone, &e))
        rlog(LOG_WARN, "expiry.scan_failed", "expiry scan failed (again in an hour): %s", e.msg);
    else if (soon + gone > 0)
        rlog(LOG_INFO, "expiry.scan", "expiry: %llu certificates expire within %d days, %llu expired since the last look",
                (unsigned long long)soon, expiry_warn_days, (unsigned long long)gone);
}

/* One report of one CA into dir, as `revd report` writes it: a private
 * temporary file (fs_tmp: a random name, never one planted there), synced,
 * renamed; mode 0600, as every file revd writes of its own. */
static int write_report(struct housekeeping *hk, const char *report_dir, const char *ca, const char *fmt,
                        const char *stamp) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s-%s.%s", report_dir, ca, stamp, fmt);
    struct fs_tmp t;
    struct rerr e = {0};
    if (!fs_tmp_open(&t, path, 0600, 0, &e)) {
        rlog(LOG_WARN, "report.failed", "report %s", e.msg);
        return 0;
    }
    int fd = dup(t.fd);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0) close(fd);
        fs_tmp_abort(&t);
        rlog(LOG_WARN, "report.failed", "report %s: %s", path, strerror(errno));
        return 0;
    }
    int ok = report_write(hk->core, ca, 0, strcmp(fmt, "json") == 0, f, &e) && fflush(f) == 0;
    int saved = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        fs_tmp_abort(&t);
        rlog(LOG_WARN, "report.failed", "report %s: %s", path, e.msg[0] ? e.msg : strerror(saved));
        return 0;
    }
    if (!fs_tmp_commit(&t, &e)) {
        rlog(LOG_WARN, "report.failed", "report %s", e.msg);
        return 0;
    }
    return 1;
}

/* Scheduled reports: every report-every, each CA's report (CSV, JSON or
 * both) into report-dir as NAME-YYYYMMDDTHHMMSSZ.csv; the time of the last
 * is kept in DIR/report.last, so a restart does not start the period over. */
static void reports(struct housekeeping *hk, const struct settings *o) {
    if (o->report_dir == NULL) return;
    int64_t now = rtime_now();
    char last_path[PATH_MAX];
    snprintf(last_path, sizeof(last_path), "%s/report.last", hk->dir);
    if (hk->next_report == 0) {
        FILE *f = fopen(last_path, "r");
        long long last = 0;
        if (f == NULL || fscanf(f, "%lld", &last) != 1) last = 0;
        if (f) fclose(f);
        hk->next_report = last > 0 ? last + o->report_every : now;
    }
    if (now < hk->next_report) return;
    struct rerr e;
    /* A directory revd did not make is checked: one another user can
     * write lets that user replace the reports (or plant names in it). */
    if (!fs_mkdirs(o->report_dir, 0700, &e) || !fs_dir_check(o->report_dir, 0, &e)) {
        rlog(LOG_WARN, "report.failed", "%s (again in %lld s)", e.msg, (long long)o->report_every);
        hk->next_report = now + o->report_every;
        return;
    }
    char stamp[32];
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    size_t written = 0, failed = 0;
    for (size_t i = 0; i < ca_count(hk->core); i++) {
        struct ca_info info;
        ca_info_at(hk->core, i, &info);
        if (info.state == CA_STATE_PENDING) continue;
        int f = o->report_format;
        if (f & SETTINGS_REPORT_CSV) write_report(hk, o->report_dir, info.name, "csv", stamp) ? written++ : failed++;
        if (f & SETTINGS_REPORT_JSON) write_report(hk, o->report_dir, info.name, "json", stamp) ? written++ : failed++;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)now);
    if (!fs_write_atomic(last_path, buf, (size_t)n, 0600, &e)) rlog(LOG_WARN, "report.failed", "%s", e.msg);
    hk->next_report = now + o->report_every;
    rlog(failed ? LOG_WARN : LOG_INFO, "report.written", "reports: %zu written to %s, %zu failed", written,
         o->report_dir, failed);
}

void housekeeping_tick(struct housekeeping *hk, const struct settings *o) {
    hourly(hk, o->expiry_warn_days);
    reports(hk, o);
}
