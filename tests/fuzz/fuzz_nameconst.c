/* libFuzzer target: the name-constraint matching of ca/nameconst.c against
 * a hostile nameConstraints extension (an imported CA's certificate):
 * the first byte is the name's length n, the next n bytes the name (4 or
 * 16: an IP address, else a DNS name), the rest the extension's DER as
 * OpenSSL's d2i reads it. Properties: no crash, no over-read; a refusal
 * starts with the reason and is one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca/nameconst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || (size_t)data[0] + 1 > size) return 0;
    size_t n = data[0];
    const uint8_t *name = data + 1, *der = data + 1 + n;
    const unsigned char *q = der;
    NAME_CONSTRAINTS *nc = (NAME_CONSTRAINTS *)ASN1_item_d2i(NULL, &q, (long)(size - 1 - n), ASN1_ITEM_rptr(NAME_CONSTRAINTS));
    ERR_clear_error();
    if (nc == NULL) return 0;
    uint8_t *copy = malloc(n ? n : 1); /* the name in its own allocation: an over-read shows under ASan */
    if (copy == NULL) abort();
    memcpy(copy, name, n);
    struct rerr e;
    e.msg[0] = '\0';
    int type = (n == 4 || n == 16) ? GEN_IPADD : GEN_DNS;
    if (!nameconst_match(nc, "fuzz", type, copy, n, &e)) {
        if (strncmp(e.msg, CA_NC_REASON ": ", strlen(CA_NC_REASON) + 2) != 0 || strchr(e.msg, '\n') != NULL) abort();
    }
    if (type == GEN_IPADD) {
        e.msg[0] = '\0';
        if (!nameconst_match(nc, "fuzz", GEN_DNS, copy, n, &e) && e.msg[0] == '\0') abort();
    }
    free(copy);
    NAME_CONSTRAINTS_free(nc);
    return 0;
}
