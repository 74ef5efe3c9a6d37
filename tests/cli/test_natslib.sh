#!/usr/bin/env bash
# test_natslib: tests/cli/natslib.sh and scripts/nats.sh start what they say
# and stop all of it: one JetStream server; a 3-node cluster with two leaf
# servers, across which an R3 stream published at the hub reaches a mirror on
# each leaf (tests/tools/natsping, built by `make unit`), a leaf cut off from
# the hub gets nothing, and with one hub server down of three publishing
# still reaches the leaf (two down: it fails, the leaf keeps what it has);
# then
# `scripts/nats.sh start/url/stop`. After each stop no nats-server whose
# config lies under this test's directory is left running.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/natslib.sh"
nats_require

NATSPING=$(dirname "$REVD")/tests/tools/natsping
[ -x "$NATSPING" ] || fail "$NATSPING not built (make unit)"
BASE=$(( 20000 + RANDOM % 12000 ))

# servers_left: the nats-server processes started from a config under $T.
servers_left() { pgrep -af nats-server | grep -F -- "$T/" || true; }
# run_rc CODE CMD...: expects exit CODE (these tools are not revd: no stderr contract).
run_rc() { local want=$1; shift; _run "$@"; [ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC"; }

step "one server"
nats_start "$T/solo" "$BASE"
run_ok curl -sf "http://127.0.0.1:$((BASE + 1))/jsz"
printf '%s' "$OUT" | grep -q '"domain": *"hub"' || fail "the server's JetStream has no domain hub: $OUT"
[ "$(nats_url "$T/solo" solo)" = "nats://127.0.0.1:$BASE" ] || fail "nats_url solo"
# A stream with one replica on one server, mirrored nowhere yet: natsping
# needs a leaf, so a leaf on the single server.
nats_leaf_start "$T/solo" $((BASE + 4)) $((BASE + 3)) site1
run_ok "$NATSPING" "$(nats_url "$T/solo" solo)" "$(nats_url "$T/solo" site1)" 1
nats_stop "$T/solo"
[ -z "$(servers_left)" ] || fail "servers left after nats_stop: $(servers_left)"

step "cluster and two leaves"
C=$((BASE + 10))
nats_cluster_start "$T/hub" "$C"
run_ok curl -sf "http://127.0.0.1:$((C + 1))/varz"
printf '%s' "$OUT" | grep -q '"name": *"revd-hub"' || fail "hub1 is not in the cluster revd-hub"
nats_leaf_start "$T/hub" $((C + 12)) "$((C + 3)),$((C + 7)),$((C + 11))" site1
nats_leaf_start "$T/hub" $((C + 16)) "$((C + 3)),$((C + 7)),$((C + 11))" site2
HUB=$(nats_url "$T/hub" hub)
[ "$HUB" = "nats://127.0.0.1:$C,nats://127.0.0.1:$((C + 4)),nats://127.0.0.1:$((C + 8))" ] ||
    fail "nats_url hub gave $HUB"
run_ok "$NATSPING" "$HUB" "$(nats_url "$T/hub" site1)" 3
printf '%s' "$OUT" | grep -q '^hub: stream NATSPING, 3 replicas' || fail "the stream is not R3"
run_ok "$NATSPING" "$HUB" "$(nats_url "$T/hub" site2)" 3
# The leaf's mirror is fed only through the hub: with the hub gone, a new
# mirror on a leaf gets nothing (natsping fails), so the check above is real.
nats_leaf_start "$T/alone" $((C + 20)) $((C + 40)) site3
run_rc 1 "$NATSPING" "$HUB" "$(nats_url "$T/alone" site3)" 3
case "$ERR" in *"did not reach the mirror"*) ;; *) fail "natsping failed for another reason than the mirror" ;; esac
nats_stop "$T/alone"
# One hub server down: the R3 stream still takes publishes (2 of 3) and the
# leaf's mirror still gets them; two down: no quorum, publishing fails, the
# leaf still serves what it has.
run_ok "$NATSPING" setup "$HUB" "$(nats_url "$T/hub" site1)" 3
run_ok "$NATSPING" pub "$HUB" natsping.x 1
kill "$(cat "$T/hub/hub1.pid")"
run_ok "$NATSPING" pub "$HUB" natsping.x 2
run_ok "$NATSPING" read "$(nats_url "$T/hub" site1)" natsping.x 2
kill "$(cat "$T/hub/hub2.pid")"
run_rc 1 "$NATSPING" pub "$HUB" natsping.x 3
run_ok "$NATSPING" read "$(nats_url "$T/hub" site1)" natsping.x 2
nats_stop "$T/hub"
[ -z "$(servers_left)" ] || fail "servers left after nats_stop: $(servers_left)"

step "scripts/nats.sh"
S=$((BASE + 50))
run_ok "$REPO_ROOT/scripts/nats.sh" start "$T/script" --port "$S" --cluster 3 --leaves 2
[ "$(printf '%s\n' "$OUT" | grep -c '^[a-z0-9]* nats://127.0.0.1:[0-9]*$')" = 5 ] ||
    fail "start should print one line per server (5)"
for f in "$T"/script/*.pid; do BG_PIDS="$BG_PIDS $(cat "$f")"; done
run_ok "$REPO_ROOT/scripts/nats.sh" url "$T/script" site2
[ "$OUT" = "nats://127.0.0.1:$((S + 16))" ] || fail "url site2 gave $OUT"
run_ok "$NATSPING" "$("$REPO_ROOT/scripts/nats.sh" url "$T/script" hub)" "nats://127.0.0.1:$((S + 12))" 3
run_rc 1 "$REPO_ROOT/scripts/nats.sh" start "$T/script" --port "$S"
run_ok "$REPO_ROOT/scripts/nats.sh" stop "$T/script"
[ -z "$(servers_left)" ] || fail "servers left after scripts/nats.sh stop: $(servers_left)"
run_rc 2 "$REPO_ROOT/scripts/nats.sh" start "$T/x" --cluster 2

pass
