#!/usr/bin/env bash
# bench/edge.sh: issue 16's targets for edge responders, each beside a peer
# from the same run (bench/README.md, "Edge responders (issue 16)"). A
# primary, one nats-server and two edges on loopback, all on this
# machine's cores (shared: nothing is pinned). BENCH_EDGE_CERTS certificates
# (100000 by default), BENCH_EDGE_REVOCATIONS revocations timed (100),
# BENCH_EDGE_SECS seconds per req/s measurement (10).
#   1. revoke returned -> an edge answers revoked (p50/p95/p99/max), beside
#      the primary answering revoked, the same revocations;
#   2. an empty edge's bootstrap (certificates/s) beside bench/natsread
#      reading the same streams checking nothing (the NATS floor); the
#      primary's publish rate; an edge's restart (time, messages re-read);
#   3. one edge's req/s, two edges at once (a paper figure on 2 cores),
#      the primary's;
#   4. bytes into and out of NATS per revocation (/varz), NATS storage and
#      edge.db per certificate.
# Prints a table; writes bench/results/edge.json. Every process is started
# and stopped by pid (trap on exit).
set -eu
export PYTHONDONTWRITEBYTECODE=1 # bench/edge.py is imported: no __pycache__ in bench/
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${BENCH_EDGE_CERTS:-100000}
NREV=${BENCH_EDGE_REVOCATIONS:-100}
SECS=${BENCH_EDGE_SECS:-10}
case $N in *[!0-9]*|"") echo "bench-edge: BENCH_EDGE_CERTS wants a number" >&2; exit 2 ;; esac
[ "$N" -ge 10000 ] || { echo "bench-edge: BENCH_EDGE_CERTS 10000 at least" >&2; exit 2; }
R=$ROOT/revd
LG=$ROOT/build/rel/bench/loadgen
NR=$ROOT/build/rel/bench/natsread
PY="/usr/bin/python3 $ROOT/bench/edge.py"
[ -x "$R" ] && [ -x "$LG" ] && [ -x "$NR" ] || { echo "bench-edge: build first (make revd build/rel/bench/loadgen build/rel/bench/natsread)" >&2; exit 2; }
for c in nats-server curl; do command -v $c >/dev/null || { echo "bench-edge: $c is missing" >&2; exit 77; }; done
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || { echo "bench-edge: python3-cryptography is missing" >&2; exit 77; }
T=${BENCH_TMP:-$(mktemp -d)}
PIDS=""
trap 'rc=$?; set +e; for p in $PIDS; do kill $p 2>/dev/null; done; for p in $PIDS; do wait $p 2>/dev/null; done; rm -rf "$T"; exit $rc' EXIT
mkdir -p bench/results
RES=$T/results.jsonl
: >"$RES"
note() { printf '%s\n' "$*" >&2; }
row() { printf '%s\n' "$1" >>"$RES"; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN {printf "%.3f", (b - a) / 1e9}'; }
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
# wait_line FILE REGEX PID: until FILE has a line matching REGEX (printed),
# polled every 10 ms, as long as PID lives (10 minutes at most).
wait_line() {
    local i=0 l
    while :; do
        l=$(grep -m1 -E "$2" "$1" 2>/dev/null || true)
        [ -n "$l" ] && { printf '%s\n' "$l"; return 0; }
        kill -0 "$3" 2>/dev/null || { note "bench-edge: pid $3 exited waiting for '$2' in $1"; tail -5 "$1" >&2; return 1; }
        i=$((i + 1)); [ $i -lt 60000 ] || { note "bench-edge: no '$2' in $1"; return 1; }
        sleep 0.01
    done
}
wait_port() {
    local i=0
    until curl -s -o /dev/null "http://127.0.0.1:$1/${3:-}"; do
        kill -0 "$2" 2>/dev/null || { note "bench-edge: the server on port $1 exited"; return 1; }
        sleep 0.05
    done
}
# settle PID: until PID uses under 3% of a core over a second (60 s at most):
# a RocksDB just written compacts on the cores the loads need.
settle() {
    local a b i
    for i in $(seq 60); do
        a=$(cpu "$1"); sleep 1; b=$(cpu "$1")
        [ $(( (b - a) * tick_us )) -lt 30000 ] && return 0
    done
    note "   (pid $1 never went idle; measuring anyway)"
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

row "{\"name\": \"load at start\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
note "== data: a root, an issuing CA with $N imported certificates (every 20th revoked)"
t0=$(now_ns)
$R ca create-root --dir $T/d --name root --subject "/CN=bench root/O=revd" >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject "/CN=bench sub/O=revd" >/dev/null
/usr/bin/python3 - "$T" "$N" "$NREV" <<'PY'
import random, sys
t, n, nrev = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(16)
ser = lambda i: "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
good = []
with open(t + "/in.csv", "w") as f:
    for i in range(n):
        s = ser(i)
        if i % 20 == 0:
            f.write(s + ",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n")
        else:
            f.write(s + ",2031-01-01,good\n")
            good.append(s)
# The request set (loadgen, identity check): 1,000 good certificates spread
# over the CA; the probes (revoked during the run) are others.
step = len(good) // 1000
req = good[::step][:1000]
rest = [s for i, s in enumerate(good) if i % step != 0]
r.shuffle(rest)
open(t + "/req-serials.txt", "w").write("\n".join(req) + "\n")
open(t + "/probe.txt", "w").write("\n".join(rest[:nrev]) + "\n")
open(t + "/down.txt", "w").write("\n".join(rest[nrev:nrev + 10]) + "\n")
PY
$R import --dir $T/d --ca sub --file $T/in.csv >/dev/null
for f in req-serials probe down; do /usr/bin/python3 bench/mkreqs.py $T/d/ca/sub.pem $T/$f.txt $T/$f-reqs.txt; done
note "   $(secs_since $t0) s"

P=$(( 20000 + RANDOM % 20000 )); PE1=$((P + 1)); PE2=$((P + 2)); PNATS=$((P + 3)); PMON=$((P + 4))
note "== the primary's first start: it signs every response (no NATS yet)"
$R serve --dir $T/d --listen 127.0.0.1:$P --threads 1 2>$T/first.log &
RP=$!; PIDS="$PIDS $RP"
wait_port $P $RP
stop $RP
CERTS=$(sed -n 's/.*responses for \([0-9]*\) certificates.*/\1/p' $T/first.log | head -1)
note "   $CERTS certificates"

note "== nats-server (JetStream, file store), the primary with --nats: its publish rate"
nats-server -a 127.0.0.1 -p $PNATS -m $PMON -js -sd $T/js >$T/nats.log 2>&1 &
NP=$!; PIDS="$PIDS $NP"
wait_port $PMON $NP healthz
URL=nats://127.0.0.1:$PNATS
t0=$(now_ns)
$R serve --dir $T/d --listen 127.0.0.1:$P --threads 1 --nats $URL 2>$T/primary.log &
RP=$!; PIDS="$PIDS $RP"
pub=$($PY pubwait $P "$CERTS" "$t0" $RP)
row "{\"name\": \"primary publish\", ${pub#\{}"
note "   $pub"
sleep 1
js_bytes=$(du -sb $T/js | cut -f1)

note "== the NATS floor: natsread, every stream, no checking"
nr=$($NR --url $URL)
row "{\"name\": \"natsread before\", ${nr#\{}"
note "   $(printf '%s' "$nr" | cut -c1-100)"

# bootstrap NAME PORT: an empty edge's start to edge.ready.
bootstrap() {
    local name=$1 port=$2 t0 l w pid cs
    mkdir -p $T/$name
    t0=$(now_ns)
    $R serve --edge --dir $T/$name --listen 127.0.0.1:$port --threads 1 --nats $URL --trust $T/d/ca/root.pem 2>$T/$name.log &
    pid=$!; PIDS="$PIDS $pid"
    eval "${name^^}=$pid"
    l=$(wait_line $T/$name.log 'edge: serving [0-9]+ certificates of [0-9]+ CAs after' $pid)
    w=$(secs_since $t0)
    cs=$(awk -v t=$(cpu $pid) -v u=$tick_us 'BEGIN {printf "%.2f", t * u / 1e6}')
    note "   $name: $l (wall ${w} s, CPU ${cs} s)"
    printf '%s\n' "$l" | sed -n 's/.*serving \([0-9]*\) certificates of \([0-9]*\) CAs after \([0-9]*\) messages in \([0-9.]*\) s.*/\1 \2 \3 \4/p' | {
        read -r c k m s
        row "{\"name\": \"edge${name#e} bootstrap\", \"certificates\": $c, \"cas\": $k, \"messages\": $m, \"log_s\": $s, \"wall_s\": $w, \"cpu_s\": $cs, \"certs_per_s\": $(awk -v c=$c -v w=$w 'BEGIN {print c / w}'), \"msgs_per_s\": $(awk -v c=$m -v w=$w 'BEGIN {print c / w}')}"
    }
}
note "== edge bootstraps (empty edge.db -> edge.ready), one after the other"
bootstrap e1 $PE1
bootstrap e2 $PE2
wait_port $PE1 $E1 healthz
wait_port $PE2 $E2 healthz
same=$($PY same $P $PE1 $T/req-serials-reqs.txt 1000)
row "{\"name\": \"same bytes\", ${same#\{}"
note "   primary and edge1 answer the same bytes: $same"
settle $E1; settle $E2; settle $RP; settle $NP
nr=$($NR --url $URL)
row "{\"name\": \"natsread after\", ${nr#\{}"
note "   natsread again: $(printf '%s' "$nr" | cut -c1-100)"
# What checking costs: an edge verifies both responses of each message
# (two ECDSA P-256 signatures); openssl's verify rate on one core.
vs=$(openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $NF}')
row "{\"name\": \"ecdsa verify\", \"verify_per_s_one_core\": ${vs:-0}, \"cores\": $(nproc)}"
note "   openssl speed ecdsap256: ${vs:-?} verify/s on one core"

note "== $NREV revocations: revoke returned -> revoked on edge1 and on the primary (GET every ~1 ms)"
crl0=$($NR --url $URL REVD_CRL)
v0=$($PY varz $PMON); sleep 5; v1=$($PY varz $PMON)
$NR --url $URL --watch 'revd.>' >$T/watch.txt &
WP=$!; PIDS="$PIDS $WP"
t0=$(now_ns)
$PY revlat $R $T/d $P $PE1 $T/probe-reqs.txt $T/probe.txt $T/revlat.json
sleep 2.5 # the CRL window (1 s) and the CRL's way to NATS: counted in the bytes
dur=$(secs_since $t0)
v2=$($PY varz $PMON)
crl1=$($NR --url $URL REVD_CRL)
ocspall=$($NR --url $URL REVD_OCSP_0 REVD_OCSP_1 REVD_OCSP_2 REVD_OCSP_3)
row "$(sed 's/^{/{"name": "revlat", /' $T/revlat.json)"
kill $WP 2>/dev/null || true
$PY split $T/revlat.json $T/watch.txt >>"$RES"
note "   $(tail -1 $RES)"
/usr/bin/python3 - "$v0" "$v1" "$v2" "$dur" "$NREV" "$crl0" "$crl1" "$ocspall" >>"$RES" <<'PY'
import json, sys
v0, v1, v2 = (json.loads(a) for a in sys.argv[1:4])
dur, n = float(sys.argv[4]), int(sys.argv[5])
c0, c1, o = (json.loads(a) for a in sys.argv[6:9])
idle_in = (v1["in_bytes"] - v0["in_bytes"]) / 5.0
idle_out = (v1["out_bytes"] - v0["out_bytes"]) / 5.0
crl = c1["streams"]["REVD_CRL"]
print(json.dumps({"name": "wire", "revocations": n, "seconds": dur, "edges": 2,
                  "idle_in_bytes_per_s": idle_in, "idle_out_bytes_per_s": idle_out,
                  "in_bytes_per_revocation": (v2["in_bytes"] - v1["in_bytes"] - idle_in * dur) / n,
                  "out_bytes_per_revocation_per_edge": (v2["out_bytes"] - v1["out_bytes"] - idle_out * dur) / n / 2,
                  "in_msgs": v2["in_msgs"] - v1["in_msgs"],
                  "crl_msgs": crl["last_seq"] - c0["streams"]["REVD_CRL"]["last_seq"],
                  "crl_msg_bytes_max": crl["max"], "crl_msg_bytes_min": crl["min"],
                  "ocsp_msg_bytes": round(o["bytes"] / o["messages"]) if o["messages"] else None}))
PY
note "   $(tail -1 $RES)"

note "== edge1 restarted: 10 revocations while it is down, then edge.loaded, edge.caught_up"
stop $E1
$R revoke --dir $T/d --ca sub --file $T/down.txt --reason cessationOfOperation >/dev/null
sleep 1
t0=$(now_ns)
$R serve --edge --dir $T/e1 --listen 127.0.0.1:$PE1 --threads 1 --nats $URL --trust $T/d/ca/root.pem 2>$T/e1b.log &
E1=$!; PIDS="$PIDS $E1"
l1=$(wait_line $T/e1b.log 'edge: serving [0-9]+ certificates of [0-9]+ CAs from' $E1); s1=$(secs_since $t0)
l2=$(wait_line $T/e1b.log 'edge: caught up: [0-9]+ messages' $E1); s2=$(secs_since $t0)
note "   $l1 ($s1 s)"; note "   $l2 ($s2 s)"
wait_port $PE1 $E1 healthz
rv=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "bench"); import edge
g = edge.Getter(int(sys.argv[1])); print(sum(1 for q in open(sys.argv[2]) if g.revoked(q.strip())))' $PE1 $T/down-reqs.txt)
row "{\"name\": \"edge1 restart\", \"loaded_s\": $s1, \"caught_up_s\": $s2, \"loaded_certs\": $(printf '%s' "$l1" | sed -n 's/.*serving \([0-9]*\) cert.*/\1/p'), \"messages_read\": $(printf '%s' "$l2" | sed -n 's/.*caught up: \([0-9]*\) messages.*/\1/p'), \"revoked_while_down\": 10, \"revoked_after\": $rv}"
note "   $(tail -1 $RES)"

note "== req/s, GET keep-alive, loadgen --threads 1, ${SECS} s each (cores shared: 2 edges + 2 loadgens on $(nproc))"
settle $E1; settle $RP
lg() { "$LG" --url http://127.0.0.1:$1/ocsp --requests $T/req-serials-reqs.txt --duration "$SECS" --threads 1 --json; }
rps() { /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["rps"] if d["status_2xx"] else 0)'; }
rp=$(lg $P | rps)
r1=$(lg $PE1 | rps)
lg $PE1 >$T/lg1.json & L1=$!; PIDS="$PIDS $L1"
lg $PE2 >$T/lg2.json & L2=$!; PIDS="$PIDS $L2"
wait $L1; wait $L2
a=$(rps <$T/lg1.json); b=$(rps <$T/lg2.json)
row "{\"name\": \"req/s\", \"primary\": $rp, \"edge1\": $r1, \"edge1+edge2\": $(awk -v a=$a -v b=$b 'BEGIN {print a + b}'), \"edge1_of_two\": $a, \"edge2_of_two\": $b, \"seconds\": $SECS}"
note "   $(tail -1 $RES)"

e_bytes=$(du -sb $T/e2 | cut -f1)
row "{\"name\": \"storage\", \"nats_store_bytes\": $js_bytes, \"nats_bytes_per_cert\": $(( js_bytes / CERTS )), \"edge_db_bytes\": $e_bytes, \"edge_db_bytes_per_cert\": $(( e_bytes / CERTS )), \"nats_rss_mb\": $(( $(rss_kb $NP) / 1024 )), \"edge_rss_mb\": $(( $(rss_kb $E2) / 1024 )), \"primary_rss_mb\": $(( $(rss_kb $RP) / 1024 ))}"
row "{\"name\": \"load at end\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
stop $E1; stop $E2; stop $RP; stop $NP
cp "$RES" bench/results/edge.jsonl
$PY report "$RES" bench/results/edge.json "$CERTS"
