#!/usr/bin/env bash
# bench/scaling.sh [--certs N] [--seconds S] [--max-shards K]: scenario 13,
# OCSP GET keep-alive requests/s with 1, 2, 4, ... K shards (default: half
# the cores), the server on cores 0..s-1 and bench/loadgen (s threads) on
# the next s cores; the efficiency is req/s over s times the one-shard
# req/s (target: 85% at 8 shards). Needs 2K cores; prints a table and
# writes bench/results/scaling.json. bench/README.md says how to run it on
# a machine without the packages.
set -eu
cd "$(dirname "$0")/.."
NCERTS=100000 SECS=10
CORES=$(nproc)
MAXS=$((CORES / 2))
while [ $# -gt 0 ]; do
    case $1 in
    --certs) NCERTS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --max-shards) MAXS=$2; shift ;;
    *) echo "usage: bench/scaling.sh [--certs N] [--seconds S] [--max-shards K]" >&2; exit 2 ;;
    esac
    shift
done
[ "$MAXS" -ge 1 ] && [ $((2 * MAXS)) -le "$CORES" ] || { echo "bench: --max-shards $MAXS needs $((2 * MAXS)) cores; this machine has $CORES" >&2; exit 2; }
R=${REVD:-$PWD/revd}
LG=${LOADGEN:-$PWD/build/rel/bench/loadgen}
PY=/usr/bin/python3
[ -x "$R" ] && [ -x "$LG" ] || { echo "bench: build first (make revd loadgen)" >&2; exit 2; }
T=$(mktemp -d)
SRV=""
trap 'rc=$?; set +e; kill $SRV 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
mkdir -p bench/results

echo "== data: $NCERTS certificates" >&2
$R ca create-root --dir $T/d --name root --subject "/CN=scaling root" >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject "/CN=scaling sub" >/dev/null
$PY - "$T" "$NCERTS" <<'PY'
import random, sys
t, n = sys.argv[1], int(sys.argv[2])
r = random.Random(13)
with open(t + "/in.csv", "w") as f, open(t + "/req-serials.txt", "w") as q:
    for i in range(n):
        s = "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
        f.write(s + ",2031-01-01,good\n")
        if i % max(1, n // 10000) == 0: q.write(s + "\n")
PY
$R import --dir $T/d --ca sub --file $T/in.csv >/dev/null
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/req-serials.txt $T/reqs.txt
PORT=$(( 20000 + RANDOM % 20000 ))
# The first start signs every response and stores them; later starts reuse them.
$R serve --dir $T/d --listen 127.0.0.1:$PORT --threads 1 2>/dev/null &
SRV=$!
until curl -s -o /dev/null http://127.0.0.1:$PORT/healthz; do kill -0 $SRV || exit 1; sleep 0.1; done
kill -TERM $SRV; wait $SRV 2>/dev/null || true

: >$T/rows.jsonl
s=1
while [ $s -le "$MAXS" ]; do
    taskset -c 0-$((s - 1)) $R serve --dir $T/d --listen 127.0.0.1:$PORT --threads $s 2>/dev/null &
    SRV=$!
    until curl -s -o /dev/null http://127.0.0.1:$PORT/healthz; do kill -0 $SRV || exit 1; sleep 0.1; done
    sleep 2
    taskset -c $s-$((2 * s - 1)) "$LG" --url http://127.0.0.1:$PORT/ocsp --requests $T/reqs.txt \
        --threads $s --connections $((50 * s)) --duration "$SECS" --json | sed "s/^{/{\"shards\": $s, /" >>$T/rows.jsonl
    kill -TERM $SRV; wait $SRV 2>/dev/null || true
    SRV=""
    s=$((s * 2))
done
$PY - $T/rows.jsonl bench/results/scaling.json <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
one = rows[0]["rps"]
print("%-7s %12s %10s %9s" % ("shards", "req/s", "p99 us", "efficiency"))
for r in rows:
    r["efficiency"] = r["rps"] / (r["shards"] * one)
    print("%-7d %12.0f %10d %8.0f%%" % (r["shards"], r["rps"], r["p99_us"], 100 * r["efficiency"]))
json.dump({"results": rows}, open(sys.argv[2], "w"), indent=1)
print("written: " + sys.argv[2])
PY
