# tests/cli/edgelib.sh: sourced (after lib.sh) by the tests/cli/test_edge_*.sh
# of issue 16: a primary `revd serve --nats` publishing into NATS JetStream,
# and edges `revd serve --edge` serving from it (docs: the edge interface).
#
# Each test starts its own nats-server(s) on free loopback ports (from a
# range picked by the shell's pid, each checked free by binding it), with
# their data under $T, stopped by pid at exit (lib.sh's BG_PIDS). Skips when
# nats-server or curl is not installed. Everything waits by polling against
# a deadline, never by a fixed sleep where a poll works.

command -v nats-server >/dev/null 2>&1 || skip "nats-server is not installed (apt-get install nats-server)"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"

# At exit: SIGTERM to what is still running, the last started first (the
# edges and the primary before the nats-servers they talk to), each given
# 5 s; then lib.sh's cleanup (SIGKILL to what is left, the temp dir).
_edge_cleanup() {
    local p rev=""
    for p in $BG_PIDS; do rev="$p $rev"; done
    for p in $rev; do
        kill -0 "$p" 2>/dev/null || continue
        kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    _cleanup
    wait 2>/dev/null
}
trap _edge_cleanup EXIT

# ---------------------------------------------------------------- ports
# free_port: prints a loopback TCP port nobody listens on, from a range
# of 200 picked by $$ (so that tests run side by side rarely collide),
# below the kernel's ephemeral ports (32768 and up);
# never the same one twice in a test.
_PORT_NEXT=$(( 21000 + ($$ % 55) * 200 ))
_PORT_END=$(( _PORT_NEXT + 200 ))
free_port() {
    while [ "$_PORT_NEXT" -lt "$_PORT_END" ]; do
        local p=$_PORT_NEXT
        _PORT_NEXT=$((_PORT_NEXT + 1))
        if "$PY" -c '
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$p" 2>/dev/null; then
            echo "$p"; return 0
        fi
    done
    echo "no free port" >&2; return 1
}
# Since free_port runs in $(...), the counter is advanced in the caller too:
# take_port VAR sets VAR to a free port and moves the counter past it.
take_port() {
    local _tp
    _tp=$(free_port) || fail "no free loopback port in $_PORT_NEXT..$_PORT_END"
    _PORT_NEXT=$((_tp + 1))
    printf -v "$1" '%s' "$_tp"
}

