#!/usr/bin/env bash
# test_edge_topology: the deployment of docs/edge.md with real servers: a
# 3-node JetStream cluster (domain hub) beside the primary (`revd serve
# --nats` with the three URLs), one leaf server per site (site1, site2), and
# an edge per site (`revd serve --edge --nats-hub-domain hub`) reading only
# its leaf, which the edge gives mirrors of the hub's streams.
#  - an edge whose /healthz says 200 answers the sample good certificate
#    good at once, and has refused no message of the primary;
#  - both edges answer a good certificate with the primary's exact bytes,
#    and every certificate of the demo CAs (GET) and every CRL with the
#    primary's bytes;
#  - the hub's REVD_* streams have 3 replicas (a hub node's /jsz);
#  - a revocation at the primary reaches both edges (same bytes again);
#  - with one hub node killed (-9), a second revocation still reaches both;
#  - with the whole hub killed, both edges go on answering (good and
#    revoked, the same bytes) and their /healthz turns 503 "the primary's
#    heartbeat is too old" (--heartbeat-max-age 3s);
#  - the hub restarted from the same configs and stores, both /healthz turn
#    200 again, and a third revocation reaches both edges.
# An edge's wrong answer or refusal is printed as "EDGE BUG: ..." and fails
# the test at its end, after the other checks. Every process is started
# here and stopped by pid.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/natslib.sh"
nats_require

BASE=$(( 20000 + RANDOM % 12000 ))
# hub1..hub3: BASE..BASE+11; site1: BASE+12 (+13 monitoring); site2: BASE+16
# (+17); the primary and the edges: BASE+20..22.
PPORT=$((BASE + 20))
EPORT1=$((BASE + 21)) EPORT2=$((BASE + 22))
P_URL=http://127.0.0.1:$PPORT
E_URL1=http://127.0.0.1:$EPORT1 E_URL2=http://127.0.0.1:$EPORT2
D=$T/demo N=$T/nats
PRIMARY_PID="" EDGE_PID1="" EDGE_PID2=""

# alive: fails when the primary or an edge has exited (a crash), with the
# end of its log.
alive() {
    local what pid log
    for what in primary:$PRIMARY_PID:primary edge1:$EDGE_PID1:edge1 edge2:$EDGE_PID2:edge2; do
        IFS=: read -r _ pid log <<<"$what"
        [ -n "$pid" ] || continue
        kill -0 "$pid" 2>/dev/null ||
            fail "${what%%:*} exited; the end of its log: $(tail -15 "$T/$log.log")"
    done
}

# within SECONDS WHAT CMD...: CMD until it succeeds, every 0.2 s, for at
# most SECONDS; fails with WHAT (and the WHY its last try set) otherwise,
# and at once when a revd exited.
within() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(( $(date +%s) + secs ))
    WHY=""
    until "$@"; do
        alive
        [ "$(date +%s)" -lt "$deadline" ] || fail "$what (not within ${secs}s)${WHY:+: $WHY}"
        sleep 0.2
    done
}

# healthz URL CODE [BODY]: GET URL/healthz answers CODE (and BODY as its
# first line).
healthz() {
    local code body
    code=$(curl -s -m 3 -o "$T/.hz" -w '%{http_code}' "$1/healthz")
    WHY="$1/healthz answered $code: $(head -1 "$T/.hz" 2>/dev/null)"
    [ "$code" = "$2" ] || return 1
    [ -z "${3:-}" ] && return 0
    body=$(head -1 "$T/.hz")
    [ "$body" = "$3" ]
}

# reqs NAME: $T/NAME.req (DER) and REQ_NAME (its URL-escaped base64, for GET).
req_of() {
    openssl ocsp -issuer "$D/ca/demo-issuing.pem" -cert "$2" -no_nonce -reqout "$T/$1.req" >/dev/null 2>&1 ||
        fail "openssl ocsp -reqout for $2"
    "$PY" -c 'import base64,sys,urllib.parse; print(urllib.parse.quote(base64.b64encode(open(sys.argv[1],"rb").read()).decode(), safe=""))' \
        "$T/$1.req" >"$T/$1.b64"
}

# fetch URL NAME OUT: GET URL/ocsp/<NAME's request> into OUT; 0 on a 200.
fetch() {
    [ "$(curl -s -m 5 -o "$3" -w '%{http_code}' "$1/ocsp/$(cat "$T/$2.b64")")" = 200 ]
}

# status_of RESP CERT: good, revoked or unknown, as openssl reads the
# response (its signature checked against the demo chain); "bad" otherwise.
status_of() {
    local o
    o=$(openssl ocsp -respin "$1" -issuer "$D/ca/demo-issuing.pem" -cert "$2" -CAfile "$T/chain.pem" \
        -no_nonce 2>&1) || { echo bad; return; }
    case "$o" in *"Response verify OK"*) ;; *) echo bad; return ;; esac
    printf '%s\n' "$o" | sed -n "s|^$2: \([a-z]*\)\$|\1|p" | head -1
}

