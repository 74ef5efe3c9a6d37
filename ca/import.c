/* Bulk import of another CA's inventory, so that revd publishes its
 * revocation status. Two passes over the mapped file: check every line (and
 * that no serial repeats, in the file or in the CA), then write in large
 * batches, the last one synced. */
#include "ca/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/csvrow.h"
#include "common/reason.h"
#include "common/rtime.h"
#include "common/urls.h"

#define IMPORT_BATCH_ROWS 50000
/* Caps what one import may hold: rows and distinct imported CDPs. */
#define IMPORT_MAX_ROWS 200000000ULL
#define IMPORT_MAX_CDPS 100000

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Open-addressing set of serial fingerprints; each slot remembers the line
 * so that a collision is settled by comparing the real serials. */
struct seen {
    uint64_t *fp;
    uint64_t *off; /* offset of the line in the file, +1 (0: empty) */
    size_t mask;
};

static uint64_t fingerprint(const uint8_t *s, size_t n) {
    uint64_t h = 1469598103934665603ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* One line at a time over the mapped file. */
struct lines {
    const char *p, *end;
    uint64_t lineno;
};

static int next_line(struct lines *l, const char **line, size_t *len, uint64_t *off, const char *base) {
    while (l->p < l->end) {
        const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
        const char *stop = nl ? nl : l->end;
        const char *s = l->p;
        size_t n = (size_t)(stop - s);
        if (n > 0 && s[n - 1] == '\r') n--;
        l->p = nl ? nl + 1 : l->end;
        l->lineno++;
        if (n == 0) continue;
        *line = s;
        *len = n;
        *off = (uint64_t)(s - base);
        return 1;
    }
    return 0;
}

int ca_import_csv(struct ca_core *c, const char *name, const char *path, FILE *progress,
                  struct ca_import_result *out, struct rerr *e) {
    int fd = -1, ok = 0;
    char *map = NULL;
    size_t size = 0;
    struct seen seen = {0};
    struct store_batch *b = NULL;
    json_t *params = json_pack("{s:s}", "file", path);
    double t0 = now_sec();
    memset(out, 0, sizeof(*out));
    struct ca *ca = core_find_or_err(c, name, e);
    if (ca == NULL) goto out;
    if (ca->state == CA_STATE_PENDING) {
        rerr_set(e, "CA %s is pending (revd ca import first)", name);
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rerr_set(e, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        rerr_set(e, "%s: not a non-empty regular file", path);
        goto out;
    }
    size = (size_t)st.st_size;
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        rerr_set(e, "%s: cannot map: %s", path, strerror(errno));
        goto out;
    }
    madvise(map, size, MADV_SEQUENTIAL);

    /* Pass 1: every line checked, rows counted. */
    struct lines l = {map, map + size, 0};
    const char *line;
    size_t len;
    uint64_t off, rows = 0;
    struct csvrow row;
    int first = 1;
    while (next_line(&l, &line, &len, &off, map)) {
        if (first && csvrow_is_header(line, len)) {
            first = 0;
            continue;
        }
        first = 0;
        struct rerr why;
        if (!csvrow_parse(line, len, &row, &why)) {
            rerr_set(e, "%s:%llu: %s; nothing was imported", path, (unsigned long long)l.lineno, why.msg);
            goto out;
        }
        if (++rows > IMPORT_MAX_ROWS) {
            rerr_set(e, "%s: more than %llu rows; split the file", path, (unsigned long long)IMPORT_MAX_ROWS);
            goto out;
        }
    }
    if (rows == 0) {
        rerr_set(e, "%s: no rows", path);
        goto out;
    }
    size_t cap = 16;
    while (cap < rows * 2) cap <<= 1;
    seen.fp = calloc(cap, sizeof(uint64_t));
    seen.off = calloc(cap, sizeof(uint64_t));
    if (seen.fp == NULL || seen.off == NULL) {
        rerr_set(e, "out of memory for %llu rows", (unsigned long long)rows);
        goto out;
    }
    seen.mask = cap - 1;
    /* Pass 1b: no serial twice in the file, none already in the CA. */
    int check_index = ca->issued + ca->imported > 0;
    l = (struct lines){map, map + size, 0};
    first = 1;
    while (next_line(&l, &line, &len, &off, map)) {
        if (first && csvrow_is_header(line, len)) {
            first = 0;
            continue;
        }
        first = 0;
        csvrow_parse(line, len, &row, NULL);
        uint64_t h = fingerprint(row.serial, row.serial_len);
        size_t i = (size_t)h & seen.mask;
        for (; seen.off[i] != 0; i = (i + 1) & seen.mask) {
            if (seen.fp[i] != h) continue;
            struct csvrow other;
            const char *ol = map + seen.off[i] - 1;
            const char *oe = memchr(ol, '\n', size - (seen.off[i] - 1));
            size_t olen = oe ? (size_t)(oe - ol) : size - (seen.off[i] - 1);
            if (olen > 0 && ol[olen - 1] == '\r') olen--;
            csvrow_parse(ol, olen, &other, NULL);
            if (other.serial_len == row.serial_len && memcmp(other.serial, row.serial, row.serial_len) == 0) {
                rerr_set(e, "%s:%llu: serial %.*s appears twice in the file; nothing was imported", path,
                         (unsigned long long)l.lineno, (int)strcspn(line, ","), line);
                goto out;
            }
        }
        seen.fp[i] = h;
        seen.off[i] = off + 1;
        if (check_index) {
            uint8_t key[KEY_MAX];
            size_t kl = key_cert(key, ca->id, row.serial, row.serial_len);
            uint8_t *v;
            size_t vl;
            int r = store_get(c->st, key, kl, &v, &vl, e);
            if (r < 0) goto out;
            if (r == 1) {
                free(v);
                rerr_set(e, "%s:%llu: CA %s already has serial %.*s; nothing was imported", path,
                         (unsigned long long)l.lineno, ca->name, (int)strcspn(line, ","), line);
                goto out;
            }
        }
    }
    free(seen.fp);
    free(seen.off);
    seen.fp = NULL;
    seen.off = NULL;
    if (progress) fprintf(progress, "revd: %s: %llu rows checked in %.1f s; writing\n", path,
                          (unsigned long long)rows, now_sec() - t0);

    /* Pass 2: write. Batches go unsynced; the last is synced, which makes
     * every earlier one durable too (one WAL, written in order). */
    b = store_batch_new();
    uint64_t slots = ca->slots, written = 0, revoked = 0, held = 0;
    uint32_t last_part = UINT32_MAX;
    uint32_t next_ext = ca->next_ext_part;
    l = (struct lines){map, map + size, 0};
    first = 1;
    double last_report = now_sec();
    while (next_line(&l, &line, &len, &off, map)) {
        if (first && csvrow_is_header(line, len)) {
            first = 0;
            continue;
        }
        first = 0;
        csvrow_parse(line, len, &row, NULL);
        struct crec r = {0};
        r.flags = CREC_F_IMPORTED;
        r.not_after = row.not_after;
        r.status = row.status == CSVROW_GOOD ? CERT_GOOD : CERT_REVOKED;
        r.reason = (uint8_t)row.reason;
        r.revoked_at = row.revoked_at;
        memcpy(r.template_name, "import", 7);
        uint8_t key[KEY_MAX];
        size_t kl;
        if (row.cdp != NULL) {
            /* An imported CDP gets its own partition, found by its URI. */
            uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
            ukey[0] = K_EXTCDP;
            put_u32(ukey + 1, ca->id);
            memcpy(ukey + 5, row.cdp, row.cdp_len);
            uint8_t *v;
            size_t vl;
            int got = store_get(c->st, ukey, 5 + row.cdp_len, &v, &vl, e);
            if (got < 0) goto out;
            if (got == 1) {
                r.partition = vl == 4 ? get_u32(v) : URLS_PART_EXTERNAL;
                free(v);
            } else {
                if (next_ext >= IMPORT_MAX_CDPS) {
                    rerr_set(e, "%s:%llu: more than %d distinct CDPs", path, (unsigned long long)l.lineno,
                             IMPORT_MAX_CDPS);
                    goto out;
                }
                r.partition = URLS_PART_EXTERNAL + next_ext++;
                uint8_t pv[4];
                put_u32(pv, r.partition);
                /* Written at once (unsynced) so later rows find it. */
                struct store_batch *ub = store_batch_new();
                store_batch_put(ub, ukey, 5 + row.cdp_len, pv, 4);
                kl = key_part(key, ca->id, r.partition);
                store_batch_put(ub, key, kl, row.cdp, row.cdp_len);
                int wok = store_write(c->st, ub, 0, e);
                store_batch_free(ub);
                if (!wok) goto out;
            }
        } else if (ca->complete_crl) {
            if (slots >= CA_COMPLETE_CRL_MAX) {
                rerr_set(e, "%s:%llu: CA %s publishes one complete CRL and holds at most %d certificates",
                         path, (unsigned long long)l.lineno, ca->name, CA_COMPLETE_CRL_MAX);
                goto out;
            }
            r.partition = 0;
            slots++;
        } else {
            r.partition = (uint32_t)(slots / ca->partition_size);
            slots++;
        }
        if (r.partition != last_part && r.partition < URLS_PART_EXTERNAL) {
            char url[256];
            core_partition_url(ca, r.partition, url);
            kl = key_part(key, ca->id, r.partition);
            store_batch_put(b, key, kl, url, strlen(url));
            last_part = r.partition;
        }
        uint8_t rec[CREC_FIXED + 1 + 6 + 4];
        uint8_t *enc;
        size_t el;
        if (!crec_encode(&r, &enc, &el) || el > sizeof(rec)) abort();
        kl = key_cert(key, ca->id, row.serial, row.serial_len);
        store_batch_put(b, key, kl, enc, el);
        free(enc);
        if (r.status == CERT_REVOKED) {
            uint8_t v[REV_VALUE_LEN];
            rev_value_encode(&r, v);
            kl = key_revoked(key, ca->id, r.partition, row.serial, row.serial_len);
            store_batch_put(b, key, kl, v, sizeof(v));
            if (r.reason == REASON_CERTIFICATE_HOLD) held++;
            else revoked++;
        }
        written++;
        if (store_batch_count(b) >= IMPORT_BATCH_ROWS) {
            if (!store_write(c->st, b, 0, e)) goto out;
            store_batch_clear(b);
            double t = now_sec();
            if (progress && t - last_report >= 2.0) {
                fprintf(progress, "revd: %s: %llu of %llu rows written (%.0f%%)\n", path,
                        (unsigned long long)written, (unsigned long long)rows, 100.0 * written / rows);
                last_report = t;
            }
        }
    }
    uint64_t old_slots = ca->slots, old_imported = ca->imported, old_revoked = ca->revoked,
             old_held = ca->held;
    uint32_t old_next = ca->next_ext_part;
    ca->slots = slots;
    ca->imported += written;
    ca->revoked += revoked;
    ca->held += held;
    ca->next_ext_part = next_ext;
    core_put_ca(c, b, ca);
    json_object_set_new(params, "rows", json_integer((json_int_t)written));
    json_object_set_new(params, "revoked", json_integer((json_int_t)(revoked + held)));
    core_oplog(c, b, "import", ca->name, NULL, 0, params, "ok");
    params = NULL;
    if (!store_write(c->st, b, 1, e)) {
        ca->slots = old_slots;
        ca->imported = old_imported;
        ca->revoked = old_revoked;
        ca->held = old_held;
        ca->next_ext_part = old_next;
        goto out;
    }
    out->rows = written;
    out->revoked = revoked + held;
    out->seconds = now_sec() - t0;
    ok = 1;
out:
    if (!ok) core_oplog_failure(c, "import", name, NULL, 0, params, e);
    else json_decref(params);
    store_batch_free(b);
    free(seen.fp);
    free(seen.off);
    if (map != NULL) munmap(map, size);
    if (fd >= 0) close(fd);
    return ok;
}