# wait_port PORT [SECONDS]: something accepts on 127.0.0.1:PORT (default 20 s).
wait_port() {
    local deadline=$(( $(date +%s) + ${2:-20} ))
    while [ "$(date +%s)" -le "$deadline" ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# forget_pid PID: a process this test stopped itself leaves BG_PIDS (so
# the exit trap never signals a pid the system may have given to another).
forget_pid() {
    local p out=""
    for p in $BG_PIDS; do [ "$p" = "$1" ] || out="$out $p"; done
    BG_PIDS=$out
}

# stop_pid PID [SECONDS]: SIGTERM, waits (default 20 s), then SIGKILL; forgets it.
stop_pid() {
    local pid=$1 n=$(( ${2:-20} * 10 ))
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq "$n"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" 2>/dev/null; echo "pid $pid ignored SIGTERM for ${2:-20} s" >&2; }
    wait "$pid" 2>/dev/null
    local rc=$?
    forget_pid "$pid"
    return $rc
}

# ---------------------------------------------------------------- nats-server
# nats_start NAME [nats-server options...]: a JetStream server on a free
# port, data in $T/NAME, log in $T/NAME.log; sets NATS_PID_NAME, NATS_PORT_NAME,
# NATS_URL_NAME. With options (-c CONF ...) the caller gives the port with
# NATS_FIXED_PORT.
nats_start() {
    local name=$1 port; shift
    if [ -n "${NATS_FIXED_PORT:-}" ]; then port=$NATS_FIXED_PORT; else take_port port; fi
    mkdir -p "$T/$name"
    if [ $# -gt 0 ]; then
        nats-server "$@" >>"$T/$name.log" 2>&1 </dev/null &
    else
        nats-server -a 127.0.0.1 -p "$port" -js -sd "$T/$name/js" >>"$T/$name.log" 2>&1 </dev/null &
    fi
    local pid=$!
    BG_PIDS="$BG_PIDS $pid"
    printf -v "NATS_PID_$name" '%s' "$pid"
    printf -v "NATS_PORT_$name" '%s' "$port"
    printf -v "NATS_URL_$name" '%s' "nats://127.0.0.1:$port"
    wait_port "$port" 20 || fail "nats-server $name did not listen on $port: $(tail -5 "$T/$name.log")"
}
# nats_restart NAME [options...]: the same server again (same port and data).
nats_restart() {
    local name=$1; shift
    local pv="NATS_PORT_$name"
    NATS_FIXED_PORT=${!pv} nats_start "$name" "$@"
}

# ---------------------------------------------------------------- revd
# The demo CA of every edge test: root and sub in $D (sub's CRLs in
# partitions of 4), N certificates issued by sub as $T/cI.pem.
make_demo_ca() { # N
    run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
    run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub --partition-size 4
    make_csr ee "/CN=ee.example"
    local i
    for i in $(seq "$1"); do issue_to "$T/c$i.pem" --dir "$D" --ca sub --csr "$T/ee.csr"; done
    cat "$D/ca/sub.pem" "$D/ca/root.pem" >"$T/chain.pem"
    cp "$D/ca/root.pem" "$T/roots.pem"
}

# primary_start LOG NATS-URLS [serve options...]: `revd serve --dir $D
# --nats URLS` on $PPORT (taken once), kv log in LOG; pid in PRIMARY, URL in
# PURL. Waits for "serving".
primary_start() {
    local log=$1 urls=$2; shift 2
    [ -n "${PPORT:-}" ] || take_port PPORT
    PURL=http://127.0.0.1:$PPORT
    PLOG=$log
    : >"$log"
    "$REVD" serve --dir "$D" --listen "127.0.0.1:$PPORT" --threads 1 "${IO_ARGS[@]}" --log-format kv \
        --nats "$urls" "$@" >"$log" 2>&1 </dev/null &
    PRIMARY=$!
    SRV=$PRIMARY
    serve_wait "$log"
}

# primary_wait_published [SECONDS]: the primary has put everything in
# the streams: its start's scan is done (feed.scanned in its log, which
# primary_start named $PLOG) and its outbox is empty (default 60 s).
primary_wait_published() {
    local deadline=$(( $(date +%s) + ${1:-60} ))
    until grep -q 'event=feed.scanned' "$PLOG" && [ "$(metric "$PURL" revd_feed_outbox_depth)" = 0 ]; do
        [ "$(date +%s)" -le "$deadline" ] ||
            fail "the primary did not publish everything within ${1:-60} s: outbox depth $(metric "$PURL" revd_feed_outbox_depth); $(grep 'event=feed' "$PLOG" | tail -3)"
        sleep 0.1
    done
}

# edge_start NAME NATS-URL [edge options...]: `revd serve --edge` with its
# dir $T/NAME, its port EPORT_NAME (taken once, kept across restarts), kv
# log appended to $T/NAME.log; pid in EDGE_PID_NAME, URL in EURL_NAME. Waits
# only until it listens (edge_wait_ready waits for its /healthz).
# EDGE_PRELOAD: environment assignments put before the command (faketime).
edge_start() {
    local name=$1 url=$2; shift 2
    local pv="EPORT_$name" port
    port=${!pv:-}
    [ -n "$port" ] || { take_port port; printf -v "EPORT_$name" '%s' "$port"; }
    printf -v "EURL_$name" '%s' "http://127.0.0.1:$port"
    mkdir -p "$T/$name"
    echo "=== start $(date -u +%H:%M:%S.%N)" >>"$T/$name.log"
    env ${EDGE_PRELOAD:-} "$REVD" serve --edge --dir "$T/$name" --listen "127.0.0.1:$port" --threads 1 \
        "${IO_ARGS[@]}" --log-format kv --nats "$url" --trust "$T/roots.pem" "$@" \
        >>"$T/$name.log" 2>&1 </dev/null &
    local pid=$!
    BG_PIDS="$BG_PIDS $pid"
    printf -v "EDGE_PID_$name" '%s' "$pid"
    local deadline=$(( $(date +%s) + 30 ))
    while [ "$(date +%s)" -le "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || fail "edge $name exited: $(tail -5 "$T/$name.log")"
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "edge $name did not listen on $port within 30 s: $(tail -5 "$T/$name.log")"
}

# http_code URL [curl options...]: the status code (000 when no answer).
http_code() {
    local u=$1; shift
    curl -s -m 10 -o /dev/null -w '%{http_code}' "$@" "$u"
}

# wait_healthz URL CODE SECONDS: GET URL/healthz answers CODE within SECONDS.
wait_healthz() {
    local deadline=$(( $(date +%s) + $3 )) c=""
    while [ "$(date +%s)" -le "$deadline" ]; do
        c=$(http_code "$1/healthz")
        [ "$c" = "$2" ] && return 0
        sleep 0.2
    done
    fail "$1/healthz: wanted $2 within $3 s, last $c: $(curl -s -m 5 "$1/healthz")"
}

# edge_wait_ready NAME [SECONDS]: the edge's /healthz is 200 (caught up,
# heartbeat fresh), default within 60 s.
edge_wait_ready() {
    local uv="EURL_$1"
    wait_healthz "${!uv}" 200 "${2:-60}"
}

# ---------------------------------------------------------------- OCSP, CRL, metrics
# ocsp_req CERT [ISSUER]: the GET path (percent-encoded base64) of CERT's
# SHA-1 request without a nonce (cached in $T/req.SERIAL).
ocsp_req() {
    local cert=$1 issuer=${2:-$D/ca/sub.pem} s
    s=$(serial_of "$cert")
    if [ ! -f "$T/req.$s" ]; then
        openssl ocsp -issuer "$issuer" -cert "$cert" -no_nonce -reqout "$T/req.$s.der" >/dev/null 2>&1 ||
            fail "openssl ocsp could not make a request for $cert"
        base64 -w0 "$T/req.$s.der" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g' >"$T/req.$s"
    fi
    cat "$T/req.$s"
}
# ocsp_get BASEURL CERT OUT [ISSUER]: GET BASEURL/ocsp/... into OUT; 0 when HTTP 200.
ocsp_get() {
    local c
    c=$(curl -s -m 10 -o "$3" -w '%{http_code}' "$1/ocsp/$(ocsp_req "$2" "${4:-}")")
    [ "$c" = 200 ]
}
# ocsp_status RESPONSE CERT: "good", "revoked", "unknown", or what openssl
# says otherwise (tryLater, unauthorized...), checked against the chain.
ocsp_status() {
    local o
    o=$(openssl ocsp -respin "$1" -issuer "$D/ca/sub.pem" -cert "$2" -CAfile "$T/chain.pem" 2>&1)
    case "$o" in
    *"$2: good"*) echo good ;;
    *"$2: revoked"*) echo revoked ;;
    *"$2: unknown"*) echo unknown ;;
    *) printf '%s\n' "$o" | grep -m1 -io 'trylater\|unauthorized\|malformedrequest\|internalerror\|sigrequired' ||
           echo "unreadable: $(printf '%s' "$o" | head -2 | tr '\n' ' ')" ;;
    esac
}
# wait_status BASEURL CERT STATUS SECONDS: the answer for CERT is STATUS
# within SECONDS.
wait_status() {
    local deadline=$(( $(date +%s) + $4 )) s=""
    while [ "$(date +%s)" -le "$deadline" ]; do
        if ocsp_get "$1" "$2" "$T/ws.der"; then
            s=$(ocsp_status "$T/ws.der" "$2")
            [ "$s" = "$3" ] && return 0
        else
            s="HTTP error"
        fi
        sleep 0.1
    done
    fail "$1: $2 should be answered $3 within $4 s, last: $s"
}

