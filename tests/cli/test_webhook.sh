#!/bin/bash
# Webhooks (docs/events.md): every event POSTed as JSON to each URL, in
# order; a receiver that fails (500) gets the same event again until it
# answers 2xx; events written while the server was stopped are sent after
# it starts; --webhook-min-severity; https with --webhook-ca (a server whose
# certificate does not verify gets nothing); bad URLs refused at start.
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
PORT=$(( 20000 + RANDOM % 12000 ))
HPORT=$((PORT + 1)); SPORT=$((PORT + 2))

# A receiver: appends each body (one line) to FILE; answers 500 while FAILS
# (a file holding a count) is above zero, counting down.
cat >"$T/recv.py" <<'PY'
import http.server, os, ssl, sys
port, out, fails = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = int(open(fails).read() or 0) if os.path.exists(fails) else 0
        if n > 0:
            open(fails, "w").write(str(n - 1))
            self.send_response(500); self.send_header("Content-Length", "0"); self.end_headers()
            return
        assert self.headers["Content-Type"] == "application/json"
        with open(out, "ab") as f:
            f.write(self.headers["X-Revd-Event"].encode() + b" " + body + b"\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
"$PY" "$T/recv.py" "$HPORT" "$T/got" "$T/fails" &
BG_PIDS="$BG_PIDS $!"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=hook -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$T/hook.key" -out "$T/hook.pem" -days 2 2>/dev/null || fail "openssl req -x509"
"$PY" "$T/recv.py" "$SPORT" "$T/got-tls" "$T/nofails" "$T/hook.pem" "$T/hook.key" &
BG_PIDS="$BG_PIDS $!"
sleep 0.5
# got FILE N: waits (10 s) until FILE has N lines.
got() { for _ in $(seq 100); do [ "$(cat "$1" 2>/dev/null | grep -c .)" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }

step "bad settings are refused at start"
run_fail 2 revd serve --webhook-url ftp://x/
run_fail 2 revd serve --webhook-url "http://a/,http://b/,http://c/,http://d/,http://e/"
run_fail 2 revd serve --webhook-url "http://user@x/"
run_fail 2 revd serve --webhook-min-severity 101

step "each event is POSTed, in order, to http and https receivers"
create_root r   # an event before the server: not sent (the first start begins at the file's end)
serve_bg "$T/s.log" --webhook-url "http://127.0.0.1:$HPORT/hook,https://127.0.0.1:$SPORT/hook" --webhook-ca "$T/hook.pem"
make_csr ee /CN=ee
issue_to "$T/a.pem" --ca r --csr "$T/ee.csr"
run_ok revd revoke --ca r --serial "$(serial_of "$T/a.pem")" --reason keyCompromise
got "$T/got" 2 || fail "the http receiver got: $(cat "$T/got" 2>/dev/null)"
got "$T/got-tls" 2 || fail "the https receiver got: $(cat "$T/got-tls" 2>/dev/null); log: $(cat "$T/s.log")"
for f in got got-tls; do
    assert_eq "$(cut -d' ' -f1 "$T/$f" | tr '\n' ' ')" "cert.issued cert.revoked " "event order at $f"
    "$PY" -c 'import json,sys; [json.loads(l.split(" ",1)[1]) for l in open(sys.argv[1])]' "$T/$f" || fail "bodies are not JSON"
done

step "a failing receiver gets the same event again until it takes it"
echo 2 >"$T/fails"
run_ok revd ca disable r
got "$T/got" 3 || fail "not delivered after two failures: $(cat "$T/got"); log: $(cat "$T/s.log")"
assert_eq "$(sed -n 3p "$T/got" | cut -d' ' -f1)" "ca.disabled" "the retried event"
assert_eq "$(grep -c ca.disabled "$T/got")" 1 "copies delivered"
assert_contains "$(cat "$T/s.log")" "127.0.0.1:$HPORT/hook: 127.0.0.1 answered 500 (retrying the same event in 1 s)"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
assert_contains "$(cat "$T/s.log")" "revd: webhooks: 6 events delivered, 2 failed attempts"

step "an event written while the server was stopped is sent after it starts"
run_ok revd ca enable r
serve_bg "$T/s2.log" --webhook-url "http://127.0.0.1:$HPORT/hook"
got "$T/got" 4 || fail "the event of the stopped time was not sent: $(cat "$T/got")"
assert_eq "$(sed -n 4p "$T/got" | cut -d' ' -f1)" "ca.enabled" "the event sent after the start"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null

step "--webhook-min-severity 50: low events skipped, high ones sent"
serve_bg "$T/s2.log" --webhook-url "http://127.0.0.1:$HPORT/hook" --webhook-min-severity 50
issue_to "$T/b.pem" --ca r --csr "$T/ee.csr"   # 80: a root issuing an end-entity certificate
run_ok revd ca disable r                       # 60
run_ok revd ca enable r                        # 40: skipped
run_ok revd ca disable r                       # 60
got "$T/got" 7 || fail "high events not sent: $(cat "$T/got")"
assert_eq "$(cut -d' ' -f1 "$T/got" | tail -3 | tr '\n' ' ')" "cert.issued ca.disabled ca.disabled " "high events"
run_ok revd ca enable r
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null

step "a rotation (rename, SIGHUP) loses nothing, even for a URL that is behind"
serve_bg "$T/s4.log" --webhook-url "http://127.0.0.1:$HPORT/hook"
n=$(grep -c . "$T/got")
echo 1 >"$T/fails"
run_ok revd ca disable r          # refused once: the URL is behind when the file rotates
mv "$D/events.jsonl" "$D/events.jsonl.1"
kill -HUP "$SRV"
for _ in $(seq 50); do grep -q "reloaded the configuration" "$T/s4.log" && break; sleep 0.1; done
run_ok revd ca enable r           # into the new file
got "$T/got" $((n + 2)) || fail "events lost across the rotation: $(tail -3 "$T/got"); log: $(cat "$T/s4.log")"
assert_eq "$(cut -d' ' -f1 "$T/got" | tail -2 | tr '\n' ' ')" "ca.disabled ca.enabled " "events across the rotation"
[ -s "$D/events.jsonl" ] || fail "no new events file after SIGHUP"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null

step "an https receiver whose certificate does not verify gets nothing"
before=$(grep -c . "$T/got-tls")
serve_bg "$T/s3.log" --webhook-url "https://127.0.0.1:$SPORT/hook"
run_ok revd ca enable r
for _ in $(seq 50); do grep -q "TLS with 127.0.0.1 failed" "$T/s3.log" && break; sleep 0.1; done
assert_contains "$(cat "$T/s3.log")" "TLS with 127.0.0.1 failed: self-signed certificate"
assert_eq "$(grep -c . "$T/got-tls")" "$before" "events at the unverified receiver"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
pass
