/* acme/vhttp: http-01 (RFC 8555 8.3) through libcurl. Names are resolved
 * by acme/vdns (the configured resolver only) and handed to curl with
 * CURLOPT_RESOLVE, so redirects are followed here, hop by hop, each
 * resolved the same way. Blocking; validation threads only. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acme/vhttp.h"

#define URL_MAX 2048
#define MAX_ADDRS 8

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* The answer, capped: one byte past cap marks it too long. */
struct body {
    char *p;
    size_t len, cap;
    int over;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    struct body *b = arg;
    size_t n = size * nmemb;
    if (n > b->cap - b->len) {
        b->over = 1;
        return 0; /* curl stops: CURLE_WRITE_ERROR */
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return n;
}

/* One hop's target: the URL to fetch (port set) and its RESOLVE entry. */
struct hop {
    char url[URL_MAX];
    char resolve[URL_MAX]; /* "" for an IP literal */
};

/* An IP literal host (IPv6 in brackets, as CURLU gives it)? */
static int host_is_ip(const char *host) {
    uint8_t a[16];
    char h[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(h)) {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
        return inet_pton(AF_INET6, h, a) == 1;
    }
    return inet_pton(AF_INET, host, a) == 1;
}

/* The RESOLVE entry "host:port:addr,addr" for a name, through vdns. */
static int resolve_entry(const struct acme_vdns_server *srv, const char *host, long port, int64_t deadline,
                         char *out_s, size_t cap, struct acme_vresult *out) {
    struct acme_vdns_addr a[MAX_ADDRS];
    struct rerr e = {{0}};
    int nx = 0;
    size_t n = acme_vdns_addrs(srv, host, deadline, a, MAX_ADDRS, &nx, &e);
    if (n == 0) return acme_vfail(out, "dns", "%s", e.msg);
    int o = snprintf(out_s, cap, "%s:%ld:", host, port);
    for (size_t i = 0; i < n && o > 0 && (size_t)o < cap; i++) {
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(a[i].family, a[i].a, txt, sizeof(txt));
        o += snprintf(out_s + o, cap - (size_t)o, a[i].family == AF_INET6 ? "%s[%s]" : "%s%s", i ? "," : "", txt);
    }
    if (o < 0 || (size_t)o >= cap) return acme_vfail(out, "dns", "%s: too many addresses", host);
    return 1;
}

/* A URL (the first, or a redirect's) checked and made a hop: http or https
 * only; port 80 (or none, for http) goes to http_port, 443 (or none, for
 * https) to tls_port; other ports are refused. */
static int plan_hop(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const char *url,
                    int64_t deadline, struct hop *h, struct acme_vresult *out) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port_s = NULL, *full = NULL;
    int ok = 0;
    if (u == NULL) return acme_vfail(out, "connection", "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port_s, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        acme_vfail(out, "connection", "a redirect to a URL that does not parse");
        goto done;
    }
    int https = strcasecmp(scheme, "https") == 0;
    if (!https && strcasecmp(scheme, "http") != 0) {
        acme_vfail(out, "connection", "a redirect to a scheme other than http or https");
        goto done;
    }
    long port = strtol(port_s, NULL, 10);
    if (port == 80 || port == cf->http_port) port = port == 80 ? cf->http_port : port;
    else if (port == 443) port = cf->tls_port;
    else if (port != cf->tls_port) {
        acme_vfail(out, "connection", "a redirect to port %ld (only 80 and 443 are followed)", port);
        goto done;
    }
    char pbuf[16];
    snprintf(pbuf, sizeof(pbuf), "%ld", port);
    if (curl_url_set(u, CURLUPART_PORT, pbuf, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
        strlen(full) >= sizeof(h->url)) {
        acme_vfail(out, "connection", "a redirect URL too long");
        goto done;
    }
    snprintf(h->url, sizeof(h->url), "%s", full);
    h->resolve[0] = '\0';
    ok = host_is_ip(host) || resolve_entry(srv, host, port, deadline, h->resolve, sizeof(h->resolve), out);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port_s);
    curl_free(full);
    curl_url_cleanup(u);
    return ok;
}

