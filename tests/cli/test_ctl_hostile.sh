#!/bin/bash
# The control socket against a stuck or hostile local client: a client that
# connects and stalls holds the (one-command-at-a-time) server for at most
# its request deadline; one that reads its answer a little at a time, for at
# most the answer's 30 s in all; SIGTERM stops the server while a client
# stalls;
# garbage requests are answered with an error, never a crash.
. "$(dirname "$0")/lib.sh"

D=$T/d
run_ok revd ca create-root --dir "$D" --name r --subject /CN=r
"$REVD" serve --dir "$D" >"$T/serve.log" 2>&1 </dev/null &
SRV=$!
BG_PIDS="$BG_PIDS $SRV"
for _ in $(seq 100); do grep -q '^revd: serving' "$T/serve.log" && break; sleep 0.1; done
grep -q '^revd: serving' "$T/serve.log" || fail "revd serve did not start: $(cat "$T/serve.log")"

# stall SECONDS PAYLOAD-HEX: connects, sends the bytes, then waits.
stall() {
    /usr/bin/python3 - "$D/revd.sock" "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(bytes.fromhex(sys.argv[3]))
time.sleep(float(sys.argv[2]))
PY
    STALLER=$!
    BG_PIDS="$BG_PIDS $STALLER"
    sleep 0.3
}

step "a stalled client delays the next command by at most the deadline"
stall 60 "0000"
t0=$(date +%s.%N)
run_ok revd ca list --dir "$D"
t1=$(date +%s.%N)
assert_contains "$OUT" "r "
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 15) }' || fail "ca list waited $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s behind a stalled client"
kill "$STALLER" 2>/dev/null

step "garbage requests"
for payload in "00000005" "0000000568656c6c6f" "00100000" "000000027b7d" \
               "000000157b2261726776223a5b5d2c22637764223a222f227d" \
               "0000001e7b2261726776223a5b227365727665225d2c22637764223a222f227d"; do
    /usr/bin/python3 - "$D/revd.sock" "$payload" <<'PY' >"$T/answer" 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(bytes.fromhex(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
s.settimeout(15)
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data)
PY
    kill -0 "$SRV" 2>/dev/null || fail "revd serve died on payload $payload: $(tail -3 "$T/serve.log")"
done
run_ok revd ca show --dir "$D" r
assert_kv state active

step "a client that reads its answer slowly holds the server 30 s in all, bytes read or not"
"$PY" -c "
for i in range(1, 20001): print('%x,2030-01-01,good' % (0x100000 + i))" >"$T/many.csv"
run_ok revd ca create-root --dir "$D" --name big --subject /CN=big
run_ok revd import --dir "$D" --ca big --file "$T/many.csv"
# About 940 KB of report, read 64 KiB every 20 s: each write of the answer
# waits less than 30 s, the whole would take 5 minutes.
/usr/bin/python3 - "$D/revd.sock" <<'PY' &
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
req = json.dumps({"argv": ["report", "--ca", "big", "--format", "csv"], "cwd": "/"}).encode()
s.sendall(len(req).to_bytes(4, "big") + req)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
while True:
    time.sleep(20)
    n = 0
    while n < 65536:
        b = s.recv(65536 - n)
        if not b: sys.exit(0)
        n += len(b)
PY
STALLER=$!
BG_PIDS="$BG_PIDS $STALLER"
sleep 1
t0=$(date +%s.%N)
_run timeout 50 "$REVD" ca list --dir "$D"
t1=$(date +%s.%N)
[ "$RC" = 0 ] || fail "ca list behind a slow reader: exit $RC after $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 40) }' || fail "ca list waited $(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') s behind a slow reader"
echo "ca list behind a slow reader: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
kill "$STALLER" 2>/dev/null

step "SIGTERM stops the server while a client stalls"
stall 60 "00000100"
kill -TERM "$SRV"
for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "revd serve still runs 5 s after SIGTERM with a stalled client"
wait "$SRV"
assert_eq "$?" 0 "exit status of revd serve after SIGTERM"
[ -e "$D/revd.sock" ] && fail "the socket was left behind"
kill "$STALLER" 2>/dev/null

step "imported CDPs: their own partitions, never one of the CA's own URLs"
printf '01,2030-01-01,good,,,http://127.0.0.1:8080/crl/r/0.crl\n' >"$T/own.csv"
run_fail 1 revd import --dir "$D" --ca r --file "$T/own.csv"
assert_contains "$ERR" "own CRL URLs"
printf '01,2030-01-01,good,,,http://old.example/a.crl\n02,2030-01-01,good,,,http://old.example/b.crl\n03,2030-01-01,good\n' >"$T/cdp.csv"
run_ok revd import --dir "$D" --ca r --file "$T/cdp.csv"
run_ok revd status --dir "$D" --ca r --serial 02
assert_kv partition ext-1
assert_kv crl http://old.example/b.crl
run_ok revd status --dir "$D" --ca r --serial 03
assert_kv partition 0

pass
