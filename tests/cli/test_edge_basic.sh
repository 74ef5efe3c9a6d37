#!/bin/bash
# Edges fed by NATS JetStream (issue 16): a primary `revd serve --nats` and
# two edges `revd serve --edge`, each with its own dir and port, reading one
# nats-server started here. Each edge answers OCSP (openssl ocsp, POST and
# GET) with the primary's bytes and headers (ETag/304), serves the primary's
# CRLs and CA certificates byte for byte; a revocation through the primary's
# socket is answered revoked by both edges within seconds, and the rebuilt
# CRL partition reaches both; /healthz is 200 once caught up; /metrics has
# the edge's series.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/edgelib.sh"

D=$T/d
make_demo_ca 6
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c1.pem")" --reason keyCompromise

step "a nats-server, the primary publishing into it, two edges reading it"
nats_start n1
primary_start "$T/primary.log" "$NATS_URL_n1" --crl-coalesce 500ms
# e1 starts at once, while the primary's first start may still be putting
# its responses into the streams: once its /healthz says 200 it answers
# every certificate (not "ready" with what it had read so far).
edge_start e1 "$NATS_URL_n1"
edge_wait_ready e1 60
# (KEEP_GOING here: the test goes on, and fails at its end, if not.)
KG=${KEEP_GOING:-0}; KEEP_GOING=1; LAST_CMD=""
for c in c1 c2 c3 c4 c5 c6; do
    ocsp_get "$EURL_e1" "$T/$c.pem" "$T/first.der" || { fail "e1 said ready, then no 200 for $c"; break; }
    s=$(ocsp_status "$T/first.der" "$T/$c.pem")
    [ "$s" = good ] || [ "$s" = revoked ] ||
        { fail "e1 said ready, then answered '$s' for $c: $(grep 'event=edge.ready' "$T/e1.log")"; break; }
done
KEEP_GOING=$KG
primary_wait_published 60
wait_status "$EURL_e1" "$T/c2.pem" good 10
edge_start e2 "$NATS_URL_n1"
edge_wait_ready e2 60
grep -q 'event=edge.ready' "$T/e1.log" || fail "no edge.ready line in the edge's log: $(tail -5 "$T/e1.log")"
assert_match "$(grep 'event=edge.ready' "$T/e1.log" | tail -1)" "serving [0-9]+ certificates of [0-9]+ CAs after [0-9]+ messages" \
    "the edge.ready line"

step "openssl ocsp (POST) against each edge: good and revoked, verified against the chain"
for e in "$EURL_e1" "$EURL_e2"; do
    for h in "" -sha256; do
        o=$(openssl ocsp -issuer "$D/ca/sub.pem" $h -cert "$T/c2.pem" -url "$e/ocsp" -CAfile "$T/chain.pem" 2>&1)
        assert_contains "$o" "Response verify OK" "$e POST $h"
        assert_line "$o" "$T/c2.pem: good" "$e POST $h"
        o=$(openssl ocsp -issuer "$D/ca/sub.pem" $h -cert "$T/c1.pem" -url "$e/ocsp" -CAfile "$T/chain.pem" 2>&1)
        assert_line "$o" "$T/c1.pem: revoked" "$e POST $h"
        assert_contains "$o" "Reason: keyCompromise"
    done
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -serial 0x0BADC0DE -url "$e/ocsp" -CAfile "$T/chain.pem" 2>&1)
    assert_contains "$o" "unauthorized (6)" "$e: a never-issued serial"
done

