#!/bin/bash
# CRLs built on every core (issue 15), with a CA of 41 partitions: the first
# start builds every CRL on the pool and says so (crl.rebuilt_all), each
# verifies against its CA with number 1; a revocation rebuilds its
# partition and no other (revd_crl_builds_total grows by one); an import
# (a full change) rebuilds only the partitions it added revoked
# certificates to and the new ones; a restart takes every CRL back without
# signing one, byte for byte.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --partition-size 25
# 1,000 imported certificates, every 7th revoked: partitions 0 to 39.
"$PY" - "$T/in.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1000):
        s = "%032X" % ((1 << 124) + i)
        f.write(s + (",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" if i % 7 == 0 else ",2031-01-01,good\n"))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/in.csv"
make_csr ee "/CN=ee.example"
issue_to "$T/c1.pem" --dir "$D" --ca sub --csr "$T/ee.csr" # slot 1000: partition 40
cat "$D/ca/sub.pem" "$D/ca/root.pem" >"$T/chain.pem"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --crl-coalesce 300ms
number() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/^crlNumber=//'; }
builds() { curl -sf "$URL/metrics" | awk '$1 == "revd_crl_builds_total" {print $2}'; }
# wait_builds N: until revd_crl_builds_total is N (5 s at most).
wait_builds() {
    for _ in $(seq 50); do [ "$(builds)" = "$1" ] && return 0; sleep 0.1; done
    fail "revd_crl_builds_total is $(builds), expected $1"
}

step "the first start builds every CRL on the pool; each verifies"
# root's and sub's CA scope, sub's partitions 0 to 40.
assert_match "$(cat "$T/serve.log")" "CRLs of every CA rebuilt: 43 partitions in [0-9.]+ s on 2 threads, 0 not built"
assert_eq "$(builds)" 43 "CRLs built at start"
for p in ca $(seq 0 40); do
    f=$D/crl/sub/$p.crl
    o=$(openssl crl -inform DER -in "$f" -CAfile "$T/chain.pem" -noout 2>&1) || fail "crl/sub/$p.crl: $o"
    assert_contains "$o" "verify OK" "openssl crl -verify of crl/sub/$p.crl"
    assert_eq "$(( $(number "$f") ))" 1 "crl/sub/$p.crl's number"
    curl -s "$URL/crl/sub/$p.crl" -o "$T/got.der"
    cmp -s "$T/got.der" "$f" || fail "the served crl/sub/$p.crl differs from its file"
done
# Each partition its own entries: 25 certificates, every 7th revoked.
assert_eq "$(openssl crl -inform DER -in "$D/crl/sub/0.crl" -noout -text | grep -c 'Serial Number')" 4 "partition 0's entries"
assert_eq "$(openssl crl -inform DER -in "$D/crl/sub/2.crl" -noout -text | grep -c 'Serial Number')" 3 "partition 2's entries"
assert_contains "$(openssl crl -inform DER -in "$D/crl/sub/39.crl" -noout -text)" "URI:http://127.0.0.1:8080/crl/sub/39.crl"

step "a revocation rebuilds its partition and no other"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c1.pem")" --reason superseded
wait_builds 44
sleep 0.5 # nothing more comes
assert_eq "$(builds)" 44 "CRLs built after one revocation"
assert_eq "$(( $(number "$D/crl/sub/40.crl") ))" 2 "partition 40's number"
for p in ca 0 39; do assert_eq "$(( $(number "$D/crl/sub/$p.crl") ))" 1 "crl/sub/$p.crl's number"; done
curl -s "$URL/crl/sub/40.crl" -o "$T/p40.der"
openssl crl -inform DER -in "$T/p40.der" -out "$T/p40.pem"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/p40.pem" "$T/c1.pem" 2>&1); assert_contains "$o" "certificate revoked"

step "an import rebuilds only the partitions it added revoked certificates to, and the new ones"
# Slots 1001 to 1050: partition 40 (good only), 41 (three revoked), 42 (new, good).
"$PY" - "$T/more.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(50):
        s = "%032X" % ((1 << 125) + i)
        f.write(s + (",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" if i in (30, 31, 40) else ",2031-01-01,good\n"))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/more.csv"
wait_builds 46
sleep 0.5
assert_eq "$(builds)" 46 "CRLs built after the import"
assert_eq "$(( $(number "$D/crl/sub/41.crl") ))" 1 "partition 41's number"
assert_eq "$(openssl crl -inform DER -in "$D/crl/sub/41.crl" -noout -text | grep -c 'Serial Number')" 3 "partition 41's entries"
assert_eq "$(( $(number "$D/crl/sub/42.crl") ))" 1 "partition 42's number"
assert_eq "$(( $(number "$D/crl/sub/40.crl") ))" 2 "partition 40's number (no revoked certificate added)"
for p in ca 0 39; do assert_eq "$(( $(number "$D/crl/sub/$p.crl") ))" 1 "crl/sub/$p.crl's number"; done

step "a restart takes every CRL back without signing one"
kill -TERM "$SRV"
wait "$SRV"; assert_eq "$?" 0 "exit status after SIGTERM"
mkdir -p "$T/before"
cp "$D"/crl/sub/*.crl "$T/before/"
serve_bg "$T/serve2.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2
assert_eq "$(builds)" 0 "CRLs built at the restart"
for f in "$T"/before/*.crl; do
    p=$(basename "$f")
    curl -s "$URL/crl/sub/$p" -o "$T/got.der"
    cmp -s "$T/got.der" "$f" || fail "crl/sub/$p served after the restart is not the one published before"
    cmp -s "$D/crl/sub/$p" "$f" || fail "DIR/crl/sub/$p was written again"
done
kill -TERM "$SRV"; wait "$SRV"
assert_match "$(cat "$T/serve2.log")" "revd: CRLs: 0 built, 45 taken back at start, 0 failed builds"
pass
