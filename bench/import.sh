#!/usr/bin/env bash
# bench/import.sh N [CHUNK_ROWS...]: `revd import` of N rows into a fresh
# CA, its wall time and peak RSS (/usr/bin/time -v, "Maximum resident set
# size"), once per CHUNK_ROWS given (--chunk-rows; none: the default). The
# inventory is bench/run.sh's: random 128-bit serials, every 20th row
# revoked. Needs about 50 bytes of disk a row for the file, as much again
# for the sorted runs while an import runs, and about 14 for the index;
# everything is removed at the end. Not in `make test` (speed is not
# tested); bench/README.md ("Import") has the figures.
set -euo pipefail
N=${1:?usage: bench/import.sh N [CHUNK_ROWS...]}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REVD=${REVD_BIN:-$ROOT/build/rel/revd}
[ -x "$REVD" ] || { echo "bench/import.sh: make revd first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/import.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/revd-import.XXXXXX")
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 - "$W/in.csv" "$N" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(path, "w", buffering=1 << 20) as f:
    for base in range(0, n, 100000):
        out = []
        for i in range(base, min(n, base + 100000)):
            s = "%032X" % ((1 << 126) | (i << 48) | r.getrandbits(48))
            if i % 20 == 0:
                out.append(s + ",2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n")
            else:
                out.append(s + ",2031-01-01,good\n")
        f.write("".join(out))
PY
echo "file: $(du -h "$W/in.csv" | cut -f1), $N rows; $("$REVD" --version 2>/dev/null | head -1)"
[ $# -gt 0 ] || set -- ""
for chunk in "$@"; do
    rm -rf "$W/d"
    "$REVD" ca create-root --dir "$W/d" --name bench --subject /CN=bench >/dev/null
    args=(import --dir "$W/d" --ca bench --file "$W/in.csv")
    [ -n "$chunk" ] && args+=(--chunk-rows "$chunk")
    echo "== --chunk-rows ${chunk:-default}"
    # The file was just written: it is read from the page cache, not the disk.
    /usr/bin/time -v "$REVD" "${args[@]}" 2>"$W/time.txt"
    grep -E "^revd:" "$W/time.txt" || true
    awk -F': ' '/Elapsed \(wall clock\)/ {print "wall: " $2}
                /Maximum resident set size/ {printf "peak RSS: %.0f MB\n", $2 / 1024}
                /User time/ {print "user s: " $2} /System time/ {print "sys s: " $2}' "$W/time.txt"
    echo "index: $(du -sh "$W/d/index" | cut -f1)"
done
