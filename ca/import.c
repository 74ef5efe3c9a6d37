/* Bulk import of another CA's inventory, so that revd publishes its
 * revocation status, in memory bounded whatever the file's size.
 *
 * The file is read through a buffer of IMPORT_READ_BUF bytes; every line is
 * checked and bound to its partition into a chunk of at most chunk_rows
 * compact rows (48 bytes each). A full chunk is sorted and written as two
 * sorted runs (ca/extsort.h) under DIR/import.tmp.PID: every row by serial,
 * and the revoked rows by partition then serial; the last chunk stays in
 * memory. Merging the runs by serial finds a serial twice in the file (now
 * neighbours) or one the CA already has, and writes the certificate
 * records as sorted SST files whose ranges do not overlap; merging the
 * revoked runs writes the revocation entries the same way. RocksDB then
 * ingests every file together with the CA record and the operations-log
 * record in one atomic step: a crash or an error leaves the index as it
 * was, never half an import. What a killed import left in DIR/import.tmp.*
 * is removed by the next one. */
#include "ca/chlog.h"
#include "ca/core.h"
#include "ca/carec.h"
#include "ca/changes.h"
#include "ca/crec.h"
#include "ca/extsort.h"
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
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>

#include "ca/csvrow.h"
#include "common/reason.h"
#include "common/urls.h"

/* Caps on what one import may hold: rows, and distinct imported CDPs. */
#define IMPORT_MAX_ROWS ((uint64_t)CA_IMPORT_CHUNK_ROWS_MAX)
#define IMPORT_MAX_CDPS 10000
/* The file is read through a buffer this large (> CSVROW_MAX_LINE). */
#define IMPORT_READ_BUF (1 << 20)
/* The most SST files of certificate records, and of revocation entries:
 * files whose range overlaps keys already in the index (a CA that has
 * certificates) land in level 0, where RocksDB slows writes down at 20
 * files. A file holds at least chunk_rows keys. */
#define IMPORT_SSTS_PER_KIND 8
/* Seconds between progress lines. */
#define IMPORT_PROGRESS_S 2.0

struct irow {
    int64_t not_after, revoked_at;
    uint32_t part; /* partition */
    uint32_t line; /* for messages; saturates */
    uint8_t serial[HEX_SERIAL_MAX + 1];
    uint8_t slen, status, reason;
};
_Static_assert(sizeof(struct irow) == 48, "struct irow is the 48 bytes a row costs in memory and in a run");

