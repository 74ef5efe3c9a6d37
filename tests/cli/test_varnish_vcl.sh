#!/usr/bin/env bash
# test_varnish_vcl: dist/varnish/revd-edge.vcl in a real varnishd (7.x) in
# front of a real `revd serve` (as edge1) and a port nobody answers (as
# edge2): the VCL compiles; the dead backend is sick and drained (every
# request is answered by the live one); a CRL GET and an OCSP GET are
# answered from the cache the second time, with revd's bytes; If-None-Match
# with revd's ETag gives 304; POST /ocsp passes every time; with revd gone
# the cached CRL is still served and an uncached one gets 503.
. "$(dirname "$0")/lib.sh"
command -v varnishd >/dev/null 2>&1 || skip "varnishd is not installed (scripts/deps.sh test)"
command -v varnishadm >/dev/null 2>&1 || skip "varnishadm is not installed (scripts/deps.sh test)"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"

VCL_SRC=$REPO_ROOT/dist/varnish/revd-edge.vcl
PORT=$(( 20000 + RANDOM % 12000 ))
STALE=$((PORT + 1)) VPORT=$((PORT + 2))
D=$T/demo V=$T/varnish

step "compile"
run_ok varnishd -C -f "$VCL_SRC"

step "start"
run_ok revd demo --dir "$D" --no-serve
serve_bg "$T/serve.log" --dir "$D" --listen 127.0.0.1:$PORT "${IO_ARGS[@]}"
sed -e "s/\"8081\"/\"$PORT\"/; s/\"8082\"/\"$STALE\"/" "$VCL_SRC" >"$T/edge.vcl"
grep -q "\"$STALE\"" "$T/edge.vcl" || fail "the VCL's backend ports are not 8081 and 8082 any more"
# The stale edge: 503 on /healthz, 200 "stale" on anything else.
"$PY" - "$STALE" >"$T/stale.log" 2>&1 <<'PYEOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(n)
        code = 503 if self.path == "/healthz" else 200
        self.send_response(code)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"stale")
    do_GET = do_POST = do_HEAD = answer
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
STALE_PID=$!
BG_PIDS="$BG_PIDS $STALE_PID"
varnishd -F -j none -n "$V" -a 127.0.0.1:$VPORT -f "$T/edge.vcl" -s malloc,32m -T 127.0.0.1:0 \
    >"$T/varnishd.log" 2>&1 </dev/null &
VPID=$!
BG_PIDS="$BG_PIDS $VPID"
# backends: the probe marks edge1 healthy and edge2 sick within a few probes.
ok=0
for _ in $(seq 100); do
    list=$(varnishadm -n "$V" backend.list 2>/dev/null)
    if printf '%s\n' "$list" | grep -Eq 'edge1 .*healthy' && printf '%s\n' "$list" | grep -Eq 'edge2 .*sick'; then
        ok=1; break
    fi
    kill -0 "$VPID" 2>/dev/null || fail "varnishd exited: $(cat "$T/varnishd.log")"
    sleep 0.2
done
[ "$ok" = 1 ] || fail "edge1 healthy and edge2 sick expected: $list"

