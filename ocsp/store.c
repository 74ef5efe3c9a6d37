/* store: a CA's responses on disk (ocsp/store.h). */
#include "ocsp/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/fsutil.h"
#include "ocsp/table.h"

#define STORE_MAGIC "RVDSTOR1"
#define STORE_VERSION 1
#define STORE_FOOTER 160
#define STORE_INDEX_ENTRY 38
#define STORE_SUFFIX_MAX 65536
#define STORE_WBUF (1u << 20)
/* The fixed part of a record around its serial and responses. */
#define REC_FIXED (1 + 2 + 32 + 1 + 4)

static _Atomic uint32_t next_uid = 1;

/* A run in the index: its first serial (length, octets), offset and
 * earliest refresh time. Serials are unique: a serial is in the last run
 * whose first serial is not above it. */
struct store_run {
    uint8_t first[22];
    uint64_t off;
    int64_t refresh_min;
};

struct ocsp_store {
    _Atomic int refs;
    int fd;
    uint32_t uid;
    struct ocsp_store_meta meta;
    uint64_t count, runs, data_end, file_bytes;
    struct store_run *index; /* runs entries; one more: {0, data_end} */
    uint8_t *suffix;
    size_t suffix_len;
    int64_t refresh_min;
    char path[4096];
};

struct ocsp_store_writer {
    struct fs_tmp t;
    struct ocsp_store_meta meta;
    uint8_t *suffix;
    size_t suffix_len;
    uint8_t *wbuf; /* buffered file bytes */
    size_t wlen;
    uint64_t off; /* file offset of wbuf[0] */
    uint8_t run[STORE_RUN_MAX]; /* the run being filled: header room, then payload */
    size_t run_len;             /* payload octets in run */
    uint8_t run_first[22];
    int64_t run_refresh;
    uint8_t last_serial[21];
    size_t last_len;
    struct store_run *index;
    size_t runs, cap;
    uint64_t count;
};

int ocsp_store_serial_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    if (al != bl) return al < bl ? -1 : 1;
    return memcmp(a, b, al);
}

/* ---- writing ---- */

static int wflush(struct ocsp_store_writer *w, struct rerr *e) {
    size_t done = 0;
    while (done < w->wlen) {
        ssize_t n = write(w->t.fd, w->wbuf + done, w->wlen - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return rerr_set(e, "writing %s: %s", w->t.path, n < 0 ? strerror(errno) : "short write");
        done += (size_t)n;
    }
    w->off += w->wlen;
    w->wlen = 0;
    return 1;
}

static int wput(struct ocsp_store_writer *w, const void *p, size_t len, struct rerr *e) {
    const uint8_t *b = p;
    while (len > 0) {
        if (w->wlen == STORE_WBUF && !wflush(w, e)) return 0;
        size_t n = STORE_WBUF - w->wlen < len ? STORE_WBUF - w->wlen : len;
        memcpy(w->wbuf + w->wlen, b, n);
        w->wlen += n;
        b += n;
        len -= n;
    }
    return 1;
}

struct ocsp_store_writer *ocsp_store_writer_open(const char *path, const struct ocsp_store_meta *m,
                                                 const uint8_t *suffix, size_t suffix_len, struct rerr *e) {
    if (suffix_len > STORE_SUFFIX_MAX) {
        rerr_set(e, "responder certificate block of %zu octets is too large", suffix_len);
        return NULL;
    }
    struct ocsp_store_writer *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->wbuf = malloc(STORE_WBUF)) == NULL || (w->suffix = malloc(suffix_len + 1)) == NULL) {
        if (w != NULL) free(w->wbuf);
        free(w);
        rerr_set(e, "out of memory");
        return NULL;
    }
    if (!fs_tmp_open(&w->t, path, 0600, 0, e)) {
        free(w->suffix);
        free(w->wbuf);
        free(w);
        return NULL;
    }
    w->meta = *m;
    w->meta.window = 0;
    w->meta.next_update_min = INT64_MAX;
    if (suffix_len > 0) memcpy(w->suffix, suffix, suffix_len);
    w->suffix_len = suffix_len;
    w->run_refresh = INT64_MAX;
    return w;
}

