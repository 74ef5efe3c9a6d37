/* fsutil: safe file creation and whole-file reads (common/fsutil.h). */
#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* user_of writes "uid N (name)" for uid into out. */
static void user_of(uid_t uid, char *out, size_t size) {
    struct passwd pw, *r = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &r) == 0 && r != NULL)
        snprintf(out, size, "uid %u (%.64s)", (unsigned)uid, r->pw_name);
    else
        snprintf(out, size, "uid %u", (unsigned)uid);
}

/* check_dir: the checks of fs_dir_check on fd, the directory dir. */
static int check_dir(int fd, const char *dir, unsigned flags, struct rerr *e) {
    struct stat st;
    if (fstat(fd, &st) != 0) return rerr_set(e, "%s: %s", dir, strerror(errno));
    mode_t m = st.st_mode & 07777;
    if (flags & FS_NAMED) {
        if ((m & S_IWOTH) && !(m & S_ISVTX))
            return rerr_set(e, "%s: every user may write this directory (mode %04o) and replace what revd writes "
                               "there: write elsewhere, or chmod o-w %s", dir, (unsigned)m, dir);
        return 1;
    }
    uid_t me = geteuid();
    if (st.st_uid != me) {
        char owner[96], us[96];
        user_of(st.st_uid, owner, sizeof(owner));
        user_of(me, us, sizeof(us));
        return rerr_set(e, "%s: owned by %s, not by revd's user, %s: its owner could replace what revd writes "
                           "there; run revd as its owner, or chown %u %s", dir, owner, us, (unsigned)me, dir);
    }
    if (flags & FS_TIGHTEN) {
        if (m != 0700 && fchmod(fd, 0700) != 0)
            return rerr_set(e, "%s: cannot make it private (mode %04o to 0700): %s", dir, (unsigned)m,
                            strerror(errno));
        return 1;
    }
    if (m & 022)
        return rerr_set(e, "%s: other users may write this directory (mode %04o) and replace what revd writes "
                           "there: chmod go-w %s", dir, (unsigned)m, dir);
    return 1;
}

int fs_dir_check(const char *dir, unsigned flags, struct rerr *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return rerr_set(e, "%s: cannot open the directory: %s", dir, strerror(errno));
    int ok = check_dir(fd, dir, flags, e);
    close(fd);
    return ok;
}

/* tmp_suffix: 64 bits nobody can guess (getrandom), or, where the kernel
 * has none yet, bits that differ from call to call: O_EXCL|O_NOFOLLOW keep
 * even a guessed name safe; randomness only makes planting pointless. */
static unsigned long long tmp_suffix(void) {
    static _Atomic unsigned long long counter; /* the CA-core and webhook threads both write files */
    unsigned long long r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r)) return r;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ((unsigned long long)getpid() << 40) ^ ((unsigned long long)ts.tv_nsec << 8) ^
           (atomic_fetch_add(&counter, 1) + 1);
}

int fs_tmp_open(struct fs_tmp *t, const char *path, mode_t mode, unsigned flags, struct rerr *e) {
    char dir[PATH_MAX];
    t->dir_fd = t->fd = -1;
    t->flags = flags;
    t->tmp[0] = '\0';
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t dlen = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (snprintf(t->path, sizeof(t->path), "%s", path) >= (int)sizeof(t->path) || dlen >= sizeof(dir))
        return rerr_set(e, "%s: path too long", path);
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return rerr_set(e, "%s: not a file name", path);
    /* NAME.tmp.<16 hex digits> must fit in a name too. */
    if (strlen(name) + 21 > NAME_MAX) return rerr_set(e, "%s: file name too long", path);
    snprintf(t->name, sizeof(t->name), "%s", name);
    if (slash == NULL) snprintf(dir, sizeof(dir), ".");
    else snprintf(dir, sizeof(dir), "%.*s", (int)dlen, path);
    t->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->dir_fd < 0) {
        int err = errno;
        return rerr_set(e, "%s: cannot write: %s%s", path, strerror(err), advice(err));
    }
    if (!check_dir(t->dir_fd, dir, flags, e)) goto fail;
    for (int i = 0; i < FS_TMP_TRIES && t->fd < 0; i++) {
        snprintf(t->tmp, sizeof(t->tmp), "%s.tmp.%016llx", name, tmp_suffix());
        t->fd = openat(t->dir_fd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (t->fd < 0 && errno != EEXIST) {
            int err = errno;
            rerr_set(e, "%s: cannot write: %s%s", path, strerror(err), advice(err));
            goto fail;
        }
    }
    if (t->fd < 0) {
        rerr_set(e, "%s: %d random temporary names beside it were all taken: look for files planted in %s", path,
                 FS_TMP_TRIES, dir);
        goto fail;
    }
    /* The mode asked for, whatever the umask: created with mode & ~umask,
     * it never had more than that. */
    if (fchmod(t->fd, mode) != 0) {
        int err = errno;
        rerr_set(e, "%s: cannot set its mode: %s", path, strerror(err));
        fs_tmp_abort(t);
        return 0;
    }
    return 1;
fail:
    close(t->dir_fd);
    t->dir_fd = -1;
    return 0;
}

