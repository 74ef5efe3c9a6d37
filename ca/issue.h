/* issue: what issuing reads from a request: the CSR and the SAN list
 * (ca_issue itself is in ca/ca.h). Hostile input: both parsers cap what
 * they accept and are fuzzed (tests/fuzz/fuzz_csr.c, fuzz_san.c). Any
 * thread (no shared state). */
#ifndef REVD_CA_ISSUE_H
#define REVD_CA_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/rerr.h"

/* issue_csr_parse_check parses a CSR (PEM or DER, at most 64 KiB), checks
 * its key (RSA 2048..16384, EC P-256/P-384/P-521, Ed25519) and its
 * self-signature. Returns the request (caller frees) and sets *is_rsa, or
 * NULL with e set. */
X509_REQ *issue_csr_parse_check(const uint8_t *p, size_t len, int *is_rsa, struct rerr *e);

/* issue_san_parse reads "DNS:x,IP:y,email:z,URI:u" (at most 100 names)
 * into new GENERAL_NAMES (caller frees), or NULL with e set. */
GENERAL_NAMES *issue_san_parse(const char *s, struct rerr *e);

#endif
