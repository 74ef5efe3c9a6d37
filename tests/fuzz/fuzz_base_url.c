/* libFuzzer target: a CA's base URL (urls_normalize_base in common/urls.c),
 * from `revd ca create --base-url`. What is accepted is canonical (a second
 * pass changes nothing), and every URL built from it fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_cstr.h"
#include "common/urls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstr(data, size, 4096);
    if (s == NULL) return 0;
    char out[URLS_MAX];
    struct rerr e;
    e.msg[0] = '\0';
    if (urls_normalize_base(s, out, &e)) {
        size_t n = strlen(out);
        if (n == 0 || n >= URLS_MAX - 64) abort();
        if (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0) abort();
        if (out[n - 1] == '/') abort();
        if (strpbrk(out, "?#%@ ") != NULL) abort();
        char again[URLS_MAX];
        if (!urls_normalize_base(out, again, &e) || strcmp(again, out) != 0) abort();
        /* With a short CA name every URL fits (a 64-character name need not:
         * see test_ca.c, test_long_base_url_and_name). */
        char url[URLS_MAX];
        if (!urls_ocsp(out, url) || !urls_crl_partition(out, "sub", 4294967295u, url) ||
            !urls_crl_complete(out, "sub", url) || !urls_crl_ca_scope(out, "sub", url) ||
            !urls_ca_issuers(out, "sub", url))
            abort();
    } else if (e.msg[0] == '\0') {
        abort();
    }
    free(s);
    return 0;
}
