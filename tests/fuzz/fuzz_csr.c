/* libFuzzer target: certificate signing requests as `revd issue` and the
 * control socket receive them, PEM or DER (issue_csr_parse_check in ca/issue.c).
 * Hostile DER, wrong key types and broken signatures must be refused with a
 * message; what is accepted is freed. */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "ca/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct rerr e;
    e.msg[0] = '\0';
    int is_rsa = -1;
    X509_REQ *req = issue_csr_parse_check(data, size, &is_rsa, &e);
    if (req == NULL) {
        if (e.msg[0] == '\0') abort();
    } else {
        if (is_rsa != 0 && is_rsa != 1) abort();
        if (X509_REQ_get0_pubkey(req) == NULL) abort();
        X509_REQ_free(req);
    }
    ERR_clear_error();
    return 0;
}
