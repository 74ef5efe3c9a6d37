/* fsutil: files that survive a crash, and that no other local user can
 * redirect. Boot, CA-core and webhook threads, never a serving thread:
 * these calls block on the disk. Nothing here is shared between calls.
 *
 * Every file revd writes is created here, one way (issue 13):
 *   - a new file is made beside its final name under a private temporary
 *     name (NAME.tmp.<16 random hex digits>), through a descriptor of its
 *     directory, with O_CREAT|O_EXCL|O_NOFOLLOW and the mode asked for:
 *     a symlink or file planted at any name is never followed, truncated
 *     or reused (a taken name is a new random name, up to FS_TMP_TRIES);
 *     then written, synced, and renamed over the final name (rename
 *     replaces a planted symlink there, it does not follow it);
 *   - a file appended to (events.jsonl, the CRL archive) is opened
 *     O_NOFOLLOW and must be a regular file of ours with one link;
 *   - the directory is checked first: one of revd's own (DIR and below,
 *     --report-dir) must be owned by revd's effective uid and writable by no
 *     one else; one the user named on the command line (--out) must not be
 *     writable by every user without the sticky bit.
 * Files are private (0600) unless the caller says otherwise: certificates,
 * chains and CRLs are 0644 (docs/cli.md). */
#ifndef REVD_COMMON_FSUTIL_H
#define REVD_COMMON_FSUTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/rerr.h"

/* Temporary names tried before giving up: each taken one is a file someone
 * planted (or a crash left) at a random name. */
#define FS_TMP_TRIES 16

/* Flags for fs_dir_check, fs_tmp_open and fs_write. */
#define FS_NAMED 1u   /* a path the user named: only an every-user-writable, non-sticky directory is refused */
#define FS_TIGHTEN 2u /* fs_dir_check: a directory of ours that others may enter is made 0700 */
#define FS_NOSYNC 4u  /* fs_tmp_commit: renamed without fsync (a hint whose loss costs a repeat, not data) */

/* fs_tmp: a new file being written beside its final name. Filled by
 * fs_tmp_open, released by fs_tmp_commit or fs_tmp_abort. */
struct fs_tmp {
    int dir_fd;              /* the directory, opened once: the name cannot be swapped under us */
    int fd;                  /* the new file, write-only; the caller writes it */
    unsigned flags;          /* as given to fs_tmp_open */
    char name[NAME_MAX + 1]; /* the final name in dir_fd */
    char tmp[NAME_MAX + 1];  /* the temporary name in dir_fd */
    char path[PATH_MAX];     /* the final path, for messages */
};

/* fs_dir_check checks the directory dir before revd writes in it (flags:
 * 0 for one of revd's own, FS_NAMED for one the user named; FS_TIGHTEN
 * makes one of ours 0700, as the data directory is). A symlink to a
 * directory is followed: an operator may put DIR/crl elsewhere. Returns 1,
 * or 0 with e set to a message naming dir and what to do. */
int fs_dir_check(const char *dir, unsigned flags, struct rerr *e);

/* fs_tmp_open checks path's directory (fs_dir_check with flags) and creates
 * a new, empty file with mode there under a private temporary name. Returns
 * 1 with t filled (the caller writes t->fd, then calls fs_tmp_commit or
 * fs_tmp_abort), or 0 with e set and nothing held. */
int fs_tmp_open(struct fs_tmp *t, const char *path, mode_t mode, unsigned flags, struct rerr *e);

/* fs_tmp_commit syncs and closes the file, renames it over the final name
 * and syncs the directory (no syncs under FS_NOSYNC). t is released either way; on failure the
 * temporary file is removed. Returns 1, or 0 with e set. */
int fs_tmp_commit(struct fs_tmp *t, struct rerr *e);

/* fs_tmp_abort closes and removes the temporary file and releases t. */
void fs_tmp_abort(struct fs_tmp *t);

/* fs_write_atomic writes len bytes to path in one of revd's own directories
 * through fs_tmp: a reader sees the old file or the new one, never a part.
 * Returns 1, or 0 with e set. */
int fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode, struct rerr *e);

/* fs_write is fs_write_atomic with flags: FS_NAMED for a path the user
 * named (--out), FS_NOSYNC. */
int fs_write(const char *path, const void *p, size_t len, mode_t mode, unsigned flags, struct rerr *e);

/* fs_open_append opens path for appending (created with mode when missing),
 * refusing a symlink, anything but a regular file, a file another user owns
 * and one with other hard links. Returns 1 with *out_fd the descriptor (the
 * caller closes it), or 0 with e set. */
int fs_open_append(const char *path, mode_t mode, int *out_fd, struct rerr *e);

/* fs_read_file reads the whole of path, refusing files over max bytes. On
 * success *out is a malloc'd buffer (NUL-terminated, not counted in
 * *out_len) that the caller frees. Returns 1, or 0 with e set. */
int fs_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, struct rerr *e);

/* fs_mkdirs creates path and its missing parents with mode. Returns 1 or 0. */
int fs_mkdirs(const char *path, mode_t mode, struct rerr *e);

#endif