static int index_push(struct ocsp_store_writer *w, const uint8_t first[22], uint64_t off, int64_t refresh,
                      struct rerr *e) {
    if (w->runs == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 1024;
        struct store_run *n = realloc(w->index, cap * sizeof(*n));
        if (n == NULL) return rerr_set(e, "out of memory");
        w->index = n;
        w->cap = cap;
    }
    struct store_run *x = &w->index[w->runs++];
    memcpy(x->first, first, 22);
    x->off = off;
    x->refresh_min = refresh;
    return 1;
}

static int run_close(struct ocsp_store_writer *w, struct rerr *e) {
    if (w->run_len == 0) return 1;
    if (!index_push(w, w->run_first, w->off + w->wlen, w->run_refresh, e)) return 0;
    uint8_t h[8];
    bytes_put_u32(h, (uint32_t)w->run_len);
    bytes_put_u32(h + 4, crc32c_update(0, w->run + 8, w->run_len));
    if (!wput(w, h, 8, e) || !wput(w, w->run + 8, w->run_len, e)) return 0;
    w->run_len = 0;
    w->run_refresh = INT64_MAX;
    return 1;
}

/* Encodes r into p (room for STORE_REC_MAX); the length, or 0 when too large. */
static size_t rec_encode(const struct ocsp_store_writer *w, const struct ocsp_store_rec *r, uint8_t *p) {
    size_t len[2];
    int strip[2];
    for (int h = 0; h < 2; h++) {
        strip[h] = r->stripped[h];
        len[h] = r->der_len[h];
        if (!strip[h] && w->suffix_len > 0 && len[h] > w->suffix_len &&
            memcmp(r->der[h] + len[h] - w->suffix_len, w->suffix, w->suffix_len) == 0) {
            strip[h] = 1;
            len[h] -= w->suffix_len;
        }
        if (len[h] == 0 || len[h] > UINT16_MAX) return 0;
    }
    size_t need = REC_FIXED + r->serial_len + len[0] + len[1];
    if (need > STORE_REC_MAX) return 0;
    uint8_t *q = p;
    *q++ = (uint8_t)r->serial_len;
    memcpy(q, r->serial, r->serial_len);
    q += r->serial_len;
    *q++ = r->status;
    *q++ = r->reason;
    bytes_put_u64(q, (uint64_t)r->revoked_at);
    bytes_put_u64(q + 8, (uint64_t)r->not_after);
    bytes_put_u64(q + 16, (uint64_t)r->this_update);
    bytes_put_u64(q + 24, (uint64_t)r->next_update);
    q += 32;
    *q++ = (uint8_t)(strip[0] | strip[1] << 1);
    bytes_put_u16(q, (uint16_t)len[0]);
    bytes_put_u16(q + 2, (uint16_t)len[1]);
    q += 4;
    memcpy(q, r->der[0], len[0]);
    memcpy(q + len[0], r->der[1], len[1]);
    return need;
}

int ocsp_store_writer_add(struct ocsp_store_writer *w, const struct ocsp_store_rec *r, struct rerr *e) {
    if (r->serial_len == 0 || r->serial_len > 21) return rerr_set(e, "serial of %zu octets", r->serial_len);
    if (w->count > 0 && ocsp_store_serial_cmp(w->last_serial, w->last_len, r->serial, r->serial_len) >= 0)
        return rerr_set(e, "store records out of order");
    uint8_t rec[STORE_REC_MAX];
    size_t n = rec_encode(w, r, rec);
    if (n == 0) return rerr_set(e, "a response too large for the store");
    /* A new run once this one is full. */
    if (w->run_len > 0 && w->run_len + n > STORE_RUN_TARGET - 8 && !run_close(w, e)) return 0;
    if (w->run_len == 0) {
        memset(w->run_first, 0, sizeof(w->run_first));
        w->run_first[0] = (uint8_t)r->serial_len;
        memcpy(w->run_first + 1, r->serial, r->serial_len);
    }
    memcpy(w->run + 8 + w->run_len, rec, n);
    w->run_len += n;
    int64_t at = ocsp_refresh_at(r->serial, r->serial_len, r->this_update, r->next_update);
    if (at < w->run_refresh) w->run_refresh = at;
    if (r->next_update - r->this_update > w->meta.window) w->meta.window = r->next_update - r->this_update;
    if (r->next_update < w->meta.next_update_min) w->meta.next_update_min = r->next_update;
    memcpy(w->last_serial, r->serial, r->serial_len);
    w->last_len = r->serial_len;
    w->count++;
    return 1;
}

