#!/bin/bash
# CA keys in a PKCS#11 token (docs/keys.md), with SoftHSM2 as the token and
# GnuTLS's p11tool making the keys inside it: revd's data directory holds
# only their URIs, the certificates, OCSP responses and CRLs they sign verify
# with openssl, the public key in each CA certificate is the one the token
# exports, and the data directory alone (no token, no PIN, another token)
# signs nothing. Bad URIs, a wrong PIN, a missing module and an unsupported
# key are refused with one clear line and nothing created.
. "$(dirname "$0")/lib.sh"
MOD=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MOD" ] || skip "softhsm2 is not installed (scripts/deps.sh test)"
command -v softhsm2-util >/dev/null || skip "softhsm2-util is not installed"
command -v p11tool >/dev/null || skip "p11tool is not installed (gnutls-bin)"
command -v curl >/dev/null || skip "curl is not installed"
OPENSSL_CONF=/dev/null openssl engine pkcs11 >/dev/null 2>&1 ||
    skip "OpenSSL's pkcs11 engine is not installed (libengine-pkcs11-openssl)"
D=$REVD_DIR

# A token of this test's own (SOFTHSM2_CONF points SoftHSM2 at it).
new_token() { # DIR LABEL
    mkdir -p "$1/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$1" >"$1/softhsm2.conf"
    SOFTHSM2_CONF=$1/softhsm2.conf softhsm2-util --init-token --free --label "$2" --pin 123456 \
        --so-pin 12345678 >/dev/null || fail "softhsm2-util could not make token $2"
}
p11() { GNUTLS_PIN=123456 p11tool --provider "$MOD" --login "$@"; }
p11gen() { # TYPE-OPTIONS... LABEL
    local label=${*: -1}
    p11 --generate-privkey "${@:1:$#-1}" --label "$label" "pkcs11:token=revd-test" >/dev/null 2>&1 ||
        fail "p11tool could not make key $label in the token"
}
new_token "$T/hsm" revd-test
export SOFTHSM2_CONF=$T/hsm/softhsm2.conf
p11gen ECDSA --curve secp384r1 root
p11gen RSA --bits 2048 sub
p11gen ECDSA --curve secp521r1 p521
printf '123456\n' >"$T/pin"
chmod 600 "$T/pin"
export REVD_PKCS11_MODULE=$MOD REVD_PKCS11_PIN_FILE=$T/pin
U="pkcs11:token=revd-test;object="
PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
make_csr ee /CN=ee
make_csr ee2 /CN=ee2

step "a root and a subordinate whose keys are in the token; the data directory holds only their URIs"
run_ok revd ca create-root --name root --subject /CN=HSM-Root --key-uri "${U}root;type=private" --base-url "$URL"
run_ok revd ca create-sub --name sub --parent root --subject /CN=HSM-Sub --key-uri "${U}sub;type=private" --base-url "$URL"
run_ok revd ca list
assert_match "$OUT" 'root +active +ec-p384' "the root's key type, from the token"
assert_match "$OUT" 'sub +active +rsa-2048 +root' "the subordinate's key type, from the token"
assert_eq "$(cat "$D/keys/root.key")" "${U}root;type=private" "DIR/keys/root.key"
assert_eq "$(cat "$D/keys/sub.key")" "${U}sub;type=private" "DIR/keys/sub.key"
assert_file_mode "$D/keys/root.key" 600
for n in root sub; do
    # The certificate's public key is the token's: the token made the key, and it signed.
    p11 --export-pubkey "${U}$n;type=public" 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null >"$T/$n.tok.der"
    openssl x509 -in "$D/ca/$n.pem" -pubkey -noout | openssl pkey -pubin -outform DER >"$T/$n.crt.der"
    [ -s "$T/$n.tok.der" ] || fail "p11tool exported no public key for $n"
    cmp -s "$T/$n.tok.der" "$T/$n.crt.der" || fail "the public key in $n's certificate is not the token's"
