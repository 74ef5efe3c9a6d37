/* http: HTTP/1.x request framing for the shards (see http.h).
 *
 * Restartable the simple way: no state is kept between calls. Each call
 * scans the request again from buf[0] (it is at most HTTP_MAX_REQUEST
 * bytes, so a rescan costs at most 12 KiB per read), then looks whether the
 * body is all there. Everything is looked for only in buf[0..min(len,
 * HTTP_MAX_REQUEST)): every decision is a function of that window, so a
 * prefix of a buffer gets AGAIN or the very answer the whole buffer gets,
 * and a request that has not ended within HTTP_MAX_REQUEST bytes is refused
 * at once (431 in the head, 413 in a chunked body).
 *
 * The grammar (RFC 9112 2.2, 3, 5, 6, 7.1; RFC 9110 5.1, 5.5, 5.6):
 *
 *   request      = *( CRLF ) request-line *( field-line CRLF ) CRLF [ body ]
 *   request-line = method SP request-target SP HTTP-version CRLF
 *   method       = token                    ; case-sensitive
 *   request-target = origin-form / absolute-form   ; <= HTTP_MAX_TARGET bytes
 *   origin-form  = "/" *( %x21-7E )
 *   absolute-form = ( "http" / "https" ) "://" authority [ "/" *( %x21-7E ) ]
 *                                           ; scheme in any case
 *   authority    = 1*( unreserved / pct / sub-delims / ":" / "[" / "]" )
 *                                           ; no userinfo ("@", RFC 9110 4.2.4)
 *   HTTP-version = "HTTP/" DIGIT "." DIGIT  ; 1.x, else 505
 *   field-line   = field-name ":" OWS field-value OWS
 *   field-name   = token                    ; case-insensitive
 *   field-value  = *( %x21-7E / %x80-FF / SP / HTAB )
 *   token        = 1*tchar
 *   tchar        = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
 *                / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 *   OWS          = *( SP / HTAB )
 *   CRLF         = CR LF / LF               ; in the head, a bare LF ends a line too
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size   = 1*HEXDIG                 ; <= HTTP_MAX_CHUNK_DIGITS digits
 *   last-chunk   = 1*"0" [ chunk-ext ] CRLF
 *   chunk-ext    = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] )
 *   trailer-section = *( field-line CRLF )  ; <= HTTP_MAX_TRAILER bytes
 *                                           ; CRLF only, in all of the body
 *
 * Empty lines before the request line are skipped (RFC 9112 2.2: a client
 * may send a stray CRLF after a POST body); they count in `consumed` and
 * in HTTP_MAX_HEAD. A CR anywhere but before an LF is an error.
 *
 * Where http.h leaves room, this reading:
 *   - HTTP_MAX_HEAD counts every byte up to and including the LF of the
 *     empty line; HTTP_MAX_TARGET the bytes of the target (an absolute-form
 *     target's scheme and authority too); HTTP_MAX_HEADERS field lines (431
 *     as soon as a 65th line starts); HTTP_MAX_REQUEST the head and the
 *     body as framed (chunk lines and trailers too).
 *   - Errors come in the order of the bytes: the first bad byte decides.
 *     What needs the whole line (a Content-Length over the cap: 413; a
 *     duplicate; "HTTP/2.0": 505) is judged at its line end, what needs the
 *     whole head at the empty line, in this order: no Host in HTTP/1.1, 400;
 *     Transfer-Encoding in HTTP/1.0, empty, or whose last coding is not
 *     chunked, 400 (RFC 9112 6.1, 6.3); chunked applied twice, 400; another
 *     coding before chunked, 501; POST with neither length, 411; a
 *     Content-Length that the head leaves no room for, 413.
 *   - In a chunked body: a chunk-size over HTTP_MAX_CHUNK_DIGITS digits
 *     (leading zeros count) is 400, and 413 as soon as its digits so far
 *     make the data past HTTP_MAX_BODY; a trailer section past
 *     HTTP_MAX_TRAILER is 431.
 *   - A Content-Length or a chunked body is honoured with every method (GET
 *     and HEAD too) and capped at HTTP_MAX_BODY with every method: an unread
 *     body would put pipelining out of step. Other methods without one have
 *     no body.
 *   - body is NULL exactly when body_len is 0 (also "Content-Length: 0").
 *   - A present but empty Content-Type, If-None-Match or If-Modified-Since
 *     is a view of length 0, not NULL. A second line of one of them is 400:
 *     a view cannot span lines, and half a list is worse than none.
 *   - Connection, Transfer-Encoding and Expect elements that are not tokens
 *     are 400; a second Host is 400 (RFC 9112 3.2). Expectations other than
 *     100-continue are ignored (RFC 9110 10.1.1 allows 417; ignoring them
 *     answers the request). Field values may hold obs-text (0x80-0xff).
 *   - The parser never answers 405 or 501 for a method: other methods are
 *     DONE with HTTP_METHOD_OTHER or HTTP_METHOD_UNKNOWN, and the caller
 *     answers. */
