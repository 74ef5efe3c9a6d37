#!/usr/bin/env bash
# bench/crl.sh [N] [COALESCE]: CRL figures.
#  1. Build and sign a full partition (the default size for a P-256 CA,
#     every certificate revoked with a reason): `revd crl rebuild`, beside
#     `openssl ca -gencrl` over an index.txt of the same entries, same key.
#  2. Revocation to published CRL: N revocations (default 50) through the
#     socket of a `revd serve --crl-coalesce COALESCE` (default 1s) while wrk
#     keeps it answering OCSP GETs; for each, the time from `revd revoke`
#     returning to the partition's CRL served with a higher number.
# Needs: a built ./revd, wrk, python3-cryptography.
set -eu
cd "$(dirname "$0")/.."
N=${1:-50}
COALESCE=${2:-1s}
T=$(mktemp -d); WPID=""; RPID=""
trap 'kill $WPID $RPID 2>/dev/null; rm -rf "$T"' EXIT
R=$PWD/revd
$R ca create-root --dir $T/d --name root --subject "/CN=revd bench root/O=revd" >/dev/null
PSIZE=$($R ca show --dir $T/d root | sed -n 's/^partition-size: //p')
echo "== 1. a full partition: $PSIZE certificates, all revoked (keyCompromise)"
/usr/bin/python3 - "$T/full.csv" "$PSIZE" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write("%032X,2031-01-01,revoked,2025-01-02T03:04:05Z,keyCompromise\n" % ((1 << 126) + i))
PY
$R import --dir $T/d --ca root --file $T/full.csv 2>/dev/null
for i in 1 2 3; do $R crl rebuild --dir $T/d --ca root --partition 0; done
# openssl ca -gencrl over the same entries, with the same key and certificate.
mkdir -p $T/ossl
/usr/bin/python3 - "$T/full.csv" "$T/ossl/index.txt" <<'PY'
import sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        serial = line.split(",")[0]
        out.write("R\t310101000000Z\t250102030405Z,keyCompromise\t%s\tunknown\t/CN=x\n" % serial)
PY
cat > $T/ossl/ca.cnf <<CNF
[ ca ]
default_ca = bench
[ bench ]
database = $T/ossl/index.txt
certificate = $T/d/ca/root.pem
private_key = $T/d/keys/root.key
crlnumber = $T/ossl/crlnumber
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid
issuingDistributionPoint = critical, @idp
[ idp ]
fullname = URI:http://127.0.0.1:8080/crl/root/0.crl
onlysomereasons = keyCompromise
CNF
sed -i '/onlysomereasons/d' $T/ossl/ca.cnf
echo 01 > $T/ossl/crlnumber
for i in 1 2 3; do
    s=$(date +%s%N)
    openssl ca -config $T/ossl/ca.cnf -gencrl -out $T/ossl/x.crl 2>/dev/null
    e=$(date +%s%N)
    echo "openssl ca -gencrl: $(( (e - s) / 1000 )) us, $(openssl crl -in $T/ossl/x.crl -outform DER | wc -c) bytes"
done

echo "== 2. revocation to published CRL, --crl-coalesce $COALESCE, under OCSP load"
$R ca create-sub --dir $T/d --name sub --parent root --subject /CN=sub --partition-size 1000 >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=b -keyout /dev/null -out $T/b.csr 2>/dev/null
PORT=$(( 20000 + RANDOM % 20000 ))
$R serve --dir $T/d --listen 127.0.0.1:$PORT --threads 1 --crl-coalesce $COALESCE 2>$T/serve.log &
RPID=$!
for _ in $(seq 300); do grep -q 'revd: serving' $T/serve.log && break; sleep 0.1; done
mkdir $T/certs
for i in $(seq "$N"); do $R issue --dir $T/d --ca sub --csr $T/b.csr > $T/certs/$i.pem; done
openssl ocsp -issuer $T/d/ca/sub.pem -cert $T/certs/1.pem -no_nonce -reqout $T/req.der >/dev/null 2>&1
enc=$(base64 -w0 < $T/req.der | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
if command -v wrk >/dev/null; then
    taskset -c 1 wrk -t1 -c20 -d600s "http://127.0.0.1:$PORT/ocsp/$enc" >/dev/null 2>&1 &
    WPID=$!
    echo "(wrk -t1 -c20 on core 1 keeps the server answering OCSP)"
fi
/usr/bin/python3 - "$R" "$T/d" "$PORT" "$N" <<'PY'
import http.client, subprocess, sys, time
from cryptography import x509
revd, d, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
def number():
    conn.request("GET", "/crl/sub/0.crl")
    crl = x509.load_der_x509_crl(conn.getresponse().read())
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
lat = []
for i in range(1, n + 1):
    cert = x509.load_pem_x509_certificate(open("%s/../certs/%d.pem" % (d, i), "rb").read())
    before = number()
    subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--serial", "%X" % cert.serial_number],
                   check=True, stdout=subprocess.DEVNULL)
    t1 = time.perf_counter()
    while number() == before:
        time.sleep(0.002)
    lat.append((time.perf_counter() - t1) * 1e3)
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q / 100 * len(lat)))]
print("revoke returned -> new CRL served: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (%d revocations)"
      % (p(50), p(90), p(99), lat[-1], n))
PY
