/* fuzz_cstr: the fuzz input as a C string (malloc'd, NUL-terminated; the
 * parsers under test read up to the first NUL, as they do a command-line
 * argument), or NULL when it is over max bytes or memory is short. For the
 * targets whose parser takes a string. */
#ifndef REVD_TESTS_FUZZ_CSTR_H
#define REVD_TESTS_FUZZ_CSTR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_cstr(const uint8_t *data, size_t size, size_t max) {
    if (size > max) return NULL;
    char *s = malloc(size + 1);
    if (s == NULL) return NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