# metric BASEURL NAME: the sum of NAME's samples in /metrics (0 when absent;
# "none" when /metrics does not answer).
metric() {
    curl -s -m 10 "$1/metrics" -o "$T/metrics.txt" || { echo none; return; }
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF; f = 1 } END { printf "%d\n", f ? s : 0 }' "$T/metrics.txt"
}
# has_metric BASEURL NAME: /metrics has a sample of NAME.
has_metric() {
    curl -s -m 10 "$1/metrics" | grep -Eq "^$2(\{| )"
}

# same_bytes URL-A URL-B PATH WHAT: GET PATH on both answers 200 and the
# same bytes.
same_bytes() {
    local a b
    a=$(curl -s -m 10 -o "$T/sb.a" -w '%{http_code}' "$1$3")
    b=$(curl -s -m 10 -o "$T/sb.b" -w '%{http_code}' "$2$3")
    assert_eq "$a" 200 "$4: $1$3"
    assert_eq "$b" 200 "$4: $2$3"
    cmp -s "$T/sb.a" "$T/sb.b" || fail "$4: $2$3 answers other bytes than $1$3 ($(_describe "$T/sb.b") there, $(_describe "$T/sb.a") here)"
}
# _describe FILE: a few words on an OCSP response or a CRL (for messages).
_describe() {
    local o
    if o=$(openssl ocsp -respin "$1" -resp_text -noverify 2>/dev/null) && [ -n "$o" ]; then
        printf '%s\n' "$o" | grep -E 'Response Status|Produced At|Cert Status|This Update|Next Update' | sed 's/^ *//' | tr '\n' ';'
    elif o=$(openssl crl -inform DER -in "$1" -noout -crlnumber -lastupdate -nextupdate 2>/dev/null); then
        printf '%s' "$o" | tr '\n' ';'
    else
        echo "$(stat -c %s "$1") bytes: $(head -c 80 "$1" | tr -c '[:print:]' '.')"
    fi
}

