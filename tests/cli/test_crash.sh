#!/bin/bash
# kill -9 of `revd serve` (answering OCSP and CRLs) in the middle of a storm
# of issuances and revocations sent through its socket, at a random point,
# with a random CRL coalescing window: after the restart, over HTTP, every
# acknowledged revocation answers revoked and is in its partition's CRL,
# every acknowledged certificate has a response (good or revoked), no CRL
# number went backwards, and the audit log verifies and is gap-free.
# CRASH_ROUNDS rounds (default 5).
# (A SIGKILL keeps the page cache: this checks that nothing is acknowledged
# before it is written; power loss, which needs the synced WAL, is not
# simulated here.)
. "$(dirname "$0")/lib.sh"

D=$T/d
SOCK=$D/revd.sock
ROUNDS=${CRASH_ROUNDS:-5}
PORT=$(( 20000 + RANDOM % 12000 ))

run_ok revd ca create-root --dir "$D" --name r --subject /CN=r
run_ok revd ca create-sub --dir "$D" --name s --parent r --subject /CN=s
make_csr ee "/CN=ee.example"

# start_server waits for the server's "serving" line (a probe command could
# open DIR itself before the server does, and take the index's lock).
start_server() {
    local before
    before=$(grep -c '^revd: serving' "$T/serve.log" 2>/dev/null)
    "$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" --threads 1 "${IO_ARGS[@]}" \
        --crl-coalesce "$(( RANDOM % 2000 ))ms" >>"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    BG_PIDS="$BG_PIDS $SRV"
    for _ in $(seq 100); do
        kill -0 "$SRV" 2>/dev/null || fail "revd serve exited: $(tail -3 "$T/serve.log")"
        [ "$(grep -c '^revd: serving' "$T/serve.log")" -gt "${before:-0}" ] && return 0
        sleep 0.1
    done
    fail "revd serve did not come up: $(tail -3 "$T/serve.log")"
}

# check_served ROUND: over HTTP, every acknowledged serial has a response
# (revoked ones revoked), every acknowledged revocation is in the CRL, and
# the CRL number is not below the last round's.
check_served() {
    awk '{print $2}' "$T/acked" | sort -u >"$T/serials"
    /usr/bin/python3 "$REPO_ROOT/bench/mkreqs.py" "$D/ca/s.pem" "$T/serials" "$T/reqs" || fail "mkreqs"
    "$PY" - "$PORT" "$T/acked" "$T/serials" "$T/reqs" "$T/crlnum" "$1" <<'PY' || fail "round $1: acknowledged state not served (see above)"
import base64, http.client, sys
from cryptography import x509
from cryptography.x509 import ocsp
port, acked, serials, reqs, numfile, rnd = sys.argv[1:]
revoked = {l.split()[1] for l in open(acked) if l.startswith("revoked")}
bad = []
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
for serial, req in zip(open(serials).read().split(), open(reqs).read().split()):
    c.request("GET", "/ocsp/" + req.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D"))
    r = c.getresponse(); body = r.read()
    resp = ocsp.load_der_ocsp_response(body)
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        bad.append("%s: %s" % (serial, resp.response_status)); continue
    want = ocsp.OCSPCertStatus.REVOKED if serial in revoked else None
    if want is not None and resp.certificate_status != want:
        bad.append("%s: acknowledged revoked, OCSP says %s" % (serial, resp.certificate_status))
c.request("GET", "/crl/s/0.crl"); r = c.getresponse(); crl = x509.load_der_x509_crl(r.read())
listed = {"%X" % e.serial_number for e in crl}
for s in revoked:
    if s.lstrip("0") not in listed:
        bad.append("%s: acknowledged revoked, not in the CRL (number %d)" % (s, crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number))
num = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
try:
    last = int(open(numfile).read())
except (OSError, ValueError):
    last = 0
if num < last: bad.append("the CRL number went back: %d after %d" % (num, last))
open(numfile, "w").write(str(num))
print("round %s: %d serials, %d revoked, CRL %d with %d entries" % (rnd, len(open(serials).read().split()), len(revoked), num, len(listed)))
for b in bad[:10]: print("BAD", b)
sys.exit(1 if bad else 0)
PY
}

# storm: issue, and revoke every other certificate, recording what was
# acknowledged (exit 0 and the output) in $T/acked. It stops when the
# server is gone (the commands would then open DIR themselves).
storm() {
    local i=0 pem serial
    while kill -0 "$SRV" 2>/dev/null; do
        i=$((i + 1))
        pem=$("$REVD" issue --dir "$D" --ca s --csr "$T/ee.csr" 2>/dev/null) || return 0
        serial=$(printf '%s\n' "$pem" | openssl x509 -noout -serial | sed 's/^serial=//')
        echo "issued $serial" >>"$T/acked"
        if [ $((i % 2)) -eq 0 ]; then
            "$REVD" revoke --dir "$D" --ca s --serial "$serial" --reason keyCompromise >/dev/null 2>&1 || return 0
            echo "revoked $serial" >>"$T/acked"
        fi
    done
}

: >"$T/acked"
for round in $(seq "$ROUNDS"); do
    step "round $round: kill -9 during the storm"
    start_server
    storm &
    STORM=$!
    sleep "0.$((RANDOM % 9 + 1))"
    kill -0 "$SRV" 2>/dev/null || fail "revd serve died before the kill: $(tail -3 "$T/serve.log")"
    kill -9 "$SRV"
    wait "$SRV" 2>/dev/null
    timeout 60 tail --pid="$STORM" -f /dev/null || fail "the storm did not stop after the server died"
    wait "$STORM" 2>/dev/null
    # Restarted: what was acknowledged is served.
    start_server
    check_served "$round"
    kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
    run_ok revd audit verify --dir "$D"
done

step "totals and the operations log"
issued=$(grep -c '^issued' "$T/acked")
[ "$issued" -ge "$ROUNDS" ] || fail "the storm issued only $issued certificates"
run_ok revd log --dir "$D"
printf '%s\n' "$OUT" | /usr/bin/python3 -c '
import json, sys
seqs = [json.loads(l)["seq"] for l in sys.stdin if l.strip()]
assert seqs == list(range(1, len(seqs) + 1)), "gap or repeat in the operations log"
' || fail "operations log is not gap-free"
echo "acknowledged: $issued issuances, $(grep -c '^revoked' "$T/acked") revocations over $ROUNDS kills"
pass
