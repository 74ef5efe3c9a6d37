#!/bin/bash
# revd report: the CSV header and every column of every row checked against
# the certificates themselves and `revd status`; JSON with the same content;
# --since in each TIME form; refusals.
. "$(dirname "$0")/lib.sh"

HEADER="serial,subject,sans,not_before,not_after,status,revocation_time,reason,partition,template"

create_root root
create_sub sub root

step "empty report"
run_ok revd report --ca sub --format csv
assert_eq "$OUT" "$HEADER" "report of a CA that issued nothing"
run_ok revd report --ca sub --format json
json_ok "$OUT" 'j == []'

step "issue and revoke"
# A comma in the subject: the CSV must quote it.
make_csr a "/CN=a.example/O=Example, Inc."
make_csr b "/CN=b.example"
make_csr c "/CN=c.example"
make_csr d "/CN=d.example"
issue_to "$T/a.pem" --ca sub --csr "$T/a.csr"
issue_to "$T/b.pem" --ca sub --csr "$T/b.csr" --template server --san "DNS:b.example,IP:192.0.2.7,email:b@example.com"
issue_to "$T/c.pem" --ca sub --csr "$T/c.csr" --template client
issue_to "$T/d.pem" --ca sub --csr "$T/d.csr"
A=$(serial_of "$T/a.pem") B=$(serial_of "$T/b.pem") C=$(serial_of "$T/c.pem") D=$(serial_of "$T/d.pem")
t_rev=$(now)
run_ok revd revoke --ca sub --serial "$C" --reason keyCompromise
run_ok revd revoke --ca sub --serial "$D" --reason certificateHold

step "csv"
run_ok revd report --ca sub --format csv
CSV=$OUT
assert_eq "$(printf '%s\n' "$CSV" | head -1)" "$HEADER" "CSV header"
printf '%s\n' "$CSV" >"$T/report.csv"
# Every row has exactly the header's 10 columns, and one row per certificate.
"$PY" - "$T/report.csv" <<'EOF' || fail "CSV shape"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
bad = [r for r in rows if len(r) != 10]
if bad:
    print("rows without 10 columns:", bad[:3]); sys.exit(1)
if len(rows) != 5:
    print("expected header + 4 rows, got", len(rows)); sys.exit(1)
EOF
# check_row SERIAL CERT STATUS REASON TEMPLATE SANS
check_row() {
    local s=$1 f=$2 info
    info=$(certinfo "$f")
    assert_contains "$(csv_get "$CSV" "$s" subject)" "CN=$(ci subject "$info" | sed 's|^/CN=||; s|/.*||')" "subject of $s"
    assert_eq "$(csv_get "$CSV" "$s" sans)" "$6" "sans of $s"
    assert_eq "$(csv_get "$CSV" "$s" not_before)" "$(ci not_before "$info")" "not_before of $s"
    assert_eq "$(csv_get "$CSV" "$s" not_after)" "$(ci not_after "$info")" "not_after of $s"
    assert_eq "$(csv_get "$CSV" "$s" status)" "$3" "status of $s"
    assert_eq "$(csv_get "$CSV" "$s" reason)" "$4" "reason of $s"
    assert_eq "$(csv_get "$CSV" "$s" template)" "$5" "template of $s"
    run_ok revd status --ca sub --serial "$s"
    assert_eq "$(csv_get "$CSV" "$s" partition)" "$(kv partition)" "partition of $s (report vs status)"
    local rt; rt=$(csv_get "$CSV" "$s" revocation_time)
    if [ "$3" = good ]; then
        assert_eq "$rt" "" "revocation_time of good $s"
    else
        assert_eq "$rt" "$(kv revocation-time)" "revocation_time of $s (report vs status)"
        assert_match "$rt" "$TIME_RE" "revocation_time"
        assert_near "$(epoch "$rt")" "$t_rev" 120 "revocation_time of $s"
    fi
}
check_row "$A" "$T/a.pem" good "" end-entity ""
check_row "$B" "$T/b.pem" good "" server "DNS:b.example;IP:192.0.2.7;email:b@example.com"
check_row "$C" "$T/c.pem" revoked keyCompromise client ""
check_row "$D" "$T/d.pem" hold certificateHold end-entity ""
assert_contains "$(csv_get "$CSV" "$A" subject)" "Example, Inc." "subject of $A"

step "json"
run_ok revd report --ca sub --format json
JSON=$OUT
printf '%s\n' "$JSON" >"$T/report.json"
"$PY" - "$T/report.csv" "$T/report.json" <<'EOF' || fail "JSON report differs from the CSV report"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
j = json.load(open(sys.argv[2]))
if not isinstance(j, list) or not all(isinstance(o, dict) for o in j):
    print("JSON report is not an array of objects"); sys.exit(1)
def norm(v):
    return "" if v is None else str(v)
want = {r["serial"]: r for r in rows}
got = {}
for o in j:
    if set(o) != set(rows[0]):
        print("JSON keys", sorted(o), "differ from the CSV columns", sorted(rows[0])); sys.exit(1)
    got[o["serial"]] = {k: norm(v) for k, v in o.items()}
if got != want:
    for s in sorted(set(want) | set(got)):
        if want.get(s) != got.get(s):
            print("csv:", want.get(s)); print("json:", got.get(s)); break
    sys.exit(1)
EOF

step "--since"
sleep 2
t1=$(now)
make_csr e "/CN=e.example"
issue_to "$T/e.pem" --ca sub --csr "$T/e.csr"
E=$(serial_of "$T/e.pem")
sleep 2
t2=$(now)
run_ok revd revoke --ca sub --serial "$A" --reason superseded
# serials SINCE: the sorted serials of report --since SINCE.
serials() {
    run_ok revd report --ca sub --format csv --since "$1"
    assert_eq "$(printf '%s\n' "$OUT" | head -1)" "$HEADER" "CSV header with --since"
    printf '%s\n' "$OUT" | tail -n +2 | cut -d, -f1 | grep . | sort | tr '\n' ' '
}
want_e_a=$(printf '%s\n' "$E" "$A" | sort | tr '\n' ' ')
assert_eq "$(serials "$(iso "$t1")")" "$want_e_a" "--since $(iso "$t1") (issued or revoked at or after)"
assert_eq "$(serials "@$t1")" "$want_e_a" "--since @$t1"
assert_eq "$(serials "$(iso "$t2")")" "$A " "--since $(iso "$t2") (only the revocation after it)"
all=$(printf '%s\n' "$A" "$B" "$C" "$D" "$E" | sort | tr '\n' ' ')
assert_eq "$(serials "$(date -u -d yesterday +%F)")" "$all" "--since yesterday"
assert_eq "$(serials "$(date -u -d tomorrow +%F)")" "" "--since tomorrow"
run_ok revd report --ca sub --format json --since "$(iso "$t2")"
json_ok "$OUT" '[o["serial"] for o in j] == ["'"$A"'"]'

step "refusals"
before=$(snapshot root sub)
run_fail 1 revd report --ca no-such-ca --format csv
run_fail_arg revd report --ca sub --format xml
run_fail_arg revd report --ca sub --format csv --since "last week"
run_fail_arg revd report --ca sub --format csv --since "2024-02-30"
assert_unchanged "$before" root sub

pass
