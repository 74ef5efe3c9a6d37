#!/bin/bash
# revd serve --listen: OCSP over HTTP from precomputed responses, checked
# with openssl ocsp (POST, SHA-1 and SHA-256 CertIDs, with and without a
# nonce) and curl (GET in several spellings, byte-identical to POST, the
# RFC 5019 caching headers, ETag and 304, HEAD, errors), a revocation through
# the socket visible to the next query, pipelining, and hostile bytes.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/rev.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/later.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/rev.pem")" --reason keyCompromise
cat "$D/ca/sub.pem" "$D/ca/root.pem" > "$T/chain.pem"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
for _ in $(seq 300); do grep -q '^revd: serving' "$T/serve.log" && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
grep -q '^revd: serving' "$T/serve.log" || fail "revd serve did not start: $(cat "$T/serve.log")"
case "${REVD_IO:-}" in
uring) assert_contains "$(cat "$T/serve.log")" "2 shards, io_uring)" "the event loop asked for" ;;
libevent) assert_contains "$(cat "$T/serve.log")" "2 shards, libevent)" "the event loop asked for" ;;
esac

ocsp() { # CERT [openssl ocsp options...]
    local cert=$1; shift
    openssl ocsp -issuer "$D/ca/sub.pem" "$@" -cert "$cert" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1
}

step "POST: good and revoked, SHA-1 and SHA-256, with and without a nonce"
for opts in "" "-sha256" "-no_nonce"; do
    o=$(ocsp "$T/good.pem" $opts); assert_contains "$o" "Response verify OK"; assert_line "$o" "$T/good.pem: good"
    o=$(ocsp "$T/rev.pem" $opts); assert_contains "$o" "Response verify OK"; assert_line "$o" "$T/rev.pem: revoked"
    assert_contains "$o" "Reason: keyCompromise"
done

