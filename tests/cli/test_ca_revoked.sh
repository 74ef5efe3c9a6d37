#!/bin/bash
# A subordinate CA's certificate revoked through its parent: the CA in DIR
# is disabled in the same write, stays off while revoked or on hold, and the
# operations log records each step, refusals included.
. "$(dirname "$0")/lib.sh"

create_root root
create_sub sub root
create_sub held root
make_csr ee "/CN=ee.example"
sub_serial=$(serial_of "$REVD_DIR/ca/sub.pem")
held_serial=$(serial_of "$REVD_DIR/ca/held.pem")

step "the parent lists its CA certificates in partition ca"
run_ok revd status --ca root --serial "$sub_serial"
assert_eq "$(printf '%s\n' "$OUT" | head -1)" good "status of the sub CA's certificate"
assert_kv partition ca
assert_kv crl "http://127.0.0.1:8080/crl/root/ca.crl"

step "revoking the sub CA's certificate disables the sub CA"
run_ok revd revoke --ca root --serial "$sub_serial" --reason cACompromise
assert_line "$OUT" "revoked $sub_serial (cACompromise)"
assert_line "$OUT" "CA sub is now disabled: its certificate is revoked (cACompromise)"
run_ok revd ca show sub
assert_kv state disabled
run_fail 1 revd issue --ca sub --csr "$T/ee.csr"
assert_contains "$ERR" "disabled"
run_fail 1 revd ca enable sub
assert_contains "$ERR" "revoked by CA root"
run_ok revd ca show sub
assert_kv state disabled

step "a hold disables until released"
run_ok revd revoke --ca root --serial "$held_serial" --reason certificateHold
run_ok revd ca show held
assert_kv state disabled
run_fail 1 revd ca enable held
assert_contains "$ERR" "on hold"
run_ok revd unhold --ca root --serial "$held_serial"
run_ok revd ca enable held
run_ok revd issue --ca held --csr "$T/ee.csr"
assert_contains "$OUT" "BEGIN CERTIFICATE"

step "the operations log has every step, refusals included"
run_ok revd log
n=$(printf '%s\n' "$OUT" | grep -c .)
printf '%s\n' "$OUT" | /usr/bin/python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
seqs = [r["seq"] for r in recs]
assert seqs == list(range(1, len(recs) + 1)), seqs
ops = [(r["op"], r["ca"], r["result"][:6]) for r in recs]
want = [("ca-create-root", "root", "ok"), ("ca-create-sub", "sub", "ok"), ("ca-create-sub", "held", "ok"),
        ("revoke", "root", "ok"), ("issue", "sub", "error:"), ("ca-enable", "sub", "error:"),
        ("revoke", "root", "ok"), ("ca-enable", "held", "error:"), ("unhold", "root", "ok"),
        ("ca-enable", "held", "ok"), ("issue", "held", "ok")]
assert ops == want, ops
assert recs[3]["params"]["reason"] == "cACompromise", recs[3]
for r in recs:
    assert r["time"].endswith("Z") and len(r["time"]) == 20, r
' || fail "operations log does not match"
run_ok revd log --from 10
assert_eq "$(printf '%s\n' "$OUT" | grep -c .)" 2 "records from seq 10"
run_fail 2 revd log --from x

step "revoking a CA disables its whole subtree; nothing below it comes back"
create_root top --path-len 3
create_sub a top --path-len 2
create_sub b a --path-len 1
create_sub c b
create_sub other top
a_serial=$(serial_of "$REVD_DIR/ca/a.pem")
run_ok revd revoke --ca top --serial "$a_serial" --reason keyCompromise
assert_line "$OUT" "CA a is now disabled: its certificate is revoked (keyCompromise); so are the CAs below it"
for n in a b c; do run_ok revd ca show "$n"; assert_kv state disabled; done
run_ok revd ca show other
assert_kv state active
run_fail 1 revd ca enable c
assert_contains "$ERR" "CA c, below it, cannot issue again"
run_fail 1 revd ca create-sub --name d --parent c --subject /CN=d

pass
