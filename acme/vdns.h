/* acme/vdns: the DNS lookups of ACME challenge validation, asked of one
 * resolver only (--acme-resolver) through glibc's libresolv: TXT records
 * for dns-01 and A/AAAA addresses for http-01 and tls-alpn-01, CNAME chains
 * followed (at most ACME_VDNS_MAX_HOPS), a truncated UDP answer retried over
 * TCP (libresolv does it). Each lookup opens its own struct __res_state
 * (res_ninit), so any thread may call; nothing is shared. Blocking: call
 * from a validation thread, never from a serving or CA-core thread.
 *
 * acme_vdns_parse is the pure parser of one answer message (fuzzed:
 * tests/fuzz/fuzz_acme_vdns.c); the rest does network I/O. Returns: 1/0 for
 * the parsers, enum acme_vdns_rc for lookups. */
#ifndef REVD_ACME_VDNS_H
#define REVD_ACME_VDNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rerr.h"

#define ACME_VDNS_MAX_HOPS 8   /* CNAMEs followed, within answers and across queries */
#define ACME_VDNS_MAX_RR 16    /* records kept from one answer */
#define ACME_VDNS_RR_MAX 255   /* bytes kept of one record (a longer TXT value is skipped) */
#define ACME_VDNS_NAME_MAX 254 /* a presentation name, without the trailing dot, and its NUL */

/* The resolver validation asks: an IPv4 address and a port. */
struct acme_vdns_server {
    int set;                 /* 0: the system's resolvers (res_ninit defaults) */
    struct sockaddr_in addr;
};

/* acme_vdns_server_parse reads "A.B.C.D" or "A.B.C.D:PORT" (port 53 by
 * default; "" is the system's). Returns 1, or 0 with e set. */
int acme_vdns_server_parse(const char *s, struct acme_vdns_server *out, struct rerr *e);

/* What one answer said about a name and a type. */
struct acme_vdns_ans {
    size_t num_rr;                          /* records of the type at the chain's end */
    uint8_t rr[ACME_VDNS_MAX_RR][ACME_VDNS_RR_MAX];
    size_t rr_len[ACME_VDNS_MAX_RR];        /* TXT: its strings joined; A: 4; AAAA: 16 */
    size_t hops;                            /* CNAMEs followed inside this answer */
    char end[ACME_VDNS_NAME_MAX];           /* the chain's last name (qname when no CNAME) */
};

/* acme_vdns_parse reads a DNS response msg[0..len) for qname (presentation
 * form, no trailing dot) and qtype (ns_t_txt, ns_t_a or ns_t_aaaa): the
 * CNAMEs from qname are followed inside the answer section (at most
 * max_hops), then the records of qtype owned by the chain's end are kept
 * (at most ACME_VDNS_MAX_RR; A/AAAA of the wrong length and overlong TXT
 * values are skipped). Returns 1, or 0 when the message does not parse. */
int acme_vdns_parse(const uint8_t *msg, size_t len, const char *qname, int qtype,
                    size_t max_hops, struct acme_vdns_ans *out);

enum acme_vdns_rc {
    ACME_VDNS_OK,       /* out->num_rr records (0: the name exists, without that type) */
    ACME_VDNS_NXDOMAIN, /* the name (or a CNAME's target) does not exist */
    ACME_VDNS_FAIL,     /* SERVFAIL, timeout, refused, a loop, or an answer that does not parse */
};

/* acme_vdns_lookup asks srv for qname's records of qtype, following CNAMEs
 * (inside answers, or by asking for the target) at most ACME_VDNS_MAX_HOPS.
 * Every query ends by deadline_ms (CLOCK_MONOTONIC, milliseconds): each
 * is sent once, and libresolv waits whole seconds, so the time left is
 * rounded up (an overshoot under a second). On FAIL or NXDOMAIN e says
 * what happened. */
enum acme_vdns_rc acme_vdns_lookup(const struct acme_vdns_server *srv, const char *qname, int qtype,
                                   int64_t deadline_ms, struct acme_vdns_ans *out, struct rerr *e);

/* An address to connect to. */
struct acme_vdns_addr {
    int family;            /* AF_INET or AF_INET6 */
    uint8_t a[16];         /* 4 or 16 bytes */
};

/* acme_vdns_addrs looks up name's AAAA and A records (at most max of them,
 * AAAA first) into out, by deadline_ms as acme_vdns_lookup. Returns the number found (>= 1), or 0 with e set
 * and *out_nx set to 1 when the name does not exist. */
size_t acme_vdns_addrs(const struct acme_vdns_server *srv, const char *name, int64_t deadline_ms,
                       struct acme_vdns_addr *out, size_t max, int *out_nx, struct rerr *e);

#endif
