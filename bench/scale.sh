#!/usr/bin/env bash
# bench/scale.sh (make bench-scale): issue 15's scale scenario. For each N
# of SCALE_N (default "10000000 30000000"), a CA with N imported
# certificates (5% revoked), beside a CA small enough to sit wholly in
# memory (SCALE_SMALL, default 10,000), each in its own data directory and
# server, measured in the same run:
#   - import time; first start (signs every response, all cores) to
#     serving, RSS; restart (all cores) to serving, RSS; a third start with
#     one shard, pinned to core 0, which serves the loads;
#   - OCSP GET keep-alive from bench/loadgen on core 1 (50 connections):
#     serials uniform over the whole CA, and Zipf(1.1) over the whole CA
#     (rank to serial by a fixed pseudo-random permutation; the sampler is
#     C, bench/scale.h): req/s, server CPU per request (/proc/PID/stat
#     utime+stime over the run / requests answered), p50 and p99, each
#     after a warm-up (SCALE_WARMUP s, default 3) and for SCALE_SECS s
#     (default 10), big and small alternating SCALE_ROUNDS times (2);
#     big/small;
#   - the longest turn of a shard's loop (revd_shard_loop_stall_max_seconds)
#     after each load, and the turns over 1 ms during it;
#   - a full CRL rebuild of the big CA (`revd crl rebuild --all` through
#     the running server, all cores), and revd's own figure when its log
#     has the line crl.rebuilt_all;
#   - disk bytes per certificate (the data directory, and each of its
#     top-level entries: the index, the CRLs, a response store);
#   - the extrapolation to 10^8 (bench/README.md gives the formulas).
# When `revd serve --help` lists --response-cache, both servers get
# --response-cache SCALE_CACHE (default 268435456 below 10^7 certificates,
# 1073741824 from 10^7); otherwise every response is in memory and the
# table says so.
#
# Writes bench/results/scale-DATE.md (and .jsonl) and prints the table.
# Guards: a size whose estimated disk (SCALE_DISK_PER_CERT bytes, default
# 10000 all-in-memory, 2000 with a store) would leave less than
# SCALE_MIN_FREE_GB (default 8) free, or whose all-in-memory RSS (2,000
# bytes per certificate) exceeds 70% of MemAvailable, is skipped
# (SCALE_FORCE=1 runs it anyway); a watchdog stops the run if free disk
# falls under SCALE_MIN_FREE_GB / 2. Data directories go at the end
# unless SCALE_KEEP=1 (under SCALE_TMP, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
R=${REVD_BIN:-$ROOT/revd}
LG=${LOADGEN:-$ROOT/build/rel/bench/loadgen}
GEN=${SCALEGEN:-$ROOT/build/rel/bench/scalegen}
PY=/usr/bin/python3
SCALE_N=${SCALE_N:-"10000000 30000000"}
SMALL=${SCALE_SMALL:-10000}
SECS=${SCALE_SECS:-10}
WARM=${SCALE_WARMUP:-3}
ROUNDS=${SCALE_ROUNDS:-2}
CONNS=${SCALE_CONNECTIONS:-50}
MIN_FREE_GB=${SCALE_MIN_FREE_GB:-8}
NCPU=$(nproc)
for x in "$R" "$LG" "$GEN"; do [ -x "$x" ] || { echo "bench-scale: $x is missing (make revd loadgen build/rel/bench/scalegen)" >&2; exit 2; }; done
for c in curl openssl taskset; do command -v $c >/dev/null || { echo "bench-scale: $c is missing" >&2; exit 77; }; done
$PY -c 'import cryptography' 2>/dev/null || { echo "bench-scale: python3-cryptography is missing (bench/mkreqs.py)" >&2; exit 77; }
for n in $SCALE_N $SMALL; do case $n in *[!0-9]*|"") echo "bench-scale: SCALE_N and SCALE_SMALL want numbers: $n" >&2; exit 2 ;; esac; done

