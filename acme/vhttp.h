/* acme/vhttp: the http-01 challenge (RFC 8555 8.3) through libcurl, names
 * resolved by acme/vdns, redirects followed hop by hop. Blocking; a
 * validation thread only. Returns 1 valid, 0 with out filled. */
#ifndef REVD_ACME_VHTTP_H
#define REVD_ACME_VHTTP_H

#include <stdint.h>

#include "acme/vutil.h"

/* acme_vhttp01 fetches http://ID:http_port/.well-known/acme-challenge/TOKEN
 * before deadline (acme_vnow_ms) and compares the answer with key_authz. */
int acme_vhttp01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                 const char *token, const char *key_authz, int64_t deadline, struct acme_vresult *out);

#endif