static const char *curl_problem(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return "dns";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CERTPROBLEM:
        return "tls";
    default:
        return "connection";
    }
}

/* One GET: 1 with *out_code (and the body in b, or *out_loc for a
 * redirect, malloc'd), or 0 with out filled. */
static int get_once(const struct hop *h, int64_t deadline, struct body *b, long *out_code, char **out_loc,
                    struct acme_vresult *out) {
    CURL *c = curl_easy_init();
    struct curl_slist *res = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int ok = 0;
    if (c == NULL) return acme_vfail(out, "connection", "out of memory");
    if (h->resolve[0] != '\0' && (res = curl_slist_append(NULL, h->resolve)) == NULL) {
        acme_vfail(out, "connection", "out of memory");
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, res);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)acme_vleft_ms(deadline));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L); /* RFC 8555 8.3: not verified */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b->cap);
    /* curl's receive buffer (1024 at least): what is read past the cap stays small */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)(b->cap < 1024 ? 1024 : b->cap < 16384 ? b->cap + 1 : 16384));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "revd-acme-validator");
    CURLcode rc = curl_easy_perform(c);
    if (b->over || rc == CURLE_FILESIZE_EXCEEDED) {
        acme_vfail(out, "incorrectResponse", "%s: the answer is longer than %zu bytes", h->url, b->cap);
        goto done;
    }
    if (rc != CURLE_OK) {
        acme_vfail(out, curl_problem(rc), "%s: %s", h->url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        goto done;
    }
    char *loc = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, out_code);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
    *out_loc = loc != NULL ? strdup(loc) : NULL;
    ok = 1;
done:
    curl_slist_free_all(res);
    curl_easy_cleanup(c);
    return ok;
}

/* The answer, trailing whitespace trimmed, against the key authorization. */
static int check_body(const struct hop *h, struct body *b, const char *key_authz, struct acme_vresult *out) {
    size_t n = b->len;
    while (n > 0 && (b->p[n - 1] == ' ' || b->p[n - 1] == '\t' || b->p[n - 1] == '\r' || b->p[n - 1] == '\n')) n--;
    if (n == strlen(key_authz) && memcmp(b->p, key_authz, n) == 0) return 1;
    return acme_vfail(out, "incorrectResponse", "%s: the answer (%zu bytes) is not the key authorization", h->url, n);
}

static int is_redirect(long code) {
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

int acme_vhttp01(const struct acme_vconf *cf, const struct acme_vdns_server *srv, const struct acme_vid *id,
                 const char *token, const char *key_authz, int64_t deadline, struct acme_vresult *out) {
    struct hop *h = malloc(sizeof(*h));
    struct body b = {malloc(cf->max_body), 0, cf->max_body, 0};
    char *next = NULL;
    int ok = 0;
    pthread_once(&curl_once, curl_init_once);
    if (h == NULL || b.p == NULL) {
        acme_vfail(out, "connection", "out of memory");
        goto done;
    }
    int v6 = id->is_ip && id->ip.family == AF_INET6;
    snprintf(h->url, sizeof(h->url), "http://%s%s%s:%d/.well-known/acme-challenge/%s", v6 ? "[" : "", id->name,
             v6 ? "]" : "", cf->http_port, token);
    if ((next = strdup(h->url)) == NULL) {
        acme_vfail(out, "connection", "out of memory");
        goto done;
    }
    for (int hop = 0; next != NULL; hop++) {
        long code = 0;
        if (hop > cf->max_redirects) {
            acme_vfail(out, "connection", "more than %d redirects", cf->max_redirects);
            goto done;
        }
        if (!plan_hop(cf, srv, next, deadline, h, out)) goto done;
        free(next);
        next = NULL;
        b.len = 0;
        if (!get_once(h, deadline, &b, &code, &next, out)) goto done;
        if (is_redirect(code) && next != NULL) continue;
        free(next);
        next = NULL;
        if (code != 200) {
            acme_vfail(out, "unauthorized", "%s: HTTP status %ld", h->url, code);
            goto done;
        }
        ok = check_body(h, &b, key_authz, out);
    }
done:
    free(next);
    free(b.p);
    free(h);
    return ok;
}