# edge_says URL NAME CERT STATUS: the edge at URL answers CERT's request
# with STATUS (into $T/NAME.URLPORT.der).
edge_says() {
    local out=$T/$2.${1##*:}.der st
    fetch "$1" "$2" "$out" || { WHY="GET $1/ocsp/... was not 200"; return 1; }
    st=$(status_of "$out" "$3")
    WHY="$1 answered $st"
    [ "$st" = "$4" ]
}

# same_as_primary NAME WHAT: both edges' answers to NAME are the primary's
# bytes (the primary's taken now).
same_as_primary() {
    fetch "$P_URL" "$1" "$T/$1.p.der" || fail "the primary did not answer $1"
    cmp -s "$T/$1.p.der" "$T/$1.$EPORT1.der" ||
        fail "edge1's answer for $1 ($2) differs from the primary's bytes"
    cmp -s "$T/$1.p.der" "$T/$1.$EPORT2.der" ||
        fail "edge2's answer for $1 ($2) differs from the primary's bytes"
}

# revoke_and_wait NAME CERT SECS: revoke CERT at the primary; both edges say
# revoked within SECS, with the primary's bytes.
revoke_and_wait() {
    run_ok revd revoke --dir "$D" --ca demo-issuing --serial "$(serial_of "$2")" --reason keyCompromise
    within 10 "the primary does not answer $1 revoked" edge_says "$P_URL" "$1" "$2" revoked
    within "$3" "edge1 did not answer $1 revoked" edge_says "$E_URL1" "$1" "$2" revoked
    within "$3" "edge2 did not answer $1 revoked" edge_says "$E_URL2" "$1" "$2" revoked
    same_as_primary "$1" "revoked"
}

# stop_revd PID NAME: TERM, wait up to 20 s; exit status 0, no sanitizer
# report in its log.
stop_revd() {
    local pid=$1 name=$2 rc i
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "$name still running 20 s after TERM"
    wait "$pid"; rc=$?
    [ "$rc" = 0 ] || fail "$name exited $rc after TERM: $(tail -15 "$T/$name.log")"
}

sanitizer_clean() {
    local f
    for f in "$T/primary.log" "$T/edge1.log" "$T/edge2.log"; do
        grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" &&
            fail "a sanitizer report in $(basename "$f"): $(grep -E -m3 -A8 'Sanitizer|runtime error' "$f")"
    done
    return 0
}

step "the demo CA and three more certificates"
run_ok revd demo --dir "$D" --no-serve
cat "$D/ca/demo-issuing.pem" "$D/ca/demo-root.pem" >"$T/chain.pem"
for c in c1 c2 c3; do
    make_csr "$c" "/CN=topology-$c.example"
    issue_to "$T/$c.pem" --dir "$D" --ca demo-issuing --csr "$T/$c.csr"
    req_of "$c" "$T/$c.pem"
done
req_of good "$D/sample/good.pem"
req_of rv "$D/sample/revoked.pem"

step "the hub (3 nodes) and two leaves"
nats_cluster_start "$N" "$BASE"
HUBLEAF="$((BASE + 3)),$((BASE + 7)),$((BASE + 11))"
nats_leaf_start "$N" $((BASE + 12)) "$HUBLEAF" site1
nats_leaf_start "$N" $((BASE + 16)) "$HUBLEAF" site2
HUB=$(nats_url "$N" hub)

step "the primary and an edge per site"
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PPORT" --threads 1 --nats "$HUB" \
    >"$T/primary.log" 2>&1 </dev/null &
PRIMARY_PID=$!
BG_PIDS="$BG_PIDS $PRIMARY_PID"
within 30 "the primary's /healthz is not 200" healthz "$P_URL" 200
for i in 1 2; do
    mkdir -p "$T/e$i"
    "$REVD" serve --edge --dir "$T/e$i" --listen "127.0.0.1:$((BASE + 20 + i))" --threads 1 \
        --nats "$(nats_url "$N" site$i)" --nats-hub-domain hub --trust "$D/ca/demo-root.pem" \
        --heartbeat-max-age 3s >"$T/edge$i.log" 2>&1 </dev/null &
    eval "EDGE_PID$i=$!"
    BG_PIDS="$BG_PIDS $!"
done
# healthy_answers URL NAME: an edge that says it has caught up answers what
# the primary answers (its first answer, no retry).
healthy_answers() {
    edge_says "$1" good "$D/sample/good.pem" good ||
        bug "$2's /healthz says 200 (caught up) but $WHY for the sample good certificate (the primary: good); its log: $(tr '\n' '|' <"$T/$2.log")"
}
# no_refusals URL NAME: the edge refused no message of the (genuine) primary.
no_refusals() {
    within 10 "$2 has no /metrics" metric_of "$1" revd_edge_refused_total
    [ "$METRIC" = 0 ] || bug "$2 refused $METRIC messages of a genuine primary: $(grep refused "$T/$2.log" | head -3 | tr '\n' '|')"
}
# bug WHAT: an edge misbehaved; noted, and the test fails at its end (the
# other checks still run).
BUGS=""
bug() { echo "EDGE BUG: $*"; BUGS="$BUGS${BUGS:+
}EDGE BUG: $*"; }
# metric_of URL NAME: METRIC, the value of NAME in URL/metrics.
metric_of() {
    METRIC=$(curl -s -m 3 "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }')
    WHY="no $2 in $1/metrics"
    [ -n "$METRIC" ]
}
within 60 "edge1's /healthz did not turn 200 (caught up)" healthz "$E_URL1" 200
healthy_answers "$E_URL1" edge1
within 60 "edge2's /healthz did not turn 200 (caught up)" healthz "$E_URL2" 200
healthy_answers "$E_URL2" edge2

step "both edges answer with the primary's bytes"
for n in good c1 c2 c3; do
    cert=$T/$n.pem; [ "$n" = good ] && cert=$D/sample/good.pem
    within 10 "edge1 does not answer $n good" edge_says "$E_URL1" "$n" "$cert" good
    within 10 "edge2 does not answer $n good" edge_says "$E_URL2" "$n" "$cert" good
    same_as_primary "$n" good
done
within 10 "edge1 does not answer the sample revoked" edge_says "$E_URL1" rv "$D/sample/revoked.pem" revoked
within 10 "edge2 does not answer the sample revoked" edge_says "$E_URL2" rv "$D/sample/revoked.pem" revoked
same_as_primary rv revoked
# POST too (openssl's own client), against each edge.
for u in "$E_URL1" "$E_URL2"; do
    run_ok openssl ocsp -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" -url "$u/ocsp" \
        -CAfile "$T/chain.pem" -no_nonce -respout "$T/post.der"
    assert_contains "$OUT" "good.pem: good" "openssl ocsp against $u"
    cmp -s "$T/post.der" "$T/good.p.der" || fail "POST /ocsp at $u differs from the primary's bytes"
done

step "every certificate: each edge's answer is the primary's bytes"
# The issuing CA's certificates, and the root's (the issuing CA itself).
: >"$T/serials"; : >"$T/all.reqs"
for ca in demo-issuing demo-root; do
    revd report --dir "$D" --ca $ca --format csv 2>/dev/null | awk -F, 'NR > 1 { print $1 }' >"$T/serials.$ca"
    run_ok "$PY" "$REPO_ROOT/bench/mkreqs.py" "$D/ca/$ca.pem" "$T/serials.$ca" "$T/reqs.$ca"
    cat "$T/serials.$ca" >>"$T/serials"; cat "$T/reqs.$ca" >>"$T/all.reqs"
done
[ "$(wc -l <"$T/serials")" -gt 1000 ] && [ -s "$T/serials.demo-root" ] ||
    fail "revd report gave $(wc -l <"$T/serials") serials"
_run "$PY" - "$T/all.reqs" "$T/serials" "$PPORT" "$EPORT1" "$EPORT2" <<'PYEOF'
import http.client, sys, urllib.parse
reqs = open(sys.argv[1]).read().split()
serials = open(sys.argv[2]).read().split()
conns = [http.client.HTTPConnection("127.0.0.1", int(p), timeout=10) for p in sys.argv[3:6]]
def get(c, path):
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.read()
bad = []
for serial, b64 in zip(serials, reqs):
    path = "/ocsp/" + urllib.parse.quote(b64, safe="")
    p = get(conns[0], path)
    for name, c in (("edge1", conns[1]), ("edge2", conns[2])):
        e = get(c, path)
        if e != p:
            bad.append("%s %s: %d, %d bytes (the primary: %d, %d bytes)" % (name, serial, e[0], len(e[1]), p[0], len(p[1])))
print("%d certificates, %d answers differ" % (len(reqs), len(bad)))
for b in bad[:5]:
    print(b)
sys.exit(1 if bad else 0)
PYEOF
[ "$RC" = 0 ] || bug "edge answers differ from the primary's: $OUT"

step "every CRL: each edge's is the primary's bytes"
# crls_same: every CRL the primary publishes (DIR/crl/CA/NAME.crl) is
# served by both edges with the primary's bytes.
crls_same() {
    local f path u
    for f in "$D"/crl/*/*.crl; do
        path=/crl/${f#"$D"/crl/}
        curl -s -m 5 -o "$T/crl.p" "$P_URL$path" || { WHY="the primary: no $path"; return 1; }
        for u in "$E_URL1" "$E_URL2"; do
            curl -s -m 5 -o "$T/crl.e" "$u$path"
            cmp -s "$T/crl.e" "$T/crl.p" || { WHY="$u$path differs from the primary's"; return 1; }
        done
    done
}
ls "$D"/crl/*/*.crl >/dev/null 2>&1 || fail "no CRL under $D/crl"
deadline=$(( $(date +%s) + 10 ))
until crls_same; do
    [ "$(date +%s)" -lt "$deadline" ] || { bug "$WHY (for 10 s)"; break; }
    sleep 0.2
done

step "the hub's streams have 3 replicas"
# jsz_streams PORT: "NAME REPLICAS LEADER" per REVD_* stream a hub node holds.
jsz_streams() {
    curl -s -m 5 "http://127.0.0.1:$1/jsz?accounts=true&streams=true&config=true" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
for a in j.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"].startswith("REVD_"):
            print(s["name"], s["config"]["num_replicas"], (s.get("cluster") or {}).get("leader", "-"))
'
}
streams=$(jsz_streams $((BASE + 1)))
for s in REVD_OCSP_0 REVD_OCSP_1 REVD_OCSP_2 REVD_OCSP_3 REVD_CRL REVD_META; do
    line=$(printf '%s\n' "$streams" | awk -v s="$s" '$1 == s')
    [ -n "$line" ] || fail "hub1 has no stream $s: $streams"
    [ "$(echo "$line" | cut -d' ' -f2)" = 3 ] || fail "stream $s is not R3: $line"
done

step "a revocation at the primary reaches both edges"
revoke_and_wait c1 "$T/c1.pem" 30

step "one hub node killed (-9): a second revocation reaches both edges"
# The REVD_OCSP_0 stream's leader, so that a leader election is part of it.
victim=$(printf '%s\n' "$streams" | awk '$1 == "REVD_OCSP_0" { print $3 }')
case "$victim" in hub1 | hub2 | hub3) ;; *) victim=hub1 ;; esac
kill -9 "$(cat "$N/$victim.pid")"
wait "$(cat "$N/$victim.pid")" 2>/dev/null # reaped quietly (no "Killed" line)
revoke_and_wait c2 "$T/c2.pem" 60

step "the whole hub killed: the edges go on answering, /healthz 503"
for h in hub1 hub2 hub3; do kill -9 "$(cat "$N/$h.pid")" 2>/dev/null; done
for h in hub1 hub2 hub3; do wait "$(cat "$N/$h.pid")" 2>/dev/null; done
for n in good c1 c2 rv; do
    for u in "$E_URL1" "$E_URL2"; do
        fetch "$u" "$n" "$T/$n.down.der" || fail "$u does not answer $n with the hub down"
        cmp -s "$T/$n.down.der" "$T/$n.p.der" || fail "$u answers $n differently with the hub down"
    done
done
HZ="the primary's heartbeat is too old"
within 30 "edge1's /healthz did not turn 503 '$HZ'" healthz "$E_URL1" 503 "$HZ"
within 30 "edge2's /healthz did not turn 503 '$HZ'" healthz "$E_URL2" 503 "$HZ"
# Past the bound, still the same answers.
for n in good c1 c2 rv; do
    for u in "$E_URL1" "$E_URL2"; do
        fetch "$u" "$n" "$T/$n.down.der" || fail "$u does not answer $n once unhealthy"
        cmp -s "$T/$n.down.der" "$T/$n.p.der" || fail "$u answers $n differently once unhealthy"
    done
done

step "the hub restarted: /healthz 200 again, a third revocation reaches both"
for i in 1 2 3; do
    p=$((BASE + 4 * (i - 1)))
    natsh_launch "$N" hub$i $p $((p + 1)) || fail "could not start hub$i again"
    _nats_track "$N" hub$i
done
for i in 1 2 3; do
    natsh_wait "$N" hub$i 60 2>"$T/.natserr" || fail "hub$i did not come back: $(cat "$T/.natserr")"
done
within 60 "edge1's /healthz did not turn 200 after the hub's restart" healthz "$E_URL1" 200
within 60 "edge2's /healthz did not turn 200 after the hub's restart" healthz "$E_URL2" 200
revoke_and_wait c3 "$T/c3.pem" 60

step "no refusals"
no_refusals "$E_URL1" edge1
no_refusals "$E_URL2" edge2

step "stop"
stop_revd "$EDGE_PID1" edge1
stop_revd "$EDGE_PID2" edge2
stop_revd "$PRIMARY_PID" primary
PRIMARY_PID="" EDGE_PID1="" EDGE_PID2=""
sanitizer_clean
nats_stop "$N"
step "the edges' answers"
[ -z "$BUGS" ] || fail "$BUGS"
pass
