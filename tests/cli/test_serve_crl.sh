#!/bin/bash
# revd serve's CRLs over HTTP: 200 with the caching headers, 304 on ETag or
# If-Modified-Since, HEAD, 404; a revocation through the socket is on a new
# CRL with a higher number within the coalescing window plus a second, in
# memory and in DIR/crl/; a burst across partitions rebuilds each once; a
# 200 KB CRL arrives whole, also to a slow reader while a newer CRL
# replaces it; openssl verify with the CRL fetched from the server.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --partition-size 4
make_csr ee "/CN=ee.example"
for i in 1 2 3 4 5 6; do issue_to "$T/c$i.pem" --dir "$D" --ca sub --csr "$T/ee.csr"; done
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c1.pem")" --reason keyCompromise
# A big CA: 4,000 imported revoked certificates in one partition (~200 KB).
run_ok revd ca create-root --dir "$D" --name big --subject /CN=big --partition-size 5000
"$PY" - "$T/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 4001):
        f.write("%032X,2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" % ((1 << 124) + i))
PY
run_ok revd import --dir "$D" --ca big --file "$T/big.csv"
cat "$D/ca/sub.pem" "$D/ca/root.pem" >"$T/chain.pem"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --crl-coalesce 500ms
number() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/^crlNumber=//'; }

step "GET: the caching headers; the bytes are the file's"
h=$(curl -s -D - "$URL/crl/sub/0.crl" -o "$T/p0.der" | tr -d '\r')
assert_contains "$h" "HTTP/1.1 200 OK"
assert_contains "$h" "Content-Type: application/pkix-crl"
assert_contains "$h" "Content-Length: $(stat -c %s "$T/p0.der")"
for k in Last-Modified Expires ETag Date; do assert_match "$h" "$k: "; done
assert_match "$h" "Cache-Control: max-age=[0-9]+, public, no-transform, must-revalidate"
cmp -s "$T/p0.der" "$D/crl/sub/0.crl" || fail "the served CRL differs from DIR/crl/sub/0.crl"
o=$(openssl crl -inform DER -in "$T/p0.der" -noout -text)
assert_contains "$o" "URI:http://127.0.0.1:8080/crl/sub/0.crl"
openssl crl -inform DER -in "$T/p0.der" -out "$T/p0.pem"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/p0.pem" "$T/c1.pem" 2>&1); assert_contains "$o" "certificate revoked"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/p0.pem" "$T/c2.pem" 2>&1); assert_contains "$o" "$T/c2.pem: OK"

step "304 on ETag and If-Modified-Since; HEAD; 404"
etag=$(printf '%s\n' "$h" | sed -n 's/^ETag: //p')
lm=$(printf '%s\n' "$h" | sed -n 's/^Last-Modified: //p')
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/crl/sub/0.crl")" 304 "If-None-Match"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$URL/crl/sub/0.crl")" 304 "If-Modified-Since"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT' "$URL/crl/sub/0.crl")" 200 "an older If-Modified-Since"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "x"' "$URL/crl/sub/0.crl")" 200 "another ETag"
hl=$(curl -s -I "$URL/crl/sub/0.crl" | tr -d '\r' | sed -n 's/^Content-Length: //p')
assert_eq "$hl" "$(stat -c %s "$T/p0.der")" "HEAD Content-Length"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/sub/9.crl")" 404 "an unknown partition"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/sub/ca.crl")" 200 "the CA-scope CRL"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL/crl/root/ca.crl")" 200 "the root's CA-scope CRL"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$URL/crl/sub/0.crl")" 405 "POST"

step "a revocation: a new CRL with a higher number within the window and a second"
n0=$(number "$T/p0.der")
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c2.pem")" --reason superseded
t0=$(date +%s%N)
ok=0
for _ in $(seq 30); do
    curl -s "$URL/crl/sub/0.crl" -o "$T/p0b.der"
    if [ "$(number "$T/p0b.der")" != "$n0" ]; then ok=1; break; fi
    sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ok = 1 ] || fail "no new CRL 3 s after the revocation"
[ "$ms" -le 1500 ] || fail "the new CRL took $ms ms (window 500 ms + 1 s)"
[ $(( $(number "$T/p0b.der") )) -gt $(( n0 )) ] || fail "the CRL number did not grow"
openssl crl -inform DER -in "$T/p0b.der" -out "$T/p0b.pem"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/p0b.pem" "$T/c2.pem" 2>&1); assert_contains "$o" "certificate revoked"
cmp -s "$T/p0b.der" "$D/crl/sub/0.crl" || fail "DIR/crl/sub/0.crl is not the new CRL"

step "a burst across partitions: each partition rebuilt once"
n1=$(number "$D/crl/sub/1.crl"); n0=$(number "$D/crl/sub/0.crl")
for i in 3 5 6; do run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c$i.pem")"; done
sleep 1.6
assert_eq "$(( $(number "$D/crl/sub/0.crl") ))" "$(( n0 + 1 ))" "partition 0's number after one revocation in the burst"
assert_eq "$(( $(number "$D/crl/sub/1.crl") ))" "$(( n1 + 1 ))" "partition 1's number after two revocations in the burst"

