/* jsonsafe: JSON strings from bytes that may not be UTF-8 (names, SANs,
 * messages that quote user input). jansson refuses invalid UTF-8 and would
 * make json_pack() return NULL; these never fail for that reason.
 * Pure; any thread. */
#ifndef REVD_COMMON_JSONSAFE_H
#define REVD_COMMON_JSONSAFE_H

#include <stddef.h>

#include <jansson.h>

/* jsafe_valid_utf8 says whether p[0..len) is valid UTF-8 without NUL. */
int jsafe_valid_utf8(const char *p, size_t len);

/* jsafe_string returns a new JSON string of s: as it is when valid UTF-8,
 * else with each offending byte written as \xNN. s may be NULL (JSON null). */
json_t *jsafe_string(const char *s);

#endif
