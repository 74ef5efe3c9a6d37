#!/usr/bin/python3
"""test_acme_hostile.py: a hand-written ACME client (RFC 8555) that drives
revd's ACME server through the happy path and then sends it hostile input.
Run by test_acme_hostile.sh, which sets up the CAs, the DNS mock and the
server, and passes everything through the environment:

  DIR_URL       the directory URL          CA_BUNDLE  the root the server's TLS chains to
  HTTP_PORT     where http-01 is validated (this script serves it)
  REVD, REVD_DIR  the revd binary and data directory (for eab-create, report)
  ROOT_PEM, SUB_PEM, CHAIN_PEM, OCSP_URL   for openssl verify / openssl ocsp
  ACME_VS_PEBBLE=1  the server is pebble: EAB from PEBBLE_KID/PEBBLE_HMAC, the
                revd-only checks are skipped, and the hostile cases only
                print what pebble answered (a check of this client, not of pebble)

Every answer to a POST and to new-nonce must carry Replay-Nonce; every error
must be a problem document (application/problem+json) with the expected
urn:ietf:params:acme:error: type. Exit 0 pass, 1 fail (one FAIL line first).
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ENV = os.environ
PEBBLE = ENV.get("ACME_VS_PEBBLE") == "1"
ERR = "urn:ietf:params:acme:error:"
TMP = ENV.get("ACME_TMP", "/tmp")
STEP = ""


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def note(msg):
    print("  " + msg, flush=True)


def b64u(b):
    if isinstance(b, str):
        b = b.encode()
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ------------------------------------------------------------------ keys, JWS
class Key:
    """An ES256 key: its JWK, thumbprint, and raw r||s signatures."""

    def __init__(self, priv=None):
        self.priv = priv or ec.generate_private_key(ec.SECP256R1())
        n = self.priv.public_key().public_numbers()
        self.jwk = {"crv": "P-256", "kty": "EC",
                    "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}

    def thumbprint(self):
        j = json.dumps(self.jwk, sort_keys=True, separators=(",", ":"))
        return b64u(hashlib.sha256(j.encode()).digest())

    def sign(self, data):
        r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.ctype = headers.get("Content-Type", "")
        self.json = None
        if "json" in self.ctype:
            try:
                self.json = json.loads(body)
            except ValueError:
                pass

    def __str__(self):
        return "HTTP %d %s %s" % (self.status, self.ctype, self.body[:300])


class Client:
    """One HTTPS connection (reopened when the server closes it), the
    directory, and the last Replay-Nonce seen."""

    def __init__(self, dir_url, cafile):
        u = urllib.parse.urlsplit(dir_url)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.conn = None
        self.nonce = None
        self.dir = self.get(dir_url).json
        check(isinstance(self.dir, dict) and "newNonce" in self.dir, "directory is not an ACME directory")

    def request(self, method, url, body=None, headers=None, timeout=30):
        u = urllib.parse.urlsplit(url)
        check((u.hostname, u.port or 443) == (self.host, self.port), "URL on another server: " + url)
        path = u.path + ("?" + u.query if u.query else "")
        h = dict(headers or {})
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                res = Resp(r.status, r.headers, data)
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close(); self.conn = None
                break
            except (http.client.HTTPException, ConnectionError, ssl.SSLError, socket.timeout) as e:
                self.conn.close(); self.conn = None
                if attempt == 2:
                    raise Fail("%s %s: %r" % (method, url, e))
        if res.headers.get("Replay-Nonce"):
            self.nonce = res.headers["Replay-Nonce"]
        return res

    def get(self, url):
        return self.request("GET", url)

    def new_nonce(self):
        r = self.request("HEAD", self.dir["newNonce"])
        check(r.status in (200, 204), "HEAD new-nonce: HTTP %d" % r.status)
        check(r.headers.get("Replay-Nonce"), "HEAD new-nonce: no Replay-Nonce")
        return r.headers["Replay-Nonce"]

    def take_nonce(self):
        n = self.nonce or self.new_nonce()
        self.nonce = None
        return n

    def jws(self, url, payload, key, kid=None, nonce=None, protected=None, sig=None, jwk=False):
        """A flattened JWS. payload None = POST-as-GET (empty payload)."""
        p = {"alg": "ES256", "nonce": nonce if nonce is not None else self.take_nonce(), "url": url}
        if kid and not jwk:
            p["kid"] = kid
        else:
            p["jwk"] = key.jwk
        if protected:
            p.update(protected)
            p = {k: v for k, v in p.items() if v is not None}
        ph = b64u(json.dumps(p))
        pl = "" if payload is None else b64u(payload if isinstance(payload, (bytes, str)) else json.dumps(payload))
        s = sig(ph, pl) if sig else key.sign((ph + "." + pl).encode())
        return json.dumps({"protected": ph, "payload": pl, "signature": b64u(s)})

    def post(self, url, payload, key, kid=None, raw=None, **kw):
        body = raw if raw is not None else self.jws(url, payload, key, kid, **kw)
        r = self.request("POST", url, body=body, headers={"Content-Type": "application/jose+json"})
        check(r.headers.get("Replay-Nonce"), "POST %s answered %s without Replay-Nonce" % (url, r))
        # a badNonce answer carries a fresh nonce; anything else too
        return r


def problem(r, want, statuses=None, what=""):
    """r is a problem document of type want (a name, or a tuple of names)."""
    wants = want if isinstance(want, tuple) else (want,)
    check(r.status >= 400, "%s: expected a %s problem, got %s" % (what, "/".join(wants), r))
    check(r.ctype.split(";")[0].strip() == "application/problem+json",
          "%s: Content-Type %r, expected application/problem+json (%s)" % (what, r.ctype, r))
    check(isinstance(r.json, dict) and "type" in r.json, "%s: problem without type: %s" % (what, r))
    got = r.json["type"]
    check(got in [ERR + w for w in wants], "%s: type %s, expected %s (%s)" % (what, got, "/".join(ERR + w for w in wants), r))
    if statuses:
        check(r.status in statuses, "%s: HTTP %d, expected %s" % (what, r.status, statuses))
    check(r.headers.get("Replay-Nonce"), "%s: error answer without Replay-Nonce" % what)
    return got[len(ERR):]


# ------------------------------------------------------------------ http-01 target
class Target:
    """A threaded HTTP server on 127.0.0.1:HTTP_PORT answering
    /.well-known/acme-challenge/TOKEN as told: ("ok", keyauth), ("redirect",),
    ("slow",) (holds the connection until stop)."""

    def __init__(self, port):
        self.routes = {}
        self.stop = threading.Event()
        self.hits = {}
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                tok = self.path.split("?")[0].rsplit("/", 1)[-1]
                outer.hits[tok] = outer.hits.get(tok, 0) + 1
                how = outer.routes.get(tok)
                if how is None:
                    self.send_response(404); self.end_headers(); return
                if how[0] == "ok":
                    b = how[1].encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(b)))
                    self.end_headers(); self.wfile.write(b); return
                if how[0] == "redirect":
                    n = outer.hits[tok]
                    self.send_response(302)
                    self.send_header("Location", "/.well-known/acme-challenge/%s?n=%d" % (tok, n))
                    self.send_header("Content-Length", "0")
                    self.end_headers(); return
                if how[0] == "slow":
                    outer.stop.wait(120)
                    return

        class S(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.srv.shutdown()


# ------------------------------------------------------------------ ACME flows
def eab_key(*args):
    """A new EAB key (kid, hmac) from revd acme eab-create (pebble: its one)."""
    if PEBBLE:
        return ENV["PEBBLE_KID"], ENV["PEBBLE_HMAC"]
    out = subprocess.run([ENV["REVD"], "acme", "eab-create", "--dir", ENV["REVD_DIR"], "--ca", "sub"] + list(args),
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "revd acme eab-create failed: %s%s" % (out.stdout, out.stderr))
    kv = dict(l.split(": ", 1) for l in out.stdout.splitlines() if ": " in l)
    check("kid" in kv and "hmac" in kv, "eab-create printed no kid/hmac: %s" % out.stdout)
    return kv["kid"], kv["hmac"]


def eab_key_for(ca, *args):
    """A new EAB key of CA ca (revd acme eab-create --ca ca ARGS)."""
    out = subprocess.run([ENV["REVD"], "acme", "eab-create", "--dir", ENV["REVD_DIR"], "--ca", ca] + list(args),
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "revd acme eab-create failed: %s%s" % (out.stdout, out.stderr))
    kv = dict(l.split(": ", 1) for l in out.stdout.splitlines() if ": " in l)
    check("kid" in kv and "hmac" in kv, "eab-create printed no kid/hmac: %s" % out.stdout)
    return kv["kid"], kv["hmac"]


def eab_jws(c, key, kid, hmac_b64u, sig_key=None):
    p = b64u(json.dumps({"alg": "HS256", "kid": kid, "url": c.dir["newAccount"]}))
    pl = b64u(json.dumps(key.jwk))
    mac = hmac.new(sig_key or unb64u(hmac_b64u), (p + "." + pl).encode(), hashlib.sha256).digest()
    return {"protected": p, "payload": pl, "signature": b64u(mac)}


def new_account(c, key, eab=None):
    payload = {"termsOfServiceAgreed": True, "contact": ["mailto:ops@example.test"]}
    if eab:
        payload["externalAccountBinding"] = eab_jws(c, key, *eab)
    return c.post(c.dir["newAccount"], payload, key, jwk=True)


class Account:
    def __init__(self, c, eab):
        self.c, self.key = c, Key()
        r = new_account(c, self.key, eab)
        check(r.status == 201, "new-account with EAB: %s" % r)
        check(r.json and r.json.get("status") == "valid", "new account not valid: %s" % r)
        self.url = r.headers.get("Location")
        check(self.url, "new-account: no Location")

    def post(self, url, payload, **kw):
        return self.c.post(url, payload, self.key, self.url, **kw)

    def new_order(self, names):
        ids = [{"type": "ip" if n.replace(".", "").isdigit() else "dns", "value": n} for n in names]
        return self.post(self.c.dir["newOrder"], {"identifiers": ids})


def poll(acct, url, done, what, limit=45):
    """POST-as-GET url until done(json) (honouring Retry-After, capped)."""
    t0 = time.time()
    while True:
        r = acct.post(url, None)
        check(r.status == 200, "POST-as-GET %s (%s): %s" % (url, what, r))
        if done(r.json):
            return r
        check(time.time() - t0 < limit, "%s: still %s after %d s" % (what, r.json.get("status"), limit))
        ra = r.headers.get("Retry-After", "1")
        time.sleep(min(max(float(ra) if ra.isdigit() else 1, 0.2), 3))


def http01(acct, target, authz_url, how="ok"):
    """Answer the authorization's http-01 challenge as told; returns its URL."""
    r = acct.post(authz_url, None)
    check(r.status == 200 and r.json, "POST-as-GET authz: %s" % r)
    ch = [x for x in r.json.get("challenges", []) if x.get("type") == "http-01"]
    check(ch, "authz offers no http-01: %s" % r)
    tok = ch[0]["token"]
    target.routes[tok] = ("ok", tok + "." + acct.key.thumbprint()) if how == "ok" else (how,)
    r = acct.post(ch[0]["url"], {})
    check(r.status == 200, "POST challenge: %s" % r)
    return ch[0]["url"]


