#!/bin/bash
# revd serve with responses on disk (issue 15: ocsp/store.h): a CA past
# --response-cache / 2048 certificates is answered from DIR/ocsp/ID.store
# through the store readers and the shards' caches. Checked with openssl
# ocsp against imported and issued certificates: good, revoked, never
# issued; a restart takes the store again without signing (the same bytes);
# a revocation while serving, then kill -9, answers revoked after the
# restart (the change log), and so does every acknowledged revocation of a
# storm killed mid-way; a damaged store never gives a wrong answer (a run
# that fails its checksum: tryLater and a log naming the file; a damaged
# footer: written again from the index); a store written again (the
# refresher's remerge, under libfaketime) killed mid-way leaves the old
# file whole; and a full disk during it keeps the old store serving.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"

D=$T/d
N=4000
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub
# N imported certificates of sub, every 20th revoked.
"$PY" -c '
import sys
n = int(sys.argv[1])
for i in range(n):
    s = "%032X" % (0x10000000000000000000000000000000 + i * 7919)
    if i % 20 == 0:
        print("%s,2031-01-01T00:00:00Z,revoked,2026-01-02T00:00:00Z,keyCompromise" % s)
    else:
        print("%s,2031-01-01T00:00:00Z,good" % s)' "$N" >"$T/inv.csv"
run_ok revd import --dir "$D" --ca sub --file "$T/inv.csv"
make_csr ee "/CN=ee.example"
issue_to "$T/ee1.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/ee2.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
cat "$D/ca/sub.pem" "$D/ca/root.pem" >"$T/chain.pem"
GOOD=$(sed -n 2p "$T/inv.csv" | cut -d, -f1)
REV=$(sed -n 1p "$T/inv.csv" | cut -d, -f1)
LATE=$(sed -n 3p "$T/inv.csv" | cut -d, -f1)
NEVER=7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF1

PORT=$(( 20000 + RANDOM % 12000 ))
URL=http://127.0.0.1:$PORT
SRV=""
start() { # [serve options]: revd serve on $PORT
    serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 "$@"
}
stop() {
    kill -TERM "$SRV"
    for _ in $(seq 200); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SRV" 2>/dev/null && fail "revd serve did not stop within 20 s: $(cat "$T/serve.log")"
    wait "$SRV" 2>/dev/null
    grep -q 'ERROR: \|runtime error' "$T/serve.log" && fail "the server reported: $(cat "$T/serve.log")"
    SRV=""
}
crash() { kill -9 "$SRV"; wait "$SRV" 2>/dev/null; SRV=""; }
# status SERIAL: what openssl ocsp makes of the answer (verified) for a serial of sub.
status() {
    openssl ocsp -issuer "$D/ca/sub.pem" -serial "0x$1" -url "$URL/ocsp" -CAfile "$T/chain.pem" -no_nonce \
        -validity_period 86400 2>&1 |
        sed -n 's/^0x[0-9A-Fa-f]*: //p; s/^Responder Error: \([a-zA-Z]*\).*/\1/p' | head -1
}
expect() { # SERIAL STATUS
    local got; got=$(status "$1")
    [ "$got" = "$2" ] || fail "serial $1: '$got', expected '$2'; log: $(tail -5 "$T/serve.log")"
}
get() { # SERIAL OUT: a GET of its SHA-1 request
    openssl ocsp -issuer "$D/ca/sub.pem" -serial "0x$1" -no_nonce -reqout "$T/q.der" >/dev/null 2>&1
    curl -s -m 10 -o "$2" "$URL/ocsp/$(base64 -w0 "$T/q.der" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')" ||
        fail "GET failed"
}

step "every CA on disk, no cache (--response-cache 0)"
start --response-cache 0
[ -s "$D/ocsp/1.store" ] && [ -s "$D/ocsp/2.store" ] || fail "no store files: $(ls -la "$D/ocsp" 2>&1)"
# Out of the page cache (posix_fadvise DONTNEED): the shards hand these
# reads to the readers; those after, in the page cache, they read themselves.
dd if="$D/ocsp/2.store" iflag=nocache count=0 2>/dev/null
expect "$GOOD" good
expect "$REV" revoked
expect "$NEVER" unauthorized
openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/ee1.pem" -url "$URL/ocsp" -CAfile "$T/chain.pem" -no_nonce \
    >"$T/o.txt" 2>&1
