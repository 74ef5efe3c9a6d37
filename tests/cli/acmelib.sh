# tests/cli/acmelib.sh: sourced (after lib.sh's rules) by the tests that drive
# real ACME clients (lego, certbot, uacme, caddy) and the hand-written hostile
# client against revd's ACME server (RFC 8555).
#
# It sets up: a root CA "root" and an issuing CA "sub" whose base URL is the
# OCSP/CRL listener; the ACME server's TLS certificate issued by sub (template
# server, SAN DNS:localhost,IP:127.0.0.1, chain included); pebble-challtestsrv
# as the DNS server every name resolves through (all names -> 127.0.0.1, TXT
# records set over its management port); then `revd serve` with ACME on.
#
# Ports (all free loopback ports, picked by the kernel):
#   OCSP_PORT (OCSP/CRL), ACME_PORT (the ACME directory), HTTP_PORT (http-01),
#   TLS_PORT (tls-alpn-01), DNS_PORT (the resolver), MGMT_PORT (challtestsrv).
#
# ACME_VS_PEBBLE=1 runs the same client steps against Debian's pebble instead
# of revd (to check the client-side parts of a test); the revd-only checks
# (OCSP, CRL, EAB allow lists, the index) are then skipped with a note.
# (pebble's random nonce rejection is turned off.)

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"
command -v pebble-challtestsrv >/dev/null 2>&1 ||
    skip "pebble-challtestsrv (Debian package pebble) is not installed"
PEBBLE=${ACME_VS_PEBBLE:-0}
if [ "$PEBBLE" = 1 ]; then
    command -v pebble >/dev/null 2>&1 || skip "ACME_VS_PEBBLE=1 but pebble is not installed"
fi

# free_ports N: N distinct free TCP+UDP loopback ports, one a line.
free_ports() {
    "$PY" - "$1" <<'PY'
import socket, sys
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); continue
    socks += [t, u]; ports.append(p)
print("\n".join(map(str, ports)))
PY
}
read -r OCSP_PORT ACME_PORT HTTP_PORT TLS_PORT DNS_PORT MGMT_PORT PEB_MGMT_PORT \
    <<<"$(free_ports 7 | tr '\n' ' ')"
[ -n "$PEB_MGMT_PORT" ] || fail "could not pick free ports"
OCSP_URL=http://127.0.0.1:$OCSP_PORT
if [ "$PEBBLE" = 1 ]; then
    DIR_URL=https://127.0.0.1:$ACME_PORT/dir
else
    DIR_URL=https://127.0.0.1:$ACME_PORT/acme/directory
fi
D=$REVD_DIR
ROOT_PEM=$D/ca/root.pem
SUB_PEM=$D/ca/sub.pem
# What the ACME clients trust (the ACME server's certificate chains to it).
CA_BUNDLE=$T/root.pem

# pebble_note WHAT: a revd-only check skipped in pebble mode.
pebble_note() { echo "note: $TEST_NAME: pebble mode: skipped revd-only check: $*"; }

# ---------------------------------------------------------------- the CAs
acme_ca_setup() {
    step "CA setup"
    create_root root --base-url "$OCSP_URL"
    create_sub sub root --base-url "$OCSP_URL"
    cp "$ROOT_PEM" "$CA_BUNDLE"
    cat "$SUB_PEM" "$ROOT_PEM" >"$T/chain.pem"
    make_csr acme "/CN=localhost"
    issue_to "$T/acme.pem" --ca sub --csr "$T/acme.csr" --template server \
        --san DNS:localhost,IP:127.0.0.1 --chain
    [ "$(count_certs "$T/acme.pem")" -ge 2 ] || fail "issue --chain printed no chain"
}

