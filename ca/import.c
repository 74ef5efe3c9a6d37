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

/* One import, carried through its steps. The rows, the CDPs and the SST
 * files are freed by import_cleanup whatever happens. */
struct import {
    struct ca_core *c;
    struct ca *ca;
    const char *path;
    FILE *progress;
    double t0;
    int fd;
    char *map;
    size_t size;
    struct irow *rows;
    size_t n;
    struct cdps cdps;
    uint64_t slots, first_slot; /* the CA's bound certificates after the import, and before */
    uint32_t next_ext;          /* the CA's next imported-CDP partition after the import */
    char **new_uris;            /* CDPs new to the CA (views into cdps.uri) */
    size_t num_new;
    size_t num_revoked;
    uint64_t num_held;
    struct irow **revoked;      /* the revoked rows, by partition then serial */
    struct ssts ssts;
    char *ca_json, *op_json;
};

/* import_map maps the file whole. */
static int import_map(struct import *im, struct rerr *e) {
    im->fd = open(im->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (im->fd < 0 || fstat(im->fd, &st) != 0) return rerr_set(e, "%s: cannot open: %s", im->path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return rerr_set(e, "%s: not a non-empty regular file", im->path);
    im->size = (size_t)st.st_size;
    im->map = mmap(NULL, im->size, PROT_READ, MAP_PRIVATE, im->fd, 0);
    if (im->map == MAP_FAILED) {
        im->map = NULL;
        return rerr_set(e, "%s: cannot map: %s", im->path, strerror(errno));
    }
    madvise(im->map, im->size, MADV_SEQUENTIAL);
    return 1;
}

/* import_bind binds row r (of line lineno) to its partition: an imported
 * CDP's (an index into cdps until import_bind_cdps), or the next slot's. */
static int import_bind(struct import *im, struct irow *r, const struct csvrow *row, uint64_t lineno, struct rerr *e) {
    const struct ca *ca = im->ca;
    if (row->cdp != NULL) {
        if (own_crl_url(ca, row->cdp, row->cdp_len))
            return rerr_set(e,
                            "%s:%llu: cdp %.*s is one of CA %s's own CRL URLs; leave the column empty "
                            "to bind the row to revd's partitions; nothing was imported",
                            im->path, (unsigned long long)lineno, (int)row->cdp_len, row->cdp, ca->name);
        long i = cdp_index(&im->cdps, row->cdp, row->cdp_len);
        if (i < 0)
            return rerr_set(e, "%s:%llu: more than %d distinct CDPs", im->path, (unsigned long long)lineno,
                            IMPORT_MAX_CDPS);
        r->part = (uint32_t)i;
    } else if (ca->complete_crl) {
        if (im->slots >= CA_COMPLETE_CRL_MAX)
            return rerr_set(e, "%s:%llu: CA %s publishes one complete CRL and holds at most %d certificates",
                            im->path, (unsigned long long)lineno, ca->name, CA_COMPLETE_CRL_MAX);
        r->part = 0;
        im->slots++;
    } else {
        r->part = (uint32_t)(im->slots++ / ca->partition_size);
        if (r->part >= URLS_PART_EXTERNAL)
            return rerr_set(e, "%s:%llu: CA %s has used every partition number", im->path,
                            (unsigned long long)lineno, ca->name);
    }
    return 1;
}

/* import_parse parses and checks every line into im->rows, binding rows
 * to partitions in file order. */
static int import_parse(struct import *im, struct rerr *e) {
    size_t cap = 0;
    uint64_t lineno = 0;
    im->slots = im->first_slot = im->ca->slots;
    const char *p = im->map, *end = im->map + im->size;
    double last_report = im->t0;
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
        if (!csvrow_parse(line, len, &row, &why))
            return rerr_set(e, "%s:%llu: %s; nothing was imported", im->path, (unsigned long long)lineno, why.msg);
        if (im->n == cap) {
            if (im->n >= IMPORT_MAX_ROWS)
                return rerr_set(e, "%s: more than %llu rows; split the file", im->path,
                                (unsigned long long)IMPORT_MAX_ROWS);
            cap = cap ? cap * 2 : 65536;
            struct irow *r = realloc(im->rows, cap * sizeof(*r));
            if (r == NULL) return rerr_set(e, "out of memory for %zu rows", cap);
            im->rows = r;
        }
        struct irow *r = &im->rows[im->n++];
        memcpy(r->serial, row.serial, row.serial_len);
        r->slen = (uint8_t)row.serial_len;
        r->status = row.status == CSVROW_GOOD ? CERT_GOOD : CERT_REVOKED;
        r->reason = (uint8_t)row.reason;
        r->not_after = row.not_after;
        r->revoked_at = row.revoked_at;
        r->line = lineno > UINT32_MAX ? UINT32_MAX : (uint32_t)lineno;
        r->has_cdp = row.cdp != NULL;
        if (!import_bind(im, r, &row, lineno, e)) return 0;
        if (im->progress && (im->n & 0xfffff) == 0 && rtime_mono() - last_report >= 2.0) {
            last_report = rtime_mono();
            fprintf(im->progress, "revd: %s: %zu rows read (%.0f%%)\n", im->path, im->n,
                    100.0 * (double)(p - im->map) / (double)im->size);
            fflush(im->progress);
        }
    }
    if (im->n == 0) return rerr_set(e, "%s: no rows", im->path);
    return 1;
}

/* import_check_serials: a serial twice in the file, or one the CA already
 * has, refuses it all. Leaves the rows sorted by serial. */
static int import_check_serials(struct import *im, struct rerr *e) {
    struct irow *rows = im->rows;
    qsort(rows, im->n, sizeof(*rows), cmp_serial);
    for (size_t i = 1; i < im->n; i++) {
        if (cmp_serial(&rows[i - 1], &rows[i]) == 0) {
            char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
            hex_encode_serial(rows[i].serial, rows[i].slen, hex);
            return rerr_set(e, "%s: serial %s is on lines %u and %u; nothing was imported", im->path, hex,
                            rows[i - 1].line < rows[i].line ? rows[i - 1].line : rows[i].line,
                            rows[i - 1].line < rows[i].line ? rows[i].line : rows[i - 1].line);
        }
    }
    if (im->ca->issued + im->ca->imported == 0) return 1;
    for (size_t i = 0; i < im->n; i++) {
        uint8_t key[KEY_MAX];
        size_t kl = ikey_cert(key, im->ca->id, rows[i].serial, rows[i].slen);
        uint8_t *v;
        size_t vl;
        int r = store_get(im->c->st, key, kl, &v, &vl, e);
        if (r < 0) return 0;
        if (r == 1) {
            free(v);
            char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
            hex_encode_serial(rows[i].serial, rows[i].slen, hex);
            return rerr_set(e, "%s:%u: CA %s already has serial %s; nothing was imported", im->path, rows[i].line,
                            im->ca->name, hex);
        }
    }
    return 1;
}

/* ext_cdp_key: the 'u' key of an imported CDP; returns its length. */
static size_t ext_cdp_key(uint8_t out[1 + 4 + CSVROW_MAX_CDP], uint32_t ca_id, const char *uri) {
    size_t ul = strlen(uri);
    out[0] = K_EXTCDP;
    bytes_put_u32(out + 1, ca_id);
    memcpy(out + 5, uri, ul);
    return 5 + ul;
}

/* import_bind_cdps gives each imported CDP the partition it already has,
 * or a new one; binds the rows to them, and counts the revoked rows. */
static int import_bind_cdps(struct import *im, struct rerr *e) {
    struct cdps *cdps = &im->cdps;
    im->next_ext = im->ca->next_ext_part;
    cdps->part = calloc(cdps->num + 1, sizeof(uint32_t));
    im->new_uris = calloc(cdps->num + 1, sizeof(char *));
    for (size_t i = 0; i < cdps->num; i++) {
        uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
        size_t ukl = ext_cdp_key(ukey, im->ca->id, cdps->uri[i]);
        uint8_t *v;
        size_t vl;
        int got = store_get(im->c->st, ukey, ukl, &v, &vl, e);
        if (got < 0) return 0;
        if (got == 1) {
            cdps->part[i] = vl == 4 ? bytes_get_u32(v) : URLS_PART_EXTERNAL;
            free(v);
        } else {
            if (im->next_ext >= IMPORT_MAX_CDPS)
                return rerr_set(e, "%s: CA %s would have more than %d imported CDPs", im->path, im->ca->name,
                                IMPORT_MAX_CDPS);
            cdps->part[i] = URLS_PART_EXTERNAL + im->next_ext++;
            im->new_uris[im->num_new++] = cdps->uri[i];
        }
    }
    for (size_t i = 0; i < im->n; i++) {
        struct irow *r = &im->rows[i];
        if (r->has_cdp) r->part = cdps->part[r->part];
        if (r->status == CERT_REVOKED) {
            im->num_revoked++;
            if (r->reason == REASON_CERTIFICATE_HOLD) im->num_held++;
        }
    }
    return 1;
}

/* import_apply adds the import's counters to ca. */
static void import_apply(const struct import *im, struct ca *ca) {
    ca->slots = im->slots;
    ca->imported += im->n;
    ca->revoked += im->num_revoked - im->num_held;
    ca->held += im->num_held;
    ca->next_ext_part = im->next_ext;
}

/* write_ca: the 'a' file, the CA record with its new counters. */
static int write_ca(struct import *im, struct rerr *e) {
    struct ca *ca = im->ca;
    struct ca saved = *ca;
    import_apply(im, ca);
    uint8_t akey[1 + CA_NAME_MAX];
    size_t akl;
    im->ca_json = carec_encode(ca, akey, &akl);
    ca->slots = saved.slots;
    ca->imported = saved.imported;
    ca->revoked = saved.revoked;
    ca->held = saved.held;
    ca->next_ext_part = saved.next_ext_part;
    if (im->ca_json == NULL) return rerr_set(e, "out of memory");
    struct store_sst *w = sst_begin(im->c, &im->ssts, "a", e);
    if (w == NULL) return 0;
    if (!store_sst_put(w, akey, akl, im->ca_json, strlen(im->ca_json), e)) {
        store_sst_free(w);
        return 0;
    }
    return sst_end(w, e);
}

/* write_oplog: the 'o' file, the operations-log record with the audit
 * head ('m' sorts before 'o'). Takes *params. */
static int write_oplog(struct import *im, json_t **params, struct rerr *e) {
    json_object_set_new(*params, "rows", json_integer((json_int_t)im->n));
    json_object_set_new(*params, "revoked", json_integer((json_int_t)im->num_revoked));
    uint8_t okey[9];
    im->op_json = oplog_encode(im->c, okey, "import", im->ca->name, NULL, 0, *params, "ok");
    *params = NULL;
    uint8_t hkey[16], hval[AUDIT_HEAD_LEN];
    size_t hkl = oplog_head(im->c, hkey, hval);
    struct store_sst *w = sst_begin(im->c, &im->ssts, "o", e);
    if (w == NULL) return 0;
    if (!store_sst_put(w, hkey, hkl, hval, sizeof(hval), e) ||
        !store_sst_put(w, okey, 9, im->op_json, strlen(im->op_json), e)) {
        store_sst_free(w);
        return 0;
    }
    return sst_end(w, e);
}

/* write_partitions: the 'p' file, every partition the rows are bound to,
 * with its CDP (none when the rows are bound to none new). */
static int write_partitions(struct import *im, struct rerr *e) {
    const struct ca *ca = im->ca;
    uint8_t key[KEY_MAX];
    char url[URLS_MAX];
    struct store_sst *w = sst_begin(im->c, &im->ssts, "p", e);
    if (w == NULL) return 0;
    if (im->slots > im->first_slot) {
        uint32_t last_part = ca->complete_crl ? 0 : (uint32_t)((im->slots - 1) / ca->partition_size);
        uint32_t first_part = ca->complete_crl ? 0 : (uint32_t)(im->first_slot / ca->partition_size);
        for (uint32_t pt = first_part; pt <= last_part; pt++) {
            partition_url(ca, pt, url);
            size_t kl = ikey_part(key, ca->id, pt);
            if (!store_sst_put(w, key, kl, url, strlen(url), e)) goto fail;
        }
    }
    for (uint32_t x = ca->next_ext_part; x < im->next_ext; x++) {
        const char *u = NULL;
        for (size_t i = 0; i < im->cdps.num; i++)
            if (im->cdps.part[i] == URLS_PART_EXTERNAL + x) u = im->cdps.uri[i];
        size_t kl = ikey_part(key, ca->id, URLS_PART_EXTERNAL + x);
        if (u == NULL || !store_sst_put(w, key, kl, u, strlen(u), e)) goto fail;
    }
    if (im->slots == im->first_slot && im->next_ext == ca->next_ext_part) {
        /* No partition record to write: an SST needs at least one key. */
        store_sst_free(w);
        unlink(im->ssts.paths[--im->ssts.num]);
        free(im->ssts.paths[im->ssts.num]);
        return 1;
    }
    return sst_end(w, e);
fail:
    store_sst_free(w);
    return 0;
}

/* write_revoked: the 'r' file, the revocation entries by partition then
 * serial. */
static int write_revoked(struct import *im, struct rerr *e) {
    if (im->num_revoked == 0) return 1;
    im->revoked = malloc(im->num_revoked * sizeof(*im->revoked));
    if (im->revoked == NULL) return rerr_set(e, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < im->n; i++)
        if (im->rows[i].status == CERT_REVOKED) im->revoked[k++] = &im->rows[i];
    qsort(im->revoked, im->num_revoked, sizeof(*im->revoked), cmp_part_serial);
    struct store_sst *w = sst_begin(im->c, &im->ssts, "r", e);
    if (w == NULL) return 0;
    uint8_t key[KEY_MAX];
    for (size_t i = 0; i < im->num_revoked; i++) {
        const struct irow *r = im->revoked[i];
        struct crec cr = {.revoked_at = r->revoked_at, .reason = r->reason, .not_after = r->not_after};
        uint8_t v[REV_VALUE_LEN];
        crec_rev_value(&cr, v);
        size_t kl = ikey_revoked(key, im->ca->id, r->part, r->serial, r->slen);
        if (!store_sst_put(w, key, kl, v, sizeof(v), e)) {
            store_sst_free(w);
            return 0;
        }
    }
    return sst_end(w, e);
}

/* write_part_changes: the 'd' file, a new change number (the import's
 * log record) for each partition it adds revoked certificates to: their
 * CRLs are stale, the others stay current (ca_crl_part_change). After
 * write_revoked, whose order (partition, then serial) it walks. */
static int write_part_changes(struct import *im, struct rerr *e) {
    if (im->num_revoked == 0) return 1;
    struct store_sst *w = sst_begin(im->c, &im->ssts, "d", e);
    if (w == NULL) return 0;
    uint8_t key[KEY_MAX], v[8];
    bytes_put_u64(v, im->c->oplog_seq);
    for (size_t i = 0; i < im->num_revoked; i++) {
        if (i > 0 && im->revoked[i]->part == im->revoked[i - 1]->part) continue;
        size_t kl = ikey_part_change(key, im->ca->id, im->revoked[i]->part);
        if (!store_sst_put(w, key, kl, v, sizeof(v), e)) {
            store_sst_free(w);
            return 0;
        }
    }
    return sst_end(w, e);
}

/* write_cdps: the 'u' file, the new imported CDPs by URI. */
static int write_cdps(struct import *im, struct rerr *e) {
    if (im->num_new == 0) return 1;
    qsort(im->new_uris, im->num_new, sizeof(char *), cmp_str);
    struct store_sst *w = sst_begin(im->c, &im->ssts, "u", e);
    if (w == NULL) return 0;
    for (size_t i = 0; i < im->num_new; i++) {
        uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
        size_t ukl = ext_cdp_key(ukey, im->ca->id, im->new_uris[i]);
        uint32_t pt = 0;
        for (size_t j = 0; j < im->cdps.num; j++)
            if (im->cdps.uri[j] == im->new_uris[i]) pt = im->cdps.part[j];
        uint8_t v[4];
        bytes_put_u32(v, pt);
        if (!store_sst_put(w, ukey, ukl, v, 4, e)) {
            store_sst_free(w);
            return 0;
        }
    }
    return sst_end(w, e);
}

/* write_certs: the 'x' file, the certificate records by serial. */
static int write_certs(struct import *im, struct rerr *e) {
    struct store_sst *w = sst_begin(im->c, &im->ssts, "x", e);
    if (w == NULL) return 0;
    uint8_t key[KEY_MAX];
    for (size_t i = 0; i < im->n; i++) {
        const struct irow *r = &im->rows[i];
        struct crec cr = {0};
        cr.flags = CREC_F_IMPORTED;
        cr.status = r->status;
        cr.reason = r->reason;
        cr.partition = r->part;
        cr.not_after = r->not_after;
        cr.revoked_at = r->revoked_at;
        memcpy(cr.template_name, "import", 7);
        uint8_t rec[CREC_FIXED + 1 + 6 + 4];
        size_t rl = sizeof(rec);
        uint8_t *enc;
        if (!crec_encode(&cr, &enc, &rl)) abort();
        memcpy(rec, enc, rl);
        free(enc);
        size_t kl = ikey_cert(key, im->ca->id, r->serial, r->slen);
        if (!store_sst_put(w, key, kl, rec, rl, e)) {
            store_sst_free(w);
            return 0;
        }
    }
    return sst_end(w, e);
}

static void import_cleanup(struct import *im) {
    ssts_cleanup(&im->ssts);
    free(im->ca_json);
    free(im->op_json);
    free(im->revoked);
    free(im->new_uris);
    free(im->rows);
    for (size_t i = 0; i < im->cdps.num; i++) free(im->cdps.uri[i]);
    free(im->cdps.uri);
    free(im->cdps.part);
    free(im->cdps.slot);
    if (im->map != NULL) munmap(im->map, im->size);
    if (im->fd >= 0) close(im->fd);
}

int ca_import_csv(struct ca_core *c, const char *name, const char *path, FILE *progress,
                  struct ca_import_result *out, struct rerr *e) {
    int ok = 0;
    struct import im = {.c = c, .path = path, .progress = progress, .fd = -1};
    json_t *params = json_pack("{s:o}", "file", jsafe_string(path));
    im.t0 = rtime_mono();
    memset(out, 0, sizeof(*out));
    im.ca = core_find_or_err(c, name, e);
    if (im.ca == NULL) goto out;
    if (im.ca->state == CA_STATE_PENDING) {
        rerr_set(e, "CA %s is pending (revd ca import first)", name);
        goto out;
    }
    if (!import_map(&im, e) || !import_parse(&im, e) || !import_check_serials(&im, e) ||
        !import_bind_cdps(&im, e))
        goto out;
    if (progress) {
        fprintf(progress, "revd: %s: %zu rows checked in %.1f s; writing\n", path, im.n, rtime_mono() - im.t0);
        fflush(progress);
    }
    /* The SST files, one per key prefix (their ranges cannot overlap). */
    snprintf(im.ssts.dir, sizeof(im.ssts.dir), "%s/import.tmp.%ld", c->dir, (long)getpid());
    if (mkdir(im.ssts.dir, 0700) != 0) {
        rerr_set(e, "%s: cannot create: %s", im.ssts.dir, strerror(errno));
        im.ssts.dir[0] = '\0';
        goto out;
    }
    if (!write_ca(&im, e)) goto out;
    /* From here a failure takes back the log record given out (oplog_failure
     * does too, before it records the failure). */
    if (!write_oplog(&im, &params, e) || !write_partitions(&im, e) || !write_revoked(&im, e) ||
        !write_part_changes(&im, e) ||
        !write_cdps(&im, e) || !write_certs(&im, e) ||
        !store_ingest(c->st, (const char *const *)im.ssts.paths, im.ssts.num, e)) {
        oplog_rollback(c);
        goto out;
    }
    oplog_written(c);
    import_apply(&im, im.ca);
    changes_all(c);
    out->rows = im.n;
    out->revoked = im.num_revoked;
    out->seconds = rtime_mono() - im.t0;
    ok = 1;
out:
    if (!ok) oplog_failure(c, "import", name, NULL, 0, params, e);
    else json_decref(params);
    import_cleanup(&im);
    return ok;
}
