#!/usr/bin/python3
"""bench/acme_load.py: ACME issuance throughput against revd's ACME server
(RFC 8555), http-01 validated on loopback. Run by bench/acme.sh, which sets
up the CAs, the DNS mock and `revd serve`; python3-cryptography only.

  acme_load.py --dir-url URL --cafile ROOT --http-port P --revd-pid PID
               [--clients 8] [--orders 500] [--ident dns|ip] [--poll 0.05]
               [--aux-pid PID] [--issuer-pem SUB] [--json OUT]

C worker processes (fork), each with its own account (opened before the
clock starts, no EAB: the server runs --acme-eab optional) and one HTTPS
keep-alive connection, take order numbers from a shared counter until N are
taken. One order: new-order (one identifier), POST-as-GET the authorization,
POST the http-01 challenge, poll the order (POST-as-GET every --poll
seconds, Retry-After ignored) until ready, finalize with a CSR made before
the clock started (so the client's key generation is not measured), poll
until valid, download the chain. Latency is new-order to chain downloaded.

The http-01 target is a threaded HTTP server in the parent on
127.0.0.1:P; a worker tells it TOKEN -> key authorization through one pipe
(each line shorter than PIPE_BUF, so writes from the workers never mix)
before it POSTs the challenge; a GET that arrives before the line waits for
it (up to 5 s).

CPU: revd's (and --aux-pid's: pebble-challtestsrv) utime+stime from
/proc/PID/stat over the timed window; the driver's own is the workers'
getrusage over their timed loops plus the parent's (the http-01 target)
over the window. After the clock stops every certificate is checked: the
leaf names the order's identifier, carries the CSR's key, is issued by
--issuer-pem's subject, and the chain holds at least two certificates.
Prints `key: value` lines; exit 0 when every order got its certificate.
"""
import argparse
import base64
import hashlib
import http.client
import http.server
import ipaddress
import json
import multiprocessing as mp
import os
import resource
import ssl
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Fail(Exception):
    pass


# ------------------------------------------------------------------ keys, JWS
class Key:
    """An ES256 account key: JWK, thumbprint, raw r||s signatures."""

    def __init__(self):
        self.priv = ec.generate_private_key(ec.SECP256R1())
        n = self.priv.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
        j = json.dumps(self.jwk, sort_keys=True, separators=(",", ":"))
        self.thumb = b64u(hashlib.sha256(j.encode()).digest())

    def sign(self, data):
        r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Conn:
    """One HTTPS keep-alive connection to the ACME server, the directory,
    the last Replay-Nonce, an account; counts requests and reconnects."""

    def __init__(self, dir_url, cafile):
        u = urllib.parse.urlsplit(dir_url)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.conn = None
        self.nonce = None
        self.requests = 0
        self.reconnects = 0
        self.key = Key()
        self.kid = None
        st, h, body = self.request("GET", dir_url)
        self.dir = json.loads(body)

    def request(self, method, url, body=None, headers=None):
        path = urllib.parse.urlsplit(url)
        path = path.path + ("?" + path.query if path.query else "")
        last = None
        for _ in range(3):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=60)
                self.reconnects += 1
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                self.requests += 1
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                n = r.getheader("Replay-Nonce")
                if n:
                    self.nonce = n
                return r.status, r.headers, data
            except (http.client.HTTPException, OSError) as e:
                last = e
                self.conn.close()
                self.conn = None
        raise Fail("%s %s: %r" % (method, url, last))

    def post(self, url, payload, jwk=False):
        """A flattened JWS (payload None: POST-as-GET); returns (status, headers, body)."""
        if self.nonce is None:
            st, h, _ = self.request("HEAD", self.dir["newNonce"])
            if not h.get("Replay-Nonce"):
                raise Fail("HEAD new-nonce: HTTP %d without Replay-Nonce" % st)
        p = {"alg": "ES256", "nonce": self.nonce, "url": url}
        self.nonce = None
        if jwk:
            p["jwk"] = self.key.jwk
        else:
            p["kid"] = self.kid
        ph = b64u(json.dumps(p))
        pl = "" if payload is None else b64u(json.dumps(payload))
        sig = self.key.sign((ph + "." + pl).encode())
        body = json.dumps({"protected": ph, "payload": pl, "signature": b64u(sig)})
        return self.request("POST", url, body, {"Content-Type": "application/jose+json"})

    def account(self):
        st, h, body = self.post(self.dir["newAccount"], {"termsOfServiceAgreed": True}, jwk=True)
        if st not in (200, 201) or not h.get("Location"):
            raise Fail("new-account: HTTP %d %s" % (st, body[:300]))
        self.kid = h["Location"]


def want(cond, what, st, body):
    if not cond:
        raise Fail("%s: HTTP %d %s" % (what, st, body[:400].decode(errors="replace")))


