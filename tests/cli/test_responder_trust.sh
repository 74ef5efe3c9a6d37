#!/bin/bash
# What a response claims, and who signs it (issue 13, defects 1, 3 and 4):
#  - revoking a CA's current OCSP responder (a sub CA's, a root's) replaces
#    it before `revd revoke` returns: the next answer is signed by a new
#    responder, also after a restart, and after an offline revocation; the
#    revoked responder is in no CRL (the CA-scope CRL says
#    onlyContainsCACerts);
#  - a response never claims validity past its certificate's notAfter
#    (a 24-hour certificate: nextUpdate = notAfter);
#  - a shorter --validity takes effect at start and at a reload, not when
#    the stored responses would have been refreshed;
#  - thisUpdate is a minute before the signature (clients with slow clocks).
# Checked with openssl ocsp (signature and chain) and Python's cryptography.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/short.pem" --dir "$D" --ca sub --csr "$T/ee.csr" --hours 24
cat "$D/ca/sub.pem" "$D/ca/root.pem" > "$T/chain.pem"
printf 'validity = 96h\n' > "$D/revd.conf"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
start() { serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --nonce echo "$@"; }
stop() { kill -TERM "$SRV"; wait "$SRV" 2>/dev/null; }

# ask ISSUER CERT OUT [-no_nonce]: the response (DER) to a POST, from the
# precomputed tables without a nonce, else signed by the lane (--nonce
# echo); checked by openssl against the chain (and the nonce echoed).
ask() {
    local o
    o=$(openssl ocsp -issuer "$1" -cert "$2" "${4:--no_nonce}" -url "$URL/ocsp" -CAfile "$T/chain.pem" -respout "$3" 2>&1)
    assert_contains "$o" "Response verify OK" "openssl ocsp on $(basename "$2")"
    assert_not_contains "$o" "WARNING" "openssl ocsp on $(basename "$2")"
}
# facts DER CERT: responder serial, thisUpdate, nextUpdate, the certificate's notAfter, now (epoch seconds)
facts() {
    "$PY" - "$1" "$2" <<'PY'
import sys, time
from cryptography import x509
from cryptography.x509 import ocsp
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
c = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
na = getattr(c, "not_valid_after_utc", None) or c.not_valid_after
tu = getattr(r, "this_update_utc", None) or r.this_update
nu = getattr(r, "next_update_utc", None) or r.next_update
ts = lambda d: int(d.timestamp()) if d.tzinfo else int((d - d.__class__(1970, 1, 1)).total_seconds())
s = "%X" % r.certificates[0].serial_number
s = "0" * (len(s) % 2) + s  # whole octets, as openssl prints serials
print("%s %d %d %d %d" % (s, ts(tu), ts(nu), ts(na), int(time.time())))
PY
}

start
step "thisUpdate is backdated a minute; nextUpdate is --validity later"
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g1.der"
read -r R1 TU NU NA NOW <<<"$(facts "$T/g1.der" "$T/good.pem")"
[ $((NOW - TU)) -ge 55 ] && [ $((NOW - TU)) -le 120 ] || fail "thisUpdate is $((NOW - TU)) s before now, not about 60"
assert_eq "$((NU - TU))" "$((96 * 3600 + 60))" "the window of a response (validity + the backdating)"

step "a 24-hour certificate: nextUpdate is its notAfter, not 96 hours on"
ask "$D/ca/sub.pem" "$T/short.pem" "$T/s1.der"
read -r _ TU NU NA NOW <<<"$(facts "$T/s1.der" "$T/short.pem")"
[ "$NU" -le "$NA" ] || fail "nextUpdate $(iso "$NU") is after the certificate's notAfter $(iso "$NA")"
assert_eq "$NU" "$NA" "nextUpdate of the 24-hour certificate"

step "a bulk revocation refuses a responder's certificate"
printf '%s\n' "$R1" > "$T/bulk.txt"
run_fail 1 revd revoke --dir "$D" --ca sub --file "$T/bulk.txt" --reason keyCompromise
assert_contains "$ERR" "OCSP responder"

step "revoking the sub CA's responder through the socket: a new one signs before revoke returns"
ask "$D/ca/sub.pem" "$T/good.pem" "$T/n1.der" -nonce
read -r RN1 _ <<<"$(facts "$T/n1.der" "$T/good.pem")"
assert_eq "$RN1" "$R1" "the lane signs with the responder the tables use"
run_ok revd revoke --dir "$D" --ca sub --serial "$R1" --reason keyCompromise
assert_contains "$OUT$ERR" "a new responder signs"
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g2.der"
read -r R2 _ <<<"$(facts "$T/g2.der" "$T/good.pem")"
[ "$R2" != "$R1" ] || fail "the revoked responder $R1 still signs"
ask "$D/ca/sub.pem" "$T/short.pem" "$T/s2.der"
read -r R2s _ <<<"$(facts "$T/s2.der" "$T/short.pem")"
assert_eq "$R2s" "$R2" "every response of the CA is signed by the new responder"
ask "$D/ca/sub.pem" "$T/good.pem" "$T/n2.der" -nonce
read -r RN2 _ <<<"$(facts "$T/n2.der" "$T/good.pem")"
assert_eq "$RN2" "$R2" "the lane (a nonce) signs with the new responder"
run_ok revd status --dir "$D" --ca sub --serial "$R1"
assert_contains "$OUT" "partition: none"

