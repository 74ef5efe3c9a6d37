#!/usr/bin/env bash
# bench/soak.sh [MINUTES] [CERTS]: a soak run (issue 7; not in the test
# suite): revd serve on DIR with CERTS imported certificates (default
# 20000) for MINUTES (default 30) under mixed load: OCSP GET and POST
# (bench/loadgen, keep-alive, 50 connections), CRL downloads (another
# loadgen), a revocation through the socket every second and a `revd audit
# verify` every 5 minutes. Every 30 s it prints the server's RSS, the
# requests answered and the errors; at the end, RSS growth from the first
# sample after warm-up, loadgen's failed requests, and whether the
# revocations all show in OCSP. Memory should stay flat, errors at zero.
# REVD_BIN and LOADGEN_BIN name other binaries (a copy, so that a rebuild
# during a long run changes nothing under it).
set -euo pipefail
MIN=${1:-30}
CERTS=${2:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REVD=${REVD_BIN:-$ROOT/build/rel/revd}
LG=${LOADGEN_BIN:-$ROOT/build/rel/bench/loadgen}
[ -x "$LG" ] && [ -x "$REVD" ] || { echo "bench/soak.sh: make revd loadgen first" >&2; exit 1; }
W=$(mktemp -d /tmp/revd-soak.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null || true; done; rm -rf "$W"' EXIT
D=$W/d
"$REVD" ca create-root --dir "$D" --name root --subject /CN=soak-root >/dev/null
"$REVD" ca create-sub --dir "$D" --name sub --parent root --subject /CN=soak-sub >/dev/null
/usr/bin/python3 - "$CERTS" >"$W/inv.csv" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print("%032X,2030-01-01T00:00:00Z,good" % (0x10000000000000000000000000000000 + i))
PY
"$REVD" import --dir "$D" --ca sub --file "$W/inv.csv" >/dev/null
cut -d, -f1 "$W/inv.csv" >"$W/serials"
/usr/bin/python3 "$ROOT/bench/mkreqs.py" "$D/ca/sub.pem" "$W/serials" "$W/reqs"
PORT=$(( 20000 + RANDOM % 12000 ))
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" --log-format kv >"$W/serve.log" 2>&1 &
SRV=$!
PIDS="$SRV"
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
SECS=$((MIN * 60))
"$LG" --url "http://127.0.0.1:$PORT/ocsp" --requests "$W/reqs" --method mix --connections 50 --duration "$SECS" \
    --json >"$W/ocsp.json" &
PIDS="$PIDS $!"
CRL=$(curl -s "http://127.0.0.1:$PORT/metrics" >/dev/null; "$REVD" crl list --dir "$D" --ca sub | awk '$1 == "0" {print $2}')
"$LG" --url "http://127.0.0.1:$PORT/${CRL#http*://*/}" --connections 4 --duration "$SECS" --json >"$W/crl.json" &
PIDS="$PIDS $!"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SRV/status"; }
start=$(date +%s); n=0; first_rss=""; revoked=0
echo "revd soak: $MIN min, $CERTS certificates, mixed OCSP GET/POST, CRL downloads, a revocation a second"
while [ $(( $(date +%s) - start )) -lt "$SECS" ]; do
    serial=$(sed -n "$(( (n * 7919) % CERTS + 1 ))p" "$W/serials")
    "$REVD" revoke --dir "$D" --ca sub --serial "$serial" >/dev/null 2>&1 && revoked=$((revoked + 1)) && echo "$serial" >>"$W/revoked"
    n=$((n + 1))
    el=$(( $(date +%s) - start ))
    if [ $((n % 30)) -eq 0 ]; then
        r=$(rss)
        [ -z "$first_rss" ] && [ "$el" -ge 60 ] && first_rss=$r
        errs=$(grep -c 'level=error' "$W/serve.log" || true)
        printf '%5d s  RSS %8d KB  revoked %6d  server errors %d\n' "$el" "$r" "$revoked" "$errs"
    fi
    if [ $((n % 300)) -eq 0 ]; then
        "$REVD" audit verify --dir "$D" >/dev/null || echo "AUDIT VERIFY FAILED at ${el} s"
    fi
    sleep 1
done
sleep 2
r=$(rss)
echo "RSS: ${first_rss:-$r} KB after warm-up, $r KB at the end"
/usr/bin/python3 - "$W/ocsp.json" "$W/crl.json" <<'PY'
import json, sys
for f in sys.argv[1:]:
    try:
        j = json.load(open(f))
        errs = {k: v for k, v in j.items() if (k.startswith("errors_") or k == "status_5xx") and v}
        print("%s: %d requests, %.0f req/s, errors %s" % (f.rsplit("/", 1)[1], j["requests"], j["rps"], errs or "none"))
    except Exception as e:
        print("%s: no result (%r)" % (f, e))
PY
echo "revocations: $revoked; the server's log has $(grep -c 'level=error' "$W/serve.log" || true) error lines"
# Every revocation, asked over OCSP (POST) and read by python3-cryptography.
if [ -s "$W/revoked" ]; then
    /usr/bin/python3 "$ROOT/bench/mkreqs.py" "$D/ca/sub.pem" "$W/revoked" "$W/revoked.reqs"
    /usr/bin/python3 - "http://127.0.0.1:$PORT/ocsp" "$W/revoked.reqs" <<'PY'
import base64, sys, urllib.request
from cryptography.x509 import ocsp
url, reqs = sys.argv[1], open(sys.argv[2]).read().split()
bad = 0
for r in reqs:
    q = urllib.request.Request(url, data=base64.b64decode(r), headers={"Content-Type": "application/ocsp-request"})
    resp = ocsp.load_der_ocsp_response(urllib.request.urlopen(q, timeout=10).read())
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL or resp.certificate_status != ocsp.OCSPCertStatus.REVOKED:
        bad += 1
print("OCSP: %d of %d revoked serials answer revoked%s" % (len(reqs) - bad, len(reqs), "" if bad == 0 else "  FAILED"))
PY
fi
