#!/bin/bash
# revd demo: the demo hierarchy (demo-root, demo-issuing), 1,000 certificates
# with a few revoked, a sample certificate and key under DIR/sample/ that
# verify; the default directory ./demo; a second run keeps the hierarchy.
. "$(dirname "$0")/lib.sh"

export REVD_TIMEOUT=300
X=$T/demo-x

step "demo --dir"
run_ok revd demo --dir "$X" --no-serve
[ -n "$OUT" ] || fail "revd demo printed nothing (it should print commands to try)"
assert_contains "$OUT" "revd " "demo stdout (commands to try)"
[ -s "$X/ca/demo-root.pem" ] || fail "DIR/ca/demo-root.pem missing"
[ -s "$X/ca/demo-issuing.pem" ] || fail "DIR/ca/demo-issuing.pem missing"
assert_file_mode "$X/keys/demo-root.key" 600
assert_file_mode "$X/keys/demo-issuing.key" 600
verify_chain "$X/ca/demo-root.pem" "" "$X/ca/demo-issuing.pem"

run_ok revd ca list --dir "$X"
printf '%s\n' "$OUT" | awk '$1 == "demo-root"' | grep -q . || fail "ca list has no demo-root"
printf '%s\n' "$OUT" | awk '$1 == "demo-issuing"' | grep -q . || fail "ca list has no demo-issuing"
run_ok revd ca show --dir "$X" demo-issuing
assert_kv parent demo-root
issued=$(kv issued)
[ "$issued" -ge 1000 ] && [ "$issued" -le 1001 ] || fail "demo-issuing issued $issued certificates, expected 1,000"

step "a few revoked"
run_ok revd report --dir "$X" --ca demo-issuing --format csv
printf '%s\n' "$OUT" >"$T/demo.csv"
rows=$(tail -n +2 "$T/demo.csv" | grep -c .)
assert_eq "$rows" "$issued" "report rows vs issued"
nrev=$("$PY" -c '
import csv, sys
print(sum(1 for r in csv.DictReader(open(sys.argv[1])) if r["status"] in ("revoked", "hold")))' "$T/demo.csv")
[ "$nrev" -ge 1 ] && [ "$nrev" -lt 500 ] || fail "demo revoked $nrev certificates, expected a few"
# One of them, checked through status.
rs=$("$PY" -c '
import csv, sys
print(next(r["serial"] for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "revoked"))' "$T/demo.csv" 2>/dev/null)
if [ -n "$rs" ]; then
    run_ok revd status --dir "$X" --ca demo-issuing --serial "$rs"
    assert_eq "$(printf '%s\n' "$OUT" | head -1)" revoked "status of a revoked demo certificate"
fi

step "sample certificate and key"
[ -d "$X/sample" ] || fail "DIR/sample/ missing"
cert=$(grep -l -- '-----BEGIN CERTIFICATE-----' "$X"/sample/* 2>/dev/null | head -1)
key=$(grep -l -- 'PRIVATE KEY-----' "$X"/sample/* 2>/dev/null | head -1)
[ -n "$cert" ] || fail "no certificate under DIR/sample/"
[ -n "$key" ] || fail "no private key under DIR/sample/"
leaf=$T/sample-leaf.pem
openssl x509 -in "$cert" -out "$leaf" 2>/dev/null || fail "openssl x509 cannot read $cert"
verify_chain "$X/ca/demo-root.pem" "$X/ca/demo-issuing.pem" "$leaf"
assert_eq "$(openssl pkey -in "$key" -pubout 2>/dev/null)" "$(openssl x509 -in "$leaf" -noout -pubkey)" \
    "the sample key matches the sample certificate:"
run_ok revd status --dir "$X" --ca demo-issuing --serial "$(serial_of "$leaf")"
[ "$(printf '%s\n' "$OUT" | head -1)" != unknown ] || fail "the sample certificate is unknown to demo-issuing"

step "second run keeps the hierarchy"
root_fp=$(openssl x509 -in "$X/ca/demo-root.pem" -noout -fingerprint -sha256)
iss_fp=$(openssl x509 -in "$X/ca/demo-issuing.pem" -noout -fingerprint -sha256)
run_ok revd demo --dir "$X" --no-serve
assert_eq "$(openssl x509 -in "$X/ca/demo-root.pem" -noout -fingerprint -sha256)" "$root_fp" "demo-root after a second run"
assert_eq "$(openssl x509 -in "$X/ca/demo-issuing.pem" -noout -fingerprint -sha256)" "$iss_fp" "demo-issuing after a second run"
run_ok revd ca list --dir "$X"
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 ~ /^demo-/' | wc -l)" 2 "demo CAs after a second run"

step "default directory ./demo"
mkdir -p "$T/w" && cd "$T/w" || fail "cd"
_run env -u REVD_DIR timeout -k 5 "$REVD_TIMEOUT" "$REVD" demo --no-serve
[ "$RC" -eq 0 ] || fail "revd demo (no --dir) failed"
[ -s "$T/w/demo/ca/demo-root.pem" ] || fail "revd demo without --dir did not create ./demo/ca/demo-root.pem"

step "without --no-serve, the demo serves OCSP: the sample certificates answer good and revoked"
PORT=$(( 20000 + RANDOM % 12000 ))
"$REVD" demo --dir "$X" --listen "127.0.0.1:$PORT" >"$T/demo-serve.out" 2>"$T/demo-serve.log" </dev/null &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
for _ in $(seq 300); do grep -q '^revd: serving' "$T/demo-serve.log" && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
grep -q '^revd: serving' "$T/demo-serve.log" || fail "revd demo did not start serving: $(cat "$T/demo-serve.log")"
assert_contains "$(cat "$T/demo-serve.out")" "openssl ocsp -issuer" "the demo's commands to try"
cat "$X/ca/demo-issuing.pem" "$X/ca/demo-root.pem" >"$T/demo-chain.pem"
for s in good revoked; do
    o=$(openssl ocsp -issuer "$X/ca/demo-issuing.pem" -cert "$X/sample/$s.pem" -url "http://127.0.0.1:$PORT/ocsp" \
        -CAfile "$T/demo-chain.pem" 2>&1)
    assert_contains "$o" "Response verify OK"
    assert_line "$o" "$X/sample/$s.pem: $s"
done
kill -TERM $SRV
wait $SRV
assert_eq "$?" 0 "revd demo's exit status after SIGTERM"

pass
