#!/bin/bash
# Events (DIR/events.jsonl, docs/events.md): one JSON line per event with
# its severity on the 0 / 1-39 / 40-69 / 70-89 / 90-100 scale; each type:
# cert.issued (high when a root issues a non-CA certificate), cert.revoked
# (by reason), cert.released, ca.created, ca.disabled, ca.enabled,
# ocsp.signer_rotated, cert.expiring and cert.expired (from revd serve, once
# a day), crl.publish_failed; a refused operation makes none; audit_seq
# points at the audit record; --events-file. (ca.deleted, ca.restored and
# ca.purged: test_ca_delete.)
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed"
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
[ -n "$FT_LIB" ] || skip "libfaketime.so.1 not found"
D=$REVD_DIR
EV=$D/events.jsonl

# events_since N: the events after the first N lines, checked for shape.
events_since() {
    tail -n +"$(( $1 + 1 ))" "$EV" >"$T/ev.new"
    "$PY" - "$T/ev.new" <<'PY' || fail "an event line is malformed: $(cat "$T/ev.new")"
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    for k in ("time", "type", "severity", "level", "ca", "serial", "principal", "details"):
        assert k in e, (k, e)
    s = e["severity"]
    assert 0 <= s <= 100
    assert e["level"] == ("info" if s == 0 else "low" if s < 40 else "medium" if s < 70 else "high" if s < 90
                          else "critical"), e
PY
    cat "$T/ev.new"
}
n_ev() { [ -f "$EV" ] && grep -c . "$EV" || echo 0; }
# expect_event N TYPE SEVERITY [TEXT]: exactly one new event since N, of TYPE
# and SEVERITY, containing TEXT.
expect_event() {
    local got; got=$(events_since "$1")
    assert_eq "$(printf '%s\n' "$got" | grep -c .)" 1 "events after the operation ($got)"
    assert_contains "$got" "\"type\":\"$2\""
    assert_contains "$got" "\"severity\":$3,"
    [ -n "${4:-}" ] && assert_contains "$got" "$4"
    LAST_EVENT=$got
}

step "ca.created"
n=$(n_ev); create_root root; expect_event "$n" ca.created 50 '"ca":"root"'
assert_file_mode "$EV" 600
n=$(n_ev); create_sub sub root; expect_event "$n" ca.created 50 '"ca":"sub"'

step "cert.issued: a root issuing an end-entity certificate is high; a CA certificate or a sub's are low"
make_csr ee "/CN=ee.example"
n=$(n_ev); issue_to "$T/rootee.pem" --ca root --csr "$T/ee.csr"
expect_event "$n" cert.issued 80 "a root CA issued a certificate that is not a CA certificate"
assert_contains "$LAST_EVENT" "\"serial\":\"$(serial_of "$T/rootee.pem")\""
make_csr subca "/CN=another sub"
n=$(n_ev); issue_to "$T/subca.pem" --ca root --csr "$T/subca.csr" --template sub-ca; expect_event "$n" cert.issued 10
n=$(n_ev); issue_to "$T/a.pem" --ca sub --csr "$T/ee.csr"; expect_event "$n" cert.issued 10 '"ca":"sub"'
issue_to "$T/b.pem" --ca sub --csr "$T/ee.csr"
issue_to "$T/h.pem" --ca sub --csr "$T/ee.csr"

step "the event points at its audit record, and names who acted"
seq=$(printf '%s\n' "$LAST_EVENT" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["audit_seq"])')
rec=$(revd log --from "$seq" | head -1)
assert_contains "$rec" "\"seq\":$seq,"
assert_contains "$rec" '"op":"issue"'
assert_contains "$LAST_EVENT" "\"principal\":\"uid:$(id -u)($(id -un))\""

