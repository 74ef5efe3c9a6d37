/* acme/vdns: DNS lookups for challenge validation (see vdns.h). */
#include "acme/vdns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ANSWER_CAP 65535u /* the largest DNS message (TCP) */

int acme_vdns_server_parse(const char *s, struct acme_vdns_server *out, struct rerr *e) {
    memset(out, 0, sizeof(*out));
    if (s == NULL || s[0] == '\0') return 1;
    char host[64];
    const char *colon = strchr(s, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
    if (hlen == 0 || hlen >= sizeof(host))
        return rerr_set(e, "acme-resolver: '%.64s' is not HOST or HOST:PORT (HOST an IPv4 address, e.g. 127.0.0.1:53)", s);
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    unsigned long port = 53;
    if (colon != NULL) {
        char *end = NULL;
        if (colon[1] < '0' || colon[1] > '9' || strchr(colon + 1, ':') != NULL)
            return rerr_set(e, "acme-resolver: '%.64s': a port is 1..65535 (an IPv6 resolver is not supported: give an IPv4 address)", s);
        port = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || port == 0 || port > 65535)
            return rerr_set(e, "acme-resolver: '%.64s': a port is 1..65535", s);
    }
    out->addr.sin_family = AF_INET;
    out->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->addr.sin_addr) != 1)
        return rerr_set(e, "acme-resolver: '%.64s' is not an IPv4 address (give the resolver's address, e.g. 127.0.0.1:53)", host);
    out->set = 1;
    return 1;
}

/* TXT rdata: one or more <length, bytes> strings, joined. 1, or 0 when it
 * does not parse or is longer than ACME_VDNS_RR_MAX (skipped, not fatal). */
static int txt_join(const uint8_t *rd, size_t rdlen, uint8_t *out, size_t *out_len) {
    size_t pos = 0, n = 0;
    if (rdlen == 0) return 0;
    while (pos < rdlen) {
        size_t l = rd[pos++];
        if (l > rdlen - pos || l > ACME_VDNS_RR_MAX - n) return 0;
        memcpy(out + n, rd + pos, l);
        n += l;
        pos += l;
    }
    *out_len = n;
    return 1;
}

/* The CNAME owned by name in the answer section, into target: 1 found, 0
 * none, -1 malformed. */
static int find_cname(ns_msg *h, const char *name, char *target, size_t cap) {
    int an = ns_msg_count(*h, ns_s_an);
    for (int i = 0; i < an; i++) {
        ns_rr rr;
        if (ns_parserr(h, ns_s_an, i, &rr) < 0) return -1;
        if (ns_rr_type(rr) != ns_t_cname || ns_rr_class(rr) != ns_c_in) continue;
        if (strcasecmp(ns_rr_name(rr), name) != 0) continue;
        char t[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(*h), ns_msg_end(*h), ns_rr_rdata(rr), t, sizeof(t)) < 0) return -1;
        size_t tl = strlen(t);
        if (tl > 0 && t[tl - 1] == '.') t[--tl] = '\0';
        if (tl == 0 || tl >= cap) return -1;
        memcpy(target, t, tl + 1);
        return 1;
    }
    return 0;
}

/* The records of qtype owned by out->end, kept in out. 1, or 0 malformed. */
static int collect(ns_msg *h, int qtype, struct acme_vdns_ans *out) {
    int an = ns_msg_count(*h, ns_s_an);
    for (int i = 0; i < an && out->num_rr < ACME_VDNS_MAX_RR; i++) {
        ns_rr rr;
        if (ns_parserr(h, ns_s_an, i, &rr) < 0) return 0;
        if ((int)ns_rr_type(rr) != qtype || ns_rr_class(rr) != ns_c_in) continue;
        if (strcasecmp(ns_rr_name(rr), out->end) != 0) continue;
        const uint8_t *rd = ns_rr_rdata(rr);
        size_t rdlen = ns_rr_rdlen(rr), k = out->num_rr;
        if (qtype == ns_t_txt) {
            if (!txt_join(rd, rdlen, out->rr[k], &out->rr_len[k])) continue;
        } else if ((qtype == ns_t_a && rdlen == 4) || (qtype == ns_t_aaaa && rdlen == 16)) {
            memcpy(out->rr[k], rd, rdlen);
            out->rr_len[k] = rdlen;
        } else {
            continue;
        }
        out->num_rr++;
    }
    return 1;
}

