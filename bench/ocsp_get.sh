#!/usr/bin/env bash
# bench/ocsp_get.sh [SECONDS]: OCSP GET keep-alive against revd serve (one
# shard, core 0; io_uring, and a second one on libevent) beside nginx serving the same response bytes as a static
# file (one worker, core 0), with wrk on core 1, in the same run. Prints
# requests/s, p99 latency and server CPU microseconds per request (from
# /proc/PID/stat utime+stime). A first figure before issue #5's harness.
# Needs: wrk, nginx-light (Debian), and a built ./revd.
set -eu
cd "$(dirname "$0")/.."
SECS=${1:-8}
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "bench: apt-get install wrk nginx-light" >&2; exit 77; }
T=$(mktemp -d); trap 'kill $RPID $LPID $CPID 2>/dev/null; nginx -c $T/nginx.conf -s stop 2>/dev/null; rm -rf "$T"' EXIT
R=$PWD/revd
$R ca create-root --dir $T/d --name root --subject /CN=root >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject /CN=sub >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=b -keyout /dev/null -out $T/b.csr 2>/dev/null
$R issue --dir $T/d --ca sub --csr $T/b.csr > $T/b.pem
openssl ocsp -issuer $T/d/ca/sub.pem -cert $T/b.pem -no_nonce -reqout $T/req.der >/dev/null 2>&1
enc=$(base64 -w0 < $T/req.der | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
cp -a $T/d $T/d2 # a second server (libevent) needs its own directory: one process holds an index
taskset -c 0 $R serve --dir $T/d --listen 127.0.0.1:18180 --threads 1 2>$T/serve.log &
RPID=$!
taskset -c 0 $R serve --dir $T/d2 --listen 127.0.0.1:18182 --threads 1 --io libevent 2>$T/serve2.log &
LPID=$!
for _ in $(seq 100); do grep -q 'revd: serving' $T/serve.log && grep -q 'revd: serving' $T/serve2.log && break; sleep 0.1; done
grep -o '1 shards, [a-z_]*' $T/serve.log $T/serve2.log
mkdir -p $T/www/ocsp
chmod 711 $T # nginx workers run as www-data when started by root
curl -s "http://127.0.0.1:18180/ocsp/$enc" -o $T/www/ocsp/resp.der
cat > $T/nginx.conf <<NGX
worker_processes 1;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:18181;
  location / { root $T/www; default_type application/ocsp-response; } } }
NGX
taskset -c 0 nginx -c $T/nginx.conf
# cfssl ocspserve (Debian golang-cfssl), serving the same response bytes, when installed.
CPID=""
if command -v cfssl >/dev/null; then
    base64 -w0 $T/www/ocsp/resp.der > $T/cfssl-responses.txt; echo >> $T/cfssl-responses.txt
    taskset -c 0 cfssl ocspserve -address 127.0.0.1 -port 18183 -responses $T/cfssl-responses.txt -loglevel 5 2>$T/cfssl.log &
    CPID=$!
fi
sleep 0.5
for u in "http://127.0.0.1:18181/ocsp/resp.der" "http://127.0.0.1:18180/ocsp/$enc"; do
    [ "$(curl -s -o /dev/null -w "%{http_code}" "$u")" = 200 ] || { echo "bench: $u does not answer 200" >&2; exit 1; }
done
NW=$(pgrep -P "$(cat $T/nginx.pid)" | head -1)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
tick_us=$(( 1000000 / $(getconf CLK_TCK) ))
run() { # NAME PID URL [wrk options...]
    local c0 c1 o name=$1 pid=$2 url=$3
    shift 3
    c0=$(cpu $pid); o=$(taskset -c 1 wrk -t1 -c50 -d${SECS}s --latency "$@" "$url"); c1=$(cpu $pid)
    echo "$o" | awk -v name="$name" -v c=$((c1 - c0)) -v t=$tick_us '
        /requests in/ {n=$1} /Requests\/sec/ {r=$2} / 99%/ {p=$2} /Non-2xx/ {bad=$NF}
        END {printf "%-28s %10.0f req/s   p99 %-8s  %6.2f us CPU/req%s\n", name, r, p, c*t/n, bad ? "  NON-2XX " bad : ""}'
}
echo "response: $(stat -c %s $T/www/ocsp/resp.der) bytes; wrk -t1 -c50 -d${SECS}s on core 1; servers on core 0"
run "revd serve, GET keep-alive" $RPID "http://127.0.0.1:18180/ocsp/$enc"
run "revd libevent, GET k-a" $LPID "http://127.0.0.1:18182/ocsp/$enc"
# POST keep-alive: the same request as a body (wrk's Lua hook).
cat > $T/post.lua <<LUA
local f = io.open("$T/req.der", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "application/ocsp-request"
LUA
runpost() { # NAME PID URL [wrk options...]
    local c0 c1 o name=$1 pid=$2 url=$3
    shift 3
    c0=$(cpu $pid); o=$(taskset -c 1 wrk -t1 -c50 -d${SECS}s --latency -s $T/post.lua "$@" "$url"); c1=$(cpu $pid)
    echo "$o" | awk -v name="$name" -v c=$((c1 - c0)) -v t=$tick_us '
        /requests in/ {n=$1} /Requests\/sec/ {r=$2} / 99%/ {p=$2} /Non-2xx/ {bad=$NF}
        END {printf "%-28s %10.0f req/s   p99 %-8s  %6.2f us CPU/req%s\n", name, r, p, c*t/n, bad ? "  NON-2XX " bad : ""}'
}
runpost "revd serve, POST keep-alive" $RPID "http://127.0.0.1:18180/ocsp"
run "nginx, static file" $NW "http://127.0.0.1:18181/ocsp/resp.der"
# cfssl ocspserve: POST only. Debian's cfssl 1.2.0 answers every GET with 400
# (it unescapes the path a second time and keeps its leading slash). The Go
# runtime's threads are all pinned to core 0 too; CPU counts the process.
[ -n "$CPID" ] && runpost "cfssl ocspserve, POST k-a" $CPID "http://127.0.0.1:18183/"
# One connection per request (wrk reconnects after each "Connection: close").
run "revd, GET, conn per request" $RPID "http://127.0.0.1:18180/ocsp/$enc" -H "Connection: close"
run "revd libevent, conn/req" $LPID "http://127.0.0.1:18182/ocsp/$enc" -H "Connection: close"
run "nginx, conn per request" $NW "http://127.0.0.1:18181/ocsp/resp.der" -H "Connection: close"
runpost "revd, POST, conn per request" $RPID "http://127.0.0.1:18180/ocsp" -H "Connection: close"
[ -n "$CPID" ] && runpost "cfssl, POST, conn per request" $CPID "http://127.0.0.1:18183/" -H "Connection: close"
exit 0