# ------------------------------------------------------------------ one order
def poll_order(c, url, until, poll, limit=60):
    """POST-as-GET the order every poll s until its status leaves until."""
    t0 = time.time()
    while True:
        st, h, body = c.post(url, None)
        want(st == 200, "POST-as-GET order", st, body)
        j = json.loads(body)
        if j.get("status") not in until:
            return j
        if time.time() - t0 > limit:
            raise Fail("order %s still %s after %d s" % (url, j.get("status"), limit))
        time.sleep(poll)


def one_order(c, ident, csr_der, regw, poll):
    """new-order .. chain; returns the chain's PEM bytes."""
    st, h, body = c.post(c.dir["newOrder"], {"identifiers": [ident]})
    want(st == 201 and h.get("Location"), "new-order", st, body)
    order_url, o = h["Location"], json.loads(body)
    st, h, body = c.post(o["authorizations"][0], None)
    want(st == 200, "POST-as-GET authz", st, body)
    ch = [x for x in json.loads(body).get("challenges", []) if x.get("type") == "http-01"]
    want(ch, "authz without http-01", st, body)
    tok = ch[0]["token"]
    os.write(regw, ("%s %s.%s\n" % (tok, tok, c.key.thumb)).encode())
    st, h, body = c.post(ch[0]["url"], {})
    want(st == 200, "POST challenge", st, body)
    j = poll_order(c, order_url, ("pending",), poll)
    if j.get("status") != "ready":
        st, h, body = c.post(o["authorizations"][0], None)
        raise Fail("order %s after validation: %s; authz: %s" % (order_url, j, body[:400]))
    st, h, body = c.post(o["finalize"], {"csr": b64u(csr_der)})
    want(st == 200, "finalize", st, body)
    j = json.loads(body)
    if j.get("status") != "valid":
        j = poll_order(c, order_url, ("processing", "ready"), poll)
    if j.get("status") != "valid" or not j.get("certificate"):
        raise Fail("order %s after finalize: %s" % (order_url, j))
    st, h, body = c.post(j["certificate"], None)
    want(st == 200 and h.get("Content-Type", "").startswith("application/pem-certificate-chain"),
         "download", st, body)
    return body


