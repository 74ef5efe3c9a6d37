#!/usr/bin/env bash
# bench/issue.sh [N]: issuance rate of revd (ECDSA P-256 issuing CA, each
# certificate signed and synced to the index) beside, in the same run,
# `openssl speed ecdsap256` (sign/s, one core: the ceiling) and a loop of
# `openssl x509 -req` processes issuing the same CSR (the shell-script CA).
set -eu
cd "$(dirname "$0")/.."
N=${1:-5000}
make -s build/rel/bench/bench_issue
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
echo "== revd, in one process (N=$N)"
taskset -c 1 build/rel/bench/bench_issue "$T/revd" "$N"
echo "== openssl speed ecdsap256 (one core, 3 s)"
taskset -c 1 openssl speed -seconds 3 ecdsap256 2>/dev/null | grep -E '^ *256 bits ecdsa' | awk '{print "openssl speed: " $(NF-1) " sign/s"}'
echo "== openssl x509 -req, one process per certificate (200)"
cd "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=ca -keyout ca.key -out ca.pem -days 30 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench.test -keyout l.key -out l.csr 2>/dev/null
s=$(date +%s.%N)
for i in $(seq 200); do
  taskset -c 1 openssl x509 -req -in l.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out l.pem 2>/dev/null
done
e=$(date +%s.%N)
awk -v s="$s" -v e="$e" 'BEGIN{printf "openssl x509 -req loop: %.0f certificates/s\n", 200/(e-s)}'