grep -q "ee1.pem: good" "$T/o.txt" || fail "ee1: $(cat "$T/o.txt")"
grep -q "Response verify OK" "$T/o.txt" || fail "ee1 not verified: $(cat "$T/o.txt")"
curl -s -m 10 "$URL/metrics" >"$T/metrics.txt" || fail "GET /metrics"
for way in reader page_cache; do
    grep -Eq "^revd_ocsp_store_lookups_total\{way=\"$way\"\} [1-9]" "$T/metrics.txt" ||
        fail "no $way lookups in /metrics: $(grep store_lookups "$T/metrics.txt")"
done
get "$GOOD" "$T/before.der"
openssl ocsp -respin "$T/before.der" -issuer "$D/ca/sub.pem" -serial "0x$GOOD" -CAfile "$T/chain.pem" 2>&1 |
    grep -q ": good" || fail "GET answer: $(openssl ocsp -respin "$T/before.der" -resp_text -noverify 2>&1 | head)"
stop
grep -Eq "response stores: [1-9][0-9]* reads by the readers, [1-9][0-9]* from the page cache" "$T/serve.log" ||
    fail "no reads counted by both ways: $(grep 'response stores' "$T/serve.log")"

step "a restart takes the stores again: nothing signed, the same bytes; a cache in front"
start --response-cache 1048576
# (root's two certificates, in memory now, are signed: they were on disk)
signed=$(sed -n 's/.* \([0-9]*\) responses signed.*/\1/p' "$T/serve.log")
[ -n "$signed" ] && [ "$signed" -le 4 ] || fail "the restart signed sub's responses: $(cat "$T/serve.log")"
get "$GOOD" "$T/after.der"
cmp -s "$T/before.der" "$T/after.der" || fail "the response changed across the restart"
for i in 1 2 3; do # two shards: at least one of these is a hit
    get "$GOOD" "$T/again.der"
    cmp -s "$T/before.der" "$T/again.der" || fail "the cached answer differs from the read one"
done
expect "$REV" revoked
stop
grep -Eq "[1-9][0-9]* hits" "$T/serve.log" || fail "no cache hit: $(grep store_stats -A0 "$T/serve.log")"

step "a revocation while serving, then kill -9: revoked after the restart"
start --response-cache 0
run_ok revd revoke --dir "$D" --ca sub --serial "$GOOD" --reason superseded
for _ in $(seq 50); do [ "$(status "$GOOD")" = revoked ] && break; sleep 0.1; done
expect "$GOOD" revoked
crash
start --response-cache 0
expect "$GOOD" revoked
expect "$LATE" good

step "a storm of revocations killed mid-way: every acknowledged one answers revoked"
sed -n '4,400p' "$T/inv.csv" | awk -F, '$3 == "good" {print $1}' >"$T/storm"
split -l 20 "$T/storm" "$T/batch."
: >"$T/acked"
( for b in "$T"/batch.*; do
      "$REVD" revoke --dir "$D" --ca sub --file "$b" >/dev/null 2>&1 && cat "$b" >>"$T/acked"
  done ) &
STORM=$!
sleep 1.5
crash
wait "$STORM" 2>/dev/null
[ -s "$T/acked" ] || fail "no revocation was acknowledged before the kill"
start --response-cache 0
while read -r s; do expect "$s" revoked; done <"$T/acked"
stop

step "a run that fails its checksum: tryLater, never a wrong answer, and the file named"
cp "$D/ocsp/2.store" "$T/store.bak"
SIZE=$(stat -c %s "$D/ocsp/2.store")
printf '\xff\xff\xff\xff' | dd of="$D/ocsp/2.store" bs=1 seek=$((SIZE / 3)) conv=notrunc 2>/dev/null
start --response-cache 0
bad=0
for s in $(sed -n '1200,1500p' "$T/inv.csv" | cut -d, -f1); do
    want=$(grep "^$s," "$T/inv.csv" | cut -d, -f3)
    got=$(status "$s")
    case "$got" in
    "$want") ;;
    tryLater | trylater) bad=$((bad + 1)) ;;
    *) fail "serial $s: '$got' from a damaged store, expected $want or tryLater" ;;
    esac
