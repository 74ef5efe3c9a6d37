#!/usr/bin/env bash
# scripts/edge-demo.sh (make edge-demo): the topology of docs/edge.md on
# loopback, from the repository's top:
#   - the demo CA in ./demo (`./revd demo --no-serve`, as `make run` makes it);
#   - under ./demo-edge/: a 3-node NATS JetStream cluster (domain hub) and two
#     leaf servers (domains site1, site2), by scripts/nats.sh;
#   - the primary `revd serve --nats` on 127.0.0.1:8080, publishing into the
#     hub's streams;
#   - two edges `revd serve --edge` on 127.0.0.1:8081 (site1) and :8082
#     (site2), each reading its leaf's mirrors of the hub's streams;
# then prints the commands to try and waits. Ctrl-C (or TERM) stops what it
# started, edges first, then the primary, then the NATS servers, by pid.
#
# Environment: EDGE_DEMO_NATS_PORT (default 14222; the NATS servers take
# 20 ports from there), REVD (default ./revd).
set -u
cd "$(dirname "$0")/.." || exit 1
. scripts/nats.sh

REVD=${REVD:-./revd}
W=demo-edge
NATS_PORT=${EDGE_DEMO_NATS_PORT:-14222}
PIDS=() # revd processes, in the order they started

say() { printf 'edge-demo: %s\n' "$*"; }
die() { printf 'edge-demo: %s\n' "$*" >&2; exit 1; }

stopped=0
cleanup() {
    local i pid n
    [ "$stopped" = 1 ] && return
    stopped=1
    trap '' INT TERM
    say "stopping"
    # Edges, then the primary: the reverse of the start.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for ((n = 0; n < 50; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    natsh_stop "$W"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_http NAME PORT PATH SECONDS LOG PID: until GET PATH answers 200.
wait_http() {
    local name=$1 port=$2 path=$3 secs=$4 log=$5 pid=$6 i
    for ((i = 0; i < secs * 5; i++)); do
        natsh_http_ok "$port" "$path" && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -5 "$log")"
        sleep 0.2
    done
    die "$name did not answer http://127.0.0.1:$port$path within ${secs}s (see $log)"
}

[ -x "$REVD" ] || die "$REVD not found: run make revd first (make edge-demo does)"
command -v nats-server >/dev/null 2>&1 || die "nats-server is not installed (scripts/deps.sh run)"
[ -d demo ] || { "$REVD" demo --no-serve >/dev/null || die "revd demo --no-serve failed"; }
TRUST=demo/ca/demo-root.pem
[ -f "$TRUST" ] || die "$TRUST missing: delete ./demo and run again"

mkdir -p "$W"
natsh_stop "$W" # servers an earlier run left behind, by their pid files
say "starting NATS: 3-node cluster (domain hub), leaves site1 and site2, ports $NATS_PORT+"
natsh_start "$W" "$NATS_PORT" 3 2 >"$W/nats.txt" || die "NATS did not start (logs in $W/)"
HUB=$(natsh_url "$W" hub) || exit 1

say "starting the primary on 127.0.0.1:8080 (log $W/primary.log)"
"$REVD" serve --dir demo --listen 127.0.0.1:8080 --nats "$HUB" >"$W/primary.log" 2>&1 </dev/null &
PIDS+=($!)
wait_http primary 8080 /healthz 30 "$W/primary.log" "${PIDS[-1]}"

for i in 1 2; do
    say "starting edge$i on 127.0.0.1:808$i, reading site$i (log $W/edge$i.log)"
    mkdir -p "$W/edge$i"
    "$REVD" serve --edge --nats "$(natsh_url "$W" site$i)" --nats-hub-domain hub --dir "$W/edge$i" \
        --listen 127.0.0.1:808$i --trust "$TRUST" >"$W/edge$i.log" 2>&1 </dev/null &
    PIDS+=($!)
done
# An edge's /healthz answers 200 once it has the primary's heartbeat.
wait_http edge1 8081 /healthz 60 "$W/edge1.log" "${PIDS[1]}"
wait_http edge2 8082 /healthz 60 "$W/edge2.log" "${PIDS[2]}"

cat <<EOF

NATS servers (scripts/nats.sh url $W NAME):
$(sed 's/^/  /' "$W/nats.txt")
primary  http://127.0.0.1:8080   edges  http://127.0.0.1:8081 (site1)  http://127.0.0.1:8082 (site2)

Try, in another terminal, from this directory:
  cat demo/ca/demo-issuing.pem demo/ca/demo-root.pem > demo-chain.pem
  openssl ocsp -issuer demo/ca/demo-issuing.pem -cert demo/sample/good.pem -url http://127.0.0.1:8081/ocsp -CAfile demo-chain.pem
  openssl ocsp -issuer demo/ca/demo-issuing.pem -cert demo/sample/revoked.pem -url http://127.0.0.1:8082/ocsp -CAfile demo-chain.pem
  curl -s http://127.0.0.1:8081/crl/demo-issuing/0.crl | openssl crl -inform DER -noout -text | head -20
  curl -si http://127.0.0.1:8081/healthz; curl -si http://127.0.0.1:8082/healthz
  # revoke one at the primary, then ask an edge (the change travels through NATS):
  ./revd revoke --dir demo --ca demo-issuing --serial \$(openssl x509 -in demo/sample/good.pem -noout -serial | cut -d= -f2) --reason keyCompromise
  openssl ocsp -issuer demo/ca/demo-issuing.pem -cert demo/sample/good.pem -url http://127.0.0.1:8082/ocsp -CAfile demo-chain.pem
  # stop the whole hub: edges keep answering from their stores; /healthz turns 503 when the heartbeat is too old
  scripts/nats.sh status $W
  kill \$(cat $W/hub1.pid) \$(cat $W/hub2.pid) \$(cat $W/hub3.pid)
  # Varnish in front of both edges (dist/varnish/revd-edge.vcl, docs/edge.md):
  varnishd -F -n /tmp/revd-varnish -a 127.0.0.1:8090 -f \$PWD/dist/varnish/revd-edge.vcl -s malloc,64m -T 127.0.0.1:0

Ctrl-C stops the edges, the primary and the NATS servers.
EOF
wait -n "${PIDS[@]}"
# Here when one of them exited on its own, or after a Ctrl-C that reached them too.
[ "$stopped" = 1 ] || say "a revd process exited (logs in $W/): stopping the rest"