/* The distinct CDPs of an import with their partitions, found again through
 * an open-addressed table of their indexes (a file may hold many rows per
 * CDP). */
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
    const struct irow *x = a, *y = b;
    if (x->part != y->part) return x->part < y->part ? -1 : 1;
    return cmp_serial(x, y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cdp_index: the index of uri, added (*added = 1) when new; -1 past
 * IMPORT_MAX_CDPS. */
static long cdp_index(struct cdps *t, const char *uri, size_t len, int *added) {
    *added = 0;
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
    uint32_t *p = realloc(t->part, (t->num + 1) * sizeof(*p));
    if (p == NULL) abort();
    t->part = p;
    if ((t->uri[t->num] = strndup(uri, len)) == NULL) abort();
    t->slot[i] = (int32_t)(t->num + 1);
    *added = 1;
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

/* Temporary SST files under DIR/import.tmp.PID, removed whatever happens
 * (those RocksDB ingested are moved away by then). */
struct ssts {
    char dir[PATH_MAX];
    char **paths;
    size_t num, cap;
};

static struct store_sst *sst_begin(struct ca_core *c, struct ssts *s, const char *tag, struct rerr *e) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/%s.sst", s->dir, tag);
    if (s->num == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **p = realloc(s->paths, cap * sizeof(*p));
        if (p == NULL) return rerr_set(e, "out of memory"), NULL;
        s->paths = p;
        s->cap = cap;
    }
    struct store_sst *w;
    if (!store_sst_open(c->st, path, &w, e)) return NULL;
    if ((s->paths[s->num] = strdup(path)) == NULL) abort();
    s->num++;
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
    free(s->paths);
    if (s->dir[0]) rmdir(s->dir);
}

/* One import, carried through its steps. Everything it holds is freed, and
 * its files removed, by import_cleanup whatever happens. */
struct import {
    struct ca_core *c;
    struct ca *ca;
    const char *path;
    FILE *progress;
    double t0, last_report;
    size_t chunk_rows;
    int fd, eof;
    char *buf;                  /* IMPORT_READ_BUF bytes; the unread ones are [pos, len) */
    size_t pos, len;
    uint64_t size, consumed;    /* the file's bytes, and those read as lines */
    struct irow *rows;          /* the chunk being filled, the last one after the parse */
    size_t num_rows, cap_rows;
    uint64_t n;                 /* every row */
    struct extsort *certs;      /* full chunks' rows by serial */
    struct extsort *revs;       /* full chunks' revoked rows by partition then serial */
    struct cdps cdps;
    int cdp_overflow;           /* a new CDP past IMPORT_MAX_CDPS (reported after the serials) */
    uint64_t slots, first_slot; /* the CA's bound certificates after the import, and before */
    uint32_t next_ext;          /* the CA's next imported-CDP partition after the import */
    char **new_uris;            /* CDPs new to the CA (views into cdps.uri) */
    size_t num_new;
    uint64_t num_revoked, num_held;
    uint32_t *parts;            /* the partitions it adds revoked certificates to, in order */
    size_t num_parts, cap_parts;
    struct ssts ssts;
    char *ca_json, *op_json;
};

/* import_open opens the file, to be read through im->buf. */
static int import_open(struct import *im, struct rerr *e) {
    im->fd = open(im->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (im->fd < 0 || fstat(im->fd, &st) != 0) return rerr_set(e, "%s: cannot open: %s", im->path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return rerr_set(e, "%s: not a non-empty regular file", im->path);
    im->size = (uint64_t)st.st_size;
    posix_fadvise(im->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if ((im->buf = malloc(IMPORT_READ_BUF)) == NULL) return rerr_set(e, "out of memory");
    return 1;
}

/* next_line: the next line of the file without its '\n', a view into
 * im->buf valid until the next call. 1, 0 at the end, -1 on a read error.
 * A line longer than the buffer comes whole-buffer sized: csvrow_parse
 * refuses it, as any line over CSVROW_MAX_LINE. */
static int next_line(struct import *im, const char **line, size_t *len, struct rerr *e) {
    for (;;) {
        char *p = im->buf + im->pos;
        size_t avail = im->len - im->pos;
        char *nl = memchr(p, '\n', avail);
        if (nl != NULL || im->eof || avail == IMPORT_READ_BUF) {
            if (nl == NULL && avail == 0) return 0;
            *line = p;
            *len = nl != NULL ? (size_t)(nl - p) : avail;
            im->pos += *len + (nl != NULL);
            im->consumed += *len + (nl != NULL);
            return 1;
        }
        memmove(im->buf, p, avail);
        im->pos = 0;
        im->len = avail;
        ssize_t r = read(im->fd, im->buf + avail, IMPORT_READ_BUF - avail);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rerr_set(e, "%s: cannot read: %s", im->path, strerror(errno)) - 1;
        if (r == 0) im->eof = 1;
        im->len += (size_t)r;
    }
}

/* ext_cdp_key: the 'u' key of an imported CDP; returns its length. */
static size_t ext_cdp_key(uint8_t out[1 + 4 + CSVROW_MAX_CDP], uint32_t ca_id, const char *uri) {
    size_t ul = strlen(uri);
    out[0] = K_EXTCDP;
    bytes_put_u32(out + 1, ca_id);
    memcpy(out + 5, uri, ul);
    return 5 + ul;
}

/* resolve_cdp gives CDP i the partition it already has, or a new one. */
static int resolve_cdp(struct import *im, size_t i, struct rerr *e) {
    struct cdps *cdps = &im->cdps;
    uint8_t ukey[1 + 4 + CSVROW_MAX_CDP];
    size_t ukl = ext_cdp_key(ukey, im->ca->id, cdps->uri[i]);
    uint8_t *v;
    size_t vl;
    int got = store_get(im->c->st, ukey, ukl, &v, &vl, e);
    if (got < 0) return 0;
    if (got == 1) {
        cdps->part[i] = vl == 4 ? bytes_get_u32(v) : URLS_PART_EXTERNAL;
        free(v);
    } else if (im->next_ext >= IMPORT_MAX_CDPS) {
        im->cdp_overflow = 1;
        cdps->part[i] = URLS_PART_EXTERNAL;
    } else {
        if (im->new_uris == NULL && (im->new_uris = calloc(IMPORT_MAX_CDPS, sizeof(char *))) == NULL) abort();
        cdps->part[i] = URLS_PART_EXTERNAL + im->next_ext++;
        im->new_uris[im->num_new++] = cdps->uri[i];
    }
    return 1;
}

/* import_bind binds row r (of line lineno) to its partition: its imported
 * CDP's, or the next slot's. */
static int import_bind(struct import *im, struct irow *r, const struct csvrow *row, uint64_t lineno, struct rerr *e) {
    const struct ca *ca = im->ca;
    if (row->cdp != NULL) {
        if (own_crl_url(ca, row->cdp, row->cdp_len))
            return rerr_set(e,
                            "%s:%llu: cdp %.*s is one of CA %s's own CRL URLs; leave the column empty "
                            "to bind the row to revd's partitions; nothing was imported",
                            im->path, (unsigned long long)lineno, (int)row->cdp_len, row->cdp, ca->name);
        int added;
        long i = cdp_index(&im->cdps, row->cdp, row->cdp_len, &added);
        if (i < 0)
            return rerr_set(e, "%s:%llu: more than %d distinct CDPs", im->path, (unsigned long long)lineno,
                            IMPORT_MAX_CDPS);
        if (added && !resolve_cdp(im, (size_t)i, e)) return 0;
        r->part = im->cdps.part[i];
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

/* revoked_first moves the revoked rows of rows[0..n) to the front; returns
 * how many there are. */
static size_t revoked_first(struct irow *rows, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status != CERT_REVOKED) continue;
        if (i != k) {
            struct irow t = rows[k];
            rows[k] = rows[i];
            rows[i] = t;
        }
        k++;
    }
    return k;
}

/* next_row: room for one more row in the chunk; a full chunk is first
 * written as runs. NULL with e set on an error. */
static struct irow *next_row(struct import *im, struct rerr *e) {
    if (im->n >= IMPORT_MAX_ROWS)
        return rerr_set(e, "%s: more than %llu rows; split the file", im->path, (unsigned long long)IMPORT_MAX_ROWS),
               NULL;
    if (im->num_rows == im->chunk_rows) {
        size_t k = revoked_first(im->rows, im->num_rows);
        if (!extsort_add(im->revs, im->rows, k, e) || !extsort_add(im->certs, im->rows, im->num_rows, e)) return NULL;
        im->num_rows = 0;
    }
    if (im->num_rows == im->cap_rows) {
        size_t cap = im->cap_rows ? 2 * im->cap_rows : 65536;
        if (cap > im->chunk_rows) cap = im->chunk_rows;
        struct irow *r = realloc(im->rows, cap * sizeof(*r));
        if (r == NULL) return rerr_set(e, "out of memory for %zu rows (a smaller --chunk-rows needs less)", cap), NULL;
        im->rows = r;
        im->cap_rows = cap;
    }
    struct irow *r = &im->rows[im->num_rows++];
    memset(r, 0, sizeof(*r)); /* the padding-free row goes to a run file as it is */
    im->n++;
    return r;
}

/* progress_due: a progress line is wanted (every IMPORT_PROGRESS_S). */
static int progress_due(struct import *im, uint64_t count) {
    if (im->progress == NULL || (count & 0xffff) != 0) return 0;
    double now = rtime_mono();
    if (now - im->last_report < IMPORT_PROGRESS_S) return 0;
    im->last_report = now;
    return 1;
}

/* import_parse parses and checks every line into rows, binding them to
 * partitions in file order; full chunks go to the runs. */
static int import_parse(struct import *im, struct rerr *e) {
    uint64_t lineno = 0;
    im->slots = im->first_slot = im->ca->slots;
    im->next_ext = im->ca->next_ext_part;
    const char *line = NULL;
    size_t len = 0;
    int got;
    while ((got = next_line(im, &line, &len, e)) == 1) {
        if (len > 0 && line[len - 1] == '\r') len--;
        lineno++;
        if (len == 0 || (lineno == 1 && csvrow_is_header(line, len))) continue;
        struct csvrow row;
        struct rerr why;
        if (!csvrow_parse(line, len, &row, &why))
            return rerr_set(e, "%s:%llu: %s; nothing was imported", im->path, (unsigned long long)lineno, why.msg);
        struct irow *r = next_row(im, e);
        if (r == NULL) return 0;
        memcpy(r->serial, row.serial, row.serial_len);
        r->slen = (uint8_t)row.serial_len;
        r->status = row.status == CSVROW_GOOD ? CERT_GOOD : CERT_REVOKED;
        r->reason = (uint8_t)row.reason;
        r->not_after = row.not_after;
        r->revoked_at = row.revoked_at;
        r->line = lineno > UINT32_MAX ? UINT32_MAX : (uint32_t)lineno;
        if (!import_bind(im, r, &row, lineno, e)) return 0;
        if (r->status == CERT_REVOKED) {
            im->num_revoked++;
            if (r->reason == REASON_CERTIFICATE_HOLD) im->num_held++;
        }
        if (progress_due(im, im->n)) {
            double dt = rtime_mono() - im->t0;
            fprintf(im->progress, "revd: %s: %llu rows read (%.0f%%), %.0f rows/s\n", im->path,
                    (unsigned long long)im->n, 100.0 * (double)im->consumed / (double)im->size,
                    dt > 0 ? (double)im->n / dt : 0.0);
            fflush(im->progress);
        }
    }
    if (got < 0) return 0;
    if (im->n == 0) return rerr_set(e, "%s: no rows", im->path);
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
 * head ('m' sorts before 'o') and the change record of the whole CA ('c'
 * before both: ca/chlog.h; its number is taken back with the log's when
 * the import fails). Takes *params. */
static int write_oplog(struct import *im, json_t **params, struct rerr *e) {
    json_object_set_new(*params, "rows", json_integer((json_int_t)im->n));
    json_object_set_new(*params, "revoked", json_integer((json_int_t)im->num_revoked));
    uint8_t okey[9];
    im->op_json = oplog_encode(im->c, okey, "import", im->ca->name, NULL, 0, *params, "ok");
    *params = NULL;
    uint8_t hkey[16], hval[AUDIT_HEAD_LEN];
    size_t hkl = oplog_head(im->c, hkey, hval);
    uint8_t ckey[CHLOG_KEY_LEN], cval[CHLOG_VAL_MAX];
    size_t cvl = chlog_encode(im->c, ckey, cval, im->ca->id, 1, NULL, 0);
    struct store_sst *w = sst_begin(im->c, &im->ssts, "o", e);
    if (w == NULL) return 0;
    if (!store_sst_put(w, ckey, sizeof(ckey), cval, cvl, e) || !store_sst_put(w, hkey, hkl, hval, sizeof(hval), e) ||
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

/* write_part_changes: the 'd' file, a new change number (the import's
 * log record) for each partition it adds revoked certificates to
 * (im->parts, gathered by write_revoked's merge): their CRLs are stale,
 * the others stay current (ca_crl_part_change). After write_oplog. */
static int write_part_changes(struct import *im, struct rerr *e) {
    if (im->num_parts == 0) return 1;
    struct store_sst *w = sst_begin(im->c, &im->ssts, "d", e);
    if (w == NULL) return 0;
    uint8_t key[KEY_MAX], v[8];
    bytes_put_u64(v, im->c->oplog_seq);
    for (size_t i = 0; i < im->num_parts; i++) {
        size_t kl = ikey_part_change(key, im->ca->id, im->parts[i]);
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

/* A sorted stream of keys written as SST files of at most per_file keys
 * each, TAG-0000.sst, TAG-0001.sst...: their ranges do not overlap. */
struct split {
    struct import *im;
    const char *tag;
    struct store_sst *w;
    uint64_t in_file, per_file;
    unsigned files;
};

static int split_put(struct split *sp, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct rerr *e) {
    if (sp->w != NULL && sp->in_file == sp->per_file) {
        struct store_sst *w = sp->w;
        sp->w = NULL;
        if (!sst_end(w, e)) return 0;
    }
    if (sp->w == NULL) {
        char name[32];
        snprintf(name, sizeof(name), "%s-%04u", sp->tag, sp->files++);
        if ((sp->w = sst_begin(sp->im->c, &sp->im->ssts, name, e)) == NULL) return 0;
        sp->in_file = 0;
    }
    sp->in_file++;
    return store_sst_put(sp->w, k, kl, v, vl, e);
}

/* split_end finishes the last file (ok), or drops it. */
static int split_end(struct split *sp, int ok, struct rerr *e) {
    struct store_sst *w = sp->w;
    sp->w = NULL;
    if (w == NULL) return ok;
    if (!ok) {
        store_sst_free(w);
        return 0;
    }
    return sst_end(w, e);
}

static struct split split_new(struct import *im, const char *tag) {
    uint64_t per_file = (im->n + IMPORT_SSTS_PER_KIND - 1) / IMPORT_SSTS_PER_KIND;
    if (per_file < im->chunk_rows) per_file = im->chunk_rows;
    return (struct split){.im = im, .tag = tag, .per_file = per_file};
}

/* put_cert: the certificate record of r. */
static int put_cert(struct split *sp, const struct irow *r, struct rerr *e) {
    struct crec cr = {0};
    cr.flags = CREC_F_IMPORTED;
    cr.status = r->status;
    cr.reason = r->reason;
    cr.partition = r->part;
    cr.not_after = r->not_after;
    cr.revoked_at = r->revoked_at;
    memcpy(cr.template_name, "import", 7);
    uint8_t *enc;
    size_t rl;
    if (!crec_encode(&cr, &enc, &rl)) return rerr_set(e, "out of memory");
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, sp->im->ca->id, r->serial, r->slen);
    int ok = split_put(sp, key, kl, enc, rl, e);
    free(enc);
    return ok;
}

/* A serial the CA already has: the first one, in serial order. */
struct clash {
    int found;
    uint32_t line;
    uint8_t serial[HEX_SERIAL_MAX + 1];
    uint8_t slen;
};

/* check_clash: is r's serial one the CA already has? Notes the first. */
static int check_clash(struct import *im, const struct irow *r, struct clash *cl, struct rerr *e) {
    uint8_t key[KEY_MAX];
    size_t kl = ikey_cert(key, im->ca->id, r->serial, r->slen);
    uint8_t *v;
    size_t vl;
    int got = store_get(im->c->st, key, kl, &v, &vl, e);
    if (got < 0) return 0;
    if (got == 1) {
        free(v);
        cl->found = 1;
        cl->line = r->line;
        memcpy(cl->serial, r->serial, r->slen);
        cl->slen = r->slen;
    }
    return 1;
}

static int serial_twice(const struct import *im, const struct irow *a, const struct irow *b, struct rerr *e) {
    char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
    hex_encode_serial(b->serial, b->slen, hex);
    return rerr_set(e, "%s: serial %s is on lines %u and %u; nothing was imported", im->path, hex,
                    a->line < b->line ? a->line : b->line, a->line < b->line ? b->line : a->line);
}

/* refuse_after_merge: the refusals that wait for every serial to be seen:
 * a serial twice wins over one the CA has (reported first, as the file's
 * own fault), which wins over too many CDPs. */
static int refuse_after_merge(struct import *im, const struct clash *cl, struct rerr *e) {
    if (cl->found) {
        char hex[2 * (HEX_SERIAL_MAX + 1) + 1];
        hex_encode_serial(cl->serial, cl->slen, hex);
        return rerr_set(e, "%s:%u: CA %s already has serial %s; nothing was imported", im->path, cl->line,
                        im->ca->name, hex);
    }
    if (im->cdp_overflow)
        return rerr_set(e, "%s: CA %s would have more than %d imported CDPs", im->path, im->ca->name,
                        IMPORT_MAX_CDPS);
    return 1;
}

/* write_certs merges every row by serial: a serial twice in the file (now
 * neighbours), or one the CA already has, refuses it all; else the 'x'
 * files, the certificate records by serial. */
static int write_certs(struct import *im, struct rerr *e) {
    struct extsort_merge *m = NULL;
    struct split sp = split_new(im, "x");
    struct clash cl = {0};
    struct irow prev = {0};
    uint64_t done = 0;
    int check = im->ca->issued + im->ca->imported > 0, got = 0;
    const void *v;
    int ok = extsort_merge_begin(im->certs, im->rows, im->num_rows, &m, e);
    while (ok && (got = extsort_merge_next(m, &v, e)) == 1) {
        const struct irow *r = v;
        if (done > 0 && cmp_serial(&prev, r) == 0) {
            ok = serial_twice(im, &prev, r, e);
            break;
        }
        if (check && !cl.found) ok = check_clash(im, r, &cl, e);
        if (ok && !cl.found) ok = put_cert(&sp, r, e);
        prev = *r;
        if (progress_due(im, ++done)) {
            fprintf(im->progress, "revd: %s: %llu of %llu rows sorted and checked\n", im->path,
                    (unsigned long long)done, (unsigned long long)im->n);
            fflush(im->progress);
        }
    }
    extsort_merge_free(m);
    ok = ok && got == 0 && refuse_after_merge(im, &cl, e);
    return split_end(&sp, ok, e);
}

/* write_revoked: the 'r' files, the revocation entries by partition then
 * serial, merged from the runs and the last chunk. */
/* part_note adds part to the partitions the import adds revoked
 * certificates to (write_part_changes). */
static int part_note(struct import *im, uint32_t part, struct rerr *e) {
    if (im->num_parts == im->cap_parts) {
        size_t cap = im->cap_parts ? im->cap_parts * 2 : 64;
        uint32_t *n = realloc(im->parts, cap * sizeof(*n));
        if (n == NULL) return rerr_set(e, "out of memory");
        im->parts = n;
        im->cap_parts = cap;
    }
    im->parts[im->num_parts++] = part;
    return 1;
}

static int write_revoked(struct import *im, struct rerr *e) {
    struct extsort_merge *m = NULL;
    struct split sp = split_new(im, "r");
    const void *v;
    int got = 0;
    size_t k = revoked_first(im->rows, im->num_rows);
    int ok = extsort_merge_begin(im->revs, im->rows, k, &m, e);
    while (ok && (got = extsort_merge_next(m, &v, e)) == 1) {
        const struct irow *r = v;
        if (im->num_parts == 0 || im->parts[im->num_parts - 1] != r->part) ok = part_note(im, r->part, e);
        struct crec cr = {.revoked_at = r->revoked_at, .reason = r->reason, .not_after = r->not_after};
        uint8_t val[REV_VALUE_LEN], key[KEY_MAX];
        crec_rev_value(&cr, val);
        size_t kl = ikey_revoked(key, im->ca->id, r->part, r->serial, r->slen);
        ok = split_put(&sp, key, kl, val, sizeof(val), e);
    }
    extsort_merge_free(m);
    return split_end(&sp, ok && got == 0, e);
}

/* sweep_stale removes what an import that did not finish (killed, a
 * crash) left: DIR/import.tmp.* and the files in it. The caller holds the
 * index, so that no other import runs on DIR. */
static void sweep_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "import.tmp.", 11) != 0) continue;
        int tfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *t = tfd >= 0 ? fdopendir(tfd) : NULL;
        if (t == NULL && tfd >= 0) close(tfd);
        struct dirent *f;
        while (t != NULL && (f = readdir(t)) != NULL)
            if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0) unlinkat(dirfd(t), f->d_name, 0);
        if (t != NULL) closedir(t);
        unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
    }
    closedir(d);
}

/* import_begin: the temporary directory and the two sorts. */
static int import_begin(struct import *im, struct rerr *e) {
    sweep_stale(im->c->dir);
    snprintf(im->ssts.dir, sizeof(im->ssts.dir), "%s/import.tmp.%ld", im->c->dir, (long)getpid());
    if (mkdir(im->ssts.dir, 0700) != 0) {
        rerr_set(e, "%s: cannot create: %s", im->ssts.dir, strerror(errno));
        im->ssts.dir[0] = '\0';
        return 0;
    }
    im->certs = extsort_new(im->ssts.dir, "x", sizeof(struct irow), cmp_serial);
    im->revs = extsort_new(im->ssts.dir, "r", sizeof(struct irow), cmp_part_serial);
    if (im->certs == NULL || im->revs == NULL) return rerr_set(e, "out of memory");
    return 1;
}

static void import_cleanup(struct import *im) {
    extsort_free(im->certs);
    extsort_free(im->revs);
    ssts_cleanup(&im->ssts);
    free(im->ca_json);
    free(im->op_json);
    free(im->new_uris);
    free(im->rows);
    free(im->parts);
    free(im->buf);
    for (size_t i = 0; i < im->cdps.num; i++) free(im->cdps.uri[i]);
    free(im->cdps.uri);
    free(im->cdps.part);
    free(im->cdps.slot);
    if (im->fd >= 0) close(im->fd);
}

int ca_import_csv(struct ca_core *c, const char *name, const char *path, size_t chunk_rows, FILE *progress,
                  struct ca_import_result *out, struct rerr *e) {
    int ok = 0;
    struct import im = {.c = c, .path = path, .progress = progress, .fd = -1};
    im.chunk_rows = chunk_rows > 0 ? chunk_rows : CA_IMPORT_CHUNK_ROWS;
    json_t *params = json_pack("{s:o}", "file", jsafe_string(path));
    im.t0 = im.last_report = rtime_mono();
    memset(out, 0, sizeof(*out));
    im.ca = core_find_or_err(c, name, e);
    if (im.ca == NULL) goto out;
    if (im.ca->state == CA_STATE_PENDING) {
        rerr_set(e, "CA %s is pending (revd ca import first)", name);
        goto out;
    }
    if (!import_open(&im, e) || !import_begin(&im, e) || !import_parse(&im, e) || !write_certs(&im, e))
        goto out;
    extsort_free(im.certs); /* its runs' disk space, before the revoked rows' merge and the ingestion */
    im.certs = NULL;
    if (progress) {
        fprintf(progress, "revd: %s: %llu rows checked in %.1f s; writing\n", path, (unsigned long long)im.n,
                rtime_mono() - im.t0);
        fflush(progress);
    }
    if (!write_revoked(&im, e) || !write_ca(&im, e)) goto out;
    /* From here a failure takes back the log record given out (oplog_failure
     * does too, before it records the failure). The files' key ranges do not
     * overlap: one prefix each, and the 'x' and 'r' files split a sorted
     * stream. */
    if (!write_oplog(&im, &params, e) || !write_partitions(&im, e) || !write_part_changes(&im, e) ||
        !write_cdps(&im, e) ||
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
    /* The runs go first: on a full disk, the failure record needs room. */
    import_cleanup(&im);
    if (!ok) oplog_failure(c, "import", name, NULL, 0, params, e);
    else json_decref(params);
    return ok;
}
