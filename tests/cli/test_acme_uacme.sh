#!/bin/bash
# ACME with uacme 1.7.4 + ualpn against revd (RFC 8555, RFC 8738): an account
# with EAB (uacme -e KID:KEY); tls-alpn-01 answered by ualpn on the port revd
# validates, for a DNS name and for the IP identifier 127.0.0.1; each
# certificate chains to root through sub with the requested SAN (DNS: / IP:)
# and answers good over OCSP; `uacme -r 1 revoke` -> OCSP revoked.
# uacme has no CA-bundle option (it trusts the system store only): it runs in
# a private mount namespace with root.pem bind-mounted over
# /etc/ssl/certs/ca-certificates.crt; the system store is never modified.
. "$(dirname "$0")/acmelib.sh"
command -v uacme >/dev/null 2>&1 || skip "uacme is not installed (Debian package uacme)"
command -v ualpn >/dev/null 2>&1 || skip "ualpn is not installed (Debian package uacme)"
SYS_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[ -f "$SYS_BUNDLE" ] || skip "$SYS_BUNDLE does not exist (nothing to bind-mount over)"
command -v unshare >/dev/null 2>&1 || skip "unshare is not installed"
unshare -m sh -c "mount --bind /dev/null $SYS_BUNDLE" >/dev/null 2>&1 ||
    skip "cannot make a private mount namespace (unshare -m + mount --bind need root or CAP_SYS_ADMIN); uacme trusts only the system store"

acme_ca_setup
dns_start
acme_serve
eab_create --template server --allow example.test --allow 127.0.0.0/8

step "start ualpn"
read -r BACKEND_PORT <<<"$(free_ports 1)"
ualpn -v -b "127.0.0.1@$TLS_PORT" -c "127.0.0.1@$BACKEND_PORT" -s "$T/ualpn.sock" >"$T/ualpn.log" 2>&1 </dev/null &
UALPN=$!
BG_PIDS="$BG_PIDS $UALPN"
# ualpn forks workers: stop it with SIGTERM first so that it reaps them
# (lib.sh's cleanup sends SIGKILL to the main process only)
trap 'kill -TERM "$UALPN" 2>/dev/null; wait "$UALPN" 2>/dev/null; _cleanup' EXIT
for _ in $(seq 50); do [ -S "$T/ualpn.sock" ] && break; sleep 0.1; done
[ -S "$T/ualpn.sock" ] || fail "ualpn did not start: $(cat "$T/ualpn.log")"
cat >"$T/hook.sh" <<SH
#!/bin/sh
# uacme hook: METHOD TYPE IDENT TOKEN AUTH; only tls-alpn-01, through ualpn
[ "\$2" = tls-alpn-01 ] || exit 1
echo "\$1 \$2 \$3" >>"$T/hook.calls"
case "\$1" in
begin) out=\$(echo "auth \$3 \$5" | ualpn -s "$T/ualpn.sock") ;;
*) out=\$(echo "unauth \$3" | ualpn -s "$T/ualpn.sock") ;;
esac
[ "\$out" = OK ]
SH
chmod +x "$T/hook.sh"

U=$T/uacme
# uac ARGS...: uacme with root.pem as the only trusted CA, in its own mount namespace
uac() {
    _run timeout -k 5 60 unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec uacme "$@"' \
        sh "$CA_BUNDLE" "$SYS_BUNDLE" -v -c "$U" -a "$DIR_URL" "$@"
}

step "new account with EAB"
uac -e "$EAB_KID:$EAB_HMAC" -y new ops@example.test
[ "$RC" -eq 0 ] || fail "uacme new failed"
[ -f "$U/private/key.pem" ] || fail "uacme wrote no account key"
cmp -s "$SYS_BUNDLE" "$CA_BUNDLE" && fail "the system store was modified"

step "tls-alpn-01: ua.example.test"
uac -h "$T/hook.sh" -t EC issue ua.example.test
[ "$RC" -eq 0 ] || fail "uacme issue ua.example.test failed"
assert_contains "$(cat "$T/hook.calls")" "begin tls-alpn-01 ua.example.test" "hook calls"
# the validator really did the acme-tls/1 handshake with ualpn
assert_contains "$(cat "$T/ualpn.log")" "handshake with auth" "ualpn log"
grep -q "acme-tls/1 handshake with auth .* for ua.example.test completed" "$T/ualpn.log" ||
    fail "ualpn saw no acme-tls/1 handshake for ua.example.test: $(tail -5 "$T/ualpn.log")"
issued_ok "$U/ua.example.test/cert.pem" "DNS:ua.example.test"
ocsp_good "$U/ua.example.test/cert.pem"

step "tls-alpn-01: 127.0.0.1 (RFC 8738)"
uac -h "$T/hook.sh" -t EC issue 127.0.0.1
[ "$RC" -eq 0 ] || fail "uacme issue 127.0.0.1 failed"
assert_contains "$(cat "$T/hook.calls")" "begin tls-alpn-01 127.0.0.1" "hook calls"
# RFC 8738 section 6: the SNI of an IP's tls-alpn-01 is its reverse-DNS name
grep -q "acme-tls/1 handshake with auth .* for 1.0.0.127.in-addr.arpa completed" "$T/ualpn.log" ||
    fail "ualpn saw no acme-tls/1 handshake with SNI 1.0.0.127.in-addr.arpa (RFC 8738): $(tail -5 "$T/ualpn.log")"
issued_ok "$U/127.0.0.1/cert.pem" "IP:127.0.0.1"
ocsp_good "$U/127.0.0.1/cert.pem"

step "revoke (reason 1, the account's key)"
cp "$U/ua.example.test/cert.pem" "$T/ua.pem"
uac -r 1 revoke "$U/ua.example.test/cert.pem"
[ "$RC" -eq 0 ] || fail "uacme revoke failed"
ocsp_revoked "$T/ua.pem" keyCompromise
ocsp_good "$U/127.0.0.1/cert.pem"

pass
