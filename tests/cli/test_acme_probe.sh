#!/bin/bash
# revd's ACME server under Go's ACME prober (golang.org/x/crypto's
# acme/internal/acmeprobe, Debian's golang-golang-x-crypto-dev, built here
# with Debian's go): the RFC 8555 order flow with http-01 for a DNS name,
# tls-alpn-01 for a DNS name, and http-01 for the IP identifier 127.0.0.1;
# each certificate is in revd's report. tls-alpn-01 for 127.0.0.1 is refused:
# x/crypto 0.4.0's challenge certificate carries the address as a dNSName,
# where RFC 8738 6 asks for an iPAddress (revd asks with the reverse-name SNI,
# which the prober logs; uacme/ualpn pass that case in test_acme_uacme). The prober has no EAB:
# revd runs with --acme-eab optional --acme-ca sub. The "preauthz" flow
# (newAuthz) is refused: revd's directory has no newAuthz.
. "$(dirname "$0")/acmelib.sh"
[ "$PEBBLE" = 1 ] && skip "revd only"
command -v go >/dev/null 2>&1 || skip "go is not installed (Debian package golang-go)"
PROBER=/usr/share/gocode/src/golang.org/x/crypto/acme/internal/acmeprobe/prober.go
[ -f "$PROBER" ] || skip "Go's ACME prober is not installed (Debian package golang-golang-x-crypto-dev)"

acme_ca_setup
dns_start

step "start refused: no certificate, an unknown CA, a bad resolver, a bad profile"
_run revd serve --listen "127.0.0.1:$OCSP_PORT" --acme-listen "127.0.0.1:$ACME_PORT"
[ "$RC" -ne 0 ] && [[ "$ERR" == *"--acme-listen needs --acme-cert FILE and --acme-key FILE"* ]] ||
    fail "serve without --acme-cert: exit $RC: $ERR"
_run revd serve --listen "127.0.0.1:$OCSP_PORT" --acme-listen "127.0.0.1:$ACME_PORT" --acme-cert "$T/acme.pem" \
    --acme-key "$T/acme.key" --acme-eab optional --acme-ca nope
[ "$RC" -ne 0 ] && [[ "$ERR" == *"--acme-ca nope: no such CA"* ]] || fail "serve with an unknown --acme-ca: exit $RC: $ERR"
run_fail_arg revd serve --acme-resolver "dns.example:53"
run_fail_arg revd serve --acme-template sub-ca

acme_serve --acme-eab optional --acme-ca sub

step "build the prober"
mkdir -p "$T/gocache" "$T/gopath"
export GOCACHE=$T/gocache GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS=-mod=mod
# The prober is an internal package: copy it out to build it as a command.
mkdir -p "$T/probe" && cp "$PROBER" "$T/probe/main.go"
(cd "$T/probe" && timeout 300 go build -o "$T/prober" main.go) >"$T/gobuild.log" 2>&1 ||
    fail "go build of the prober failed: $(tail -20 "$T/gobuild.log")"

# probe FLOW TYPE ADDR IDENT-FLAG IDENT: one run; the log in $T/probe.log.
probe() {
    SSL_CERT_FILE=$CA_BUNDLE timeout -k 5 120 "$T/prober" -d "$DIR_URL" -f "$1" -t "$2" -a "$3" "$4" "$5" \
        >"$T/probe.log" 2>&1
}

step "order flow, http-01, DNS name"
probe order http-01 "127.0.0.1:$HTTP_PORT" -domain probe.example.test ||
    fail "the prober failed: $(tail -20 "$T/probe.log")"
grep -qi "cert\|success\|all done" "$T/probe.log" || fail "the prober says nothing of a certificate: $(tail "$T/probe.log")"

step "order flow, tls-alpn-01, DNS name"
probe order tls-alpn-01 "127.0.0.1:$TLS_PORT" -domain alpn.probe.example.test ||
    fail "the prober failed: $(tail -20 "$T/probe.log")"

step "order flow, http-01, IP 127.0.0.1 (RFC 8738)"
probe order http-01 "127.0.0.1:$HTTP_PORT" -ip 127.0.0.1 ||
    fail "the prober failed: $(tail -20 "$T/probe.log")"

step "tls-alpn-01 for 127.0.0.1 with a dNSName in the challenge certificate: refused"
probe order tls-alpn-01 "127.0.0.1:$TLS_PORT" -ip 127.0.0.1 &&
    fail "an IP identifier validated with a dNSName challenge certificate"
assert_contains "$(cat "$T/probe.log")" "ServerName:1.0.0.127.in-addr.arpa" "the RFC 8738 SNI revd sent"
assert_contains "$(cat "$T/probe.log")" "urn:ietf:params:acme:error:unauthorized" "the refusal"

step "what was issued: the three certificates, in the report"
run_ok revd report --ca sub --format csv
for n in probe.example.test alpn.probe.example.test; do
    assert_contains "$OUT" "$n" "the report's certificate for $n"
done
# The ACME server's own certificate names 127.0.0.1 too: the prober's is a second.
[ "$(printf '%s\n' "$OUT" | grep -c '127\.0\.0\.1')" -ge 2 ] || fail "no certificate for 127.0.0.1 in the report"

step "preauthz flow: refused (no newAuthz)"
if probe preauthz http-01 "127.0.0.1:$HTTP_PORT" -domain pre.example.test; then
    fail "the preauthz flow succeeded against a directory without newAuthz"
fi
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -20 "$T/serve.log")"
pass
