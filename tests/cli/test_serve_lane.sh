#!/bin/bash
# revd serve's signing lane: what the precomputed tables cannot answer.
# SHA-384 and SHA-512 CertIDs answered (good, revoked, with the request's
# algorithm in the response's CertID), several CertIDs in one request (a
# SingleResponse each, the rule for never-issued serials and mixed issuers), --nonce echo (the nonce comes back,
# checked by openssl ocsp and cryptography), --unknown signed, the rate
# limit (past it: the precomputed answer without the nonce, or tryLater for
# SHA-384/512), --sign-rate 0, and a pipelined connection whose first
# request waits for the lane while the second is answered from a table:
# the answers come back in order.
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
SRV=""
start_server() { # serve options...
    serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 "$@"
}
stop_server() {
    kill -TERM "$SRV"
    wait "$SRV" || fail "revd serve exited $? on SIGTERM: $(cat "$T/serve.log")"
}
ocsp() { # CERT [openssl ocsp options...]
    local cert=$1; shift
    openssl ocsp -issuer "$D/ca/sub.pem" "$@" -cert "$cert" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1
}

step "option refusals"
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --nonce always
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --unknown good
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --sign-rate -1

step "default: SHA-384 and SHA-512 CertIDs answered; a nonce is not echoed; a never-issued serial is unauthorized"
start_server
for h in sha384 sha512; do
    o=$(ocsp "$T/good.pem" -$h -no_nonce); assert_contains "$o" "Response verify OK"; assert_line "$o" "$T/good.pem: good"
    o=$(ocsp "$T/rev.pem" -$h -no_nonce); assert_contains "$o" "Response verify OK"; assert_line "$o" "$T/rev.pem: revoked"
    assert_contains "$o" "Reason: keyCompromise"
done
o=$(ocsp "$T/good.pem")
assert_contains "$o" "WARNING: no nonce in response"
assert_line "$o" "$T/good.pem: good"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "unauthorized"

step "the response's CertID uses the request's hash algorithm (cryptography)"
for h in sha384 sha512; do
    openssl ocsp -issuer "$D/ca/sub.pem" -$h -cert "$T/good.pem" -no_nonce -reqout "$T/q-$h.der" >/dev/null 2>&1 || fail "openssl ocsp -reqout"
    curl -s --data-binary @"$T/q-$h.der" -H 'Content-Type: application/ocsp-request' "$URL/ocsp" -o "$T/r-$h.der"
    "$PY" - "$T/r-$h.der" "$h" "$T/good.pem" <<'PY' || fail "cryptography: the $h response is wrong"
