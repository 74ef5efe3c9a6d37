#include "common/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The size cap as the messages say it. */
#define CONF_MAX_KIB (CONF_MAX_BYTES / 1024)

/* Room for show(): CONF_KEY_MAX bytes at 4 characters each, "...", NUL. */
#define SHOW_MAX (4 * CONF_KEY_MAX + 4)

static int is_blank(uint8_t c) { return c == ' ' || c == '\t'; }

/* The C0 controls but tab, and DEL. Bytes >= 0x80 are not looked at: the
 * file may be UTF-8 and is not validated. */
static int is_control(uint8_t c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

static int is_key(const uint8_t *p, size_t len) {
    if (len == 0 || len > CONF_KEY_MAX) return 0;
    if (p[0] < 'a' || p[0] > 'z') return 0;
    for (size_t i = 1; i < len; i++) {
        uint8_t c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return 0;
    }
    return 1;
}

/* show writes p[0..len) into out (SHOW_MAX bytes) for a message to quote
 * between single quotes: at most CONF_KEY_MAX bytes, printable ASCII as it
 * is but for ' and \ (escaped), anything else as \xNN, "..." when cut. */
static void show(char out[SHOW_MAX], const uint8_t *p, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t n = len > CONF_KEY_MAX ? CONF_KEY_MAX : len;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\'' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (n < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* The parse of one file: where keys and values are copied to. */
struct parser {
    const char *path;
    struct conf *c;
    size_t text_cap; /* bytes at c->text_ */
    size_t text_len; /* bytes used */
};

/* parse_line reads one line p[0..len), without its LF or the CR before it,
 * and adds its entry, if any, to ps->c. Returns 1, or 0 with e set. */
static int parse_line(struct parser *ps, unsigned line, const uint8_t *p, size_t len, struct rerr *e) {
    const char *path = ps->path;
    struct conf *c = ps->c;
    char shown[SHOW_MAX];

    for (size_t i = 0; i < len; i++)
        if (is_control(p[i]))
            return rerr_set(e, "%s:%u: control character 0x%02x (a config file is text; tab is the only control character allowed)",
                            path, line, p[i]);

    size_t start = 0, end = len; /* the line trimmed of blanks */
    while (start < end && is_blank(p[start])) start++;
    while (end > start && is_blank(p[end - 1])) end--;
    if (start == end || p[start] == '#') return 1;

    const uint8_t *eq = memchr(p + start, '=', end - start);
    if (eq == NULL) return rerr_set(e, "%s:%u: no '=' (expected key = value, or '#' for a comment)", path, line);
    size_t key_end = (size_t)(eq - p);
    while (key_end > start && is_blank(p[key_end - 1])) key_end--;
    const uint8_t *key = p + start;
    size_t key_len = key_end - start;
    if (!is_key(key, key_len)) {
        show(shown, key, key_len);
        if (key_len > CONF_KEY_MAX)
            return rerr_set(e, "%s:%u: bad key '%s' (longer than %d characters)", path, line, shown, CONF_KEY_MAX);
        return rerr_set(e, "%s:%u: bad key '%s' (a key is a-z, then a-z, 0-9 or '-')", path, line, shown);
    }

    /* Keys and values are copied one after the other into c->text_, each
     * with a NUL. A line's key and value together are shorter than the line
     * (by its '=' at least), so with their two NULs they take no more than
     * the line and its LF: all of them fit in the file's length + 1 bytes.
     * The check guards that arithmetic; no input can fail it. */
    size_t room = ps->text_cap - ps->text_len;
    if (len + 1 > room) return rerr_set(e, "%s:%u: internal error (out of room for the text)", path, line);
    char *k = c->text_ + ps->text_len;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    char *v = k + key_len + 1;

    for (size_t i = 0; i < c->num; i++)
        if (strcmp(c->entries[i].key, k) == 0)
            return rerr_set(e, "%s:%u: '%s' given twice (first on line %u)", path, line, k, c->entries[i].line);

    size_t vs = (size_t)(eq - p) + 1;
    while (vs < end && is_blank(p[vs])) vs++;
    size_t v_len = 0;
    if (vs < end && p[vs] == '"') {
        /* Read to the closing quote over the untrimmed line: blanks before
         * it belong to the value. */
        size_t i = vs + 1;
        for (;;) {
            if (i >= len)
                return rerr_set(e, "%s:%u: unterminated quote in the value of '%s' (a quoted value ends with \" on its line)",
                                path, line, k);
            uint8_t ch = p[i];
            if (ch == '"') break;
            if (ch == '\\') {
                if (i + 1 >= len)
                    return rerr_set(e, "%s:%u: unterminated quote in the value of '%s' (a quoted value ends with \" on its line)",
                                    path, line, k);
                ch = p[i + 1];
                if (ch != '"' && ch != '\\') {
                    show(shown, &ch, 1);
                    return rerr_set(e, "%s:%u: bad escape '\\%s' in the value of '%s' (inside quotes only \\\" and \\\\ are escapes)",
                                    path, line, shown, k);
                }
                i += 2;
            } else {
                i++;
            }
            if (v_len == CONF_VALUE_MAX)
                return rerr_set(e, "%s:%u: the value of '%s' is longer than %d bytes", path, line, k, CONF_VALUE_MAX);
            v[v_len++] = (char)ch;
        }
        i++;
        while (i < len && is_blank(p[i])) i++;
        if (i < len)
            return rerr_set(e, "%s:%u: text after the closing quote of the value of '%s' (no comments after a value)",
                            path, line, k);
    } else {
        v_len = end - vs;
        if (v_len > CONF_VALUE_MAX)
            return rerr_set(e, "%s:%u: the value of '%s' is longer than %d bytes", path, line, k, CONF_VALUE_MAX);
        memcpy(v, p + vs, v_len);
    }
    v[v_len] = '\0';

    if (c->num == CONF_MAX_ENTRIES) return rerr_set(e, "%s:%u: more than %d entries", path, line, CONF_MAX_ENTRIES);
    c->entries[c->num].key = k;
    c->entries[c->num].value = v;
    c->entries[c->num].line = line;
    c->num++;
    ps->text_len += key_len + 1 + v_len + 1;
    return 1;
}

int conf_parse(const char *path, const uint8_t *buf, size_t len, struct conf **out, struct rerr *e) {
    struct conf *c = NULL;
    int ok = 0;

    if (len > CONF_MAX_BYTES) return rerr_set(e, "%s: larger than %d KiB", path, CONF_MAX_KIB);
    c = calloc(1, sizeof(*c));
    if (c == NULL) goto oom;
    c->path = strdup(path);
    c->entries = calloc(CONF_MAX_ENTRIES, sizeof(*c->entries));
    c->text_ = malloc(len + 1);
    if (c->path == NULL || c->entries == NULL || c->text_ == NULL) goto oom;

    struct parser ps = {.path = path, .c = c, .text_cap = len + 1, .text_len = 0};
    size_t pos = 0;
    unsigned line = 0; /* at most CONF_MAX_BYTES + 1 lines */
    while (pos < len) {
        line++;
        const uint8_t *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        size_t next = nl != NULL ? end + 1 : len;
        /* Only a CR that comes before an LF ends a line: one at the very end
         * of the file is refused as a control character. */
        if (nl != NULL && end > pos && buf[end - 1] == '\r') end--;
        if (!parse_line(&ps, line, buf + pos, end - pos, e)) goto done;
        pos = next;
    }
    *out = c;
    c = NULL;
    ok = 1;
    goto done;
oom:
    rerr_set(e, "%s: out of memory", path);
done:
    conf_free(c);
    return ok;
}

int conf_load(const char *path, struct conf **out, struct rerr *e) {
    uint8_t *buf = NULL;
    int ok = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return rerr_set(e, "%s: no such file", path);
        return rerr_set(e, "%s: cannot open: %s", path, strerror(errno));
    }
    /* Read one byte past the cap rather than trust fstat: the size of a
     * file can change under us, and a pipe has none. */
    buf = malloc(CONF_MAX_BYTES + 1);
    if (buf == NULL) {
        rerr_set(e, "%s: out of memory", path);
        goto done;
    }
    size_t len = 0;
    while (len < CONF_MAX_BYTES + 1) {
        ssize_t n = read(fd, buf + len, CONF_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rerr_set(e, "%s: cannot read: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    if (len > CONF_MAX_BYTES) {
        rerr_set(e, "%s: larger than %d KiB", path, CONF_MAX_KIB);
        goto done;
    }
    ok = conf_parse(path, buf, len, out, e);
done:
    close(fd);
    free(buf);
    return ok;
}

void conf_free(struct conf *c) {
    if (c == NULL) return;
    free(c->entries);
    free(c->path);
    free(c->text_);
    free(c);
}

const struct conf_entry *conf_get(const struct conf *c, const char *key) {
    if (c == NULL || key == NULL) return NULL;
    for (size_t i = 0; i < c->num; i++)
        if (strcmp(c->entries[i].key, key) == 0) return &c->entries[i];
    return NULL;
}