def worker(wid, a, jobs, counter, ready, go, regw, out):
    """One client: its account, then orders until the counter reaches N."""
    try:
        c = Conn(a.dir_url, a.cafile)
        c.account()
    except Exception as e:  # noqa: BLE001 -- reported to the parent
        out.put(("setup-error", wid, repr(e)))
        ready.release()
        return
    ready.release()
    go.wait()
    req0 = c.requests
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    lat, certs, errors = [], {}, []
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value += 1
        if i >= a.orders:
            break
        ident, csr_der = jobs[i]
        t0 = time.monotonic()
        try:
            certs[i] = one_order(c, ident, csr_der, regw, a.poll)
            lat.append(time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 -- counted and reported
            errors.append("order %d (%s): %s" % (i, ident["value"], e))
            if len(errors) > 5:
                break
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    out.put(("done", wid, lat, certs, errors, cpu, c.requests - req0, c.reconnects, time.monotonic()))


# ------------------------------------------------------------------ http-01 target
class Target:
    """127.0.0.1:port answering /.well-known/acme-challenge/TOKEN with the
    key authorization a worker registered through the pipe."""

    def __init__(self, port, regr):
        self.auth = {}
        self.cv = threading.Condition()
        self.gets = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                tok = self.path.split("?")[0].rsplit("/", 1)[-1]
                with outer.cv:
                    outer.gets += 1
                    outer.cv.wait_for(lambda: tok in outer.auth, timeout=5)
                    ka = outer.auth.pop(tok, None)
                if ka is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                b = ka.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(b)))
                self.end_headers()
                self.wfile.write(b)

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.srv = S(("127.0.0.1", port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        threading.Thread(target=self.reader, args=(regr,), daemon=True).start()

    def reader(self, fd):
        f = os.fdopen(fd, "rb", buffering=0)
        buf = b""
        while True:
            d = f.read(65536)
            if not d:
                return
            buf += d
            *lines, buf = buf.split(b"\n")
            with self.cv:
                for l in lines:
                    tok, ka = l.decode().split(" ", 1)
                    self.auth[tok] = ka
                self.cv.notify_all()


# ------------------------------------------------------------------ main
def proc_cpu(pid):
    """utime+stime of pid (all its threads), seconds."""
    if not pid:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def make_jobs(a):
    """N (identifier, CSR DER, key) made before the clock starts."""
    jobs = []
    for i in range(a.orders):
        k = ec.generate_private_key(ec.SECP256R1())
        if a.ident == "ip":
            ident = {"type": "ip", "value": "127.0.0.1"}
            san = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            cn = "127.0.0.1"
        else:
            cn = "o%d-%d.bench.test" % (os.getpid(), i)
            ident = {"type": "dns", "value": cn}
            san = x509.DNSName(cn)
        b = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        b = b.add_extension(x509.SubjectAlternativeName([san]), critical=False)
        jobs.append((ident, b.sign(k, hashes.SHA256()).public_bytes(serialization.Encoding.DER), k))
    return jobs


def check_certs(a, jobs, certs):
    """Every certificate: the order's name, the CSR's key, the issuer, a chain."""
    issuer = None
    if a.issuer_pem:
        issuer = x509.load_pem_x509_certificate(open(a.issuer_pem, "rb").read()).subject
    bad = []
    for i, pem in certs.items():
        chain = [x509.load_pem_x509_certificate(b + b"-----END CERTIFICATE-----\n")
                 for b in pem.split(b"-----END CERTIFICATE-----")[:-1]]
        leaf = chain[0]
        ident, _, k = jobs[i]
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.IPAddress if ident["type"] == "ip" else x509.DNSName)]
        pub = lambda x: x.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if names != [ident["value"]] or pub(leaf.public_key()) != pub(k.public_key()) or len(chain) < 2 or \
                (issuer is not None and leaf.issuer != issuer):
            bad.append(i)
    return bad


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir-url", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--revd-pid", type=int, required=True)
    ap.add_argument("--aux-pid", type=int, default=0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--orders", type=int, default=500)
    ap.add_argument("--ident", choices=("dns", "ip"), default="dns")
    ap.add_argument("--poll", type=float, default=0.05)
    ap.add_argument("--issuer-pem")
    ap.add_argument("--json")
    a = ap.parse_args()

    jobs = make_jobs(a)
    regr, regw = os.pipe()
    target = Target(a.http_port, regr)
    ctx = mp.get_context("fork")
    counter, ready, go, out = ctx.Value("l", 0), ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    wjobs = [(j[0], j[1]) for j in jobs]
    procs = [ctx.Process(target=worker, args=(w, a, wjobs, counter, ready, go, regw, out), daemon=True)
             for w in range(a.clients)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    revd0, aux0, me0 = proc_cpu(a.revd_pid), proc_cpu(a.aux_pid), resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    go.set()
    lat, certs, errors, wcpu, nreq, nrecon, tend = [], {}, [], 0.0, 0, 0, t0
    for _ in procs:
        m = out.get()
        if m[0] == "setup-error":
            errors.append("worker %d setup: %s" % (m[1], m[2]))
            continue
        _, _, l, c, e, cpu, rq, rc, te = m
        lat += l
        certs.update(c)
        errors += e
        wcpu += cpu
        nreq += rq
        nrecon += rc
        tend = max(tend, te)
    wall = tend - t0
    revd1, aux1, me1 = proc_cpu(a.revd_pid), proc_cpu(a.aux_pid), resource.getrusage(resource.RUSAGE_SELF)
    for p in procs:
        p.join(10)
    pcpu = (me1.ru_utime - me0.ru_utime) + (me1.ru_stime - me0.ru_stime)
    bad = check_certs(a, jobs, certs)
    n = len(certs)
    r = {
        "clients": a.clients, "orders": a.orders, "ident": a.ident, "poll_s": a.poll,
        "certificates": n, "failed": a.orders - n, "bad_certificates": len(bad),
        "wall_s": round(wall, 3), "orders_per_s": round(n / wall, 2) if wall > 0 else 0,
        "p50_ms": round(pct(lat, 50) * 1000, 1), "p99_ms": round(pct(lat, 99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1) if lat else 0,
        "revd_cpu_ms_per_cert": round((revd1 - revd0) * 1000 / max(n, 1), 2),
        "revd_cpu_s": round(revd1 - revd0, 2),
        "aux_cpu_ms_per_cert": round((aux1 - aux0) * 1000 / max(n, 1), 2),
        "driver_cpu_ms_per_order": round((wcpu + pcpu) * 1000 / max(n, 1), 2),
        "driver_workers_cpu_s": round(wcpu, 2), "driver_target_cpu_s": round(pcpu, 2),
        "acme_requests": nreq, "requests_per_order": round(nreq / max(n, 1), 1),
        "reconnects": nrecon - a.clients, "http01_gets": target.gets,
    }
    for k, v in r.items():
        print("%s: %s" % (k, v))
    for e in errors[:10]:
        print("error: %s" % e)
    if bad:
        print("error: certificates that do not match their order: %s" % bad[:10])
    if a.json:
        r["errors"] = errors[:10]
        with open(a.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0 if n == a.orders and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