import sys
from cryptography import x509
from cryptography.x509 import ocsp
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status
assert r.hash_algorithm.name == sys.argv[2], r.hash_algorithm.name
cert = x509.load_pem_x509_certificate(open(sys.argv[3], "rb").read())
assert r.serial_number == cert.serial_number
assert r.certificate_status == ocsp.OCSPCertStatus.GOOD
assert r.next_update is not None
PY
done
# A GET of a SHA-384 question works too.
enc=$(base64 -w0 "$T/q-sha384.der" | tr '+/' '-_' | tr -d '=')
curl -s "$URL/ocsp/$enc" -o "$T/get-384.der"
o=$(openssl ocsp -respin "$T/get-384.der" -issuer "$D/ca/sub.pem" -sha384 -cert "$T/good.pem" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/good.pem: good"

step "a revocation through the socket: the lane answers revoked at once"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/later.pem")" --reason superseded
o=$(ocsp "$T/later.pem" -sha512 -no_nonce); assert_line "$o" "$T/later.pem: revoked"
assert_contains "$o" "Reason: superseded"

step "several CertIDs in one request: a SingleResponse each, signed by the lane (RFC 6960 4.2.2.3)"
multi() { openssl ocsp "$@" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1; }
o=$(multi -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -cert "$T/rev.pem")
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/good.pem: good"
assert_line "$o" "$T/rev.pem: revoked"
assert_contains "$o" "Reason: keyCompromise"
# A hash per CertID; the order is the request's.
o=$(multi -issuer "$D/ca/sub.pem" -cert "$T/rev.pem" -sha384 -cert "$T/later.pem" -sha256 -cert "$T/good.pem" -no_nonce)
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/rev.pem: revoked"; assert_line "$o" "$T/later.pem: revoked"; assert_line "$o" "$T/good.pem: good"
# A never-issued serial, first or not, does not withhold the others: it is
# "unknown" beside them.
o=$(multi -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -cert "$T/good.pem")
assert_contains "$o" "Response verify OK"
assert_line "$o" "0x0BADC0DE: unknown"
assert_line "$o" "$T/good.pem: good"
o=$(multi -issuer "$D/ca/sub.pem" -cert "$T/rev.pem" -serial 0x0BADC0DE)
assert_line "$o" "$T/rev.pem: revoked"; assert_line "$o" "0x0BADC0DE: unknown"
# None issued: unauthorized, as one alone is (no way around --unknown
# unauthorized); two issuers: unauthorized (one responder speaks for one CA).
o=$(multi -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -serial 0x0BADC0DF)
assert_contains "$o" "unauthorized"
o=$(multi -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -issuer "$D/ca/root.pem" -cert "$D/ca/sub.pem")
assert_contains "$o" "unauthorized"
# Up to 8 CertIDs (OCSP_JOB_MAX_CERTS); 9: unauthorized.
args=(); for i in 1 2 3 4 5 6 7; do args+=(-cert "$T/good.pem"); done
o=$(multi -issuer "$D/ca/sub.pem" "${args[@]}" -sha512 -cert "$T/rev.pem")
assert_contains "$o" "Response verify OK"
assert_eq "$(printf '%s\n' "$o" | grep -c ": good$")" 7 "good answers among 8"
assert_line "$o" "$T/rev.pem: revoked"
o=$(multi -issuer "$D/ca/sub.pem" "${args[@]}" -cert "$T/rev.pem" -cert "$T/rev.pem")
assert_contains "$o" "unauthorized"
# For this request only: not for caches; and through GET too.
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -cert "$T/rev.pem" -no_nonce -reqout "$T/q2.der" >/dev/null 2>&1
curl -s --data-binary @"$T/q2.der" -H 'Content-Type: application/ocsp-request' "$URL/ocsp" -D "$T/h2.txt" -o "$T/r2.der"
assert_contains "$(tr -d '\r' <"$T/h2.txt")" "Cache-Control: max-age=0, no-cache" "a several-CertID response is not for caches"
enc2=$(base64 -w0 "$T/q2.der" | tr '+/' '-_' | tr -d '=')
curl -s "$URL/ocsp/$enc2" -o "$T/r2-get.der"
o=$(openssl ocsp -respin "$T/r2-get.der" -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -cert "$T/rev.pem" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/good.pem: good"; assert_line "$o" "$T/rev.pem: revoked"
stop_server

step "--nonce echo --unknown signed: the nonce comes back; a never-issued serial is signed unknown"
start_server --nonce echo --unknown signed
for h in sha1 sha256 sha384; do
    o=$(ocsp "$T/good.pem" -$h)
    assert_contains "$o" "Response verify OK"
    assert_not_contains "$o" "WARNING: no nonce"
    assert_line "$o" "$T/good.pem: good"
done
o=$(ocsp "$T/rev.pem"); assert_line "$o" "$T/rev.pem: revoked"; assert_not_contains "$o" "WARNING: no nonce"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_line "$o" "0x0BADC0DE: unknown"
o=$(openssl ocsp -issuer "$D/ca/root.pem" -cert "$T/good.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "unauthorized" "an issuer revd does not serve, even under --unknown signed"
# Several CertIDs, none issued: each "unknown" under --unknown signed; the nonce comes back.
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -serial 0x0BADC0DF -cert "$T/good.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_not_contains "$o" "WARNING: no nonce"
assert_line "$o" "0x0BADC0DE: unknown"; assert_line "$o" "0x0BADC0DF: unknown"; assert_line "$o" "$T/good.pem: good"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -serial 0x0BADC0DF -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_line "$o" "0x0BADC0DE: unknown"; assert_line "$o" "0x0BADC0DF: unknown"
# The nonce echoed is the request's, byte for byte (cryptography).
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -reqout "$T/qn.der" >/dev/null 2>&1
curl -s --data-binary @"$T/qn.der" -H 'Content-Type: application/ocsp-request' "$URL/ocsp" -D "$T/hn.txt" -o "$T/rn.der"
"$PY" - "$T/qn.der" "$T/rn.der" <<'PY' || fail "cryptography: the nonce was not echoed"
import sys
from cryptography.x509 import ocsp, OCSPNonce
q = ocsp.load_der_ocsp_request(open(sys.argv[1], "rb").read())
r = ocsp.load_der_ocsp_response(open(sys.argv[2], "rb").read())
qn = q.extensions.get_extension_for_class(OCSPNonce).value.nonce
rn = r.extensions.get_extension_for_class(OCSPNonce).value.nonce
assert qn == rn, (qn, rn)
PY
assert_contains "$(tr -d '\r' <"$T/hn.txt")" "Cache-Control: max-age=0, no-cache" "a nonce response is not for caches"
stop_server

step "past the rate: the precomputed answer without the nonce, tryLater for SHA-384; never a stall"
start_server --nonce echo --sign-rate 5
"$PY" - 127.0.0.1 "$PORT" "$T/qn.der" "$T/q-sha384.der" <<'PY' || fail "rate limit: see above"
import http.client, sys
from cryptography.x509 import ocsp, OCSPNonce
host, port, qn, q384 = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read(), open(sys.argv[4], "rb").read()
c = http.client.HTTPConnection(host, port, timeout=10)
echoed = plain = trylater = good384 = 0
for i in range(200):
    body = qn if i % 2 == 0 else q384
    c.request("POST", "/ocsp", body, {"Content-Type": "application/ocsp-request"})
    data = c.getresponse().read()
    r = ocsp.load_der_ocsp_response(data)
    if body is q384:
        if r.response_status == ocsp.OCSPResponseStatus.TRY_LATER: trylater += 1
        else:
            assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status
            good384 += 1
        continue
    assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status
    assert r.certificate_status == ocsp.OCSPCertStatus.GOOD
    try:
        r.extensions.get_extension_for_class(OCSPNonce); echoed += 1
    except Exception:
        plain += 1
print("echoed", echoed, "plain", plain, "sha384 signed", good384, "tryLater", trylater)
assert plain > 0 and echoed > 0, "the rate limit did not apply"
assert trylater > 0 and good384 > 0
assert echoed + good384 < 60, "far more signatures than the rate allows"
PY
stop_server

step "SIGHUP: nonce off -> echo from revd.conf, applied to the running shards"
printf 'nonce = off\n' > "$D/revd.conf"
start_server
o=$(ocsp "$T/good.pem"); assert_contains "$o" "WARNING: no nonce in response" "before the reload ($o)"
printf 'nonce = echo\n' > "$D/revd.conf"
kill -HUP "$SRV"
for i in $(seq 1 50); do
    o=$(ocsp "$T/good.pem")
    case "$o" in *"WARNING: no nonce"*) sleep 0.2 ;; *) break ;; esac
done
assert_contains "$o" "Response verify OK" "after the reload ($o)"
case "$o" in *"WARNING: no nonce"*) fail "nonce echo did not apply on SIGHUP: $o" ;; esac
stop_server
rm -f "$D/revd.conf"

