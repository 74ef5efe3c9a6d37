#!/bin/bash
# Files revd writes, against a hostile local user (issue 13, defect 7):
# a symlink planted at the temporary name a scheduled report once used
# (NAME-STAMP.csv.tmp) is never followed, and the root-owned file it points
# to keeps its bytes; reports are 0600; a report directory another user can
# write, or owned by another user, is refused with a message naming it and
# the fix; a data directory made 0755 beforehand is tightened to 0700, one
# owned by another user is refused; events.jsonl as a symlink (or another
# user's file) is refused and its target untouched. Needs root (to make
# files of another user: nobody).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root, to make files and directories owned by another user (nobody)"
NOBODY=$(id -u nobody 2>/dev/null) || skip "no user nobody"
D=$REVD_DIR
printf 'precious, root-owned\n' >"$T/victim"
chmod 600 "$T/victim"
PORT=$(( 20000 + RANDOM % 12000 ))

step "a data directory made 0755 beforehand is tightened to 0700"
assert_file_mode "$D" 755   # lib.sh made it under umask 022
create_root r
assert_file_mode "$D" 700
chmod 755 "$D"
run_ok revd ca list
assert_file_mode "$D" 700

step "a data directory owned by another user is refused"
mkdir -p "$T/theirs"
chown nobody "$T/theirs"
chmod 700 "$T/theirs"
run_fail 1 revd ca create-root --dir "$T/theirs" --name x --subject /CN=x
assert_contains "$ERR" "$T/theirs: owned by uid $NOBODY (nobody), not by revd's user"
assert_contains "$ERR" "chown 0 $T/theirs"
[ -z "$(ls -A "$T/theirs")" ] || fail "revd wrote into a directory of another user: $(ls -A "$T/theirs")"

step "a symlink planted at a report's old temporary name is not followed"
R=$T/reports
mkdir -m 700 "$R"
now=$(now)
for s in $(seq -2 30); do
    stamp=$(date -u -d "@$((now + s))" +%Y%m%dT%H%M%SZ)
    ln -s "$T/victim" "$R/r-$stamp.csv.tmp"
    ln -s "$T/victim" "$R/r-$stamp.json.tmp"
done
serve_bg "$T/s1.log" --listen "127.0.0.1:$PORT" --threads 1 --report-dir "$R" --report-every 1h
for _ in $(seq 100); do grep -q "reports: " "$T/s1.log" && break; sleep 0.1; done
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
assert_eq "$(cat "$T/victim")" "precious, root-owned" "the file the planted symlink points to"
assert_contains "$(cat "$T/s1.log")" "reports: 2 written to $R, 0 failed"
csv=$(ls "$R" | grep '^r-.*Z\.csv$' | head -1)
[ -n "$csv" ] || fail "no CSV report: $(ls "$R")"
[ -f "$R/$csv" ] && [ ! -L "$R/$csv" ] || fail "$R/$csv is not a regular file"
run_ok revd report --ca r --format csv
assert_eq "$(cat "$R/$csv")" "$OUT" "the scheduled report"

step "reports are 0600, and no temporary file is left"
assert_file_mode "$R/$csv" 600
assert_file_mode "$R/${csv%.csv}.json" 600
ls "$R" | grep -q '\.tmp\.' && fail "a temporary file was left: $(ls "$R" | grep '\.tmp\.')"

step "a report directory every user can write is refused"
R2=$T/open-reports
mkdir "$R2"; chmod 777 "$R2"
rm -f "$D/report.last"   # a report at start, not an hour after the last
serve_bg "$T/s2.log" --listen "127.0.0.1:$PORT" --threads 1 --report-dir "$R2" --report-every 1h
for _ in $(seq 100); do grep -q "$R2" "$T/s2.log" && break; sleep 0.1; done
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
assert_contains "$(cat "$T/s2.log")" "$R2: other users may write this directory (mode 0777)"
assert_contains "$(cat "$T/s2.log")" "chmod go-w $R2"
[ -z "$(ls -A "$R2")" ] || fail "a report was written into a world-writable directory: $(ls -A "$R2")"

step "a report directory owned by another user is refused"
R3=$T/their-reports
mkdir -m 755 "$R3"; chown nobody "$R3"
rm -f "$D/report.last"
serve_bg "$T/s3.log" --listen "127.0.0.1:$PORT" --threads 1 --report-dir "$R3" --report-every 1h
for _ in $(seq 100); do grep -q "$R3" "$T/s3.log" && break; sleep 0.1; done
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
assert_contains "$(cat "$T/s3.log")" "$R3: owned by uid $NOBODY (nobody), not by revd's user"
[ -z "$(ls -A "$R3")" ] || fail "a report was written into another user's directory: $(ls -A "$R3")"

step "events.jsonl as a symlink is refused, its target untouched"
make_csr ee /CN=ee
issue_to "$T/a.pem" --ca r --csr "$T/ee.csr"
rm -f "$D/events.jsonl"
ln -s "$T/victim" "$D/events.jsonl"
run_ok revd revoke --ca r --serial "$(serial_of "$T/a.pem")" --reason superseded
assert_eq "$(cat "$T/victim")" "precious, root-owned" "the file events.jsonl points to"
assert_contains "$ERR" "$D/events.jsonl: a symbolic link"
[ -L "$D/events.jsonl" ] || fail "events.jsonl was replaced"

step "events.jsonl of another user is refused"
rm -f "$D/events.jsonl"
printf '' >"$D/events.jsonl"; chown nobody "$D/events.jsonl"
issue_to "$T/b.pem" --ca r --csr "$T/ee.csr"
assert_eq "$(cat "$D/events.jsonl")" "" "another user's events.jsonl"
rm -f "$D/events.jsonl"
issue_to "$T/c.pem" --ca r --csr "$T/ee.csr"
assert_contains "$(cat "$D/events.jsonl")" '"type":"cert.issued"'
assert_file_mode "$D/events.jsonl" 600
pass
