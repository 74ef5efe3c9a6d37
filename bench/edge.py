#!/usr/bin/python3
"""bench/edge.py: bench/edge.sh's measuring parts (issue 16).

  edge.py pubwait PORT EXPECTED T0_NS PID     until the primary's outbox is empty with at
                                              least EXPECTED messages published: one JSON line
  edge.py revlat REVD DIR PPORT EPORT REQS SERIALS OUT
                                              revoke each serial, poll the primary and the
                                              edge (OCSP GET, keep-alive, every ~1 ms) until
                                              each answers revoked: latencies into OUT (JSON)
  edge.py same PPORT EPORT REQS N             N GETs on both: are the bodies identical?
  edge.py varz MPORT                          nats-server's /varz counters, one JSON line
  edge.py report RESULTS.jsonl OUT.json N     the table on stdout, OUT.json
"""
import base64
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

from cryptography.x509 import ocsp


def metrics(conn):
    conn.request("GET", "/metrics")
    m = {}
    for line in conn.getresponse().read().decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            m[k] = float(v)
    return m


def pubwait(port, expected, t0_ns, pid):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    first = None
    while True:
        try:
            m = metrics(conn)
        except (OSError, http.client.HTTPException):
            conn.close()
            if not os.path.exists("/proc/%d" % pid):
                sys.exit("edge.py: the primary exited")
            time.sleep(0.01)
            continue
        now = time.time_ns()
        pub = m.get("revd_feed_published_total", 0)
        if first is None and pub > 0:
            first = now
        if pub >= expected and m.get("revd_feed_outbox_depth", 1) == 0:
            break
        time.sleep(0.02)
    s = (now - t0_ns) / 1e9
    sp = (now - first) / 1e9 if first else s
    print(json.dumps({"published": int(pub), "start_to_done_s": s, "msgs_per_s": pub / s,
                      "first_ack_s": (first - t0_ns) / 1e9 if first else None,
                      "publishing_s": sp, "publishing_msgs_per_s": pub / sp if sp > 0 else None}))


