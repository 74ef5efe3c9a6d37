#!/bin/bash
# OCSP stapling by Caddy 2.6 of a short-lived (24-hour) certificate against
# revd serve --listen (issue 13, defect 4). Caddy refuses a response whose
# nextUpdate is past the certificate's notAfter ("OCSP response for
# [localhost] valid after certificate expiration") and then staples
# nothing; revd caps nextUpdate at the certificate's notAfter, so Caddy
# staples it, and openssl s_client -status reads a good staple whose
# nextUpdate is the certificate's notAfter.
. "$(dirname "$0")/lib.sh"
CADDY=$(command -v caddy 2>/dev/null)
[ -n "$CADDY" ] || skip "caddy is not installed (apt-get install caddy)"

PORT=$(( 20000 + RANDOM % 12000 ))
TLSPORT=$(( 10000 + RANDOM % 9000 ))  # below the ephemeral range
URL=http://127.0.0.1:$PORT
D=$T/d

step "a 24-hour server certificate whose AIA points at the server"
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root --base-url "$URL"
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --base-url "$URL"
make_csr srv "/CN=localhost"
issue_to "$T/srv.pem" --dir "$D" --ca sub --csr "$T/srv.csr" --template server --san DNS:localhost --hours 24
cat "$T/srv.pem" "$D/ca/sub.pem" > "$T/fullchain.pem"
serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2

# A Caddy of its own: no admin endpoint, its storage under $T, one site
# with the certificate from files (Caddy staples such certificates too).
C=$T/caddy
mkdir -p "$C"
cat > "$C/Caddyfile" <<EOF
{
    admin off
    auto_https disable_redirects
    storage file_system $C/storage
    skip_install_trust
}
https://localhost:$TLSPORT {
    bind 127.0.0.1
    tls $T/fullchain.pem $T/srv.key
    respond "ok"
}
EOF
HOME=$C XDG_DATA_HOME=$C/data XDG_CONFIG_HOME=$C/config \
    "$CADDY" run --config "$C/Caddyfile" --adapter caddyfile >"$C/log" 2>&1 </dev/null &
CPID=$!
BG_PIDS="$BG_PIDS $CPID"
for _ in $(seq 100); do
    kill -0 "$CPID" 2>/dev/null || fail "caddy exited at start: $(tail -5 "$C/log")"
    (exec 3<>"/dev/tcp/127.0.0.1/$TLSPORT") 2>/dev/null && break
    sleep 0.1
done

step "Caddy staples revd's response for it"
S=""
for _ in $(seq 40); do
    _run openssl s_client -connect "127.0.0.1:$TLSPORT" -servername localhost -status \
        -CAfile "$D/ca/root.pem" -verify_return_error
    S="$OUT
$ERR"
    case "$S" in *"OCSP Response Status:"*) break ;; esac
    sleep 0.25
done
if grep -q "valid after certificate expiration" "$C/log"; then
    fail "Caddy refused the response: $(grep -m1 'valid after certificate expiration' "$C/log")"
fi
assert_contains "$S" "OCSP Response Status: successful (0x0)" "the staple (no staple within 10 s?)"
assert_contains "$S" "Cert Status: good" "the staple"
assert_contains "$S" "Serial Number: $(serial_of "$T/srv.pem")" "the staple's CertID"
na=$(epoch "$(openssl x509 -in "$T/srv.pem" -noout -enddate | sed 's/^notAfter=//')")
nu=$(epoch "$(printf '%s\n' "$S" | sed -n 's/^ *Next Update: //p' | head -1)")
assert_eq "$nu" "$na" "the staple's nextUpdate is the certificate's notAfter"
kill -TERM "$CPID" 2>/dev/null
pass
