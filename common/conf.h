/* conf: revd's configuration file, `key = value` lines, read at start and
 * again on SIGHUP (node/settings.c for revd serve).
 *
 * The file is text (ASCII or UTF-8; bytes 0x80..0xff pass through
 * unchecked) of at most CONF_MAX_BYTES. Lines end in LF; a CR right before
 * an LF is dropped; the last line may lack its LF. Each line is one of
 *
 *   (blank)          nothing, or only spaces and tabs: ignored
 *   # comment        the first non-blank character is '#': ignored
 *   key = value      spaces and tabs allowed around '=' and around the line
 *
 *   key    [a-z][a-z0-9-]*, at most CONF_KEY_MAX characters, each key once.
 *   value  either the rest of the line with its surrounding spaces and tabs
 *          trimmed, possibly empty, taken as it is: there are no inline
 *          comments ('#' is part of the value) and no escapes;
 *          or, when it starts with '"', a quoted string whose only escapes
 *          are \" and \\, which ends on the same line, and after whose
 *          closing quote only spaces and tabs may follow (quote a value to
 *          keep its surrounding blanks or to start it with '"').
 *          At most CONF_VALUE_MAX bytes (as unescaped).
 *
 * At most CONF_MAX_ENTRIES entries. No control character other than tab may
 * appear anywhere, comments included: not NUL, not DEL, not a CR that does
 * not end a line. The first '=' on a line ends its key.
 *
 * Errors read "PATH:LINE: what is wrong", for example
 *   revd.conf:7: 'listen' given twice (first on line 3)
 * and "PATH: ..." for what concerns the whole file.
 *
 * conf_parse and conf_get are pure (any thread); conf_load blocks on the
 * disk (the thread that starts or reloads revd). A parsed struct conf is never changed: threads may
 * read it at once while its owner keeps it alive. */
#ifndef REVD_COMMON_CONF_H
#define REVD_COMMON_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define CONF_MAX_BYTES (64 * 1024) /* a larger file is refused */
#define CONF_MAX_ENTRIES 256
#define CONF_KEY_MAX 64
#define CONF_VALUE_MAX 4096

struct conf_entry {
    const char *key;   /* NUL-terminated, valid as a key */
    const char *value; /* NUL-terminated, unescaped; may hold bytes >= 0x80 */
    unsigned line;     /* 1-based line of the file it came from */
};

struct conf {
    struct conf_entry *entries; /* num entries, in the order of the file */
    size_t num;
    char *path; /* as given to conf_parse */
    /* private: the keys and values that entries point into */
    char *text_;
};

/* conf_parse parses buf[0..len) (at most CONF_MAX_BYTES; no NUL needed at
 * the end, none allowed inside). path, not NULL, is only used in messages
 * and copied into the result. Returns 1 with *out a new struct conf that the
 * caller frees with conf_free, or 0 with e set to "PATH:LINE: what is wrong"
 * (or "PATH: larger than 64 KiB") and *out untouched. */
int conf_parse(const char *path, const uint8_t *buf, size_t len, struct conf **out, struct rerr *e);

/* conf_load reads the file at path (at most CONF_MAX_BYTES, else "PATH:
 * larger than 64 KiB") and parses it as conf_parse does. A missing file is
 * the error "PATH: no such file": a caller for which absence is fine checks
 * existence itself. Other errors name the file and give strerror. Returns 1
 * with *out to free with conf_free, or 0 with e set and *out untouched.
 * Blocks on the disk: not a shard. */
int conf_load(const char *path, struct conf **out, struct rerr *e);

/* conf_free frees c, its entries and their strings. c may be NULL. */
void conf_free(struct conf *c);

/* conf_get returns the entry for key, or NULL when the file has none (or c
 * or key is NULL). The entry belongs to c and lives as long as it. */
const struct conf_entry *conf_get(const struct conf *c, const char *key);

#endif
