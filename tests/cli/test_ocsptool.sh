#!/bin/bash
# GnuTLS ocsptool --ask against revd serve --listen: the OCSP URL taken from
# the certificate's AIA (and given explicitly), HTTP/1.0 POST; good and
# revoked answers, each verified by GnuTLS against the issuing CA (the
# response is signed by a delegated responder certificate that CA issued);
# a whole chain (a CA certificate answered for its parent); a revocation
# through the socket; an unknown issuer; the bytes ocsptool receives are the
# precomputed ones openssl ocsp receives.
. "$(dirname "$0")/lib.sh"
OCSPTOOL=$(command -v ocsptool) || skip "ocsptool is not installed (apt-get install gnutls-bin)"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
D=$T/d

step "a PKI whose AIA points at the server"
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root --base-url "$URL"
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --base-url "$URL"
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/rev.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/later.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/rev.pem")" --reason keyCompromise
assert_eq "$(openssl x509 -in "$T/good.pem" -noout -ocsp_uri)" "$URL/ocsp" "the certificate's AIA OCSP URL"
SUB=$D/ca/sub.pem ROOT=$D/ca/root.pem
cat "$SUB" "$ROOT" > "$T/chain.pem"
# A CA the server does not know, whose certificates point at it all the same.
run_ok revd ca create-root --dir "$T/other" --name other --subject /CN=other --base-url "$URL"
issue_to "$T/other.pem" --dir "$T/other" --ca other --csr "$T/ee.csr"

step "revd serve --listen"
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
for _ in $(seq 300); do grep -q '^revd: serving' "$T/serve.log" && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
grep -q '^revd: serving' "$T/serve.log" || fail "revd serve did not start: $(cat "$T/serve.log")"

# ot ARGS...: runs ocsptool, bounded (a server that never answers must fail
# the test, not hang it); its output (stdout and stderr, each line's leading
# tabs removed) in $O, its exit status in $RC.
O=""
ot() {
    _run timeout -k 2 20 "$OCSPTOOL" "$@"
    O=$(printf '%s\n%s\n' "$OUT" "$ERR" | sed 's/^[[:space:]]*//')
}
# ask CERT ISSUER [ocsptool options...]: ocsptool --ask about CERT.
ask() {
    local cert=$1 issuer=$2; shift 2
    ot --ask --load-issuer "$issuer" --load-cert "$cert" "$@"
}
# sn CERT: the serial as ocsptool prints it (lower-case hex, the DER
# integer's bytes, so a leading 00 when the top bit is set).
sn() { serial_of "$1" | tr 'A-F' 'a-f' | sed 's/^\([89a-f]\)/00\1/'; }
# assert_answer STATUS CERT: $O is one verified answer about CERT with STATUS.
assert_answer() {
    assert_line "$O" "Response Status: Successful" "ocsptool's output"
    assert_line "$O" "Serial Number: $(sn "$2")" "ocsptool's output"
    assert_line "$O" "Certificate Status: $1" "ocsptool's output"
    assert_contains "$O" "Verifying OCSP Response: Success." "ocsptool's output"
    assert_eq "$RC" 0 "ocsptool's exit status"
}

step "good, URL from the AIA, verified with the issuing CA as signer"
ask "$T/good.pem" "$SUB" --load-signer "$SUB" --outfile "$T/good.der"
assert_answer good "$T/good.pem"
assert_not_contains "$O" "Revocation time" "a good answer"
# What ocsptool received is the precomputed response: the bytes openssl
# ocsp gets for the same SHA-1 CertID without a nonce, and openssl verifies it.
[ -s "$T/good.der" ] || fail "ocsptool --outfile wrote nothing"
openssl ocsp -issuer "$SUB" -cert "$T/good.pem" -no_nonce -url "$URL/ocsp" -respout "$T/good-openssl.der" \
    -CAfile "$T/chain.pem" >/dev/null 2>&1 || fail "openssl ocsp could not fetch the same response"
cmp -s "$T/good.der" "$T/good-openssl.der" || fail "ocsptool and openssl ocsp received different bytes"
o=$(openssl ocsp -respin "$T/good.der" -issuer "$SUB" -cert "$T/good.pem" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK" "openssl ocsp on ocsptool's --outfile"
assert_line "$o" "$T/good.pem: good" "openssl ocsp on ocsptool's --outfile"

step "good, verified against a trust list holding the issuing CA"
ask "$T/good.pem" "$SUB" --load-trust "$T/chain.pem"
assert_answer good "$T/good.pem"
ask "$T/good.pem" "$SUB" --load-trust "$SUB"
assert_answer good "$T/good.pem"

step "the verification is real: a signer that did not sign is refused"
# The root did not issue the responder certificate; were ocsptool to accept
# this, "Success." above would prove nothing.
ask "$T/good.pem" "$SUB" --load-signer "$ROOT"
assert_contains "$O" "Verifying OCSP Response: Failure" "ocsptool with the wrong signer"
assert_not_contains "$O" "Verifying OCSP Response: Success." "ocsptool with the wrong signer"
[ "$RC" -ne 0 ] || fail "ocsptool exited 0 with the wrong signer"

step "the URL given explicitly"
ask "$T/good.pem" "$SUB" "--ask=$URL/ocsp" --load-signer "$SUB"
assert_answer good "$T/good.pem"

step "revoked (before the server started)"
ask "$T/rev.pem" "$SUB" --load-signer "$SUB"
assert_answer revoked "$T/rev.pem"
assert_contains "$O" "Revocation time: " "a revoked answer"

step "a whole chain: the end-entity and the sub CA, each asked of its issuer"
cat "$T/good.pem" "$SUB" "$ROOT" > "$T/c3.pem"
ot --ask --load-chain "$T/c3.pem"
assert_eq "$RC" 0 "ocsptool --load-chain's exit status"
assert_line "$O" "Serial Number: $(sn "$T/good.pem")" "ocsptool --load-chain"
assert_line "$O" "Serial Number: $(sn "$SUB")" "ocsptool --load-chain"
assert_eq "$(printf '%s\n' "$O" | grep -cxF 'Certificate Status: good')" 2 "good answers in the chain"
assert_eq "$(printf '%s\n' "$O" | grep -cxF 'Verifying OCSP Response: Success.')" 2 "verified answers in the chain"

step "a revocation through the socket is what the next ocsptool reads"
ask "$T/later.pem" "$SUB" --load-signer "$SUB"
assert_answer good "$T/later.pem"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/later.pem")" --reason superseded
ask "$T/later.pem" "$SUB" --load-signer "$SUB"
assert_answer revoked "$T/later.pem"
ask "$T/good.pem" "$SUB" --load-signer "$SUB"
assert_answer good "$T/good.pem"

step "an issuer the server does not know: unauthorized"
ask "$T/other.pem" "$T/other/ca/other.pem" --load-signer "$T/other/ca/other.pem"
assert_line "$O" "Response Status: unauthorized" "ocsptool's output"
assert_not_contains "$O" "Certificate Status:" "an unauthorized answer"
[ "$RC" -ne 0 ] || fail "ocsptool exited 0 on an unauthorized answer"

step "revd serve is still up, and SIGTERM stops it"
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -3 "$T/serve.log")"
kill -TERM "$SRV"
for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "revd serve still runs 5 s after SIGTERM"
wait "$SRV"; assert_eq "$?" 0 "revd serve's exit status after SIGTERM"
pass