step "the same response bytes as the primary (POST -respout, GET bodies, both CertID hashes)"
for c in c1 c2 c3; do
    for h in "" -sha256; do
        openssl ocsp -issuer "$D/ca/sub.pem" $h -cert "$T/$c.pem" -no_nonce -url "$PURL/ocsp" -respout "$T/p.$c.der" >/dev/null 2>&1
        for e in e1 e2; do
            uv="EURL_$e"
            openssl ocsp -issuer "$D/ca/sub.pem" $h -cert "$T/$c.pem" -no_nonce -url "${!uv}/ocsp" -respout "$T/$e.$c.der" >/dev/null 2>&1
            [ -s "$T/$e.$c.der" ] || fail "$e answered nothing for $c ($h)"
            cmp -s "$T/p.$c.der" "$T/$e.$c.der" || fail "$e's POST answer for $c ($h) is not the primary's"
        done
    done
    same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/$c.pem")" "GET $c"
    same_bytes "$PURL" "$EURL_e2" "/ocsp/$(ocsp_req "$T/$c.pem")" "GET $c"
done

step "the CRLs and the CA certificates, byte for byte"
for p in /crl/sub/0.crl /crl/sub/1.crl /crl/sub/ca.crl /crl/root/ca.crl /ca/sub.der /ca/root.der; do
    same_bytes "$PURL" "$EURL_e1" "$p" "$p"
    same_bytes "$PURL" "$EURL_e2" "$p" "$p"
done
assert_eq "$(http_code "$EURL_e1/crl/sub/9.crl")" "$(http_code "$PURL/crl/sub/9.crl")" "an unknown partition, edge as primary"
assert_eq "$(http_code "$EURL_e1/ca/nope.der")" 404 "an unknown CA certificate"

step "the same headers, ETag and 304 on an edge"
path="/ocsp/$(ocsp_req "$T/c2.pem")"
hp=$(curl -s -D - -o /dev/null "$PURL$path" | tr -d '\r')
he=$(curl -s -D - -o /dev/null "$EURL_e1$path" | tr -d '\r')
for k in Content-Type ETag Last-Modified Expires Content-Length; do
    vp=$(printf '%s\n' "$hp" | sed -n "s/^$k: //p")
    ve=$(printf '%s\n' "$he" | sed -n "s/^$k: //p")
    [ -n "$vp" ] || fail "the primary's answer has no $k"
    assert_eq "$ve" "$vp" "the edge's $k"
done
assert_match "$(printf '%s\n' "$he" | sed -n 's/^Cache-Control: //p')" '^max-age=[0-9]+, public, no-transform, must-revalidate$' \
    "the edge's Cache-Control"
etag=$(printf '%s\n' "$he" | sed -n 's/^ETag: //p')
assert_eq "$(http_code "$EURL_e1$path" -H "If-None-Match: $etag")" 304 "edge: If-None-Match with the ETag"
assert_eq "$(http_code "$EURL_e1$path" -H 'If-None-Match: "other"')" 200 "edge: If-None-Match with another ETag"
hc=$(curl -s -D - -o /dev/null "$EURL_e1/crl/sub/0.crl" | tr -d '\r')
hcp=$(curl -s -D - -o /dev/null "$PURL/crl/sub/0.crl" | tr -d '\r')
for k in Content-Type ETag Last-Modified Expires Content-Length; do
    vp=$(printf '%s\n' "$hcp" | sed -n "s/^$k: //p")
    [ -n "$vp" ] || fail "the primary's CRL has no $k"
    assert_eq "$(printf '%s\n' "$hc" | sed -n "s/^$k: //p")" "$vp" "the edge's CRL's $k"
done
assert_match "$(printf '%s\n' "$hc" | sed -n 's/^Cache-Control: //p')" '^max-age=[0-9]+, public, no-transform, must-revalidate$' \
    "the edge's CRL's Cache-Control"
cetag=$(printf '%s\n' "$hc" | sed -n 's/^ETag: //p')
assert_eq "$(http_code "$EURL_e1/crl/sub/0.crl" -H "If-None-Match: $cetag")" 304 "edge: a CRL with If-None-Match"

