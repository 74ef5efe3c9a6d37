#!/bin/bash
# The primary publishing into a 3-node JetStream cluster (R3 streams; issue
# 16), an edge reading one node (n3). kill -9 of one other node: revocations
# still reach the edge. kill -9 of a second: no quorum, the primary's outbox
# grows (revd_feed_outbox_depth) while `revd revoke` still succeeds;
# started again: the outbox drains, nothing is lost, the edge answers every
# revocation revoked, byte for byte the primary's.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"

D=$T/d
make_demo_ca 8

step "a 3-node cluster, the primary on all three, an edge on n3"
nats_cluster n1 n2 n3
primary_start "$T/primary.log" "$NATS_URLS" --crl-coalesce 200ms
primary_wait_published 60
edge_start e1 "$NATS_URL_n3"
edge_wait_ready e1 90
wait_status "$EURL_e1" "$T/c1.pem" good 5
"$PY" "$CLI_DIR/natsraw.py" "$NATS_PORT_n3" subjects REVD_META >/dev/null || fail "no REVD_META stream on the cluster"
"$PY" - "$NATS_PORT_n3" "$CLI_DIR" <<'PY' || fail "the streams are not replicated on 3 nodes"
import sys
sys.path.insert(0, sys.argv[2])
import natsraw
n = natsraw.Nats(int(sys.argv[1]))
for s in ["REVD_OCSP_%d" % i for i in range(4)] + ["REVD_CRL", "REVD_META"]:
    r = n.api("$JS.API.STREAM.INFO." + s, {})
    assert r["config"]["num_replicas"] == 3, "%s: %d replicas" % (s, r["config"]["num_replicas"])
PY

step "kill -9 of n1: revocations still reach the edge"
kill -9 "$NATS_PID_n1"; wait "$NATS_PID_n1" 2>/dev/null; forget_pid "$NATS_PID_n1"
for c in c1 c2; do
    run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/$c.pem")" --reason keyCompromise
done
# 60 s: once in seven runs under ASan on the shared 2-core VM, c2 took over 30 s
# (c1 had arrived); alone it takes a few seconds (issue 18's closing note).
for c in c1 c2; do wait_status "$EURL_e1" "$T/$c.pem" revoked 60; done

step "kill -9 of n2 too: the outbox grows, revoke still acknowledges"
kill -9 "$NATS_PID_n2"; wait "$NATS_PID_n2" 2>/dev/null; forget_pid "$NATS_PID_n2"
for c in c3 c4 c5 c6; do
    run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/$c.pem")" --reason superseded
done
deadline=$(( $(date +%s) + 15 ))
until [ "$(metric "$PURL" revd_feed_outbox_depth)" -ge 4 ]; do
    [ "$(date +%s)" -le "$deadline" ] || fail "revd_feed_outbox_depth is $(metric "$PURL" revd_feed_outbox_depth) with no quorum after 4 revocations"
    sleep 0.2
done
depth=$(metric "$PURL" revd_feed_outbox_depth)
echo "outbox depth with 1 of 3 nodes: $depth"
[ "$(metric "$PURL" revd_feed_outbox_age_seconds)" -ge 0 ] || fail "no revd_feed_outbox_age_seconds"
for c in c3 c4; do
    ocsp_get "$EURL_e1" "$T/$c.pem" "$T/x.der" || fail "the edge stopped answering with no quorum"
done

step "n1 and n2 back: the outbox drains, the edge answers every revocation"
nats_cluster_node n1
nats_cluster_node n2
deadline=$(( $(date +%s) + 90 ))
until [ "$(metric "$PURL" revd_feed_outbox_depth)" = 0 ]; do
    [ "$(date +%s)" -le "$deadline" ] || fail "the outbox did not drain within 90 s of the nodes' return: depth $(metric "$PURL" revd_feed_outbox_depth)"
    sleep 0.5
done
for c in c1 c2 c3 c4 c5 c6; do wait_status "$EURL_e1" "$T/$c.pem" revoked 30; done
for c in c1 c3 c6 c7; do same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/$c.pem")" "$c after the nodes' return"; done
for p in 0 1; do wait_same "$PURL" "$EURL_e1" "/crl/sub/$p.crl" 20 "/crl/sub/$p.crl after the nodes' return"; done
wait_healthz "$EURL_e1" 200 30
assert_eq "$(metric "$EURL_e1" revd_edge_refused_total)" 0 "messages refused by the edge"

stop_pid "$EDGE_PID_e1" 20
stop_pid "$PRIMARY" 20
pass