# ---------------------------------------------------------------- DNS mock
# challtestsrv: every A query answers 127.0.0.1, no AAAA (the challenge
# servers listen on 127.0.0.1 only); TXT records through set_txt/clear_txt.
dns_start() {
    pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
        -management "127.0.0.1:$MGMT_PORT" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
        >"$T/challtestsrv.log" 2>&1 </dev/null &
    BG_PIDS="$BG_PIDS $!"
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$MGMT_PORT/" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "pebble-challtestsrv did not start: $(cat "$T/challtestsrv.log")"
}
# set_txt FQDN VALUE / clear_txt FQDN (FQDN with or without the final dot)
set_txt() {
    curl -sf -X POST -d "{\"host\":\"${1%.}.\",\"value\":\"$2\"}" "http://127.0.0.1:$MGMT_PORT/set-txt" >/dev/null
}
clear_txt() {
    curl -sf -X POST -d "{\"host\":\"${1%.}.\"}" "http://127.0.0.1:$MGMT_PORT/clear-txt" >/dev/null
}

# ---------------------------------------------------------------- the server
# acme_serve [extra revd serve args...]: starts the ACME server (revd, or
# pebble in pebble mode) and waits for it.
acme_serve() {
    step "start the ACME server"
    if [ "$PEBBLE" = 1 ]; then pebble_serve; return; fi
    serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$OCSP_PORT" "${IO_ARGS[@]}" \
        --acme-listen "127.0.0.1:$ACME_PORT" --acme-cert "$T/acme.pem" --acme-key "$T/acme.key" \
        --acme-http-port "$HTTP_PORT" --acme-tls-port "$TLS_PORT" \
        --acme-resolver "127.0.0.1:$DNS_PORT" "$@"
    for _ in $(seq 100); do
        grep -q 'ACME server on https' "$T/serve.log" && break
        kill -0 "$SRV" 2>/dev/null || break
        sleep 0.1
    done
    grep -q 'ACME server on https' "$T/serve.log" || fail "revd serve did not say 'ACME server on https': $(tail -20 "$T/serve.log")"
    curl -sf --cacert "$CA_BUNDLE" -o "$T/directory.json" "$DIR_URL" ||
        fail "GET $DIR_URL failed"
}

PEBBLE_KID=kid-1
PEBBLE_HMAC=zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W
pebble_serve() {
    cat >"$T/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT",
 "managementListenAddress": "127.0.0.1:$PEB_MGMT_PORT",
 "certificate": "$T/acme.pem", "privateKey": "$T/acme.key",
 "httpPort": $HTTP_PORT, "tlsPort": $TLS_PORT, "ocspResponderURL": "",
 "externalAccountBindingRequired": ${PEBBLE_EAB:-true},
 "externalAccountMACKeys": {"$PEBBLE_KID": "$PEBBLE_HMAC"}}}
EOF
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$T/pebble.json" \
        -dnsserver "127.0.0.1:$DNS_PORT" >"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    BG_PIDS="$BG_PIDS $SRV"
    for _ in $(seq 100); do
        curl -sf --cacert "$CA_BUNDLE" -o "$T/directory.json" "$DIR_URL" 2>/dev/null && break
        sleep 0.1
    done
    curl -sf --cacert "$CA_BUNDLE" -o /dev/null "$DIR_URL" || fail "pebble did not start: $(cat "$T/serve.log")"
    # pebble's issuing chain: its own random root and intermediate.
    curl -sf -k "https://127.0.0.1:$PEB_MGMT_PORT/roots/0" -o "$T/pebble-root.pem" &&
        curl -sf -k "https://127.0.0.1:$PEB_MGMT_PORT/intermediates/0" -o "$T/pebble-int.pem" ||
        fail "could not fetch pebble's roots"
}

# eab_create [eab-create args...]: a new EAB key; sets EAB_KID and EAB_HMAC.
# (pebble mode: its one configured key; the allow list is not enforced.)
eab_create() {
    if [ "$PEBBLE" = 1 ]; then EAB_KID=$PEBBLE_KID EAB_HMAC=$PEBBLE_HMAC; return; fi
    run_ok revd acme eab-create --dir "$D" --ca sub "$@"
    EAB_KID=$(kv kid)
    EAB_HMAC=$(kv hmac)
    assert_match "$EAB_KID" '^[A-Za-z0-9_.-]+$' "eab-create kid"
    assert_match "$EAB_HMAC" '^[A-Za-z0-9_-]{22,}$' "eab-create hmac (base64url)"
}