#include "shard/http.h"

#include <string.h>

/* Step results inside the parser: 0 goes on, NEED wants bytes past the
 * window, anything else is the HTTP status of the error. */
#define NEED (-1)

/* What the field lines said, beyond the views written into the request. */
struct fields {
    size_t num_fields;
    int have_length;     /* a Content-Length line was seen */
    size_t length;       /* its value, at most HTTP_MAX_BODY */
    int have_te;         /* a Transfer-Encoding line was seen */
    size_t te_codings;   /* its codings, all lines together */
    size_t te_chunked;   /* how many of them are "chunked" */
    int te_last_chunked; /* the last one is */
    int have_host;
    int conn_close;      /* "close" in a Connection list */
    int conn_keep_alive; /* "keep-alive" in a Connection list */
    int expect_continue; /* "100-continue" in an Expect list */
};

/* A cursor over the window buf[0..end); pos <= end throughout. */
struct scan {
    const uint8_t *buf;
    size_t end;
    size_t pos;
};

static int is_tchar(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

static int is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c; }

/* Whether p[0..n) is lit (lower case) in any case. */
static int same_token(const uint8_t *p, size_t n, const char *lit) {
    size_t l = strlen(lit);
    if (n != l) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != (uint8_t)lit[i]) return 0;
    return 1;
}

/* Consumes a line end (CR LF or a bare LF) at s->pos. */
static int line_end(struct scan *s) {
    if (s->pos >= s->end) return NEED;
    uint8_t c = s->buf[s->pos];
    if (c == '\n') {
        s->pos++;
        return 0;
    }
    if (c != '\r') return 400;
    if (s->pos + 1 >= s->end) return NEED;
    if (s->buf[s->pos + 1] != '\n') return 400; /* a bare CR */
    s->pos += 2;
    return 0;
}

/* Consumes a CR LF at s->pos: inside a chunked body nothing else ends a line. */
static int crlf(struct scan *s) {
    if (s->pos >= s->end) return NEED;
    if (s->buf[s->pos] != '\r') return 400;
    if (s->pos + 1 >= s->end) return NEED;
    if (s->buf[s->pos + 1] != '\n') return 400;
    s->pos += 2;
    return 0;
}

/* The methods RFC 9110 9.3 defines that revd does not serve, and PATCH
 * (RFC 5789): known, so 405 with Allow; any other token is 501. */
static enum http_method method_of(const uint8_t *m, size_t n) {
    static const char *const other[] = {"PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    if (n == 3 && memcmp(m, "GET", 3) == 0) return HTTP_METHOD_GET;
    if (n == 4 && memcmp(m, "HEAD", 4) == 0) return HTTP_METHOD_HEAD;
    if (n == 4 && memcmp(m, "POST", 4) == 0) return HTTP_METHOD_POST;
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (n == strlen(other[i]) && memcmp(m, other[i], n) == 0) return HTTP_METHOD_OTHER;
    return HTTP_METHOD_UNKNOWN;
}

/* An authority's bytes: unreserved, pct-encoded's '%' and hex digits,
 * sub-delims, ':' and the brackets of an IP literal (RFC 3986 3.2). '@'
 * (userinfo) is not among them: RFC 9110 4.2.4 has it treated as an error. */
static int is_authority(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != 0 && strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
}

/* The scheme and authority of an absolute-form target at s->pos (its
 * first byte is not '/'), up to the path's '/', a '?' or the SP after it;
 * the authority becomes the request's host (RFC 9112 7.2). t: where the
 * target began (the cap counts from there). */
static int absolute_form(struct scan *s, size_t t, struct http_request *out) {
    const uint8_t *b = s->buf;
    static const char http[] = "http";
    for (size_t i = 0; i < 4; i++, s->pos++) {
        if (s->pos >= s->end) return NEED;
        if (lower(b[s->pos]) != (uint8_t)http[i]) return 400;
    }
    if (s->pos >= s->end) return NEED;
    if (lower(b[s->pos]) == 's') s->pos++;
    static const char sep[] = "://";
    for (size_t i = 0; i < 3; i++, s->pos++) {
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] != (uint8_t)sep[i]) return 400;
    }
    size_t a = s->pos;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        uint8_t c = b[s->pos];
        if (c == '/' || c == '?' || c == ' ') break;
        if (!is_authority(c)) return 400;
        if (s->pos - t >= HTTP_MAX_TARGET) return 414;
        s->pos++;
    }
    /* RFC 9110 4.2.1: an empty host is invalid. */
    if (s->pos == a || b[a] == ':') return 400;
    out->host = (const char *)(b + a);
    out->host_len = s->pos - a;
    return 0;
}