step "a bulk revocation through the socket: each partition it touches rebuilt once"
: >"$T/bulk.txt"
for i in 7 8 9 10 11 12 13 14; do
    issue_to "$T/c$i.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
    serial_of "$T/c$i.pem" >>"$T/bulk.txt"
done
sleep 1.6 # the new partitions' first CRLs
declare -A nb
for p in 0 1 2 3; do nb[$p]=$(number "$D/crl/sub/$p.crl"); done
run_ok revd revoke --dir "$D" --ca sub --file "$T/bulk.txt" --reason keyCompromise
assert_match "$OUT" "revoked 8 certificates"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/c13.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_line "$o" "$T/c13.pem: revoked" "OCSP right after the bulk revocation returns"
sleep 1.6
assert_eq "$(( $(number "$D/crl/sub/0.crl") ))" "$(( nb[0] ))" "partition 0, untouched by the bulk revocation"
for p in 1 2 3; do
    assert_eq "$(( $(number "$D/crl/sub/$p.crl") ))" "$(( nb[$p] + 1 ))" "partition $p after the bulk revocation"
done
assert_eq "$(openssl crl -inform DER -in "$D/crl/sub/2.crl" -noout -text | grep -c 'Serial Number')" 4 "partition 2's entries"

step "a 200 KB CRL arrives whole, also to a slow reader while a newer one replaces it"
curl -s "$URL/crl/big/0.crl" -o "$T/big.der"
cmp -s "$T/big.der" "$D/crl/big/0.crl" || fail "the big CRL differs from its file"
[ "$(stat -c %s "$T/big.der")" -gt 150000 ] || fail "the big CRL is only $(stat -c %s "$T/big.der") bytes"
"$PY" - 127.0.0.1 "$PORT" "$T/big.der" "$REVD" "$D" <<'PY' || fail "slow reader: see above"
import socket, subprocess, sys, time
host, port, want, revd, d = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "rb").read(), sys.argv[4], sys.argv[5]
s = socket.create_connection((host, port), timeout=10)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /crl/big/0.crl HTTP/1.1\r\nHost: x\r\n\r\n")
buf = s.recv(2048)
# A revocation makes a newer CRL while this one is still being sent.
subprocess.run([revd, "revoke", "--dir", d, "--ca", "big", "--serial", "%032X" % ((1 << 124) + 5000)],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.5)
while True:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if sep and len(body) >= len(want): break
    chunk = s.recv(65536)
    assert chunk, "closed early"
    buf += chunk
    time.sleep(0.001)
head, _, body = buf.partition(b"\r\n\r\n")
assert body[:len(want)] == want, "the slow reader got other bytes"
PY

kill -TERM "$SRV"
wait "$SRV"; assert_eq "$?" 0 "exit status after SIGTERM"
assert_match "$(cat "$T/serve.log")" "revd: CRLs: [0-9]+ built, 0 taken back at start, 0 failed builds"

step "a restart takes back the published CRLs instead of signing them again"
cp "$D/crl/sub/0.crl" "$T/before-restart.crl"
serve_bg "$T/serve2.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2
curl -s "$URL/crl/sub/0.crl" -o "$T/after-restart.crl"
cmp -s "$T/after-restart.crl" "$T/before-restart.crl" || fail "the CRL served after a restart is not the one published before"
# Tampered with on disk: not taken back (signature), built again.
kill -TERM "$SRV"; wait "$SRV"
assert_match "$(cat "$T/serve2.log")" "revd: CRLs: 0 built, [1-9][0-9]* taken back at start, 0 failed builds"
printf 'x' >>"$D/crl/sub/1.crl"
serve_bg "$T/serve3.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2
curl -s "$URL/crl/sub/1.crl" -o "$T/p1.der"
openssl crl -inform DER -in "$T/p1.der" -noout 2>/dev/null || fail "the tampered CRL was served"
cmp -s "$T/p1.der" "$D/crl/sub/1.crl" || fail "DIR/crl/sub/1.crl was not rewritten"

step "revd crl rebuild through the socket: the URL serves at once the file it wrote"
run_ok revd crl rebuild --dir "$D" --ca sub
for f in ca 0 1; do
    n=$(printf '%s\n' "$OUT" | sed -n "s|^crl/sub/$f.crl: number \([0-9]*\),.*|\1|p")
    [ -n "$n" ] || fail "no number for crl/sub/$f.crl in: $OUT"
    curl -s "$URL/crl/sub/$f.crl" -o "$T/rb.der"
    cmp -s "$T/rb.der" "$D/crl/sub/$f.crl" || fail "crl/sub/$f.crl: the URL serves other bytes than the file"
    got=$(openssl crl -inform DER -in "$T/rb.der" -noout -crlnumber | sed 's/^crlNumber=//')
    assert_eq "$(( got ))" "$n" "crl/sub/$f.crl: the number served after the rebuild"
done
kill -TERM "$SRV"; wait "$SRV"
assert_match "$(cat "$T/serve3.log")" "revd: CRLs: 1 built"
pass
