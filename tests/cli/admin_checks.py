"""The admin API's checks for test_admin.sh: a real TLS client (Python's ssl,
with client certificates), JSON in and out, against a running revd serve.

admin_checks.py [--approval|--expired] ADMIN_PORT CREDS_DIR TMP DATA_DIR OCSP_PORT REVD"""
import concurrent.futures
import http.client
import warnings
import json
import os
import ssl
import subprocess
import sys
import time

approval = sys.argv[1] == "--approval"
expired = sys.argv[1] == "--expired"
args = sys.argv[2:] if approval or expired else sys.argv[1:]
APORT, CREDS, TMP, DATA, OPORT, REVD = int(args[0]), args[1], args[2], args[3], int(args[4]), args[5]
failures = []
warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 and 1.1 are asked for on purpose


class Admin:
    def __init__(self, name, max_version=None, min_version=None, seclevel0=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(CREDS + "/ca.pem")
        if name is not None:
            ctx.load_cert_chain("%s/%s.pem" % (CREDS, name), "%s/%s.key" % (CREDS, name))
        if seclevel0:
            ctx.set_ciphers("DEFAULT@SECLEVEL=0")
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
        self.ctx, self.name = ctx, name

    def call(self, method, path, body=None, raw=None, ctype="application/json"):
        c = http.client.HTTPSConnection("127.0.0.1", APORT, context=self.ctx, timeout=20)
        data = json.dumps(body).encode() if body is not None else raw
        headers = {"Content-Type": ctype} if data is not None else {}
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read()
        version = c.sock.version() if c.sock else None
        c.close()
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = {"not_json": text[:200].decode("latin-1")}
        self.version = version
        return r.status, j


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAILED:", what)


def expect(who, method, path, status, body=None, **kw):
    st, j = who.call(method, path, body, **kw)
    check(st == status, "%s %s %s as %s: expected %d, got %d %s" % (method, path, str(body)[:60], who.name, status,
                                                                       st, j))
    if st >= 400:
        check(isinstance(j, dict) and "error" in j and "message" in j,
              "%s %s: a %d without a JSON error: %s" % (method, path, st, j))
    return j


def log_len():
    """The audit records of calls (the server's own, CRL signatures, left out)."""
    out = subprocess.run([REVD, "log", "--dir", DATA], capture_output=True, text=True, check=True).stdout
    return sum(1 for l in out.splitlines() if '"principal":"revd serve"' not in l)


def cas():
    out = subprocess.run([REVD, "ca", "list", "--json", "--dir", DATA], capture_output=True, text=True,
                         check=True).stdout
    return {c["name"]: c["state"] for c in json.loads(out)}


def handshake_fails(who):
    try:
        who.call("GET", "/v1/cas")
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return False


alice, bob, ian, rita, aud, eve = (Admin(n) for n in ("alice", "bob", "ian", "rita", "aud", "eve"))
csr = open(TMP + "/ee.csr").read()

if approval:
    before = cas()
    j = expect(alice, "POST", "/v1/cas", 202, {"name": "appr", "subject": "/CN=appr"})
    check("appr" not in cas(), "a CA was created before its approval")
    aid = j["approval"]
    j = expect(aud, "GET", "/v1/approvals", 403)
    j = expect(bob, "GET", "/v1/approvals", 200)
    check([a["approval"] for a in j["approvals"]] == [aid], "the pending approvals: %s" % j)
    expect(alice, "POST", "/v1/approvals/%s/approve" % aid, 403)          # not the one who asked
    expect(ian, "POST", "/v1/approvals/%s/approve" % aid, 403)            # not an admin
    j = expect(bob, "POST", "/v1/approvals/%s/approve" % aid, 201)
    check(j and j.get("name") == "appr" and cas().get("appr") == "active", "the approved CA: %s" % j)
    expect(bob, "POST", "/v1/approvals/%s/approve" % aid, 404)            # once
    j = expect(bob, "POST", "/v1/cas/appr/delete", 202, {"restore_days": 7})
    check(cas()["appr"] == "active", "deleted before its approval")
    expect(alice, "POST", "/v1/approvals/%s/approve" % j["approval"], 200)
    check(cas()["appr"] == "deleted", "the approved deletion")
    # Undoing an approved deletion needs a second admin too.
    def approve(who, j, status):
        if isinstance(j, dict) and "approval" in j:   # else the call ran without one (already failed)
            expect(who, "POST", "/v1/approvals/%s/approve" % j["approval"], status)
    j = expect(alice, "POST", "/v1/cas/appr/restore", 202)
    check(cas()["appr"] == "deleted", "a CA was restored before its approval")
    approve(alice, j, 403)
    approve(bob, j, 200)
    check(cas()["appr"] == "active", "the approved restore: %s" % cas()["appr"])
    # A root's disable and enable are a ceremony; a subordinate's are not.
    j = expect(alice, "POST", "/v1/cas/r/disable", 202)
    check(cas()["r"] == "active", "a root was disabled before its approval")
    approve(bob, j, 200)
    check(cas()["r"] == "disabled", "the approved disable of a root: %s" % cas()["r"])
    j = expect(bob, "POST", "/v1/cas/r/enable", 202)
    check(cas()["r"] == "disabled", "a root was enabled before its approval")
    approve(bob, j, 403)
    approve(alice, j, 200)
    check(cas()["r"] == "active", "the approved enable of a root: %s" % cas()["r"])
    expect(alice, "POST", "/v1/cas/s/disable", 200)   # a subordinate's need no approval
    check(cas()["s"] == "disabled", "a subordinate's disable")
    expect(alice, "POST", "/v1/cas/s/enable", 200)
    expect(alice, "POST", "/v1/cas/nope/disable", 404)
    expect(alice, "POST", "/v1/cas", 400, {"name": "bad", "subject": "/CN=x", "colour": "red"})  # checked first
    expect(alice, "POST", "/v1/cas", 400, {"name": None, "subject": "/CN=x"})
    # A credential too: else one admin could make a second admin credential and approve alone.
    j = expect(alice, "POST", "/v1/credentials", 202,
               {"name": "alice2", "role": "admin", "csr": open(TMP + "/a2.csr").read()})
    expect(alice, "POST", "/v1/approvals/%s/approve" % j["approval"], 403)
    j2 = expect(alice, "POST", "/v1/credentials/aud/revoke", 202)
    # A request whose asker lost their credential is void.
    j3 = expect(bob, "POST", "/v1/cas", 202, {"name": "void", "subject": "/CN=void"})
    subprocess.run([REVD, "admin", "revoke-credential", "bob", "--dir", DATA], check=True, capture_output=True)
    expect(alice, "POST", "/v1/approvals/%s/approve" % j3["approval"], 403)
    check("void" not in cas(), "an approval asked by a revoked credential ran")
    expect(alice, "POST", "/v1/approvals/%s/approve" % j3["approval"], 404)   # dropped
    check(all(a["name"] != "alice2" for a in json.loads(subprocess.run(
        [REVD, "admin", "list-credentials", "--json", "--dir", DATA], capture_output=True, text=True).stdout)),
        "a credential was issued without approval")
    expect(alice, "POST", "/v1/cas/appr/disable", 202)   # a root: it waits (the approvals list keeps it)
    sys.exit(1 if failures else 0)

if expired:
    # The server runs under libfaketime, its clock read from CLOCK: brief's
    # credential (issued 21 h ago for a day) asks, then the clock moves 4 h
    # on, past its notAfter (and not past the request's day).
    brief = Admin("brief")
    j = expect(brief, "POST", "/v1/cas", 202, {"name": "late", "subject": "/CN=late"})
    clock = os.environ["CLOCK"]
    open(clock + ".new", "w").write("+4h\n")
    os.rename(clock + ".new", clock)
    time.sleep(0.2)
    st, k = alice.call("POST", "/v1/approvals/%s/approve" % j["approval"])
    check(st == 403 and "brief" in k.get("message", "") and "expired" in k.get("message", ""),
          "approving a request whose asker's credential expired: %d %s" % (st, k))
    check("late" not in cas(), "an approval asked by an expired credential ran")
    expect(alice, "POST", "/v1/approvals/%s/approve" % j["approval"], 404)   # dropped
    check(handshake_fails(brief), "an expired credential got through the handshake")
    sys.exit(1 if failures else 0)

# ---- TLS ----
check(handshake_fails(Admin(None)), "a client without a certificate got through the handshake")
check(handshake_fails(Admin("mallory")), "a certificate from another CA got through the handshake")
check(handshake_fails(Admin("alice", min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1,
                            seclevel0=True)),
      "TLS 1.1 was accepted")
t12 = Admin("alice", max_version=ssl.TLSVersion.TLSv1_2)
expect(t12, "GET", "/v1/cas", 200)
check(t12.version == "TLSv1.2", "TLS 1.2: negotiated %s" % t12.version)
expect(alice, "GET", "/v1/cas", 200)
check(alice.version == "TLSv1.3", "TLS 1.3: negotiated %s" % alice.version)

# ---- issuer: issue, get, describe, within s and end-entity ----
n0 = log_len()
j = expect(ian, "POST", "/v1/cas/s/certificates", 201, {"csr": csr, "days": 30})
open(TMP + "/api1.pem", "w").write(j["certificate"])
serial = j["serial"]
v = subprocess.run(["openssl", "verify", "-CAfile", DATA + "/ca/r.pem", "-untrusted", DATA + "/ca/s.pem",
                    TMP + "/api1.pem"], capture_output=True, text=True)
check(v.returncode == 0, "the issued certificate does not verify: %s" % v.stdout + v.stderr)
j = expect(ian, "GET", "/v1/cas/s/certificates/" + serial, 200)
check(j["status"] == "good" and "BEGIN CERTIFICATE" in j.get("certificate", ""), "get: %s" % j)
expect(ian, "GET", "/v1/cas/s", 200)
expect(ian, "POST", "/v1/cas/t/certificates", 403, {"csr": csr})                        # CA outside its scope
expect(ian, "POST", "/v1/cas/s/certificates", 403, {"csr": csr, "template": "server"})  # template outside
j = expect(ian, "POST", "/v1/cas/s/certificates/%s/revoke" % serial, 403, {})           # role
check("role issuer may not revoke" in j["message"], "the refusal says why: %s" % j)
expect(ian, "GET", "/v1/cas", 403)
expect(ian, "GET", "/v1/audit", 403)
expect(ian, "POST", "/v1/cas", 403, {"name": "x", "subject": "/CN=x"})
expect(ian, "POST", "/v1/credentials", 403, {"name": "x", "role": "admin", "csr": csr})
check(subprocess.run(["openssl", "x509", "-in", TMP + "/api1.pem", "-noout"]).returncode == 0, "api1.pem")

# ---- revoker: revoke, unhold, status, within s ----
j = expect(rita, "POST", "/v1/cas/s/certificates", 403, {"csr": csr})
check("role revoker may not issue" in j["message"], "the refusal says why: %s" % j)
j = expect(rita, "GET", "/v1/cas/s/certificates/" + serial, 200)
check("certificate" not in j, "a revoker got the certificate bytes: %s" % list(j))
expect(rita, "POST", "/v1/cas/s/certificates/%s/revoke" % serial, 200, {"reason": "certificateHold"})
j = expect(rita, "POST", "/v1/cas/s/certificates/%s/unhold" % serial, 200)
j = expect(rita, "POST", "/v1/cas/s/certificates/%s/revoke" % serial, 200, {"reason": "keyCompromise"})
check(j["status"] == "revoked" and j["reason"] == "keyCompromise", "revoke: %s" % j)
o = subprocess.run(["openssl", "ocsp", "-issuer", DATA + "/ca/s.pem", "-cert", TMP + "/api1.pem", "-no_nonce",
                    "-url", "http://127.0.0.1:%d/ocsp" % OPORT, "-CAfile", DATA + "/ca/r.pem",
                    "-verify_other", DATA + "/ca/s.pem"], capture_output=True, text=True)
check(TMP + "/api1.pem: revoked" in o.stdout, "OCSP after an API revocation: %s" % (o.stdout + o.stderr))
expect(rita, "POST", "/v1/cas/t/certificates/%s/revoke" % serial, 403, {})
expect(rita, "GET", "/v1/cas/s", 403)
expect(rita, "GET", "/v1/cas/s/report", 403)
expect(rita, "POST", "/v1/cas/s/disable", 403)

# ---- auditor: reads only ----
j = expect(aud, "GET", "/v1/audit?from=1&limit=5", 200)
check(len(j["records"]) == 5 and j["records"][0]["seq"] == 1 and j.get("next_from") == 6, "audit paging: %s" % j)
j = expect(aud, "GET", "/v1/audit/verify", 200)
check(j["intact"] is True, "audit verify over the API: %s" % j)
j = expect(aud, "GET", "/v1/cas/s/report", 200)
check(any(c["serial"] == serial and c["status"] == "revoked" for c in j["certificates"]), "report: %s" % j)
expect(aud, "GET", "/v1/credentials", 200)
expect(aud, "GET", "/v1/cas", 200)
expect(aud, "POST", "/v1/cas", 403, {"name": "x", "subject": "/CN=x"})
expect(aud, "POST", "/v1/cas/s/disable", 403)
expect(aud, "POST", "/v1/cas/s/certificates/%s/unhold" % serial, 403)
expect(aud, "POST", "/v1/credentials/ian/revoke", 403)

# ---- admin: lifecycle and credentials, but not issue or revoke ----
j = expect(alice, "POST", "/v1/cas", 201, {"name": "u", "parent": "r", "subject": "/CN=u", "days": 400})
check(j["state"] == "active" and j["parent"] == "r", "create: %s" % j)
expect(alice, "POST", "/v1/cas/u/disable", 200)
expect(alice, "POST", "/v1/cas/u/enable", 200)
j = expect(alice, "POST", "/v1/cas/u/delete", 200, {"restore_days": 7})
check(j["state"] == "deleted" and "restore_until" in j, "delete: %s" % j)
expect(alice, "POST", "/v1/cas/u/restore", 200)
expect(alice, "POST", "/v1/cas/s/crl-rebuild", 202)
expect(alice, "POST", "/v1/cas/s/certificates", 403, {"csr": csr})
expect(alice, "POST", "/v1/cas/s/certificates/%s/revoke" % serial, 403, {})
expect(alice, "GET", "/v1/audit", 403)
j = expect(alice, "POST", "/v1/credentials", 201,
           {"name": "carol", "role": "revoker", "cas": "s", "csr": open(TMP + "/cr.csr").read()})
check("BEGIN CERTIFICATE" in j["certificate"], "credential issue: %s" % j)
expect(alice, "POST", "/v1/credentials", 422, {"name": "carol", "role": "revoker", "cas": "s", "csr": csr})
expect(alice, "POST", "/v1/cas/nope/disable", 404)
expect(alice, "POST", "/v1/cas/r/delete", 422)   # r has subordinates that are not deleted

# ---- refusals are recorded within a rate: a client looping on 403s cannot stall the CA ----
def forbidden_records():
    out = subprocess.run([REVD, "log", "--dir", DATA], capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if '"op":"admin-forbidden' in l and '"cred:aud(auditor)"' in l]
before = len(forbidden_records())
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    codes = list(pool.map(lambda _: aud.call("POST", "/v1/cas/s/disable")[0], range(40)))
secs = int(time.time() - t0) + 1
check(codes == [403] * 40, "the burst: %s" % codes)
mid = forbidden_records()
recorded = len([r for r in mid[before:] if r["op"] == "admin-forbidden"])
check(recorded <= 10 * (secs + 1), "40 refusals in %d s made %d records (at most 10 a second)" % (secs, recorded))
time.sleep(1.1)
expect(aud, "POST", "/v1/cas/s/disable", 403)   # the next refusal brings the count of those not recorded
after = forbidden_records()
suppressed = sum(r["params"]["count"] for r in after[before:] if r["op"] == "admin-forbidden-suppressed")
check(recorded + suppressed == 40, "refusals recorded %d + counted %d != 40" % (recorded, suppressed))

# ---- ACME EAB keys through the admin API: admins only, the HMAC key shown once ----
j = expect(alice, "POST", "/v1/acme/eab", 201, {"ca": "s", "templates": "server,short-lived", "allow": ["example.test"]})
check(len(j.get("kid", "")) == 22 and len(j.get("hmac", "")) == 43, "EAB create answer: %s" % j)
lst = expect(alice, "GET", "/v1/acme/eab", 200)
mine = [x for x in lst.get("eab_keys", []) if x.get("kid") == j.get("kid")]
check(len(mine) == 1 and "hmac" not in mine[0] and mine[0].get("templates") == ["server", "short-lived"],
      "EAB list: %s" % lst)
expect(ian, "POST", "/v1/acme/eab", 403, {"ca": "s"})
expect(aud, "GET", "/v1/acme/eab", 403)
expect(alice, "POST", "/v1/acme/eab", 422, {"ca": "s", "allow": ["*.bad"]})
expect(alice, "POST", "/v1/acme/eab", 422, {"ca": "s", "templates": "sub-ca"})
expect(alice, "POST", "/v1/acme/eab", 400, {"ca": "s", "hmac": "mine"})
expect(alice, "POST", "/v1/acme/eab/%s/revoke" % j.get("kid"), 200)
expect(alice, "POST", "/v1/acme/eab/%s/revoke" % j.get("kid"), 422)
lst = expect(alice, "GET", "/v1/acme/eab", 200)
check(any(x.get("kid") == j.get("kid") and x.get("revoked") is True for x in lst.get("eab_keys", [])),
      "EAB list after revoke: %s" % lst)

# ---- a revoked credential is refused from its next request ----
expect(eve, "GET", "/v1/cas/s", 200)
# An issuer's "*" covers every template but ocsp-signing: a delegated OCSP
# responder could sign any status for the CA; a credential must name it.
j = expect(eve, "POST", "/v1/cas/s/certificates", 403, {"csr": csr, "template": "ocsp-signing"})
check("ocsp-signing" in j.get("message", ""), "the refusal names the template: %s" % j)
expect(eve, "POST", "/v1/cas/s/certificates", 201, {"csr": csr, "template": "server", "days": 1})
expect(alice, "POST", "/v1/credentials/eve/revoke", 200)
expect(eve, "GET", "/v1/cas/s", 403)

# ---- bad input: a 4xx with a JSON error, nothing changed, nothing logged ----
n1, cas1 = log_len(), cas()
expect(alice, "POST", "/v1/cas", 400, raw=b'{"name": "x", "subject": ')
expect(alice, "POST", "/v1/cas", 400, raw=b'["not", "an", "object"]')
expect(alice, "POST", "/v1/cas", 400, raw=b'{"name": "x", "name": "y", "subject": "/CN=x"}')
expect(alice, "POST", "/v1/cas", 400, {"name": "x", "subject": "/CN=x", "colour": "red"})
expect(alice, "POST", "/v1/cas", 400, {"name": 7, "subject": "/CN=x"})
expect(alice, "POST", "/v1/cas", 400, {"subject": "/CN=x"})
expect(alice, "POST", "/v1/cas", 400, {"name": None, "subject": "/CN=x"})   # null is missing, not a crash
expect(alice, "POST", "/v1/cas", 400, {"name": "x", "subject": "/CN=x", "days": -1})
expect(alice, "POST", "/v1/cas", 400, {"name": "x", "subject": "/CN=x", "key": "dsa-1024"})
expect(alice, "POST", "/v1/cas", 413, raw=b'{"name": "' + b"x" * 70000 + b'"}')
expect(alice, "POST", "/v1/cas", 415, raw=b'{"name": "x", "subject": "/CN=x"}', ctype="text/plain")
expect(alice, "GET", "/v1/cas", 400, raw=b'{}')
expect(alice, "GET", "/v1/nothing", 404)
expect(alice, "GET", "/v2/cas", 404)
expect(alice, "GET", "/v1/cas/s/disable", 405)
expect(alice, "PUT", "/v1/cas", 405, {})
expect(alice, "GET", "/v1/cas/s/certificates/ZZZZ", 403)  # a GET on a certificate: not an admin's
expect(aud, "GET", "/v1/cas/s/certificates/ZZZZ", 400)
expect(aud, "GET", "/v1/audit?limit=0", 400)
expect(aud, "GET", "/v1/audit?from=-1", 400)
expect(rita, "POST", "/v1/cas/s/certificates/%s/revoke" % serial, 400, {"reason": "becauseISaidSo"})
expect(ian, "POST", "/v1/cas/s/certificates", 400, {"csr": csr, "days": 10, "hours": 5})
expect(ian, "POST", "/v1/cas/s/certificates", 422, {"csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"})
check(cas() == cas1, "bad input changed the CAs: %s" % cas())
n2 = log_len()
# Only the refused issuance (a CA core refusal is logged as it always is) and the
# admin's refused certificate GET (a role refusal) add records.
if n2 - n1 != 2:
    out = subprocess.run([REVD, "log", "--dir", DATA], capture_output=True, text=True).stdout
    out = "\n".join(l for l in out.splitlines() if '"principal":"revd serve"' not in l).splitlines()[n1:]
    check(False, "bad input added %d log records (expected 2): %s" % (n2 - n1, out))

sys.exit(1 if failures else 0)