/* request-line, after any empty lines. */
static int request_line(struct scan *s, struct http_request *out) {
    const uint8_t *b = s->buf;

    /* Empty lines before it (RFC 9112 2.2). */
    for (;;) {
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] != '\r' && b[s->pos] != '\n') break;
        int r = line_end(s);
        if (r != 0) return r;
    }

    /* method SP */
    size_t m = s->pos;
    while (s->pos < s->end && is_tchar(b[s->pos])) s->pos++;
    if (s->pos >= s->end) return NEED;
    if (s->pos == m || b[s->pos] != ' ') return 400;
    out->method = method_of(b + m, s->pos - m);
    s->pos++;

    /* request-target SP: origin-form ('/' first) or absolute-form (no
     * asterisk- or authority-form), then printable ASCII. 414 as soon as
     * the target has one byte more than the cap. */
    if (s->pos >= s->end) return NEED;
    size_t t = s->pos;
    int absolute = b[s->pos] != '/';
    if (absolute) {
        int r = absolute_form(s, t, out);
        if (r != 0) return r;
    }
    size_t path = s->pos;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        uint8_t c = b[s->pos];
        if (c == ' ') break;
        if (c < 0x21 || c > 0x7e) return 400;
        if (s->pos - t >= HTTP_MAX_TARGET) return 414;
        s->pos++;
    }
    if (absolute && (s->pos == path || b[path] != '/')) {
        /* An empty path is "/" (RFC 9110 4.2.3); what is left is a query,
         * which no route of ours reads. */
        out->target = "/";
        out->target_len = 1;
    } else {
        out->target = (const char *)(b + path);
        out->target_len = s->pos - path;
    }
    s->pos++;

    /* HTTP-version line-end: "HTTP/" is checked a byte at a time so that
     * garbage is refused early; the version number is judged once the line
     * has ended ("HTTP/2.0x" is garbage, 400, not 505). */
    static const char name[] = "HTTP/";
    for (size_t i = 0; i < 5; i++) {
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] != (uint8_t)name[i]) return 400;
        s->pos++;
    }
    uint8_t v[3];
    for (size_t i = 0; i < 3; i++) {
        if (s->pos >= s->end) return NEED;
        v[i] = b[s->pos++];
        int ok = i == 1 ? v[i] == '.' : (v[i] >= '0' && v[i] <= '9');
        if (!ok) return 400;
    }
    int r = line_end(s);
    if (r != 0) return r;
    if (v[0] != '1') return 505;
    /* RFC 9112 2.3: a later 1.x is answered as the highest we speak. */
    out->minor_version = v[2] == '0' ? 0 : 1;
    return 0;
}

/* Calls fn on each element of a list value v[0..n) (RFC 9110 5.6.1: empty
 * elements are allowed), OWS trimmed. */
static int each_element(struct fields *f, const uint8_t *v, size_t n,
                        int (*fn)(struct fields *f, const uint8_t *e, size_t e_len)) {
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t a = i, z = j;
        while (a < z && is_ows(v[a])) a++;
        while (z > a && is_ows(v[z - 1])) z--;
        if (z > a) {
            int r = fn(f, v + a, z - a);
            if (r != 0) return r;
        }
        i = j + 1;
    }
    return 0;
}

static int all_tchar(const uint8_t *e, size_t n) {
    for (size_t k = 0; k < n; k++)
        if (!is_tchar(e[k])) return 0;
    return 1;
}

