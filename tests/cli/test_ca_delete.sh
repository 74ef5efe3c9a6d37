#!/bin/bash
# revd ca delete NAME --restore-days N / revd ca restore NAME: a deleted CA
# issues nothing but still publishes (OCSP, CRL) and can still revoke; it
# is restored as it was; a CA with live subordinates cannot be deleted; the
# window is 7 days at least; after it, restore is refused and a running
# server purges the CA (key files removed, OCSP unauthorized, CRL 404,
# revocation refused) under a clock moved by libfaketime; events ca.deleted,
# ca.restored, ca.purged; the audit log verifies.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed"
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
[ -n "$FT_LIB" ] || skip "libfaketime.so.1 not found"
D=$REVD_DIR

create_root r
create_sub s r
create_sub t r
make_csr ee "/CN=ee.example"
issue_to "$T/t1.pem" --ca t --csr "$T/ee.csr"
issue_to "$T/t2.pem" --ca t --csr "$T/ee.csr"

step "refusals: live subordinates, a window under 7 days, twice"
run_fail 1 revd ca delete r
assert_contains "$ERR" "CA r has a subordinate CA that is not deleted: s"
run_fail_arg revd ca delete t --restore-days 3
run_fail 1 revd ca restore t
assert_contains "$ERR" "CA t is active, not deleted"

step "a deleted CA issues nothing, can still revoke, is listed with its window"
run_ok revd ca delete t --restore-days 8
assert_contains "$OUT" "CA t is deleted"
run_fail 1 revd ca delete t
assert_contains "$ERR" "CA t is deleted already"
run_fail 1 revd issue --ca t --csr "$T/ee.csr"
assert_contains "$ERR" "CA t is deleted and issues nothing (revd ca restore to undo the deletion)"
run_fail 1 revd ca enable t
run_ok revd revoke --ca t --serial "$(serial_of "$T/t2.pem")" --reason keyCompromise
run_ok revd ca show t --json
"$PY" - "$OUT" <<'PY' || fail "ca show --json of a deleted CA: $OUT"
import datetime, json, sys
j = json.loads(sys.argv[1])
assert j["state"] == "deleted", j["state"]
until = datetime.datetime.strptime(j["restore_until"], "%Y-%m-%dT%H:%M:%SZ")
left = until - datetime.datetime.utcnow()
assert datetime.timedelta(days=7, hours=23) < left <= datetime.timedelta(days=8), left
PY
run_ok revd ca list
assert_match "$(printf '%s\n' "$OUT" | grep '^t ')" "^t +deleted "

step "restore: the CA is as it was"
run_ok revd ca restore t
assert_contains "$OUT" "CA t is restored: active"
issue_to "$T/t3.pem" --ca t --csr "$T/ee.csr"
run_ok revd ca disable t
run_ok revd ca delete t --restore-days 7
run_ok revd ca restore t
assert_contains "$OUT" "CA t is restored: disabled"
run_ok revd ca enable t

step "a CA whose certificate was revoked while it was deleted comes back disabled"
create_sub w r
run_ok revd ca delete w --restore-days 7
run_ok revd revoke --ca r --serial "$(serial_of "$D/ca/w.pem")" --reason keyCompromise
run_ok revd ca restore w
assert_contains "$OUT" "CA w is restored: disabled"
run_fail 1 revd issue --ca w --csr "$T/ee.csr"

step "after the window: restore refused"
run_ok revd ca delete t --restore-days 7
_run env FAKETIME="+8d" LD_PRELOAD="$FT_LIB" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$REVD" ca restore t
[ "$RC" -eq 1 ] || fail "restore after the window: expected exit 1, got $RC"
assert_contains "$ERR" "the restore window of CA t ended at"

step "a running server keeps publishing during the window, then purges"
PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
CLOCK=$T/clock
set_clock() { echo "$1" >"$CLOCK.new" && mv "$CLOCK.new" "$CLOCK"; }
set_clock "+0"
LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$REVD" serve --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
serve_wait "$T/serve.log"
cat "$D/ca/t.pem" "$D/ca/r.pem" >"$T/chain.pem"
ocsp() { openssl ocsp -issuer "$D/ca/t.pem" -cert "$1" -no_nonce -url "$URL/ocsp" -CAfile "$T/chain.pem" 2>&1; }
o=$(ocsp "$T/t1.pem"); assert_line "$o" "$T/t1.pem: good"
o=$(ocsp "$T/t2.pem"); assert_line "$o" "$T/t2.pem: revoked"
CRLPATH=$(revd crl list --ca t | awk '$1 == "0" {print $2}' | sed 's|^http://[^/]*||')
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL$CRLPATH")" 200 "t's CRL during the window"
[ -f "$D/keys/t.key" ] || fail "t's key is gone before the window ended"
set_clock "+8d"
for _ in $(seq 100); do grep -q "purged 1 deleted CA" "$T/serve.log" && break; sleep 0.1; done
assert_contains "$(cat "$T/serve.log")" "revd: purged 1 deleted CA whose restore window ended"
for _ in $(seq 50); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL$CRLPATH")" = 404 ] && break; sleep 0.1; done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$URL$CRLPATH")" 404 "t's CRL after the purge"
o=$(ocsp "$T/t1.pem"); assert_contains "$o" "unauthorized"
[ ! -e "$D/keys/t.key" ] && [ ! -e "$D/keys/t.ocsp.key" ] || fail "t's key files are still there: $(ls "$D/keys")"
[ -f "$D/keys/s.key" ] || fail "s's key went with t's"
run_ok revd ca list
assert_match "$(printf '%s\n' "$OUT" | grep '^t ')" "^t +purged "
run_fail 1 revd ca restore t
assert_contains "$ERR" "keys are destroyed"
run_fail 1 revd revoke --ca t --serial "$(serial_of "$T/t1.pem")"
assert_contains "$ERR" "CA t is purged"
kill -TERM "$SRV"; wait "$SRV"

step "events and audit"
ev=$(cat "$D/events.jsonl")
assert_eq "$(printf '%s\n' "$ev" | grep -c '"type":"ca.deleted"')" 4 "ca.deleted events"
assert_eq "$(printf '%s\n' "$ev" | grep -c '"type":"ca.restored"')" 3 "ca.restored events"
assert_eq "$(printf '%s\n' "$ev" | grep -c '"type":"ca.purged"')" 1 "ca.purged events"
assert_contains "$(printf '%s\n' "$ev" | grep '"type":"ca.purged"')" '"principal":"revd serve"'
run_ok revd audit verify
run_ok revd log
assert_contains "$OUT" '"op":"ca-purge","ca":"t"'
pass
