/* libFuzzer target: what an ACME client names (acme/ident.c, acme/renewal.c):
 * the input, cut at its first two NULs, is an identifier's type, its value
 * and an allow-list entry. acme_ident_canon must give a canonical value
 * that canonicalizes to itself; acme_allow_entry_ok and acme_allowed must
 * not crash on anything; an allow list of the entry alone must cover a
 * canonical DNS value that ends with it. The whole input is also read as a
 * renewal-information certificate id (acme_certid_parse), whose serial
 * must be hex. Properties: no crash, no leak, those identities. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acme/ident.h"
#include "acme/renewal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1024) return 0;
    char *buf = malloc(size + 3);
    if (buf == NULL) return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *type = buf, *value = type + strlen(type) + 1;
    if (value > buf + size) value = buf + size;
    const char *entry = value + strlen(value) + 1;
    if (entry > buf + size) entry = buf + size;
    char canon[ACME_IDENT_MAX + 1], again[ACME_IDENT_MAX + 1];
    const char *why = NULL;
    if (acme_ident_canon(type, value, canon, &why)) {
        if (!acme_ident_canon(type, canon, again, &why) || strcmp(canon, again) != 0) abort();
        json_t *allow = json_pack("[s]", entry);
        int ok = acme_allow_entry_ok(entry);
        int covered = acme_allowed(allow, type, canon);
        /* An entry equal to the (non-wildcard) name covers it. */
        if (ok && strcmp(type, "dns") == 0 && canon[0] != '*' && strcasecmp(entry, canon) == 0 && !covered) abort();
        json_decref(allow);
    } else if (why == NULL || why[0] == '\0') {
        abort(); /* a refusal says why */
    }
    uint8_t aki[64];
    size_t al = 0;
    char serial[2 * 21 + 3];
    if (size > 0 && memchr(data, '\0', size) == NULL) {
        memcpy(buf, data, size);
        buf[size] = '\0';
        if (acme_certid_parse(buf, aki, &al, serial))
            for (const char *p = serial; *p; p++)
                if (!isxdigit((unsigned char)*p)) abort();
    }
    free(buf);
    return 0;
}
