/* adminbody: the admin API's request bodies (docs/admin.md), checked
 * before anything runs: JSON that parses whole (a key given twice is
 * refused), an object, only the fields the call takes, the required ones
 * present (null counts as missing), each of its type and in its range.
 * Pure: no I/O, any thread. Fuzzed by tests/fuzz/fuzz_adminbody.c. */
#ifndef REVD_CMD_ADMINBODY_H
#define REVD_CMD_ADMINBODY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ADMINBODY_MAX (64 * 1024)

enum adminbody_kind { AB_NONE, AB_CREATE_CA, AB_DELETE, AB_ISSUE, AB_REVOKE, AB_CRED, AB_EAB, AB_NUM };

/* adminbody_parse parses p[0..n) (n 0: an empty object) and checks it for
 * kind. Returns the object (the caller decrefs), or NULL with why set to
 * what a 400 says. */
json_t *adminbody_parse(enum adminbody_kind kind, const uint8_t *p, size_t n, char *why, size_t wl);

/* adminbody_check checks an object already parsed. 1, or 0 with why. */
int adminbody_check(enum adminbody_kind kind, json_t *body, char *why, size_t wl);

#endif
