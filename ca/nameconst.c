/* nameconst: name constraints of CA certificates, built and enforced (see
 * nameconst.h for the matching rules). */
#include "ca/nameconst.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/cidr.h"

static const char *const kind_names[CA_NC_KINDS] = {"permit-dns", "exclude-dns", "permit-ip", "exclude-ip"};

const char *ca_nc_kind_name(enum ca_nc_kind k) {
    return (unsigned)k < CA_NC_KINDS ? kind_names[k] : "?";
}

static int is_ldh(uint8_t ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-';
}

/* dns_base_ok: "[.]label(.label)*": labels of letters, digits and inner
 * hyphens, 1 to 63 octets, at most 253 in all; no wildcard. */
static int dns_base_ok(const char *s) {
    if (*s == '.') s++;
    size_t n = strlen(s), start = 0;
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') continue;
        if (i - start == 0 || i - start > 63) return 0;
        for (size_t k = start; k < i; k++)
            if (!is_ldh((uint8_t)s[k]) || (s[k] == '-' && (k == start || k == i - 1))) return 0;
        start = i + 1;
    }
    return 1;
}

/* ip_base: "ADDRESS/BITS" as address and mask (8 or 32 octets). */
static int ip_base(const char *s, uint8_t out[32], int *out_len, struct rerr *e, const char *opt) {
    char why[200];
    struct cidr cd;
    size_t num = 0;
    if (strchr(s, '/') == NULL || strchr(s, ',') != NULL || strchr(s, ' ') != NULL)
        return rerr_set(e, "--%s '%.80s' is not ADDRESS/BITS (as 192.0.2.0/24, 2001:db8::/32, 192.0.2.7/32)", opt, s);
    if (!cidr_parse_list(s, &cd, 1, &num, why, sizeof(why)) || num != 1)
        return rerr_set(e, "--%s: %s", opt, num > 1 ? "one prefix per option" : why);
    int alen = cd.family == 4 ? 4 : 16;
    memcpy(out, cd.addr, (size_t)alen);
    for (int i = 0; i < alen; i++) {
        int bits = (int)cd.bits - 8 * i;
        out[alen + i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
    }
    *out_len = 2 * alen;
    return 1;
}

/* subtree_new: one GENERAL_SUBTREE of kind k for s, checked. */
static GENERAL_SUBTREE *subtree_new(enum ca_nc_kind k, const char *s, struct rerr *e) {
    GENERAL_SUBTREE *t = GENERAL_SUBTREE_new();
    ASN1_STRING *v = NULL;
    if (t == NULL) return rerr_set(e, "out of memory"), NULL;
    if (k == CA_NC_PERMIT_DNS || k == CA_NC_EXCLUDE_DNS) {
        if (!dns_base_ok(s)) {
            rerr_set(e, "--%s '%.80s' is not a domain (as example.test, or .example.test for the names under it "
                        "only; no wildcard)", kind_names[k], s);
            goto bad;
        }
        char low[256];
        size_t n = strlen(s);
        for (size_t i = 0; i <= n; i++) low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
        v = ASN1_IA5STRING_new();
        if (v == NULL || !ASN1_STRING_set(v, low, (int)n)) goto oom;
        t->base->type = GEN_DNS;
    } else {
        uint8_t b[32];
        int bl = 0;
        if (!ip_base(s, b, &bl, e, kind_names[k])) goto bad;
        v = ASN1_OCTET_STRING_new();
        if (v == NULL || !ASN1_OCTET_STRING_set(v, b, bl)) goto oom;
        t->base->type = GEN_IPADD;
    }
    t->base->d.ia5 = v; /* the union's members are all ASN1_STRING */
    return t;
oom:
    rerr_set(e, "out of memory");
bad:
    ASN1_STRING_free(v);
    GENERAL_SUBTREE_free(t);
    return NULL;
}

int nameconst_build(const struct ca_create_params *p, NAME_CONSTRAINTS **out, struct rerr *e) {
    *out = NULL;
    size_t total = 0;
    for (int k = 0; k < CA_NC_KINDS; k++) {
        if (p->num_nc[k] > CA_NC_MAX)
            return rerr_set(e, "--%s is given %zu times; at most %d", kind_names[k], p->num_nc[k], CA_NC_MAX);
        total += p->num_nc[k];
    }
    if (total == 0) return 1;
    if (p->parent == NULL)
        return rerr_set(e, "name constraints (--permit-dns, --exclude-dns, --permit-ip, --exclude-ip) go on a "
                           "subordinate CA, not on a root: verifiers do not apply a trust anchor's own constraints "
                           "(RFC 5280 6.1); create a constrained subordinate instead");
    NAME_CONSTRAINTS *nc = NAME_CONSTRAINTS_new();
    if (nc == NULL) return rerr_set(e, "out of memory");
    for (int k = 0; k < CA_NC_KINDS; k++) {
        int permit = k == CA_NC_PERMIT_DNS || k == CA_NC_PERMIT_IP;
        STACK_OF(GENERAL_SUBTREE) **sk = permit ? &nc->permittedSubtrees : &nc->excludedSubtrees;
        for (size_t i = 0; i < p->num_nc[k]; i++) {
            GENERAL_SUBTREE *t = subtree_new((enum ca_nc_kind)k, p->nc[k][i] ? p->nc[k][i] : "", e);
            if (t == NULL) goto bad;
            if ((*sk == NULL && (*sk = sk_GENERAL_SUBTREE_new_null()) == NULL) || !sk_GENERAL_SUBTREE_push(*sk, t)) {
                GENERAL_SUBTREE_free(t);
                rerr_set(e, "out of memory");
                goto bad;
            }
        }
    }
    *out = nc;
    return 1;
bad:
    NAME_CONSTRAINTS_free(nc);
    return 0;
}

/* ---- matching ---- */

/* dns_in: name n[0..nl) is within DNS subtree b[0..bl) (OpenSSL's nc_dns). */
static int dns_in(const uint8_t *n, size_t nl, const uint8_t *b, size_t bl) {
    if (bl == 0) return 1;
    if (nl < bl) return 0;
    const uint8_t *tail = n + nl - bl;
    if (nl > bl && b[0] != '.' && tail[-1] != '.') return 0;
    return strncasecmp((const char *)tail, (const char *)b, bl) == 0 && memchr(b, '\0', bl) == NULL &&
           memchr(tail, '\0', bl) == NULL;
}

/* wildcard_covers: "*.rest" could stand for a name of subtree b: b is one
 * label followed by ".rest" (a leading "." subtree holds only names under
 * that label's name, which the wildcard does not reach). */
static int wildcard_covers(const uint8_t *n, size_t nl, const uint8_t *b, size_t bl) {
    if (nl < 3 || n[0] != '*' || n[1] != '.' || bl == 0 || b[0] == '.') return 0;
    size_t rl = nl - 2;
    if (bl < rl + 2 || b[bl - rl - 1] != '.') return 0;
    if (memchr(b, '.', bl - rl - 1) != NULL) return 0;
    return dns_in(b + bl - rl, rl, n + 2, rl);
}

/* ip_in: address a (4 or 16 octets) within address+mask b (8 or 32). */
static int ip_in(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    if (bl != 2 * al) return 0;
    for (size_t i = 0; i < al; i++)
        if ((a[i] & b[al + i]) != (b[i] & b[al + i])) return 0;
    return 1;
}

/* A name to check: its type (GEN_DNS, GEN_IPADD), its octets, as shown. */
struct nc_name {
    int type;
    const uint8_t *v;
    size_t len;
    const char *what; /* "subjectAltName DNS name", "subject CN", ... */
    char shown[300];
};

static void show_name(struct nc_name *nm) {
    if (nm->type == GEN_IPADD) {
        if (inet_ntop(nm->len == 4 ? AF_INET : AF_INET6, nm->v, nm->shown, sizeof(nm->shown)) == NULL)
            snprintf(nm->shown, sizeof(nm->shown), "?");
        return;
    }
    size_t n = nm->len > 253 ? 253 : nm->len;
    for (size_t i = 0; i < n; i++)
        nm->shown[i] = (nm->v[i] > 0x20 && nm->v[i] < 0x7f) ? (char)nm->v[i] : '?';
    nm->shown[n] = '\0';
}

static void base_text(const GENERAL_NAME *g, char *out, size_t ol) {
    const ASN1_STRING *s = g->d.ia5;
    if (g->type == GEN_IPADD && (s->length == 8 || s->length == 32)) {
        int al = s->length / 2, bits = 0;
        char a[64];
        for (int i = 0; i < al; i++)
            for (int k = 7; k >= 0; k--) bits += (s->data[al + i] >> k) & 1;
        if (inet_ntop(al == 4 ? AF_INET : AF_INET6, s->data, a, sizeof(a)) == NULL) snprintf(a, sizeof(a), "?");
        snprintf(out, ol, "%s/%d", a, bits);
        return;
    }
    int n = s->length > 120 ? 120 : s->length;
    for (int i = 0; i < n; i++) if (s->data[i] <= 0x20 || s->data[i] >= 0x7f) n = 0;
    snprintf(out, ol, "%.*s", n, (const char *)s->data);
}

static int in_subtree(const struct nc_name *nm, const GENERAL_NAME *b, int excluded) {
    const ASN1_STRING *s = b->d.ia5;
    if (nm->type == GEN_DNS)
        return dns_in(nm->v, nm->len, s->data, (size_t)s->length) ||
               (excluded && wildcard_covers(nm->v, nm->len, s->data, (size_t)s->length));
    return ip_in(nm->v, nm->len, s->data, (size_t)s->length);
}

/* check_nc: nm against one certificate's constraints nc (of CA caname). */
static int check_nc(const NAME_CONSTRAINTS *nc, const char *caname, const struct nc_name *nm, struct rerr *e) {
    const char *tn = nm->type == GEN_DNS ? "DNS" : "IP";
    char bt[160];
    for (int pass = 0; pass < 2; pass++) {
        const STACK_OF(GENERAL_SUBTREE) *sk = pass == 0 ? nc->excludedSubtrees : nc->permittedSubtrees;
        int num = sk_GENERAL_SUBTREE_num(sk), of_type = 0;
        if (num > NC_SUBTREES_MAX)
            return rerr_set(e, CA_NC_REASON ": CA %s's certificate has %d name-constraint subtrees; revd reads at "
                               "most %d", caname, num, NC_SUBTREES_MAX);
        const GENERAL_NAME *first = NULL;
        for (int i = 0; i < num; i++) {
            const GENERAL_SUBTREE *t = sk_GENERAL_SUBTREE_value(sk, i);
            if (t->minimum != NULL || t->maximum != NULL)
                return rerr_set(e, CA_NC_REASON ": CA %s's name constraints have a subtree with a minimum or "
                                   "maximum (RFC 5280 forbids them); revd issues nothing under it", caname);
            if (t->base->type != nm->type) continue;
            if (first == NULL) first = t->base;
            of_type++;
            int in = in_subtree(nm, t->base, pass == 0);
            if (pass == 0 && in) {
                base_text(t->base, bt, sizeof(bt));
                return rerr_set(e, CA_NC_REASON ": %s '%s' is within CA %s's excluded %s subtree '%s'", nm->what,
                                nm->shown, caname, tn, bt);
            }
            if (pass == 1 && in) return 1;
        }
        if (pass == 1 && of_type > 0) {
            base_text(first, bt, sizeof(bt));
            return rerr_set(e, CA_NC_REASON ": %s '%s' is outside every permitted %s subtree of CA %s (%d; the "
                               "first: '%s')", nm->what, nm->shown, tn, caname, of_type, bt);
        }
    }
    return 1;
}

int nameconst_match(const NAME_CONSTRAINTS *nc, const char *caname, int type, const uint8_t *v, size_t len,
                    struct rerr *e) {
    if (type != GEN_DNS && type != GEN_IPADD) return rerr_set(e, CA_NC_REASON ": only DNS and IP names are matched");
    if (type == GEN_IPADD && len != 4 && len != 16) return rerr_set(e, CA_NC_REASON ": an IP address is 4 or 16 octets");
    struct nc_name nm = {.type = type, .v = v, .len = len, .what = "name"};
    show_name(&nm);
    return check_nc(nc, caname, &nm, e);
}

/* check_chain: nm against ca and each ancestor in c (at most
 * CA_MAX_DEPTH + 1 certificates: a loop in the records ends there). */
static int check_chain(const struct ca_core *c, const struct ca *ca, const struct nc_name *nm, struct rerr *e) {
    for (int depth = 0; ca != NULL && depth <= CA_MAX_DEPTH; depth++) {
        if (ca->cert != NULL) {
            int crit = 0;
            NAME_CONSTRAINTS *nc = X509_get_ext_d2i(ca->cert, NID_name_constraints, &crit, NULL);
            if (nc == NULL && crit == -2) {
                ERR_clear_error();
                return rerr_set(e, CA_NC_REASON ": CA %s's certificate has more than one nameConstraints extension",
                                ca->name);
            }
            if (nc == NULL && crit >= 0) {
                ERR_clear_error();
                return rerr_set(e, CA_NC_REASON ": CA %s's nameConstraints extension does not parse", ca->name);
            }
            int ok = nc == NULL || check_nc(nc, ca->name, nm, e);
            NAME_CONSTRAINTS_free(nc);
            if (!ok) return 0;
        }
        ca = ca->parent[0] != '\0' ? core_find(c, ca->parent) : NULL;
    }
    return 1;
}

/* cn_name: a CN that is a DNS name (hostname characters, a dot) or an IP
 * address, as a name to check; 0 when it is neither (not constrained). */
static int cn_name(const char *s, size_t n, struct nc_name *nm, uint8_t ip[16]) {
    int dots = 0, hexcolon = 1, dnsish = 1;
    if (n == 0 || n > 253) return 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = (uint8_t)s[i];
        dots += ch == '.';
        if (!is_ldh(ch) && ch != '.' && ch != '*' && ch != '_') dnsish = 0;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == '.' ||
              ch == ':'))
            hexcolon = 0;
    }
    if (hexcolon && inet_pton(AF_INET, s, ip) == 1) {
        nm->type = GEN_IPADD, nm->v = ip, nm->len = 4;
    } else if (hexcolon && inet_pton(AF_INET6, s, ip) == 1) {
        nm->type = GEN_IPADD, nm->v = ip, nm->len = 16;
    } else if (dnsish && dots > 0) {
        nm->type = GEN_DNS, nm->v = (const uint8_t *)s, nm->len = n;
    } else {
        return 0;
    }
    return 1;
}

