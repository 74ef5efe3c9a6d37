/* nameconst: name constraints (RFC 5280 4.2.1.10) of CA certificates:
 * building the extension of a new subordinate from its parameters, and
 * checking the names a certificate would carry against the constraints of
 * the issuing CA and of every ancestor of it in DIR, each read from its
 * certificate's nameConstraints extension (OpenSSL's d2i: bounded by the
 * certificate; at most NC_SUBTREES_MAX subtrees a certificate are read).
 *
 * Matching follows OpenSSL's nc_dns and nc_ip (crypto/x509/v3_ncons.c):
 * a DNS subtree "example.test" holds example.test and every name ending in
 * ".example.test"; ".example.test" only the latter; the empty one every
 * name; comparison ignores ASCII case. A wildcard name "*.example.test" is
 * compared as written, and is also refused when it could stand for a name
 * of an excluded subtree ("www.example.test"). An IP subtree holds the
 * addresses of its family under its mask. As RFC 5280 says, permitted
 * subtrees of one type bind only names of that type (a CA with only DNS
 * subtrees may issue IP names). Subtrees of other types (email, URI,
 * directoryName) are not checked here; a subtree with a minimum or a
 * maximum (which RFC 5280 forbids) refuses every issuance.
 *
 * Returns 1/0 with e set. Thread: the CA-core thread. */
#ifndef REVD_CA_NAMECONST_H
#define REVD_CA_NAMECONST_H

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca.h"
#include "ca/core.h"
#include "common/rerr.h"

#define NC_SUBTREES_MAX 1024

/* nameconst_build: p's name constraints, checked, as a new extension value
 * in *out (caller frees; NULL when p has none). Refused on a root. */
int nameconst_build(const struct ca_create_params *p, NAME_CONSTRAINTS **out, struct rerr *e);

/* nameconst_check: every dNSName and iPAddress of san (may be NULL) and
 * every CN of subj that is a DNS name or an IP address are within the
 * constraints of ca and its ancestors in c. */
int nameconst_check(const struct ca_core *c, const struct ca *ca, const GENERAL_NAMES *san, const X509_NAME *subj,
                    struct rerr *e);

/* nameconst_match: one name (type GEN_DNS or GEN_IPADD, octets v[0..len))
 * against one certificate's constraints nc, of CA caname: 1 within, 0 with
 * e set. What nameconst_check does for each CA; fuzzed with hostile nc
 * (tests/fuzz/fuzz_nameconst.c). */
int nameconst_match(const NAME_CONSTRAINTS *nc, const char *caname, int type, const uint8_t *v, size_t len,
                    struct rerr *e);

#endif
