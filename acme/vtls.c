/* acme/vtls: tls-alpn-01 (RFC 8737; IP identifiers RFC 8738 section 6):
 * a TLS 1.2+ handshake offering only ALPN "acme-tls/1", no chain
 * verification, then the peer certificate's subjectAltName and
 * acmeIdentifier extension checked. Non-blocking socket and poll against
 * one deadline. Blocking; validation threads only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acme/vtls.h"
#include "common/der.h"

#define ACME_ID_OID "1.3.6.1.5.5.7.1.31"
#define MAX_ADDRS 8

static const uint8_t alpn[] = "\x0a" "acme-tls/1";

void acme_vtls_sni(const struct acme_vid *id, char *out, size_t cap) {
    const uint8_t *a = id->ip.a;
    if (!id->is_ip) {
        snprintf(out, cap, "%s", id->name);
    } else if (id->ip.family == AF_INET) {
        snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
    } else {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        for (int i = 15; i >= 0 && o + 4 < cap; i--) {
            out[o++] = hex[a[i] & 15];
            out[o++] = '.';
            out[o++] = hex[a[i] >> 4];
            out[o++] = '.';
        }
        snprintf(out + o, cap - o, "ip6.arpa");
    }
}

/* The one subjectAltName entry, equal to id. */
static int san_ok(X509 *x, const struct acme_vid *id, struct acme_vresult *out) {
    int crit = 0;
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
    int ok = 0;
    if (g == NULL) {
        ERR_clear_error();
        return acme_vfail(out, "unauthorized", "the certificate has no (or more than one, or a malformed) subjectAltName");
    }
    if (sk_GENERAL_NAME_num(g) != 1) {
        acme_vfail(out, "unauthorized", "the certificate's subjectAltName has %d entries, not exactly one", sk_GENERAL_NAME_num(g));
        goto done;
    }
    const GENERAL_NAME *n = sk_GENERAL_NAME_value(g, 0);
    if (!id->is_ip && n->type == GEN_DNS) {
        const ASN1_STRING *s = n->d.dNSName;
        size_t len = (size_t)ASN1_STRING_length(s);
        ok = len == strlen(id->name) && strncasecmp((const char *)ASN1_STRING_get0_data(s), id->name, len) == 0;
    } else if (id->is_ip && n->type == GEN_IPADD) {
        const ASN1_STRING *s = n->d.iPAddress;
        size_t len = (size_t)ASN1_STRING_length(s);
        ok = len == (id->ip.family == AF_INET ? 4u : 16u) && memcmp(ASN1_STRING_get0_data(s), id->ip.a, len) == 0;
    }
    if (!ok) acme_vfail(out, "unauthorized", "the certificate's subjectAltName is not %s", id->name);
done:
    GENERAL_NAMES_free(g);
    return ok;
}

/* The acmeIdentifier extension: one, critical, OCTET STRING (SIZE (32)) = digest. */
static int acmeid_ok(X509 *x, const uint8_t digest[32], struct acme_vresult *out) {
    ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ID_OID, 1);
    if (oid == NULL) return acme_vfail(out, "unauthorized", "out of memory");
    int idx = X509_get_ext_by_OBJ(x, oid, -1);
    int again = idx >= 0 ? X509_get_ext_by_OBJ(x, oid, idx) : -1;
    ASN1_OBJECT_free(oid);
    if (idx < 0) return acme_vfail(out, "unauthorized", "the certificate has no acmeIdentifier extension");
    if (again >= 0) return acme_vfail(out, "unauthorized", "the certificate has more than one acmeIdentifier extension");
    X509_EXTENSION *ext = X509_get_ext(x, idx);
    if (X509_EXTENSION_get_critical(ext) <= 0)
        return acme_vfail(out, "unauthorized", "the acmeIdentifier extension is not critical (RFC 8737 section 3)");
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    struct der d, inner;
    der_init(&d, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
    if (!der_get(&d, DER_OCTET_STRING, &inner) || d.len != 0 || inner.len != 32)
        return acme_vfail(out, "unauthorized", "the acmeIdentifier extension is not an OCTET STRING of 32 bytes");
    if (CRYPTO_memcmp(inner.p, digest, 32) != 0)
        return acme_vfail(out, "unauthorized", "the acmeIdentifier extension is not the key authorization's SHA-256");
    return 1;
}