/* A Connection element (RFC 9110 7.6.1): "close" and "keep-alive" are
 * noted, others are hop-by-hop names we have no use for. */
static int connection_element(struct fields *f, const uint8_t *e, size_t n) {
    if (!all_tchar(e, n)) return 400;
    if (same_token(e, n, "close")) f->conn_close = 1;
    if (same_token(e, n, "keep-alive")) f->conn_keep_alive = 1;
    return 0;
}

/* A transfer-coding (RFC 9112 7): its name, then maybe parameters; only
 * "chunked" (without parameters) is one we decode. */
static int te_element(struct fields *f, const uint8_t *e, size_t n) {
    size_t k = 0;
    while (k < n && is_tchar(e[k])) k++;
    if (k == 0) return 400;
    f->te_codings++;
    f->te_last_chunked = k == n && same_token(e, n, "chunked");
    if (f->te_last_chunked) f->te_chunked++;
    return 0;
}

/* An Expect element (RFC 9110 10.1.1): "100-continue" is noted. */
static int expect_element(struct fields *f, const uint8_t *e, size_t n) {
    if (same_token(e, n, "100-continue")) f->expect_continue = 1;
    return 0;
}

/* Content-Length = 1*DIGIT: no sign, no list, no whitespace inside. The
 * value saturates past the cap, so no digit count can overflow it; 413 is
 * given once the whole value has been checked to be a number. */
static int content_length(struct fields *f, const uint8_t *v, size_t n) {
    if (f->have_length || f->have_te) return 400; /* a duplicate; or smuggling */
    if (n == 0) return 400;
    size_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return 400;
        if (x <= HTTP_MAX_BODY) x = x * 10 + (size_t)(v[i] - '0');
    }
    if (x > HTTP_MAX_BODY) return 413;
    f->have_length = 1;
    f->length = x;
    return 0;
}

/* One of the optional views. A view cannot span two field lines, so a
 * second line of the same name is refused rather than half-read. */
static int view(const char **p, size_t *p_len, const uint8_t *v, size_t n) {
    if (*p != NULL) return 400;
    *p = (const char *)v;
    *p_len = n;
    return 0;
}

/* Acts on one field line; v[0..n) is its value without OWS around. */
static int field(struct fields *f, struct http_request *out, const uint8_t *name, size_t name_len,
                 const uint8_t *v, size_t n) {
    if (same_token(name, name_len, "content-length")) return content_length(f, v, n);
    if (same_token(name, name_len, "transfer-encoding")) {
        if (f->have_length) return 400;
        f->have_te = 1; /* judged at the end of the head */
        return each_element(f, v, n, te_element);
    }
    if (same_token(name, name_len, "host")) {
        if (f->have_host) return 400; /* RFC 9112 3.2: more than one Host */
        f->have_host = 1;
        /* RFC 9112 7.2: an absolute-form target's authority wins. */
        if (out->host == NULL) {
            out->host = (const char *)v;
            out->host_len = n;
        }
        return 0;
    }
    if (same_token(name, name_len, "connection")) return each_element(f, v, n, connection_element);
    if (same_token(name, name_len, "expect")) return each_element(f, v, n, expect_element);
    if (same_token(name, name_len, "content-type")) return view(&out->content_type, &out->content_type_len, v, n);
    if (same_token(name, name_len, "if-none-match"))
        return view(&out->if_none_match, &out->if_none_match_len, v, n);
    if (same_token(name, name_len, "if-modified-since"))
        return view(&out->if_modified_since, &out->if_modified_since_len, v, n);
    return 0;
}

/* One field line's name and value, up to (not including) its line end;
 * *v, *v_len: the value without OWS around. */
static int field_line(struct scan *s, size_t *nm, size_t *nm_len, size_t *v, size_t *v_len, size_t cap_from,
                      size_t cap) {
    const uint8_t *b = s->buf;
    *nm = s->pos;
    while (s->pos < s->end && is_tchar(b[s->pos])) s->pos++;
    if (s->pos - cap_from > cap) return 431;
    if (s->pos >= s->end) return NEED;
    /* No name, whitespace before ':', no ':' at all: all 400. */
    if (s->pos == *nm || b[s->pos] != ':') return 400;
    *nm_len = s->pos - *nm;
    s->pos++;
    while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
    *v = s->pos;
    size_t v_end = s->pos;
    for (;;) {
        if (s->pos - cap_from > cap) return 431;
        if (s->pos >= s->end) return NEED;
        uint8_t c = b[s->pos];
        if (c == '\r' || c == '\n') break;
        if (c == 0x7f || (c < 0x20 && c != '\t')) return 400;
        s->pos++;
        if (!is_ows(c)) v_end = s->pos;
    }
    *v_len = v_end - *v;
    return 0;
}

