#!/usr/bin/python3
"""bench/report.py RESULTS.jsonl OUT-PREFIX MODE CERTS SECONDS

Reads the JSON lines bench/run.sh wrote, prints the table (each figure
beside its peer, and each of issue #5's targets: met or not), writes
OUT-PREFIX.json and, when gnuplot is installed, OUT-PREFIX-rps.png,
OUT-PREFIX-cpu.png and OUT-PREFIX-latency.png."""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

res, prefix, mode, certs, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rows = [json.loads(line) for line in open(res)]
by_name = {r["name"]: r for r in rows if "name" in r}


def get(name, key):
    r = by_name.get(name)
    return r.get(key) if r else None


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


print("revd bench (%s): %d certificates, %d s per measurement, %s, %d cores" % (mode, certs, secs, cpu_model(), os.cpu_count()))
print("%-3s %-40s %11s %9s %9s %9s %11s %9s" % ("#", "what", "req/s", "p50 us", "p99 us", "p99.9 us", "CPU us/req", "MB/s"))
for r in rows:
    sc, name = r["scenario"], r["name"]
    if "rps" in r:
        err = r["errors_connect"] + r["errors_read"] + r["status_4xx"] + r["status_5xx"]
        print("%-3s %-40s %11.0f %9.0f %9.0f %9.0f %11.2f %9.1f%s" % (sc, name, r["rps"], r["p50_us"], r["p99_us"], r["p999_us"],
              r["cpu_us_per_req"] or 0, r["mbps"], "  ERRORS %d" % err if err else ""))
    elif "p50_ms" in r:
        print("%-3s %-40s p50 %.1f ms, p99 %.1f ms (%d revocations)" % (sc, name, r["p50_ms"], r["p99_ms"], r["n"]))
    elif "ocsp_s" in r:
        print("%-3s %-40s OCSP re-signed and served in %.1f s (%.0f/s); %d CRLs republished by %.1f s; serving meanwhile %s req/s (%d slices)"
              % (sc, name, r["ocsp_s"], r["sign_rate"], r["crls"], r["crl_s"],
                 "%.0f" % r["serving_rps"] if r["serving_rps"] else "?", r["slices"]))
    elif "revd_ms" in r:
        print("%-3s %-40s revd %.1f ms, openssl ca -gencrl %.1f ms (%.1fx)" % (sc, name, r["revd_ms"], r["openssl_ms"], r["openssl_ms"] / r["revd_ms"]))
    elif "revd_sign_s" in r:
        print("%-3s %-40s revd %d sign/s, openssl speed %s sign/s" % (sc, name, r["revd_sign_s"], r["openssl_sign_s"]))
    elif "table_bytes" in r:
        print("%-3s %-40s %d bytes per response in the table; server RSS %d KB at start, %d KB after the mass revocation (%d certificates)"
              % (sc, name, r["table_bytes"], r["rss_kb"], r["rss_after_kb"], r["certificates"]))
    elif "start_ms" in r:
        print("%-3s %-40s %d ms with the responses stored (%d certificates); first start, signing them all: %d ms"
              % (sc, name, r["start_ms"], r["certificates"], r["first_ms"]))

# The targets of issue #5, each from this run's figures.
targets = []


def target(what, ok, detail):
    if ok is None:
        targets.append((what, "n/a", detail))
    else:
        targets.append((what, "met" if ok else "NOT met", detail))


def ratio(a, b):
    return a / b if a is not None and b else None


revd_cpu, nginx_cpu = get("revd GET keep-alive", "cpu_us_per_req"), get("nginx static file", "cpu_us_per_req")
r = ratio(revd_cpu, nginx_cpu)
target("1: CPU/request <= 0.5x nginx static", r is not None and r <= 0.5 if r else None,
       "%.2f us vs %.2f us: %.2fx" % (revd_cpu, nginx_cpu, r) if r else "")