int acme_vdns_parse(const uint8_t *msg, size_t len, const char *qname, int qtype,
                    size_t max_hops, struct acme_vdns_ans *out) {
    memset(out, 0, sizeof(*out));
    size_t ql = strlen(qname);
    if (len > ANSWER_CAP || ql == 0 || ql >= sizeof(out->end)) return 0;
    memcpy(out->end, qname, ql + 1);
    ns_msg h;
    if (ns_initparse(msg, (int)len, &h) < 0) return 0;
    for (;;) {
        char next[ACME_VDNS_NAME_MAX];
        int r = find_cname(&h, out->end, next, sizeof(next));
        if (r < 0) return 0;
        if (r == 0) break;
        if (out->hops >= max_hops) return 0; /* a loop, or a chain too long */
        out->hops++;
        memcpy(out->end, next, sizeof(next));
    }
    return collect(&h, qtype, out);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libresolv's wait for the next query: the whole seconds left, rounded up
 * (at least 1); 0 when the deadline has passed. */
static int wait_s(int64_t deadline_ms) {
    int64_t left = deadline_ms - now_ms();
    if (left <= 0) return 0;
    return left >= 3600000 ? 3600 : (int)((left + 999) / 1000);
}

/* A resolver state that asks srv only, each query sent once. */
static int res_open(struct __res_state *rs, const struct acme_vdns_server *srv, struct rerr *e) {
    memset(rs, 0, sizeof(*rs));
    if (res_ninit(rs) != 0) return rerr_set(e, "DNS: cannot initialise the resolver (res_ninit)");
    rs->options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
    rs->options |= RES_RECURSE;
    rs->retrans = 1;
    rs->retry = 1;
    if (srv->set) {
        rs->nscount = 1;
        rs->nsaddr_list[0] = srv->addr;
    }
    return 1;
}

static const char *type_name(int qtype) {
    return qtype == ns_t_txt ? "TXT" : qtype == ns_t_a ? "A" : qtype == ns_t_aaaa ? "AAAA" : "?";
}

/* One query; the answer parsed into out. */
static enum acme_vdns_rc query_once(struct __res_state *rs, const char *name, int qtype, size_t max_hops,
                                    int64_t deadline_ms, uint8_t *buf, struct acme_vdns_ans *out, struct rerr *e) {
    if ((rs->retrans = wait_s(deadline_ms)) == 0) {
        rerr_set(e, "DNS: %s %s: timed out", name, type_name(qtype));
        return ACME_VDNS_FAIL;
    }
    int n = res_nquery(rs, name, ns_c_in, qtype, buf, (int)ANSWER_CAP);
    if (n < 0) {
        switch (rs->res_h_errno) {
        case HOST_NOT_FOUND:
            rerr_set(e, "DNS: %s: no such name (NXDOMAIN)", name);
            return ACME_VDNS_NXDOMAIN;
        case NO_DATA:
            memset(out, 0, sizeof(*out));
            snprintf(out->end, sizeof(out->end), "%s", name);
            return ACME_VDNS_OK;
        case TRY_AGAIN:
            rerr_set(e, "DNS: %s %s: no answer from the resolver (SERVFAIL or timeout)", name, type_name(qtype));
            return ACME_VDNS_FAIL;
        default:
            rerr_set(e, "DNS: %s %s: the resolver refused or could not answer", name, type_name(qtype));
            return ACME_VDNS_FAIL;
        }
    }
    size_t len = (size_t)n > ANSWER_CAP ? ANSWER_CAP : (size_t)n;
    if (!acme_vdns_parse(buf, len, name, qtype, max_hops, out)) {
        rerr_set(e, "DNS: %s %s: the answer does not parse, or its CNAME chain is longer than %d",
                 name, type_name(qtype), ACME_VDNS_MAX_HOPS);
        return ACME_VDNS_FAIL;
    }
    return ACME_VDNS_OK;
}

enum acme_vdns_rc acme_vdns_lookup(const struct acme_vdns_server *srv, const char *qname, int qtype,
                                   int64_t deadline_ms, struct acme_vdns_ans *out, struct rerr *e) {
    struct __res_state rs;
    enum acme_vdns_rc rc = ACME_VDNS_FAIL;
    uint8_t *buf = malloc(ANSWER_CAP);
    char name[ACME_VDNS_NAME_MAX];
    size_t hops = 0;
    memset(out, 0, sizeof(*out));
    if (buf == NULL) {
        rerr_set(e, "DNS: out of memory");
        return ACME_VDNS_FAIL;
    }
    if (!res_open(&rs, srv, e)) goto done;
    snprintf(name, sizeof(name), "%s", qname);
    for (;;) {
        rc = query_once(&rs, name, qtype, ACME_VDNS_MAX_HOPS - hops, deadline_ms, buf, out, e);
        if (rc != ACME_VDNS_OK) break;
        hops += out->hops;
        if (out->num_rr > 0 || out->hops == 0) break;
        /* The answer ends in a CNAME whose target it does not answer: ask for it. */
        if (hops >= ACME_VDNS_MAX_HOPS) {
            rerr_set(e, "DNS: %s: CNAME chain longer than %d", qname, ACME_VDNS_MAX_HOPS);
            rc = ACME_VDNS_FAIL;
            break;
        }
        memcpy(name, out->end, sizeof(name));
    }
    res_nclose(&rs);
done:
    free(buf);
    return rc;
}

size_t acme_vdns_addrs(const struct acme_vdns_server *srv, const char *name, int64_t deadline_ms,
                       struct acme_vdns_addr *out, size_t max, int *out_nx, struct rerr *e) {
    static const int types[2] = {ns_t_aaaa, ns_t_a};
    struct acme_vdns_ans *ans = malloc(sizeof(*ans));
    size_t n = 0;
    int nx = 0;
    struct rerr first = {{0}};
    *out_nx = 0;
    if (e != NULL) e->msg[0] = '\0';
    if (ans == NULL) {
        rerr_set(e, "DNS: out of memory");
        return 0;
    }
    for (int t = 0; t < 2; t++) {
        enum acme_vdns_rc rc = acme_vdns_lookup(srv, name, types[t], deadline_ms, ans, t == 0 ? &first : e);
        if (rc == ACME_VDNS_NXDOMAIN) nx++;
        if (rc != ACME_VDNS_OK) continue;
        for (size_t i = 0; i < ans->num_rr && n < max; i++, n++) {
            out[n].family = types[t] == ns_t_a ? AF_INET : AF_INET6;
            memcpy(out[n].a, ans->rr[i], ans->rr_len[i]);
        }
    }
    free(ans);
    if (n == 0) {
        *out_nx = nx == 2;
        if (e != NULL && e->msg[0] == '\0') rerr_set(e, "DNS: %s: no A or AAAA record", name);
    }
    return n;
}
