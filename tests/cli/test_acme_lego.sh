#!/bin/bash
# ACME with lego 4.9.1 against revd (RFC 8555): an account with EAB; http-01
# for www.example.test, tls-alpn-01 for alpn.example.test, dns-01 for
# *.w.example.test (lego's exec provider setting TXT records in
# pebble-challtestsrv, the resolver revd is pointed at); each certificate
# chains to root through sub, has the requested SAN, answers good over OCSP;
# `lego revoke --reason 1` makes OCSP say revoked (keyCompromise) and puts the
# serial in the CRL. Refusals: registration without EAB
# (externalAccountRequired); a name outside the EAB key's allow list
# (rejectedIdentifier), nothing issued.
. "$(dirname "$0")/acmelib.sh"
command -v lego >/dev/null 2>&1 || skip "lego is not installed (Debian package lego)"

acme_ca_setup
dns_start
acme_serve
eab_create --template server --allow example.test --allow 127.0.0.0/8

export LEGO_CA_CERTIFICATES=$CA_BUNDLE
L=$T/lego
lego_run() { # lego args... (account ops@example.test, EAB, in $L)
    _run timeout -k 5 60 lego -s "$DIR_URL" -a -m ops@example.test --path "$L" \
        --eab --kid "$EAB_KID" --hmac "$EAB_HMAC" "$@"
}

step "http-01: www.example.test"
lego_run -d www.example.test --http --http.port "127.0.0.1:$HTTP_PORT" run
[ "$RC" -eq 0 ] || fail "lego run (http-01) failed"
C=$L/certificates
issued_ok "$C/www.example.test.crt" "DNS:www.example.test"
[ "$PEBBLE" = 1 ] || cmp -s <(openssl x509 -in "$C/www.example.test.issuer.crt") <(openssl x509 -in "$SUB_PEM") ||
    fail "lego's issuer certificate is not sub's"
ocsp_good "$C/www.example.test.crt"

step "tls-alpn-01: alpn.example.test"
lego_run -d alpn.example.test --tls --tls.port "127.0.0.1:$TLS_PORT" run
[ "$RC" -eq 0 ] || fail "lego run (tls-alpn-01) failed"
issued_ok "$C/alpn.example.test.crt" "DNS:alpn.example.test"
ocsp_good "$C/alpn.example.test.crt"

step "dns-01: *.w.example.test through the exec provider"
cat >"$T/lego-exec.sh" <<SH
#!/bin/sh
# lego's exec provider: \$1 present|cleanup, \$2 FQDN, \$3 value
case "\$1" in
present) curl -sf -X POST -d "{\"host\":\"\$2\",\"value\":\"\$3\"}" http://127.0.0.1:$MGMT_PORT/set-txt ;;
cleanup) curl -sf -X POST -d "{\"host\":\"\$2\"}" http://127.0.0.1:$MGMT_PORT/clear-txt ;;
esac
echo "\$1 \$2" >>"$T/lego-exec.calls"
SH
chmod +x "$T/lego-exec.sh"
EXEC_PATH=$T/lego-exec.sh EXEC_PROPAGATION_TIMEOUT=20 EXEC_POLLING_INTERVAL=1 \
    lego_run -d '*.w.example.test' --dns exec --dns.resolvers "127.0.0.1:$DNS_PORT" --dns.disable-cp run
[ "$RC" -eq 0 ] || fail "lego run (dns-01) failed"
assert_contains "$(cat "$T/lego-exec.calls" 2>/dev/null)" "present _acme-challenge.w.example.test." "exec provider calls"
issued_ok "$C/_.w.example.test.crt" "DNS:*.w.example.test"
ocsp_good "$C/_.w.example.test.crt"

step "revoke --reason 1 (keyCompromise)"
cp "$C/www.example.test.crt" "$T/www.pem"
# (lego 4.9.1 refuses to revoke without --eab/--kid/--hmac when the directory
# says externalAccountRequired, though the account exists: lego_run passes them)
lego_run -d www.example.test revoke --reason 1
[ "$RC" -eq 0 ] || fail "lego revoke failed"
ocsp_revoked "$T/www.pem" keyCompromise
ocsp_good "$C/alpn.example.test.crt"

step "registration without EAB is refused"
_run timeout -k 5 60 lego -s "$DIR_URL" -a -m noeab@example.test --path "$T/noeab" \
    -d noeab.example.test --http --http.port "127.0.0.1:$HTTP_PORT" run
[ "$RC" -ne 0 ] || fail "lego registered and ran without EAB"
# lego 4.9.1 reads the directory's meta.externalAccountRequired and refuses
# before it sends new-account ("Server requires External Account Binding");
# had it sent one, the server's problem type would be in its error. The
# server's own refusal is checked in test_acme_hostile.py.
json_ok "$(cat "$T/directory.json")" 'j["meta"]["externalAccountRequired"] is True'
case "$OUT$ERR" in
*"urn:ietf:params:acme:error:externalAccountRequired"* | *"Server requires External Account Binding"*) ;;
*) fail "lego's error should say that EAB is required" ;;
esac
[ ! -e "$T/noeab/certificates/noeab.example.test.crt" ] || fail "a certificate was issued without EAB"
nothing_issued_for noeab.example.test

step "a name outside the EAB key's allow list is refused"
if [ "$PEBBLE" = 1 ]; then
    pebble_note "allow list"
else
    lego_run -d evil.other.test --http --http.port "127.0.0.1:$HTTP_PORT" run
    [ "$RC" -ne 0 ] || fail "lego got a certificate for a name outside the allow list"
    assert_contains "$OUT$ERR" "urn:ietf:params:acme:error:rejectedIdentifier" "lego's error"
    [ ! -e "$C/evil.other.test.crt" ] || fail "a certificate for evil.other.test was written"
    nothing_issued_for evil.other.test
fi

pass
