#!/usr/bin/env bash
# test_edge_varnish: dist/varnish/revd-edge.vcl in a real varnishd in front
# of two real edges: one nats-server (JetStream), the primary `revd serve
# --nats`, two `revd serve --edge` on the VCL's two backend ports.
#  - an edge whose /healthz says 200 answers the sample good certificate
#    good at once, and has refused no message of the primary;
#  - both backends turn healthy once the edges have caught up, and
#    uncached requests reach both (VBE.*.req);
#  - an OCSP GET through varnish has the same bytes and Cache-Control,
#    ETag, Last-Modified and Expires as each edge directly and as the
#    primary; the second GET is a cache hit;
#  - a CRL through varnish is the primary's; If-None-Match with its ETag
#    gives 304;
#  - the NATS server stopped (SIGSTOP) past the edges' --heartbeat-max-age
#    3s: both backends turn sick (the edges' /healthz 503), varnish still
#    answers the cached OCSP GET and CRL (grace); SIGCONT: both turn healthy
#    again.
# An edge's wrong answer or refusal is printed as "EDGE BUG: ..." and fails
# the test at its end, after the other checks. Every process is started
# here and stopped by pid.
. "$(dirname "$0")/lib.sh"
. "$CLI_DIR/natslib.sh"
nats_require
command -v varnishd >/dev/null 2>&1 || skip "varnishd is not installed (scripts/deps.sh test)"
command -v varnishadm >/dev/null 2>&1 || skip "varnishadm is not installed (scripts/deps.sh test)"
command -v varnishstat >/dev/null 2>&1 || skip "varnishstat is not installed (scripts/deps.sh test)"

BASE=$(( 20000 + RANDOM % 12000 ))
# nats-server: BASE (client), BASE+1 (monitoring), BASE+3 (leafnodes);
# the primary BASE+5, the edges BASE+6 and BASE+7, varnish BASE+8.
PPORT=$((BASE + 5)) EPORT1=$((BASE + 6)) EPORT2=$((BASE + 7)) VPORT=$((BASE + 8))
P_URL=http://127.0.0.1:$PPORT V_URL=http://127.0.0.1:$VPORT
E_URL1=http://127.0.0.1:$EPORT1 E_URL2=http://127.0.0.1:$EPORT2
D=$T/demo N=$T/nats V=$T/varnish
VCL_SRC=$REPO_ROOT/dist/varnish/revd-edge.vcl
PRIMARY_PID="" EDGE_PID1="" EDGE_PID2="" VPID="" NATS_PID=""

alive() {
    local what pid log
    for what in primary:$PRIMARY_PID:primary edge1:$EDGE_PID1:edge1 edge2:$EDGE_PID2:edge2 \
        varnishd:$VPID:varnishd; do
        IFS=: read -r _ pid log <<<"$what"
        [ -n "$pid" ] || continue
        kill -0 "$pid" 2>/dev/null || fail "${what%%:*} exited; the end of its log: $(tail -15 "$T/$log.log")"
    done
}

# within SECONDS WHAT CMD...: CMD until it succeeds, every 0.2 s, for at
# most SECONDS; fails with WHAT (and the WHY its last try set) otherwise,
# and at once when a process exited.
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

healthz() {
    local code
    code=$(curl -s -m 3 -o "$T/.hz" -w '%{http_code}' "$1/healthz")
    WHY="$1/healthz answered $code: $(head -1 "$T/.hz" 2>/dev/null)"
    [ "$code" = "$2" ] || return 1
    [ -z "${3:-}" ] || [ "$(head -1 "$T/.hz")" = "$3" ]
}

# backends STATE1 STATE2: varnishadm backend.list says edge1 STATE1 and
# edge2 STATE2 (healthy or sick).
backends() {
    local list
    list=$(varnishadm -n "$V" backend.list 2>&1)
    WHY=$(printf '%s\n' "$list" | tr -s ' \n' ' ')
    printf '%s\n' "$list" | grep -Eq "edge1 .*$1" && printf '%s\n' "$list" | grep -Eq "edge2 .*$2"
}

