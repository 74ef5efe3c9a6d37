#!/bin/bash
# An edge restarted resumes from the stream sequences it recorded (issue 16):
# it bootstraps 2,000 certificates once; stopped by SIGTERM while the
# primary revokes 3 certificates, then started again, it logs edge.resumed,
# reads only about what changed (its applied counter and its edge.ready line
# say a few messages, not 2,000), answers from its store at once (no
# re-bootstrap), and answers the 3 revocations. Started again with NATS
# down, it serves from its store (/healthz 503) and catches up once NATS
# is back (a revocation made meanwhile).
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"

D=$T/d
make_demo_ca 5
# 2,000 more certificates of sub, good, imported (no PEM needed: they are
# the bulk a re-bootstrap would read again).
"$PY" - "$T/bulk.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 2001):
        f.write("%032X,2031-01-01,good\n" % ((1 << 124) + i))
PY
run_ok revd import --dir "$D" --ca sub --file "$T/bulk.csv"
BULK=2000

step "bootstrap of 2,000 certificates"
nats_start n1
primary_start "$T/primary.log" "$NATS_URL_n1" --crl-coalesce 200ms
primary_wait_published 60
edge_start e1 "$NATS_URL_n1"
edge_wait_ready e1 90
boot=$(metric "$EURL_e1" revd_edge_applied_total)
[ "$boot" -ge "$BULK" ] || fail "the first start applied $boot messages, fewer than the $BULK certificates"
wait_status "$EURL_e1" "$T/c1.pem" good 5
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c1.pem")" "c1 before the restart"

step "SIGTERM the edge; 3 revocations while it is down"
stop_pid "$EDGE_PID_e1" 20; rc=$?
assert_eq "$rc" 0 "the edge's exit status after SIGTERM"
[ -e "$T/e1/edge.db" ] || fail "no $T/e1/edge.db after the edge stopped"
curl -s "$PURL/crl/sub/0.crl" -o "$T/crl0.der"; n0=$(crl_number "$T/crl0.der")
for c in c2 c3 c4; do
    run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/$c.pem")" --reason keyCompromise
done
# the primary has published them before the edge comes back: the rebuilt
# partition is served (so handed to the feed), then its outbox is empty
deadline=$(( $(date +%s) + 20 ))
until curl -s "$PURL/crl/sub/0.crl" -o "$T/crl1.der" && [ "$(crl_number "$T/crl1.der")" -gt "$n0" ] &&
    [ "$(metric "$PURL" revd_feed_outbox_depth)" = 0 ]; do
    [ "$(date +%s)" -le "$deadline" ] || fail "the primary did not publish the revocations: outbox depth $(metric "$PURL" revd_feed_outbox_depth)"
    sleep 0.2
done

step "started again: answers from its store at once"
lines_before=$(wc -l <"$T/e1.log")
edge_start e1 "$NATS_URL_n1"
# The first answers after it listens: c1 and an imported certificate, no
# waiting for a bootstrap (2 s of grace for a loaded machine).
deadline=$(( $(date +%s) + 2 ))
until ocsp_get "$EURL_e1" "$T/c1.pem" "$T/first.der" && [ "$(ocsp_status "$T/first.der" "$T/c1.pem")" = good ]; do
    [ "$(date +%s)" -le "$deadline" ] || fail "the restarted edge did not answer c1 good within 2 s of listening: $(ocsp_status "$T/first.der" "$T/c1.pem")"
    sleep 0.1
