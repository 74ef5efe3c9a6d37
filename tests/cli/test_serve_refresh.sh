#!/bin/bash
# revd serve: signed responses persist in the index (a restart reuses them,
# byte for byte, instead of signing again, but never one that no longer
# matches the certificate's status), the refresher re-signs every response
# at about half its validity (checked under libfaketime with a clock the
# test moves while the server runs), --validity and --max-age, and their
# refusals.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed"
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
[ -n "$FT_LIB" ] || skip "libfaketime.so.1 not found"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/rev.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/later.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/rev.pem")" --reason keyCompromise
cat "$D/ca/sub.pem" "$D/ca/root.pem" > "$T/chain.pem"

step "option refusals"
for v in 7h 8d 0 abc 4x -1d; do
    run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --validity "$v"
    assert_contains "$ERR" "--validity"
done
for m in -1 x 604801; do
    run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --max-age "$m"
done
run_ok revd serve --help
assert_contains "$OUT" "--validity DURATION"
assert_contains "$OUT" "--max-age SECONDS"

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
CLOCK=$T/clock
SRV=""
# start_server [faketime]: revd serve in the background (under libfaketime
# reading its offset from $CLOCK when asked), until it says it serves.
start_server() {
    : >"$T/serve.log"
    if [ "${1:-}" = faketime ]; then
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LD_PRELOAD=$FT_LIB \
            FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1 \
            "$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --validity 8h --max-age 86400 --crl-validity 2h \
            >"$T/serve.log" 2>&1 </dev/null &
        SRV=$!
        serve_wait "$T/serve.log"
    else
        serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2
    fi
}
stop_server() { # within 20 s of SIGTERM
    kill -TERM "$SRV"
    for _ in $(seq 200); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SRV" 2>/dev/null && fail "revd serve did not stop within 20 s of SIGTERM; log: $(cat "$T/serve.log")"
    wait "$SRV" 2>/dev/null
    grep -q 'ERROR: \|runtime error' "$T/serve.log" && fail "the server reported: $(cat "$T/serve.log")"
}
# set_clock OFFSET: the faked clock's offset, replaced in one rename (a
# reader never sees the file empty).
set_clock() {
    echo "$1" >"$CLOCK.new" && mv "$CLOCK.new" "$CLOCK"
}
enc_of() { # CERT: the GET path of its SHA-1 request
    openssl ocsp -issuer "$D/ca/sub.pem" -cert "$1" -no_nonce -reqout "$T/q.der" >/dev/null 2>&1
    base64 -w0 "$T/q.der" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g'
}
fetch() { # CERT OUT
    curl -s -m 10 "$URL/ocsp/$(enc_of "$1")" -o "$2" || fail "GET failed"
}
this_update() { # RESPONSE: thisUpdate as Unix seconds
    epoch "$(openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null | sed -n 's/^ *This Update: //p' | head -1)"
}
status_of() { # RESPONSE CERT
    openssl ocsp -respin "$1" -issuer "$D/ca/sub.pem" -cert "$2" -CAfile "$T/chain.pem" 2>&1
}

step "first start signs and stores every response"
start_server
assert_contains "$(cat "$T/serve.log")" "0 reused from the index"
fetch "$T/good.pem" "$T/g1.der"
fetch "$T/rev.pem" "$T/r1.der"
stop_server

step "a restart reuses the stored responses, byte for byte"
start_server
assert_match "$(cat "$T/serve.log")" "responses for [0-9]+ certificates: [0-9]+ reused from the index, 0 responses signed"
fetch "$T/good.pem" "$T/g2.der"
fetch "$T/rev.pem" "$T/r2.der"
cmp -s "$T/g1.der" "$T/g2.der" || fail "the good response changed across a restart"
cmp -s "$T/r1.der" "$T/r2.der" || fail "the revoked response changed across a restart"
stop_server

step "a revocation made while the server was down is never answered from a stale stored response"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/later.pem")" --reason superseded
start_server
assert_contains "$(cat "$T/serve.log")" "2 responses signed"
fetch "$T/later.pem" "$T/l.der"
o=$(status_of "$T/l.der" "$T/later.pem")
assert_line "$o" "$T/later.pem: revoked"
assert_contains "$o" "Reason: superseded"
stop_server

