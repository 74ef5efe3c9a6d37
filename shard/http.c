/* http: HTTP/1.x request framing for the shards (see http.h).
 *
 * Restartable the simple way: no state is kept between calls. Each call
 * scans the head again from buf[0] (it is at most HTTP_MAX_HEAD bytes, so a
 * rescan costs at most 8 KiB per read), then looks whether the body is all
 * there. The head is looked for only in buf[0..min(len, HTTP_MAX_HEAD)):
 * every decision is a function of that window, so a prefix of a buffer
 * gets AGAIN or the very answer the whole buffer gets, and a head that has
 * not ended within HTTP_MAX_HEAD bytes is refused (431) at once.
 *
 * The grammar (RFC 9112 2.2, 3, 5; RFC 9110 5.1, 5.5, 5.6):
 *
 *   request      = *( CRLF ) request-line *( field-line CRLF ) CRLF [ body ]
 *   request-line = method SP origin-form SP HTTP-version CRLF
 *   method       = token                    ; case-sensitive
 *   origin-form  = "/" *( %x21-7E )         ; <= HTTP_MAX_TARGET bytes
 *   HTTP-version = "HTTP/" DIGIT "." DIGIT  ; 1.0 or 1.1, else 505
 *   field-line   = field-name ":" OWS field-value OWS
 *   field-name   = token                    ; case-insensitive
 *   field-value  = *( %x21-7E / %x80-FF / SP / HTAB )
 *   token        = 1*tchar
 *   tchar        = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
 *                / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 *   OWS          = *( SP / HTAB )
 *   CRLF         = CR LF / LF               ; a bare LF ends a line too
 *
 * Empty lines before the request line are skipped (RFC 9112 2.2: a client
 * may send a stray CRLF after a POST body); they count in `consumed` and
 * in HTTP_MAX_HEAD. A CR anywhere but before an LF is an error.
 *
 * Where http.h leaves room, this reading:
 *   - HTTP_MAX_HEAD counts every byte up to and including the LF of the
 *     empty line; HTTP_MAX_TARGET the bytes of the target; HTTP_MAX_HEADERS
 *     field lines (431 as soon as a 65th line starts).
 *   - Errors come in the order of the bytes: the first bad byte decides.
 *     What needs the whole line (a Content-Length over the cap: 413; a
 *     duplicate; "HTTP/2.0": 505) is judged at its line end, what needs the
 *     whole head (no Host in HTTP/1.1: 400; Transfer-Encoding: 501, since a
 *     later Content-Length would make it 400; POST without Content-Length:
 *     411) at the empty line, in that order.
 *   - A Content-Length is honoured with every method (GET and HEAD too)
 *     and capped at HTTP_MAX_BODY with every method: an unread body would
 *     put pipelining out of step. Other methods without one have no body.
 *   - body is NULL exactly when body_len is 0 (also "Content-Length: 0").
 *   - A present but empty Content-Type, If-None-Match or If-Modified-Since
 *     is a view of length 0, not NULL. A second line of one of them is 400:
 *     a view cannot span lines, and half a list is worse than none.
 *   - Connection elements that are not tokens are 400; a second Host is 400
 *     (RFC 9112 3.2). Field values may hold obs-text (0x80-0xff).
 *   - The parser never answers 405: other methods are DONE with
 *     HTTP_METHOD_OTHER, and the caller answers 405. */
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
    int have_host;
    int conn_close;      /* "close" in a Connection list */
    int conn_keep_alive; /* "keep-alive" in a Connection list */
};

/* A cursor over the head window buf[0..end); pos <= end throughout. */
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
    size_t m_len = s->pos - m;
    if (m_len == 3 && memcmp(b + m, "GET", 3) == 0)
        out->method = HTTP_METHOD_GET;
    else if (m_len == 4 && memcmp(b + m, "HEAD", 4) == 0)
        out->method = HTTP_METHOD_HEAD;
    else if (m_len == 4 && memcmp(b + m, "POST", 4) == 0)
        out->method = HTTP_METHOD_POST;
    else
        out->method = HTTP_METHOD_OTHER;
    s->pos++;

    /* origin-form SP: a '/' first (no asterisk-, authority- or
     * absolute-form), then printable ASCII. 414 as soon as the target has
     * one byte more than the cap. */
    if (s->pos >= s->end) return NEED;
    if (b[s->pos] != '/') return 400;
    size_t t = s->pos;
    for (;;) {
        if (s->pos >= s->end) return NEED;
        uint8_t c = b[s->pos];
        if (c == ' ') break;
        if (c < 0x21 || c > 0x7e) return 400;
        if (s->pos - t >= HTTP_MAX_TARGET) return 414;
        s->pos++;
    }
    out->target = (const char *)(b + t);
    out->target_len = s->pos - t;
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
    if (v[0] != '1' || (v[2] != '0' && v[2] != '1')) return 505;
    out->minor_version = v[2] - '0';
    return 0;
}

