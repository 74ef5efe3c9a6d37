# dist/varnish/revd-edge.vcl: Varnish (7.x, VCL 4.1) in front of two revd
# edges of one site (docs/edge.md).
#
# - Two backends in a round-robin director. Each is probed on GET /healthz,
#   which an edge fails when the primary's heartbeat is too old or its store
#   is not ready: a failing edge is drained within about two probe intervals
#   and comes back on its own when it answers again.
# - OCSP GET (/ocsp/{request}), CRLs (/crl/...) and CA certificates
#   (/ca/NAME.der) are cached for as long as revd's Cache-Control max-age
#   says (revd caps it at the response's nextUpdate and at its next
#   refresh). Varnish answers a client's If-None-Match from the cached ETag,
#   and revalidates an expired object with the backend by If-None-Match
#   (beresp.keep), which revd answers 304.
# - POST /ocsp (the request is in the body) and everything else pass to an
#   edge uncached; /healthz and /metrics are never cached.
# - An edge answering 5xx or not at all: the request is retried once, on the
#   other edge. With both edges sick, a cached answer is served up to an hour
#   past its max-age (grace): an OCSP response or CRL stays valid until its
#   nextUpdate, which revd puts days ahead. With an edge healthy, grace is
#   10 s, so a revocation is seen no later than max-age + 10 s.
#
# Check:  varnishd -C -f dist/varnish/revd-edge.vcl >/dev/null
# Edit the two backends' .host/.port for a real site (here: the demo's
# edges, 127.0.0.1:8081 and 127.0.0.1:8082).
vcl 4.1;

import directors;
import std;

probe revd_healthz {
    .request = "GET /healthz HTTP/1.1"
               "Host: revd-edge"
               "Connection: close";
    .expected_response = 200;
    .interval = 2s;
    .timeout = 1s;
    .window = 3;
    .threshold = 2;
    .initial = 1;
}

backend edge1 {
    .host = "127.0.0.1";
    .port = "8081";
    .probe = revd_healthz;
    .connect_timeout = 1s;
    .first_byte_timeout = 5s;
    .between_bytes_timeout = 5s;
}

backend edge2 {
    .host = "127.0.0.1";
    .port = "8082";
    .probe = revd_healthz;
    .connect_timeout = 1s;
    .first_byte_timeout = 5s;
    .between_bytes_timeout = 5s;
}

sub vcl_init {
    new edges = directors.round_robin();
    edges.add_backend(edge1);
    edges.add_backend(edge2);
}

sub vcl_recv {
    set req.backend_hint = edges.backend();
    # Never cached: each edge's own health and counters.
    if (req.url ~ "^/(healthz|metrics)(\?|$)") {
        return (pass);
    }
    # OCSP POST: the request is in the body; pass it (and its body) through.
    if (req.method == "POST") {
        return (pass);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    if (req.url ~ "^/(ocsp|crl|ca)/") {
        # Nothing of the client's changes the answer.
        unset req.http.Cookie;
        unset req.http.Authorization;
        if (std.healthy(req.backend_hint)) {
            set req.grace = 10s;
        }
        return (hash);
    }
    return (pass);
}

sub vcl_backend_fetch {
    # A retry goes to the director again: round-robin gives the other edge.
    set bereq.backend = edges.backend();
}

sub vcl_backend_response {
    if (beresp.status >= 500 && bereq.retries < 1) {
        return (retry);
    }
    # revd's answers for a request it could not sign (the lane's tryLater,
    # max-age=0, no-cache) and errors: not cached, so the next one asks again.
    if (beresp.status != 200 && beresp.status != 304) {
        set beresp.ttl = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # beresp.ttl comes from revd's Cache-Control max-age (built-in rules).
    set beresp.grace = 1h;
    set beresp.keep = 1d;
    return (deliver);
}

sub vcl_backend_error {
    if (bereq.retries < 1) {
        return (retry);
    }
}