static int check_cns(const struct ca_core *c, const struct ca *ca, const X509_NAME *subj, struct rerr *e) {
    for (int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) {
        unsigned char *u = NULL;
        int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
        if (n < 0) {
            ERR_clear_error();
            continue;
        }
        struct nc_name nm = {.what = "subject CN"};
        uint8_t ip[16];
        int ok = (size_t)n != strlen((char *)u) || !cn_name((const char *)u, (size_t)n, &nm, ip);
        if (!ok) {
            show_name(&nm);
            ok = check_chain(c, ca, &nm, e);
        }
        OPENSSL_free(u);
        if (!ok) return 0;
    }
    return 1;
}

int nameconst_check(const struct ca_core *c, const struct ca *ca, const GENERAL_NAMES *san, const X509_NAME *subj,
                    struct rerr *e) {
    for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
        if (g->type != GEN_DNS && g->type != GEN_IPADD) continue;
        struct nc_name nm = {.type = g->type,
                             .v = g->d.ia5->data,
                             .len = (size_t)g->d.ia5->length,
                             .what = g->type == GEN_DNS ? "subjectAltName DNS name" : "subjectAltName IP address"};
        show_name(&nm);
        if (!check_chain(c, ca, &nm, e)) return 0;
    }
    return subj == NULL || check_cns(c, ca, subj, e);
}

