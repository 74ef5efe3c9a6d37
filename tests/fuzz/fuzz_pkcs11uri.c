/* libFuzzer target: a PKCS#11 key URI (pkcs11_uri_valid in ca/pkcs11.c),
 * from `revd ca create-root --key-uri` and the admin API's key_uri. What is
 * accepted starts with "pkcs11:", fits PKCS11_URI_MAX, is printable ASCII
 * without spaces, names a key and carries no PIN: checked here again by a
 * second, plainer reading (every attribute after any of ";?&"). A refusal
 * always says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_cstr.h"
#include "ca/pkcs11.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* has_attr: some attribute of s, after "pkcs11:" or any of ";?&", is name=. */
static int has_attr(const char *s, const char *name) {
    size_t n = strlen(name);
    for (const char *p = s; (p = strstr(p, name)) != NULL; p++)
        if (p[n] == '=' && (p == s + 7 || strchr(";?&", p[-1]) != NULL)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstr(data, size, 4096);
    if (s == NULL) return 0;
    struct rerr e;
    e.msg[0] = '\0';
    if (pkcs11_uri_valid(s, &e)) {
        size_t n = strlen(s);
        if (n > PKCS11_URI_MAX || strncmp(s, "pkcs11:", 7) != 0) abort(); /* (a C string: up to a NUL) */
        for (size_t i = 0; i < n; i++)
            if (s[i] <= 0x20 || s[i] >= 0x7f) abort();
        if (has_attr(s, "pin-value") || has_attr(s, "pin-source")) abort();
        if (!has_attr(s, "object") && !has_attr(s, "id")) abort();
    } else if (e.msg[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