static void footer_encode(const struct ocsp_store_writer *w, uint64_t suffix_off, uint64_t index_off,
                          uint32_t index_crc, uint8_t f[STORE_FOOTER]) {
    memset(f, 0, STORE_FOOTER);
    memcpy(f, STORE_MAGIC, 8);
    bytes_put_u32(f + 8, STORE_VERSION);
    bytes_put_u32(f + 12, w->meta.ca_id);
    bytes_put_u64(f + 16, w->meta.built_seq);
    bytes_put_u64(f + 24, w->count);
    bytes_put_u64(f + 32, w->runs);
    bytes_put_u64(f + 40, suffix_off);
    bytes_put_u32(f + 48, (uint32_t)w->suffix_len);
    bytes_put_u32(f + 52, crc32c_update(0, w->suffix, w->suffix_len));
    bytes_put_u64(f + 56, index_off);
    bytes_put_u32(f + 64, index_crc);
    memcpy(f + 68, w->meta.issuer_kh, 20);
    memcpy(f + 88, w->meta.responder_kh, 20);
    bytes_put_u64(f + 108, (uint64_t)w->meta.window);
    bytes_put_u64(f + 116, (uint64_t)w->meta.created);
    bytes_put_u64(f + 124, (uint64_t)w->meta.next_update_min);
    bytes_put_u32(f + STORE_FOOTER - 4, crc32c_update(0, f, STORE_FOOTER - 4));
}

int ocsp_store_writer_commit(struct ocsp_store_writer *w, struct rerr *e) {
    int ok = run_close(w, e);
    uint64_t suffix_off = w->off + w->wlen;
    if (ok) ok = wput(w, w->suffix, w->suffix_len, e);
    uint64_t index_off = w->off + w->wlen;
    uint32_t crc = 0;
    for (size_t i = 0; ok && i < w->runs; i++) {
        uint8_t ent[STORE_INDEX_ENTRY];
        memcpy(ent, w->index[i].first, 22);
        bytes_put_u64(ent + 22, w->index[i].off);
        bytes_put_u64(ent + 30, (uint64_t)w->index[i].refresh_min);
        crc = crc32c_update(crc, ent, sizeof(ent));
        ok = wput(w, ent, sizeof(ent), e);
    }
    if (ok) {
        uint8_t f[STORE_FOOTER];
        footer_encode(w, suffix_off, index_off, crc, f);
        ok = wput(w, f, sizeof(f), e) && wflush(w, e);
    }
    if (ok) ok = fs_tmp_commit(&w->t, e);
    else fs_tmp_abort(&w->t);
    free(w->index);
    free(w->suffix);
    free(w->wbuf);
    free(w);
    return ok;
}

void ocsp_store_writer_abort(struct ocsp_store_writer *w) {
    if (w == NULL) return;
    fs_tmp_abort(&w->t);
    free(w->index);
    free(w->suffix);
    free(w->wbuf);
    free(w);
}

/* ---- reading ---- */

static int pread_all(const struct ocsp_store *s, void *p, size_t len, uint64_t off, struct rerr *e) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(s->fd, (uint8_t *)p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return rerr_set(e, "reading the response store %s: %s", s->path, n < 0 ? strerror(errno) : "file cut short");
        done += (size_t)n;
    }
    return 1;
}

static int damaged(const struct ocsp_store *s, const char *what, struct rerr *e) {
    return rerr_set(e, "the response store %s is damaged (%s): move it away and revd rebuilds it from the index",
                    s->path, what);
}