def order_ready(acct, target, names):
    r = acct.new_order(names)
    check(r.status == 201, "new-order %s: %s" % (names, r))
    order_url = r.headers.get("Location")
    check(order_url, "new-order: no Location")
    for az in r.json["authorizations"]:
        st = acct.post(az, None).json.get("status")
        if st == "pending":
            http01(acct, target, az)
            poll(acct, az, lambda j: j.get("status") != "pending", "authz " + az)
    o = poll(acct, order_url, lambda j: j.get("status") != "pending", "order " + order_url)
    check(o.json["status"] == "ready", "order not ready after validation: %s" % o)
    return order_url, o.json


def csr_for(names, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
    b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return key, b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def openssl(*args):
    return subprocess.run(["openssl"] + list(args), capture_output=True, text=True, timeout=30)


def report_csv():
    out = subprocess.run([ENV["REVD"], "report", "--dir", ENV["REVD_DIR"], "--ca", "sub", "--format", "csv"],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "revd report failed: %s" % out.stderr)
    return out.stdout


# ------------------------------------------------------------------ the test
def happy(c, target):
    global STEP
    STEP = "happy path"
    acct = Account(c, eab_key("--template", "server", "--allow", "example.test", "--allow", "127.0.0.0/8"))
    r = acct.post(acct.url, None)
    check(r.status == 200 and r.json.get("status") == "valid", "POST-as-GET account: %s" % r)
    order_url, o = order_ready(acct, target, ["happy.example.test"])
    r = acct.post(o["authorizations"][0], None)
    check(r.json.get("status") == "valid" and r.json["identifier"]["value"] == "happy.example.test",
          "authz after validation: %s" % r)
    ckey, csr = csr_for(["happy.example.test"])
    r = acct.post(o["finalize"], {"csr": b64u(csr)})
    check(r.status == 200 and r.json.get("status") in ("processing", "valid"), "finalize: %s" % r)
    o = poll(acct, order_url, lambda j: j.get("status") != "processing", "order after finalize").json
    check(o["status"] == "valid" and o.get("certificate"), "order after finalize: %s" % o)
    r = acct.post(o["certificate"], None)
    check(r.status == 200 and r.ctype.startswith("application/pem-certificate-chain"), "download: %s" % r)
    pem = r.body.decode()
    check(pem.count("BEGIN CERTIFICATE") >= 2, "the chain has no issuer certificate")
    leaf = os.path.join(TMP, "happy.pem")
    open(leaf, "w").write(pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    cert = x509.load_pem_x509_certificate(open(leaf, "rb").read())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    check(sans == ["happy.example.test"], "SANs %s" % sans)
    check(cert.public_key().public_numbers() == ckey.public_key().public_numbers(), "cert key is not the CSR's")
    if not PEBBLE:
        v = openssl("verify", "-CAfile", ENV["ROOT_PEM"], "-untrusted", ENV["SUB_PEM"], leaf)
        check(v.returncode == 0, "openssl verify: %s%s" % (v.stdout, v.stderr))
        check(ocsp(leaf) == "good", "OCSP of the new certificate")
    note("ok: happy path: account, order, http-01, finalize, chain, POST-as-GET order/authz/account")

    STEP = "revocation by the certificate's own key"
    der = cert.public_bytes(serialization.Encoding.DER)
    r = c.post(c.dir["revokeCert"], {"certificate": b64u(der), "reason": 1}, Key(ckey), jwk=True)
    check(r.status == 200, "revoke-cert signed by the certificate key: %s" % r)
    if not PEBBLE:
        for _ in range(50):
            if ocsp(leaf) == "revoked":
                break
            time.sleep(0.2)
        check(ocsp(leaf) == "revoked", "OCSP after revoking with the certificate's key")
        r = c.post(c.dir["revokeCert"], {"certificate": b64u(der)}, Key(ckey), jwk=True)
        problem(r, "alreadyRevoked", what="revoking twice")
    note("ok: revoke-cert with jwk = the certificate's key -> OCSP revoked")
    return acct, order_url


def ocsp(leaf):
    """What revd's OCSP listener says of leaf (good/revoked/...), asked at
    the certificate's own OCSP URL."""
    cert = x509.load_pem_x509_certificate(open(leaf, "rb").read())
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    urls = [d.access_location.value for d in aia if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP]
    check(urls and urls[0].startswith(ENV["OCSP_URL"]), "OCSP URL %s is not revd's --listen" % urls)
    o = openssl("ocsp", "-issuer", ENV["SUB_PEM"], "-cert", leaf, "-no_nonce", "-url", urls[0],
                "-CAfile", ENV["CHAIN_PEM"])
    for l in o.stdout.splitlines():
        if l.startswith(leaf + ": "):
            return l.split(": ", 1)[1].strip()
    return "no answer: " + o.stdout + o.stderr


def hostile_protocol(c, acct):
    """The JWS/nonce/account cases; returns [(name, fn)] each raising Fail."""
    no = c.dir["newOrder"]
    order = {"identifiers": [{"type": "dns", "value": "h.example.test"}]}
    cases = []

    def alg_none():
        r = acct.post(no, order, protected={"alg": "none"}, sig=lambda p, l: b"")
        return problem(r, "badSignatureAlgorithm", what="JWS alg none")
    cases.append(("alg none -> badSignatureAlgorithm", alg_none))

    def alg_hs256():
        r = acct.post(no, order, protected={"alg": "HS256"},
                      sig=lambda p, l: hmac.new(b"k" * 32, (p + "." + l).encode(), hashlib.sha256).digest())
        return problem(r, "badSignatureAlgorithm", what="outer JWS alg HS256")
    cases.append(("outer alg HS256 -> badSignatureAlgorithm", alg_hs256))

    def url_mismatch():
        r = acct.post(no, order, protected={"url": c.dir["newAccount"]})
        return problem(r, "unauthorized", what="protected url differs from the request URL")
    cases.append(("url mismatch -> unauthorized", url_mismatch))

    def nonce_twice():
        n = c.new_nonce()
        r = acct.post(acct.url, None, nonce=n)
        check(r.status == 200, "first use of a nonce: %s" % r)
        r = acct.post(acct.url, None, nonce=n)
        return problem(r, "badNonce", what="a nonce used twice")
    cases.append(("nonce used twice -> badNonce", nonce_twice))

    def nonce_made_up():
        r = acct.post(acct.url, None, nonce=b64u(os.urandom(16)))
        return problem(r, "badNonce", what="a made-up nonce")
    cases.append(("made-up nonce -> badNonce", nonce_made_up))

    def unknown_kid():
        kid = acct.url.rstrip("/").rsplit("/", 1)[0] + "/" + "9" * 12
        r = c.post(no, order, Key(), kid)
        return problem(r, "accountDoesNotExist", what="kid of an unknown account")
    cases.append(("unknown kid -> accountDoesNotExist", unknown_kid))

    def other_key():
        r = c.post(no, order, Key(), acct.url)
        return problem(r, ("malformed", "unauthorized"), what="signature by another key")
    cases.append(("signature by another key -> malformed|unauthorized", other_key))

    def too_big():
        body = c.jws(no, {"identifiers": order["identifiers"], "pad": "A" * 70000}, acct.key, acct.url)
        check(len(body) > 65536, "test body is not over 64 KiB")
        try:
            r = c.post(no, None, acct.key, raw=body)
        except Fail as e:
            raise Fail("a body over 64 KiB: no answer (%s)" % e)
        return problem(r, "malformed", statuses=(400, 413), what="a body over 64 KiB")
    cases.append(("body over 64 KiB -> malformed (400/413)", too_big))

    def no_eab():
        r = new_account(c, Key())
        return problem(r, "externalAccountRequired", what="new-account without EAB")
    cases.append(("new-account without EAB -> externalAccountRequired", no_eab))

    def eab_wrong_hmac():
        kid, mac = eab_key("--allow", "example.test")
        r = new_account(c, Key(), (kid, mac, os.urandom(32)))
        return problem(r, "unauthorized", what="EAB with a wrong HMAC")
    cases.append(("EAB wrong HMAC -> unauthorized", eab_wrong_hmac))
    return cases


def run_cases(cases):
    for name, fn in cases:
        if PEBBLE:
            try:
                got = fn()
                note("pebble: %s: answered %s" % (name, got))
            except Fail as e:
                note("pebble: %s: differs: %s" % (name, e))
            continue
        global STEP
        STEP = name
        got = fn()
        note("ok: %s%s" % (name, " (%s)" % got if got else ""))


def main():
    global STEP
    c = Client(ENV["DIR_URL"], ENV["CA_BUNDLE"])
    STEP = "directory"
    for k in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
        check(k in c.dir, "directory lacks %s" % k)
    target = Target(int(ENV["HTTP_PORT"]))
    try:
        acct, _ = happy(c, target)
        run_cases(hostile_protocol(c, acct))
        run_cases(hostile_orders(c, acct, target))
        if PEBBLE:
            return
        STEP = "afterwards"
        r = c.get(ENV["DIR_URL"])
        check(r.status == 200 and r.json and "newOrder" in r.json, "directory after the hostile input: %s" % r)
        rep = report_csv()
        for n in ("other.example.test", "evil.other.test", "loop.example.test", "slow.example.test"):
            check(n not in rep, "revd report shows a certificate for refused %s" % n)
        note("ok: the directory still answers; nothing issued for the refused names")
    finally:
        target.close()


def hostile_orders(c, acct, target):
    """The order/validation cases; the hanging and redirecting http-01
    validations start here and are checked by the last two cases."""
    pend, t_start = {}, time.time()
    for name, how in (("loop.example.test", "redirect"), ("slow.example.test", "slow")):
        r = acct.new_order([name])
        check(r.status == 201, "new-order %s: %s" % (name, r))
        az = r.json["authorizations"][0]
        http01(acct, target, az, how)
        pend[name] = az
    cases = []

    def answers_meanwhile():
        time.sleep(1)
        for _ in range(3):
            t0 = time.time()
            r = c.get(c.dir["newNonce"])
            check(r.status in (200, 204) and r.headers.get("Replay-Nonce"), "GET new-nonce during validation: %s" % r)
            r = acct.post(acct.url, None)
            check(r.status == 200, "POST-as-GET account during validation: %s" % r)
            check(time.time() - t0 < 5, "the server took %.1f s to answer during a validation" % (time.time() - t0))
    cases.append(("new-nonce and account answer while a validation hangs", answers_meanwhile))

    def bad_csr():
        _, o = order_ready(acct, target, ["csr.example.test"])
        _, csr = csr_for(["other.example.test"])
        problem(acct.post(o["finalize"], {"csr": b64u(csr)}), "badCSR", what="finalize, CSR names differ")
        _, csr = csr_for(["csr.example.test", "other.example.test"])
        return problem(acct.post(o["finalize"], {"csr": b64u(csr)}), "badCSR", what="finalize, CSR has an extra name")
    cases.append(("finalize with a CSR for other names -> badCSR", bad_csr))

    def rejected():
        problem(acct.new_order(["evil.other.test"]), "rejectedIdentifier", what="new-order outside --allow")
        return problem(acct.new_order(["a.example.test", "evil.other.test"]), "rejectedIdentifier",
                       what="new-order with one name outside --allow")
    cases.append(("new-order outside the EAB allow list -> rejectedIdentifier", rejected))

    def ends_invalid(name):
        def fn():
            left = max(60 - (time.time() - t_start), 5)
            r = poll(acct, pend[name], lambda j: j.get("status") != "pending", "authz " + name, limit=left)
            check(r.json["status"] == "invalid", "authz of %s: %s" % (name, r))
            ch = [x for x in r.json["challenges"] if x.get("type") == "http-01"][0]
            check(ch.get("status") == "invalid", "challenge of %s: %s" % (name, ch))
            e = ch.get("error")
            check(isinstance(e, dict) and str(e.get("type", "")).startswith(ERR),
                  "invalid challenge of %s has no problem: %s" % (name, ch))
            tok = ch["token"]
            check(target.hits.get(tok, 0) >= 1, "the %s target was never asked" % name)
            return "after %.0f s, %s: %s" % (time.time() - t_start, e["type"][len(ERR):], e.get("detail", ""))
        return fn
    cases.append(("http-01 target redirecting forever -> authz invalid", ends_invalid("loop.example.test")))
    cases.append(("http-01 target that never answers -> authz invalid", ends_invalid("slow.example.test")))
    cases.append(("a flood of 400 new-orders -> rateLimited (429)", lambda: flood(c)))
    if not PEBBLE:
        cases.append(("a flood of new-accounts from one address -> rateLimited (429)", lambda: account_flood(c)))
    return cases


def account_flood(c):
    """--acme-accounts-per-hour 30 (test_acme_hostile.sh): the accounts the
    test made before count too; within 40 more, one is refused."""
    kid, hm = eab_key("--allow", "example.test")
    for i in range(40):
        key = Key()
        r = new_account(c, key, (kid, hm))
        if r.status == 201:
            continue
        problem(r, "rateLimited", statuses=(429,), what="new-account #%d of the flood" % (i + 1))
        check(r.headers.get("Retry-After"), "a rateLimited new-account without Retry-After")
        return "refused at the %d-th of the flood" % (i + 1)
    raise Fail("40 new accounts from one address in a row, none rateLimited")


def flood(c):
    a = Account(c, eab_key("--allow", "example.test"))
    created = limited = 0
    for i in range(400):
        r = a.new_order(["f%d.example.test" % i])
        if r.status == 201:
            created += 1
            continue
        problem(r, "rateLimited", statuses=(429,), what="new-order #%d of the flood" % (i + 1))
        limited += 1
    check(limited > 0, "400 new-orders in a row, none rateLimited")
    check(created <= 50, "%d orders created with --acme-orders-per-hour 50" % created)
    return "%d created, %d rateLimited" % (created, limited)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("FAIL: test_acme_hostile: [%s] %s" % (STEP, e))
        sys.exit(1)
    print("PASS (python part)")
