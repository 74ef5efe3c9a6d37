#!/bin/bash
# revd serve's placement of its threads (shard-cpus, work-cpus; node/cpus.h),
# read back per thread from /proc/PID/task/TID: its name (comm), the cores
# it may run on (Cpus_allowed_list in status) and its nice (field 19 of
# stat).
#   - default, two cores or more: the shards (revd-shard-N) one core each,
#     on every allowed core but the highest; every other thread (the
#     CA-core thread, RocksDB's, the lane, the readers) on the highest, at
#     the shards' nice;
#   - --shard-cpus B --work-cpus A: the other way round;
#   - one core (taskset): everything on it, the other threads at nice +10;
#   - a core the process may not use: refused, naming the core, exit 1;
#     a malformed list: a usage error, exit 2;
#   - --shard-cpus off: no thread placed (each keeps the process's cores).
# Under each layout the sample certificate still answers good.
# Skips (77) where the machine has too few cores for a case.
. "$(dirname "$0")/lib.sh"
command -v taskset >/dev/null || skip "taskset is not installed (util-linux)"

# cores LIST: the cores of a list such as 0-3,6, one a line.
cores() {
    local item
    for item in ${1//,/ }; do
        case "$item" in *-*) seq "${item%-*}" "${item#*-}" ;; *) echo "$item" ;; esac
    done
}
# list_of CORES...: the cores as the kernel writes a list ("0-2,5").
list_of() {
    printf '%s\n' "$@" | sort -n | awk '
        NR == 1 {lo = hi = $1; next}
        $1 == hi + 1 {hi = $1; next}
        {out = out (out ? "," : "") (lo == hi ? lo : lo "-" hi); lo = hi = $1}
        END {if (NR) print out (out ? "," : "") (lo == hi ? lo : lo "-" hi)}'
}
ALLOWED_LIST=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
mapfile -t ALLOWED < <(cores "$ALLOWED_LIST")
N=${#ALLOWED[@]}
[ "$N" -ge 1 ] || fail "cannot read this shell's cores from /proc/self/status"
A=${ALLOWED[0]}
HIGH=${ALLOWED[$((N - 1))]}

X=$T/demo
run_ok revd demo --dir "$X" --no-serve
cat "$X/ca/demo-issuing.pem" "$X/ca/demo-root.pem" >"$T/chain.pem"
PORT=$(( 20000 + RANDOM % 12000 ))
SRV=""

start() { # [taskset cores] -- serve options...
    local pre=()
    if [ "$1" != -- ]; then pre=(taskset -c "$1"); shift; fi
    shift
    "${pre[@]}" "$REVD" serve --dir "$X" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" "$@" >"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    serve_wait "$T/serve.log"
}
stop() {
    kill -TERM "$SRV"
    wait "$SRV" || fail "revd serve exited $? on SIGTERM: $(cat "$T/serve.log")"
    BG_PIDS=${BG_PIDS/ $SRV/}
}
answers_good() {
    local o
    o=$(openssl ocsp -issuer "$X/ca/demo-issuing.pem" -cert "$X/sample/good.pem" -url "http://127.0.0.1:$PORT/ocsp" \
        -CAfile "$T/chain.pem" 2>&1)
    assert_contains "$o" "Response verify OK"
    assert_line "$o" "$X/sample/good.pem: good"
}

# threads: one line per thread of $SRV: "TID NAME CORES NICE" (io_uring's
# own workers, iou-*, left out: the kernel places them with their ring).
threads() {
    local t name cpus nice
    for t in /proc/"$SRV"/task/*; do
        name=$(cat "$t/comm" 2>/dev/null) || continue
        case "$name" in iou-*) continue ;; esac
        cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status" 2>/dev/null)
        # stat's second field is "(name)": count fields after its last ')'.
        nice=$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $17}')
        [ -n "$cpus" ] && echo "$(basename "$t") $name $cpus $nice"
    done
}

# check_layout SHARD_CORES WORK_CORES WORK_NICE_DELTA NUM_SHARDS: each
# shard on one core of SHARD_CORES (a space-separated list, every core of
# it used), every other thread (the main one, RocksDB's among them) on
# exactly WORK_CORES, at the shards' nice + WORK_NICE_DELTA (at most 19).
check_layout() {
    local want_shard=$1 want_work=$2 delta=$3 num=$4
    threads >"$T/threads"
    local shards others base used
    shards=$(awk '$2 ~ /^revd-shard-/' "$T/threads")
    others=$(awk '$2 !~ /^revd-shard-/' "$T/threads")
    [ "$(printf '%s\n' "$shards" | grep -c .)" -eq "$num" ] ||
        fail "expected $num shard threads (revd-shard-N), got: $(cat "$T/threads")"
    used=$(printf '%s\n' "$shards" | awk '{print $3}' | sort -un | tr '\n' ' ')
    assert_eq "$used" "$(printf '%s\n' $want_shard | sort -un | tr '\n' ' ')" "the shards' cores ($(cat "$T/threads"))"
    base=$(printf '%s\n' "$shards" | awk 'NR == 1 {print $4}')
    printf '%s\n' "$shards" | awk -v b="$base" '$4 != b' | grep -q . && fail "the shards' nice differs: $(cat "$T/threads")"
    local want_nice=$((base + delta)); [ "$want_nice" -gt 19 ] && want_nice=19
    printf '%s\n' "$others" | awk '$1 == '"$SRV"'' | grep -q . || fail "no main thread among $(cat "$T/threads")"
    printf '%s\n' "$others" | grep -q ' rocksdb:' || fail "no RocksDB thread among $(cat "$T/threads")"
    printf '%s\n' "$others" | grep -q ' revd-reader ' || fail "no store reader among $(cat "$T/threads")"
    local bad
    bad=$(printf '%s\n' "$others" | awk -v w="$want_work" -v n="$want_nice" '$3 != w || $4 != n')
    [ -z "$bad" ] || fail "threads not on cores $want_work at nice $want_nice: $bad (all: $(cat "$T/threads"))"
}

step "a malformed list is a usage error; a core this process may not use is refused, naming it"
run_fail 2 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --shard-cpus 3-1
assert_contains "$ERR" "--shard-cpus '3-1'"
run_fail 2 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --shard-cpus 0,,1
run_fail 2 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --work-cpus off
run_fail 2 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --work-cpus ' 0'
missing=""
for c in $(seq 0 1023); do printf '%s\n' "${ALLOWED[@]}" | grep -qx "$c" || { missing=$c; break; }; done
if [ -n "$missing" ]; then
    run_fail 1 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --shard-cpus "$A,$missing"
    assert_contains "$ERR" "core $missing is not one this process may use"
    run_fail 1 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --work-cpus "$missing"
    assert_contains "$ERR" "--work-cpus"
fi
if ! printf '%s\n' "${ALLOWED[@]}" | grep -qx 7; then
    run_fail 1 revd serve --dir "$X" --listen "127.0.0.1:$PORT" --shard-cpus 7-9
    assert_contains "$ERR" "core 7 is not one this process may use"
fi

step "one core (taskset -c $A): everything on it, the threads but the shards at nice +10"
start "$A" --
assert_contains "$(cat "$T/serve.log")" "shards on cores $A; signing, CRLs, index on every core ($A) at low priority"
check_layout "$A" "$A" 10 1
answers_good
stop

step "shard-cpus off: no thread placed"
start -- --shard-cpus off --threads 2
bad=$(threads | awk -v w="$ALLOWED_LIST" '$3 != w')
[ -z "$bad" ] || fail "with shard-cpus off, threads not on the process's cores $ALLOWED_LIST: $bad"
[ "$(threads | awk '{print $4}' | sort -u | wc -l)" -eq 1 ] || fail "with shard-cpus off, the nice differs: $(threads)"
answers_good
stop

[ "$N" -ge 2 ] || skip "the default and swapped layouts need two cores; this process may use $ALLOWED_LIST"
B=${ALLOWED[1]}

step "default on $N cores: the shards on all but core $HIGH, the rest on $HIGH, disjoint"
start --
check_layout "${ALLOWED[*]:0:$((N - 1))}" "$HIGH" 0 $((N - 1))
assert_eq "$(list_of "${ALLOWED[@]}")" "$ALLOWED_LIST" "list_of (the test's own)"
assert_contains "$(cat "$T/serve.log")" "signing, CRLs, index on cores $HIGH"
answers_good
stop

step "--shard-cpus $B --work-cpus $A: the other way round"
start -- --shard-cpus "$B" --work-cpus "$A"
check_layout "$B" "$A" 0 1
assert_contains "$(cat "$T/serve.log")" "shards on cores $B; signing, CRLs, index on cores $A"
answers_good
stop

step "--threads 2 over one shard core: both shards on it, round robin"
start -- --shard-cpus "$A" --threads 2
check_layout "$A" "$(list_of "${ALLOWED[@]:1}")" 0 2
answers_good
stop

pass