# get URL FILE [curl args]: headers in FILE.h, body in FILE.
get() { curl -s -m 10 -o "$2" -D "$2.h" "${@:3}" "$1"; }
hdr() { grep -i "^$2:" "$1.h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
code() { head -1 "$1.h" | cut -d' ' -f2; }
# a cache hit: X-Varnish carries two ids (this request's and the object's).
is_hit() { [[ "$(hdr "$1" X-Varnish)" =~ ^[0-9]+\ [0-9]+$ ]]; }
vbe_req() { varnishstat -n "$V" -1 -f 'VBE.*.req' | awk -v b="$1" '$1 ~ ("\\." b "\\.req$") { print $2 }'; }

# same_as WHAT A B: the bodies and the caching headers of A and B are equal.
same_as() {
    local h
    cmp -s "$2" "$3" || fail "$1: the bytes differ"
    for h in Cache-Control ETag Last-Modified Expires; do
        [ -n "$(hdr "$2" $h)" ] || fail "$1: no $h header"
        [ "$(hdr "$2" $h)" = "$(hdr "$3" $h)" ] || fail "$1: $h '$(hdr "$2" $h)' and '$(hdr "$3" $h)' differ"
    done
}

stop_pid() { # PID NAME: TERM, wait up to 20 s, exit status 0
    local pid=$1 name=$2 rc i
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && fail "$name still running 20 s after TERM"
    wait "$pid"; rc=$?
    [ "$rc" = 0 ] || fail "$name exited $rc after TERM: $(tail -15 "$T/$name.log")"
}

step "compile"
sed -e "s/\"8081\"/\"$EPORT1\"/; s/\"8082\"/\"$EPORT2\"/" "$VCL_SRC" >"$T/edge.vcl"
grep -q "\"$EPORT2\"" "$T/edge.vcl" || fail "the VCL's backend ports are not 8081 and 8082 any more"
run_ok varnishd -C -j none -f "$T/edge.vcl"

step "NATS, the primary, two edges"
run_ok revd demo --dir "$D" --no-serve
cat "$D/ca/demo-issuing.pem" "$D/ca/demo-root.pem" >"$T/chain.pem"
nats_start "$N" "$BASE"
NATS_PID=$(cat "$N/solo.pid")
NATS_URL=$(nats_url "$N" solo)
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PPORT" --threads 1 --nats "$NATS_URL" \
    >"$T/primary.log" 2>&1 </dev/null &
PRIMARY_PID=$!
BG_PIDS="$BG_PIDS $PRIMARY_PID"
within 30 "the primary's /healthz is not 200" healthz "$P_URL" 200
for i in 1 2; do
    mkdir -p "$T/e$i"
    "$REVD" serve --edge --dir "$T/e$i" --listen "127.0.0.1:$((BASE + 5 + i))" --threads 1 \
        --nats "$NATS_URL" --trust "$D/ca/demo-root.pem" --heartbeat-max-age 3s \
        >"$T/edge$i.log" 2>&1 </dev/null &
    eval "EDGE_PID$i=$!"
    BG_PIDS="$BG_PIDS $!"
done
openssl ocsp -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" -no_nonce -reqout "$T/req.der" \
    >/dev/null 2>&1 || fail "openssl ocsp -reqout"
B64=$("$PY" -c 'import base64,sys,urllib.parse; print(urllib.parse.quote(base64.b64encode(open(sys.argv[1],"rb").read()).decode(), safe=""))' "$T/req.der")
# healthy_answers URL NAME: an edge that says it has caught up answers what
# the primary answers (its first answer, no retry).
healthy_answers() {
    local st
    curl -s -m 5 -o "$T/first.der" "$1/ocsp/$B64"
    st=$(openssl ocsp -respin "$T/first.der" -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" \
        -CAfile "$T/chain.pem" -no_nonce 2>/dev/null | head -1)
    case "$st" in *": good") ;; *)
        bug "$2's /healthz says 200 (caught up) but it answers the sample good certificate '$st' (the primary: good); its log: $(tr '\n' '|' <"$T/$2.log")" ;;
    esac
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

step "varnishd: both backends healthy"
varnishd -F -j none -n "$V" -a "127.0.0.1:$VPORT" -f "$T/edge.vcl" -s malloc,32m -T 127.0.0.1:0 \
    >"$T/varnishd.log" 2>&1 </dev/null &
VPID=$!
BG_PIDS="$BG_PIDS $VPID"
within 30 "edge1 and edge2 not both healthy in varnish" backends healthy healthy

step "uncached requests reach both edges"
for n in 1 2 3 4 5 6; do
    get "$V_URL/ocsp" "$T/post$n" --data-binary @"$T/req.der" -H 'Content-Type: application/ocsp-request'
    [ "$(code "$T/post$n")" = 200 ] || fail "POST $n through varnish: $(head -1 "$T/post$n.h")"
    grep -qi '^Content-Type: application/ocsp-response' "$T/post$n.h" || fail "POST $n: not an OCSP response"
done
r1=$(vbe_req edge1) r2=$(vbe_req edge2)
[ "${r1:-0}" -gt 0 ] && [ "${r2:-0}" -gt 0 ] ||
    fail "requests did not reach both edges: edge1 $r1, edge2 $r2 ($(varnishstat -n "$V" -1 -f 'VBE.*.req'))"

step "OCSP GET: the edges' and the primary's bytes and caching headers, then a hit"
get "$V_URL/ocsp/$B64" "$T/o1"
[ "$(code "$T/o1")" = 200 ] || fail "OCSP GET through varnish: $(head -1 "$T/o1.h")"
get "$E_URL1/ocsp/$B64" "$T/oe1"
get "$E_URL2/ocsp/$B64" "$T/oe2"
get "$P_URL/ocsp/$B64" "$T/op"
same_as "OCSP GET through varnish vs edge1" "$T/o1" "$T/oe1"
same_as "OCSP GET through varnish vs edge2" "$T/o1" "$T/oe2"
same_as "OCSP GET through varnish vs the primary" "$T/o1" "$T/op"
assert_contains "$(hdr "$T/o1" Cache-Control)" "max-age=" "the Cache-Control of an OCSP GET"
get "$V_URL/ocsp/$B64" "$T/o2"
is_hit "$T/o2" || fail "the second OCSP GET is not a cache hit: X-Varnish $(hdr "$T/o2" X-Varnish)"
same_as "the cached OCSP GET" "$T/o2" "$T/op"
run_ok openssl ocsp -respin "$T/o2" -issuer "$D/ca/demo-issuing.pem" -cert "$D/sample/good.pem" \
    -CAfile "$T/chain.pem" -no_nonce
assert_contains "$OUT" "good.pem: good" "the cached OCSP answer"

step "CRL: the primary's bytes, 304 with its ETag"
CRL=/crl/demo-issuing/0.crl
get "$V_URL$CRL" "$T/crl1"
[ "$(code "$T/crl1")" = 200 ] || fail "CRL through varnish: $(head -1 "$T/crl1.h")"
get "$P_URL$CRL" "$T/crlp"
same_as "the CRL through varnish vs the primary" "$T/crl1" "$T/crlp"
openssl crl -inform DER -in "$T/crl1" -noout 2>/dev/null || fail "openssl cannot read the CRL through varnish"
get "$V_URL$CRL" "$T/crl2"
is_hit "$T/crl2" || fail "the second CRL GET is not a cache hit: X-Varnish $(hdr "$T/crl2" X-Varnish)"
cmp -s "$T/crl2" "$T/crlp" || fail "the cached CRL differs from the primary's"
get "$V_URL$CRL" "$T/crl3" -H "If-None-Match: $(hdr "$T/crlp" ETag)"
[ "$(code "$T/crl3")" = 304 ] || fail "If-None-Match with the primary's ETag: $(head -1 "$T/crl3.h")"

step "NATS stopped: both backends sick, varnish answers from its cache"
kill -STOP "$NATS_PID"
HZ="the primary's heartbeat is too old"
within 30 "edge1's /healthz did not turn 503 '$HZ'" healthz "$E_URL1" 503 "$HZ"
within 30 "edge2's /healthz did not turn 503 '$HZ'" healthz "$E_URL2" 503 "$HZ"
within 30 "edge1 and edge2 not both sick in varnish" backends sick sick
get "$V_URL/ocsp/$B64" "$T/o3"
[ "$(code "$T/o3")" = 200 ] || fail "the cached OCSP GET with both backends sick: $(head -1 "$T/o3.h")"
cmp -s "$T/o3" "$T/op" || fail "the OCSP GET served with both backends sick differs"
get "$V_URL$CRL" "$T/crl4"
[ "$(code "$T/crl4")" = 200 ] || fail "the cached CRL with both backends sick: $(head -1 "$T/crl4.h")"
cmp -s "$T/crl4" "$T/crlp" || fail "the CRL served with both backends sick differs"

step "NATS continued: both backends healthy again"
kill -CONT "$NATS_PID"
within 60 "edge1's /healthz did not turn 200 after SIGCONT" healthz "$E_URL1" 200
within 60 "edge2's /healthz did not turn 200 after SIGCONT" healthz "$E_URL2" 200
within 60 "edge1 and edge2 not both healthy again" backends healthy healthy

step "no refusals"
no_refusals "$E_URL1" edge1
no_refusals "$E_URL2" edge2

step "stop"
kill -TERM "$VPID"
for _ in $(seq 100); do kill -0 "$VPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$VPID" 2>/dev/null && fail "varnishd still running 10 s after TERM"
VPID=""
stop_pid "$EDGE_PID1" edge1
stop_pid "$EDGE_PID2" edge2
stop_pid "$PRIMARY_PID" primary
PRIMARY_PID="" EDGE_PID1="" EDGE_PID2=""
for f in primary edge1 edge2; do
    grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/$f.log" &&
        fail "a sanitizer report in $f.log: $(grep -E -m3 -A8 'Sanitizer|runtime error' "$T/$f.log")"
done
nats_stop "$N"
step "the edges' answers"
[ -z "$BUGS" ] || fail "$BUGS"
pass
