/* Bulk import of another CA's inventory, so that revd publishes its
 * revocation status.
 *
 * One pass parses and checks every line into a compact row table (about 48
 * bytes a row); the table is sorted by serial (a repeated serial is then a
 * neighbour), and written as sorted SST files that RocksDB ingests in one
 * atomic step together with the CA record and the operations-log record: a
 * crash or an error leaves the index as it was, never half an import. */
#include "ca/core.h"
#include "ca/carec.h"
#include "ca/changes.h"
#include "ca/crec.h"
#include "ca/ikey.h"
#include "ca/oplog.h"
#include "ca/partition.h"
#include "ca/store.h"
#include "common/bytes.h"
#include "common/rtime.h"
#include "common/jsonsafe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>

#include "ca/csvrow.h"
#include "common/reason.h"
#include "common/urls.h"

/* Caps on what one import may hold: rows, and distinct imported CDPs. */
#define IMPORT_MAX_ROWS 200000000ULL
#define IMPORT_MAX_CDPS 10000

struct irow {
    uint8_t serial[HEX_SERIAL_MAX + 1];
    uint8_t slen, status, reason;
    uint32_t part; /* partition; or, before the CDPs are resolved, cdp index + 1 */
    uint32_t line; /* for messages; saturates */
    uint8_t has_cdp;
    int64_t not_after, revoked_at;
};

/* The distinct CDPs of an import, found again through an open-addressed
 * table of their indexes (a file may hold many rows per CDP). */
#define CDP_SLOTS 32768 /* > 2 * IMPORT_MAX_CDPS, a power of two */
struct cdps {
    char **uri;
    uint32_t *part;
    size_t num;
    int32_t *slot; /* index + 1; 0: empty */
};

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_serial(const void *a, const void *b) {
    const struct irow *x = a, *y = b;
    if (x->slen != y->slen) return x->slen < y->slen ? -1 : 1;
    return memcmp(x->serial, y->serial, x->slen);
}

static int cmp_part_serial(const void *a, const void *b) {
    const struct irow *x = *(const struct irow *const *)a, *y = *(const struct irow *const *)b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    return cmp_serial(x, y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static long cdp_index(struct cdps *t, const char *uri, size_t len) {
    if (t->slot == NULL && (t->slot = calloc(CDP_SLOTS, sizeof(int32_t))) == NULL) abort();
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)uri[i]) * 1099511628211ULL;
    size_t i = (size_t)h & (CDP_SLOTS - 1);
    for (; t->slot[i] != 0; i = (i + 1) & (CDP_SLOTS - 1)) {
        const char *u = t->uri[t->slot[i] - 1];
        if (strlen(u) == len && memcmp(u, uri, len) == 0) return t->slot[i] - 1;
    }
    if (t->num >= IMPORT_MAX_CDPS) return -1;
    char **u = realloc(t->uri, (t->num + 1) * sizeof(*u));
    if (u == NULL) abort();
    t->uri = u;
    t->uri[t->num] = strndup(uri, len);
    t->slot[i] = (int32_t)(t->num + 1);
    return (long)t->num++;
}

/* own_crl_url: a CDP under this CA's own CRL URLs would share a URL with one
 * of its numbered partitions, and one CRL would hide the other's entries. */
static int own_crl_url(const struct ca *ca, const char *uri, size_t len) {
    char prefix[URLS_MAX + 8];
    int n = snprintf(prefix, sizeof(prefix), "%s/crl/%s", ca->base_url, ca->name);
    if (n <= 0 || (size_t)n > len || strncasecmp(uri, prefix, (size_t)n) != 0) return 0;
    return uri[n] == '/' || uri[n] == '.';
}

/* Temporary SST files under DIR/import.tmp, removed whatever happens. */
struct ssts {
    char dir[PATH_MAX];
    char *paths[8];
    size_t num;
};

static struct store_sst *sst_begin(struct ca_core *c, struct ssts *s, const char *tag, struct rerr *e) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s.sst", s->dir, tag);
    struct store_sst *w;
    if (!store_sst_open(c->st, path, &w, e)) return NULL;
    s->paths[s->num++] = strdup(path);
    return w;
}

