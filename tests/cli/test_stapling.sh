#!/bin/bash
# OCSP stapling by nginx against revd serve --listen: a server certificate
# whose AIA OCSP URL points at the running revd; nginx fetches the response
# over HTTP, verifies it (ssl_stapling_verify: the delegated responder
# certificate the sub CA issued, up to ssl_trusted_certificate) and staples
# it; openssl s_client -status reads the staple: good. After a revocation
# through the socket a fresh nginx (one caches a staple until its
# nextUpdate) fetches the new answer, reads "revoked" in it and, as nginx
# does with any status but good, logs it and staples nothing.
. "$(dirname "$0")/lib.sh"
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || skip "nginx is not installed (apt-get install nginx-light)"

PORT=$(( 20000 + RANDOM % 12000 ))
TLSPORT=$(( 10000 + RANDOM % 9000 ))  # below the ephemeral range (32768-60999) and the other tests' ports
URL=http://127.0.0.1:$PORT
D=$T/d

step "a PKI whose AIA points at the server"
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root --base-url "$URL"
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --base-url "$URL"
make_csr srv "/CN=localhost"
issue_to "$T/srv.pem" --dir "$D" --ca sub --csr "$T/srv.csr" --template server --san DNS:localhost
aia=$(openssl x509 -in "$T/srv.pem" -noout -ocsp_uri)
assert_eq "$aia" "$URL/ocsp" "the certificate's AIA OCSP URL"
cat "$T/srv.pem" "$D/ca/sub.pem" > "$T/fullchain.pem"
cat "$D/ca/sub.pem" "$D/ca/root.pem" > "$T/chain.pem"
verify_chain "$D/ca/root.pem" "$D/ca/sub.pem" "$T/srv.pem"

step "revd serve --listen"
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
for _ in $(seq 300); do grep -q '^revd: serving' "$T/serve.log" && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
grep -q '^revd: serving' "$T/serve.log" || fail "revd serve did not start: $(cat "$T/serve.log")"

# An nginx of its own under $T: one process (master_process off, so that
# kill -9 in the cleanup leaves no orphaned worker), every path it writes
# under its prefix, nothing in /var; its error log is the one -e names.
N=$T/nginx
mkdir -p "$N/tmp"
cat > "$N/nginx.conf" <<EOF
daemon off;
master_process off;
pid $N/nginx.pid;
lock_file $N/nginx.lock;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    fastcgi_temp_path $N/tmp/fastcgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    scgi_temp_path $N/tmp/scgi;
    server {
        listen 127.0.0.1:$TLSPORT ssl;
        server_name localhost;
        ssl_certificate $T/fullchain.pem;
        ssl_certificate_key $T/srv.key;
        ssl_stapling on;
        ssl_stapling_verify on;
        ssl_trusted_certificate $T/chain.pem;
        location / { return 200 "ok\n"; }
    }
}
EOF

NGX="" NLOG=""
start_nginx() { # LOG
    NLOG=$1
    "$NGINX" -p "$N" -c "$N/nginx.conf" -e "$NLOG" >"$N/stdout" 2>&1 </dev/null &
    NGX=$!
    BG_PIDS="$BG_PIDS $NGX"
    local i
    for i in $(seq 100); do
        kill -0 "$NGX" 2>/dev/null || fail "nginx exited at start: $(tail -5 "$NLOG" "$N/stdout")"
        (exec 3<>"/dev/tcp/127.0.0.1/$TLSPORT") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "nginx did not listen on $TLSPORT within 10 s: $(tail -5 "$NLOG")"
}
stop_nginx() {
    kill -TERM "$NGX" 2>/dev/null
    local i
    for i in $(seq 50); do kill -0 "$NGX" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$NGX" 2>/dev/null
    wait "$NGX" 2>/dev/null
}

# handshake: one TLS handshake asking for a staple; s_client's output in $S
# (and in $OUT/$ERR, which fail prints).
S=""
handshake() {
    _run openssl s_client -connect "127.0.0.1:$TLSPORT" -servername localhost -status \
        -CAfile "$D/ca/root.pem" -verify_return_error
    S="$OUT
$ERR"
}
# nginx_errors: what nginx logged at level error or worse.
nginx_errors() { grep -E '\[(error|crit|alert|emerg)\]' "$NLOG"; }

step "nginx staples a good response"
start_nginx "$N/error-good.log"
# nginx fetches the response after the first handshake that asks for one:
# handshake until a staple comes (10 s at most).
for _ in $(seq 40); do
    handshake
    case "$S" in *"OCSP Response Status:"*) break ;; esac
    nginx_errors >/dev/null && break
    sleep 0.25
done
e=$(nginx_errors) && fail "nginx refused revd's OCSP response: $e"
assert_contains "$S" "OCSP Response Status: successful (0x0)" "the staple (no staple within 10 s?)"
assert_contains "$S" "Cert Status: good" "the staple"
assert_not_contains "$S" "Cert Status: revoked" "the staple"
assert_contains "$S" "Verify return code: 0 (ok)" "s_client's verification of the chain"
# The staple is about this certificate: its serial is the CertID's.
assert_contains "$S" "Serial Number: $(serial_of "$T/srv.pem")" "the staple's CertID"
# And it is what revd serves for it, checked by openssl ocsp as well.
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/srv.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_line "$o" "$T/srv.pem: good"
stop_nginx

step "after a revocation through the socket, a fresh nginx reads revoked and staples nothing"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/srv.pem")" --reason keyCompromise
start_nginx "$N/error-revoked.log"
want='certificate status "revoked" in the OCSP response'
for _ in $(seq 40); do
    handshake
    case "$S" in *"OCSP Response Status:"*) break ;; esac
    nginx_errors >/dev/null && break
    sleep 0.25
done
assert_not_contains "$S" "Cert Status: good" "a handshake after the revocation"
assert_not_contains "$S" "OCSP Response Status:" "a handshake after the revocation (nginx staples only good)"
e=$(nginx_errors)
assert_contains "$e" "$want" "nginx's error log (within 10 s)"
# Nothing else went wrong: the only error is the status.
n=$(printf '%s\n' "$e" | grep -vcF "$want")
assert_eq "$n" 0 "errors other than the status in nginx's log ($e)"
handshake
assert_contains "$S" "OCSP response: no response sent" "a handshake once nginx has read revoked"
stop_nginx

step "revd serve is still up, and SIGTERM stops it"
kill -0 "$SRV" 2>/dev/null || fail "revd serve died: $(tail -3 "$T/serve.log")"
kill -TERM "$SRV"
for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "revd serve still runs 5 s after SIGTERM"
wait "$SRV"; assert_eq "$?" 0 "revd serve's exit status after SIGTERM"
pass