STORE=0
"$R" serve --help 2>&1 | grep -q -- '--response-cache' && STORE=1
W=$(mktemp -d "${SCALE_TMP:-/tmp}/revd-scale.XXXXXX")
STAMP=$(date -u +%Y%m%d-%H%M%S)
mkdir -p bench/results
RES=$ROOT/bench/results/scale-$STAMP.jsonl
MD=$ROOT/bench/results/scale-$STAMP.md
: >"$RES"
SRV="" SMALL_SRV="" CUR="" WD=""
cleanup() {
    set +e
    for p in $CUR $SRV $SMALL_SRV; do kill -TERM "$p" 2>/dev/null; done
    for p in $CUR $SRV $SMALL_SRV; do wait "$p" 2>/dev/null; done
    [ -n "$WD" ] && kill "$WD" 2>/dev/null
    if [ "${SCALE_KEEP:-0}" = 1 ]; then echo "bench-scale: data kept in $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "bench-scale: stopped" >&2; exit 130' INT TERM
note() { printf '%s\n' "$*" >&2; }
row() { printf '%s\n' "$1" >>"$RES"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
avail_b() { df -B1 --output=avail "$W" | tail -1 | tr -d ' '; }
# run_bg CMD...: runs CMD in the background and waits for it (so that the
# watchdog's TERM is handled at once, and CMD is stopped with the run).
run_bg() {
    "$@" &
    CUR=$!
    local rc=0
    wait "$CUR" || rc=$?
    CUR=""
    return $rc
}
# The watchdog: free disk under half of SCALE_MIN_FREE_GB ends the run.
( while sleep 2; do
    if [ "$(avail_b)" -lt $(( MIN_FREE_GB * 1073741824 / 2 )) ]; then
        echo "bench-scale: under $((MIN_FREE_GB / 2)) GB free on $(df --output=target "$W" | tail -1): stopping" >&2
        kill -TERM $$; exit 0
    fi
  done ) &
WD=$!

cache_for() { # N: the --response-cache bytes for a CA of N certificates
    if [ -n "${SCALE_CACHE:-}" ]; then echo "$SCALE_CACHE"; elif [ "$1" -lt 10000000 ]; then echo 268435456; else echo 1073741824; fi
}

# make_ca DIR N: a root and an issuing CA "sub" with N certificates
# imported (scalegen's inventory, then deleted). Sets IMPORT_MS.
make_ca() {
    local d=$1 n=$2 t0
    "$R" ca create-root --dir "$d" --name root --subject "/CN=scale root/O=revd" >/dev/null
    "$R" ca create-sub --dir "$d" --name sub --parent root --subject "/CN=scale sub $n/O=revd" >/dev/null
    run_bg sh -c "'$GEN' inventory $n >'$W/inv.csv'"
    t0=$(date +%s%N)
    run_bg "$R" import --dir "$d" --ca sub --file "$W/inv.csv" >"$W/import.log" 2>&1 ||
        { cat "$W/import.log" >&2; return 1; }
    IMPORT_MS=$(ms_since "$t0")
    rm -f "$W/inv.csv"
    # The template request (serial 1, good) and its GET path.
    "$GEN" serial 1 >"$d.serial1"
    $PY bench/mkreqs.py "$d/ca/sub.pem" "$d.serial1" "$d.tmpl"
    sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g' "$d.tmpl" >"$d.path"
}

# start DIR THREADS PORT [taskset cores]: revd serve, and the time until an
# OCSP GET for serial 1 answers a successful response; then checks that it
# says good. Sets PID_OUT, START_MS.
start() {
    local d=$1 thr=$2 port=$3 cores=${4:-} t0 pre=() cache=()
    [ -n "$cores" ] && pre=(taskset -c "$cores")
    [ "$STORE" = 1 ] && cache=(--response-cache "$CACHE")
    t0=$(date +%s%N)
    "${pre[@]}" "$R" serve --dir "$d" --listen "127.0.0.1:$port" --threads "$thr" "${cache[@]}" \
        --log-format kv 2>>"$d.log" &
    PID_OUT=$!
    local url="http://127.0.0.1:$port/ocsp/$(cat "$d.path")"
    until [ "$(curl -s -o "$W/probe.der" -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] &&
          [ "$(stat -c %s "$W/probe.der")" -gt 16 ]; do
        kill -0 "$PID_OUT" 2>/dev/null || { note "bench-scale: revd serve exited (see $d.log)"; tail -5 "$d.log" >&2; return 1; }
        sleep 0.02
    done
    START_MS=$(ms_since "$t0")
    START_CPU_MS=$(( $(cpu "$PID_OUT") * tick_us / 1000 )) # its CPU time so far: compute or waiting?
    openssl ocsp -respin "$W/probe.der" -resp_text -noverify 2>/dev/null | grep -q "Cert Status: good" ||
        { note "bench-scale: serial 1 does not answer good"; return 1; }
}
stop() { # PID: SIGTERM, and the time it took to exit
    local t0; t0=$(date +%s%N)
    kill -TERM "$1"; wait "$1" 2>/dev/null || true
    STOP_MS=$(ms_since "$t0")
}
# settle PID: until PID uses under 3% of a core over a second (3 minutes
# at most): after a start the index compacts and signing threads end.
settle() {
    local a b i
    for i in $(seq 180); do
        a=$(cpu "$1"); sleep 1; b=$(cpu "$1")
        [ $(( (b - a) * tick_us )) -lt 30000 ] && { SETTLE_S=$i; return 0; }
    done
    SETTLE_S=-1
}
# nvcsw PID: involuntary context switches of all of PID's threads (the
# scheduler preempting them: a loop turn that spans one is long for that).
nvcsw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt_switches/ {s += $2} END {print s + 0}'; }
stall() { # PORT: "max over1ms" from /metrics
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        /^revd_shard_loop_stall_max_seconds / {m = $2}
        /^revd_shard_loop_stall_seconds_bucket\{le="0.001"\}/ {b = $2}
        /^revd_shard_loop_stall_seconds_count / {c = $2}
        END {if (m == "") print "NA NA"; else print m, c - b}'
}
# load NAME PID PORT DIR N [--zipf S]: warm-up, then the measured run.
load() {
    local name=$1 pid=$2 port=$3 d=$4 n=$5; shift 5
    local base=(--url "http://127.0.0.1:$port/ocsp" --requests "$d.tmpl" --serials "$n" --connections "$CONNS" "$@")
    [ "$WARM" != 0 ] && [ "$ROUND" = 1 ] && taskset -c 1 "$LG" "${base[@]}" --duration "$WARM" --json >/dev/null
    local s0 c0 c1 out s1
    local v0 v1
    s0=$(stall "$port"); c0=$(cpu "$pid"); v0=$(nvcsw "$pid")
    out=$(taskset -c 1 "$LG" "${base[@]}" --duration "$SECS" --json)
    c1=$(cpu "$pid"); v1=$(nvcsw "$pid"); s1=$(stall "$port")
    printf '%s\n' "$out" | $PY -c '
import json, sys
d = json.loads(sys.stdin.read())
name, ticks, tick_us, s0, s1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
ok = d["status_2xx"] + d["status_3xx"]
d.update(kind="load", name=name, n=int(sys.argv[6]), round=int(sys.argv[7]), preempted=int(sys.argv[8]), cpu_us_per_req=(ticks * tick_us / ok) if ok else None,
         stall_max_s=None if s1[0] == "NA" else float(s1[0]),
         stall_over_1ms=None if s1[0] == "NA" else int(float(s1[1]) - float(s0[1])))
print(json.dumps(d))' "$name" $((c1 - c0)) "$tick_us" "$s0" "$s1" "$CUR_N" "$ROUND" $((v1 - v0)) >>"$RES"
}
du_json() { # DIR: {"total": bytes, "entry": bytes, ...}
    $PY - "$1" <<'PY'
import json, os, sys
def size(p):
    if os.path.isfile(p) or os.path.islink(p): return os.lstat(p).st_blocks * 512
    return sum(os.lstat(os.path.join(dp, f)).st_blocks * 512 for dp, _, fs in os.walk(p) for f in fs)
d = sys.argv[1]
out = {e: size(os.path.join(d, e)) for e in sorted(os.listdir(d))}
out["total"] = sum(out.values())
print(json.dumps(out))
PY
}

note "== machine: $NCPU cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); revd $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo +dirty)"
if [ "$STORE" = 1 ]; then note "== revd has --response-cache: responses on disk, memory as a cache"
else note "== revd has no --response-cache: every response in memory (the figures before the store)"; fi
# The signing rate beside which the first start is judged (the CAs' keys are P-256).
SPEED=$(openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/nistp256/ && /ecdsa/ {print $(NF-1)}' | tail -1)
row "{\"kind\": \"machine\", \"rounds\": $ROUNDS, \"cores\": $NCPU, \"mem_kb\": $(awk '/MemTotal/ {print $2}' /proc/meminfo), \"cpu\": \"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\", \"kernel\": \"$(uname -r)\", \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo +dirty)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"store\": $STORE, \"openssl_sign_per_s_core\": ${SPEED:-0}, \"secs\": $SECS, \"warmup\": $WARM, \"connections\": $CONNS, \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

PORT_BIG=$(( 20000 + RANDOM % 20000 )); PORT_SMALL=$((PORT_BIG + 1))
note "== the small CA: $SMALL certificates"
CACHE=$(cache_for "$SMALL")
make_ca "$W/small" "$SMALL"
start "$W/small" "$NCPU" $PORT_SMALL; first=$START_MS; stop $PID_OUT
start "$W/small" "$NCPU" $PORT_SMALL; restart=$START_MS; rss=$(rss_kb $PID_OUT); stop $PID_OUT
start "$W/small" 1 $PORT_SMALL 0; SMALL_SRV=$PID_OUT; restart1=$START_MS
settle $SMALL_SRV
row "{\"kind\": \"ca\", \"which\": \"small\", \"n\": $SMALL, \"import_ms\": $IMPORT_MS, \"first_ms\": $first, \"restart_ms\": $restart, \"restart1_ms\": $restart1, \"rss_restart_kb\": $rss, \"rss_serving_kb\": $(rss_kb $SMALL_SRV), \"disk\": $(du_json "$W/small"), \"cache\": $([ $STORE = 1 ] && echo "$CACHE" || echo null)}"

for N in $SCALE_N; do
    D=$W/big$N CUR_N=$N
    CACHE=$(cache_for "$N")
    per=${SCALE_DISK_PER_CERT:-$([ $STORE = 1 ] && echo 2000 || echo 10000)}
    need=$(( N * per + N * 60 + MIN_FREE_GB * 1073741824 ))
    memneed=$(( N * 2 )) # KB: all in memory, about 2,000 bytes per certificate
    memavail=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
    if [ "${SCALE_FORCE:-0}" != 1 ] && [ "$need" -gt "$(avail_b)" ]; then
        note "== N=$N skipped: needs about $((need / 1073741824)) GB free on disk ($((per)) B per certificate + ${MIN_FREE_GB} GB), $(( $(avail_b) / 1073741824 )) GB free (SCALE_FORCE=1 runs it)"
        row "{\"kind\": \"skipped\", \"n\": $N, \"why\": \"disk\"}"; continue
    fi
    if [ "${SCALE_FORCE:-0}" != 1 ] && [ "$STORE" = 0 ] && [ "$memneed" -gt $(( memavail * 7 / 10 )) ]; then
        note "== N=$N skipped: every response in memory needs about $((memneed / 1048576)) GB, $((memavail / 1048576)) GB available (SCALE_FORCE=1 runs it)"
        row "{\"kind\": \"skipped\", \"n\": $N, \"why\": \"memory\"}"; continue
    fi
    note "== N=$N: import"
    make_ca "$D" "$N"
    note "   $IMPORT_MS ms; first start ($NCPU threads)"
    start "$D" "$NCPU" $PORT_BIG; first=$START_MS; first_cpu=$START_CPU_MS; SRV=$PID_OUT
    rss_first=$(rss_kb $SRV); settle $SRV; first_idle=$SETTLE_S
    stop $SRV; SRV=""; stop_ms=$STOP_MS
    note "   $first ms; restart ($NCPU threads)"
    start "$D" "$NCPU" $PORT_BIG; restart=$START_MS; restart_cpu=$START_CPU_MS; SRV=$PID_OUT; rss_restart=$(rss_kb $SRV)
    stop $SRV; SRV=""
    note "   $restart ms; start with one shard on core 0, for the loads"
    start "$D" 1 $PORT_BIG 0; restart1=$START_MS; SRV=$PID_OUT; rss_start1=$(rss_kb $SRV)
    settle $SRV
    rss_settled=$(rss_kb $SRV)
    note "== N=$N: loads (${WARM} s warm-up, ${SECS} s measured, each)"
    # Big and small alternate, ROUNDS times, so that other work on the
    # machine falls on both (the report gives the mean and the range).
    for dist in uniform zipf; do
        z=(); [ $dist = zipf ] && z=(--zipf 1.1)
        for ROUND in $(seq "$ROUNDS"); do
            load "big $dist" $SRV $PORT_BIG "$D" "$N" "${z[@]}"
            load "small $dist" $SMALL_SRV $PORT_SMALL "$W/small" "$SMALL" "${z[@]}"
        done
    done
    rss_loaded=$(rss_kb $SRV)
    note "== N=$N: a full CRL rebuild (all cores)"
    taskset -a -p -c 0-$((NCPU - 1)) $SRV >/dev/null
    parts=$("$R" crl list --dir "$D" --ca sub | awk '$1 ~ /^[0-9]+$/' | wc -l)
    t0=$(date +%s%N)
    run_bg "$R" crl rebuild --dir "$D" --ca sub --all >"$W/rebuild.out" 2>&1 || { cat "$W/rebuild.out" >&2; }
    crl_ms=$(ms_since "$t0")
    sleep 1
    # revd's own figures, one per full rebuild it logged (any start's included), in order.
    crl_log=$(grep -E 'crl.rebuilt_all|CRLs of every CA rebuilt' "$D.log" | grep -o '[0-9]* partitions in [0-9.]* s' | paste -sd';' - || true)
    top=$("$GEN" zipf "$N" 1.1 1000000 $(( STORE == 1 ? CACHE / 2000 : N )) | awk '/^top_share/ {print $2}')
    stop $SRV; SRV=""
    row "{\"kind\": \"ca\", \"which\": \"big\", \"n\": $N, \"import_ms\": $IMPORT_MS, \"first_ms\": $first, \"first_cpu_ms\": $first_cpu, \"restart_cpu_ms\": $restart_cpu, \"first_idle_s\": $first_idle, \"rss_first_kb\": $rss_first, \"stop_ms\": $stop_ms, \"restart_ms\": $restart, \"rss_restart_kb\": $rss_restart, \"restart1_ms\": $restart1, \"rss_start1_kb\": $rss_start1, \"rss_settled_kb\": $rss_settled, \"rss_loaded_kb\": $rss_loaded, \"crl_partitions\": $parts, \"crl_rebuild_ms\": $crl_ms, \"crl_log\": \"${crl_log:-}\", \"zipf_top_share\": ${top:-null}, \"disk\": $(du_json "$D"), \"cache\": $([ $STORE = 1 ] && echo "$CACHE" || echo null)}"
    [ "${SCALE_KEEP:-0}" = 1 ] || rm -rf "$D"
done
stop $SMALL_SRV; SMALL_SRV=""
row "{\"kind\": \"end\", \"loadavg_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
$PY bench/scale_report.py "$RES" >"$MD"
cat "$MD"
note "bench-scale: $MD"
