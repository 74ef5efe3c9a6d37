#!/usr/bin/python3
"""test_acme_renewal.py PHASE: ACME Renewal Information (RFC 9773), key
rollover, deactivation, and what survives a restart of revd, driven with
test_acme_hostile.py's client. Run by test_acme_renewal.sh (same
environment), in two phases around a restart of the server:

  before   issue A and B; ARI of A: the last third of its life but the last
           sixth, with Retry-After; `revd acme renew-early --serial A
           --hours 2`: a window from now, 2 h wide; B revoked through ACME:
           a window already begun; new-order replaces A (ok) and replaces a
           made-up certificate (malformed); unknown and malformed certIDs
           (404, 400); key rollover (the old key's signature no longer
           verifies, the new key's does); deactivation (then unauthorized).
           Saves to ACME_TMP/state.json: an unused nonce, a spent one, the
           account, its key, an order URL.
  after    (revd restarted) the unused nonce works once, the spent one is
           badNonce, the order is still valid with its certificate, ARI of
           A still says renew now.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_acme_hostile as h  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

check, b64u, ENV = h.check, h.b64u, h.ENV
STATE = os.path.join(h.TMP, "state.json")


def iso(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def issue(acct, target, name):
    order_url, o = h.order_ready(acct, target, [name])
    _, csr = h.csr_for([name])
    r = acct.post(o["finalize"], {"csr": b64u(csr)})
    check(r.status == 200, "finalize: %s" % r)
    o = h.poll(acct, order_url, lambda j: j.get("status") != "processing", "order").json
    check(o["status"] == "valid", "order: %s" % o)
    pem = acct.post(o["certificate"], None).body.decode()
    cert = x509.load_pem_x509_certificate(pem.encode())
    return order_url, cert


def cert_id(cert):
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    n = cert.serial_number
    sn = n.to_bytes((n.bit_length() + 8) // 8, "big")  # DER INTEGER content: a leading 0 when the top bit is set
    if len(sn) > 1 and sn[0] == 0 and not sn[1] & 0x80:
        sn = sn[1:]
    return b64u(aki) + "." + b64u(sn)


def ari(c, cert):
    r = c.get(c.dir["renewalInfo"] + "/" + cert_id(cert))
    check(r.status == 200 and r.json and "suggestedWindow" in r.json, "renewal-info: %s" % r)
    check(r.headers.get("Retry-After"), "renewal-info without Retry-After")
    w = r.json["suggestedWindow"]
    return iso(w["start"]), iso(w["end"])


def revd(*args):
    out = subprocess.run([ENV["REVD"]] + list(args) + ["--dir", ENV["REVD_DIR"]], capture_output=True, text=True,
                         timeout=60)
    check(out.returncode == 0, "revd %s: %s%s" % (" ".join(args), out.stdout, out.stderr))
    return out.stdout


def windows(c, acct, target, state):
    check("renewalInfo" in c.dir, "the directory has no renewalInfo")
    order_a, a = issue(acct, target, "ari-a.example.test")
    nb, na = a.not_valid_before.timestamp(), a.not_valid_after.timestamp()
    s, e = ari(c, a)
    life = na - nb
    check(abs(s - (nb + life * 2 / 3)) < 5 and abs(e - (nb + life * 5 / 6)) < 5 and nb < s < e < na,
          "the normal window of A is not the last third but a sixth: %s..%s in %s..%s" % (s, e, nb, na))
    h.note("ok: ARI of a fresh certificate: day %.0f to %.0f of %.0f" % ((s - nb) / 86400, (e - nb) / 86400,
                                                                       life / 86400))
    revd("acme", "renew-early", "--ca", "sub", "--serial", "%X" % a.serial_number, "--hours", "2")
    s, e = ari(c, a)
    now = time.time()
    check(abs(s - now) < 30 and abs(e - s - 7200) < 2, "after renew-early: %s..%s (now %s)" % (s, e, now))
    h.note("ok: revd acme renew-early --hours 2: a window from now, 2 h wide")
    _, b = issue(acct, target, "ari-b.example.test")
    der = b.public_bytes(serialization.Encoding.DER)
    r = acct.post(c.dir["revokeCert"], {"certificate": b64u(der), "reason": 4})
    check(r.status == 200, "revoke B by its account: %s" % r)
    s, e = ari(c, b)
    check(s <= time.time() < e, "ARI of revoked B does not say now: %s..%s" % (s, e))
    h.note("ok: ARI of a revoked certificate: renew now")
    ids = [{"type": "dns", "value": "ari-a.example.test"}]
    r = acct.post(c.dir["newOrder"], {"identifiers": ids, "replaces": cert_id(a)})
    check(r.status == 201, "new-order replacing A: %s" % r)
    r = acct.post(c.dir["newOrder"], {"identifiers": ids, "replaces": b64u(b"\x01\x02") + "." + b64u(b"\x05")})
    h.problem(r, "malformed", what="replaces a made-up certificate")
    r = c.get(c.dir["renewalInfo"] + "/" + b64u(b"\x01\x02") + "." + b64u(b"\x05"))
    check(r.status == 404, "renewal-info of an unknown certificate: %s" % r)
    r = c.get(c.dir["renewalInfo"] + "/not-a-cert-id")
    check(r.status == 400, "renewal-info of a malformed id: %s" % r)
    h.note("ok: replaces; unknown (404) and malformed (400) certIDs")
    state.update(order=order_a, cert_a=a.public_bytes(serialization.Encoding.PEM).decode())


def rollover(c, acct):
    old, new = acct.key, h.Key()
    inner = c.jws(c.dir["keyChange"], {"account": acct.url, "oldKey": old.jwk}, new, jwk=True, nonce="-",
                  protected={"nonce": None})
    r = acct.post(c.dir["keyChange"], json.loads(inner))
    check(r.status == 200, "key-change: %s" % r)
    r = acct.post(acct.url, None)
    check(r.status >= 400, "the old key still works after key-change: %s" % r)
    acct.key = new
    r = acct.post(acct.url, None)
    check(r.status == 200, "the new key does not work after key-change: %s" % r)
    h.note("ok: key rollover: the old key refused, the new one accepted")


def deactivate(c, target):
    other = h.Account(c, h.eab_key("--allow", "example.test"))
    r = other.post(other.url, {"status": "deactivated"})
    check(r.status == 200 and r.json.get("status") == "deactivated", "deactivate: %s" % r)
    h.problem(other.post(other.url, None), "unauthorized", what="a deactivated account")
    h.note("ok: a deactivated account is refused")


def constraints(c, target):
    acct = h.Account(c, h.eab_key_for("narrow", "--template", "server,short-lived"))
    r = acct.new_order(["www.other.test"])
    h.problem(r, "rejectedIdentifier", what="a name outside CA narrow's constraints")
    check("PCA_NAME_CONSTRAINTS_VALIDATION" in r.json.get("detail", ""), "no machine-readable reason: %s" % r)
    order_url, cert = issue(acct, target, "inside.example.test")
    check(cert.issuer.rfc4514_string() == "CN=narrow", "issued by %s" % cert.issuer.rfc4514_string())
    h.note("ok: name constraints: outside refused at new-order (PCA_NAME_CONSTRAINTS_VALIDATION), inside issued")
    check(set(c.dir["meta"].get("profiles", {})) >= {"server", "short-lived"}, "meta.profiles: %s" % c.dir["meta"])
    ids = [{"type": "dns", "value": "short.example.test"}]
    h.problem(acct.post(c.dir["newOrder"], {"identifiers": ids, "profile": "client"}), "invalidProfile",
              what="a profile the EAB key does not list")
    r = acct.post(c.dir["newOrder"], {"identifiers": ids, "profile": "short-lived"})
    check(r.status == 201 and r.json.get("profile") == "short-lived", "short-lived order: %s" % r)
    order_url = r.headers["Location"]
    az = r.json["authorizations"][0]
    h.http01(acct, target, az)
    h.poll(acct, az, lambda j: j.get("status") != "pending", "authz")
    o = h.poll(acct, order_url, lambda j: j.get("status") != "pending", "order").json
    _, csr = h.csr_for(["short.example.test"])
    r = acct.post(o["finalize"], {"csr": b64u(csr)})
    o = h.poll(acct, order_url, lambda j: j.get("status") != "processing", "order").json
    check(o["status"] == "valid", "short-lived order: %s" % o)
    cert = x509.load_pem_x509_certificate(acct.post(o["certificate"], None).body)
    life = cert.not_valid_after - cert.not_valid_before
    check(life.total_seconds() <= 7 * 86400, "short-lived lives %s" % life)
    exts = {e.oid for e in cert.extensions}
    check(x509.oid.ExtensionOID.CRL_DISTRIBUTION_POINTS not in exts, "short-lived has a CDP")
    aia = [d for d in cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
           if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP] \
        if x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS in exts else []
    check(not aia, "short-lived has an OCSP pointer")
    h.note("ok: profiles: invalidProfile; short-lived: %s, no CDP, no OCSP URL" % life)


def before():
    c = h.Client(ENV["DIR_URL"], ENV["CA_BUNDLE"])
    target = h.Target(int(ENV["HTTP_PORT"]))
    acct = h.Account(c, h.eab_key("--allow", "example.test"))
    state = {}
    try:
        constraints(c, target)
        windows(c, acct, target, state)
        rollover(c, acct)
        deactivate(c, target)
    finally:
        target.close()
    spent = c.take_nonce()
    h.problem(c.post(c.dir["newOrder"], {"identifiers": []}, acct.key, acct.url, nonce=spent), "malformed",
              what="an empty order")
    state.update(unused=c.take_nonce(), spent=spent, acct=acct.url,
                 key=acct.key.priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()).decode())
    json.dump(state, open(STATE, "w"))


def after():
    st = json.load(open(STATE))
    c = h.Client(ENV["DIR_URL"], ENV["CA_BUNDLE"])
    key = h.Key(serialization.load_pem_private_key(st["key"].encode(), None))
    r = c.post(st["order"], None, key, st["acct"], nonce=st["spent"])
    h.problem(r, "badNonce", what="a nonce spent before the restart")
    r = c.post(st["order"], None, key, st["acct"], nonce=st["unused"])
    check(r.status == 200 and r.json.get("status") == "valid" and r.json.get("certificate"),
          "a nonce minted before the restart, or the order after it: %s" % r)
    r = c.post(st["order"], None, key, st["acct"], nonce=st["unused"])
    h.problem(r, "badNonce", what="the same nonce again, after the restart")
    a = x509.load_pem_x509_certificate(st["cert_a"].encode())
    s, _ = ari(c, a)
    check(abs(s - time.time()) < 120, "ARI of A after the restart lost its mark: starts %s" % s)
    h.note("ok: after a restart: an unused nonce works once, a spent one does not, the order and the mark stay")


if __name__ == "__main__":
    try:
        (before if sys.argv[1] == "before" else after)()
    except h.Fail as e:
        print("FAIL: test_acme_renewal: %s" % e)
        sys.exit(1)
    print("PASS (python part)")
