#!/bin/bash
# revd serve's connection timeouts: a client that keeps a request unfinished
# (slowloris) is closed after --read-timeout even while it trickles bytes;
# an idle keep-alive connection after --idle-timeout; a busy one stays. The
# counters line at SIGTERM.
. "$(dirname "$0")/lib.sh"

D=$T/d
run_ok revd ca create-root --dir "$D" --name root --subject /CN=root

step "option refusals"
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --idle-timeout 0
run_fail 2 revd serve --dir "$D" --listen 127.0.0.1:1 --read-timeout x

PORT=$(( 20000 + RANDOM % 12000 ))
serve_bg "$T/serve.log" --dir "$D" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --idle-timeout 3 --read-timeout 2

step "slow, idle and busy clients"
"$PY" - 127.0.0.1 "$PORT" <<'PY' || fail "timeouts: see above"
import socket, sys, threading, time
host, port = sys.argv[1], int(sys.argv[2])
res = {}
def closed_after(s, limit):
    """Seconds until the server closes s (reading), or None within limit."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - t0 < limit:
        try:
            if s.recv(65536) == b"": return time.monotonic() - t0
        except socket.timeout: pass
        except ConnectionResetError: return time.monotonic() - t0
    return None
def slowloris():
    s = socket.create_connection((host, port))
    t0 = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        for _ in range(20):  # a header byte every 0.3 s: never finishes
            time.sleep(0.3)
            s.sendall(b"X")
    except OSError:
        pass
    r = closed_after(s, 6)
    res["slow"] = None if r is None else time.monotonic() - t0
def idle():
    s = socket.create_connection((host, port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    res["idle"] = closed_after(s, 8)
def busy():
    s = socket.create_connection((host, port))
    t0 = time.monotonic()
    ok = 0
    while time.monotonic() - t0 < 5.5:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        d = s.recv(65536)
        if d.startswith(b"HTTP/1.1 200"): ok += 1
        time.sleep(0.5)
    res["busy"] = ok
ts = [threading.Thread(target=f) for f in (slowloris, idle, busy)]
for t in ts: t.start()
for t in ts: t.join()
print(res)
assert res["slow"] is not None and 1.9 <= res["slow"] <= 4.5, "slowloris closed after %r s, expected 2 to 4" % res["slow"]
assert res["idle"] is not None and 2.0 <= res["idle"] <= 4.5, "idle closed after %r s, expected 3 to 4" % res["idle"]
assert res["busy"] >= 10, "the busy connection was cut: %d answers" % res["busy"]
PY

step "after a 431 the server reads and drops what comes, for 1 to 3 s and 256 KiB at most, then closes"
"$PY" - 127.0.0.1 "$PORT" <<'PY' || fail "lingering close: see above"
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
def refused_then(send_more):
    """A head past the cap: the 431, a FIN after it, then seconds until a send fails."""
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000)
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        assert b, "closed before the status"
        buf += b
    assert buf.startswith(b"HTTP/1.1 431 "), buf[:40]
    assert s.recv(65536) == b"", "no FIN after the status"  # the server shut down its sending side
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 10:
            send_more(s)
    except OSError:
        return time.monotonic() - t0
    return None
def trickle(s):
    s.sendall(b"x" * 100)
    time.sleep(0.1)
def flood(s):
    s.sendall(b"x" * 65536)
t = refused_then(trickle)
print("trickling: closed after", t)
assert t is not None and 0.8 <= t <= 4.5, "a client trickling after a 431 was closed after %r s, expected 1 to 3" % t
t = refused_then(flood)
print("flooding: closed after", t)
assert t is not None and t < 1.5, "a client sending past 256 KiB after a 431 was closed after %r s" % t
PY

step "SIGTERM: the counters"
kill -TERM "$SRV"
wait "$SRV"; assert_eq "$?" 0 "exit status after SIGTERM"
assert_match "$(cat "$T/serve.log")" "revd: served [0-9]+ requests \(2 malformed\), refused 0 connections"
pass
