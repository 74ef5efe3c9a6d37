#!/usr/bin/env bash
# bench/quick.sh (make bench-quick): issue #5's scenarios at a small scale,
# revd beside its peers in the same run, in about two minutes. Prints a
# table and writes bench/results/quick.json. bench/README.md explains the
# method and how to read it.
#
# The server under test runs on core 0, the load generator (bench/loadgen)
# on core 1; CPU per request is the server process's user+system time from
# /proc/PID/stat over the run, divided by the requests answered.
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${SECS:-3}
NCERTS=${NCERTS:-20000}
R=$ROOT/revd
LG=$ROOT/build/rel/bench/loadgen
PY=/usr/bin/python3
[ -x "$R" ] && [ -x "$LG" ] || { echo "bench: build first (make revd loadgen)" >&2; exit 2; }
for c in nginx openssl curl; do command -v $c >/dev/null || { echo "bench: $c is missing (scripts/deps.sh bench)" >&2; exit 77; }; done
T=$(mktemp -d); chmod 711 "$T"
PIDS=""
trap 'kill $PIDS 2>/dev/null; nginx -c $T/nginx.conf -s stop 2>/dev/null; rm -rf "$T"' EXIT
mkdir -p bench/results
RES=$T/results.jsonl
: >"$RES"
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
rss_kb() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
wait_port() { for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

# run SCENARIO NAME PID URL [loadgen options]: one measurement, a JSON line.
run() {
    local sc=$1 name=$2 pid=$3 url=$4; shift 4
    local c0 c1 out
    c0=$(cpu "$pid")
    out=$(taskset -c 1 "$LG" --url "$url" --duration "$SECS" --json "$@")
    c1=$(cpu "$pid")
    printf '%s\n' "$out" | $PY -c '
import json, sys
d = json.loads(sys.stdin.read())
sc, name, ticks, tick_us = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ok = d["status_2xx"] + d["status_3xx"]
d.update(scenario=sc, name=name, cpu_us_per_req=(ticks * tick_us / ok) if ok else None)
print(json.dumps(d))' "$sc" "$name" $((c1 - c0)) "$tick_us" >>"$RES"
}
note() { printf '%s\n' "$*" >&2; }

note "== data: a root, an issuing CA with $NCERTS imported certificates (5% revoked)"
$R ca create-root --dir $T/d --name root --subject "/CN=bench root/O=revd" >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject "/CN=bench sub/O=revd" >/dev/null
$PY - "$T" "$NCERTS" <<'PY'
import random, sys
t, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(t + "/in.csv", "w") as f, open(t + "/serials.txt", "w") as s, open(t + "/unknown.txt", "w") as u:
    for i in range(n):
        ser = "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
        s.write(ser + "\n")
        f.write(ser + (",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" if i % 20 == 0 else ",2031-01-01,good\n"))
        u.write("%032X\n" % ((1 << 125) | r.getrandbits(100)))
PY
$R import --dir $T/d --ca sub --file $T/in.csv >/dev/null 2>&1
head -1000 $T/serials.txt >$T/s1000.txt
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/s1000.txt $T/reqs.txt
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/s1000.txt $T/nonce.txt --nonce
head -1000 $T/unknown.txt >$T/u1000.txt
$PY bench/mkreqs.py $T/d/ca/sub.pem $T/u1000.txt $T/unknown-reqs.txt
cp -a $T/d $T/d2

note "== servers: revd (io_uring, core 0), revd --nonce echo (core 0), nginx (static, core 0), cfssl (core 0)"
P1=$(( 20000 + RANDOM % 20000 )); P2=$((P1 + 1)); PN=$((P1 + 2)); PC=$((P1 + 3))
t0=$(date +%s%N)
taskset -c 0 $R serve --dir $T/d --listen 127.0.0.1:$P1 --threads 1 2>$T/serve.log &
RP=$!; PIDS="$PIDS $RP"
wait_port $P1
start_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
taskset -c 0 $R serve --dir $T/d2 --listen 127.0.0.1:$P2 --threads 1 --nonce echo --sign-rate 1000000 2>$T/serve2.log &
RP2=$!; PIDS="$PIDS $RP2"
wait_port $P2
# The static floor: one response, and one full CRL partition, as files.
mkdir -p $T/www/ocsp $T/www/crl
head -1 $T/reqs.txt | base64 -d >$T/one.der
curl -s --data-binary @$T/one.der -H 'Content-Type: application/ocsp-request' http://127.0.0.1:$P1/ocsp -o $T/www/ocsp/resp.der
cat >$T/nginx.conf <<NGX
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$PN;
  location / { root $T/www; default_type application/octet-stream; } } }
