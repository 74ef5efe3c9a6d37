/* http: the shards' HTTP/1.x request framing, restartable (nginx-style):
 * fed the bytes received so far, it says AGAIN (need more), ERROR (answer
 * 400 or the status it names, then close) or DONE with a request whose
 * fields are views into the caller's buffer (picohttpparser-style; no
 * allocation, no copy). Pipelined requests: after DONE, the caller drops
 * `consumed` bytes and parses again.
 *
 * Accepted: request line `METHOD SP request-target SP HTTP/1.0|HTTP/1.1`
 * CRLF (a bare LF is accepted as a line end, as nginx does); header fields
 * `name: value`; a body only with Content-Length (no Transfer-Encoding:
 * chunked requests are refused with 411/501, as an OCSP responder needs no
 * chunked uploads). Methods GET, HEAD and POST; others parse and are
 * reported as HTTP_METHOD_OTHER (the caller answers 405).
 *
 * Caps (STYLE: everything an attacker controls has a named cap):
 * HTTP_MAX_HEAD request line and headers together; HTTP_MAX_TARGET the
 * request-target; HTTP_MAX_BODY a POST body; HTTP_MAX_HEADERS fields.
 *
 * Pure; any thread; a shard calls it on the request path. */
#ifndef REVD_SHARD_HTTP_H
#define REVD_SHARD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192
#define HTTP_MAX_TARGET 1024
#define HTTP_MAX_BODY 4096
#define HTTP_MAX_HEADERS 64

enum http_method { HTTP_METHOD_GET, HTTP_METHOD_HEAD, HTTP_METHOD_POST, HTTP_METHOD_OTHER };

enum http_result { HTTP_AGAIN, HTTP_DONE, HTTP_ERROR };

struct http_request {
    enum http_method method;
    const char *target; /* the request-target as sent (origin-form), a view */
    size_t target_len;
    int minor_version;  /* 0 or 1 */
    int keep_alive;     /* HTTP/1.1 unless "Connection: close"; HTTP/1.0 only
                           with "Connection: keep-alive" */
    const char *content_type; /* a view, NULL when absent */
    size_t content_type_len;
    const char *if_none_match; /* a view, NULL when absent */
    size_t if_none_match_len;
    const char *if_modified_since; /* a view, NULL when absent */
    size_t if_modified_since_len;
    const uint8_t *body; /* a view; NULL when no body */
    size_t body_len;
    size_t consumed; /* bytes of the buffer this request used (head + body) */
    int error_status; /* with HTTP_ERROR: 400, 405, 411, 413, 414, 431, 501 or 505 */
};

/* http_parse looks at buf[0..len) (all bytes received on the connection
 * that are not yet consumed) and fills *out. It never reads past len. It
 * returns AGAIN while the head or the body is incomplete and within the caps
 * (the caller reads more and calls again with the longer buffer), DONE for a
 * complete request, ERROR (with out->error_status) for anything malformed
 * or over a cap, as early as it can tell (a head over HTTP_MAX_HEAD is an
 * error as soon as HTTP_MAX_HEAD bytes hold no end of head). Header names
 * are case-insensitive; duplicate Content-Length, a Content-Length that is
 * not a plain decimal number, Content-Length with Transfer-Encoding, a
 * header line without ':', whitespace before ':', obsolete line folding,
 * control characters in the target or in values, and a missing Host in
 * HTTP/1.1 (RFC 9112 3.2) are errors (400). */
enum http_result http_parse(const uint8_t *buf, size_t len, struct http_request *out);

#endif
