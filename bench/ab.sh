#!/usr/bin/env bash
# bench/ab.sh OLD_REVD NEW_REVD [ROUNDS] [SECONDS]: two builds of revd on the
# same data, alternating (old, new, old, new ...), each as one shard on core
# 0 with bench/loadgen (GET keep-alive, 50 connections) on core 1: req/s and
# server CPU microseconds per request (utime+stime from /proc). For "did this
# change cost anything on the request path"; the machine's noise shows in the
# spread between rounds of the same build. AB_SCENARIO=nonce measures POST
# with a nonce under --nonce echo instead (every request signed by the lane,
# on the same core); AB_SCENARIO=crl GETs the demo's CRL of partition 0
# over 8 connections. Needs a built loadgen (make loadgen) and
# python3-cryptography.
set -euo pipefail
OLD=${1:?usage: bench/ab.sh OLD_REVD NEW_REVD [ROUNDS] [SECONDS]}
NEW=${2:?usage: bench/ab.sh OLD_REVD NEW_REVD [ROUNDS] [SECONDS]}
ROUNDS=${3:-3}
SECS=${4:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=$ROOT/build/rel/bench/loadgen
[ -x "$LG" ] || { echo "bench/ab.sh: build loadgen first (make loadgen)" >&2; exit 1; }
W=$(mktemp -d /tmp/revd-ab.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$NEW" demo --dir "$W/d" --no-serve >/dev/null 2>&1
tr ' ' '\n' <"$W/d/sample/serials" | grep . >"$W/serials"
SCEN=${AB_SCENARIO:-get}
SERVE_ARGS=() LG_ARGS=() MK_ARGS=()
case $SCEN in
  get) ;;
  nonce) SERVE_ARGS=(--nonce echo --sign-rate 1000000); LG_ARGS=(--method POST); MK_ARGS=(--nonce) ;;
  crl) ;;
  *) echo "bench/ab.sh: AB_SCENARIO is get, nonce or crl" >&2; exit 2 ;;
esac
/usr/bin/python3 "$ROOT/bench/mkreqs.py" "$W/d/ca/demo-issuing.pem" "$W/serials" "$W/reqs" "${MK_ARGS[@]}"
PORT=$(( 20000 + RANDOM % 20000 ))
for round in $(seq "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; [ "$which" = new ] && bin=$NEW
    taskset -c 0 "$bin" serve --dir "$W/d" --listen "127.0.0.1:$PORT" --threads 1 "${SERVE_ARGS[@]}" >"$W/$which.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
    sleep 1
    t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    if [ "$SCEN" = crl ]; then
      out=$(taskset -c 1 "$LG" --url "http://127.0.0.1:$PORT/crl/demo-issuing/0.crl" --connections 8 \
            --duration "$SECS" --json)
    else
      out=$(taskset -c 1 "$LG" --url "http://127.0.0.1:$PORT/ocsp" --requests "$W/reqs" --connections 50 \
            --duration "$SECS" "${LG_ARGS[@]}" --json)
    fi
    t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    printf '%s %s %s %s\n' "$which" "$round" "$((t1 - t0))" "$out" | /usr/bin/python3 -c '
import json, os, sys
w, r, ticks, j = sys.stdin.read().split(" ", 3)
j = json.loads(j)
hz = os.sysconf("SC_CLK_TCK")
print("%-3s round %s: %8.0f req/s  %5.2f us CPU/request" % (w, r, j["rps"], int(ticks) * 1e6 / hz / j["requests"]))'
  done
done