done
[ "$bad" -gt 0 ] || fail "no answer touched the damaged run"
grep -q "response store $D/ocsp/2.store is damaged" "$T/serve.log" || fail "the file is not named: $(cat "$T/serve.log")"
stop

step "a damaged footer: the store is written again from the index"
cp "$T/store.bak" "$D/ocsp/2.store"
truncate -s -7 "$D/ocsp/2.store"
start --response-cache 0
grep -q "ocsp.store_unusable\|2.store is damaged" "$T/serve.log" || fail "no word of the damaged store: $(cat "$T/serve.log")"
expect "$REV" revoked
expect "$LATE" good
expect "$(sed -n 5p "$T/acked")" revoked
stop

FT_LIB=$(dpkg -L libfaketime 2>/dev/null | grep 'libfaketime.so.1$' | head -1)
if ! command -v faketime >/dev/null || [ -z "$FT_LIB" ]; then
    echo "NOTE: $TEST_NAME: remerge under a moved clock not tested (faketime is not installed)"
    pass
fi
if ldd "$REVD" 2>/dev/null | grep -q libtsan; then # libfaketime's own globals race under TSan
    echo "NOTE: $TEST_NAME: remerge under a moved clock left to the other builds (libfaketime under TSan)"
    pass
fi
CLOCK=$T/clock
set_clock() { echo "$1" >"$CLOCK.new" && mv "$CLOCK.new" "$CLOCK"; }
start_ft() {
    : >"$T/serve.log"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" LD_PRELOAD=$FT_LIB \
        FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1 \
        "$REVD" serve --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 2 --validity 8h \
        --response-cache 0 >"$T/serve.log" 2>&1 </dev/null &
    SRV=$!
    serve_wait "$T/serve.log"
}
wait_log() { # ERE SECONDS
    for _ in $(seq $(($2 * 10))); do grep -Eq "$1" "$T/serve.log" && return 0; sleep 0.1; done
    fail "no /$1/ in $2 s: $(tail -5 "$T/serve.log")"
}

step "the refresher writes the store again (a remerge); killed mid-way, the old file stays whole"
set_clock "+0"
start_ft    # --validity 8h: the stores are written again for it
stop
set_clock "+4h"
start_ft
wait_log "ocsp.store_merge_started|writing the response store of CA sub again" 30
crash
ls "$D"/ocsp/*.tmp.* >/dev/null 2>&1 || echo "NOTE: $TEST_NAME: the remerge finished before the kill"
start_ft
expect "$REV" revoked
expect "$LATE" good
wait_log "the response store of CA sub was written again" 60
ls "$D"/ocsp/*.tmp.* >/dev/null 2>&1 && fail "temporary store files left: $(ls "$D/ocsp")"
get "$LATE" "$T/new.der"
tu=$(openssl ocsp -respin "$T/new.der" -resp_text -noverify 2>/dev/null | sed -n 's/^ *This Update: //p' | head -1)
[ -n "$tu" ] || fail "no thisUpdate in the refreshed answer"
expect "$(sed -n 7p "$T/acked")" revoked
stop

step "a full disk while the store is written again: the old one keeps serving"
mkdir -p "$T/full"
if mount -t tmpfs -o size=3m tmpfs "$T/full" 2>/dev/null; then
    trap 'umount -l "$T/full" 2>/dev/null; _cleanup' EXIT
    mkdir "$T/full/ocsp" && cp -a "$D/ocsp/." "$T/full/ocsp/" && rm -rf "$D/ocsp" && ln -s "$T/full/ocsp" "$D/ocsp"
    dd if=/dev/zero of="$T/full/fill" bs=4k 2>/dev/null   # until ENOSPC
    set_clock "+8h"
    start_ft
    wait_log "writing the response store of CA sub again failed.*No space left" 60
    expect "$REV" revoked
    expect "$LATE" good
    ls "$D"/ocsp/*.tmp.* >/dev/null 2>&1 && fail "a temporary store file left on the full disk"
    stop
    rm -f "$T/full/fill"
else
    echo "NOTE: $TEST_NAME: full disk not tested (mount -t tmpfs is not permitted here)"
fi
pass
