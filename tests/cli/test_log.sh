#!/bin/bash
# revd log: one JSON record per operation (create, csr, import, issue, revoke,
# unhold, enable, disable, bulk import), refused ones included with
# `error: ` and the message the user saw; reads add nothing; --from SEQ.
. "$(dirname "$0")/lib.sh"

# log_count: the number of records in the log.
log_count() { revd log | grep -c .; }

# expect_record OP-WORD CA SERIAL RESULT: runs after one operation; the log has
# grown by exactly one record, and that record is about it. OP-WORD is the
# operation's word in docs/cli.md; the record's op must contain it. SERIAL
# "-" for none expected, "" to ignore; RESULT "ok", or "error" to require
# `error: ` followed by the message this command printed on stderr.
N=0
expect_record() {
    local word=$1 ca=$2 serial=$3 result=$4 msg=""
    [ "$result" = error ] && msg=${ERR#revd: }
    local before_n=$N
    run_ok revd log
    N=$(printf '%s\n' "$OUT" | grep -c .)
    assert_eq "$N" $((before_n + 1)) "log records after one '$word' operation"
    local last; last=$(printf '%s\n' "$OUT" | tail -1)
    printf '%s\n' "$last" >"$T/last.json"
    "$PY" - "$T/last.json" "$word" "$ca" "$serial" "$result" "$msg" <<'EOF' || fail "log record: $last"
import json, sys
_, f, word, ca, serial, result, msg = sys.argv
r = json.loads(open(f).read())
errs = []
for k in ("seq", "time", "op", "ca", "serial", "params", "result"):
    if k not in r:
        errs.append("no key %r" % k)
if not errs:
    if word not in str(r["op"]):
        errs.append("op %r is not a %r operation" % (r["op"], word))
    if r["ca"] != ca:
        errs.append("ca %r, expected %r" % (r["ca"], ca))
    if serial == "-" and r["serial"] not in (None, ""):
        errs.append("serial %r, expected none" % r["serial"])
    if serial not in ("", "-") and r["serial"] != serial:
        errs.append("serial %r, expected %r" % (r["serial"], serial))
    if not isinstance(r["params"], dict):
        errs.append("params is not an object")
    if result == "ok" and r["result"] != "ok":
        errs.append("result %r, expected 'ok'" % r["result"])
    if result == "error" and r["result"] not in ("error: " + msg, "error: revd: " + msg):
        errs.append("result %r, expected 'error: %s' (the message the user saw)" % (r["result"], msg))
if errs:
    print("; ".join(errs)); sys.exit(1)
EOF
}

step "each operation adds one record"
create_root r
expect_record create r "" ok
create_sub s r
expect_record create s "" ok
run_fail 1 revd ca create-root --name r --subject /CN=again
expect_record create r "" error
run_ok revd ca csr --name p --subject /CN=p
expect_record csr p - ok
make_csr ee "/CN=ee.example"
issue_to "$T/ee.pem" --ca s --csr "$T/ee.csr"
S=$(serial_of "$T/ee.pem")
expect_record issue s "$S" ok
run_fail 1 revd issue --ca no-such-ca --csr "$T/ee.csr"
expect_record issue no-such-ca - error
printf 'garbage\n' >"$T/garbage.csr"
run_fail 1 revd issue --ca s --csr "$T/garbage.csr"
expect_record issue s - error
run_ok revd revoke --ca s --serial "$S" --reason certificateHold
expect_record revoke s "$S" ok
run_ok revd unhold --ca s --serial "$S"
expect_record unhold s "$S" ok
run_ok revd revoke --ca s --serial "$S" --reason keyCompromise
expect_record revoke s "$S" ok
run_fail 1 revd revoke --ca s --serial "$S" --reason superseded
expect_record revoke s "$S" error
run_fail 1 revd unhold --ca s --serial "$S"
expect_record unhold s "$S" error
run_ok revd ca disable s
expect_record disable s - ok
run_ok revd ca enable s
expect_record enable s - ok
printf '%s\n' "0A01,2030-01-01,good" "0A02,2030-01-01,revoked,2024-01-01,superseded" >"$T/in.csv"
run_ok revd import --ca r --file "$T/in.csv"
expect_record import r - ok
printf '%s\n' "0A03,2030-01-01,good" "zz,2030-01-01,good" >"$T/bad.csv"
run_fail 1 revd import --ca r --file "$T/bad.csv"
expect_record import r - error
printf 'not a certificate\n' >"$T/garbage.pem"
run_fail 1 revd ca import --name p --cert "$T/garbage.pem" --chain "$T/garbage.pem"
expect_record import p - error

step "reads add nothing"
run_ok revd status --ca s --serial "$S"
run_ok revd report --ca s --format csv
run_ok revd report --ca r --format json
run_ok revd ca list
run_ok revd ca list --json
run_ok revd ca show s
run_ok revd log
assert_eq "$(log_count)" "$N" "log records after status/report/list/show/log"

step "records"
run_ok revd log
printf '%s\n' "$OUT" >"$T/log.jsonl"
t_now=$(now)
"$PY" - "$T/log.jsonl" "$t_now" <<'EOF' || fail "the log"
import json, re, sys, datetime
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
now = int(sys.argv[2])
seqs = [r["seq"] for r in recs]
if not all(isinstance(s, int) for s in seqs) or seqs != sorted(set(seqs)):
    print("seq values are not strictly increasing integers:", seqs); sys.exit(1)
for r in recs:
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(r["time"])):
        print("time %r is not YYYY-MM-DDTHH:MM:SSZ" % r["time"]); sys.exit(1)
    t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs(t.timestamp() - now) > 600:
        print("time %s is not about now" % r["time"]); sys.exit(1)
# Operations of different kinds are told apart.
kinds = ["issue", "revoke", "unhold", "enable", "disable", "csr"]
for r in recs:
    hits = [k for k in kinds if k in str(r["op"])]
    if len(hits) > 1:
        print("op %r names two kinds of operation" % r["op"]); sys.exit(1)
EOF
# The example record of docs/cli.md: "op":"issue".
assert_eq "$(printf '%s\n' "$OUT" | grep -c '"op":"issue"\|"op": "issue"')" 3 "records with op \"issue\""

step "--from"
mapfile -t seqs < <("$PY" -c 'import json,sys; [print(json.loads(l)["seq"]) for l in open(sys.argv[1]) if l.strip()]' "$T/log.jsonl")
k=${seqs[5]}
run_ok revd log --from "$k"
assert_eq "$OUT" "$(tail -n +6 "$T/log.jsonl")" "log --from $k (the sixth record on)"
run_ok revd log --from "${seqs[0]}"
assert_eq "$OUT" "$(cat "$T/log.jsonl")" "log --from the first seq"
last=${seqs[${#seqs[@]}-1]}
run_ok revd log --from $((last + 1))
assert_eq "$OUT" "" "log --from past the end"
run_fail_arg revd log --from abc

pass
