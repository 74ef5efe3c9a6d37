#!/bin/bash
# revd import of a file larger than one chunk (--chunk-rows forces many):
# every row lands with its status, reason and partition; a serial twice in
# two different chunks, a serial the CA has, and a bad row in the last chunk
# each refuse the file whole with the index unchanged; a kill -9 in the
# middle of an import leaves the index as it was, and the next import
# removes what the killed one left in DIR.
. "$(dirname "$0")/lib.sh"

create_root legacy
first_line() { printf '%s\n' "$OUT" | head -1; }
tmp_dirs() { find "$REVD_DIR" -maxdepth 1 -name 'import.tmp.*' | wc -l; }

# ------------------------------------------------------------------ many chunks
step "1,000 rows in chunks of 7 (143 chunks: more runs than one merge takes)"
# Shuffled serials, so that every chunk spans the whole range; every 7th row
# revoked, every 50th on hold, every 9th bound to one of two imported CDPs.
"$PY" - "$T/many.csv" "$T/many.expect" <<'EOF'
import random, sys
r = random.Random(3)
idx = list(range(1000))
r.shuffle(idx)
with open(sys.argv[1], "w") as f, open(sys.argv[2], "w") as x:
    f.write("serial,not_after,status,revocation_time,reason,cdp\n")
    for i in idx:
        s = "%08X" % (0x5000000 + i * 7919)
        cdp = "http://old.example/crl/%d.crl" % (i % 2) if i % 9 == 0 else ""
        if i % 50 == 0:
            f.write("%s,2031-01-01,hold,2024-05-01,certificateHold,%s\n" % (s, cdp))
            x.write("%s,hold\n" % s)
        elif i % 7 == 0:
            f.write("%s,2031-01-01,revoked,2024-05-02T03:04:05Z,keyCompromise,%s\n" % (s, cdp))
            x.write("%s,revoked\n" % s)
        else:
            f.write("%s,2031-01-01,good,,,%s\n" % (s, cdp))
            x.write("%s,good\n" % s)
EOF
run_ok revd import --ca legacy --file "$T/many.csv" --chunk-rows 7
printf '%s\n' "$OUT" | grep -qw 1000 || fail "import should print the count (1000)"
run_ok revd ca show legacy
assert_kv imported 1000
assert_eq "$(tmp_dirs)" 0 "temporary directories left in DIR after an import"

step "every row landed with its status"
run_ok revd report --ca legacy --format csv
printf '%s\n' "$OUT" >"$T/many.report"
"$PY" - "$T/many.report" "$T/many.expect" <<'EOF' || fail "the report differs from the file (above)"
import csv, sys
got = {row["serial"]: row["status"] for row in csv.DictReader(open(sys.argv[1]))}
want = dict(line.strip().split(",") for line in open(sys.argv[2]))
if got != want:
    missing = sorted(set(want) - set(got))[:5]
    wrong = sorted(s for s in want if s in got and got[s] != want[s])[:5]
    extra = sorted(set(got) - set(want))[:5]
    print("missing %s wrong %s extra %s (of %d, got %d)" % (missing, wrong, extra, len(want), len(got)))
    sys.exit(1)
EOF
# The first, a middle and the last serial, and one each way of binding.
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000)))"
assert_eq "$(first_line)" revoked "status of the first serial (row 0: hold)"
assert_kv reason certificateHold
assert_kv crl http://old.example/crl/0.crl
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000 + 500 * 7919)))"
assert_eq "$(first_line)" revoked "status of the middle serial (row 500: hold)"
assert_kv reason certificateHold
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000 + 999 * 7919)))"
assert_eq "$(first_line)" good "status of the last serial (row 999)"
assert_kv crl http://old.example/crl/1.crl
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000 + 7 * 7919)))"
assert_eq "$(first_line)" revoked "status of row 7"
assert_kv reason keyCompromise
assert_kv revocation-time 2024-05-02T03:04:05Z
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000 + 998 * 7919)))"
assert_eq "$(first_line)" good "status of row 998"
printf '%s\n' "$OUT" | grep -q '^crl: http://old.example' && fail "row 998 has no CDP but is bound to one"
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x5000000 + 1000 * 7919)))"
assert_eq "$(first_line)" unknown "status of a serial past the end"

