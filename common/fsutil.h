/* fsutil: files that survive a crash. Boot and CA-core threads only: these
 * calls block on the disk. */
#ifndef REVD_COMMON_FSUTIL_H
#define REVD_COMMON_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/rerr.h"

/* fs_write_atomic writes len bytes to path through a temporary file in the
 * same directory: write, fsync, rename, fsync of the directory. A reader sees
 * the old file or the new one, never a part. Returns 1, or 0 with e set. */
int fs_write_atomic(const char *path, const void *p, size_t len, mode_t mode, struct rerr *e);

/* fs_read_file reads the whole of path, refusing files over max bytes. On
 * success *out is a malloc'd buffer (NUL-terminated, not counted in
 * *out_len) that the caller frees. Returns 1, or 0 with e set. */
int fs_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, struct rerr *e);

/* fs_mkdirs creates path and its missing parents with mode. Returns 1 or 0. */
int fs_mkdirs(const char *path, mode_t mode, struct rerr *e);

#endif
