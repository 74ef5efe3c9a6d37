/* reason: RFC 5280 CRLReason codes and their names. Pure; any thread. */
#ifndef REVD_COMMON_REASON_H
#define REVD_COMMON_REASON_H

/* CRLReason ::= ENUMERATED (RFC 5280 5.3.1); 7 is not used. */
enum crl_reason {
    REASON_UNSPECIFIED = 0,
    REASON_KEY_COMPROMISE = 1,
    REASON_CA_COMPROMISE = 2,
    REASON_AFFILIATION_CHANGED = 3,
    REASON_SUPERSEDED = 4,
    REASON_CESSATION_OF_OPERATION = 5,
    REASON_CERTIFICATE_HOLD = 6,
    REASON_REMOVE_FROM_CRL = 8,
    REASON_PRIVILEGE_WITHDRAWN = 9,
    REASON_AA_COMPROMISE = 10,
};

/* reason_parse maps an RFC 5280 name (case-insensitive) to its code.
 * removeFromCRL is not accepted: it is a delta-CRL mechanism, not a reason an
 * operator gives. Returns 1, or 0 for an unknown name. */
int reason_parse(const char *s, int *out);

/* reason_name returns the RFC 5280 name of code, or NULL if it is not one. */
const char *reason_name(int code);

/* reason_list is the accepted names, comma-separated, for error messages. */
const char *reason_list(void);

#endif