step "cert.revoked by reason; cert.released"
n=$(n_ev); run_ok revd revoke --ca sub --serial "$(serial_of "$T/a.pem")" --reason keyCompromise
expect_event "$n" cert.revoked 70 '"reason":"keyCompromise"'
n=$(n_ev); run_ok revd revoke --ca sub --serial "$(serial_of "$T/b.pem")" --reason superseded
expect_event "$n" cert.revoked 40 '"reason":"superseded"'
run_ok revd revoke --ca sub --serial "$(serial_of "$T/h.pem")" --reason certificateHold
n=$(n_ev); run_ok revd unhold --ca sub --serial "$(serial_of "$T/h.pem")"; expect_event "$n" cert.released 30

step "a refused operation makes no event"
n=$(n_ev); run_fail 1 revd revoke --ca sub --serial "$(serial_of "$T/a.pem")"
assert_eq "$(n_ev)" "$n" "events after a refused revocation"

step "ca.disabled, ca.enabled"
n=$(n_ev); run_ok revd ca disable sub; expect_event "$n" ca.disabled 60
n=$(n_ev); run_ok revd ca enable sub; expect_event "$n" ca.enabled 40

step "ocsp.signer_rotated: the responder certificate made on first use"
n=$(n_ev); run_ok revd ocsp respond --ca sub --serial "$(serial_of "$T/a.pem")" --out "$T/r.der"
expect_event "$n" ocsp.signer_rotated 10 '"not_after":'

step "cert.expiring and cert.expired, from revd serve, once a day"
issue_to "$T/soon.pem" --ca sub --csr "$T/ee.csr" --days 10
issue_to "$T/short.pem" --ca sub --csr "$T/ee.csr" --hours 1
PORT=$(( 20000 + RANDOM % 12000 ))
start_ft() { # OFFSET: revd serve under a clock OFFSET ahead
    FAKETIME="$1" LD_PRELOAD=$FT_LIB ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
        "$REVD" serve --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 >"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    serve_wait "$T/serve.log"
}
n=$(n_ev)
start_ft "+2h"
for _ in $(seq 50); do grep -q "revd: expiry:" "$T/serve.log" && break; sleep 0.1; done
kill -TERM "$SRV"; wait "$SRV"
got=$(events_since "$n")
assert_contains "$(cat "$T/serve.log")" "revd: expiry: 1 certificates expire within 45 days, 1 expired since the last look"
exp=$(printf '%s\n' "$got" | grep '"type":"cert.expiring"')
assert_contains "$exp" "\"serial\":\"$(serial_of "$T/soon.pem")\""
assert_contains "$exp" '"days_left":10'
assert_contains "$exp" '"severity":30,'
gone=$(printf '%s\n' "$got" | grep '"type":"cert.expired"')
assert_contains "$gone" "\"serial\":\"$(serial_of "$T/short.pem")\""
assert_eq "$(printf '%s\n' "$got" | grep -c 'cert.expir')" 2 "expiry events (the 90-day and revoked ones say nothing)"
n=$(n_ev)
start_ft "+3h"   # the same day: nothing again
sleep 1
kill -TERM "$SRV"; wait "$SRV"
assert_eq "$(events_since "$n" | grep -c 'cert.expir')" 0 "expiry events again within the day"

step "crl.publish_failed"
start_ft "+0"
rm -rf "$D/crl/sub"; : >"$D/crl/sub"   # a file where the CA's CRL directory goes
n=$(n_ev)
run_ok revd revoke --ca sub --serial "$(serial_of "$T/soon.pem")"
for _ in $(seq 50); do grep -q '"crl.publish_failed"' "$EV" && break; sleep 0.1; done
fails=$(events_since "$n" | grep '"type":"crl.publish_failed"' | head -1)
assert_contains "$fails" '"severity":70,'
assert_contains "$fails" '"ca":"sub"'
assert_contains "$fails" '"url":"http://127.0.0.1:8080/crl/sub/'
rm -f "$D/crl/sub"
kill -TERM "$SRV"; wait "$SRV"

step "--events-file"
serve_bg "$T/serve2.log" --events-file "$T/other.jsonl"
run_ok revd ca disable sub
kill -TERM "$SRV"; wait "$SRV"
assert_contains "$(cat "$T/other.jsonl")" '"type":"ca.disabled"'
run_fail 2 revd serve --events-file relative.jsonl
pass
