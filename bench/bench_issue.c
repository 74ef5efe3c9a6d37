/* bench_issue: issuance rate of the CA core, in one process.
 *
 *   bench_issue DIR N
 *
 * Creates (in an empty DIR) an ECDSA P-256 root and issuing CA, then issues N
 * certificates from one CSR through ca_issue(): CSR check, signing, and the
 * synced index write of each, as `revd issue` does. Prints certificates/s.
 * bench/issue.sh runs it beside `openssl speed ecdsap256` and an
 * `openssl x509 -req` loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ca/ca.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_issue DIR N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    struct rerr e;
    struct ca_core *c;
    if (!ca_core_open(argv[1], 1, &c, &e)) {
        fprintf(stderr, "bench_issue: %s\n", e.msg);
        return 1;
    }
    struct ca_create_params root = {.name = "bench-root", .subject = "/CN=bench root", .path_len = -1};
    struct ca_create_params sub = {.name = "bench-sub", .parent = "bench-root", .subject = "/CN=bench sub",
                                   .path_len = 0};
    if (!ca_create(c, &root, &e) || !ca_create(c, &sub, &e)) {
        fprintf(stderr, "bench_issue: %s\n", e.msg);
        return 1;
    }
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509_REQ *r = X509_REQ_new();
    X509_NAME *nm = X509_NAME_new();
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)"bench.test", -1, -1, 0);
    X509_REQ_set_subject_name(r, nm);
    X509_REQ_set_pubkey(r, k);
    X509_REQ_sign(r, k, EVP_sha256());
    uint8_t *der = NULL;
    int dl = i2d_X509_REQ(r, &der);
    struct ca_issue_params p = {.ca = "bench-sub", .csr = der, .csr_len = (size_t)dl,
                                .san = "DNS:bench.test", .path_len = -1};
    double t0 = now();
    for (int i = 0; i < n; i++) {
        char *pem = NULL;
        if (!ca_issue(c, &p, &pem, &e)) {
            fprintf(stderr, "bench_issue: %s\n", e.msg);
            return 1;
        }
        free(pem);
    }
    double dt = now() - t0;
    printf("revd ca_issue: %d certificates in %.2f s: %.0f certificates/s\n", n, dt, n / dt);
    OPENSSL_free(der);
    X509_NAME_free(nm);
    X509_REQ_free(r);
    EVP_PKEY_free(k);
    ca_core_free(c);
    return 0;
}
