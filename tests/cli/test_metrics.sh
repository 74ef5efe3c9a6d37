#!/bin/bash
# GET /metrics: every series read back by Prometheus' own text parser
# (python3-prometheus-client), with exact counts after a known mix of
# requests spread over two shards (so the sums cover both): OCSP GET and
# POST by CertID hash and nonce, the signing lane, responseStatus,
# malformed DER, a bad GET path, an unknown issuer, a never-issued serial,
# CRL 200 and 304, 404, 405, an oversized head, broken framing; histograms
# consistent; a revocation through the socket shows in the
# revocation-to-OCSP and revocation-to-CRL histograms; the shards' loop
# turns (revd_shard_loop_stall_seconds and its maximum); --no-metrics.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
"$PY" -c 'import prometheus_client.parser' 2>/dev/null || skip "python3-prometheus-client is not installed"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca root --csr "$T/ee.csr"
issue_to "$T/rev.pem" --dir "$D" --ca root --csr "$T/ee.csr"
# An issuer revd does not serve.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger -keyout "$T/s.key" \
    -out "$T/stranger.pem" -days 2 2>/dev/null || fail "openssl req -x509"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --crl-coalesce 0ms

req() { # OUT openssl-ocsp-args...
    local out=$1; shift
    openssl ocsp "$@" -reqout "$out" >/dev/null 2>&1 || fail "openssl ocsp -reqout $*"
}
req "$T/q1.der" -issuer "$D/ca/root.pem" -cert "$T/good.pem" -no_nonce
req "$T/q256n.der" -issuer "$D/ca/root.pem" -sha256 -cert "$T/good.pem"
req "$T/q384.der" -issuer "$D/ca/root.pem" -sha384 -cert "$T/good.pem" -no_nonce
req "$T/qstranger.der" -issuer "$T/stranger.pem" -serial 0x01 -no_nonce
req "$T/qunknown.der" -issuer "$D/ca/root.pem" -serial 0x0BADC0DE -no_nonce
CRL=$(revd crl list --dir "$D" --ca root | awk '$1 == "0" {print $2}')
CRLPATH=/${CRL#http*://*/}

step "a known mix of requests, each on its own connection"
"$PY" - "$PORT" "$T" "$CRLPATH" <<'PY' || fail "sending the mix"
import base64, http.client, socket, sys
port, t, crlpath = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def call(method, path, body=None, headers={}):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, r.getheader("ETag"), data
def post(name):
    return call("POST", "/ocsp", open("%s/%s" % (t, name), "rb").read(), {"Content-Type": "application/ocsp-request"})
get1 = base64.urlsafe_b64encode(open(t + "/q1.der", "rb").read()).decode().rstrip("=")
for _ in range(3): assert call("GET", "/ocsp/" + get1)[0] == 200
for _ in range(2): assert post("q256n.der")[0] == 200
assert post("q384.der")[0] == 200                          # the signing lane
assert call("POST", "/ocsp", b"not DER at all")[0] == 200  # malformedRequest
assert call("GET", "/ocsp/%%%%")[0] == 200                  # a bad GET path: malformedRequest
assert post("qstranger.der")[0] == 200                     # unauthorized: unknown issuer
assert post("qunknown.der")[0] == 200                      # unauthorized: never issued
st, etag, _ = call("GET", crlpath); assert st == 200 and etag
assert call("GET", crlpath, headers={"If-None-Match": etag})[0] == 304
assert call("GET", "/nope")[0] == 404
assert call("DELETE", "/ocsp")[0] == 405
def raw(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data); got = s.recv(200); s.close()
    return got.split(b" ")[1]
assert raw(b"GET /ocsp HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n") == b"431"
assert raw(b"NOT HTTP AT ALL\r\n\r\n") == b"400"
PY

# metrics FILE: GET /metrics into FILE.
metrics() { curl -sf "$URL/metrics" -o "$1" || fail "GET /metrics"; }
# check FILE: python assertions on stdin run against the parsed families
# (v(name, **labels) is one sample's value, h(name) a histogram's buckets).
check() {
    cat >"$T/check.py" <<PY
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def v(name, **labels):
    for f in fams.values():
        for s in f.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise AssertionError("no sample %s%s" % (name, labels))
def h(name):
    f = fams[name]
    assert f.type == "histogram", (name, f.type)
    b = [(s.labels["le"], s.value) for s in f.samples if s.name == name + "_bucket"]
    assert b[-1][0] == "+Inf"
    assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), b
    assert b[-1][1] == v(name + "_count"), (name, b[-1], v(name + "_count"))
    return b
$(cat)
PY
    "$PY" "$T/check.py" "$1" || fail "metrics check (see above)"
}

step "every series parses, with the counts of the mix"
metrics "$T/m1"
check "$T/m1" <<'PY'
for n in ("revd_http_requests", "revd_ocsp_requests", "revd_ocsp_responses", "revd_hostile_input",
          "revd_connections_accepted", "revd_crl_builds"):
    assert fams[n].type == "counter", n