class Getter:
    """OCSP GET over one keep-alive connection; reconnects when closed."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def body(self, b64):
        path = "/ocsp/" + urllib.parse.quote(b64, safe="")
        for _ in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        return 0, b""

    def revoked(self, b64):
        st, b = self.body(b64)
        if st != 200:
            return False
        r = ocsp.load_der_ocsp_response(b)
        return r.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL and \
            r.certificate_status == ocsp.OCSPCertStatus.REVOKED


def revlat(revd, d, pport, eport, reqs, serials, out):
    reqs = [l.strip() for l in open(reqs)]
    sers = [l.strip() for l in open(serials)]
    p, e = Getter(pport), Getter(eport)
    for q in reqs[:3]:  # warm: the import of cryptography's OCSP module, both connections
        p.revoked(q), e.revoked(q)
    lat_p, lat_e, lost, polls, at, done = [], [], 0, 0, [], []
    for s, q in zip(sers, reqs):
        subprocess.run([revd, "revoke", "--dir", d, "--ca", "sub", "--serial", s], check=True,
                       stdout=subprocess.DEVNULL)
        t1 = time.perf_counter()
        at.append(time.time_ns())
        tp = te = None
        tick = t1
        while tp is None or te is None:
            if tp is None and p.revoked(q):
                tp = time.perf_counter() - t1
            if te is None and e.revoked(q):
                te = time.perf_counter() - t1
            polls += 1
            now = time.perf_counter()
            if now - t1 > 10:
                break
            tick += 0.001
            if tick > now:
                time.sleep(tick - now)
            else:
                tick = now
        if tp is None or te is None:
            lost += 1
            continue
        lat_p.append(tp * 1e3)
        lat_e.append(te * 1e3)
        done.append(s)
    json.dump({"primary_ms": lat_p, "edge_ms": lat_e, "not_revoked_within_10s": lost, "polls": polls,
               "serials": done, "revoked_at_ns": at}, open(out, "w"))


def split(revlat_json, watch):
    """Where the edge's time goes: revoke returned -> the OCSP message seen
    on the server (a core subscription: bench/natsread --watch), and from
    there to the edge's revoked answer; and whether a CRL message reached
    the server in between (the slow ones)."""
    r = json.load(open(revlat_json))
    arr = []
    for line in open(watch):
        f = line.split()
        if len(f) == 3:
            arr.append((int(f[0]), f[1], int(f[2])))
    to_nats, after, crl_near, slow = [], [], 0, 0
    for s, t0, e in zip(r["serials"], r["revoked_at_ns"], r["edge_ms"]):
        key = "." + s.lstrip("0").lower()
        hits = [a for a in arr if a[1].startswith("revd.ocsp.") and a[1].lower().endswith(key) and a[0] >= t0 - 2e9]
        if not hits:
            continue
        n = (hits[0][0] - t0) / 1e6
        to_nats.append(n)
        after.append(e - n)
        if e > 10:
            slow += 1
            if any(a[1].startswith("revd.crl.") and t0 - 50e6 <= a[0] <= t0 + e * 1e6 for a in arr):
                crl_near += 1
    print(json.dumps({"name": "split", "matched": len(to_nats),
                      "revoke_to_nats_ms": {"p50": pct(to_nats, 50), "p99": pct(to_nats, 99), "max": max(to_nats or [0])},
                      "nats_to_edge_ms": {"p50": pct(after, 50), "p99": pct(after, 99), "max": max(after or [0])},
                      "edge_over_10ms": slow, "of_them_with_a_crl_message_meanwhile": crl_near}))


def same(pport, eport, reqs, n):
    reqs = [l.strip() for l in open(reqs)][:n]
    p, e = Getter(pport), Getter(eport)
    ok = sum(1 for q in reqs if p.body(q) == e.body(q) and p.body(q)[0] == 200)
    print(json.dumps({"compared": len(reqs), "identical": ok}))


def varz(mport):
    c = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
    c.request("GET", "/varz")
    v = json.loads(c.getresponse().read())
    print(json.dumps({k: v[k] for k in ("in_msgs", "in_bytes", "out_msgs", "out_bytes", "mem")}))


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q / 100 * len(v)))] if v else None


def fmt(x, nd=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return ("%%.%df" % nd) % x
    return str(x)


def report(res, out, n):
    """long-ish: gathers the run's lines into the figures, the table and the
    extrapolation."""
    rows = {}
    for line in open(res):
        r = json.loads(line)
        rows[r.pop("name")] = r
    R = {"certificates": n, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "machine": {"cores": os.cpu_count(), "cpu": cpu_model()}}
    lat = rows.get("revlat", {})
    R["revocation_to_revoked_ms"] = {
        who: {"p50": pct(lat.get(k, []), 50), "p95": pct(lat.get(k, []), 95), "p99": pct(lat.get(k, []), 99),
              "max": max(lat.get(k, [0]) or [0]), "n": len(lat.get(k, []))}
        for who, k in (("edge", "edge_ms"), ("primary", "primary_ms"))}
    R["revocation_to_revoked_ms"]["not_revoked_within_10s"] = lat.get("not_revoked_within_10s")
    R.update({k: v for k, v in rows.items() if k != "revlat"})
    boot = [rows[k] for k in ("edge1 bootstrap", "edge2 bootstrap") if k in rows]
    floor = [rows[k]["msgs_per_s"] for k in ("natsread before", "natsread after") if k in rows]
    e1 = rows.get("edge1 bootstrap", {})
    rate = e1.get("certs_per_s")
    fl = max(floor) if floor else None
    pub = rows.get("primary publish", {})
    store = rows.get("storage", {})
    wire = rows.get("wire", {})
    rps = rows.get("req/s", {})
    restart = rows.get("edge1 restart", {})
    ex = {}
    if rate:
        for big in (10**7, 10**8):
            ex[str(big)] = {"edge_bootstrap_s": big / rate,
                            "nats_floor_s": big / fl if fl else None,
                            "primary_publish_s": big / pub["publishing_msgs_per_s"] if pub.get("publishing_msgs_per_s") else None,
                            "edge_restart_loaded_s": restart["loaded_s"] * big / n if restart.get("loaded_s") else None,
                            "nats_store_gb": store.get("nats_bytes_per_cert", 0) * big / 1e9,
                            "edge_db_gb": store.get("edge_db_bytes_per_cert", 0) * big / 1e9,
                            "ten_sites_bytes_per_revocation": 10 * wire["in_bytes_per_revocation"] if wire.get("in_bytes_per_revocation") else None}
    R["extrapolation"] = {"note": "EXTRAPOLATION, not measured: linear in the certificates from the %d measured here "
                                  "(bootstrap at the measured rate; storage at the measured bytes per certificate; "
                                  "ten sites: each site's server pulls one copy of every message)" % n, **ex}
    short = [(nm, b["certificates"]) for b, nm in zip(boot, ("edge1", "edge2")) if b.get("certificates") != n]
    R["edges_ready_with_every_certificate"] = not short
    R["targets"] = {
        "revocation_to_edge_p99_lt_50ms": R["revocation_to_revoked_ms"]["edge"]["p99"] is not None
        and R["revocation_to_revoked_ms"]["edge"]["p99"] < 50,
        "edge_bootstrap_ge_100k_certs_per_s": bool(rate and rate >= 100000),
        "edge_1e7_serving_within_120s_extrapolated": bool(rate and 10**7 / rate <= 120),
        "edges_ready_with_every_certificate": R["edges_ready_with_every_certificate"],
        "two_edges_ge_1_8x_one": "not measurable on %d shared cores (paper figure)" % (os.cpu_count() or 0)}
    json.dump(R, open(out, "w"), indent=1)

    L = R["revocation_to_revoked_ms"]
    print("\nedge bench (issue 16), %d certificates, %s, %d cores\n" % (n, R["date"], os.cpu_count()))
    print("load average (1, 5, 15 min) at start: %s, at end: %s (a shared machine: other work runs beside)\n" % (
        rows.get("load at start", {}).get("loadavg"), rows.get("load at end", {}).get("loadavg")))
    print("%-58s %12s   %s" % ("figure", "value", "beside (same run)"))
    print("-" * 110)

    def row(a, b, c=""):
        print("%-58s %12s   %s" % (a, b, c))
    for k in ("p50", "p95", "p99", "max"):
        row("revoke returned -> edge answers revoked, %s (ms)" % k, fmt(L["edge"][k], 2),
            "primary: %s ms" % fmt(L["primary"][k], 2))
    row("  revocations measured (not revoked within 10 s)", "%d (%s)" % (L["edge"]["n"], L["not_revoked_within_10s"]))
    sp = rows.get("split", {})
    if sp.get("matched"):
        row("  of which: revoke returned -> OCSP message at NATS, p50/p99", "%s/%s" % (
            fmt(sp["revoke_to_nats_ms"]["p50"], 2), fmt(sp["revoke_to_nats_ms"]["p99"], 2)),
            "then NATS -> edge answers revoked: p50 %s, p99 %s ms (%d matched)" % (
                fmt(sp["nats_to_edge_ms"]["p50"], 2), fmt(sp["nats_to_edge_ms"]["p99"], 2), sp["matched"]))
        row("  edge answers over 10 ms (a CRL message at NATS meanwhile)", "%d (%d)" % (
            sp["edge_over_10ms"], sp["of_them_with_a_crl_message_meanwhile"]))
    for nm, c in short:
        row("!! %s said edge.ready serving %d of %d certificates" % (nm, c, n), n - c, "missing (a defect: see README)")
    for b, name in zip(boot, ("edge1", "edge2")):
        row("%s bootstrap, empty -> edge.ready (certificates/s)" % name, fmt(b.get("certs_per_s"), 0),
            "%s certs, %s msgs in %s s (log: %s s); NATS floor %s msg/s" % (
                b.get("certificates"), b.get("messages"), fmt(b.get("wall_s"), 2), b.get("log_s"), fmt(fl, 0)))
    if rate and fl:
        row("  bootstrap / NATS floor (messages/s ratio)", fmt(e1["msgs_per_s"] / fl, 2))
    ver = rows.get("ecdsa verify", {})
    if ver.get("verify_per_s_one_core"):
        v = ver["verify_per_s_one_core"]
        R["bootstrap_verify_ceiling_msgs_per_s"] = {"one_core": v / 2, "all_cores": v / 2 * ver["cores"]}
        row("  ceiling from checking alone: 2 ECDSA verifies a message", fmt(v / 2, 0),
            "msg/s on one core (openssl speed: %s verify/s); %s on all %d cores, nothing else running; "
            "edge1 used %s CPU-s" % (fmt(v, 0), fmt(v / 2 * ver["cores"], 0), ver["cores"], e1.get("cpu_s")))
    for k in ("natsread before", "natsread after"):
        if k in rows:
            row("NATS floor: %s (natsread, msg/s)" % k, fmt(rows[k]["msgs_per_s"], 0),
                "%d msgs, %.1f MB in %.2f s" % (rows[k]["messages"], rows[k]["bytes"] / 1e6, rows[k]["seconds"]))
    if pub:
        row("primary publish, start -> outbox 0 (msg/s)", fmt(pub.get("msgs_per_s"), 0),
            "%d msgs in %.2f s; from the first ack: %s msg/s; NATS floor %s" % (
                pub["published"], pub["start_to_done_s"], fmt(pub.get("publishing_msgs_per_s"), 0), fmt(fl, 0)))
    if restart:
        row("edge restart -> edge.loaded (s)", fmt(restart.get("loaded_s"), 2),
            "serving %s certificates from its edge.db" % restart.get("loaded_certs"))
        row("edge restart -> edge.caught_up (s)", fmt(restart.get("caught_up_s"), 2),
            "%s messages read (%s revocations made while it was down); bootstrap read %s" % (
                restart.get("messages_read"), restart.get("revoked_while_down"), e1.get("messages")))
        row("  revoked-while-down serials answered revoked after restart", "%s/%s" % (
            restart.get("revoked_after"), restart.get("revoked_while_down")))
    if rps:
        row("one edge, GET keep-alive, loadgen --threads 1 (req/s)", fmt(rps.get("edge1"), 0),
            "primary: %s req/s" % fmt(rps.get("primary"), 0))
        row("two edges at once, sum (req/s)", fmt(rps.get("edge1+edge2"), 0),
            "= %s x one edge: PAPER FIGURE, %d cores shared by 2 edges + 2 loadgens" % (
                fmt(rps["edge1+edge2"] / rps["edge1"], 2) if rps.get("edge1") else "-", os.cpu_count()))
    if wire:
        row("bytes into NATS per revocation (/varz in_bytes)", fmt(wire.get("in_bytes_per_revocation"), 0),
            "OCSP msg %s B + CRL msgs %s B (%s CRL msgs for %s revocations); idle heartbeat subtracted" % (
                wire.get("ocsp_msg_bytes"), wire.get("crl_msg_bytes_max"), wire.get("crl_msgs"), wire.get("revocations")))
        row("bytes out of NATS per revocation per edge (/varz)", fmt(wire.get("out_bytes_per_revocation_per_edge"), 0),
            "%s edges subscribed; includes publish acks" % wire.get("edges"))
    if store:
        row("NATS storage per certificate (du of the store / N, B)", fmt(store.get("nats_bytes_per_cert"), 0),
            "edge.db per certificate: %s B; RSS: nats-server %s MB, edge %s MB, primary %s MB" % (
                fmt(store.get("edge_db_bytes_per_cert"), 0), fmt(store.get("nats_rss_mb"), 0),
                fmt(store.get("edge_rss_mb"), 0), fmt(store.get("primary_rss_mb"), 0)))
    sb = rows.get("same bytes", {})
    if sb:
        row("primary and edge1: identical answers (GET, request set)", "%s/%s" % (sb.get("identical"), sb.get("compared")))
    print("\nEXTRAPOLATION (linear from %d measured; not measured):" % n)
    for big, x in ex.items():
        print("  %s certificates: edge bootstrap %s s (NATS floor %s s, primary publish %s s), edge restart %s s, "
              "NATS store %s GB, edge.db %s GB; ten sites: %s bytes per revocation" % (
                  big, fmt(x["edge_bootstrap_s"], 0), fmt(x["nats_floor_s"], 0), fmt(x["primary_publish_s"], 0),
                  fmt(x["edge_restart_loaded_s"], 0),
                  fmt(x["nats_store_gb"], 1), fmt(x["edge_db_gb"], 1), fmt(x["ten_sites_bytes_per_revocation"], 0)))
    print("\ntargets: " + ", ".join("%s: %s" % kv for kv in R["targets"].items()))
    print("wrote " + out)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "pubwait":
        pubwait(int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif a[0] == "revlat":
        revlat(a[1], a[2], int(a[3]), int(a[4]), a[5], a[6], a[7])
    elif a[0] == "split":
        split(a[1], a[2])
    elif a[0] == "same":
        same(int(a[1]), int(a[2]), a[3], int(a[4]))
    elif a[0] == "varz":
        varz(int(a[1]))
    elif a[0] == "report":
        report(a[1], a[2], int(a[3]))
    else:
        sys.exit(__doc__)
