#!/usr/bin/env bash
# bench/run.sh [--quick] [--certs N] [--seconds S]: issue #5's scenarios,
# revd beside its peers in the same run, with issue #17's targets and the
# profile of a request's CPU (perf stat). --quick (make bench-quick): 20,000
# certificates, 3 s per measurement, under two minutes. Otherwise (make
# bench): 10^6 certificates (--certs 10000000 for 10^7), 10 s each, and
# the scale scenarios (mass revocation, memory, cold start) at that size.
# Prints a table; writes bench/results/NAME.json and, with gnuplot,
# bench/results/NAME-*.png (NAME: quick or full). bench/README.md explains
# the method and how to read it.
#
# The server under test runs on core 0, the load generator (bench/loadgen)
# on core 1; CPU per request is the server process's user+system time from
# /proc/PID/stat over the run, divided by the requests answered.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=full NCERTS=1000000 SECS=10
while [ $# -gt 0 ]; do
    case $1 in
    --quick) MODE=quick NCERTS=20000 SECS=3 ;;
    --certs) NCERTS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--certs N] [--seconds S]" >&2; exit 2 ;;
    esac
    shift
done
case $NCERTS in *[!0-9]*|"") echo "bench: --certs wants a number" >&2; exit 2 ;; esac
[ "$NCERTS" -ge 10000 ] || { echo "bench: --certs 10000 at least" >&2; exit 2; }
NREQ=$(( NCERTS < 200000 ? 1000 : 10000 )) # the request set: that many certificates
NREV=$([ $MODE = quick ] && echo 10 || echo 30)
R=$ROOT/revd
LG=$ROOT/build/rel/bench/loadgen
TRIV=$ROOT/build/rel/bench/trivial
PY=/usr/bin/python3
[ -x "$R" ] && [ -x "$LG" ] && [ -x "$TRIV" ] || { echo "bench: build first (make revd build/rel/bench/loadgen build/rel/bench/trivial)" >&2; exit 2; }
for c in nginx openssl curl; do command -v $c >/dev/null || { echo "bench: $c is missing (scripts/deps.sh bench)" >&2; exit 77; }; done
T=${BENCH_TMP:-$(mktemp -d)}; chmod 711 "$T"
PIDS=""
trap 'rc=$?; set +e; kill $PIDS 2>/dev/null; wait 2>/dev/null; nginx -c $T/nginx.conf -s stop 2>/dev/null; rm -rf "$T"; exit $rc' EXIT
mkdir -p bench/results
RES=$T/results.jsonl
: >"$RES"
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
# wait_port PORT [PID]: until something answers HTTP on PORT: 30 s, or as
# long as PID lives (a first start signs every response: minutes at 10^7).
wait_port() {
    local i=0
    until curl -s -o /dev/null "http://127.0.0.1:$1/"; do
        i=$((i + 1))
        if [ -n "${2:-}" ]; then kill -0 "$2" 2>/dev/null || { note "bench: the server on port $1 exited"; return 1; }
        elif [ $i -gt 600 ]; then note "bench: nothing answers on port $1"; return 1; fi
        sleep 0.05
    done
}
# settle PID: waits (up to 3 minutes) until PID is idle: under 3% of a core
# over a second. After a start the index compacts what was just written, on
# the same core as the shard: measuring before it ends halves the figures.
settle() {
    local a b i
    for i in $(seq 180); do
        a=$(cpu "$1"); sleep 1; b=$(cpu "$1")
        [ $(( (b - a) * tick_us )) -lt 30000 ] && { note "   (the server idle after ${i} s)"; return 0; }
    done
    note "bench: the server never went idle; measuring anyway"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# ust PID: the process's user and system clock ticks (/proc/PID/stat 14, 15).
ust() { awk '{print $14, $15}' /proc/$1/stat; }
# emit SCENARIO NAME USER-TICKS SYS-TICKS [PERF-FILE] (loadgen's JSON on
# stdin): one JSON line into $RES: loadgen's figures, the server's CPU per
# request answered (2xx and 3xx), user and system apart, and with a
# PERF-FILE (perf stat -x, output) its counts per request: null where perf
# could not count (no hardware counters in a VM: "<not supported>").
emit() {
    $PY -c '
import json, sys
d = json.loads(sys.stdin.read())
sc, name, ut, st, tick_us = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ok = d["status_2xx"] + d["status_3xx"]
per = lambda v: (v / ok) if ok and v is not None else None
d.update(scenario=sc, name=name, cpu_us_per_req=per((ut + st) * tick_us),
         user_us_per_req=per(ut * tick_us), sys_us_per_req=per(st * tick_us))
if len(sys.argv) > 6:
    ev = {}
    try:
        for line in open(sys.argv[6]):
            f = line.strip().split(",")
            if len(f) > 2 and not line.startswith("#"):
                ev[f[2]] = int(f[0]) if f[0].isdigit() else None
    except OSError:
        pass
    d.update(under_perf=True, perf_events=ev, syscalls_per_req=per(ev.get("raw_syscalls:sys_enter")),
             io_uring_enter_per_req=per(ev.get("syscalls:sys_enter_io_uring_enter")),
             cs_per_req=per(ev.get("context-switches")), cache_misses_per_req=per(ev.get("cache-misses")))
print(json.dumps(d))' "$1" "$2" "$3" "$4" "$tick_us" ${5:+"$5"} >>"$RES"
}
# run SCENARIO NAME PID URL [loadgen options]: one measurement, a JSON line.
run() {
    local sc=$1 name=$2 pid=$3 url=$4; shift 4
    local u0 s0 u1 s1 out
    read -r u0 s0 < <(ust "$pid")
    out=$(taskset -c 1 "$LG" --url "$url" --duration "$SECS" --json "$@")
    read -r u1 s1 < <(ust "$pid")
    printf '%s\n' "$out" | emit "$sc" "$name" $((u1 - u0)) $((s1 - s0))
}
# The profile's events: system calls (all, and io_uring_enter apart),
# context switches, cache misses; each dropped that this perf or kernel
# does not know (a VM without a PMU still opens cache-misses: it counts
# "<not supported>").
PERF_EV=""
if command -v perf >/dev/null; then
    for ev in raw_syscalls:sys_enter syscalls:sys_enter_io_uring_enter context-switches cache-misses; do
        perf stat -e "$ev" -x, -o /dev/null -- true 2>/dev/null && PERF_EV="$PERF_EV${PERF_EV:+,}$ev"
    done
fi
# prof SCENARIO NAME PID URL [loadgen options]: run's measurement again, a
# row named "profile: NAME", with perf stat counting PERF_EV in the server
# (every thread of PID) from 0.3 s before the load generator starts until it
# exits (SIGINT). A separate run: counting tracepoints slows every system
# call, so its req/s and CPU are not the table's.
prof() {
    local sc=$1 name=$2 pid=$3 url=$4; shift 4
    local u0 s0 u1 s1 out pp=""
    rm -f $T/perf.txt
    if [ -n "$PERF_EV" ]; then
        taskset -c 1 perf stat -e "$PERF_EV" -x, -o $T/perf.txt -p "$pid" 2>>$T/perf.err &
        pp=$!
        sleep 0.3
    fi
    read -r u0 s0 < <(ust "$pid")
    out=$(taskset -c 1 "$LG" --url "$url" --duration "$SECS" --json "$@")
    read -r u1 s1 < <(ust "$pid")
    if [ -n "$pp" ]; then kill -INT $pp 2>/dev/null; wait $pp || true; fi
    printf '%s\n' "$out" | emit "$sc" "profile: $name" $((u1 - u0)) $((s1 - s0)) $T/perf.txt
}
# rps_of NAME: the requests/s of a run above.
rps_of() { $PY -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("name") == sys.argv[2]: print(int(r["rps"]))' "$RES" "$1"; }
row() { printf '%s\n' "$1" >>"$RES"; }
note() { printf '%s\n' "$*" >&2; }
note "== data ($MODE): a root, an issuing CA with $NCERTS imported certificates (5% revoked), a CA with one full CRL partition"
t0=$(date +%s%N)
$R ca create-root --dir $T/d --name root --subject "/CN=bench root/O=revd" >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject "/CN=bench sub/O=revd" >/dev/null
$R ca create-root --dir $T/d --name full --subject "/CN=bench full/O=revd" >/dev/null
PSIZE=$($R ca show --dir $T/d full | sed -n 's/^partition-size: //p')
# Serials: i-th certificate; every 20th revoked at import, every 10th (+1)
# revoked in the mass-revocation burst, the request set drawn from the rest.
$PY - "$T" "$NCERTS" "$NREQ" "$PSIZE" <<'PY'
import random, sys
t, n, nreq, psize = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(7)
ser = lambda i: "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
with open(t + "/in.csv", "w") as f, open(t + "/good.txt", "w") as g, open(t + "/mass.txt", "w") as m:
    for i in range(n):
        s = ser(i)
        if i % 20 == 0:
            f.write(s + ",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n")
            continue
        f.write(s + ",2031-01-01,good\n")
        (m if i % 10 == 1 else g).write(s + "\n")
with open(t + "/unknown.txt", "w") as u:
    for i in range(1000): u.write("%032X\n" % ((1 << 125) | r.getrandbits(100)))
with open(t + "/full.csv", "w") as f:
    for i in range(psize): f.write("%032X,2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" % ((1 << 126) + i))
PY
# The request set: NREQ good certificates spread over the CA; the
# revocation probes (scenarios 7, 8) are others.
awk -v n=$NCERTS -v k=$NREQ 'NR % int(n * 0.85 / k) == 0 && c < k {print; c++}' $T/good.txt >$T/req-serials.txt
awk 'NR % 1000 == 7' $T/good.txt | head -$NREV >$T/probe.txt
$R import --dir $T/d --ca sub --file $T/in.csv >/dev/null
$R import --dir $T/d --ca full --file $T/full.csv >/dev/null
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/req-serials.txt $T/reqs.txt
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/req-serials.txt $T/nonce.txt --nonce
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/unknown.txt $T/unknown-reqs.txt
note "   $(ms_since $t0) ms"

note "== servers: revd (io_uring, --nonce echo), trivial, nginx, cfssl, openssl ocsp: all on core 0"
P1=$(( 20000 + RANDOM % 20000 )); PN=$((P1 + 2)); PC=$((P1 + 3)); PT=$((P1 + 4)); PO=$((P1 + 5))
# The first start signs every response (all cores); the second is the
# cold start: responses on disk, loaded and checked (scenario 12).
t0=$(date +%s%N)
$R serve --dir $T/d --listen 127.0.0.1:$P1 --threads 1 2>$T/serve.log &
RP=$!; PIDS="$PIDS $RP"
wait_port $P1 $RP
first_ms=$(ms_since $t0)
kill -TERM $RP; wait $RP 2>/dev/null || true
# Requests without a nonce are answered from the precomputed responses
# either way; --nonce echo serves scenario 5 from the same server. The
# shard and every other thread share core 0 (core 1 is the load
# generator's): revd's own placement then runs signing, CRLs and the index
# at low priority beside the shard (--work-cpus overlapping --shard-cpus).
t0=$(date +%s%N)
$R serve --dir $T/d --listen 127.0.0.1:$P1 --threads 1 --shard-cpus 0 --work-cpus 0 --nonce echo \
    --sign-rate 1000000 2>$T/serve.log &
RP=$!; PIDS="$PIDS $RP"
wait_port $P1 $RP
start_ms=$(ms_since $t0)
taskset -a -p -c 0 $RP >/dev/null
rss=$(rss_kb $RP)
row "{\"scenario\": \"12\", \"name\": \"cold start to serving\", \"start_ms\": $start_ms, \"first_ms\": $first_ms, \"certificates\": $((NCERTS + PSIZE))}"
rsz=$(( $(head -1 $T/reqs.txt | base64 -d | curl -s --data-binary @- -H 'Content-Type: application/ocsp-request' http://127.0.0.1:$P1/ocsp | wc -c) ))
taskset -c 0 $TRIV --port $PT --size $rsz &
TP=$!; PIDS="$PIDS $TP"
wait_port $PT
# The static floor: one response, and the full CRL partition, as files.
mkdir -p $T/www/ocsp $T/www/crl
head -1 $T/reqs.txt | base64 -d | curl -s --data-binary @- -H 'Content-Type: application/ocsp-request' http://127.0.0.1:$P1/ocsp -o $T/www/ocsp/resp.der
curl -s http://127.0.0.1:$P1/crl/full/0.crl -o $T/www/crl/0.crl
. "$ROOT/bench/nginx.sh"
nginx_conf $T $PN
taskset -c 0 nginx -c $T/nginx.conf
wait_port $PN
NW=$(pgrep -P "$(cat $T/nginx.pid)" | head -1)
# cfssl and openssl ocsp answer for the request set's certificates: cfssl
# the same responses revd serves, openssl from an index.txt (it signs each).
$PY - $P1 $T/reqs.txt $T/cfssl.txt <<'PY'
import base64, http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
with open(sys.argv[3], "w") as out:
    for line in open(sys.argv[2]):
        c.request("POST", "/ocsp", base64.b64decode(line), {"Content-Type": "application/ocsp-request"})
        out.write(base64.b64encode(c.getresponse().read()).decode() + "\n")
PY
CP=""
if command -v cfssl >/dev/null; then
    taskset -c 0 cfssl ocspserve -address 127.0.0.1 -port $PC -responses $T/cfssl.txt -loglevel 5 2>/dev/null &
    CP=$!; PIDS="$PIDS $CP"
    wait_port $PC || CP=""
fi
sed 's/.*/V\t310101000000Z\t\t&\tunknown\t\/CN=&/' $T/req-serials.txt >$T/ossl-index.txt # subjects unique
taskset -c 0 openssl ocsp -index $T/ossl-index.txt -port $PO -ignore_err -rsigner $T/d/ca/sub.pem \
    -rkey $T/d/keys/sub.key -CA $T/d/ca/sub.pem -nmin 60 >$T/ossl.log 2>&1 &
OP=$!; PIDS="$PIDS $OP"
# (probed with a real request: it exits on a connection that sends none)
for _ in $(seq 100); do
    head -1 $T/reqs.txt | base64 -d | curl -s -o /dev/null --data-binary @- -H 'Content-Type: application/ocsp-request' \
        http://127.0.0.1:$PO/ && break
    sleep 0.05
done

settle $RP
note "== 1-5: OCSP (${SECS} s each)"
run 0 "loadgen floor: trivial server" $TP http://127.0.0.1:$PT/x
run 1 "revd GET keep-alive" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt
run 1 "revd GET keep-alive, Zipf 1.1" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --zipf 1.1
run 1 "nginx static file" $NW http://127.0.0.1:$PN/ocsp/resp.der
[ -n "$CP" ] && run 1 "cfssl POST keep-alive" $CP http://127.0.0.1:$PC/ --requests $T/reqs.txt --method POST --threads 1
run 1 "openssl ocsp POST, conn/request" $OP http://127.0.0.1:$PO/ --requests $T/reqs.txt --method POST --close --connections 1
half=$(( $(rps_of "revd GET keep-alive") / 2 ))
run 1 "revd GET at half of peak (open loop)" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --rate $half
run 1 "trivial at revd's half of peak (open loop)" $TP http://127.0.0.1:$PT/x --rate $half
run 2 "revd POST keep-alive" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --method POST
run 3 "revd conn per request" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --close
run 3 "nginx conn per request" $NW http://127.0.0.1:$PN/ocsp/resp.der --close
run 3 "trivial conn per request" $TP http://127.0.0.1:$PT/x --close
run 4 "revd never-issued flood" $RP http://127.0.0.1:$P1/ocsp --requests $T/unknown-reqs.txt
run 5 "revd nonce echo" $RP http://127.0.0.1:$P1/ocsp --requests $T/nonce.txt --method POST

crlkb=$(( $(stat -c %s $T/www/crl/0.crl) / 1024 ))
note "== 6: CRL download, a full partition ($crlkb KB)"
run 6 "revd CRL ($crlkb KB)" $RP http://127.0.0.1:$P1/crl/full/0.crl --connections 8
run 6 "nginx CRL file ($crlkb KB)" $NW http://127.0.0.1:$PN/crl/0.crl --connections 8
note "== profile: GET keep-alive and one connection per request again, under perf stat (${SECS} s each; events: ${PERF_EV:-none, perf is missing})"
prof 1 "revd GET keep-alive" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt
prof 0 "loadgen floor: trivial server" $TP http://127.0.0.1:$PT/x
prof 1 "nginx static file" $NW http://127.0.0.1:$PN/ocsp/resp.der
prof 3 "revd conn per request" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --close
prof 3 "trivial conn per request" $TP http://127.0.0.1:$PT/x --close
prof 3 "nginx conn per request" $NW http://127.0.0.1:$PN/ocsp/resp.der --close
kill $TP $OP $CP 2>/dev/null || true
nginx -c $T/nginx.conf -s stop 2>/dev/null || true

note "== 7-8: revocation to answer (OCSP, CRL), under load"
taskset -c 1 "$LG" --url http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --connections 10 --rate 20000 --duration 600 >/dev/null 2>&1 &
LGP=$!; PIDS="$PIDS $LGP"
$PY - "$R" "$T/d" "$P1" "$T/probe.txt" "$RES" <<'PY'
import base64, http.client, json, subprocess, sys, time
from cryptography import x509
from cryptography.x509 import ocsp
revd, d, port, probes, res = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ser = [l.strip() for l in open(probes)]
conn = http.client.HTTPConnection("127.0.0.1", port)
def status(req):
    conn.request("POST", "/ocsp", req, {"Content-Type": "application/ocsp-request"})
    return ocsp.load_der_ocsp_response(conn.getresponse().read()).certificate_status
def crlnum(part):
    conn.request("GET", "/crl/sub/%d.crl" % part)
    return x509.load_der_x509_crl(conn.getresponse().read()).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
o_lat, c_lat = [], []
for s in ser:
    req = base64.b64decode(subprocess.run(["/usr/bin/python3", "bench/mkreqs.py", d + "/ca/sub.pem", "/dev/stdin", "/dev/stdout"],
                                          input=(s + "\n").encode(), capture_output=True, check=True).stdout)
    st = subprocess.run([revd, "status", "--dir", d, "--ca", "sub", "--serial", s], capture_output=True, text=True, check=True).stdout
    part = int([l for l in st.splitlines() if l.startswith("partition:")][0].split()[1])
    n0 = crlnum(part)
    subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--serial", s], check=True, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    while status(req) != ocsp.OCSPCertStatus.REVOKED: pass
    o_lat.append((time.perf_counter() - t1) * 1e3)
    while crlnum(part) == n0: time.sleep(0.002)
    c_lat.append((time.perf_counter() - t1) * 1e3)
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q / 100 * len(v)))]
with open(res, "a") as f:
    for sc, name, v in (("7", "revoke -> OCSP revoked", o_lat), ("8", "revoke -> CRL republished (1 s window)", c_lat)):
        f.write(json.dumps({"scenario": sc, "name": name, "p50_ms": pct(v, 50), "p99_ms": pct(v, 99), "n": len(v)}) + "\n")
PY
kill $LGP 2>/dev/null || true

settle $RP
NMASS=$(wc -l <$T/mass.txt)
note "== mass revocation: $NMASS certificates (10%) in one burst, under load"
# Throughput in 1 s slices during the burst, against scenario 1's.
(while :; do taskset -c 1 "$LG" --url http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --duration 1 --json 2>/dev/null | sed "s/^/$(date +%s%N) /"; done) >$T/slices.txt &
SLP=$!; PIDS="$PIDS $SLP"
sleep 3.5 # three slices before the burst: the normal rate, measured as the burst's are
split -l 200000 $T/mass.txt $T/mass-part.
$PY - "$R" "$T/d" "$P1" "$RES" "$T/slices.txt" "$NMASS" "$(rps_of "revd GET keep-alive")" "$RP" $T/mass-part.* <<'PY'
import glob, http.client, json, os, subprocess, sys, time
from cryptography import x509
revd, d, port, res, slices, nmass, peak = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
pid, parts = sys.argv[8], sys.argv[9:]
def cores():  # the cores revd's threads may run on (the union of their affinities)
    got = set()
    for st in glob.glob("/proc/%s/task/*/status" % pid):
        try:
            for line in open(st):
                if line.startswith("Cpus_allowed_list:"):
                    for part in line.split(":", 1)[1].strip().split(","):
                        a, _, b = part.partition("-")
                        got.update(range(int(a), int(b or a) + 1))
        except OSError:
            pass
    return sorted(got)
lst = subprocess.run([revd, "crl", "list", "--dir", d, "--ca", "sub"], capture_output=True, text=True, check=True).stdout.split()
paths = ["/" + u.split("/", 3)[3] for u in lst if u.startswith("http")]
def entries():  # a new connection each time: the re-signing may outlast the idle timeout
    n = 0
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for p in paths:
        conn.request("GET", p)
        n += len(x509.load_der_x509_crl(conn.getresponse().read()))
    return n
def ticks(path):
    try:
        f = open(path).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])  # utime + stime
    except OSError:
        return 0