step "the refresher re-signs at about half the validity"
# The stored responses were signed for the default 4 days: a start with
# --validity 8h signs them again (a shorter validity takes effect at once),
# and they are due 3 to 4 hours later.
set_clock "+0"
start_server faketime
fetch "$T/good.pem" "$T/f0.der"
t0=$(this_update "$T/f0.der")
curl -s "$URL/crl/sub/0.crl" -o "$T/crl0.der"
crl_n0=$(openssl crl -inform DER -in "$T/crl0.der" -noout -crlnumber | sed 's/^crlNumber=//')
next_update() { epoch "$(openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null | sed -n 's/^ *Next Update: //p' | head -1)"; }
assert_eq "$(( $(next_update "$T/f0.der") - t0 ))" 28860 "the validity at start (--validity 8h, and the minute thisUpdate is backdated)"
max_age() { # CERT: the max-age of its GET answer
    curl -s -D - -o /dev/null "$URL/ocsp/$(enc_of "$1")" | tr -d '\r' |
        sed -n 's/^Cache-Control: max-age=\([0-9]*\), public, no-transform, must-revalidate$/\1/p'
}
a=$(max_age "$T/good.pem")
[ -n "$a" ] && [ "$a" -le 14400 ] && [ "$a" -ge 10000 ] || fail "max-age '$a': should end at the next refresh, 3 to 4 hours away"
set_clock "+2h"
sleep 2
fetch "$T/good.pem" "$T/f1.der"
assert_eq "$(this_update "$T/f1.der")" "$t0" "thisUpdate two hours in (not due yet)"
# wait_refresh CLOCK MIN: moves the clock, then waits until both responses
# have a thisUpdate of at least MIN.
wait_refresh() {
    set_clock "$1"
    for _ in $(seq 50); do
        fetch "$T/good.pem" "$T/f2.der"
        fetch "$T/rev.pem" "$T/r3.der"
        t2=$(this_update "$T/f2.der")
        t3=$(this_update "$T/r3.der")
        [ "$t2" -ge "$2" ] && [ "$t3" -ge "$2" ] && return 0
        sleep 0.2
    done
    fail "not re-signed at $1: thisUpdate $t2 and $t3, wanted $2 or later; log: $(cat "$T/serve.log")"
}
wait_refresh "+5h" $((t0 + 5 * 3600 - 120))
# The CRLs (valid 2 hours) were re-signed too: a higher number, a later thisUpdate, still valid.
curl -s "$URL/crl/sub/0.crl" -o "$T/crl1.der"
crl_n1=$(openssl crl -inform DER -in "$T/crl1.der" -noout -crlnumber | sed 's/^crlNumber=//')
[ $(( crl_n1 )) -gt $(( crl_n0 )) ] || fail "the CRL was not re-signed five hours in (number $crl_n0, then $crl_n1)"
o=$(FAKETIME="+5h" LD_PRELOAD=$FT_LIB openssl crl -inform DER -in "$T/crl1.der" -noout -nextupdate | sed 's/^nextUpdate=//')
[ "$(epoch "$o")" -gt $(( $(now) + 5 * 3600 )) ] || fail "the re-signed CRL's nextUpdate ($o) is not in the (moved) future"
assert_eq "$(( $(next_update "$T/f2.der") - t2 ))" 28860 "the refreshed response's validity (--validity 8h)"
a=$(max_age "$T/good.pem")
[ -n "$a" ] && [ "$a" -le 14400 ] && [ "$a" -ge 10000 ] || fail "max-age '$a': should end at the next refresh, 3 to 4 hours away"
t4=$t2
wait_refresh "+9h" $((t4 + 4 * 3600 - 120))
o=$(FAKETIME="+9h" LD_PRELOAD=$FT_LIB openssl ocsp -respin "$T/r3.der" -issuer "$D/ca/sub.pem" -cert "$T/rev.pem" -CAfile "$T/chain.pem" 2>&1)
assert_contains "$o" "Response verify OK"
assert_line "$o" "$T/rev.pem: revoked" "revoked stays revoked through refreshes"
assert_contains "$o" "Reason: keyCompromise"
stop_server

step "the refreshed responses were stored: a restart reuses them"
set_clock "+9h"
start_server faketime
assert_contains "$(cat "$T/serve.log")" "0 responses signed"
fetch "$T/good.pem" "$T/f3.der"
cmp -s "$T/f2.der" "$T/f3.der" || fail "the refreshed response was not the one reused"

step "a clock stepped back does not keep the server from stopping"
# A libevent loop's tick timer runs on the (faked) monotonic clock: stepped
# back a day, it would sleep a day; SIGTERM must wake it anyway.
sleep 0.5
set_clock "+0"
sleep 0.5
stop_server

pass