int acme_vtls_cert_ok(X509 *x, const struct acme_vid *id, const uint8_t digest[32], struct acme_vresult *out) {
    return san_ok(x, id, out) && acmeid_ok(x, digest, out);
}

/* A non-blocking TCP connection to a:port, before deadline: the fd, or -1. */
static int connect_to(const struct acme_vdns_addr *a, int port, int64_t deadline, char *why, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, a->a, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, a->a, 16);
        sl = sizeof(*s6);
    }
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int err = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        if (errno != EINPROGRESS) err = errno;
        else {
            struct pollfd p = {fd, POLLOUT, 0};
            int r = poll(&p, 1, acme_vleft_ms(deadline));
            socklen_t el = sizeof(err);
            if (r == 0) err = ETIMEDOUT;
            else if (r < 0) err = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
        }
    }
    if (err != 0) {
        snprintf(why, cap, "connect: %s", strerror(err));
        close(fd);
        return -1;
    }
    return fd;
}

/* The handshake on fd, polled against deadline. 1, or 0 with out filled. */
static int handshake(SSL *ssl, int fd, int64_t deadline, struct acme_vresult *out) {
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1) return 1;
        int err = SSL_get_error(ssl, r);
        short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            char buf[160] = "the peer closed the connection";
            unsigned long e = ERR_get_error();
            if (e != 0) ERR_error_string_n(e, buf, sizeof(buf));
            ERR_clear_error();
            return acme_vfail(out, "tls", "TLS handshake failed: %s", buf);
        }
        if (acme_vnow_ms() >= deadline) return acme_vfail(out, "connection", "TLS handshake timed out");
        struct pollfd p = {fd, ev, 0};
        int pr = poll(&p, 1, acme_vleft_ms(deadline));
        if (pr == 0) return acme_vfail(out, "connection", "TLS handshake timed out");
        if (pr < 0 && errno != EINTR) return acme_vfail(out, "connection", "poll: %s", strerror(errno));
    }
}

/* The handshake done on fd, then ALPN and the certificate checked. */
static int check_peer(int fd, const struct acme_vid *id, const char *key_authz, int64_t deadline,
                      struct acme_vresult *out) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    X509 *peer = NULL;
    int ok = 0;
    char sni[80];
    if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL) {
        acme_vfail(out, "tls", "out of memory");
        goto done;
    }
    acme_vtls_sni(id, sni, sizeof(sni));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (SSL_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 || SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0 ||
        SSL_set_tlsext_host_name(ssl, sni) != 1 || SSL_set_fd(ssl, fd) != 1) {
        acme_vfail(out, "tls", "cannot set up the TLS connection");
        goto done;
    }
    if (!handshake(ssl, fd, deadline, out)) goto done;
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(ssl, &sel, &sel_len);
    if (sel_len != sizeof(alpn) - 2 || memcmp(sel, alpn + 1, sel_len) != 0) {
        acme_vfail(out, "tls", "the server did not negotiate ALPN acme-tls/1");
        goto done;
    }
    if ((peer = SSL_get1_peer_certificate(ssl)) == NULL) {
        acme_vfail(out, "tls", "the server sent no certificate");
        goto done;
    }
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)key_authz, strlen(key_authz), md);
    ok = acme_vtls_cert_ok(peer, id, md, out);
done:
    X509_free(peer);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

int acme_vtlsalpn01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                    const char *key_authz, int64_t deadline, struct acme_vresult *out) {
    struct acme_vdns_addr a[MAX_ADDRS];
    size_t n = 1;
    char why[128] = "";
    if (id->is_ip) {
        a[0] = id->ip;
    } else {
        struct rerr e = {{0}};
        int nx = 0;
        n = acme_vdns_addrs(srv, id->name, deadline, a, MAX_ADDRS, &nx, &e);
        if (n == 0) return acme_vfail(out, "dns", "%s", e.msg);
    }
    for (size_t i = 0; i < n; i++) {
        int fd = connect_to(&a[i], cf->tls_port, deadline, why, sizeof(why));
        if (fd < 0) continue;
        int ok = check_peer(fd, id, key_authz, deadline, out);
        close(fd);
        return ok;
    }
    return acme_vfail(out, "connection", "%s port %d: %s", id->name, cf->tls_port, why);
}