NGX
taskset -c 0 nginx -c $T/nginx.conf
wait_port $PN
NW=$(pgrep -P "$(cat $T/nginx.pid)" | head -1)
CP=""
if command -v cfssl >/dev/null; then
    # cfssl serves the same responses revd serves for the request set.
    $PY - $P1 $T/reqs.txt $T/cfssl.txt <<'PY'
import base64, http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
with open(sys.argv[3], "w") as out:
    for line in open(sys.argv[2]):
        c.request("POST", "/ocsp", base64.b64decode(line), {"Content-Type": "application/ocsp-request"})
        out.write(base64.b64encode(c.getresponse().read()).decode() + "\n")
PY
    taskset -c 0 cfssl ocspserve -address 127.0.0.1 -port $PC -responses $T/cfssl.txt -loglevel 5 2>/dev/null &
    CP=$!; PIDS="$PIDS $CP"
    wait_port $PC || CP=""
fi

note "== 1-5: OCSP (${SECS} s each)"
run 1 "revd GET keep-alive" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt
run 1 "nginx static file" $NW http://127.0.0.1:$PN/ocsp/resp.der
[ -n "$CP" ] && run 1 "cfssl POST keep-alive" $CP http://127.0.0.1:$PC/ --requests $T/reqs.txt --method POST --threads 1
run 2 "revd POST keep-alive" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --method POST
run 3 "revd conn per request" $RP http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --close
run 3 "nginx conn per request" $NW http://127.0.0.1:$PN/ocsp/resp.der --close
run 4 "revd never-issued flood" $RP http://127.0.0.1:$P1/ocsp --requests $T/unknown-reqs.txt
run 5 "revd nonce echo" $RP2 http://127.0.0.1:$P2/ocsp --requests $T/nonce.txt --method POST

note "== 6: CRL download, a full partition"
$R revoke --dir $T/d --ca sub --serial "$(sed -n 2p $T/serials.txt)" >/dev/null
sleep 1.3
curl -s http://127.0.0.1:$P1/crl/sub/0.crl -o $T/www/crl/0.crl
crlkb=$(( $(stat -c %s $T/www/crl/0.crl) / 1024 ))
run 6 "revd CRL ($crlkb KB)" $RP http://127.0.0.1:$P1/crl/sub/0.crl --connections 8
run 6 "nginx CRL file ($crlkb KB)" $NW http://127.0.0.1:$PN/crl/0.crl --connections 8

note "== 7-8: revocation to answer (OCSP, CRL), under load"
taskset -c 1 "$LG" --url http://127.0.0.1:$P1/ocsp --requests $T/reqs.txt --connections 10 --rate 20000 --duration 60 >/dev/null 2>&1 &
LGP=$!; PIDS="$PIDS $LGP"
$PY - "$R" "$T/d" "$P1" "$T/serials.txt" "$RES" <<'PY'
import base64, http.client, json, subprocess, sys, time
from cryptography import x509
from cryptography.x509 import ocsp
revd, d, port, serials, res = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ser = [l.strip() for l in open(serials)][101:131:3]  # none a multiple of 20 (revoked already)
conn = http.client.HTTPConnection("127.0.0.1", port)
issuer = x509.load_pem_x509_certificate(open(d + "/ca/sub.pem", "rb").read())
def status(req):
    conn.request("POST", "/ocsp", req, {"Content-Type": "application/ocsp-request"})
    return ocsp.load_der_ocsp_response(conn.getresponse().read()).certificate_status
def crlnum():
    conn.request("GET", "/crl/sub/0.crl")
    return x509.load_der_x509_crl(conn.getresponse().read()).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
import subprocess as sp
o_lat, c_lat = [], []
for s in ser:
    req = sp.run(["/usr/bin/python3", "bench/mkreqs.py", d + "/ca/sub.pem", "/dev/stdin", "/dev/stdout"],
                 input=(s + "\n").encode(), capture_output=True, check=True).stdout
    req = base64.b64decode(req)
    n0 = crlnum()
    subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--serial", s], check=True, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    while status(req) != ocsp.OCSPCertStatus.REVOKED: pass
    o_lat.append((time.perf_counter() - t1) * 1e3)
    while crlnum() == n0: time.sleep(0.002)
    c_lat.append((time.perf_counter() - t1) * 1e3)