step "the CRLs hold every revoked row"
run_ok revd crl rebuild --ca legacy
run_ok revd report --ca legacy --format csv
n_rev=$(printf '%s\n' "$OUT" | awk -F, '$6 == "revoked" || $6 == "hold"' | wc -l)
assert_eq "$n_rev" "$(grep -c -v ',good$' "$T/many.expect")" "revoked and held rows in the report"
n_crl=0
for f in "$REVD_DIR"/crl/legacy/*.crl; do
    c=$(openssl crl -inform DER -in "$f" -noout -text 2>/dev/null | grep -c 'Serial Number:')
    n_crl=$((n_crl + c))
done
assert_eq "$n_crl" "$n_rev" "entries in all of legacy's CRLs"

# ------------------------------------------------------------------ refusals
before=$(snapshot legacy)
step "a serial twice, in different chunks"
{
    echo "serial,not_after,status"
    for i in $(seq 1 60); do printf '%X,2030-01-01,good\n' $((0x7000000 + i)); done
    printf '%X,2030-01-01,good\n' $((0x7000000 + 3))
} >"$T/dup.csv"
run_fail 1 revd import --ca legacy --file "$T/dup.csv" --chunk-rows 5
assert_contains "$ERR" "serial $(printf '%08X' $((0x7000000 + 3))) is on lines 4 and 62; nothing was imported"
assert_unchanged "$before" legacy
assert_eq "$(tmp_dirs)" 0 "temporary directories left in DIR after a refused import"

step "a serial the CA has, in a later chunk"
{
    for i in $(seq 1 60); do printf '%X,2030-01-01,good\n' $((0x7100000 + i)); done
    printf '%X,2030-01-01,good\n' $((0x5000000 + 998 * 7919))
    for i in $(seq 61 70); do printf '%X,2030-01-01,good\n' $((0x7100000 + i)); done
} >"$T/clash.csv"
run_fail 1 revd import --ca legacy --file "$T/clash.csv" --chunk-rows 5
assert_contains "$ERR" ":61: CA legacy already has serial $(printf '%08X' $((0x5000000 + 998 * 7919)))"
assert_unchanged "$before" legacy
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x7100000 + 1)))"
assert_eq "$(first_line)" unknown "row 1 of a refused file"

step "a bad row in the last chunk"
{
    for i in $(seq 1 99); do printf '%X,2030-01-01,good\n' $((0x7200000 + i)); done
    printf '%X,2030-01-01,revoked,2024-01-01,notAReason\n' $((0x7200000 + 100))
} >"$T/late.csv"
run_fail 1 revd import --ca legacy --file "$T/late.csv" --chunk-rows 10
assert_contains "$ERR" ":100: reason 'notAReason' is not one of"
assert_unchanged "$before" legacy
run_ok revd status --ca legacy --serial "$(printf '%X' $((0x7200000 + 1)))"
assert_eq "$(first_line)" unknown "row 1 of a file whose last row is bad"
assert_eq "$(tmp_dirs)" 0 "temporary directories left in DIR after a refused import"

step "--chunk-rows out of range"
run_fail 1 revd import --ca legacy --file "$T/late.csv" --chunk-rows -1
assert_unchanged "$before" legacy

# ------------------------------------------------------------------ full disk
step "a full disk while the runs are written"
mkdir -p "$T/full"
if mount -t tmpfs -o size=48m tmpfs "$T/full" 2>/dev/null; then
    trap 'umount -l "$T/full" 2>/dev/null; _cleanup' EXIT
    "$PY" -c '
for i in range(200000): print("%032X,2031-01-01,good" % ((1 << 126) + i * 7919))' >"$T/200k.csv"
    SAVED_DIR=$REVD_DIR
    export REVD_DIR=$T/full/d
    create_root small
    # About 3 MB left: the runs of 200,000 rows take about 9 MB.
    avail=$(df -k --output=avail "$T/full" | tail -1)
    dd if=/dev/zero of="$T/full/fill" bs=1k count=$((avail - 3072)) 2>/dev/null
    before=$(snapshot small)
    run_fail 1 revd import --ca small --file "$T/200k.csv" --chunk-rows 20000
    assert_contains "$ERR" "No space left on device"
    printf '%s\n' "$ERR" | grep -qE 'import\.tmp\.[0-9]+/x-[0-9]+\.run' || fail "the message should name the run file"
    printf '%s\n' "$ERR" | grep -qE 'free some space' || fail "the message should say to free some space"
    rm -f "$T/full/fill"
    assert_unchanged "$before" small
    assert_eq "$(tmp_dirs)" 0 "temporary directories left in DIR after a full disk"
    run_ok revd import --ca small --file "$T/200k.csv" --chunk-rows 20000
    run_ok revd ca show small
    assert_kv imported 200000
    export REVD_DIR=$SAVED_DIR
    umount "$T/full"
else
    echo "NOTE: $TEST_NAME: a full disk: not tested (mount -t tmpfs is not permitted here)"
fi

# ------------------------------------------------------------------ kill -9
step "kill -9 in the middle of an import"
create_root big
"$PY" - "$T/big.csv" <<'EOF'
import random, sys
r = random.Random(5)
with open(sys.argv[1], "w") as f:
    for i in range(500000):
        s = "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
        f.write(s + (",2031-01-01,revoked,2025-01-02,keyCompromise\n" if i % 20 == 0 else ",2031-01-01,good\n"))
EOF
before=$(snapshot legacy big)
"$REVD" import --ca big --file "$T/big.csv" --chunk-rows 20000 >"$T/kill.out" 2>&1 &
pid=$!
BG_PIDS="$BG_PIDS $pid"
# Its runs are on disk once the second run file of serials exists.
for _ in $(seq 2000); do
    ls "$REVD_DIR"/import.tmp.*/x-1.run >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
done
kill -9 "$pid" 2>/dev/null || fail "the import finished before the kill: $(cat "$T/kill.out")"
{ wait "$pid"; } 2>/dev/null
assert_eq "$(tmp_dirs)" 1 "what the killed import left in DIR"
assert_unchanged "$before" legacy big
run_ok revd ca show big
assert_kv imported 0

step "the next import removes what the killed one left, and loads the file"
run_ok revd import --ca big --file "$T/big.csv" --chunk-rows 100000
assert_eq "$(tmp_dirs)" 0 "temporary directories left in DIR after the next import"
run_ok revd ca show big
assert_kv imported 500000
run_ok revd status --ca big --serial "$(tail -1 "$T/big.csv" | cut -d, -f1)"
assert_eq "$(first_line)" good "status of the last row"
run_ok revd status --ca big --serial "$(head -1 "$T/big.csv" | cut -d, -f1)"
assert_eq "$(first_line)" revoked "status of the first row"

pass
