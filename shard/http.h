/* http: the shards' HTTP/1.x request framing, restartable (nginx-style):
 * fed the bytes received so far, it says AGAIN (need more), ERROR (answer
 * 400 or the status it names, then close) or DONE with a request whose
 * fields are views into the caller's buffer (picohttpparser-style; no
 * allocation, no copy). Pipelined requests: after DONE, the caller drops
 * `consumed` bytes and parses again.
 *
 * Accepted: request line `METHOD SP request-target SP HTTP/1.x` CRLF (a
 * bare LF is accepted as a line end in the head, as nginx does; HTTP/1.x
 * with x > 1 is processed as HTTP/1.1, RFC 9112 2.3); the request-target in
 * origin-form, or in absolute-form (`http://host:port/path`, RFC 9112
 * 3.2.2: the path is the target, the authority the host, RFC 9112 7.2);
 * header fields `name: value`; a body with Content-Length, or with
 * `Transfer-Encoding: chunked` (RFC 9112 7.1: chunk extensions and trailer
 * fields parsed and dropped; CRLF only inside a chunked body, a bare LF
 * there is an error, so a front end that reads it otherwise cannot smuggle
 * a request past us). Methods GET, HEAD and POST; the other methods RFC
 * 9110 defines (and PATCH) parse and are reported as HTTP_METHOD_OTHER (the
 * caller answers 405 with Allow), any other token as HTTP_METHOD_UNKNOWN
 * (the caller answers 501, RFC 9110 9.1).
 *
 * Caps (STYLE: everything an attacker controls has a named cap):
 * HTTP_MAX_REQUEST a request's head and framed body together (it is the
 * connections' input buffer: no request needs more); HTTP_MAX_HEAD the head
 * alone (the same: a GET has no body); HTTP_MAX_TARGET the request-target;
 * HTTP_MAX_BODY a body's content (Content-Length, or the chunks' data
 * together); HTTP_MAX_HEADERS fields; HTTP_MAX_CHUNK_DIGITS a chunk-size's
 * hex digits; HTTP_MAX_TRAILER a chunked body's trailer section.
 *
 * Pure; any thread; a shard calls it on the request path. */
#ifndef REVD_SHARD_HTTP_H
#define REVD_SHARD_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* 12 KiB: the connection buffer it was before (8 KiB head + 4 KiB body),
 * now shared, so that a GET can carry an 8 KiB target (RFC 9110 4.1
 * recommends at least 8,000 octets of request-line) at no cost in memory. */
#define HTTP_MAX_REQUEST 12288
#define HTTP_MAX_HEAD HTTP_MAX_REQUEST
#define HTTP_MAX_TARGET 8192
#define HTTP_MAX_BODY 4096
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_CHUNK_DIGITS 8
#define HTTP_MAX_TRAILER 1024

enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_OTHER,   /* PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH: 405 */
    HTTP_METHOD_UNKNOWN, /* any other method token: 501 */
};

enum http_result { HTTP_AGAIN, HTTP_DONE, HTTP_ERROR };

struct http_request {
    enum http_method method;
    const char *target; /* the request-target's path and query (origin-form,
                           or the path of an absolute-form target), a view;
                           the static string "/" for an absolute-form
                           target with an empty path */
    size_t target_len;
    const char *host;   /* the authority of an absolute-form target, else
                           the Host field's value, a view; NULL when neither */
    size_t host_len;
    int minor_version;  /* 0, or 1 (also for HTTP/1.2 and later 1.x) */
    int keep_alive;     /* HTTP/1.1 unless "Connection: close"; HTTP/1.0 only
                           with "Connection: keep-alive" */
    int expect_continue; /* "Expect: 100-continue" in an HTTP/1.1 request */
    const char *content_type; /* a view, NULL when absent */
    size_t content_type_len;
    const char *if_none_match; /* a view, NULL when absent */
    size_t if_none_match_len;
    const char *if_modified_since; /* a view, NULL when absent */
    size_t if_modified_since_len;
    const uint8_t *body; /* a view; NULL when no body, and for a chunked body
                            until http_chunked_decode has made it one */
    size_t body_len;
    const uint8_t *chunked; /* a chunked body as framed (chunks, trailers,
                               the last CRLF), a view; NULL when not chunked */
    size_t chunked_len;
    size_t head_len; /* the head's bytes (request line and fields) */
    size_t consumed; /* bytes of the buffer this request used (head + body) */
    int error_status; /* with HTTP_ERROR: 400, 411, 413, 414, 431, 501 or 505 */
};

/* http_parse looks at buf[0..len) (all bytes received on the connection
 * that are not yet consumed) and fills *out. It never reads past len. It
 * returns AGAIN while the head or the body is incomplete and within the caps
 * (the caller reads more and calls again with the longer buffer), DONE for a
 * complete request, ERROR (with out->error_status) for anything malformed
 * or over a cap, as early as it can tell (a request over HTTP_MAX_REQUEST
 * is an error as soon as HTTP_MAX_REQUEST bytes hold no end of it). Header
 * names are case-insensitive; duplicate Content-Length, a Content-Length
 * that is not a plain decimal number, Content-Length with
 * Transfer-Encoding, a Transfer-Encoding whose last coding is not chunked
 * or in HTTP/1.0, a header line without ':', whitespace before ':',
 * obsolete line folding, control characters in the target or in values,
 * and a missing Host in HTTP/1.1 (RFC 9112 3.2) are errors (400).
 *
 * With AGAIN, out->head_len is non-zero when the head is complete and
 * accepted and only body bytes are missing: the head's fields are then
 * filled in too (method, target, expect_continue...), so that the caller
 * can answer "100 Continue", or a final status at once (RFC 9110 10.1.1).
 * Otherwise an AGAIN leaves *out zeroed. */
enum http_result http_parse(const uint8_t *buf, size_t len, struct http_request *out);

/* http_chunked_decode writes the data of the chunked body chunked[0..len)
 * (as http_parse framed and checked it: out->chunked, out->chunked_len)
 * into out, which may be chunked itself (the data moves only toward the
 * start: decoding in place in the connection's buffer is the intended use).
 * Returns the data's length (at most HTTP_MAX_BODY). It stops at the first
 * byte that is not as http_parse checked, never reading past len nor
 * writing past the data. Any thread. */
size_t http_chunked_decode(const uint8_t *chunked, size_t len, uint8_t *out);

#endif