step "the revoked responder is in no CRL (the CA scope holds CA certificates only)"
run_ok revd crl rebuild --dir "$D" --ca sub
for f in "$D"/crl/sub/*.crl; do
    if openssl crl -inform DER -in "$f" -noout -text | tr -d ' :' | grep -qi "SerialNumber${R1}\$"; then
        fail "$(basename "$f") lists the responder $R1"
    fi
done

step "after a restart: still the new responder"
stop
start
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g3.der"
read -r R3 _ <<<"$(facts "$T/g3.der" "$T/good.pem")"
assert_eq "$R3" "$R2" "the responder after a restart"

step "an offline revocation of the responder: the next start signs with another"
stop
run_ok revd revoke --dir "$D" --ca sub --serial "$R2" --reason superseded
start
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g4.der"
read -r R4 _ <<<"$(facts "$T/g4.der" "$T/good.pem")"
[ "$R4" != "$R2" ] && [ "$R4" != "$R1" ] || fail "a revoked responder still signs ($R4)"

step "a root's responder, revoked: the root's answers change signer too"
ask "$D/ca/root.pem" "$D/ca/sub.pem" "$T/r1.der"
read -r RR1 _ <<<"$(facts "$T/r1.der" "$D/ca/sub.pem")"
run_ok revd revoke --dir "$D" --ca root --serial "$RR1" --reason keyCompromise
ask "$D/ca/root.pem" "$D/ca/sub.pem" "$T/r2.der"
read -r RR2 _ <<<"$(facts "$T/r2.der" "$D/ca/sub.pem")"
[ "$RR2" != "$RR1" ] || fail "the root's revoked responder $RR1 still signs"

step "a shorter validity at a reload (SIGHUP): signed again at once"
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g6.der"
read -r _ TU NU _ <<<"$(facts "$T/g6.der" "$T/good.pem")"
assert_eq "$((NU - TU))" "$((96 * 3600 + 60))" "the window with validity = 96h in the file"
printf 'validity = 9h\n' > "$D/revd.conf"
kill -HUP "$SRV"
ok=
for _ in $(seq 100); do
    ask "$D/ca/sub.pem" "$T/good.pem" "$T/g7.der"
    read -r _ TU NU _ <<<"$(facts "$T/g7.der" "$T/good.pem")"
    [ "$((NU - TU))" = "$((9 * 3600 + 60))" ] && { ok=1; break; }
    sleep 0.1
done
[ -n "$ok" ] || fail "10 s after a reload to 9h the window is still $((NU - TU)) s: $(tail -5 "$T/serve.log")"

step "a shorter --validity at start: stored 9-hour responses are signed again"
stop
start --validity 8h
ask "$D/ca/sub.pem" "$T/good.pem" "$T/g5.der"
read -r _ TU NU _ <<<"$(facts "$T/g5.der" "$T/good.pem")"
assert_eq "$((NU - TU))" "$((8 * 3600 + 60))" "the window after a restart with --validity 8h"
step "a responder key file holding another key: a new responder, not a server that cannot sign"
# What a rotation leaves when its index write fails after the key file was
# written (or a key file restored from elsewhere).
ask "$D/ca/sub.pem" "$T/good.pem" "$T/k1.der"
read -r RK1 _ <<<"$(facts "$T/k1.der" "$T/good.pem")"
stop
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/keys/sub.ocsp.key" 2>/dev/null ||
    fail "openssl genpkey"
chmod 600 "$D/keys/sub.ocsp.key"
start
ask "$D/ca/sub.pem" "$T/good.pem" "$T/k2.der"
read -r RK2 _ <<<"$(facts "$T/k2.der" "$T/good.pem")"
[ "$RK2" != "$RK1" ] || fail "the responder did not change"
assert_contains "$(cat "$T/serve.log")" "does not match the OCSP responder certificate of CA sub"

step "--ocsp-backdate sets how far back thisUpdate is"
stop
run_fail 2 revd serve --dir "$D" --listen "127.0.0.1:$PORT" --ocsp-backdate 2h
assert_contains "$ERR" "ocsp-backdate"
start --ocsp-backdate 5m
ask "$D/ca/sub.pem" "$T/good.pem" "$T/b1.der" -nonce
read -r _ TU NU _ NOW <<<"$(facts "$T/b1.der" "$T/good.pem")"
[ $((NOW - TU)) -ge 295 ] && [ $((NOW - TU)) -le 360 ] || fail "thisUpdate is $((NOW - TU)) s before now, not about 300"

step "an expired certificate: unauthorized, also under --unknown signed (not a fresh 'unknown')"
stop
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
if [ -n "$FT_LIB" ]; then
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" FAKETIME="+2d" LD_PRELOAD=$FT_LIB \
        start --unknown signed
    for n in -no_nonce -nonce; do
        o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/short.pem" "$n" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
        assert_contains "$o" "unauthorized (6)" "the 24-hour certificate two days on ($n)"
    done
    stop
fi

pass
