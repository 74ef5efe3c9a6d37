/* acme/validate: the checks every challenge shares, and dns-01 (see
 * validate.h). http-01 is in vhttp.c, tls-alpn-01 in vtls.c. */
#include "acme/validate.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/vhttp.h"
#include "acme/vtls.h"
#include "acme/vutil.h"

#define KEY_AUTHZ_MAX 256 /* token "." a 43-character thumbprint, with room to spare */

int acme_vconf_resolver_ok(const char *s, struct rerr *e) {
    struct acme_vdns_server srv;
    return acme_vdns_server_parse(s, &srv, e);
}

static int is_b64url(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A DNS name: labels of letters, digits and '-' (1..63 bytes, not starting
 * or ending with '-'), at most ACME_ID_MAX bytes, no trailing dot. */
static int dns_name_ok(const char *s) {
    size_t n = strlen(s), label = 0;
    if (n == 0 || n > ACME_ID_MAX) return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-') return 0;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* The identifier, token and key authorization checked; id filled. */
static int check_args(enum acme_chal_type t, const char *id_type, const char *id_value, const char *token,
                      const char *key_authz, struct acme_vid *id, struct acme_vresult *out) {
    memset(id, 0, sizeof(*id));
    if (id_type == NULL || id_value == NULL || token == NULL || key_authz == NULL)
        return acme_vfail(out, "malformed", "missing identifier, token or key authorization");
    size_t tl = strnlen(token, ACME_TOKEN_MAX + 1);
    if (tl == 0 || tl > ACME_TOKEN_MAX) return acme_vfail(out, "malformed", "the token is not 1..%d characters", ACME_TOKEN_MAX);
    for (size_t i = 0; i < tl; i++)
        if (!is_b64url(token[i])) return acme_vfail(out, "malformed", "the token is not base64url");
    size_t kl = strnlen(key_authz, KEY_AUTHZ_MAX + 1);
    if (kl > KEY_AUTHZ_MAX || kl < tl + 2 || memcmp(key_authz, token, tl) != 0 || key_authz[tl] != '.')
        return acme_vfail(out, "malformed", "the key authorization is not TOKEN.THUMBPRINT");
    for (size_t i = tl + 1; i < kl; i++)
        if (!is_b64url(key_authz[i])) return acme_vfail(out, "malformed", "the key authorization's thumbprint is not base64url");
    if (strcmp(id_type, "ip") == 0) {
        if (t == ACME_CHAL_DNS01) return acme_vfail(out, "malformed", "dns-01 cannot validate an IP identifier (RFC 8738 section 7)");
        if (strnlen(id_value, ACME_ID_MAX + 1) > ACME_ID_MAX) return acme_vfail(out, "malformed", "the IP identifier is too long");
        id->is_ip = 1;
        if (inet_pton(AF_INET, id_value, id->ip.a) == 1) id->ip.family = AF_INET;
        else if (inet_pton(AF_INET6, id_value, id->ip.a) == 1) id->ip.family = AF_INET6;
        else return acme_vfail(out, "malformed", "the IP identifier is not an IPv4 or IPv6 address");
        snprintf(id->name, sizeof(id->name), "%s", id_value);
        return 1;
    }
    if (strcmp(id_type, "dns") != 0) return acme_vfail(out, "malformed", "identifier type is neither dns nor ip");
    const char *base = id_value;
    if (strncmp(base, "*.", 2) == 0) {
        if (t != ACME_CHAL_DNS01) return acme_vfail(out, "malformed", "a wildcard identifier is validated by dns-01 only");
        base += 2;
    }
    if (!dns_name_ok(base)) return acme_vfail(out, "malformed", "the identifier is not a DNS name");
    snprintf(id->name, sizeof(id->name), "%s", base);
    return 1;
}

/* base64url without padding of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
static void b64url(const uint8_t *p, size_t n, char *out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = a[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = a[v & 63];
    }
    out[o] = '\0';
}

/* dns-01 (RFC 8555 8.4): a TXT record at _acme-challenge.BASE equal to
 * base64url(SHA-256(key authorization)). */
static int dns01(const struct acme_vdns_server *srv, const struct acme_vid *id, const char *key_authz,
                 int64_t deadline, struct acme_vresult *out) {
    uint8_t md[SHA256_DIGEST_LENGTH];
    char want[48], qname[ACME_ID_MAX + 20];
    struct rerr e = {{0}};
    SHA256((const uint8_t *)key_authz, strlen(key_authz), md);
    b64url(md, sizeof(md), want);
    snprintf(qname, sizeof(qname), "_acme-challenge.%s", id->name);
    struct acme_vdns_ans *ans = malloc(sizeof(*ans));
    if (ans == NULL) return acme_vfail(out, "dns", "out of memory");
    enum acme_vdns_rc rc = acme_vdns_lookup(srv, qname, ns_t_txt, deadline, ans, &e);
    int ok = 0;
    if (rc != ACME_VDNS_OK) {
        acme_vfail(out, "dns", "%s", e.msg);
    } else if (ans->num_rr == 0) {
        acme_vfail(out, "unauthorized", "no TXT record at %s", qname);
    } else {
        for (size_t i = 0; i < ans->num_rr && !ok; i++)
            ok = ans->rr_len[i] == strlen(want) && memcmp(ans->rr[i], want, ans->rr_len[i]) == 0;
        if (!ok) acme_vfail(out, "unauthorized", "%zu TXT record(s) at %s, none is the key authorization's digest",
                            ans->num_rr, qname);
    }
    free(ans);
    return ok;
}

int acme_validate(const struct acme_vconf *cf, enum acme_chal_type t, const char *id_type,
                  const char *id_value, const char *token, const char *key_authz,
                  struct acme_vresult *out) {
    struct acme_vid id;
    struct acme_vdns_server srv;
    struct rerr e = {{0}};
    int64_t deadline = acme_vnow_ms() + (cf != NULL ? cf->timeout_ms : 0);
    out->problem = NULL;
    out->detail[0] = '\0';
    if (cf == NULL || cf->timeout_ms <= 0 || cf->max_body == 0 || cf->max_redirects < 0 ||
        cf->http_port < 1 || cf->http_port > 65535 || cf->tls_port < 1 || cf->tls_port > 65535)
        return acme_vfail(out, "malformed", "validation is not configured (ports, timeout, body cap)");
    if (!acme_vdns_server_parse(cf->resolver, &srv, &e)) return acme_vfail(out, "dns", "%s", e.msg);
    if (!check_args(t, id_type, id_value, token, key_authz, &id, out)) return 0;
    switch (t) {
    case ACME_CHAL_HTTP01:
        return acme_vhttp01(cf, &srv, &id, token, key_authz, deadline, out);
    case ACME_CHAL_DNS01:
        return dns01(&srv, &id, key_authz, deadline, out);
    case ACME_CHAL_TLSALPN01:
        return acme_vtlsalpn01(cf, &srv, &id, key_authz, deadline, out);
    }
    return acme_vfail(out, "malformed", "unknown challenge type");
}