void fs_tmp_abort(struct fs_tmp *t) {
    if (t->fd >= 0) close(t->fd);
    if (t->dir_fd >= 0) {
        unlinkat(t->dir_fd, t->tmp, 0);
        close(t->dir_fd);
    }
    t->fd = t->dir_fd = -1;
}

int fs_tmp_commit(struct fs_tmp *t, struct rerr *e) {
    int ok = 1, err = 0;
    if (!(t->flags & FS_NOSYNC) && fsync(t->fd) != 0) {
        err = errno;
        ok = rerr_set(e, "%s: fsync failed: %s%s", t->path, strerror(err), advice(err));
    }
    if (close(t->fd) != 0 && ok) {
        err = errno;
        ok = rerr_set(e, "%s: write failed: %s%s", t->path, strerror(err), advice(err));
    }
    t->fd = -1;
    if (ok && renameat(t->dir_fd, t->tmp, t->dir_fd, t->name) != 0) {
        err = errno;
        ok = rerr_set(e, "%s: rename failed: %s%s", t->path, strerror(err), advice(err));
    }
    if (!ok) unlinkat(t->dir_fd, t->tmp, 0);
    else if (!(t->flags & FS_NOSYNC) && fsync(t->dir_fd) != 0)
        ok = rerr_set(e, "%s: fsync of directory failed: %s", t->path, strerror(errno));
    close(t->dir_fd);
    t->dir_fd = -1;
    return ok;
}

int fs_write(const char *path, const void *p, size_t len, mode_t mode, unsigned flags, struct rerr *e) {
    struct fs_tmp t;
    if (!fs_tmp_open(&t, path, mode, flags, e)) return 0;
    const uint8_t *b = p;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(t.fd, b + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            fs_tmp_abort(&t);
            return rerr_set(e, "%s: write failed: %s%s", path, strerror(err), advice(err));
        }
        off += (size_t)n;
    }
    return fs_tmp_commit(&t, e);
}

int fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode, struct rerr *e) {
    return fs_write(path, p, len, mode, 0, e);
}

int fs_open_append(const char *path, mode_t mode, int *out_fd, struct rerr *e) {
    /* O_NONBLOCK: a FIFO planted there fails at once (ENXIO) instead of
     * holding the thread until someone reads it. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (fd < 0 && errno == ELOOP)
        return rerr_set(e, "%s: a symbolic link: revd appends only to a regular file of its own; remove the link",
                        path);
    if (fd < 0) {
        int err = errno;
        return rerr_set(e, "%s: cannot open: %s%s", path, strerror(err), advice(err));
    }
    struct stat st;
    uid_t me = geteuid();
    if (fstat(fd, &st) != 0) {
        rerr_set(e, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rerr_set(e, "%s: not a regular file: revd appends only to a regular file of its own; remove it", path);
    } else if (st.st_uid != me) {
        char owner[96];
        user_of(st.st_uid, owner, sizeof(owner));
        rerr_set(e, "%s: owned by %s, not by revd's user: remove it (revd creates it), or chown %u %s", path, owner,
                 (unsigned)me, path);
    } else if (st.st_nlink != 1) {
        rerr_set(e, "%s: has %lu links: another name could be read or swapped; remove the other links", path,
                 (unsigned long)st.st_nlink);
    } else if (fcntl(fd, F_SETFL, O_APPEND) != 0) {
        rerr_set(e, "%s: %s", path, strerror(errno));
    } else {
        *out_fd = fd;
        return 1;
    }
    close(fd);
    return 0;
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