done
verify_chain "$D/ca/root.pem" "" "$D/ca/sub.pem"
# The CRL partitions are sized for the token key's signatures (RSA 2048 here).
run_ok revd ca create-root --dir "$T/ref" --name r --subject /CN=r --key rsa-2048
run_ok revd ca show --dir "$T/ref" r --json
want=$(printf '%s' "$OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["partition_size"])')
run_ok revd ca show sub --json
json_ok "$OUT" 'j["partition_size"] == '"$want"
run_ok revd keys status
assert_line "$OUT" "token      $D/keys/root.key"
assert_line "$OUT" "token      $D/keys/sub.key"
run_ok revd log
assert_contains "$OUT" '"key_uri":"pkcs11:token=revd-test;object=root;type=private"'

step "certificates, OCSP responses and CRLs signed in the token verify with openssl"
issue_to "$T/a.pem" --ca sub --csr "$T/ee.csr"
issue_to "$T/b.pem" --ca sub --csr "$T/ee2.csr"
cat "$D/ca/sub.pem" >"$T/untrusted.pem"
verify_chain "$D/ca/root.pem" "$T/untrusted.pem" "$T/a.pem"
run_ok revd revoke --ca sub --serial "$(serial_of "$T/b.pem")" --reason keyCompromise
run_ok revd admin init
run_ok revd admin issue-credential --name ops --role admin --out "$T/creds"
# The server takes the PIN from $REVD_PKCS11_PIN, and wipes it: not in
# /proc/PID/environ for its life (unsetenv alone left it there).
REVD_PKCS11_PIN_FILE='' REVD_PKCS11_PIN=123456 serve_bg "$T/s.log" --listen "127.0.0.1:$PORT" --threads 1 \
    --crl-coalesce 0 "${IO_ARGS[@]}" --admin-listen "127.0.0.1:$((PORT + 1))"
assert_not_contains "$(tr '\0' '\n' <"/proc/$SRV/environ")" "REVD_PKCS11_PIN=" "the server's /proc/PID/environ"
for x in a:good b:revoked; do
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/${x%:*}.pem" -no_nonce -url "$URL/ocsp" \
        -CAfile "$D/ca/root.pem" -verify_other "$D/ca/sub.pem" 2>&1)
    assert_line "$o" "$T/${x%:*}.pem: ${x#*:}" "openssl ocsp on ${x%:*}"
    assert_contains "$o" "Response verify OK" "the OCSP response's signature chain"
done
cdp=$(openssl x509 -in "$T/a.pem" -noout -ext crlDistributionPoints | sed -n 's/.*URI://p' | head -1)
curl -sf -o "$T/crl.der" "$cdp" || fail "no CRL at $cdp"
openssl crl -inform DER -in "$T/crl.der" -out "$T/crl.pem" || fail "openssl cannot read the CRL"
cat "$D/ca/root.pem" "$D/ca/sub.pem" >"$T/chain.pem"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/crl.pem" "$T/a.pem" 2>&1) ||
    fail "openssl verify -crl_check refused a: $o"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/crl.pem" "$T/b.pem" 2>&1) &&
    fail "openssl verify -crl_check accepted the revoked b"
assert_contains "$o" "certificate revoked"
# Through the running server's socket too: the server's core has the token.
issue_to "$T/c.pem" --ca sub --csr "$T/ee.csr"
verify_chain "$D/ca/root.pem" "$T/untrusted.pem" "$T/c.pem"
kill -HUP "$SRV"
for _ in $(seq 100); do grep -q "reloaded the configuration" "$T/s.log" && break; sleep 0.1; done
assert_contains "$(cat "$T/s.log")" "and 2 CA keys" "SIGHUP re-read both token keys"
assert_not_contains "$(cat "$T/s.log")" "key_refused" "SIGHUP"
issue_to "$T/d.pem" --ca sub --csr "$T/ee.csr"
# The admin API: POST /v1/cas with key_uri.
api() { # BODY: the status code; the body in $T/api.out
    curl -s -o "$T/api.out" -w '%{http_code}' --cacert "$T/creds/ca.pem" --cert "$T/creds/ops.pem" \
        --key "$T/creds/ops.key" -H 'Content-Type: application/json' -d "$1" "https://127.0.0.1:$((PORT + 1))/v1/cas"
}
p11gen ECDSA --curve secp256r1 api
assert_eq "$(api '{"name":"api","subject":"/CN=api","parent":"root","key_uri":"'"${U}api;type=private"'"}')" 201 \
    "POST /v1/cas with key_uri: $(cat "$T/api.out")"
json_ok "$(cat "$T/api.out")" 'j["key"] == "ec-p256"'
assert_eq "$(cat "$D/keys/api.key")" "${U}api;type=private" "DIR/keys/api.key"
assert_eq "$(api '{"name":"api2","subject":"/CN=api2","key":"ec-p256","key_uri":"'"${U}api;type=private"'"}')" 400 \
    "POST /v1/cas with key and key_uri"
assert_contains "$(cat "$T/api.out")" "exclude each other"
kill -TERM "$SRV"; wait "$SRV" || fail "revd serve did not stop cleanly: $(tail -5 "$T/s.log")"

step "keys encrypt and rekey leave the token's references as they are"
printf 'correct horse battery staple\n' >"$T/pass"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd keys encrypt
assert_eq "$(cat "$D/keys/root.key")" "${U}root;type=private" "root.key after keys encrypt"
assert_eq "$(head -1 "$D/keys/sub.ocsp.key")" "-----BEGIN ENCRYPTED PRIVATE KEY-----" "the responder's key"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_ok revd issue --ca sub --csr "$T/ee.csr"

step "the data directory alone signs nothing"
cp -a "$D" "$T/stolen"
(
    unset REVD_PKCS11_PIN_FILE
    REVD_KEY_PASSPHRASE_FILE=$T/pass run_fail 1 revd issue --dir "$T/stolen" --ca sub --csr "$T/ee.csr"
    assert_contains "$ERR" "$T/stolen/keys/sub.key: the key is in a PKCS#11 token"
    assert_contains "$ERR" "REVD_PKCS11_PIN_FILE"
)
# Another machine's token, with the same label and PIN, has no such key.
new_token "$T/other" revd-test
SOFTHSM2_CONF=$T/other/softhsm2.conf REVD_KEY_PASSPHRASE_FILE=$T/pass \
    run_fail 1 revd issue --dir "$T/stolen" --ca sub --csr "$T/ee.csr"
assert_contains "$ERR" "$T/stolen/keys/sub.key: no private key ${U}sub;type=private in the token"
SOFTHSM2_CONF=$T/other/softhsm2.conf REVD_KEY_PASSPHRASE_FILE=$T/pass \
    run_fail 1 revd crl rebuild --dir "$T/stolen" --ca root
# Only CA keys may be in a token (the responder's key signs on other threads).
printf '%s\n' "${U}root;type=private" >"$T/stolen/keys/sub.ocsp.key"
REVD_KEY_PASSPHRASE_FILE=$T/pass run_fail 1 revd ocsp respond --dir "$T/stolen" --ca sub --serial "$(serial_of "$T/a.pem")" \
    --out "$T/r.der"
assert_contains "$ERR" "only CA keys may be kept in a token"
printf '654321\n' >"$T/wrongpin"
REVD_PKCS11_PIN_FILE=$T/wrongpin REVD_KEY_PASSPHRASE_FILE=$T/pass run_fail 1 revd issue --ca sub --csr "$T/ee.csr"
assert_contains "$ERR" "or its PIN was refused"

step "bad URIs, a missing module and an unsupported key: refused, nothing created"
before=$(snapshot root sub)
refused() { # URI MESSAGE
    run_fail 1 revd ca create-root --name x --subject /CN=x --key-uri "$1"
    assert_contains "$ERR" "$2" "--key-uri $1"
}
refused "${U}root;pin-value=123456" "carries a PIN, which would be written in the data directory"
refused "${U}root?pin-value=123456" "carries a PIN"
refused "${U}root?module-name=softhsm2&pin-source=file:$T/pin" "carries a PIN"
refused "pkcs11:token=revd-test" "names no key"
refused "pkcs11:token=revd-test;slot-id=0" "names no key"
refused "pkcs11:token=revd-test;model=object=x" "names no key"
refused "file:///etc/passwd" "does not begin with pkcs11:"
refused "${U}no such key" "holds a space"
refused "${U}missing;type=private" "the key URI: no private key ${U}missing;type=private in the token"
refused "${U}p521;type=private" "revd's CA keys are P-256 or P-384"
refused "${U}sub;type=private" "the token's key is already the key of CA sub: one key, one CA"
run_ok revd log
assert_not_contains "$OUT" "pin-value" "the audit log after refused URIs"
assert_not_contains "$OUT" "pin-source" "the audit log after refused URIs"
REVD_PKCS11_MODULE=/nonexistent/libp11.so run_fail 1 revd ca create-root --name x --subject /CN=x \
    --key-uri "${U}root;type=private"
assert_contains "$ERR" "REVD_PKCS11_MODULE: /nonexistent/libp11.so cannot be read"
REVD_PKCS11_MODULE=relative.so run_fail 1 revd ca list
assert_contains "$ERR" "absolute path"
run_fail 2 revd ca create-root --name x --subject /CN=x --key ec-p256 --key-uri "${U}root;type=private"
assert_contains "$ERR" "--key and --key-uri exclude each other"
assert_unchanged "$before" root sub
[ -e "$D/keys/x.key" ] && fail "a refused create left DIR/keys/x.key"
pass
