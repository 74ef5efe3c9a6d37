#!/usr/bin/env bash
# bench/acme.sh: ACME issuance throughput of revd (orders to certificates
# per second, http-01 validated on loopback) beside, in the same run, the
# CLI issuance rate through the same running server and the CA core's
# in-process rate (bench/bench_issue).
#
#   bench/acme.sh            C=8 clients, N=500 orders, M=200 CLI issues
#   C=4 N=200 M=100 IDENT=ip BENCH_ISSUE_N=1000 bench/acme.sh
#
# Setup (untimed): a root and an issuing CA "sub" (ECDSA P-256, revd's
# default), the ACME server's TLS certificate issued by sub,
# pebble-challtestsrv as the only resolver (every name -> 127.0.0.1; with
# IDENT=ip the orders name the IP identifier 127.0.0.1 and DNS is not
# asked), then
#   revd serve --listen (OCSP/CRL) --acme-listen --acme-eab optional
#     --acme-ca sub --acme-orders-per-hour 0 --acme-http-port P
#     --acme-resolver challtestsrv
# Timed, under `flock /work/bench.lock` (bench/ runs one at a time there):
#  1. bench/acme_load.py: C client processes, N orders (see its header):
#     orders/s (wall), p50/p99 latency new-order..chain, revd's CPU per
#     certificate (utime+stime of the serve process, all threads),
#     challtestsrv's, and the driver's own CPU per order: on a 2-core
#     machine the driver competes with revd for the same cores.
#  2. M x `revd issue --template server --san DNS:...` through the running
#     server's control socket (the CLI forwards when serve holds DIR), one
#     process per certificate, as a script would: certificates/s, revd's CPU
#     per certificate.
#  3. bench_issue (ca_issue in one process, no server) for BENCH_ISSUE_N.
# Prints one table. Needs pebble-challtestsrv (Debian: pebble), curl,
# python3-cryptography. Not part of the test suite.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REVD=${REVD_BIN:-$ROOT/build/rel/revd}
C=${C:-8} N=${N:-500} M=${M:-200} IDENT=${IDENT:-dns} POLL=${POLL:-0.05}
BENCH_ISSUE_N=${BENCH_ISSUE_N:-2000}
LOCK=${BENCH_LOCK:-/work/bench.lock}
PY=/usr/bin/python3
[ -x "$REVD" ] || { echo "bench/acme.sh: build revd first (make revd)" >&2; exit 1; }
command -v pebble-challtestsrv >/dev/null || { echo "bench/acme.sh: needs pebble-challtestsrv (apt-get install pebble)" >&2; exit 1; }
make -s -C "$ROOT" build/rel/bench/bench_issue >/dev/null
W=$(mktemp -d /tmp/revd-acmebench.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$W"' EXIT
D=$W/data
mkdir -p "$D"
r() { "$REVD" "$@" --dir "$D"; }

read -r OCSP_PORT ACME_PORT HTTP_PORT DNS_PORT MGMT_PORT <<<"$("$PY" - <<'PY'
import socket
socks, ports = [], []
while len(ports) < 5:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); continue
    socks += [t, u]; ports.append(p)
print(" ".join(map(str, ports)))
PY
)"
OCSP_URL=http://127.0.0.1:$OCSP_PORT
DIR_URL=https://127.0.0.1:$ACME_PORT/acme/directory

# ---------------------------------------------------------------- setup
r ca create-root --name root --subject /CN=root --base-url "$OCSP_URL" >/dev/null
r ca create-sub --name sub --parent root --subject /CN=sub --base-url "$OCSP_URL" >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$W/acme.key" -out "$W/acme.csr" 2>/dev/null
r issue --ca sub --csr "$W/acme.csr" --template server --san DNS:localhost,IP:127.0.0.1 --chain >"$W/acme.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=cli.bench.test \
    -keyout "$W/cli.key" -out "$W/cli.csr" 2>/dev/null

pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
    -management "127.0.0.1:$MGMT_PORT" -defaultIPv4 127.0.0.1 -defaultIPv6 "" \
    >"$W/challtestsrv.log" 2>&1 </dev/null &
DNS_PID=$!
disown "$DNS_PID"
PIDS="$PIDS $DNS_PID"
"$REVD" serve --dir "$D" --listen "127.0.0.1:$OCSP_PORT" \
    --acme-listen "127.0.0.1:$ACME_PORT" --acme-cert "$W/acme.pem" --acme-key "$W/acme.key" \
    --acme-eab optional --acme-ca sub --acme-orders-per-hour 0 \
    --acme-http-port "$HTTP_PORT" --acme-resolver "127.0.0.1:$DNS_PORT" \
    >"$W/serve.log" 2>&1 </dev/null &