int ca_name_allowed(struct ca_core *c, const char *caname, const char *type, const char *value, struct rerr *e) {
    const struct ca *ca = core_find_or_err(c, caname, e);
    if (ca == NULL) return -1;
    uint8_t ip[16];
    size_t n = value != NULL ? strlen(value) : 0;
    struct nc_name nm = {.what = "name"};
    if (type != NULL && strcmp(type, "dns") == 0) {
        if (n == 0 || n > 253) return rerr_set(e, CA_NC_REASON ": a DNS name is 1 to 253 characters");
        nm.type = GEN_DNS, nm.v = (const uint8_t *)value, nm.len = n, nm.what = "DNS name";
    } else if (type != NULL && strcmp(type, "ip") == 0) {
        if (n < 64 && inet_pton(AF_INET, value, ip) == 1) nm.len = 4;
        else if (n < 64 && inet_pton(AF_INET6, value, ip) == 1) nm.len = 16;
        else return rerr_set(e, CA_NC_REASON ": '%.80s' is not an IPv4 or IPv6 address", value ? value : "");
        nm.type = GEN_IPADD, nm.v = ip, nm.what = "IP address";
    } else {
        return rerr_set(e, CA_NC_REASON ": name type '%.20s' is neither dns nor ip", type ? type : "");
    }
    show_name(&nm);
    return check_chain(c, ca, &nm, e);
}
