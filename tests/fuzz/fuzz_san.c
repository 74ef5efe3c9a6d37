/* libFuzzer target: the --san list of `revd issue` and of control-socket
 * requests, "DNS:x,IP:y,email:z,URI:u" (issue_san_parse in ca/issue.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tests/fuzz/fuzz_cstr.h"
#include "ca/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = fuzz_cstr(data, size, 65536);
    if (s == NULL) return 0;
    struct rerr e;
    e.msg[0] = '\0';
    GENERAL_NAMES *g = issue_san_parse(s, &e);
    if (g == NULL) {
        if (e.msg[0] == '\0') abort();
    } else {
        int n = sk_GENERAL_NAME_num(g);
        if (n < 1 || n > 100) abort();
        for (int i = 0; i < n; i++) {
            int type = sk_GENERAL_NAME_value(g, i)->type;
            if (type != GEN_DNS && type != GEN_IPADD && type != GEN_EMAIL && type != GEN_URI) abort();
        }
        GENERAL_NAMES_free(g);
    }
    ERR_clear_error();
    free(s);
    return 0;
}
