/* acme/vtypes: the types of challenge validation (acme/validate.h): the
 * challenge kinds, the configuration and the result. Header only; shared
 * by acme/validate.c, vhttp.c and vtls.c so that they need not include
 * each other. */
#ifndef REVD_ACME_VTYPES_H
#define REVD_ACME_VTYPES_H

#include <stddef.h>

#define ACME_TOKEN_MAX 128    /* a challenge token: base64url, 1..128 characters */
#define ACME_ID_MAX 253       /* a DNS identifier (a "*." prefix aside) */

enum acme_chal_type { ACME_CHAL_HTTP01, ACME_CHAL_DNS01, ACME_CHAL_TLSALPN01 };

struct acme_vconf {
    int http_port;          /* 80; tests set another (--acme-http-port) */
    int tls_port;           /* 443 (--acme-tls-port) */
    char resolver[64];      /* "HOST:PORT" or "HOST" (port 53), HOST an IPv4 address: the only
                               DNS server validation asks; "" = the system's (res_ninit defaults) */
    int timeout_ms;         /* the whole attempt (lookups, connects, TLS, reads, redirects) */
    int max_redirects;      /* http-01, e.g. 10 */
    size_t max_body;        /* http-01 answer cap, e.g. 8192: a longer answer fails */
};

struct acme_vresult {
    const char *problem;    /* on failure, an ACME error type suffix: "connection", "dns", "tls",
                               "unauthorized", "incorrectResponse", "malformed" (a static string) */
    char detail[512];       /* what went wrong, for the problem document (no secrets) */
};

#endif
