/* cidr: address prefixes from the settings ("127.0.0.0/8,::1"), and whether
 * a peer's address falls in one. Used for the allowlist of GET /metrics.
 *
 *   list   = item *( "," item )      (spaces around items are ignored)
 *   item   = address [ "/" bits ] | "any"
 *
 * An address without bits is one host (/32, /128). An IPv4 peer that
 * arrives as an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as
 * IPv4. Pure functions; any thread. */
#ifndef REVD_COMMON_CIDR_H
#define REVD_COMMON_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The most prefixes one list holds. */
#define CIDR_LIST_MAX 16

struct cidr {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;   /* 0 to 32, or 0 to 128 */
    uint8_t addr[16];
};

/* cidr_parse_list reads s (at most 1024 characters) into out[0..max):
 * returns 1 and *num (at least 1), or 0 with why (a line) set. "any" is
 * 0.0.0.0/0 and ::/0. Host bits past the prefix are refused (a typo in a
 * prefix length would otherwise widen it silently). */
int cidr_parse_list(const char *s, struct cidr *out, size_t max, size_t *num, char *why, size_t why_len);

/* cidr_match: whether the address sa (AF_INET or AF_INET6, salen bytes)
 * falls in one of list[0..num). */
int cidr_match(const struct cidr *list, size_t num, const struct sockaddr *sa, socklen_t salen);

/* cidr_format writes c as text ("127.0.0.0/8") into out (64 bytes). */
void cidr_format(const struct cidr *c, char out[64]);

#endif
