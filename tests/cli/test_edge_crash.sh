#!/bin/bash
# kill -9 of the primary in a storm of revocations (issue 16): 200 imported
# certificates revoked one `revd revoke` at a time through the primary's
# socket, the primary killed after about 60 were acknowledged, then started
# again. Every revocation whose command returned 0 is answered revoked by
# both edges, and every certificate's answer on each edge is, byte for
# byte, the primary's (in order, no older version winning, no duplicate
# effect). Answers are read with python3-cryptography over HTTP GET.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"

D=$T/d
make_demo_ca 1
N=200
"$PY" - "$T/bulk.csv" "$T/serials" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as s:
    for i in range(1, int(sys.argv[3]) + 1):
        f.write("%032X,2031-01-01,good\n" % ((1 << 124) + i))
        s.write("%032X\n" % ((1 << 124) + i))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/bulk.csv"
/usr/bin/python3 "$REPO_ROOT/bench/mkreqs.py" "$D/ca/sub.pem" "$T/serials" "$T/reqs" || fail "mkreqs"

nats_start n1
primary_start "$T/primary.log" "$NATS_URL_n1" --crl-coalesce 300ms
primary_wait_published 60
edge_start e1 "$NATS_URL_n1"
edge_start e2 "$NATS_URL_n1"
edge_wait_ready e1 60
edge_wait_ready e2 60

# storm: revokes every serial in turn through the socket, appending each
# one whose command returned 0 to $T/acked; stops when the primary is gone
# (a command would then open DIR itself, which is fine too: what it
# acknowledges must reach the edges as well).
storm() {
    local s
    while read -r s; do
        kill -0 "$PRIMARY" 2>/dev/null || return 0
        "$REVD" revoke --dir "$D" --ca sub --serial "$s" --reason keyCompromise >/dev/null 2>&1 || return 0
        echo "$s" >>"$T/acked"
    done <"$T/serials"
}

step "kill -9 of the primary after about 60 acknowledged revocations"
: >"$T/acked"
storm &
STORM=$!
BG_PIDS="$BG_PIDS $STORM"
deadline=$(( $(date +%s) + 60 ))
until [ "$(wc -l <"$T/acked")" -ge 60 ]; do
    [ "$(date +%s)" -le "$deadline" ] || fail "only $(wc -l <"$T/acked") revocations acknowledged in 60 s"
    kill -0 "$STORM" 2>/dev/null || fail "the storm stopped early: $(tail -3 "$T/primary.log")"
    sleep 0.05
done
kill -9 "$PRIMARY"
wait "$PRIMARY" 2>/dev/null
forget_pid "$PRIMARY"
timeout 60 tail --pid="$STORM" -f /dev/null || fail "the storm did not stop after the primary died"
wait "$STORM" 2>/dev/null
forget_pid "$STORM"
acked=$(wc -l <"$T/acked")
echo "acknowledged before and around the kill: $acked revocations"

step "the primary started again"
primary_start "$T/primary2.log" "$NATS_URL_n1" --crl-coalesce 300ms

# check EDGE-URL...: every acknowledged serial revoked on every edge within
# 60 s, then every serial's answer the primary's bytes.
"$PY" - "$PURL" "$T/serials" "$T/reqs" "$T/acked" "$EURL_e1" "$EURL_e2" <<'PY' || fail "acknowledged revocations not answered (see above)"
import http.client, sys, time, urllib.parse
from cryptography.x509 import ocsp
purl, serials, reqs, acked = sys.argv[1:5]
edges = sys.argv[5:]
serials = open(serials).read().split()
reqs = dict(zip(serials, open(reqs).read().split()))
acked = open(acked).read().split()
def conn(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)
def get(c, serial):
    c.request("GET", "/ocsp/" + urllib.parse.quote(reqs[serial], safe=""))
    r = c.getresponse()
    return r.status, r.read()
def status(body):
    r = ocsp.load_der_ocsp_response(body)
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return str(r.response_status)
    return str(r.certificate_status)
bad = []
for e in edges:
    c = conn(e)
    todo = list(acked)
    deadline = time.time() + 60
    while todo and time.time() < deadline:
        left = []
        for s in todo:
            code, body = get(c, s)
            if code != 200 or status(body) != str(ocsp.OCSPCertStatus.REVOKED):
                left.append(s)
        todo = left
        if todo:
            time.sleep(0.5)
    for s in todo[:10]:
        code, body = get(c, s)
        bad.append("%s: %s acknowledged revoked, answered %s (HTTP %d)" % (e, s, status(body) if code == 200 else "-", code))
    if todo:
        bad.append("%s: %d of %d acknowledged revocations not answered revoked after 60 s" % (e, len(todo), len(acked)))
p = conn(purl)
want = {}
for s in serials:
    code, body = get(p, s)
    if code != 200:
        bad.append("primary: %s HTTP %d" % (s, code)); continue
    want[s] = body
    if s in acked and status(body) != str(ocsp.OCSPCertStatus.REVOKED):
        bad.append("primary: %s acknowledged revoked, answered %s" % (s, status(body)))
for e in edges:
    c = conn(e)
    # The last of the primary's changes may still be on its way: 30 s for
    # every answer to be the primary's.
    deadline = time.time() + 30
    while True:
        diff = [s for s in serials if s in want and get(c, s)[1] != want[s]]
        if not diff or time.time() > deadline:
            break
        time.sleep(0.5)
    for s in diff[:10]:
        bad.append("%s: %s answers other bytes than the primary (%s there, %s on the primary)" % (e, s, status(get(c, s)[1]), status(want[s])))
    if diff:
        bad.append("%s: %d answers differ from the primary's" % (e, len(diff)))
revoked = sum(1 for s in serials if s in want and status(want[s]) == str(ocsp.OCSPCertStatus.REVOKED))
print("%d acknowledged, %d revoked on the primary, %d serials compared on %d edges" % (len(acked), revoked, len(want), len(edges)))
for b in bad[:30]:
    print("BAD", b)
sys.exit(1 if bad else 0)
PY

step "the CRLs reach the edges; /healthz 200; nothing refused"
for e in "$EURL_e1" "$EURL_e2"; do
    for p in $(cd "$D/crl/sub" && ls *.crl); do wait_same "$PURL" "$e" "/crl/sub/$p" 20 "/crl/sub/$p after the crash"; done
    wait_healthz "$e" 200 30
    assert_eq "$(metric "$e" revd_edge_refused_total)" 0 "$e: messages refused"
done
# The CRLs list every acknowledged revocation.
"$PY" - "$T/acked" "$D/crl/sub" <<'PY' || fail "an acknowledged revocation is not in the CRLs"
import os, sys
from cryptography import x509
acked = {int(s, 16) for s in open(sys.argv[1]).read().split()}
listed = set()
for f in os.listdir(sys.argv[2]):
    if f.endswith(".crl") and f != "ca.crl":
        listed |= {e.serial_number for e in x509.load_der_x509_crl(open(os.path.join(sys.argv[2], f), "rb").read())}
miss = acked - listed
assert not miss, "%d missing, e.g. %X" % (len(miss), min(miss))
PY

stop_pid "$EDGE_PID_e1" 20; stop_pid "$EDGE_PID_e2" 20; stop_pid "$PRIMARY" 20
pass