# ---------------------------------------------------------------- checks
# issued_ok CERT SAN: CERT (leaf first, chain may follow) chains to root
# through sub and carries exactly the SANs SAN (certinfo's form: DNS:a;DNS:b).
issued_ok() {
    local cert=$1 san=$2 leaf=$T/.leaf.pem
    openssl x509 -in "$cert" -out "$leaf" 2>/dev/null || fail "$cert is not a certificate"
    if [ "$PEBBLE" = 1 ]; then
        verify_chain "$T/pebble-root.pem" "$T/pebble-int.pem" "$leaf"
    else
        verify_chain "$ROOT_PEM" "$SUB_PEM" "$leaf"
        assert_ci "$(certinfo "$leaf")" issuer "/CN=sub" "issued certificate"
    fi
    assert_ci "$(certinfo "$leaf")" san "$san" "issued certificate"
}

# ocsp_of CERT: what revd's OCSP listener says (openssl ocsp's output, the
# status line and the reason) in $OCSP_OUT; asked at the certificate's own
# OCSP URL (revd's --listen).
ocsp_of() {
    openssl x509 -in "$1" -out "$T/.ocspleaf.pem" 2>/dev/null
    local url; url=$(ci ocsp "$(certinfo "$T/.ocspleaf.pem")" | cut -d';' -f1)
    OCSP_OUT=$(openssl ocsp -issuer "$SUB_PEM" -cert "$T/.ocspleaf.pem" -no_nonce \
        -url "$url" -CAfile "$T/chain.pem" 2>&1)
}
# ocsp_good CERT
ocsp_good() {
    if [ "$PEBBLE" = 1 ]; then pebble_note "OCSP good for $1"; return; fi
    local ocsp; ocsp=$(ci ocsp "$(certinfo "$1")")
    assert_match "$ocsp" "^$OCSP_URL" "the OCSP URL in the issued certificate"
    assert_match "$(ci cdp "$(certinfo "$1")")" "^$OCSP_URL" "the CRL URL in the issued certificate"
    ocsp_of "$1"
    assert_contains "$OCSP_OUT" "Response verify OK" "openssl ocsp"
    assert_line "$OCSP_OUT" "$T/.ocspleaf.pem: good" "openssl ocsp"
}
# ocsp_revoked CERT [REASON]: OCSP says revoked (with REASON, openssl's
# spelling, e.g. keyCompromise), and the serial is in the CRL partition of
# the certificate's CDP within ~15 s (CRL updates are coalesced).
ocsp_revoked() {
    if [ "$PEBBLE" = 1 ]; then pebble_note "OCSP/CRL revoked for $1"; return; fi
    local i
    for i in $(seq 30); do
        ocsp_of "$1"
        printf '%s\n' "$OCSP_OUT" | grep -qxF "$T/.ocspleaf.pem: revoked" && break
        sleep 0.2
    done
    assert_contains "$OCSP_OUT" "Response verify OK" "openssl ocsp"
    assert_line "$OCSP_OUT" "$T/.ocspleaf.pem: revoked" "openssl ocsp after revocation"
    [ -z "${2:-}" ] || assert_contains "$OCSP_OUT" "Reason: $2" "openssl ocsp reason"
    local cdp serial; cdp=$(ci cdp "$(certinfo "$1")"); serial=$(serial_of "$T/.ocspleaf.pem")
    for i in $(seq 60); do
        curl -sf "$cdp" -o "$T/.crl.der" &&
            openssl crl -inform DER -in "$T/.crl.der" -noout -text 2>/dev/null |
            grep -q "Serial Number: $serial\$" && return 0
        sleep 0.25
    done
    fail "serial $serial is not in the CRL at $cdp after 15 s"
}

# nothing_issued_for NAME: no certificate in sub's report names NAME.
nothing_issued_for() {
    if [ "$PEBBLE" = 1 ]; then pebble_note "nothing issued for $1"; return; fi
    run_ok revd report --ca sub --format csv
    assert_not_contains "$OUT" "$1" "sub's report (a refused name)"
}
# report_count: data rows in sub's CSV report, in $REPORT_N.
report_count() {
    run_ok revd report --ca sub --format csv
    REPORT_N=$(printf '%s\n' "$OUT" | "$PY" -c 'import csv,sys; print(len(list(csv.DictReader(sys.stdin))))')
}