/* field-lines and the empty line that ends the head. */
static int field_lines(struct scan *s, struct fields *f, struct http_request *out) {
    const uint8_t *b = s->buf;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        uint8_t c = b[s->pos];
        if (c == '\r' || c == '\n') return line_end(s); /* the end of the head */
        if (f->num_fields >= HTTP_MAX_HEADERS) return 431;
        /* A line that starts with whitespace is obsolete line folding (or,
         * first, whitespace between the request line and the fields). */
        if (is_ows(c)) return 400;
        size_t nm, nm_len, v, v_len;
        int r = field_line(s, &nm, &nm_len, &v, &v_len, 0, HTTP_MAX_HEAD); /* (the window caps it) */
        if (r != 0) return r;
        r = line_end(s);
        if (r != 0) return r;
        f->num_fields++;
        r = field(f, out, b + nm, nm_len, b + v, v_len);
        if (r != 0) return r;
    }
}

/* The head, in buf[0..end); on success *out_head_len is its length. */
static int head(const uint8_t *buf, size_t end, struct http_request *out, struct fields *f, size_t *out_head_len) {
    struct scan s = {buf, end, 0};
    int r = request_line(&s, out);
    if (r != 0) return r;
    r = field_lines(&s, f, out);
    if (r != 0) return r;

    if (out->minor_version == 1 && !f->have_host) return 400; /* RFC 9112 3.2 */
    if (f->have_te) {
        /* RFC 9112 6.1: HTTP/1.0 framing with Transfer-Encoding is faulty;
         * 6.3: a last coding other than chunked leaves no length. */
        if (out->minor_version == 0 || !f->te_last_chunked || f->te_chunked > 1) return 400;
        if (f->te_codings > 1) return 501; /* gzip, chunked: a coding we do not decode */
    }
    if (out->method == HTTP_METHOD_POST && !f->have_length && !f->have_te) return 411;
    if (f->have_length && f->length > HTTP_MAX_REQUEST - s.pos) return 413; /* no room left for it */
    *out_head_len = s.pos;
    return 0;
}

/* chunk-ext after a chunk-size, up to its line end. */
static int chunk_ext(struct scan *s) {
    const uint8_t *b = s->buf;
    for (;;) {
        size_t ws = s->pos;
        while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] != ';') return s->pos == ws ? 0 : 400; /* BWS only before a ';' */
        s->pos++;
        while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
        size_t nm = s->pos;
        while (s->pos < s->end && is_tchar(b[s->pos])) s->pos++;
        if (s->pos >= s->end) return NEED;
        if (s->pos == nm) return 400;
        size_t eq = s->pos;
        while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] != '=') {
            s->pos = eq; /* the whitespace belongs to what follows */
            continue;
        }
        s->pos++;
        while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
        if (s->pos >= s->end) return NEED;
        if (b[s->pos] == '"') { /* quoted-string (RFC 9110 5.6.4) */
            for (s->pos++;; s->pos++) {
                if (s->pos >= s->end) return NEED;
                uint8_t c = b[s->pos];
                if (c == '"') break;
                if (c == '\\') {
                    if (++s->pos >= s->end) return NEED;
                    c = b[s->pos];
                    if (c == 0x7f || (c < 0x20 && c != '\t')) return 400;
                    continue;
                }
                if (c == 0x7f || (c < 0x20 && c != '\t')) return 400;
            }
            s->pos++;
        } else {
            size_t v = s->pos;
            while (s->pos < s->end && is_tchar(b[s->pos])) s->pos++;
            if (s->pos >= s->end) return NEED;
            if (s->pos == v) return 400;
        }
    }
}

/* A chunk-size's digits at s->pos: *out_size. data: the chunks' data so far. */
static int chunk_size(struct scan *s, size_t data, size_t *out_size) {
    size_t d = s->pos, size = 0;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        int h = hex_value(s->buf[s->pos]);
        if (h < 0) break;
        if (s->pos - d >= HTTP_MAX_CHUNK_DIGITS) return 400;
        size = size * 16 + (size_t)h;
        if (size > HTTP_MAX_BODY - data) return 413; /* more digits only make it larger */
        s->pos++;
    }
    if (s->pos == d) return 400;
    *out_size = size;
    return 0;
}

