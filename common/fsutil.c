#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    int ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* advice: what to do about errno err on a write under path. */
static const char *advice(int err) {
    switch (err) {
    case ENOSPC:
    case EDQUOT: return ": the file system is full: free some space and try again";
    case EROFS: return ": the file system is read-only: remount it read-write";
    case EACCES:
    case EPERM: return ": fix the directory's owner or permissions (revd runs as its owner)";
    default: return "";
    }
}

int fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode, struct rerr *e) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return rerr_set(e, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int err = errno;
        return rerr_set(e, "%s: cannot write: %s%s", path, strerror(err), advice(err));
    }
    const uint8_t *b = p;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, b + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            unlink(tmp);
            return rerr_set(e, "%s: write failed: %s%s", path, strerror(err), advice(err));
        }
        off += (size_t)n;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return rerr_set(e, "%s: fsync failed: %s%s", path, strerror(err), advice(err));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return rerr_set(e, "%s: rename failed: %s%s", path, strerror(err), advice(err));
    }
    if (!fsync_dir_of(path)) return rerr_set(e, "%s: fsync of directory failed: %s", path, strerror(errno));
    return 1;
}

int fs_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, struct rerr *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rerr_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rerr_set(e, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return rerr_set(e, "%s: too large (%lld bytes; at most %zu)", path, (long long)st.st_size, max);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return rerr_set(e, "%s: out of memory", path);
    }
    size_t off = 0;
    for (;;) {
        if (off > (size_t)st.st_size) break;
        ssize_t n = read(fd, buf + off, (size_t)st.st_size + 1 - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return rerr_set(e, "%s: read failed: %s", path, strerror(err));
        }
        if (n == 0) break;
        off += (size_t)n;
    }
    close(fd);
    if (off > (size_t)st.st_size) { /* grew while we read */
        free(buf);
        return rerr_set(e, "%s: changed while being read", path);
    }
    buf[off] = '\0';
    *out = buf;
    *out_len = off;
    return 1;
}

int fs_mkdirs(const char *path, mode_t mode, struct rerr *e) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return rerr_set(e, "%s: path too long", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return rerr_set(e, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return rerr_set(e, "%s: cannot create directory: %s", tmp, strerror(errno));
    return 1;
}
