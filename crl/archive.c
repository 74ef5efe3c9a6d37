#include "crl/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "common/bytes.h"
#include "common/fsutil.h"

#define HEAD_LEN 32

static int path_of(const char *dir, const char *ca, char *out, size_t cap) {
    return snprintf(out, cap, "%s/crl-archive/%s.log", dir, ca) < (int)cap;
}

/* Each thread compresses with its own context, made on its first record
 * and freed when it ends: ZSTD_compress makes and frees one per call, and a
 * context's tables are hundreds of KB (fresh pages to fault in and clear,
 * for every CRL of a rebuild). */
static pthread_key_t cctx_key;
static pthread_once_t cctx_once = PTHREAD_ONCE_INIT;
static int cctx_key_ok;

static void cctx_free(void *p) { ZSTD_freeCCtx(p); }
static void cctx_init(void) { cctx_key_ok = pthread_key_create(&cctx_key, cctx_free) == 0; }

static ZSTD_CCtx *thread_cctx(void) {
    pthread_once(&cctx_once, cctx_init);
    if (!cctx_key_ok) return NULL;
    ZSTD_CCtx *z = pthread_getspecific(cctx_key);
    if (z == NULL && (z = ZSTD_createCCtx()) != NULL && pthread_setspecific(cctx_key, z) != 0) {
        ZSTD_freeCCtx(z);
        z = NULL;
    }
    return z;
}

int crl_archive_pack(uint32_t part, uint64_t number, int64_t this_update, const uint8_t *der, size_t len,
                     uint8_t **out, size_t *out_len, struct rerr *e) {
    *out = NULL;
    if (len > CRL_ARCHIVE_MAX_DER) return rerr_set(e, "CRL of %zu bytes too large to archive", len);
    size_t bound = ZSTD_compressBound(len);
    uint8_t *rec = malloc(HEAD_LEN + bound);
    if (rec == NULL) return rerr_set(e, "out of memory");
    ZSTD_CCtx *z = thread_cctx();
    size_t cl = z != NULL ? ZSTD_compressCCtx(z, rec + HEAD_LEN, bound, der, len, 3)
                          : ZSTD_compress(rec + HEAD_LEN, bound, der, len, 3);
    if (ZSTD_isError(cl)) {
        free(rec);
        return rerr_set(e, "zstd: %s", ZSTD_getErrorName(cl));
    }
    memcpy(rec, "RCRL", 4);
    bytes_put_u32(rec + 4, part);
    bytes_put_u64(rec + 8, number);
    bytes_put_u64(rec + 16, (uint64_t)this_update);
    bytes_put_u32(rec + 24, (uint32_t)len);
    bytes_put_u32(rec + 28, (uint32_t)cl);
    *out = rec;
    *out_len = HEAD_LEN + cl;
    return 1;
}

int crl_archive_write(const char *dir, const char *ca, const uint8_t *const *recs, const size_t *lens, size_t n,
                      struct rerr *e) {
    char path[PATH_MAX], adir[PATH_MAX];
    if (!path_of(dir, ca, path, sizeof(path)) || snprintf(adir, sizeof(adir), "%s/crl-archive", dir) >= (int)sizeof(adir))
        return rerr_set(e, "CRL archive path too long");
    if (!fs_mkdirs(adir, 0700, e)) return 0;
    int fd = -1;
    int ok = fs_open_append(path, 0600, &fd, e), wrote = ok;
    for (size_t i = 0; wrote && i < n; i++) {
        for (size_t off = 0; wrote && off < lens[i];) {
            ssize_t w = write(fd, recs[i] + off, lens[i] - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) wrote = 0;
            else off += (size_t)w;
        }
    }
    if (wrote && fsync(fd) != 0) wrote = 0;
    if (ok && !wrote) ok = rerr_set(e, "%s: cannot append: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return ok;
}

int crl_archive_append(const char *dir, const char *ca, uint32_t part, uint64_t number, int64_t this_update,
                      const uint8_t *der, size_t len, struct rerr *e) {
    uint8_t *rec;
    size_t rl;
    if (!crl_archive_pack(part, number, this_update, der, len, &rec, &rl, e)) return 0;
    const uint8_t *recs[1] = {rec};
    int ok = crl_archive_write(dir, ca, recs, &rl, 1, e);
    free(rec);
    return ok;
}

int crl_archive_each(const char *dir, const char *ca, int want_der,
                    int (*cb)(void *arg, const struct crl_archive_rec *r, const uint8_t *der), void *arg,
                    struct rerr *e) {
    char path[PATH_MAX];
    if (!path_of(dir, ca, path, sizeof(path))) return rerr_set(e, "CRL archive path too long");
    FILE *f = fopen(path, "rb");
    if (f == NULL) return errno == ENOENT ? 1 : rerr_set(e, "%s: %s", path, strerror(errno));
    uint8_t h[HEAD_LEN];
    uint64_t off = 0;
    int ok = 1;
    uint8_t *comp = NULL, *der = NULL;
    for (;;) {
        size_t got = fread(h, 1, HEAD_LEN, f);
        if (got == 0) break;
        struct crl_archive_rec r = {bytes_get_u32(h + 4), bytes_get_u64(h + 8), (int64_t)bytes_get_u64(h + 16), bytes_get_u32(h + 24), bytes_get_u32(h + 28),
                                   off};
        /* Hostile until parsed: the magic, and lengths under the caps. */
        if (got != HEAD_LEN || memcmp(h, "RCRL", 4) != 0 || r.der_len == 0 || r.der_len > CRL_ARCHIVE_MAX_DER ||
            r.comp_len == 0 || r.comp_len > ZSTD_compressBound(r.der_len)) {
            ok = rerr_set(e, "%s: damaged record at offset %llu", path, (unsigned long long)off);
            break;
        }
        free(comp);
        free(der);
        comp = malloc(r.comp_len);
        der = want_der ? malloc(r.der_len) : NULL;
        if (comp == NULL || (want_der && der == NULL)) {
            ok = rerr_set(e, "out of memory");
            break;
        }
        if (fread(comp, 1, r.comp_len, f) != r.comp_len) {
            ok = rerr_set(e, "%s: truncated record at offset %llu", path, (unsigned long long)off);
            break;
        }
        if (want_der) {
            size_t n = ZSTD_decompress(der, r.der_len, comp, r.comp_len);
            if (ZSTD_isError(n) || n != r.der_len) {
                ok = rerr_set(e, "%s: record at offset %llu does not decompress", path, (unsigned long long)off);
                break;
            }
        }
        off += HEAD_LEN + r.comp_len;
        if (!cb(arg, &r, der)) break;
    }
    free(comp);
    free(der);
    fclose(f);
    return ok;
}