SRV=$!
disown "$SRV"
PIDS="$PIDS $SRV"
for _ in $(seq 300); do
    grep -q 'ACME server on https' "$W/serve.log" && curl -sf --cacert "$D/ca/root.pem" -o /dev/null "$DIR_URL" && break
    kill -0 "$SRV" 2>/dev/null || break
    sleep 0.1
done
curl -sf --cacert "$D/ca/root.pem" -o /dev/null "$DIR_URL" ||
    { echo "bench/acme.sh: revd serve did not start:"; tail -20 "$W/serve.log"; exit 1; } >&2
[ -S "$D/revd.sock" ] || { echo "bench/acme.sh: no control socket $D/revd.sock" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- measured
exec 9>"$LOCK"
echo "bench/acme.sh: waiting for $LOCK" >&2
flock 9
echo "== revd: $REVD ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
echo "== $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); C=$C N=$N M=$M ident=$IDENT poll=${POLL}s"

echo "== 1. ACME: $C clients, $N orders, http-01"
set +e
"$PY" "$ROOT/bench/acme_load.py" --dir-url "$DIR_URL" --cafile "$D/ca/root.pem" \
    --http-port "$HTTP_PORT" --revd-pid "$SRV" --aux-pid "$DNS_PID" --clients "$C" --orders "$N" \
    --ident "$IDENT" --poll "$POLL" --issuer-pem "$D/ca/sub.pem" --json "$W/acme.json" | tee "$W/acme.out"
ACME_RC=${PIPESTATUS[0]}
set -e
[ "$ACME_RC" = 0 ] || { echo "bench/acme.sh: the ACME run failed (exit $ACME_RC); revd's log:"; tail -30 "$W/serve.log"; }
kv() { awk -v k="$1: " 'index($0, k) == 1 { print substr($0, length(k) + 1); exit }' "$W/acme.out"; }

echo "== 2. revd issue through the running server's socket, $M certificates"
c0=$(cpu_ticks "$SRV")
s=$(date +%s.%N)
TIMEFORMAT='cli processes: %U s user %S s sys'
time for i in $(seq "$M"); do
    r issue --ca sub --csr "$W/cli.csr" --template server --san "DNS:c$i.bench.test" >"$W/cli.pem"
done
e=$(date +%s.%N)
c1=$(cpu_ticks "$SRV")
openssl verify -CAfile "$D/ca/root.pem" -untrusted "$D/ca/sub.pem" "$W/cli.pem" >/dev/null
CLI_RATE=$(awk -v s="$s" -v e="$e" -v m="$M" 'BEGIN{printf "%.1f", m/(e-s)}')
CLI_CPU=$(awk -v a="$c0" -v b="$c1" -v m="$M" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)*1000/hz/m}')
echo "revd issue (forwarded): $CLI_RATE certificates/s, revd CPU $CLI_CPU ms/cert"

echo "== 3. bench_issue (ca_issue in one process), $BENCH_ISSUE_N certificates"
"$ROOT/build/rel/bench/bench_issue" "$W/inproc" "$BENCH_ISSUE_N" | tee "$W/inproc.out"
INPROC=$(sed -n 's/.*: \([0-9.]*\) certificates\/s$/\1/p' "$W/inproc.out")
flock -u 9

# ---------------------------------------------------------------- table
ACME_RATE=$(kv orders_per_s)
printf '\n| %-44s | %12s |\n' "measure" "value"
printf '| %-44s | %12s |\n' "--------------------------------------------" "------------"
row() { printf '| %-44s | %12s |\n' "$1" "$2"; }
row "ACME orders/s (C=$C, N=$N, $IDENT, http-01)" "$ACME_RATE"
row "ACME latency p50 / p99 (ms)" "$(kv p50_ms) / $(kv p99_ms)"
row "ACME certificates ok / failed" "$(kv certificates) / $(kv failed)"
row "ACME requests per order" "$(kv requests_per_order)"
row "revd CPU per ACME certificate (ms)" "$(kv revd_cpu_ms_per_cert)"
row "challtestsrv CPU per ACME certificate (ms)" "$(kv aux_cpu_ms_per_cert)"
row "driver CPU per ACME order (ms)" "$(kv driver_cpu_ms_per_order)"
row "CLI revd issue/s (forwarded, 1 process each)" "$CLI_RATE"
row "revd CPU per CLI certificate (ms)" "$CLI_CPU"
row "in-process ca_issue/s (bench_issue)" "$INPROC"
row "ratio ACME / CLI" "$(awk -v a="$ACME_RATE" -v b="$CLI_RATE" 'BEGIN{printf "%.2f", a/b}')"
exit "$ACME_RC"