assert v("revd_shards") == 2
exp = {("ocsp_get", "200"): 4, ("ocsp_post", "200"): 6, ("crl", "200"): 1, ("crl", "304"): 1,
       ("other", "404"): 1, ("other", "405"): 1, ("other", "431"): 1, ("other", "400"): 1}
for (k, c), n in exp.items():
    got = v("revd_http_requests_total", kind=k, code=c)
    assert got == n, ("requests", k, c, got, n)
assert v("revd_ocsp_requests_total", hash="sha1", nonce="no") == 5  # 3 GETs, the stranger, the never-issued
assert v("revd_ocsp_requests_total", hash="sha256", nonce="yes") == 2
assert v("revd_ocsp_requests_total", hash="sha384", nonce="no") == 1
assert v("revd_ocsp_requests_total", hash="sha1", nonce="yes") == 0
assert v("revd_ocsp_responses_total", status="successful") == 6
assert v("revd_ocsp_responses_total", status="malformedRequest") == 2
assert v("revd_ocsp_responses_total", status="unauthorized") == 2
for w, n in (("bad_der", 2), ("unknown_issuer", 1), ("unknown_serial", 1), ("oversized", 1), ("bad_http", 1),
             ("read_timeout", 0), ("conn_refused", 0)):
    assert v("revd_hostile_input_total", what=w) == n, (w, v("revd_hostile_input_total", what=w))
assert v("revd_connections_accepted_total") >= 17
assert v("revd_connections_open") >= 1
lat = h("revd_response_latency_seconds")
assert lat[-1][1] == 14, lat      # every request answered (the two refused heads are not)
age = h("revd_ocsp_response_age_seconds")
assert age[-1][1] == 6, age       # each successful response
assert v("revd_ocsp_response_age_seconds_sum") < 600
assert v("revd_ocsp_certificates") == 3, v("revd_ocsp_certificates")  # the two issued and the responder
assert v("revd_crl_builds_total") >= 2
h("revd_crl_build_seconds")
assert v("revd_revocation_to_ocsp_seconds_count") == 0
# The shards' loops: every turn timed (each shard turns at least on its
# ticks); the longest is one of the turns, so at least their mean, at most
# their sum, and positive (a turn takes time).
assert fams["revd_shard_loop_stall_max_seconds"].type == "gauge"
stall = h("revd_shard_loop_stall_seconds")
n, total, mx = stall[-1][1], v("revd_shard_loop_stall_seconds_sum"), v("revd_shard_loop_stall_max_seconds")
assert n >= 2, stall
assert 0 < mx <= total + 1e-9 and mx >= total / n - 1e-9, (mx, total, n)
assert mx < 10, mx
PY

step "a revocation through the socket: counted from command to OCSP and to CRL"
run_ok revd revoke --dir "$D" --ca root --serial "$(serial_of "$T/rev.pem")"
for _ in $(seq 50); do
    metrics "$T/m2"
    grep -q '^revd_revocation_to_crl_seconds_count 1' "$T/m2" && break
    sleep 0.1
done
check "$T/m2" <<'PY'
assert v("revd_revocation_to_ocsp_seconds_count") == 1
assert v("revd_revocation_to_ocsp_seconds_sum") < 10
assert v("revd_revocation_to_crl_seconds_count") == 1
assert v("revd_revocation_to_crl_seconds_sum") < 10
assert v("revd_publications_total") >= 2
assert v("revd_signing_queue_depth") == 0
assert v("revd_http_requests_total", kind="metrics", code="200") >= 1
PY
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null

step "--no-metrics"
serve_bg "$T/serve2.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --no-metrics
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
assert_eq "$code" 404 "GET /metrics under --no-metrics"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null

step "--metrics-allow: /metrics only to the prefixes listed (by default loopback)"
for bad in 10.0.0.1/8 300.1.2.3 ::1/129 "10.0.0.0/8,,::1" 10.0.0.0/08 nonsense; do
    run_fail 2 revd serve --dir "$D" --listen "127.0.0.1:$PORT" --metrics-allow "$bad"
    assert_contains "$ERR" "metrics-allow"
done
serve_bg "$T/serve3.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 \
    --metrics-allow "10.0.0.0/8, 2001:db8::/32"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" 404 "GET /metrics from 127.0.0.1, not listed"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" 200 "GET /healthz beside it"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
serve_bg "$T/serve4.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --metrics-allow 127.0.0.1
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" 200 "GET /metrics from 127.0.0.1, listed alone"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
if "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then # IPv6 loopback here
    serve_bg "$T/serve5.log" --dir "$D" --listen "[::1]:$PORT" "${IO_ARGS[@]}" --threads 1 --metrics-allow 127.0.0.0/8
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/metrics")" 404 "GET /metrics from ::1, not listed"
    kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
    serve_bg "$T/serve6.log" --dir "$D" --listen "[::1]:$PORT" "${IO_ARGS[@]}" --threads 1
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/metrics")" 200 "GET /metrics from ::1 by default"
    kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
fi
pass
