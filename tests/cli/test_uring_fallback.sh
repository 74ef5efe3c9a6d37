#!/bin/bash
# The io_uring loop's features and each one's fallback (shard/loop_uring.c):
# with every feature, then with each left out (--io-uring-off, as a kernel
# without it would have), then with all left out, the same clients get the
# same answers: openssl ocsp (POST) and curl (GET, a CRL sent from where it
# lives), 50 pipelined requests and a half-close, 3,000 pipelined requests
# (far past the connection's input: the receive stops and starts again), one
# request per connection (the linked send and close), 100 connections with
# small receive windows flooding pipelined requests at once (the answers
# back up, then the requests: each connection's receive is cancelled, and
# provided buffers may run out), a malformed request (400, then the lingering
# close). The log says at start which features each shard uses; a feature
# this kernel lacks is not asserted.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "curl is not installed"
[ "${REVD_IO:-}" = libevent ] && skip "the io_uring loop's own test"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root
run_ok revd ca create-sub --dir "$D" --name sub --parent root --subject /CN=sub
make_csr ee "/CN=ee.example"
issue_to "$T/good.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
issue_to "$T/rev.pem" --dir "$D" --ca sub --csr "$T/ee.csr"
run_ok revd revoke --dir "$D" --ca sub --serial "$(serial_of "$T/rev.pem")" --reason keyCompromise
cat "$D/ca/sub.pem" "$D/ca/root.pem" > "$T/chain.pem"

step "an unknown feature is refused by name"
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --io-uring-off recv-multishot,bogus
assert_contains "$ERR" "unknown io_uring feature \"bogus\""

ALL="defer-taskrun recv-multishot accept-multishot poll-first linked-close"
KERNEL_HAS=""

exercise() { # OFF
    local off=$1 port=$(( 20000 + RANDOM % 12000 )) log=$T/serve-$1.log
    serve_bg "$log" --dir "$D" --listen "127.0.0.1:$port" --io uring --io-uring-off "$off" --threads 1 \
        --read-timeout 3
    step "[$off] the features the log names"
    local used; used=$(sed -n 's/^revd: io_uring features: //p' "$log")
    [ -n "$used" ] || fail "no 'io_uring features' line in the log: $(cat "$log")"
    [ "$off" = "none" ] && KERNEL_HAS=$used
    for f in $ALL; do
        case " $used " in
        *" $f "*) [ "$off" = all ] || [ "$off" = "$f" ] && fail "$f is used though left out ($used)" ;;
        *) [ "$off" = all ] || [ "$off" = "$f" ] || case " $KERNEL_HAS " in
            *" $f "*) fail "$f is not used though the kernel has it ($used)" ;; esac ;;
        esac
    done

    step "[$off] openssl ocsp and curl"
    local o
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/good.pem" -url "http://127.0.0.1:$port/ocsp" \
        -CAfile "$T/chain.pem" 2>&1)
    assert_line "$o" "$T/good.pem: good" "openssl ocsp"
    o=$(openssl ocsp -issuer "$D/ca/sub.pem" -cert "$T/rev.pem" -url "http://127.0.0.1:$port/ocsp" \
        -CAfile "$T/chain.pem" 2>&1)
    assert_line "$o" "$T/rev.pem: revoked" "openssl ocsp"
    local url; url=$(openssl x509 -in "$T/good.pem" -noout -ext crlDistributionPoints | sed -n 's/.*URI://p' | head -1)
    curl -sf "http://127.0.0.1:$port/${url#http*://*/}" -o "$T/got.crl" || fail "the CRL download failed"
    openssl crl -inform DER -in "$T/got.crl" -noout -text | grep -q "$(serial_of "$T/rev.pem")" ||
        fail "the CRL served lacks the revoked serial"

    step "[$off] pipelining, half-close, one request per connection, a flood, a malformed request"
    # The flood (slow: its windows are small) with every feature and none.
    local nflood=4; [ "$off" = none ] || [ "$off" = all ] && nflood=100
    "$PY" - "$port" "$nflood" <<'PY' || fail "see above"
import socket, sys, threading
port = int(sys.argv[1])
REQ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
CA = b"GET /ca/sub.der HTTP/1.1\r\nHost: x\r\n\r\n"
def read_all(s):
    d = b""
    while True:
        x = s.recv(65536)
        if not x: return d
        d += x
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=20)
s = conn(); s.sendall(REQ * 50); s.shutdown(socket.SHUT_WR)
n = read_all(s).count(b"HTTP/1.1 200")
assert n == 50, "half-close: %d answers of 50" % n
s = conn(); s.sendall(REQ * 3000 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
n = read_all(s).count(b"HTTP/1.1 200")
assert n == 3001, "3,001 pipelined: %d answers" % n
for i in range(200):
    s = conn(); s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    d = read_all(s)
    assert d.startswith(b"HTTP/1.1 200") and d.count(b"HTTP/1.1") == 1, "one per connection: %r" % d[:80]
res = []
def flood():  # a small receive buffer: the answers back up, then the requests
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(CA * 600 + b"GET /ca/sub.der HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    res.append(read_all(s).count(b"HTTP/1.1 200"))
nflood = int(sys.argv[2])
ts = [threading.Thread(target=flood) for _ in range(nflood)]
for t in ts: t.start()
for t in ts: t.join()
assert res == [601] * nflood, "flood: %r" % [n for n in res if n != 601]
s = conn(); s.sendall(b"GARBAGE / HTTP/1.1\r\n\r\n" + b"x" * 5000)
d = read_all(s)
assert d.startswith(b"HTTP/1.1 400"), "malformed: %r" % d[:80]
s = conn(); s.sendall(REQ)
assert s.recv(65536).startswith(b"HTTP/1.1 200"), "still answering"
PY
    kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
    if [ "$off" != none ] && [ "$off" != all ]; then
        grep -q "shard.io_uring_fallback\|the kernel refused" "$log" && fail "a fallback warning with $off off: $(cat "$log")"
    fi
    return 0
}

exercise none
for f in $ALL; do exercise "$f"; done
exercise all
pass