# wait_same URL-A URL-B PATH SECONDS WHAT: as same_bytes, within SECONDS.
wait_same() {
    local deadline=$(( $(date +%s) + $4 ))
    while [ "$(date +%s)" -le "$deadline" ]; do
        if [ "$(curl -s -m 10 -o "$T/sb.a" -w '%{http_code}' "$1$3")" = 200 ] &&
            [ "$(curl -s -m 10 -o "$T/sb.b" -w '%{http_code}' "$2$3")" = 200 ] &&
            cmp -s "$T/sb.a" "$T/sb.b"; then
            return 0
        fi
        sleep 0.2
    done
    same_bytes "$1" "$2" "$3" "$5"
}

# crl_number FILE: a DER CRL's number (decimal).
crl_number() {
    local n
    n=$(openssl crl -inform DER -in "$1" -noout -crlnumber 2>/dev/null | sed 's/^crlNumber=//')
    [ -n "$n" ] && echo $(( 0x${n#0x} )) || echo -1
}

# log_count FILE PATTERN: lines of FILE matching the ERE (0 when none).
log_count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }

# nats_cluster N1 N2 N3: a 3-node JetStream cluster (cluster name c), each
# node NAME with its config $T/NAME.conf, data $T/NAME/js, client port
# NATS_PORT_NAME; waits until every node listens and the cluster has
# elected a JetStream meta leader (their logs say so). NATS_URLS: the three
# client URLs, comma-separated.
nats_cluster() {
    local n p cp routes="" i=0
    declare -gA _CPORT
    for n in "$@"; do
        take_port p; take_port cp
        printf -v "NATS_PORT_$n" '%s' "$p"
        printf -v "NATS_URL_$n" '%s' "nats://127.0.0.1:$p"
        _CPORT[$n]=$cp
        routes="$routes${routes:+, }\"nats-route://127.0.0.1:$cp\""
    done
    NATS_URLS=""
    for n in "$@"; do
        local pv="NATS_PORT_$n"
        mkdir -p "$T/$n"
        cat >"$T/$n.conf" <<CONF
server_name: $n
listen: 127.0.0.1:${!pv}
jetstream { store_dir: "$T/$n/js" }
cluster {
  name: c
  listen: 127.0.0.1:${_CPORT[$n]}
  routes: [$routes]
}
CONF
        NATS_URLS="$NATS_URLS${NATS_URLS:+,}nats://127.0.0.1:${!pv}"
    done
    for n in "$@"; do nats_cluster_node "$n"; done
    local deadline=$(( $(date +%s) + 60 ))
    until cat "$T/$1.log" "$T/$2.log" "$T/$3.log" 2>/dev/null | grep -q 'JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader'; do
        [ "$(date +%s)" -le "$deadline" ] || fail "the NATS cluster elected no JetStream leader within 60 s: $(tail -3 "$T/$1.log")"
        sleep 0.2
    done
}
# nats_cluster_node NAME: starts (or starts again) one node of nats_cluster.
nats_cluster_node() {
    local pv="NATS_PORT_$1"
    NATS_FIXED_PORT=${!pv} nats_start "$1" -c "$T/$1.conf"
}