step "--sign-rate 0: no lane; SHA-384 gets tryLater, a nonce the precomputed answer"
start_server --nonce echo --sign-rate 0
o=$(ocsp "$T/good.pem" -sha384 -no_nonce); assert_contains "$o" "trylater" "the answer ($o)"
o=$(ocsp "$T/good.pem"); assert_contains "$o" "WARNING: no nonce in response"; assert_line "$o" "$T/good.pem: good"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -cert "$T/rev.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "trylater" "several CertIDs without a lane ($o)"
stop_server

step "a CA in its last days keeps its responder: no new one per command"
run_ok revd ca create-root --dir "$D" --name short --subject /CN=short --days 5
make_csr s1 "/CN=s1.example"
start_server
issue_to "$T/s1.pem" --dir "$D" --ca short --csr "$T/s1.csr"
run_ok revd log --dir "$D"
before=$(printf '%s\n' "$OUT" | grep -c '"op":"ocsp-responder","ca":"short"')
for i in 1 2 3; do issue_to "$T/s1-$i.pem" --dir "$D" --ca short --csr "$T/s1.csr"; done
run_ok revd revoke --dir "$D" --ca short --serial "$(serial_of "$T/s1-1.pem")" --reason keyCompromise
run_ok revd log --dir "$D"
assert_eq "$(printf '%s\n' "$OUT" | grep -c '"op":"ocsp-responder","ca":"short"')" "$before" "responders issued for CA short"
openssl x509 -in "$D/ca/short.pem" > "$T/short-chain.pem"
o=$(openssl ocsp -issuer "$D/ca/short.pem" -cert "$T/s1-1.pem" -url "$URL/ocsp" -CAfile "$T/short-chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/s1-1.pem: revoked"
stop_server

step "pipelined: a lane answer and a table answer come back in order"
start_server
"$PY" - 127.0.0.1 "$PORT" "$T/q-sha384.der" "$T/qn.der" <<'PY' || fail "pipelining across the lane: see above"
import socket, sys
from cryptography.x509 import ocsp
host, port = sys.argv[1], int(sys.argv[2])
a, b = open(sys.argv[3], "rb").read(), open(sys.argv[4], "rb").read()
req = b""
for body in (a, b, a):
    req += b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\nContent-Length: %d\r\n\r\n" % len(body) + body
s = socket.create_connection((host, port), timeout=10)
s.sendall(req)
buf = b""
answers = []
while len(answers) < 3:
    chunk = s.recv(65536)
    assert chunk, "connection closed after %d answers" % len(answers)
    buf += chunk
    while b"\r\n\r\n" in buf:
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
        if len(rest) < n: break
        answers.append(rest[:n]); buf = rest[n:]
algs = [ocsp.load_der_ocsp_response(x).hash_algorithm.name for x in answers]
assert algs == ["sha384", "sha1", "sha384"], algs
PY
stop_server

pass