step "a never-issued serial and an unknown issuer: unauthorized"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "unauthorized (6)"
o=$(openssl ocsp -issuer "$D/ca/root.pem" -cert "$T/good.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "unauthorized (6)"

step "GET: every spelling answers the bytes POST answers"
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -no_nonce -reqout "$T/req.der" >/dev/null 2>&1
curl -s --data-binary @"$T/req.der" -H 'Content-Type: application/ocsp-request' "$URL/ocsp" -o "$T/post.der"
b64=$(base64 -w0 < "$T/req.der")
enc=$(printf '%s' "$b64" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
url64=$(printf '%s' "$b64" | tr '+/' '-_' | tr -d '=')
for path in "$enc" "$url64" "/$enc"; do
    curl -s "$URL/ocsp/$path" -o "$T/get.der"
    cmp -s "$T/post.der" "$T/get.der" || fail "GET /ocsp/$path did not answer what POST answered"
done
o=$(openssl ocsp -respin "$T/get.der" -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -CAfile "$T/chain.pem" 2>&1)
assert_line "$o" "$T/good.pem: good"

step "caching headers, ETag and 304, HEAD"
h=$(curl -s -D - -o /dev/null "$URL/ocsp/$enc" | tr -d '\r')
assert_contains "$h" "Content-Type: application/ocsp-response"
assert_contains "$h" "Cache-Control: max-age=3600, public, no-transform, must-revalidate"
etag=$(printf '%s\n' "$h" | sed -n 's/^ETag: //p')
want="\"$(sha256sum "$T/get.der" | cut -d' ' -f1)\""
assert_eq "$etag" "$want" "ETag is the SHA-256 of the response"
printf '%s\n' "$h" | grep -q '^Last-Modified: ' || fail "no Last-Modified"
printf '%s\n' "$h" | grep -q '^Expires: ' || fail "no Expires"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/ocsp/$enc")
assert_eq "$code" 304 "If-None-Match with the ETag"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$URL/ocsp/$enc")
assert_eq "$code" 200 "If-None-Match with another ETag"
hl=$(curl -s -I "$URL/ocsp/$enc" | tr -d '\r' | sed -n 's/^Content-Length: //p')
assert_eq "$hl" "$(stat -c %s "$T/get.der")" "HEAD's Content-Length"

step "a revocation through the socket is what the next query answers"
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/later.pem" -no_nonce -reqout "$T/later-req.der" >/dev/null 2>&1
later_enc=$(base64 -w0 < "$T/later-req.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
curl -s "$URL/ocsp/$later_enc" -o "$T/later-before.der"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/later.pem")" --reason superseded
# Only the revoked certificate's responses are re-signed: another
# certificate's answer is byte for byte the one before.
curl -s "$URL/ocsp/$enc" -o "$T/good-after.der"
cmp -s "$T/get.der" "$T/good-after.der" || fail "an unrelated response was re-signed by a revocation"
curl -s "$URL/ocsp/$later_enc" -o "$T/later-after.der"
cmp -s "$T/later-before.der" "$T/later-after.der" && fail "the revoked certificate's response did not change"
o=$(ocsp "$T/later.pem")
assert_line "$o" "$T/later.pem: revoked"
assert_contains "$o" "Reason: superseded"
issue_to "$T/new.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
o=$(ocsp "$T/new.pem"); assert_line "$o" "$T/new.pem: good"
o=$(ocsp "$T/later.pem"); assert_line "$o" "$T/later.pem: revoked"
# A hold and its release, both through the overlay.
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/new.pem")" --reason certificateHold
o=$(ocsp "$T/new.pem"); assert_line "$o" "$T/new.pem: revoked"; assert_contains "$o" "Reason: certificateHold"
run_ok revd unhold --dir "$D" --ca sub --serial "$(serial_of "$T/new.pem")"
o=$(ocsp "$T/new.pem"); assert_line "$o" "$T/new.pem: good"
# A new CA re-publishes everything, and its certificates are answered.
run_ok revd ca create-sub --dir "$D" --name sub2 --parent root --subject /CN=sub2
issue_to "$T/s2.pem" --dir "$D" --ca sub2 --csr "$T/ee.csr"
cat "$D/ca/sub2.pem" "$D/ca/root.pem" > "$T/chain2.pem"
o=$(openssl ocsp -issuer "$D/ca/sub2.pem" -cert "$T/s2.pem" -url "$URL/ocsp" -CAfile "$T/chain2.pem" 2>&1)
assert_line "$o" "$T/s2.pem: good"
o=$(ocsp "$T/later.pem"); assert_line "$o" "$T/later.pem: revoked"

step "other routes"
assert_eq "$(curl -s "$URL/healthz")" "ok" "/healthz"
curl -s "$URL/ca/sub.der" -o "$T/sub.der"
openssl x509 -inform DER -in "$T/sub.der" -noout -subject | grep -q 'CN *= *sub' || fail "/ca/sub.der is not the CA certificate"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/ca/nope.der")" 404 "unknown CA certificate"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing")" 404 "unknown path"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/ocsp")" 405 "DELETE"

step "malformed requests: malformedRequest, and the server lives on"
printf 'garbage' > "$T/bad.der"
curl -s --data-binary @"$T/bad.der" "$URL/ocsp" -o "$T/bad-resp.der"
openssl ocsp -respin "$T/bad-resp.der" -resp_text -noverify 2>&1 | grep -q 'malformedrequest\|malformedRequest (1)' ||
    fail "garbage did not get malformedRequest: $(openssl ocsp -respin "$T/bad-resp.der" -resp_text -noverify 2>&1 | head -2)"
curl -s "$URL/ocsp/%zz" -o "$T/bad-get.der"
cmp -s "$T/bad-resp.der" "$T/bad-get.der" || fail "a bad GET path did not get malformedRequest"
for f in ../shared/corpora/gnutls/gnutls_ocsp_req_parser_fuzzer.in/*; do
    [ -f "$f" ] && curl -s -m 5 --data-binary @"$f" "$URL/ocsp" -o /dev/null
done
/usr/bin/python3 - "$PORT" <<'PY' || fail "raw-socket checks failed"
import socket, sys
port = int(sys.argv[1])
def talk(data, expect_close=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            out += b
            if not expect_close and out.count(b"HTTP/1.1 ") >= 2 and out.endswith(b"ok\n"): break
    except socket.timeout:
        pass
    s.close()
    return out
# Pipelined: two requests in one write, two answers in order.
out = talk(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert out.count(b"HTTP/1.1 200 OK") == 2, out
# Oversized head: 431, and the connection is closed.
out = talk(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 13000 + b"\r\n\r\n")
assert out.startswith(b"HTTP/1.1 431"), out[:40]
PY
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -3 "$T/serve.log")"

step "HTTP conformance (RFC 9110, 9112): chunked, 100-continue, Allow, 501, 412, If-Modified-Since, absolute-form, HTTP/1.2, graceful 414/431"
/usr/bin/python3 - "$PORT" "$T/req.der" "$T/post.der" "$enc" <<'PY' || fail "HTTP conformance checks failed"
import socket, sys, time
port, req, want, enc = int(sys.argv[1]), open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read(), sys.argv[4]
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=5)
def read_answer(s, buf=b""):
    """One answer (head, and body by Content-Length) from s; returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b: raise AssertionError("closed before a head: %r" % buf[:200])
        buf += b
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.lower(): v for k, _, v in (l.partition(": ") for l in lines[1:])}
    n = int(hdrs.get("content-length", "0")) if status not in (100, 304) else 0
    while len(buf) < n:
        b = s.recv(65536)
        if not b: raise AssertionError("closed in a body")
        buf += b
    return status, hdrs, buf[:n], buf[n:], lines[0]
def ask(data):
    s = conn(); s.sendall(data)
    r = read_answer(s); s.close(); return r
def closed_cleanly(s):
    """Reads to the end: True at a FIN, False at a reset."""
    try:
        while s.recv(65536): pass
        return True
    except ConnectionResetError:
        return False

# 1. Chunked POST (RFC 9112 7.1): the same answer as with Content-Length.
body = b""
for i in range(0, len(req), 10):
    part = req[i:i + 10]
    body += b"%x;i=%d\r\n" % (len(part), i) + part + b"\r\n"
body += b"0\r\nX-Trailer: yes\r\n\r\n"
st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n" + body)
assert st == 200 and b == want, (st, b[:40])
# ... pipelined behind another request on one connection
s = conn()
s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body +
          b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
st, h, b, rest, _ = read_answer(s)
assert st == 200 and b == want, st
st, h, b, rest, _ = read_answer(s, rest)
assert st == 200 and b == b"ok\n", (st, b)
s.close()
# ... over the body cap: 413 at the chunk size, before the data
st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1001\r\n")
assert st == 413, st
# ... a bare LF in the framing: 400
st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n")
assert st == 400, st

# 2. Expect: 100-continue: "100 Continue" before the body, then the answer.
s = conn()
t0 = time.monotonic()
s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(req))
st, h, b, rest, line = read_answer(s)
assert st == 100 and line == "HTTP/1.1 100 Continue" and time.monotonic() - t0 < 0.5, (line, time.monotonic() - t0)
s.sendall(req)
st, h, b, rest, _ = read_answer(s, rest)
assert st == 200 and b == want, st
s.close()
# ... chunked too
s = conn()
s.sendall(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
st, h, b, rest, _ = read_answer(s)
assert st == 100, st
s.sendall(body)
st, h, b, rest, _ = read_answer(s, rest)
assert st == 200 and b == want, st
s.close()
# ... refused at once, without the body: over the cap (413), a resource
# that takes no POST (405), an unknown method (501); then a clean close
for head, code in ((b"POST /ocsp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n", 413),
                   (b"POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 405),
                   (b"BREW /ocsp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 501)):
    s = conn()
    t0 = time.monotonic()
    s.sendall(head)
    st, h, b, rest, _ = read_answer(s)
    assert st == code and time.monotonic() - t0 < 0.5, (head, st, time.monotonic() - t0)
    assert h.get("connection") == "close", h
    s.sendall(b"x" * 5)
    assert closed_cleanly(s), "reset after an early %d" % code
    s.close()

# 3. 405 with Allow (RFC 9110 15.5.6); an unknown method: 501 (9.1).
for data, allow in ((b"DELETE /ocsp HTTP/1.1\r\nHost: x\r\n\r\n", "POST"),
                    (b"GET /ocsp HTTP/1.1\r\nHost: x\r\n\r\n", "POST"),
                    (b"PUT /ocsp/" + enc.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "GET, HEAD"),
                    (b"POST /crl/x.crl HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "GET, HEAD"),
                    (b"OPTIONS /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET, HEAD")):
    st, h, b, rest, _ = ask(data)
    assert st == 405 and h.get("allow") == allow, (data, st, h)
for m in (b"BREW", b"PROPFIND", b"get"):
    st, h, b, rest, _ = ask(m + b" /ocsp HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 501, (m, st)

# 4. POST with a matching If-None-Match: 412, not 304 (RFC 9110 13.1.2).
st, h, b, rest, _ = ask(b"GET /ocsp/" + enc.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
assert st == 200 and b == want
etag, lm = h["etag"].encode(), h["last-modified"].encode()
for inm in (etag, b"*", b'"other", W/' + etag):
    st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + inm +
                            b"\r\nContent-Length: %d\r\n\r\n" % len(req) + req)
    assert st == 412, (inm, st)
st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"other\"\r\nContent-Length: %d\r\n\r\n" % len(req) + req)
assert st == 200 and b == want, st
# ... and GET still 304
st, h, b, rest, _ = ask(b"GET /ocsp/" + enc.encode() + b" HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + b"\r\n\r\n")
assert st == 304, st

# 5. OCSP GET honours If-Modified-Since (RFC 9110 13.1.3); If-None-Match
# takes precedence (13.2.2); POST ignores it.
get = b"GET /ocsp/" + enc.encode() + b" HTTP/1.1\r\nHost: x\r\n"
st, h, b, rest, _ = ask(get + b"If-Modified-Since: " + lm + b"\r\n\r\n")
assert st == 304 and h.get("etag") == etag.decode(), st
st, h, b, rest, _ = ask(get + b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n")
assert st == 200 and b == want, st
st, h, b, rest, _ = ask(get + b"If-None-Match: \"other\"\r\nIf-Modified-Since: " + lm + b"\r\n\r\n")
assert st == 200, st
st, h, b, rest, _ = ask(b"HEAD /ocsp/" + enc.encode() + b" HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + lm + b"\r\n\r\n")
assert st == 304, st
st, h, b, rest, _ = ask(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " + lm +
                        b"\r\nContent-Length: %d\r\n\r\n" % len(req) + req)
assert st == 200 and b == want, st

# 6. Absolute-form targets (RFC 9112 3.2.2).
st, h, b, rest, _ = ask(b"GET http://127.0.0.1:%d/ocsp/" % port + enc.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
assert st == 200 and b == want, st
st, h, b, rest, _ = ask(b"POST HTTP://ocsp.example/ocsp HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(req) + req)
assert st == 200 and b == want, st
st, h, b, rest, _ = ask(b"GET http://u@h/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
assert st == 400, st

# 7. HTTP/1.2 is processed as 1.1 (RFC 9112 2.3); HTTP/2.0 is 505.
st, h, b, rest, line = ask(b"GET /ocsp/" + enc.encode() + b" HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")
assert st == 200 and line.startswith("HTTP/1.1 ") and b == want, line
st, h, b, rest, _ = ask(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
assert st == 505, st

# 8. Long targets: 8,000 octets are fine (RFC 9110 4.1), past 8 KiB 414;
# a 414 or 431 for more than the server reads is followed by a clean close,
# not a reset (RFC 9112 9.6).
st, h, b, rest, _ = ask(b"GET /ocsp/" + enc.encode() + b"?pad=" + b"p" * 7500 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
assert st == 200 and b == want, st
st, h, b, rest, _ = ask(b"GET /ocsp/" + b"/" * 7000 + enc.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
assert st == 200 and b == want, st
for data, code in ((b"GET /ocsp/" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                   (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431)):
    s = conn()
    s.sendall(data)
    st, h, b, rest, _ = read_answer(s)
    assert st == code, (code, st)
    assert closed_cleanly(s), "%d was followed by a reset" % code
    s.close()
PY
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -3 "$T/serve.log")"
# The same with curl: a chunked upload, Expect: 100-continue answered at
# once (curl would wait up to --expect100-timeout for it), and an
# absolute-form request through curl's proxy setting.
curl -s -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/ocsp-request' --data-binary @"$T/req.der" \
    "$URL/ocsp" -o "$T/chunked.der"
cmp -s "$T/post.der" "$T/chunked.der" || fail "curl's chunked POST did not get what POST gets"
t=$(curl -s -H 'Expect: 100-continue' --expect100-timeout 3 -H 'Content-Type: application/ocsp-request' \
    --data-binary @"$T/req.der" "$URL/ocsp" -o "$T/expect.der" -w '%{time_total}')
cmp -s "$T/post.der" "$T/expect.der" || fail "curl's POST with Expect: 100-continue did not get what POST gets"
awk -v t="$t" 'BEGIN { exit !(t < 1.5) }' || fail "curl waited $t s for 100 Continue"
curl -s -x "$URL" "http://ocsp.example/ocsp/$enc" -o "$T/proxy.der"
cmp -s "$T/post.der" "$T/proxy.der" || fail "an absolute-form GET (curl -x) did not get what POST gets"
o=$(ocsp "$T/good.pem"); assert_line "$o" "$T/good.pem: good"

step "a bulk import through the socket: every table rebuilt, signed on two threads"
"$PY" - "$T/bulk.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 1501):
        if i % 3 == 0: f.write("%X,2031-01-01,revoked,2025-01-02T03:04:05Z,affiliationChanged\n" % (0x5000000 + i))
        else: f.write("%X,2031-01-01,good\n" % (0x5000000 + i))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/bulk.csv"
for serial in 0x5000001 0x5000003 0x50005DB; do
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial "$serial" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
    assert_contains "$o" "Response verify OK"
    case $serial in
    0x5000003) assert_line "$o" "$serial: revoked"; assert_contains "$o" "Reason: affiliationChanged" ;;
    *) assert_line "$o" "$serial: good" ;;
    esac
done
o=$(ocsp "$T/rev.pem"); assert_line "$o" "$T/rev.pem: revoked" "a revoked certificate after the rebuild"

step "a mass revocation (5,000, past the old full-rebuild threshold) is re-signed before revoke returns"
"$PY" - "$T/mass.csv" "$T/mass.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as m:
    for i in range(1, 6001):
        f.write("%X,2031-01-01,good\n" % (0x6000000 + i))
        if i <= 5000: m.write("%X\n" % (0x6000000 + i))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/mass.csv"
run_ok revd revoke --dir "$D" --ca sub --file "$T/mass.txt" --reason cessationOfOperation
assert_contains "$OUT" "revoked 5000 certificates"
for serial in 0x6000001 0x6000800 0x6001388 0x6001389; do
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial "$serial" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
    assert_contains "$o" "Response verify OK"
    case $serial in
    0x6001389) assert_line "$o" "$serial: good" ;; # the 5,001st: not in the list
    *) assert_line "$o" "$serial: revoked"; assert_contains "$o" "Reason: cessationOfOperation" ;;
    esac
done
assert_not_contains "$(cat "$T/serve.log")" "failed"

step "SIGTERM stops it"
kill -TERM "$SRV"
for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "revd serve still runs 5 s after SIGTERM"
wait "$SRV"; assert_eq "$?" 0 "exit status after SIGTERM"

pass
