#!/bin/bash
# revd import (CSV bulk load): header optional, good/revoked/hold rows in each
# TIME form, the status and report of what was loaded, a file with any bad row
# refused whole with the index unchanged, and a 200,000-row file.
. "$(dirname "$0")/lib.sh"

create_root legacy
first_line() { printf '%s\n' "$OUT" | head -1; }

# ------------------------------------------------------------------ a small file
step "import with a header"
cat >"$T/small.csv" <<'EOF'
serial,not_after,status,revocation_time,reason,cdp
0A0B0C,2030-01-01,good
0x1d2e3f,2030-06-01T12:00:00Z,revoked,2024-03-04T05:06:07Z,keyCompromise
ab:cd:ef:01,@1900000000,hold,2024-05-06,certificateHold
7F000001,2031-01-01,revoked,@1700000000,superseded,http://legacy.example/crl/7.crl
0C0D,2030-01-01,good,,,http://legacy.example/crl/1.crl
abc,2030-01-01,good
EOF
run_ok revd import --ca legacy --file "$T/small.csv"
printf '%s\n' "$OUT" | grep -qw 6 || fail "import should print the count (6)"
[ "$(printf '%s\n' "$OUT" | grep -oE '[0-9]+([.,][0-9]+)?' | grep -c .)" -ge 2 ] ||
    fail "import should print the count and the rate"
run_ok revd ca show legacy
assert_kv imported 6

