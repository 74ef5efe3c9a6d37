#include "ca/extsort.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct extsort {
    char *dir, *tag;
    size_t rec_size;
    extsort_cmp cmp;
    char *runs[EXTSORT_FANIN]; /* the run files' paths */
    size_t num_runs;
    uint64_t next_id;
};

/* One input of a merge: a run file read through buf, or the memory chunk
 * (fd -1). Its records not yet yielded are [p, end). */
struct source {
    int fd;
    const char *path;
    uint8_t *buf;
    const uint8_t *p, *end;
};

struct extsort_merge {
    const struct extsort *s;
    struct source src[EXTSORT_FANIN + 1];
    size_t num;
    size_t heap[EXTSORT_FANIN + 1]; /* sources with a record, a min-heap by it */
    size_t heap_n;
    int started;
};

struct extsort *extsort_new(const char *dir, const char *tag, size_t rec_size, extsort_cmp cmp) {
    if (rec_size == 0 || rec_size > EXTSORT_BUF) return NULL;
    struct extsort *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    s->dir = strdup(dir);
    s->tag = strdup(tag);
    s->rec_size = rec_size;
    s->cmp = cmp;
    if (s->dir == NULL || s->tag == NULL) {
        extsort_free(s);
        return NULL;
    }
    return s;
}

static void drop_runs(struct extsort *s) {
    for (size_t i = 0; i < s->num_runs; i++) {
        unlink(s->runs[i]);
        free(s->runs[i]);
    }
    s->num_runs = 0;
}

void extsort_free(struct extsort *s) {
    if (s == NULL) return;
    drop_runs(s);
    free(s->dir);
    free(s->tag);
    free(s);
}

size_t extsort_num_runs(const struct extsort *s) {
    return s->num_runs;
}

/* write_all writes len bytes to fd (named path for messages). */
static int write_all(int fd, const char *path, const uint8_t *p, size_t len, struct rerr *e) {
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return rerr_set(e, "%s: cannot write: %s%s", path, strerror(errno),
                            errno == ENOSPC ? "; the file system is full: free some space and try again" : "");
        p += w;
        len -= (size_t)w;
    }
    return 1;
}

/* run_create opens a new run file; *out_path is malloc'd. Returns the fd,
 * or -1 with e set. */
static int run_create(struct extsort *s, char **out_path, struct rerr *e) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s-%llu.run", s->dir, s->tag, (unsigned long long)s->next_id++);
    if (n < 0 || (size_t)n >= sizeof(path)) return rerr_set(e, "%s: path too long", s->dir) - 1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return rerr_set(e, "%s: cannot create: %s", path, strerror(errno)) - 1;
    *out_path = strdup(path);
    if (*out_path == NULL) {
        close(fd);
        unlink(path);
        return rerr_set(e, "out of memory") - 1;
    }
    return fd;
}

/* run_close closes a written run, which is kept (ok) or removed. */
static int run_close(int fd, char *path, int ok, struct rerr *e) {
    if (close(fd) != 0 && ok) ok = rerr_set(e, "%s: cannot write: %s", path, strerror(errno));
    if (!ok) {
        unlink(path);
        free(path);
    }
    return ok;
}

/* compact merges every run into one: afterwards s holds a single run. */
static int compact(struct extsort *s, struct rerr *e) {
    char *path = NULL;
    struct extsort_merge *m = NULL;
    uint8_t *out = malloc(EXTSORT_BUF);
    size_t cap = EXTSORT_BUF / s->rec_size * s->rec_size, used = 0;
    int fd = run_create(s, &path, e);
    if (fd < 0 || out == NULL) {
        if (fd >= 0) run_close(fd, path, 0, e);
        free(out);
        return out == NULL ? rerr_set(e, "out of memory") : 0;
    }
    int ok = extsort_merge_begin(s, NULL, 0, &m, e);
    const void *rec;
    int r = 0;
    while (ok && (r = extsort_merge_next(m, &rec, e)) == 1) {
        memcpy(out + used, rec, s->rec_size);
        used += s->rec_size;
        if (used == cap) {
            ok = write_all(fd, path, out, used, e);
            used = 0;
        }
    }
    ok = ok && r == 0 && write_all(fd, path, out, used, e);
    extsort_merge_free(m);
    free(out);
    if (!run_close(fd, path, ok, e)) return 0;
    drop_runs(s);
    s->runs[s->num_runs++] = path;
    return 1;
}

