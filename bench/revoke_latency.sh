#!/usr/bin/env bash
# bench/revoke_latency.sh [N]: revocation to answer. Against a running
# `revd serve --listen` holding N certificates (default 300), revokes them
# one by one through the control socket (`revd revoke`, what an operator
# runs) and, the moment each command returns, asks OCSP (POST, keep-alive)
# until the answer says revoked. Prints percentiles of: the revoke command
# (process start to exit: signing, the synced index write, publication),
# and the time from its return to the first "revoked" answer, with how many
# queries that took (issue #3's target: p99 under 10 ms).
# Needs: a built ./revd, python3-cryptography (Debian).
set -eu
cd "$(dirname "$0")/.."
N=${1:-300}
T=$(mktemp -d); trap 'kill $RPID 2>/dev/null; rm -rf "$T"' EXIT
R=$PWD/revd
RPID=""
$R ca create-root --dir $T/d --name root --subject /CN=root >/dev/null
$R ca create-sub --dir $T/d --name sub --parent root --subject /CN=sub >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=b -keyout /dev/null -out $T/b.csr 2>/dev/null
PORT=$(( 20000 + RANDOM % 20000 ))
$R serve --dir $T/d --listen 127.0.0.1:$PORT --threads 1 2>$T/serve.log &
RPID=$!
for _ in $(seq 100); do grep -q 'revd: serving' $T/serve.log && break; sleep 0.1; done
mkdir $T/certs
for i in $(seq "$N"); do $R issue --dir $T/d --ca sub --csr $T/b.csr > $T/certs/$i.pem; done
/usr/bin/python3 - "$R" "$T/d" "$PORT" "$N" <<'PY'
import http.client, subprocess, sys, time
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
revd, d, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
issuer = x509.load_pem_x509_certificate(open(d + "/ca/sub.pem", "rb").read())
conn = http.client.HTTPConnection("127.0.0.1", port)
def status(req):
    conn.request("POST", "/ocsp", req, {"Content-Type": "application/ocsp-request"})
    return ocsp.load_der_ocsp_response(conn.getresponse().read()).certificate_status
cmd_ms, vis_ms, tries = [], [], []
for i in range(1, n + 1):
    cert = x509.load_pem_x509_certificate(open("%s/../certs/%d.pem" % (d, i), "rb").read())
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build().public_bytes(serialization.Encoding.DER)
    assert status(req) == ocsp.OCSPCertStatus.GOOD
    t0 = time.perf_counter()
    subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--serial", "%X" % cert.serial_number,
                    "--reason", "keyCompromise"], check=True, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    k = 1
    while status(req) != ocsp.OCSPCertStatus.REVOKED:
        k += 1
    t2 = time.perf_counter()
    cmd_ms.append((t1 - t0) * 1e3); vis_ms.append((t2 - t1) * 1e3); tries.append(k)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(p / 100 * len(v)))]
for name, v in (("revoke command", cmd_ms), ("return -> revoked answer", vis_ms)):
    print("%-26s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms" % (name, pct(v, 50), pct(v, 90), pct(v, 99), max(v)))
print("queries until revoked: first one in %d of %d; most %d" % (sum(1 for k in tries if k == 1), n, max(tries)))
PY