/* Reads and checks the footer into s. */
static int open_footer(struct ocsp_store *s, struct rerr *e) {
    uint8_t f[STORE_FOOTER];
    if (s->file_bytes < STORE_FOOTER) return damaged(s, "shorter than its footer", e);
    if (!pread_all(s, f, sizeof(f), s->file_bytes - STORE_FOOTER, e)) return 0;
    if (memcmp(f, STORE_MAGIC, 8) != 0) return damaged(s, "not a response store", e);
    if (bytes_get_u32(f + STORE_FOOTER - 4) != crc32c_update(0, f, STORE_FOOTER - 4))
        return damaged(s, "footer checksum", e);
    if (bytes_get_u32(f + 8) != STORE_VERSION) return damaged(s, "unknown version", e);
    s->meta.ca_id = bytes_get_u32(f + 12);
    s->meta.built_seq = bytes_get_u64(f + 16);
    s->count = bytes_get_u64(f + 24);
    s->runs = bytes_get_u64(f + 32);
    uint64_t suffix_off = bytes_get_u64(f + 40);
    s->suffix_len = bytes_get_u32(f + 48);
    uint64_t index_off = bytes_get_u64(f + 56);
    memcpy(s->meta.issuer_kh, f + 68, 20);
    memcpy(s->meta.responder_kh, f + 88, 20);
    s->meta.window = (int64_t)bytes_get_u64(f + 108);
    s->meta.created = (int64_t)bytes_get_u64(f + 116);
    s->meta.next_update_min = (int64_t)bytes_get_u64(f + 124);
    uint64_t body = s->file_bytes - STORE_FOOTER;
    if (s->suffix_len > STORE_SUFFIX_MAX || suffix_off > body || s->suffix_len > body - suffix_off ||
        suffix_off + s->suffix_len != index_off || s->runs > (body - index_off) / STORE_INDEX_ENTRY ||
        index_off + s->runs * STORE_INDEX_ENTRY != body || s->count < s->runs)
        return damaged(s, "footer offsets", e);
    s->data_end = suffix_off;
    if ((s->suffix = malloc(s->suffix_len + 1)) == NULL) return rerr_set(e, "out of memory");
    if (!pread_all(s, s->suffix, s->suffix_len, suffix_off, e)) return 0;
    if (crc32c_update(0, s->suffix, s->suffix_len) != bytes_get_u32(f + 52)) return damaged(s, "suffix checksum", e);
    uint32_t want_crc = bytes_get_u32(f + 64);
    size_t ilen = (size_t)s->runs * STORE_INDEX_ENTRY;
    uint8_t *raw = malloc(ilen + 1);
    s->index = malloc((size_t)(s->runs + 1) * sizeof(*s->index));
    if (raw == NULL || s->index == NULL) {
        free(raw);
        return rerr_set(e, "out of memory");
    }
    int ok = pread_all(s, raw, ilen, index_off, e);
    if (ok && crc32c_update(0, raw, ilen) != want_crc) ok = damaged(s, "index checksum", e);
    s->refresh_min = INT64_MAX;
    for (uint64_t i = 0; ok && i < s->runs; i++) {
        struct store_run *x = &s->index[i];
        const uint8_t *ent = raw + i * STORE_INDEX_ENTRY;
        memcpy(x->first, ent, 22);
        x->off = bytes_get_u64(ent + 22);
        x->refresh_min = (int64_t)bytes_get_u64(ent + 30);
        if (x->refresh_min < s->refresh_min) s->refresh_min = x->refresh_min;
        if (x->first[0] == 0 || x->first[0] > 21 || x->off >= s->data_end || (i == 0 && x->off != 0) ||
            (i > 0 && (x->off <= x[-1].off ||
                       ocsp_store_serial_cmp(x->first + 1, x->first[0], x[-1].first + 1, x[-1].first[0]) <= 0)))
            ok = damaged(s, "index order", e);
    }
    free(raw);
    if (ok) s->index[s->runs] = (struct store_run){{0}, s->data_end, 0};
    if (ok && s->runs == 0 && s->data_end != 0) ok = damaged(s, "data without an index", e);
    return ok;
}

struct ocsp_store *ocsp_store_open(const char *path, int *errno_out, struct rerr *e) {
    if (errno_out != NULL) *errno_out = 0;
    struct ocsp_store *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (errno_out != NULL) *errno_out = s->fd < 0 ? errno : EINVAL;
        rerr_set(e, "cannot open the response store %s: %s", path, s->fd < 0 ? strerror(errno) : "not a file");
        if (s->fd >= 0) close(s->fd);
        free(s);
        return NULL;
    }
    s->file_bytes = (uint64_t)st.st_size;
    atomic_init(&s->refs, 1);
    s->uid = atomic_fetch_add(&next_uid, 1);
    if (!open_footer(s, e)) {
        ocsp_store_put(s);
        return NULL;
    }
    return s;
}

