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
out = talk(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n")
assert out.startswith(b"HTTP/1.1 431"), out[:40]
# Chunked upload: refused.
out = talk(b"POST /ocsp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
assert out.startswith(b"HTTP/1.1 501"), out[:40]
PY
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -3 "$T/serve.log")"
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