step "a revocation on the primary is answered revoked by both edges within seconds"
n0=$(curl -s "$PURL/crl/sub/0.crl" -o "$T/crl0.der"; crl_number "$T/crl0.der")
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/c2.pem")" --reason superseded
assert_contains "$OUT" "revoked"
t0=$(date +%s%N)
wait_status "$EURL_e1" "$T/c2.pem" revoked 10
wait_status "$EURL_e2" "$T/c2.pem" revoked 10
echo "both edges answered revoked $(( ($(date +%s%N) - t0) / 1000000 )) ms after the revoke command returned"
o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/c2.pem" -url "$EURL_e2/ocsp" -CAfile "$T/chain.pem" 2>&1)
assert_line "$o" "$T/c2.pem: revoked"
assert_contains "$o" "Reason: superseded"
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c2.pem")" "GET c2 after the revocation"
same_bytes "$PURL" "$EURL_e2" "/ocsp/$(ocsp_req "$T/c2.pem")" "GET c2 after the revocation"
# c3 was not touched: still good, the same bytes everywhere.
same_bytes "$PURL" "$EURL_e1" "/ocsp/$(ocsp_req "$T/c3.pem")" "GET c3 after another's revocation"

step "the rebuilt CRL partition reaches both edges after the coalescing window"
deadline=$(( $(date +%s) + 10 ))
while :; do
    curl -s "$PURL/crl/sub/0.crl" -o "$T/crl1.der"
    [ "$(crl_number "$T/crl1.der")" -gt "$n0" ] && break
    [ "$(date +%s)" -le "$deadline" ] || fail "the primary did not rebuild /crl/sub/0.crl within 10 s"
    sleep 0.2
done
wait_same "$PURL" "$EURL_e1" /crl/sub/0.crl 10 "the rebuilt partition on e1"
wait_same "$PURL" "$EURL_e2" /crl/sub/0.crl 10 "the rebuilt partition on e2"
openssl crl -inform DER -in "$T/sb.b" -out "$T/crl-e2.pem" 2>/dev/null || fail "e2's CRL does not parse"
o=$(openssl verify -crl_check -CAfile "$T/chain.pem" -CRLfile "$T/crl-e2.pem" "$T/c2.pem" 2>&1)
assert_contains "$o" "certificate revoked" "c2 against e2's CRL"

step "/healthz, /metrics"
assert_eq "$(http_code "$EURL_e1/healthz")" 200 "e1 /healthz"
assert_eq "$(http_code "$EURL_e2/healthz")" 200 "e2 /healthz"
for m in revd_edge_lag_messages revd_edge_lag_seconds revd_edge_applied_total revd_edge_refused_total \
    revd_edge_stale_total revd_edge_bootstrap_messages; do
    has_metric "$EURL_e1" "$m" || fail "the edge's /metrics has no $m"
done
assert_eq "$(metric "$EURL_e1" revd_edge_refused_total)" 0 "messages refused by e1"
[ "$(metric "$EURL_e1" revd_edge_applied_total)" -ge 6 ] || fail "e1 applied only $(metric "$EURL_e1" revd_edge_applied_total) messages"
for m in revd_feed_outbox_depth revd_feed_outbox_age_seconds revd_feed_published_total revd_feed_publish_errors_total; do
    has_metric "$PURL" "$m" || fail "the primary's /metrics has no $m"
done
[ "$(metric "$PURL" revd_feed_published_total)" -ge 6 ] || fail "the primary published only $(metric "$PURL" revd_feed_published_total) messages"
grep -Eq 'event=feed\.(connected|started)' "$T/primary.log" || fail "no feed.connected (or feed.started) in the primary's log"

step "SIGTERM: the edges and the primary stop cleanly"
for p in "$EDGE_PID_e1" "$EDGE_PID_e2" "$PRIMARY"; do
    stop_pid "$p" 20; rc=$?
    assert_eq "$rc" 0 "exit status after SIGTERM"
done
for f in e1 e2 primary; do
    grep -q 'level=err\|runtime error\|AddressSanitizer' "$T/$f.log" && fail "$f's log has errors: $(grep 'level=err\|runtime error' "$T/$f.log" | head -3)"
done
pass