struct ocsp_store *ocsp_store_ref(struct ocsp_store *s) {
    if (s != NULL) atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void ocsp_store_put(struct ocsp_store *s) {
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1) return;
    if (s->fd >= 0) close(s->fd);
    free(s->index);
    free(s->suffix);
    free(s);
}

const struct ocsp_store_meta *ocsp_store_meta(const struct ocsp_store *s) { return &s->meta; }
uint64_t ocsp_store_count(const struct ocsp_store *s) { return s->count; }
uint32_t ocsp_store_uid(const struct ocsp_store *s) { return s->uid; }
const char *ocsp_store_path(const struct ocsp_store *s) { return s->path; }
uint64_t ocsp_store_file_bytes(const struct ocsp_store *s) { return s->file_bytes; }
int64_t ocsp_store_refresh_min(const struct ocsp_store *s) { return s->refresh_min; }

const uint8_t *ocsp_store_suffix(const struct ocsp_store *s, size_t *len) {
    *len = s->suffix_len;
    return s->suffix;
}

size_t ocsp_store_memory(const struct ocsp_store *s) {
    return sizeof(*s) + (size_t)(s->runs + 1) * sizeof(*s->index) + s->suffix_len;
}

/* Decodes the record at p[0..len): its length, or 0 when damaged. */
static size_t rec_decode(const uint8_t *p, size_t len, struct ocsp_store_rec *r) {
    if (len < 1) return 0;
    size_t sl = p[0];
    if (sl == 0 || sl > 21 || len < REC_FIXED + sl) return 0;
    r->serial = p + 1;
    r->serial_len = sl;
    const uint8_t *q = p + 1 + sl;
    r->status = q[0];
    r->reason = q[1];
    r->revoked_at = (int64_t)bytes_get_u64(q + 2);
    r->not_after = (int64_t)bytes_get_u64(q + 10);
    r->this_update = (int64_t)bytes_get_u64(q + 18);
    r->next_update = (int64_t)bytes_get_u64(q + 26);
    uint8_t flags = q[34];
    size_t l0 = bytes_get_u16(q + 35), l1 = bytes_get_u16(q + 37);
    size_t need = REC_FIXED + sl + l0 + l1;
    if (flags > 3 || l0 == 0 || l1 == 0 || need > len) return 0;
    r->der[0] = q + 39;
    r->der[1] = q + 39 + l0;
    r->der_len[0] = l0;
    r->der_len[1] = l1;
    r->stripped[0] = flags & 1;
    r->stripped[1] = (flags >> 1) & 1;
    return need;
}

/* Reads run i into buf and checks it: its payload length, or 0 (e set;
 * *would_block set instead when nowait and the run is not all in the page
 * cache: RWF_NOWAIT reads only what needs no disk). */
static size_t run_read_at(const struct ocsp_store *s, uint64_t i, uint8_t *buf, int nowait, int *would_block,
                          struct rerr *e) {
    uint64_t off = s->index[i].off, end = s->index[i + 1].off;
    if (end - off < 9 || end - off > STORE_RUN_MAX) return (size_t)damaged(s, "run length", e);
    if (nowait) {
        struct iovec v = {buf, (size_t)(end - off)};
        ssize_t n = preadv2(s->fd, &v, 1, (off_t)off, RWF_NOWAIT);
        if (n != (ssize_t)(end - off)) {
            *would_block = 1;
            return 0;
        }
    } else if (!pread_all(s, buf, (size_t)(end - off), off, e)) {
        return 0;
    }
    size_t len = bytes_get_u32(buf);
    if (len != end - off - 8) return (size_t)damaged(s, "run length", e);
    if (crc32c_update(0, buf + 8, len) != bytes_get_u32(buf + 4)) return (size_t)damaged(s, "run checksum", e);
    return len;
}

static size_t run_read(const struct ocsp_store *s, uint64_t i, uint8_t *buf, struct rerr *e) {
    return run_read_at(s, i, buf, 0, NULL, e);
}

