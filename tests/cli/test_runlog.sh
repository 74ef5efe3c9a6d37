#!/bin/bash
# revd serve's running log (common/log.h): --log-format kv and json write
# one parseable line per event (ts, level, event, msg); bytes outside
# printable ASCII from a settings file are escaped; an event repeated more
# than 10 times in 10 s is cut and the cut counted; no line pairs a client
# address with a serial after OCSP traffic and revocations.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
D=$REVD_DIR
create_root r
make_csr ee /CN=ee
issue_to "$T/a.pem" --ca r --csr "$T/ee.csr"
PORT=$(( 20000 + RANDOM % 12000 ))
# hup_until LOG TEXT: SIGHUP, then wait (5 s) for TEXT to appear once more in LOG.
hup_until() {
    local n; n=$(grep -c -- "$2" "$1")
    kill -HUP "$SRV"
    for _ in $(seq 50); do [ "$(grep -c -- "$2" "$1")" -gt "$n" ] && return 0; sleep 0.1; done
    fail "no new '$2' in the log after SIGHUP: $(tail -3 "$1")"
}

step "kv: every line is ts= level= event= msg=\"...\""
serve_bg "$T/kv.log" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --log-format kv
openssl ocsp -issuer "$D/ca/r.pem" -cert "$T/a.pem" -url "http://127.0.0.1:$PORT/ocsp" -CAfile "$D/ca/r.pem" >/dev/null 2>&1
run_ok revd revoke --ca r --serial "$(serial_of "$T/a.pem")"
openssl ocsp -issuer "$D/ca/r.pem" -cert "$T/a.pem" -url "http://127.0.0.1:$PORT/ocsp" -CAfile "$D/ca/r.pem" >/dev/null 2>&1
# A value with bytes outside ASCII (U+202E, right-to-left override): refused, and quoted escaped.
printf 'max-age = \xe2\x80\xae5\n' >"$D/revd.conf"
hup_until "$T/kv.log" "reload refused"
kill -TERM "$SRV"; wait "$SRV"
bad=$(grep -Ev '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z level=(error|warn|info) event=[a-z_.]+ msg="([^"\\]|\\.)*"$' "$T/kv.log")
[ -z "$bad" ] || fail "lines that are not key=value: $bad"
assert_contains "$(cat "$T/kv.log")" 'event=serve.ready'
assert_contains "$(cat "$T/kv.log")" 'level=warn event=reload.config_error msg="'"$D"'/revd.conf:1: max-age '"'"'\xe2\x80\xae5'"'"': must be 0 to 604800 seconds"'
LC_ALL=C grep -q $'[\x80-\xff]' "$T/kv.log" && fail "a raw byte outside ASCII reached the log"

step "no line pairs a client address with a serial"
serial=$(serial_of "$T/a.pem")
grep -i -- "$serial" "$T/kv.log" | grep -q '127\.0\.0\.1' && fail "a log line pairs an address and a serial"

step "json: every line parses"
rm -f "$D/revd.conf"
serve_bg "$T/json.log" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --log-format json
printf 'max-age = \xe2\x80\xae5\n' >"$D/revd.conf"
hup_until "$T/json.log" "reload refused"
kill -TERM "$SRV"; wait "$SRV"
"$PY" - "$T/json.log" <<'PY' || fail "json log lines"
import json, sys
n = 0
for line in open(sys.argv[1], encoding="ascii"):
    e = json.loads(line)
    assert set(e) == {"ts", "level", "event", "msg"}, e
    n += 1
    if e["event"] == "reload.config_error":
        assert "\u00e2\u0080\u00ae5" in e["msg"], e   # each byte escaped on its own (\u00NN)
assert n >= 4, n
PY

step "a repeated event is cut after 10 lines in 10 s, and the cut is counted"
rm -f "$D/revd.conf"
serve_bg "$T/rl.log" --log-format kv
printf 'threads = 0\n' >"$D/revd.conf"
for i in $(seq 15); do kill -HUP "$SRV"; sleep 0.2; done
sleep 0.5
assert_eq "$(grep -c 'event=reload.refused' "$T/rl.log")" 10 "reload.refused lines within the window"
sleep 10
hup_until "$T/rl.log" "event=log.suppressed"
assert_contains "$(cat "$T/rl.log")" "more 'reload.refused' lines were not written (at most 10 per 10 s)"
kill -TERM "$SRV"; wait "$SRV"
pass