int extsort_add(struct extsort *s, void *recs, size_t n, struct rerr *e) {
    if (n == 0) return 1;
    if (s->num_runs == EXTSORT_FANIN && !compact(s, e)) return 0;
    qsort(recs, n, s->rec_size, s->cmp);
    char *path = NULL;
    int fd = run_create(s, &path, e);
    if (fd < 0) return 0;
    int ok = write_all(fd, path, recs, n * s->rec_size, e);
    if (!run_close(fd, path, ok, e)) return 0;
    s->runs[s->num_runs++] = path;
    return 1;
}

/* fill reads the next records of a run into its buffer. */
static int fill(struct source *x, size_t rec_size, struct rerr *e) {
    size_t cap = EXTSORT_BUF / rec_size * rec_size, got = 0;
    while (got < cap) {
        ssize_t r = read(x->fd, x->buf + got, cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rerr_set(e, "%s: cannot read: %s", x->path, strerror(errno));
        if (r == 0) break;
        got += (size_t)r;
    }
    if (got % rec_size != 0) return rerr_set(e, "%s: truncated (a partial record at its end)", x->path);
    x->p = x->buf;
    x->end = x->buf + got;
    return 1;
}

static int less(const struct extsort_merge *m, size_t a, size_t b) {
    return m->s->cmp(m->src[a].p, m->src[b].p) < 0;
}

static void sift_down(struct extsort_merge *m, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->heap_n && less(m, m->heap[l], m->heap[min])) min = l;
        if (r < m->heap_n && less(m, m->heap[r], m->heap[min])) min = r;
        if (min == i) return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

int extsort_merge_begin(struct extsort *s, void *mem, size_t mem_n, struct extsort_merge **out,
                        struct rerr *e) {
    struct extsort_merge *m = calloc(1, sizeof(*m));
    if (m == NULL) return rerr_set(e, "out of memory");
    m->s = s;
    for (size_t i = 0; i < s->num_runs; i++) {
        struct source *x = &m->src[m->num++];
        x->path = s->runs[i];
        x->fd = open(x->path, O_RDONLY | O_CLOEXEC);
        if (x->fd < 0) {
            rerr_set(e, "%s: cannot open: %s", x->path, strerror(errno));
            goto fail;
        }
        posix_fadvise(x->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        if ((x->buf = malloc(EXTSORT_BUF)) == NULL) {
            rerr_set(e, "out of memory");
            goto fail;
        }
        if (!fill(x, s->rec_size, e)) goto fail;
    }
    if (mem_n > 0) {
        qsort(mem, mem_n, s->rec_size, s->cmp);
        struct source *x = &m->src[m->num++];
        x->fd = -1;
        x->p = mem;
        x->end = (const uint8_t *)mem + mem_n * s->rec_size;
    }
    for (size_t i = 0; i < m->num; i++)
        if (m->src[i].p < m->src[i].end) m->heap[m->heap_n++] = i;
    for (size_t i = m->heap_n / 2; i-- > 0;) sift_down(m, i);
    *out = m;
    return 1;
fail:
    extsort_merge_free(m);
    return 0;
}

int extsort_merge_next(struct extsort_merge *m, const void **rec, struct rerr *e) {
    if (m->started && m->heap_n > 0) {
        struct source *x = &m->src[m->heap[0]];
        x->p += m->s->rec_size;
        if (x->p == x->end && x->fd >= 0 && !fill(x, m->s->rec_size, e)) return -1;
        if (x->p == x->end) m->heap[0] = m->heap[--m->heap_n];
        sift_down(m, 0);
    }
    m->started = 1;
    if (m->heap_n == 0) return 0;
    *rec = m->src[m->heap[0]].p;
    return 1;
}

void extsort_merge_free(struct extsort_merge *m) {
    if (m == NULL) return;
    for (size_t i = 0; i < m->num; i++) {
        if (m->src[i].fd >= 0) close(m->src[i].fd);
        free(m->src[i].buf);
    }
    free(m);
}