/* A chunked body at s->pos, through its last CRLF; *out_data: the length
 * of its data. */
static int chunked_body(struct scan *s, size_t *out_data) {
    size_t data = 0;
    for (;;) {
        size_t size;
        int r = chunk_size(s, data, &size);
        if (r == 0) r = chunk_ext(s);
        if (r == 0) r = crlf(s);
        if (r != 0) return r;
        if (size == 0) break; /* last-chunk */
        if (s->end - s->pos < size) return NEED;
        s->pos += size;
        data += size;
        r = crlf(s);
        if (r != 0) return r;
    }
    /* trailer-section CRLF: fields parsed, and dropped (RFC 9110 6.5.1
     * lets a recipient that does not use them discard them). */
    size_t t = s->pos;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        if (s->buf[s->pos] == '\r') break;
        if (is_ows(s->buf[s->pos])) return 400;
        size_t nm, nm_len, v, v_len;
        int r = field_line(s, &nm, &nm_len, &v, &v_len, t, HTTP_MAX_TRAILER);
        if (r == 0) r = crlf(s);
        if (r != 0) return r;
        if (s->pos - t > HTTP_MAX_TRAILER) return 431;
    }
    int r = crlf(s);
    if (r != 0) return r;
    *out_data = data;
    return 0;
}

enum http_result http_parse(const uint8_t *buf, size_t len, struct http_request *out) {
    memset(out, 0, sizeof(*out));
    struct fields f;
    memset(&f, 0, sizeof(f));
    size_t end = len < HTTP_MAX_REQUEST ? len : HTTP_MAX_REQUEST;
    size_t head_len = 0;
    int r = head(buf, end, out, &f, &head_len);
    if (r == NEED) {
        if (len < HTTP_MAX_REQUEST) {
            memset(out, 0, sizeof(*out));
            return HTTP_AGAIN;
        }
        r = 431; /* HTTP_MAX_REQUEST bytes and no end of head */
    }
    if (r != 0) {
        memset(out, 0, sizeof(*out));
        out->error_status = r;
        return HTTP_ERROR;
    }
    out->head_len = head_len;
    out->keep_alive = out->minor_version == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;
    out->expect_continue = out->minor_version == 1 && f.expect_continue; /* RFC 9110 10.1.1: not in 1.0 */

    /* A body is taken with any method that declares one (GET and HEAD too),
     * so that the next pipelined request starts where it should. */
    if (f.have_te) {
        struct scan s = {buf, end, head_len};
        size_t data = 0;
        r = chunked_body(&s, &data);
        if (r == NEED && len < HTTP_MAX_REQUEST) return HTTP_AGAIN; /* the head's fields stay */
        if (r == NEED) r = 413; /* the framed body does not fit in what is left */
        if (r != 0) {
            memset(out, 0, sizeof(*out));
            out->error_status = r;
            return HTTP_ERROR;
        }
        out->chunked = buf + head_len;
        out->chunked_len = s.pos - head_len;
        out->consumed = s.pos;
        return HTTP_DONE;
    }
    size_t body_len = f.have_length ? f.length : 0;
    if (len - head_len < body_len) return HTTP_AGAIN; /* the head's fields stay */
    out->body = body_len > 0 ? buf + head_len : NULL;
    out->body_len = body_len;
    out->consumed = head_len + body_len;
    return HTTP_DONE;
}

size_t http_chunked_decode(const uint8_t *chunked, size_t len, uint8_t *out) {
    size_t i = 0, n = 0;
    for (;;) {
        size_t size = 0, digits = 0;
        int h;
        while (i < len && digits < HTTP_MAX_CHUNK_DIGITS && (h = hex_value(chunked[i])) >= 0) {
            size = size * 16 + (size_t)h;
            i++;
            digits++;
        }
        /* The extension and the line end. */
        while (i < len && chunked[i] != '\n') i++;
        i++;
        if (size == 0 || i >= len || size > len - i || size > HTTP_MAX_BODY - n) break;
        memmove(out + n, chunked + i, size);
        n += size;
        i += size + 2; /* the data's CRLF */
    }
    return n;
}