static int sst_end(struct store_sst *w, struct rerr *e) {
    int ok = store_sst_finish(w, e);
    store_sst_free(w);
    return ok;
}

static void ssts_cleanup(struct ssts *s) {
    for (size_t i = 0; i < s->num; i++) {
        unlink(s->paths[i]);
        free(s->paths[i]);
    }
    if (s->dir[0]) rmdir(s->dir);
}

int ca_import_csv(struct ca_core *c, const char *name, const char *path, FILE *progress,
                  struct ca_import_result *out, struct rerr *e) {
    int fd = -1, ok = 0;
    char *map = NULL;
    size_t size = 0;
    struct irow *rows = NULL;
    struct irow **revoked = NULL;
    struct cdps cdps = {0};
    struct ssts ssts = {0};
    struct store_sst *w = NULL;
    char *ca_json = NULL, *op_json = NULL;
    json_t *params = json_pack("{s:o}", "file", jsafe_string(path));
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

    /* Parse and check every line; bind rows to partitions in file order. */
    size_t cap = 0, n = 0;
    uint64_t lineno = 0, slots = ca->slots;
    const char *p = map, *end = map + size;
    double last_report = t0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const char *line = p;
        size_t len = (size_t)(stop - line);
        if (len > 0 && line[len - 1] == '\r') len--;
        p = nl ? nl + 1 : end;
        lineno++;
        if (len == 0 || (lineno == 1 && csvrow_is_header(line, len))) continue;
        struct csvrow row;
        struct rerr why;
        if (!csvrow_parse(line, len, &row, &why)) {
            rerr_set(e, "%s:%llu: %s; nothing was imported", path, (unsigned long long)lineno, why.msg);
            goto out;
        }
        if (n == cap) {
            if (n >= IMPORT_MAX_ROWS) {
                rerr_set(e, "%s: more than %llu rows; split the file", path, (unsigned long long)IMPORT_MAX_ROWS);
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            struct irow *r = realloc(rows, cap * sizeof(*r));
            if (r == NULL) {
                rerr_set(e, "out of memory for %zu rows", cap);
                goto out;
            }
            rows = r;
        }
        struct irow *r = &rows[n++];
        memcpy(r->serial, row.serial, row.serial_len);
        r->slen = (uint8_t)row.serial_len;
        r->status = row.status == CSVROW_GOOD ? CERT_GOOD : CERT_REVOKED;
        r->reason = (uint8_t)row.reason;
        r->not_after = row.not_after;
        r->revoked_at = row.revoked_at;
        r->line = lineno > UINT32_MAX ? UINT32_MAX : (uint32_t)lineno;
        r->has_cdp = row.cdp != NULL;
        if (row.cdp != NULL) {
            if (own_crl_url(ca, row.cdp, row.cdp_len)) {
                rerr_set(e,
                         "%s:%llu: cdp %.*s is one of CA %s's own CRL URLs; leave the column empty "
                         "to bind the row to revd's partitions; nothing was imported",
                         path, (unsigned long long)lineno, (int)row.cdp_len, row.cdp, ca->name);
                goto out;
            }
            long i = cdp_index(&cdps, row.cdp, row.cdp_len);
            if (i < 0) {
                rerr_set(e, "%s:%llu: more than %d distinct CDPs", path, (unsigned long long)lineno, IMPORT_MAX_CDPS);
                goto out;
            }
            r->part = (uint32_t)i;
        } else if (ca->complete_crl) {
            if (slots >= CA_COMPLETE_CRL_MAX) {
                rerr_set(e, "%s:%llu: CA %s publishes one complete CRL and holds at most %d certificates",
                         path, (unsigned long long)lineno, ca->name, CA_COMPLETE_CRL_MAX);
                goto out;
            }
            r->part = 0;
            slots++;
        } else {
            r->part = (uint32_t)(slots++ / ca->partition_size);
            if (r->part >= URLS_PART_EXTERNAL) {
                rerr_set(e, "%s:%llu: CA %s has used every partition number", path,
                         (unsigned long long)lineno, ca->name);
                goto out;
            }
        }
        if (progress && (n & 0xfffff) == 0 && now_sec() - last_report >= 2.0) {
            last_report = now_sec();
            fprintf(progress, "revd: %s: %zu rows read (%.0f%%)\n", path, n, 100.0 * (double)(p - map) / (double)size);
            fflush(progress);
        }
    }
    if (n == 0) {
        rerr_set(e, "%s: no rows", path);
        goto out;
    }
    uint64_t first_slot = ca->slots;

    /* A serial twice in the file, or one the CA already has, refuses it all. */
    qsort(rows, n, sizeof(*rows), cmp_serial);
    for (size_t i = 1; i < n; i++) {
        if (cmp_serial(&rows[i - 1], &rows[i]) == 0) {
            char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
            hex_encode_serial(rows[i].serial, rows[i].slen, hex);
            rerr_set(e, "%s: serial %s is on lines %u and %u; nothing was imported", path, hex,
                     rows[i - 1].line < rows[i].line ? rows[i - 1].line : rows[i].line,
                     rows[i - 1].line < rows[i].line ? rows[i].line : rows[i - 1].line);
            goto out;
        }
    }
    if (ca->issued + ca->imported > 0) {
        for (size_t i = 0; i < n; i++) {
            uint8_t key[KEY_MAX];
            size_t kl = ikey_cert(key, ca->id, rows[i].serial, rows[i].slen);
            uint8_t *v;
            size_t vl;
            int r = store_get(c->st, key, kl, &v, &vl, e);
            if (r < 0) goto out;
            if (r == 1) {
                free(v);
                char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
                hex_encode_serial(rows[i].serial, rows[i].slen, hex);
                rerr_set(e, "%s:%u: CA %s already has serial %s; nothing was imported", path, rows[i].line,
                         ca->name, hex);
                goto out;
            }
        }
    }
    /* Imported CDPs: the partition they already have, or a new one. */
    uint32_t next_ext = ca->next_ext_part;
    cdps.part = calloc(cdps.num + 1, sizeof(uint32_t));
    char **new_uris = calloc(cdps.num + 1, sizeof(char *));
    size_t num_new = 0;
    for (size_t i = 0; i < cdps.num; i++) {
        uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
        size_t ul = strlen(cdps.uri[i]);
        ukey[0] = K_EXTCDP;
        bytes_put_u32(ukey + 1, ca->id);
        memcpy(ukey + 5, cdps.uri[i], ul);
        uint8_t *v;
        size_t vl;
        int got = store_get(c->st, ukey, 5 + ul, &v, &vl, e);
        if (got < 0) {
            free(new_uris);
            goto out;
        }
        if (got == 1) {
            cdps.part[i] = vl == 4 ? bytes_get_u32(v) : URLS_PART_EXTERNAL;
            free(v);
        } else {
            if (next_ext >= IMPORT_MAX_CDPS) {
                free(new_uris);
                rerr_set(e, "%s: CA %s would have more than %d imported CDPs", path, ca->name, IMPORT_MAX_CDPS);
                goto out;
            }
            cdps.part[i] = URLS_PART_EXTERNAL + next_ext++;
            new_uris[num_new++] = cdps.uri[i];
        }
    }
    size_t num_revoked = 0;
    uint64_t num_held = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].has_cdp) rows[i].part = cdps.part[rows[i].part];
        if (rows[i].status == CERT_REVOKED) {
            num_revoked++;
            if (rows[i].reason == REASON_CERTIFICATE_HOLD) num_held++;
        }
    }
    if (progress) {
        fprintf(progress, "revd: %s: %zu rows checked in %.1f s; writing\n", path, n, now_sec() - t0);
        fflush(progress);
    }

    /* The SST files, one per key prefix (their ranges cannot overlap). */
    snprintf(ssts.dir, sizeof(ssts.dir), "%s/import.tmp.%ld", c->dir, (long)getpid());
    if (mkdir(ssts.dir, 0700) != 0) {
        rerr_set(e, "%s: cannot create: %s", ssts.dir, strerror(errno));
        ssts.dir[0] = '\0';
        free(new_uris);
        goto out;
    }
    /* 'a': the CA record with its new counters. */
    struct ca saved = *ca;
    ca->slots = slots;
    ca->imported += n;
    ca->revoked += num_revoked - num_held;
    ca->held += num_held;
    ca->next_ext_part = next_ext;
    uint8_t akey[1 + CA_NAME_MAX];
    size_t akl;
    ca_json = carec_encode(ca, akey, &akl);
    ca->slots = saved.slots;
    ca->imported = saved.imported;
    ca->revoked = saved.revoked;
    ca->held = saved.held;
    ca->next_ext_part = saved.next_ext_part;
    if (ca_json == NULL || (w = sst_begin(c, &ssts, "a", e)) == NULL ||
        !store_sst_put(w, akey, akl, ca_json, strlen(ca_json), e) || !sst_end(w, e)) {
        w = NULL;
        free(new_uris);
        goto out;
    }
    /* 'o': the operations-log record. */
    json_object_set_new(params, "rows", json_integer((json_int_t)n));
    json_object_set_new(params, "revoked", json_integer((json_int_t)num_revoked));
    uint8_t okey[9];
    op_json = oplog_encode(c, okey, "import", ca->name, NULL, 0, params, "ok");
    params = NULL;
    /* With the audit head ('m' sorts before 'o'), in the same file. */
    uint8_t hkey[16], hval[AUDIT_HEAD_LEN];
    size_t hkl = oplog_head(c, hkey, hval);
    if ((w = sst_begin(c, &ssts, "o", e)) == NULL || !store_sst_put(w, hkey, hkl, hval, sizeof(hval), e) ||
        !store_sst_put(w, okey, 9, op_json, strlen(op_json), e) || !sst_end(w, e)) {
        w = NULL;
        oplog_rollback(c);
        free(new_uris);
        goto out;
    }
    /* 'p': every partition the rows are bound to, with its CDP. */
    uint8_t key[KEY_MAX];
    char url[URLS_MAX];
    if ((w = sst_begin(c, &ssts, "p", e)) == NULL) goto fail_sst;
    if (slots > first_slot) {
        uint32_t last_part = ca->complete_crl ? 0 : (uint32_t)((slots - 1) / ca->partition_size);
        uint32_t first_part = ca->complete_crl ? 0 : (uint32_t)(first_slot / ca->partition_size);
        for (uint32_t pt = first_part; pt <= last_part; pt++) {
            partition_url(ca, pt, url);
            size_t kl = ikey_part(key, ca->id, pt);
            if (!store_sst_put(w, key, kl, url, strlen(url), e)) goto fail_sst;
        }
    }
    for (uint32_t x = ca->next_ext_part; x < next_ext; x++) {
        const char *u = NULL;
        for (size_t i = 0; i < cdps.num; i++)
            if (cdps.part[i] == URLS_PART_EXTERNAL + x) u = cdps.uri[i];
        size_t kl = ikey_part(key, ca->id, URLS_PART_EXTERNAL + x);
        if (u == NULL || !store_sst_put(w, key, kl, u, strlen(u), e)) goto fail_sst;
    }
    if (slots == first_slot && next_ext == ca->next_ext_part) {
        /* No partition record to write: an SST needs at least one key. */
        store_sst_free(w);
        w = NULL;
        unlink(ssts.paths[--ssts.num]);
        free(ssts.paths[ssts.num]);
    } else if (!sst_end(w, e)) {
        w = NULL;
        goto fail_sst;
    }
    w = NULL;
    /* 'r': the revocation entries, by partition then serial. */
    if (num_revoked > 0) {
        revoked = malloc(num_revoked * sizeof(*revoked));
        if (revoked == NULL) {
            rerr_set(e, "out of memory");
            goto fail_sst;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (rows[i].status == CERT_REVOKED) revoked[k++] = &rows[i];
        qsort(revoked, num_revoked, sizeof(*revoked), cmp_part_serial);
        if ((w = sst_begin(c, &ssts, "r", e)) == NULL) goto fail_sst;
        for (size_t i = 0; i < num_revoked; i++) {
            struct crec cr = {.revoked_at = revoked[i]->revoked_at, .reason = revoked[i]->reason,
                              .not_after = revoked[i]->not_after};
            uint8_t v[REV_VALUE_LEN];
            crec_rev_value(&cr, v);
            size_t kl = ikey_revoked(key, ca->id, revoked[i]->part, revoked[i]->serial, revoked[i]->slen);
            if (!store_sst_put(w, key, kl, v, sizeof(v), e)) goto fail_sst;
        }
        if (!sst_end(w, e)) {
            w = NULL;
            goto fail_sst;
        }
        w = NULL;
    }
    /* 'u': the new imported CDPs, by URI. */
    if (num_new > 0) {
        qsort(new_uris, num_new, sizeof(char *), cmp_str);
        if ((w = sst_begin(c, &ssts, "u", e)) == NULL) goto fail_sst;
        for (size_t i = 0; i < num_new; i++) {
            uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
            size_t ul = strlen(new_uris[i]);
            ukey[0] = K_EXTCDP;
            bytes_put_u32(ukey + 1, ca->id);
            memcpy(ukey + 5, new_uris[i], ul);
            uint32_t pt = 0;
            for (size_t j = 0; j < cdps.num; j++)
                if (cdps.uri[j] == new_uris[i]) pt = cdps.part[j];
            uint8_t v[4];
            bytes_put_u32(v, pt);
            if (!store_sst_put(w, ukey, 5 + ul, v, 4, e)) goto fail_sst;
        }
        if (!sst_end(w, e)) {
            w = NULL;
            goto fail_sst;
        }
        w = NULL;
    }
    /* 'x': the certificate records, by serial. */
    if ((w = sst_begin(c, &ssts, "x", e)) == NULL) goto fail_sst;
    for (size_t i = 0; i < n; i++) {
        struct crec cr = {0};
        cr.flags = CREC_F_IMPORTED;
        cr.status = rows[i].status;
        cr.reason = rows[i].reason;
        cr.partition = rows[i].part;
        cr.not_after = rows[i].not_after;
        cr.revoked_at = rows[i].revoked_at;
        memcpy(cr.template_name, "import", 7);
        uint8_t rec[CREC_FIXED + 1 + 6 + 4];
        size_t rl = sizeof(rec);
        uint8_t *enc;
        if (!crec_encode(&cr, &enc, &rl)) abort();
        memcpy(rec, enc, rl);
        free(enc);
        size_t kl = ikey_cert(key, ca->id, rows[i].serial, rows[i].slen);
        if (!store_sst_put(w, key, kl, rec, rl, e)) goto fail_sst;
    }
    if (!sst_end(w, e)) {
        w = NULL;
        goto fail_sst;
    }
    w = NULL;
    if (!store_ingest(c->st, (const char *const *)ssts.paths, ssts.num, e)) goto fail_sst;
    oplog_written(c);
    free(new_uris);
    ca->slots = slots;
    ca->imported += n;
    ca->revoked += num_revoked - num_held;
    ca->held += num_held;
    ca->next_ext_part = next_ext;
    changes_all(c);
    out->rows = n;
    out->revoked = num_revoked;
    out->seconds = now_sec() - t0;
    ok = 1;
    goto out;
fail_sst:
    free(new_uris);
    oplog_rollback(c);
out:
    if (!ok) oplog_failure(c, "import", name, NULL, 0, params, e);
    else json_decref(params);
    store_sst_free(w);
    ssts_cleanup(&ssts);
    free(ca_json);
    free(op_json);
    free(revoked);
    free(rows);
    for (size_t i = 0; i < cdps.num; i++) free(cdps.uri[i]);
    free(cdps.uri);
    free(cdps.part);
    free(cdps.slot);
    if (map != NULL) munmap(map, size);
    if (fd >= 0) close(fd);
    return ok;
}
