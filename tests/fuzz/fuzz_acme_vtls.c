/* libFuzzer target: a tls-alpn-01 certificate (DER) as challenge
 * validation checks it (acme_vtls_cert_ok in acme/vtls.c: one
 * subjectAltName entry, the critical acmeIdentifier extension's OCTET
 * STRING read strictly). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "acme/vtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)(size > 65536 ? 65536 : size));
    if (x == NULL) {
        ERR_clear_error();
        return 0;
    }
    struct acme_vid dns = {0}, ip = {0};
    struct acme_vresult r;
    uint8_t digest[32];
    memset(digest, 0x5a, sizeof(digest));
    strcpy(dns.name, "tls.test");
    ip.is_ip = 1;
    ip.ip.family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", ip.ip.a);
    strcpy(ip.name, "127.0.0.1");
    for (int i = 0; i < 2; i++) {
        r.problem = NULL;
        if (!acme_vtls_cert_ok(x, i ? &ip : &dns, digest, &r) && r.problem == NULL) abort();
    }
    X509_free(x);
    ERR_clear_error();
    return 0;
}
