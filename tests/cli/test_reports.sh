#!/bin/bash
# Scheduled reports (revd serve --report-dir): every --report-every, each
# CA's report as CSV and JSON, equal to what `revd report` prints; the time
# of the last kept in DIR/report.last so that a restart keeps the schedule;
# --report-format; bad settings refused.
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
R=$T/reports
create_root r
create_sub s r
make_csr ee /CN=ee
issue_to "$T/a.pem" --ca s --csr "$T/ee.csr"
run_ok revd revoke --ca s --serial "$(serial_of "$T/a.pem")" --reason superseded

step "bad settings"
run_fail 2 revd serve --report-dir relative
run_fail 2 revd serve --report-every 0s
run_fail 2 revd serve --report-format xml

step "reports at start, then every 2 s, equal to revd report"
serve_bg "$T/s.log" --report-dir "$R" --report-every 2s
for _ in $(seq 100); do [ "$(ls "$R" 2>/dev/null | grep -c '^s-.*\.csv$')" -ge 2 ] && break; sleep 0.1; done
[ "$(ls "$R" | grep -c '^s-.*\.csv$')" -ge 2 ] || fail "two reports of s were not written within 10 s: $(ls "$R")"
ls "$R" | grep -q '\.tmp' && fail "a temporary file was left: $(ls "$R")"
first=$(ls "$R" | grep '^s-.*\.csv$' | head -1)
assert_match "$first" '^s-[0-9]{8}T[0-9]{6}Z\.csv$' "the report's name"
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
run_ok revd report --ca s --format csv
assert_eq "$(cat "$R/$first")" "$OUT" "the scheduled CSV report"
run_ok revd report --ca s --format json
assert_eq "$(cat "$R/${first%.csv}.json")" "$OUT" "the scheduled JSON report"
"$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$R/${first%.csv}.json" || fail "the JSON report does not parse"
[ -f "$R/r-${first#s-}" ] || fail "no report of r at the same time: $(ls "$R")"
assert_contains "$(cat "$T/s.log")" "reports: 4 written to $R, 0 failed"

step "a restart keeps the schedule"
rm -rf "$R"
serve_bg "$T/s2.log" --report-dir "$R" --report-every 1h --report-format csv
sleep 1.5
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
[ ! -e "$R" ] || [ -z "$(ls "$R")" ] || fail "a report was written before its hour: $(ls "$R")"
serve_bg "$T/s3.log" --report-dir "$R" --report-every 1s --report-format csv
for _ in $(seq 50); do [ -n "$(ls "$R" 2>/dev/null)" ] && break; sleep 0.1; done
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
[ -n "$(ls "$R" | grep '\.csv$')" ] || fail "no report with --report-every 1s"
[ -z "$(ls "$R" | grep '\.json$')" ] || fail "JSON written under --report-format csv"
pass