step "status of imported serials"
# expect SERIAL-AS-GIVEN FIRST-LINE CANONICAL NOT-AFTER [REASON REVOCATION-TIME]
expect() {
    run_ok revd status --ca legacy --serial "$1"
    assert_eq "$(first_line)" "$2" "status of $1"
    assert_kv serial "$3"
    assert_kv not-after "$4"
    if [ $# -ge 6 ]; then
        assert_kv reason "$5"
        assert_kv revocation-time "$6"
    else
        printf '%s\n' "$OUT" | grep -q '^reason: ' && fail "status of good $1 has a reason"
    fi
    return 0
}
expect 0A0B0C good 0A0B0C 2030-01-01T00:00:00Z
expect 1D2E3F revoked 1D2E3F 2030-06-01T12:00:00Z keyCompromise 2024-03-04T05:06:07Z
expect ABCDEF01 revoked ABCDEF01 2030-03-17T17:46:40Z certificateHold 2024-05-06T00:00:00Z
expect 7f:00:00:01 revoked 7F000001 2031-01-01T00:00:00Z superseded 2023-11-14T22:13:20Z
expect 0C0D good 0C0D 2030-01-01T00:00:00Z
expect 0xABC good 0ABC 2030-01-01T00:00:00Z
run_ok revd status --ca legacy --serial 7F000001
assert_kv crl http://legacy.example/crl/7.crl
run_ok revd status --ca legacy --serial 0C0D
assert_kv crl http://legacy.example/crl/1.crl

step "report of imported serials"
run_ok revd report --ca legacy --format csv
R=$OUT
assert_eq "$(csv_get "$R" 0A0B0C status)" good "report status of 0A0B0C"
assert_eq "$(csv_get "$R" 1D2E3F status)" revoked "report status of 1D2E3F"
assert_eq "$(csv_get "$R" 1D2E3F reason)" keyCompromise "report reason of 1D2E3F"
assert_eq "$(csv_get "$R" 1D2E3F revocation_time)" 2024-03-04T05:06:07Z "report revocation_time of 1D2E3F"
assert_eq "$(csv_get "$R" ABCDEF01 status)" hold "report status of ABCDEF01"
assert_eq "$(csv_get "$R" 7F000001 not_after)" 2031-01-01T00:00:00Z "report not_after of 7F000001"
assert_eq "$(csv_get "$R" 0ABC status)" good "report status of 0ABC"

step "revoke and release imported serials"
run_ok revd unhold --ca legacy --serial ABCDEF01
assert_eq "$OUT" "released ABCDEF01" "unhold stdout"
run_ok revd status --ca legacy --serial ABCDEF01
assert_eq "$(first_line)" good "status after releasing an imported hold"
run_ok revd revoke --ca legacy --serial 0A0B0C --reason cessationOfOperation
assert_eq "$OUT" "revoked 0A0B0C (cessationOfOperation)" "revoke of an imported serial"
before=$(snapshot legacy)
run_fail 1 revd unhold --ca legacy --serial 1D2E3F
assert_unchanged "$before" legacy
run_fail 1 revd revoke --ca legacy --serial 7F000001 --reason keyCompromise
assert_unchanged "$before" legacy

step "import without a header"
printf '%s\n' "0D0E,2032-02-02,good" "0D0F,2032-02-02,revoked,2025-01-01,affiliationChanged" >"$T/nohdr.csv"
run_ok revd import --ca legacy --file "$T/nohdr.csv"
printf '%s\n' "$OUT" | grep -qw 2 || fail "import should print the count (2)"
expect 0D0E good 0D0E 2032-02-02T00:00:00Z
expect 0D0F revoked 0D0F 2032-02-02T00:00:00Z affiliationChanged 2025-01-01T00:00:00Z
run_ok revd ca show legacy
assert_kv imported 8

# ------------------------------------------------------------------ bad files
step "bad files are refused whole"
before=$(snapshot legacy)
GOOD_ROW="0E0E0E,2030-01-01,good"
n=0
while IFS= read -r bad; do
    n=$((n + 1))
    printf '%s\n' "serial,not_after,status,revocation_time,reason,cdp" "$GOOD_ROW" "0E0E0F,2030-01-01,good" "$bad" \
        >"$T/bad-$n.csv"
    run_fail 1 revd import --ca legacy --file "$T/bad-$n.csv"
    assert_unchanged "$before" legacy
    run_ok revd status --ca legacy --serial 0E0E0E
    assert_eq "$(first_line)" unknown "the good row before a bad one ($bad) was written"
done <<'EOF'
XYZ1,2030-01-01,good
0101,2030-13-01,good
0102,not-a-time,good
0103,2030-01-01,expired
0104,2030-01-01,revoked,2024-01-01,keyCompromise,http://x.example/1.crl,extra
0105,2030-01-01,revoked,2024-01-01,notAReason
0106,2030-01-01,revoked,yesterday,keyCompromise
0107,2030-01-01
0x,2030-01-01,good
0102030405060708090A0B0C0D0E0F101112131415,2030-01-01,good
EOF
# A bad row far down a longer file: still nothing written.
{
    for i in $(seq 1 500); do printf '%X,2030-01-01,good\n' $((0xF0000 + i)); done
    echo "F1000,2030-01-01,bogus"
} >"$T/bad-late.csv"
run_fail 1 revd import --ca legacy --file "$T/bad-late.csv"
assert_unchanged "$before" legacy
run_ok revd status --ca legacy --serial F0001
assert_eq "$(first_line)" unknown "row 1 of a file whose row 501 is bad was written"

step "other refusals"
run_fail 1 revd import --ca legacy --file "$T/no-such-file.csv"
assert_unchanged "$before" legacy
run_fail 1 revd import --ca no-such-ca --file "$T/small.csv"
assert_unchanged "$before" legacy

# ------------------------------------------------------------------ 200,000 rows
step "200,000 rows"
create_root big
"$PY" - "$T/big.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("serial,not_after,status,revocation_time,reason\n")
    for i in range(1, 200001):
        s = "%X" % (0x1000000 + i)
        if i % 100 == 0:
            f.write("%s,2031-01-01T00:00:00Z,revoked,2024-05-01T00:00:00Z,keyCompromise\n" % s)
        elif i % 1000 == 1:
            f.write("%s,2031-01-01,hold,@1714521600,certificateHold\n" % s)
        else:
            f.write("%s,2031-01-01,good\n" % s)
EOF
t0=$(date +%s.%N)
REVD_TIMEOUT=300 run_ok revd import --ca big --file "$T/big.csv"
t1=$(date +%s.%N)
echo "# import of 200,000 rows: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; revd said: $OUT"
printf '%s\n' "$OUT" | grep -qE '200,?000' || fail "import should print the count (200000)"
[ "$(printf '%s\n' "$OUT" | grep -oE '[0-9]+([.,][0-9]+)*' | grep -vE '^200,?000$' | grep -c .)" -ge 1 ] ||
    fail "import should print a rate besides the count"
run_ok revd ca show big
assert_kv imported 200000
run_ok revd status --ca big --serial "$(printf '%X' $((0x1000000 + 123457)))"
assert_eq "$(first_line)" good "status of row 123457"
run_ok revd status --ca big --serial "$(printf '%X' $((0x1000000 + 199900)))"
assert_eq "$(first_line)" revoked "status of row 199900"
assert_kv reason keyCompromise
run_ok revd status --ca big --serial "$(printf '%X' $((0x1000000 + 1001)))"
assert_kv reason certificateHold
assert_kv revocation-time 2024-05-01T00:00:00Z
run_ok revd status --ca big --serial "$(printf '%X' $((0x1000000 + 200001)))"
assert_eq "$(first_line)" unknown "status of a serial past the end"
REVD_TIMEOUT=300 _run revd report --ca big --format csv
[ "$RC" -eq 0 ] || fail "report of 200,000 rows failed"
assert_eq "$(printf '%s\n' "$OUT" | wc -l)" 200001 "lines in the report of 200,000 imported rows"
assert_eq "$(printf '%s\n' "$OUT" | awk -F, '$6 == "revoked"' | wc -l)" 2000 "revoked rows in the report"
assert_eq "$(printf '%s\n' "$OUT" | awk -F, '$6 == "hold"' | wc -l)" 200 "hold rows in the report"

pass