static int store_find(const struct ocsp_store *s, const uint8_t *serial, size_t serial_len, uint8_t *buf,
                      struct ocsp_store_rec *r, int nowait, struct rerr *e) {
    if (s->runs == 0 || serial_len == 0 || serial_len > 21) return 0;
    /* The last run whose first serial is not above serial. */
    uint64_t lo = 0, hi = s->runs;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ocsp_store_serial_cmp(s->index[mid].first + 1, s->index[mid].first[0], serial, serial_len) <= 0) lo = mid;
        else hi = mid;
    }
    if (ocsp_store_serial_cmp(s->index[lo].first + 1, s->index[lo].first[0], serial, serial_len) > 0) return 0;
    int would_block = 0;
    size_t len = run_read_at(s, lo, buf, nowait, &would_block, e);
    if (len == 0) return would_block ? -2 : -1;
    for (size_t off = 0; off < len;) {
        size_t n = rec_decode(buf + 8 + off, len - off, r);
        if (n == 0) {
            damaged(s, "record", e);
            return -1;
        }
        int c = ocsp_store_serial_cmp(r->serial, r->serial_len, serial, serial_len);
        if (c == 0) return 1;
        if (c > 0) return 0;
        off += n;
    }
    return 0;
}

int ocsp_store_read(const struct ocsp_store *s, const uint8_t *serial, size_t serial_len, uint8_t *buf,
                    struct ocsp_store_rec *r, struct rerr *e) {
    return store_find(s, serial, serial_len, buf, r, 0, e);
}

int ocsp_store_read_nowait(const struct ocsp_store *s, const uint8_t *serial, size_t serial_len, uint8_t *buf,
                           struct ocsp_store_rec *r, struct rerr *e) {
    return store_find(s, serial, serial_len, buf, r, 1, e);
}

int ocsp_store_assemble(const struct ocsp_store *s, const struct ocsp_store_rec *r, int h, uint8_t *out,
                        size_t cap, size_t *len) {
    size_t n = r->der_len[h] + (r->stripped[h] ? s->suffix_len : 0);
    if (n > cap) return 0;
    memcpy(out, r->der[h], r->der_len[h]);
    if (r->stripped[h]) memcpy(out + r->der_len[h], s->suffix, s->suffix_len);
    *len = n;
    return 1;
}

struct ocsp_store_scan {
    const struct ocsp_store *s;
    uint64_t run;
    size_t len, off;
    uint8_t buf[STORE_RUN_MAX];
};

struct ocsp_store_scan *ocsp_store_scan_new(const struct ocsp_store *s, struct rerr *e) {
    struct ocsp_store_scan *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        rerr_set(e, "out of memory");
        return NULL;
    }
    sc->s = s;
    return sc;
}

int ocsp_store_scan_next(struct ocsp_store_scan *sc, struct ocsp_store_rec *r, struct rerr *e) {
    while (sc->off >= sc->len) {
        if (sc->run >= sc->s->runs) return 0;
        if ((sc->len = run_read(sc->s, sc->run++, sc->buf, e)) == 0) return -1;
        sc->off = 0;
    }
    size_t n = rec_decode(sc->buf + 8 + sc->off, sc->len - sc->off, r);
    if (n == 0) {
        damaged(sc->s, "record", e);
        return -1;
    }
    sc->off += n;
    return 1;
}

void ocsp_store_scan_free(struct ocsp_store_scan *sc) { free(sc); }

int ocsp_store_due(const struct ocsp_store *s, int64_t by, int (*cb)(void *arg, const struct ocsp_store_rec *r),
                   void *arg, struct rerr *e) {
    if (s->refresh_min > by) return 1;
    uint8_t *buf = malloc(STORE_RUN_MAX);
    if (buf == NULL) return rerr_set(e, "out of memory");
    int ok = 1, go = 1;
    for (uint64_t i = 0; ok && go && i < s->runs; i++) {
        if (s->index[i].refresh_min > by) continue;
        size_t len = run_read(s, i, buf, e);
        if (len == 0) ok = 0;
        for (size_t off = 0; ok && go && off < len;) {
            struct ocsp_store_rec r;
            size_t n = rec_decode(buf + 8 + off, len - off, &r);
            if (n == 0) ok = damaged(s, "record", e);
            else go = cb(arg, &r);
            off += n;
        }
    }
    free(buf);
    return ok;
}