def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q / 100 * len(v)))]
with open(res, "a") as f:
    for sc, name, v in (("7", "revoke -> OCSP revoked", o_lat), ("8", "revoke -> CRL republished (1 s window)", c_lat)):
        f.write(json.dumps({"scenario": sc, "name": name, "p50_ms": pct(v, 50), "p99_ms": pct(v, 99), "n": len(v)}) + "\n")
PY
kill $LGP 2>/dev/null || true

note "== 9: a full partition built and signed, beside openssl ca -gencrl"
$R ca create-root --dir $T/c --name full --subject "/CN=bench full/O=revd" >/dev/null
PSIZE=$($R ca show --dir $T/c full | sed -n 's/^partition-size: //p')
$PY -c "
import sys
for i in range($PSIZE): print('%032X,2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise' % ((1 << 126) + i))" >$T/full.csv
$R import --dir $T/c --ca full --file $T/full.csv >/dev/null 2>&1
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
printf '{"scenario": "9", "name": "full partition (%s certificates)", "revd_ms": %s, "openssl_ms": %s}\n' "$PSIZE" "$best" "$obest" >>"$RES"

note "== 10-12: signing rate, memory per response, cold start"
sig=$(taskset -c 1 $R ocsp precompute --dir $T/c --ca full | sed -n 's/.*s: \([0-9]*\) signatures\/s, \([0-9]*\) bytes.*/\1 \2/p')
ossl=$(taskset -c 1 openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/256 bits ecdsa/ {print $(NF-1)}')
rss=$(rss_kb $RP)
printf '{"scenario": "10", "name": "signing, one core", "revd_sign_s": %s, "openssl_sign_s": %s}\n' "${sig%% *}" "${ossl:-0}" >>"$RES"
printf '{"scenario": "11", "name": "memory per response", "table_bytes": %s, "rss_kb": %s, "certificates": %s}\n' \
    "${sig##* }" "$rss" "$NCERTS" >>"$RES"
printf '{"scenario": "12", "name": "cold start to serving", "start_ms": %s, "certificates": %s}\n' "$start_ms" "$NCERTS" >>"$RES"

$PY - "$RES" bench/results/quick.json <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"results": rows}, open(sys.argv[2], "w"), indent=1)
print("%-3s %-32s %11s %9s %9s %11s %9s" % ("#", "what", "req/s", "p50 us", "p99 us", "CPU us/req", "MB/s"))
for r in rows:
    if "rps" in r:
        err = r["errors_connect"] + r["errors_read"] + r["status_4xx"] + r["status_5xx"]
        print("%-3s %-32s %11.0f %9.0f %9.0f %11.2f %9.1f%s" % (r["scenario"], r["name"], r["rps"], r["p50_us"], r["p99_us"],
              r["cpu_us_per_req"] or 0, r["mbps"], "  ERRORS %d" % err if err else ""))
    elif "p50_ms" in r:
        print("%-3s %-32s p50 %.1f ms, p99 %.1f ms (%d revocations)" % (r["scenario"], r["name"], r["p50_ms"], r["p99_ms"], r["n"]))
    elif "revd_ms" in r:
        print("%-3s %-32s revd %.1f ms, openssl ca -gencrl %.1f ms (%.1fx)" % (r["scenario"], r["name"], r["revd_ms"], r["openssl_ms"], r["openssl_ms"] / r["revd_ms"]))
    elif "revd_sign_s" in r:
        print("%-3s %-32s revd %d sign/s, openssl speed %s sign/s" % (r["scenario"], r["name"], r["revd_sign_s"], r["openssl_sign_s"]))
    elif "table_bytes" in r:
        print("%-3s %-32s %d bytes per response in the table; server RSS %d KB for %d certificates" % (r["scenario"], r["name"], r["table_bytes"], r["rss_kb"], r["certificates"]))
    elif "start_ms" in r:
        print("%-3s %-32s %d ms for %d certificates (signing every response: nothing stored yet)" % (r["scenario"], r["name"], r["start_ms"], r["certificates"]))
print("written: bench/results/quick.json")
PY