done
"$PY" -c 'print("%032X" % ((1 << 124) + 1234))' >"$T/one.txt"
/usr/bin/python3 "$REPO_ROOT/bench/mkreqs.py" "$D/ca/sub.pem" "$T/one.txt" "$T/one.req" || fail "mkreqs"
req=$(sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g' "$T/one.req")
curl -s -m 10 "$EURL_e1/ocsp/$req" -o "$T/imp.der"
"$PY" - "$T/imp.der" <<'PY' || fail "an imported certificate is not answered good right after the restart"
import sys
from cryptography.x509 import ocsp
r = ocsp.load_der_ocsp_response(open(sys.argv[1], "rb").read())
assert r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, r.response_status
assert r.certificate_status == ocsp.OCSPCertStatus.GOOD, r.certificate_status
PY

step "it resumed: edge.resumed lines, and only the changes were read"
for c in c2 c3 c4; do wait_status "$EURL_e1" "$T/$c.pem" revoked 15; done
edge_wait_ready e1 30
newlog=$(tail -n +"$((lines_before + 1))" "$T/e1.log")
printf '%s\n' "$newlog" | grep -q 'event=edge.resumed' || fail "no edge.resumed line after the restart: $(printf '%s\n' "$newlog" | head -10)"
assert_match "$(printf '%s\n' "$newlog" | grep 'event=edge.resumed' | head -1)" "stream REVD_[A-Z_0-9]+ from sequence [0-9]+" "the edge.resumed line"
applied=$(metric "$EURL_e1" revd_edge_applied_total)
echo "applied after the restart: $applied messages (first start: $boot)"
[ "$applied" -ge 3 ] || fail "the restarted edge applied $applied messages, fewer than the 3 revocations"
# 3 OCSP messages, the CRLs they changed (partition and CA scope, maybe
# rebuilt twice), the heartbeats since: a few dozen at most, never thousands.
[ "$applied" -le 100 ] || fail "the restarted edge applied $applied messages: it read the streams again ($boot at the first start)"
bm=$(metric "$EURL_e1" revd_edge_bootstrap_messages)
[ "$bm" -le 100 ] || fail "revd_edge_bootstrap_messages is $bm after a resume"
if printf '%s\n' "$newlog" | grep -q 'event=edge.ready'; then
    r=$(printf '%s\n' "$newlog" | grep 'event=edge.ready' | tail -1)
    m=$(printf '%s\n' "$r" | sed -n 's/.* after \([0-9]*\) messages.*/\1/p')
    n=$(printf '%s\n' "$r" | sed -n 's/.*serving \([0-9]*\) certificates.*/\1/p')
    [ -n "$m" ] && [ "$m" -le 100 ] || fail "edge.ready after the restart: '$r' (expected a few messages)"
    [ -n "$n" ] && [ "$n" -ge "$((BULK + 5))" ] || fail "edge.ready after the restart: '$r' (expected $((BULK + 5)) certificates)"
fi
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c3.pem")" "c3 after the restart"
wait_same "$PURL" "$EURL_e1" /crl/sub/0.crl 10 "the partition of c2..c4 after the restart"
wait_same "$PURL" "$EURL_e1" /crl/sub/ca.crl 10 "the CA-scope CRL after the restart"

step "a revocation after the restart arrives too"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c5.pem")"
wait_status "$EURL_e1" "$T/c5.pem" revoked 10

step "started while NATS is down: serves from its store, /healthz 503; NATS back: catches up"
stop_pid "$EDGE_PID_e1" 20; assert_eq "$?" 0 "the edge's exit status after SIGTERM"
stop_pid "$NATS_PID_n1" 20
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c1.pem")" --reason keyCompromise
edge_start e1 "$NATS_URL_n1"
wait_status "$EURL_e1" "$T/c5.pem" revoked 5
wait_status "$EURL_e1" "$T/c1.pem" good 5
assert_eq "$(http_code "$EURL_e1/healthz")" 503 "/healthz with no NATS to read"
nats_restart n1
wait_status "$EURL_e1" "$T/c1.pem" revoked 60
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c1.pem")" "c1 after NATS came back"
edge_wait_ready e1 30

stop_pid "$EDGE_PID_e1" 20; assert_eq "$?" 0 "the edge's exit status after SIGTERM"
stop_pid "$PRIMARY" 20; assert_eq "$?" 0 "the primary's exit status after SIGTERM"
pass