def cpu_split():  # (the whole process, its shards): clock ticks; exited threads count in the process's
    shard = 0
    for t in glob.glob("/proc/%s/task/*" % pid):
        try:
            if open(t + "/comm").read().startswith("revd-shard"): shard += ticks(t + "/stat")
        except OSError:
            pass
    return ticks("/proc/%s/stat" % pid), shard
before = entries()
c0 = cpu_split()
t0 = time.time()
threads = len(glob.glob("/proc/%s/task/*" % pid))
for p in parts:  # returns once the shards answer every revocation in it (re-signed)
    subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--file", p, "--reason", "cessationOfOperation"], check=True, stdout=subprocess.DEVNULL)
t_ocsp = time.time() - t0
c1 = cpu_split()
hz = os.sysconf("SC_CLK_TCK")
# The CPU the re-signing got: everything but the shards (the CA core, the
# signing threads, the index, the CRLs), over the burst.
work_cpu_s = ((c1[0] - c0[0]) - (c1[1] - c0[1])) / hz
resign_cores = cores()  # sampled once the burst is signed: every thread it used
while entries() < before + nmass:
    if time.time() - t0 > 600: break
    time.sleep(0.05)
t_crl = time.time() - t0
time.sleep(1.5)
sl, pre = [], []
for line in open(slices):
    ts, js = line.split(" ", 1)
    end = int(ts) / 1e9  # the slice's start: it ran for a second
    if end < t0 + t_ocsp and end + 1 > t0: sl.append(json.loads(js)["rps"])  # overlaps the re-signing
    elif end + 1 <= t0: pre.append(json.loads(js)["rps"])  # before it: the same load, measured the same way
