#!/bin/bash
# Fail safe on an edge (issue 16).
# 1. kill -STOP of the nats-server the edge reads, past --heartbeat-max-age
#    3s: the edge's /healthz turns 503 (a load balancer drains it) while it
#    keeps answering OCSP and CRLs that are still valid; a revocation made
#    meanwhile on the primary reaches the edge after kill -CONT, and
#    /healthz is 200 again.
# 2. Never a response past its nextUpdate: the primary signs for 8 hours
#    (--validity 8h, the least it allows; CRLs --crl-validity 1h); the edge
#    runs under libfaketime with a clock the test moves: past the
#    responses' nextUpdate it answers tryLater (counted in
#    revd_edge_stale_total), past the CRL's a 503, never the expired bytes.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"

D=$T/d
make_demo_ca 4

nats_start n1
primary_start "$T/primary.log" "$NATS_URL_n1" --crl-coalesce 200ms --validity 8h --crl-validity 1h
primary_wait_published 60
edge_start e1 "$NATS_URL_n1" --heartbeat-max-age 3s
edge_wait_ready e1 60
wait_status "$EURL_e1" "$T/c1.pem" good 5

step "nats-server stopped past the heartbeat bound: /healthz 503, valid answers still served"
kill -STOP "$NATS_PID_n1"
t0=$(date +%s)
wait_healthz "$EURL_e1" 503 15
echo "/healthz turned 503 $(( $(date +%s) - t0 )) s after kill -STOP"
[ "$(( $(date +%s) - t0 ))" -ge 2 ] || fail "/healthz turned 503 before the heartbeat could be 3 s old"
body=$(curl -s -m 5 "$EURL_e1/healthz")
[ "$(printf '%s' "$body" | grep -c .)" -eq 1 ] || fail "the 503's body should be one line with the reason, is: $body"
for c in c1 c2; do
    ocsp_get "$EURL_e1" "$T/$c.pem" "$T/st.der" || fail "$c: no 200 from the edge while NATS is stopped"
    assert_eq "$(ocsp_status "$T/st.der" "$T/$c.pem")" good "$c while NATS is stopped"
done
assert_eq "$(http_code "$EURL_e1/crl/sub/0.crl")" 200 "a valid CRL while NATS is stopped"
# A revocation on the primary meanwhile: acknowledged (kept in its outbox).
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c3.pem")" --reason keyCompromise
assert_eq "$(ocsp_get "$EURL_e1" "$T/c3.pem" "$T/st.der"; ocsp_status "$T/st.der" "$T/c3.pem")" good \
    "c3 on the edge before NATS is back (the edge has not heard of it)"

step "kill -CONT: the revocation arrives, /healthz 200 again"
kill -CONT "$NATS_PID_n1"
wait_status "$EURL_e1" "$T/c3.pem" revoked 30
wait_healthz "$EURL_e1" 200 30
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c3.pem")" "c3 after NATS came back"

step "the responses are valid 8 hours"
curl -s "$PURL/ocsp/$(ocsp_req "$T/c1.pem")" -o "$T/p1.der"
nu=$(epoch "$(openssl ocsp -respin "$T/p1.der" -resp_text -noverify 2>/dev/null | sed -n 's/^ *Next Update: //p' | head -1)")
left=$(( nu - $(now) ))
[ "$left" -gt 0 ] && [ "$left" -le $(( 8 * 3600 + 120 )) ] || fail "the response's nextUpdate is $left s away, expected 8 hours at most"
stop_pid "$EDGE_PID_e1" 20

command -v faketime >/dev/null || skip "faketime (Debian package faketime) is not installed: part 2 not run"
FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
[ -n "$FT_LIB" ] || skip "libfaketime.so.1 not found: part 2 not run"
CLOCK=$T/clock
set_clock() { echo "$1" >"$CLOCK.new" && mv "$CLOCK.new" "$CLOCK"; }

step "an edge under a faked clock: good at +0"
set_clock "+0"
EDGE_PRELOAD="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1" \
    edge_start e2 "$NATS_URL_n1" --heartbeat-max-age 3s
edge_wait_ready e2 60
wait_status "$EURL_e2" "$T/c1.pem" good 5
wait_status "$EURL_e2" "$T/c3.pem" revoked 5
assert_eq "$(http_code "$EURL_e2/crl/sub/0.crl")" 200 "the CRL at +0"
stale0=$(metric "$EURL_e2" revd_edge_stale_total)

step "past nextUpdate: tryLater, never the expired response; a CRL past its nextUpdate: 503"
set_clock "+$(( left + 300 ))s"
deadline=$(( $(date +%s) + 10 ))
while :; do
    curl -s -m 10 -o "$T/late.der" -w '%{http_code}' "$EURL_e2/ocsp/$(ocsp_req "$T/c1.pem")" >"$T/late.code"
    s=$(ocsp_status "$T/late.der" "$T/c1.pem")
    [ "$s" = tryLater ] || [ "$s" = trylater ] && break
    [ "$(date +%s)" -le "$deadline" ] || fail "past nextUpdate the edge answers '$s' (HTTP $(cat "$T/late.code")) for c1, expected tryLater"
    sleep 0.2
done
# The tryLater is an OCSPResponse of status 3 with no body: 30 03 0a 01 03.
assert_eq "$(od -An -tx1 "$T/late.der" | tr -d ' \n')" 30030a0103 "the tryLater response's bytes"
for c in c2 c3; do
    curl -s -m 10 -o "$T/late.der" "$EURL_e2/ocsp/$(ocsp_req "$T/$c.pem")"
    assert_eq "$(od -An -tx1 "$T/late.der" | tr -d ' \n')" 30030a0103 "$c past nextUpdate"
done
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/c2.pem" -no_nonce -url "$EURL_e2/ocsp" -respout "$T/late-post.der" >/dev/null 2>&1
assert_eq "$(od -An -tx1 "$T/late-post.der" | tr -d ' \n')" 30030a0103 "POST past nextUpdate"
# wait_metric NAME MIN WHAT: the edge's metric reaches MIN within 5 s (the
# edge refreshes its metrics about once a second).
wait_metric() {
    local deadline=$(( $(date +%s) + 5 )) v
    until v=$(metric "$EURL_e2" "$1"); [ "$v" -ge "$2" ]; do
        [ "$(date +%s)" -le "$deadline" ] || fail "$1 is $v, expected $2 or more: $3"
        sleep 0.2
    done
}
wait_metric revd_edge_stale_total $(( stale0 + 4 )) "4 OCSP answers refused as stale (it was $stale0)"
stale1=$(metric "$EURL_e2" revd_edge_stale_total)
assert_eq "$(http_code "$EURL_e2/crl/sub/0.crl")" 503 "a CRL past its nextUpdate"
assert_eq "$(http_code "$EURL_e2/crl/sub/ca.crl")" 503 "the CA-scope CRL past its nextUpdate"
wait_metric revd_edge_stale_total $(( stale1 + 2 )) "2 CRLs refused as stale (it was $stale1)"
assert_eq "$(http_code "$EURL_e2/healthz")" 503 "/healthz with the clock 8 hours past the last heartbeat"

stop_pid "$EDGE_PID_e2" 20
stop_pid "$PRIMARY" 20
pass