revd_rps, cfssl_rps = get("revd GET keep-alive", "rps"), get("cfssl POST keep-alive", "rps")
r = ratio(revd_rps, cfssl_rps)
target("1: >= 10x cfssl req/s per core", r >= 10 if r else None, "%.0f vs %.0f: %.1fx" % (revd_rps, cfssl_rps, r) if r else "")
r = ratio(get("revd conn per request", "rps"), get("nginx conn per request", "rps"))
target("3: >= 1.5x nginx req/s", r >= 1.5 if r else None, "%.2fx" % r if r else "")
r = ratio(get("revd never-issued flood", "rps"), revd_rps)
target("4: >= 90% of scenario 1", r >= 0.9 if r else None, "%.0f%%" % (100 * r) if r else "")
p99 = get("revd GET at half of peak (open loop)", "p99_us")
target("p99 < 1 ms at half of peak", p99 < 1000 if p99 is not None else None, "%.0f us" % p99 if p99 is not None else "")
p = get("revoke -> OCSP revoked", "p99_ms")
target("7: p99 < 10 ms", p < 10 if p is not None else None, "%.1f ms" % p if p is not None else "")
p = get("revoke -> CRL republished (1 s window)", "p99_ms")
target("8: p99 < window + 1 s", p < 2000 if p is not None else None, "%.0f ms" % p if p is not None else "")
for n in by_name:
    if n.startswith("full partition"):
        a, b = by_name[n]["revd_ms"], by_name[n]["openssl_ms"]
        target("9: full partition < 20 ms and >= 6x openssl", a < 20 and b / a >= 6, "%.1f ms, %.1fx" % (a, b / a))
    if n.startswith("mass revocation"):
        m = by_name[n]
        target("mass: CRLs republished < 60 s", m["crl_s"] < 60, "%.1f s" % m["crl_s"])
        s = m["serving_rps"]
        target("mass: serving >= 70% of scenario 1", s / m["peak_rps"] >= 0.7 if s else None,
               "%.0f%%" % (100 * s / m["peak_rps"]) if s else "no slice inside the burst")
        sig = get("signing, one core", "revd_sign_s")
        target("mass: re-signed at the signing rate", None,
               "%.0f/s on the cores it shared with serving; one core signs %s/s" % (m["sign_rate"], sig))
a, b = get("signing, one core", "revd_sign_s"), get("signing, one core", "openssl_sign_s")
r = ratio(a, b)
target("10: >= 80% of openssl speed", r >= 0.8 if r else None, "%.0f%%" % (100 * r) if r else "")
m = by_name.get("memory per response")
if m:
    # Two precomputed responses per certificate: SHA-1 and SHA-256 CertIDs.
    per = m["rss_kb"] * 1024 / (2 * m["certificates"])
    target("11: <= 1 KiB RSS per response", per <= 1024 if m["certificates"] >= 10**6 else None,
           "%.0f bytes: the whole RSS over the %d responses of %d certificates (two each)%s"
           % (per, 2 * m["certificates"], m["certificates"], "" if m["certificates"] >= 10**6 else "; fixed costs dominate below 10^6"))
s = get("cold start to serving", "start_ms")
if s is not None:
    at = get("cold start to serving", "certificates")
    target("12: cold start < 5 s (at 10^7)", s < 5000 if at >= 10**7 else None,
           "%.1f s at %d certificates%s" % (s / 1000, at, "" if at >= 10**7 else " (the target is for 10^7)"))
print()
print("%-44s %-8s %s" % ("target", "", "this run"))
for what, verdict, detail in targets:
    print("%-44s %-8s %s" % (what, verdict, detail))

json.dump({"mode": mode, "certificates": certs, "seconds": secs, "cpu": cpu_model(), "cores": os.cpu_count(),
           "results": rows, "targets": [{"target": a, "verdict": b, "detail": c} for a, b, c in targets]},
          open(prefix + ".json", "w"), indent=1)
written = [prefix + ".json"]

if shutil.which("gnuplot"):
    http = [r for r in rows if "rps" in r]
    with tempfile.TemporaryDirectory() as t:
        dat = os.path.join(t, "http.dat")
        with open(dat, "w") as f:
            for r in http:
                f.write('"%s %s" %f %f %f %f %f\n' % (r["scenario"], r["name"].replace('"', ""), r["rps"], r["cpu_us_per_req"] or 0,
                                                      r["p50_us"], r["p99_us"], r["p999_us"]))
        common = ('set terminal pngcairo size 1200,700 noenhanced font ",10"\nset style data histograms\n'
                  'set style fill solid 0.8 border -1\nset boxwidth 0.8\nset xtics rotate by -35 left\n'
                  'set bmargin 12\nset rmargin 12\nset grid ytics\n')
        plots = {
            "rps": 'set title "requests/s (server on one core; loadgen on another)"\nset ylabel "requests/s"\n'
                   'plot "%s" using 2:xtic(1) title "req/s" lc rgb "#3060a0"\n',
            "cpu": 'set title "server CPU per request (user+system, /proc)"\nset ylabel "microseconds"\n'
                   'plot "%s" using 3:xtic(1) title "CPU us/request" lc rgb "#a04030"\n',
            "latency": 'set title "latency percentiles"\nset ylabel "microseconds"\nset logscale y\n'
                       'plot "%s" using 4:xtic(1) title "p50", "" using 5 title "p99", "" using 6 title "p99.9"\n',
        }
        for name, body in plots.items():
            png = "%s-%s.png" % (prefix, name)
            script = common + 'set output "%s"\n' % png + body % dat
            if subprocess.run(["gnuplot"], input=script.encode(), capture_output=True).returncode == 0:
                written.append(png)
            else:
                print("bench: gnuplot failed on %s" % png, file=sys.stderr)
print("written: " + ", ".join(written))