row = {"scenario": "mass", "name": "mass revocation (%d, one burst)" % nmass, "n": nmass, "ocsp_s": t_ocsp,
       "sign_rate": nmass / t_ocsp, "crl_s": t_crl, "crls": len(paths), "serving_rps": (sum(sl) / len(sl)) if sl else None,
       "peak_rps": peak, "slices": len(sl), "slice_rps": sl, "min_rps": min(sl) if sl else None,
       "resign_cores": resign_cores, "server_threads": threads, "work_cpu_s": work_cpu_s,
       "pre_rps": sorted(pre)[len(pre) // 2] if pre else None, "pre_slices": len(pre)}
open(res, "a").write(json.dumps(row) + "\n")
PY
kill $SLP 2>/dev/null || true
wait $SLP 2>/dev/null || true
rss_after=$(rss_kb $RP)

settle $RP
note "== 9: a full partition built and signed, beside openssl ca -gencrl"
$R ca create-root --dir $T/c --name full --subject "/CN=bench full/O=revd" >/dev/null
$R import --dir $T/c --ca full --file $T/full.csv >/dev/null
best=999999
for i in 1 2 3; do
    ms=$($R crl rebuild --dir $T/c --ca full --partition 0 | sed -n 's/.*(\([0-9.]*\) ms)$/\1/p')
    best=$($PY -c "print(min($best, $ms))")
done
mkdir -p $T/ossl
sed 's/^\([0-9A-F]*\),.*/R\t310101000000Z\t250102030405Z,keyCompromise\t\1\tunknown\t\/CN=x/' $T/full.csv >$T/ossl/index.txt
printf '[ca]\ndefault_ca=b\n[b]\ndatabase=%s\ncertificate=%s\nprivate_key=%s\ncrlnumber=%s\ndefault_md=sha256\ndefault_crl_days=7\n' \
    $T/ossl/index.txt $T/c/ca/full.pem $T/c/keys/full.key $T/ossl/num >$T/ossl/ca.cnf
echo 01 >$T/ossl/num
obest=999999
for i in 1 2 3; do
    s=$(date +%s%N); openssl ca -config $T/ossl/ca.cnf -gencrl -out $T/ossl/x.crl 2>/dev/null; e=$(date +%s%N)
    obest=$($PY -c "print(min($obest, ($e - $s) / 1e6))")
done
row "{\"scenario\": \"9\", \"name\": \"full partition ($PSIZE certificates)\", \"revd_ms\": $best, \"openssl_ms\": $obest}"

note "== 10-11: signing rate, memory per response"
sig=$(taskset -c 1 $R ocsp precompute --dir $T/c --ca full | sed -n 's/.*s: \([0-9]*\) signatures\/s, \([0-9]*\) bytes.*/\1 \2/p')
ossl=$(taskset -c 1 openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $(NF-1)}')
row "{\"scenario\": \"10\", \"name\": \"signing, one core\", \"revd_sign_s\": ${sig%% *}, \"openssl_sign_s\": ${ossl:-0}}"
row "{\"scenario\": \"11\", \"name\": \"memory per response\", \"table_bytes\": ${sig##* }, \"rss_kb\": $rss, \"rss_after_kb\": $rss_after, \"certificates\": $((NCERTS + PSIZE))}"
kill -TERM $RP; wait $RP 2>/dev/null || true

$PY bench/report.py "$RES" "bench/results/$MODE" "$MODE" "$NCERTS" "$SECS"