/* A Connection value: a list of tokens (RFC 9110 7.6.1, 5.6.1: empty
 * elements are allowed); "close" and "keep-alive" are noted, others are
 * hop-by-hop names we have no use for. */
static int connection(struct fields *f, const uint8_t *v, size_t n) {
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t a = i, z = j;
        while (a < z && is_ows(v[a])) a++;
        while (z > a && is_ows(v[z - 1])) z--;
        for (size_t k = a; k < z; k++)
            if (!is_tchar(v[k])) return 400;
        if (same_token(v + a, z - a, "close")) f->conn_close = 1;
        if (same_token(v + a, z - a, "keep-alive")) f->conn_keep_alive = 1;
        i = j + 1;
    }
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

/* One of the three optional views. A view cannot span two field lines, so
 * a second line of the same name is refused rather than half-read. */
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
        f->have_te = 1; /* 501, or 400 with a later Content-Length */
        return 0;
    }
    if (same_token(name, name_len, "host")) {
        if (f->have_host) return 400; /* RFC 9112 3.2: more than one Host */
        f->have_host = 1;
        return 0;
    }
    if (same_token(name, name_len, "connection")) return connection(f, v, n);
    if (same_token(name, name_len, "content-type")) return view(&out->content_type, &out->content_type_len, v, n);
    if (same_token(name, name_len, "if-none-match"))
        return view(&out->if_none_match, &out->if_none_match_len, v, n);
    if (same_token(name, name_len, "if-modified-since"))
        return view(&out->if_modified_since, &out->if_modified_since_len, v, n);
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

        size_t nm = s->pos;
        while (s->pos < s->end && is_tchar(b[s->pos])) s->pos++;
        if (s->pos >= s->end) return NEED;
        /* No name, whitespace before ':', no ':' at all: all 400. */
        if (s->pos == nm || b[s->pos] != ':') return 400;
        size_t nm_len = s->pos - nm;
        s->pos++;

        while (s->pos < s->end && is_ows(b[s->pos])) s->pos++;
        size_t v = s->pos, v_end = s->pos;
        for (;;) {
            if (s->pos >= s->end) return NEED;
            c = b[s->pos];
            if (c == '\r' || c == '\n') break;
            if (c == 0x7f || (c < 0x20 && c != '\t')) return 400;
            s->pos++;
            if (!is_ows(c)) v_end = s->pos;
        }
        int r = line_end(s);
        if (r != 0) return r;
        f->num_fields++;
        r = field(f, out, b + nm, nm_len, b + v, v_end - v);
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
    if (f->have_te) return 501; /* with Content-Length it was 400 already */
    if (out->method == HTTP_METHOD_POST && !f->have_length) return 411;
    *out_head_len = s.pos;
    return 0;
}

enum http_result http_parse(const uint8_t *buf, size_t len, struct http_request *out) {
    memset(out, 0, sizeof(*out));
    struct fields f;
    memset(&f, 0, sizeof(f));
    size_t head_len = 0;
    int r = head(buf, len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD, out, &f, &head_len);
    if (r == NEED) {
        if (len < HTTP_MAX_HEAD) {
            memset(out, 0, sizeof(*out));
            return HTTP_AGAIN;
        }
        r = 431; /* HTTP_MAX_HEAD bytes and no end of head */
    }
    if (r != 0) {
        memset(out, 0, sizeof(*out));
        out->error_status = r;
        return HTTP_ERROR;
    }

    /* A body is taken with any method that declares one (GET and HEAD too),
     * so that the next pipelined request starts where it should. */
    size_t body_len = f.have_length ? f.length : 0;
    if (len - head_len < body_len) {
        memset(out, 0, sizeof(*out));
        return HTTP_AGAIN;
    }
    out->body = body_len > 0 ? buf + head_len : NULL;
    out->body_len = body_len;
    out->consumed = head_len + body_len;
    out->keep_alive = out->minor_version == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;
    return HTTP_DONE;
}
