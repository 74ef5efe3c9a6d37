#!/bin/bash
# Hostile clients against revd serve (one shard), while a normal client
# keeps asking OCSP questions: 1,500 idle connections, 200 slowloris
# (a byte every 300 ms of a head that never ends), oversized request lines,
# heads and bodies, pipelined garbage, never-issued serials, and a flood
# past the per-shard connection cap (4096). Checks: every normal question
# is answered correctly throughout; each kind of abuse is refused and
# counted in /metrics; the slow and idle ones are closed by their timeouts;
# memory stays within the per-connection bound and a second wave does not
# grow it. (Throughput under such load is a benchmark: bench/hostile.sh.)
. "$(dirname "$0")/lib.sh"
D=$REVD_DIR
create_root r
make_csr ee /CN=ee
issue_to "$T/good.pem" --ca r --csr "$T/ee.csr"
issue_to "$T/rev.pem" --ca r --csr "$T/ee.csr"
run_ok revd revoke --ca r --serial "$(serial_of "$T/rev.pem")"
PORT=$(( 20000 + RANDOM % 12000 ))
serve_bg "$T/s.log" --listen "127.0.0.1:$PORT" "${IO_ARGS[@]}" --threads 1 --read-timeout 2 --idle-timeout 3
for c in good rev; do
    openssl ocsp -issuer "$D/ca/r.pem" -cert "$T/$c.pem" -no_nonce -reqout "$T/$c.der" >/dev/null 2>&1 || fail "reqout"
done
openssl ocsp -issuer "$D/ca/r.pem" -serial 0x0BADC0DE01 -no_nonce -reqout "$T/unknown.der" >/dev/null 2>&1

# A sanitizer build's allocator (shadow memory, quarantine) triples what a
# connection costs: the bound is scaled, the no-growth check is not.
SCALE=1
case "$REVD" in */build/san/*|*/build/tsan/*) SCALE=3 ;; esac
"$PY" - "$PORT" "$T" "$SRV" "$SCALE" <<'PY' || fail "hostile clients (see above)"
import base64, http.client, os, resource, socket, sys, threading, time, urllib.request
from cryptography.x509 import ocsp
port, T, pid, scale = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss_kb():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"): return int(l.split()[1])
def metric(name, **labels):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    want = name + ("{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}" if labels else "")
    for l in text.splitlines():
        if l.startswith(want + " "): return float(l.split()[-1])
    raise AssertionError("no metric " + want)
get = {c: "/ocsp/" + base64.b64encode(open("%s/%s.der" % (T, c), "rb").read()).decode()
          .replace("+", "%2B").replace("/", "%2F").replace("=", "%3D") for c in ("good", "rev", "unknown")}
errors, answered, retried = [], [0], [0]
stop = threading.Event()
def ask(k):
    # As HTTP clients do, a request on a connection the server closed (an
    # idle connection evicted at the cap) is sent once more on a new one.
    for attempt in (1, 2):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", get[k]); r = c.getresponse(); body = r.read(); c.close()
            return r.status, body
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError) as e:
            if attempt == 2: raise
            retried[0] += 1
def normal():
    while not stop.is_set():
        try:
            for k in ("good", "rev"):
                status, body = ask(k)
                st = ocsp.load_der_ocsp_response(body).certificate_status
                want = ocsp.OCSPCertStatus.GOOD if k == "good" else ocsp.OCSPCertStatus.REVOKED
                if status != 200 or st != want: errors.append("%s: %s %s" % (k, status, st))
                answered[0] += 1
        except Exception as e:
            errors.append("normal client: %r" % e)
        time.sleep(0.01)
def conns(n):
    out = []
    for _ in range(n):
        s = socket.socket(); s.setblocking(True); s.connect(("127.0.0.1", port)); out.append(s)
    return out
def one_shot(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        return s.recv(100).split(b" ")[1:2]
    except OSError:
        return [b"reset"]
    finally:
        s.close()
t = threading.Thread(target=normal); t.start()
rss0 = rss_kb()
peaks = []
for wave in (1, 2):
    idle = conns(1500)
    slow = conns(200)
    for i in range(10):                     # a byte at a time, never finishing the head
        for s in slow:
            try: s.send(b"G" if i == 0 else b"x")
            except OSError: pass
        time.sleep(0.3)
    for _ in range(20):
        assert one_shot(b"GET /ocsp/" + b"A" * 9000 + b" HTTP/1.1\r\n\r\n")[0] in (b"414", b"431"), "long line"
        assert one_shot(b"GET /healthz HTTP/1.1\r\nX: " + b"y" * 13000 + b"\r\n\r\n")[0] == b"431", "big head"
        assert one_shot(b"POST /ocsp HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + b"z" * 5000)[0] == b"413", "big body"
        assert one_shot(b"\x16\x03\x01\x02\x00garbage\r\n\r\nGET / HTTP/1.1\r\n\r\n" * 3)[0] == b"400", "garbage"
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", get["unknown"]); r = c.getresponse(); r.read(); c.close()
    peaks.append(rss_kb())
    time.sleep(4.5)                          # past --read-timeout 2 and --idle-timeout 3
    open_now = metric("revd_connections_open")
    assert open_now <= 5, "connections still open after their timeouts: %s" % open_now
    for s in idle + slow: s.close()
# The flood: past the per-shard cap of 4096, refused and counted.
flood = []
try:
    flood = conns(4300)
except OSError as e:
    print("flood stopped at %d: %r" % (len(flood), e))
time.sleep(0.5)
for s in flood: s.close()
time.sleep(0.5)
refused = metric("revd_hostile_input_total", what="conn_evicted") + metric("revd_hostile_input_total", what="conn_refused")
stop.set(); t.join()
print("normal answers: %d (%d sent again), errors: %d; RSS %d KB at start, peaks %s KB; evicted or refused past the cap: %d"
      % (answered[0], retried[0], len(errors), rss0, peaks, refused))
for e in errors[:5]: print("ERROR", e)
assert not errors, "normal questions failed under hostile load"
assert answered[0] > 50, answered
assert retried[0] <= answered[0] // 20, (retried, answered)
assert metric("revd_hostile_input_total", what="oversized") >= 120, metric("revd_hostile_input_total", what="oversized")
assert metric("revd_hostile_input_total", what="bad_http") >= 40
assert metric("revd_hostile_input_total", what="read_timeout") >= 400, metric("revd_hostile_input_total", what="read_timeout")
assert metric("revd_connections_idle_closed_total") >= 3000
assert metric("revd_hostile_input_total", what="unknown_serial") >= 40
assert refused >= 100, refused
# Memory: within the fixed per-connection bound (about 80 KB a connection,
# touched only as far as used), and the second wave reuses the first's.
assert peaks[0] - rss0 < 1700 * 80 * scale, (rss0, peaks)
assert peaks[1] <= peaks[0] * 1.1 + 2048, peaks
PY
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null
pass
