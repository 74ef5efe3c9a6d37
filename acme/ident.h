/* ident: ACME identifiers (RFC 8555 7.1.4 "dns", RFC 8738 "ip"): their
 * syntax, their canonical form, and whether an EAB key's allow list
 * (DNS suffixes and address prefixes) covers one. Pure; any thread.
 * Returns: 1/0. */
#ifndef REVD_ACME_IDENT_H
#define REVD_ACME_IDENT_H

#include <stddef.h>

#include <jansson.h>

#define ACME_IDENT_MAX 253

/* acme_ident_canon checks type ("dns" or "ip") and value and writes the
 * canonical value to out (ACME_IDENT_MAX + 1 bytes): a DNS name in lower
 * case, LDH labels of 1 to 63 characters, at least two labels, at most
 * one leading "*." (and no other '*'); an IP address as inet_ntop writes
 * it. why (a short phrase) says what is wrong on 0. */
int acme_ident_canon(const char *type, const char *value, char *out, const char **why);

/* acme_allow_entry_ok checks one allow-list entry: a DNS suffix
 * ("example.test", ".example.test": subdomains only) or a CIDR prefix. */
int acme_allow_entry_ok(const char *s);

/* acme_allowed: whether allow (a JSON array of entries; empty or NULL: no
 * limit) covers the canonical identifier. A suffix "example.test" covers
 * example.test and every name under it ("*.x.example.test" too); an
 * address prefix covers the addresses in it. */
int acme_allowed(const json_t *allow, const char *type, const char *value);

#endif
