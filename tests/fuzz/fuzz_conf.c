/* libFuzzer target: a whole configuration file (common/conf), as conf_load
 * hands it to conf_parse: bytes and a length, no NUL at the end. Anything
 * may be refused, with a message that names the file; what is accepted must
 * follow the syntax in common/conf.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int key_ok(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > CONF_KEY_MAX || k[0] < 'a' || k[0] > 'z') return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-')) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct conf *c = NULL;
    struct rerr e;
    e.msg[0] = '\0';
    if (!conf_parse("fuzz.conf", data, size, &c, &e)) {
        if (c != NULL) abort();                                  /* *out untouched */
        if (strncmp(e.msg, "fuzz.conf:", 10) != 0) abort();     /* names the file */
        if (memchr(e.msg, '\n', strlen(e.msg)) != NULL) abort(); /* one line */
        const char *what = strstr(e.msg, ": ");                 /* after "fuzz.conf:LINE" */
        if (what != NULL && strncmp(what, ": internal error", 16) == 0) abort(); /* unreachable */
        return 0;
    }
    if (size > CONF_MAX_BYTES) abort();
    if (c->num > CONF_MAX_ENTRIES || strcmp(c->path, "fuzz.conf") != 0) abort();
    /* Lines within the file, each at least one more than the last. */
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    unsigned last = 0;
    for (size_t i = 0; i < c->num; i++) {
        const struct conf_entry *en = &c->entries[i];
        if (!key_ok(en->key)) abort();
        size_t v_len = strlen(en->value);
        if (v_len > CONF_VALUE_MAX) abort();
        for (size_t j = 0; j < v_len; j++) {
            uint8_t b = (uint8_t)en->value[j];
            if ((b < 0x20 && b != '\t') || b == 0x7f) abort();
        }
        if (en->line <= last || en->line > lines) abort();
        last = en->line;
        if (conf_get(c, en->key) != en) abort(); /* each key once */
    }
    conf_free(c);
    return 0;
}