V_URL=http://127.0.0.1:$VPORT
# get URL FILE: GET through varnish; headers in FILE.h, body in FILE.
get() { curl -s -o "$2" -D "$2.h" "${@:3}" "$1"; }
hdr() { grep -i "^$2:" "$1.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
# a cache hit: X-Varnish carries two ids (this request's and the object's).
is_hit() { [[ "$(hdr "$1" X-Varnish)" =~ ^[0-9]+\ [0-9]+$ ]]; }

step "drained"
openssl ocsp -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" -no_nonce -reqout "$T/req.der" \
    >/dev/null 2>&1 || fail "openssl ocsp -reqout"
for n in 1 2 3 4; do
    get "$V_URL/ocsp" "$T/d$n" --data-binary @"$T/req.der" -H 'Content-Type: application/ocsp-request'
    head -1 "$T/d$n.h" | grep -q ' 200' || fail "POST $n through varnish: $(head -1 "$T/d$n.h")"
    grep -qi '^Content-Type: application/ocsp-response' "$T/d$n.h" ||
        fail "POST $n was answered by the stale edge, not by revd"
done
run_ok varnishstat -n "$V" -1 -f 'VBE.*.req'
printf '%s\n' "$OUT" | grep -Eq 'edge2\.req +0 ' || fail "requests reached the sick edge2: $OUT"

step "CRL cached"
get "$V_URL/crl/demo-issuing/0.crl" "$T/crl1"
get "$V_URL/crl/demo-issuing/0.crl" "$T/crl2"
curl -s -o "$T/crl.direct" "http://127.0.0.1:$PORT/crl/demo-issuing/0.crl"
cmp -s "$T/crl2" "$T/crl.direct" || fail "the cached CRL differs from revd's"
is_hit "$T/crl2" || fail "second CRL GET not from the cache: X-Varnish $(hdr "$T/crl2" X-Varnish)"
ETAG=$(hdr "$T/crl1" ETag)
[ -n "$ETAG" ] || fail "revd's CRL came without an ETag through varnish"
get "$V_URL/crl/demo-issuing/0.crl" "$T/crl3" -H "If-None-Match: $ETAG"
head -1 "$T/crl3.h" | grep -q ' 304' || fail "If-None-Match with the ETag: $(head -1 "$T/crl3.h")"

step "OCSP GET cached, POST passed"
B64=$("$PY" -c 'import base64,sys,urllib.parse; print(urllib.parse.quote(base64.b64encode(open(sys.argv[1],"rb").read()).decode(), safe=""))' "$T/req.der")
get "$V_URL/ocsp/$B64" "$T/o1"
get "$V_URL/ocsp/$B64" "$T/o2"
is_hit "$T/o2" || fail "second OCSP GET not from the cache: X-Varnish $(hdr "$T/o2" X-Varnish)"
cat "$D/ca/demo-issuing.pem" "$D/ca/demo-root.pem" >"$T/chain.pem"
run_ok openssl ocsp -respin "$T/o2" -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" -CAfile "$T/chain.pem"
assert_contains "$OUT" "good" "the cached OCSP answer"
for n in 1 2; do
    get "$V_URL/ocsp" "$T/p$n" --data-binary @"$T/req.der" -H 'Content-Type: application/ocsp-request'
    head -1 "$T/p$n.h" | grep -q ' 200' || fail "POST $n: $(head -1 "$T/p$n.h")"
    is_hit "$T/p$n" && fail "POST $n was answered from the cache"
done

step "both backends down"
kill "$SRV"
wait "$SRV" 2>/dev/null
for _ in $(seq 100); do
    varnishadm -n "$V" backend.list 2>/dev/null | grep -Eq 'edge1 .*sick' && break
    sleep 0.2
done
varnishadm -n "$V" backend.list | grep -Eq 'edge1 .*sick' || fail "edge1 not sick after revd stopped"
get "$V_URL/crl/demo-issuing/0.crl" "$T/crl4"
head -1 "$T/crl4.h" | grep -q ' 200' || fail "cached CRL with both backends down: $(head -1 "$T/crl4.h")"
cmp -s "$T/crl4" "$T/crl.direct" || fail "the CRL served from the cache differs"
get "$V_URL/crl/demo-issuing/ca.crl" "$T/crl5"
head -1 "$T/crl5.h" | grep -q ' 503' || fail "uncached CRL with both backends down: $(head -1 "$T/crl5.h")"

step "stop"
kill "$STALE_PID" && wait "$STALE_PID" 2>/dev/null
kill "$VPID"
for _ in $(seq 50); do kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$VPID" 2>/dev/null && fail "varnishd still running 5 s after TERM"
pass
