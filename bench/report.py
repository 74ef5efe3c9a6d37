#!/usr/bin/python3
"""bench/report.py RESULTS.jsonl OUT-PREFIX MODE CERTS SECONDS

Reads the JSON lines bench/run.sh wrote, prints the table (each figure
beside its peer), the profile (where a request's CPU goes: user and system
time, system calls, context switches and cache misses per request) and each
of issues #5's and #17's targets (met or missed, with the two numbers);
writes OUT-PREFIX.json (the profile runs apart, under "profiles") and, when gnuplot is installed, OUT-PREFIX-rps.png,
OUT-PREFIX-cpu.png and OUT-PREFIX-latency.png: one chart per group, each
scenario's revd bar beside its peers', on a log scale."""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

res, prefix, mode, certs, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rows = [json.loads(line) for line in open(res)]
profiles = [r for r in rows if r.get("under_perf")]
rows = [r for r in rows if not r.get("under_perf")]
by_name = {r["name"]: r for r in rows if "name" in r}
PERF_KEYS = ("syscalls_per_req", "io_uring_enter_per_req", "cs_per_req", "cache_misses_per_req")
for r in rows:  # each load's row carries its profile's counts (null: not profiled, or perf could not count)
    if "rps" in r:
        for k in PERF_KEYS:
            r.setdefault(k, None)
for p in profiles:
    r = by_name.get(p["name"][len("profile: "):])
    if r is not None:
        r.update({k: p.get(k) for k in PERF_KEYS}, profile_rps=p["rps"], profile_cpu_us_per_req=p["cpu_us_per_req"])


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
print("%-3s %-42s %11s %9s %9s %9s %11s %7s %7s %9s" % ("#", "what", "req/s", "p50 us", "p99 us", "p99.9 us", "CPU us/req",
                                                        "usr", "sys", "MB/s"))
for r in rows:
    sc, name = r["scenario"], r["name"]
    if "rps" in r:
        err = r["errors_connect"] + r["errors_read"] + r["status_4xx"] + r["status_5xx"]
        print("%-3s %-42s %11.0f %9.0f %9.0f %9.0f %11.2f %7.2f %7.2f %9.1f%s" % (sc, name, r["rps"], r["p50_us"], r["p99_us"], r["p999_us"],
              r["cpu_us_per_req"] or 0, r["user_us_per_req"] or 0, r["sys_us_per_req"] or 0, r["mbps"], "  ERRORS %d" % err if err else ""))
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

# The profile: where a request's CPU goes, revd beside the floor and nginx.
PROFILED = (("GET keep-alive", (("revd", "revd GET keep-alive"), ("trivial", "loadgen floor: trivial server"),
                                ("nginx", "nginx static file"))),
            ("conn per request", (("revd", "revd conn per request"), ("trivial", "trivial conn per request"),
                                  ("nginx", "nginx conn per request"))))


def fmt(v, f="%.2f"):
    return "n/a" if v is None else f % v


def misses(r):
    """cache misses per request, or why there is none."""
    if r.get("cache_misses_per_req") is not None:
        return "%.1f" % r["cache_misses_per_req"]
    p = next((p for p in profiles if p["name"] == "profile: " + r["name"]), None)
    if p is None or "cache-misses" not in p.get("perf_events", {}):
        return "n/a (not counted)"
    return "n/a (no hardware counters)"


if profiles:
    print()
    print("profile: where a request's CPU goes. usr and sys us/req from the table's runs (/proc/PID/stat);")
    print("the counts per request from a second run of the same load under perf stat -p (every server thread),")
    print("whose own req/s and CPU us/req are given: counting tracepoints slows each system call.")
    print("%-34s %7s %7s %9s %9s %8s %11s %11s  %s" % ("what", "usr us", "sys us", "syscalls", "uring_ent", "ctx sw",
                                                    "perf req/s", "perf CPU us", "cache misses"))
    for group, peers in PROFILED:
        for who, name in peers:
            r = by_name.get(name)
            if r is None:
                continue
            print("%-34s %7s %7s %9s %9s %8s %11s %11s  %s" % (
                "%s %s" % (who, group), fmt(r.get("user_us_per_req")), fmt(r.get("sys_us_per_req")),
                fmt(r.get("syscalls_per_req")), fmt(r.get("io_uring_enter_per_req")), fmt(r.get("cs_per_req"), "%.3f"),
                fmt(r.get("profile_rps"), "%.0f"), fmt(r.get("profile_cpu_us_per_req")), misses(r)))


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

# The targets of issue #17 (the serving path at the floor), from this run.
def verdict17(what, a, b, limit, higher, detail):
    """a against limit x b: met when a/b <= limit (or >= with higher)."""
    r = ratio(a, b)
    if r is None:
        target(what, None, "not measured in this run")
        return
    targets.append((what, "met" if (r >= limit if higher else r <= limit) else "missed", detail % (a, b, r)))


lim = 1.0 if certs >= 10**6 else 0.8
verdict17("17: GET k-a CPU/req <= %.1fx trivial (%s)" % (lim, "10^6" if lim == 1.0 else "2x10^4"), revd_cpu,
          get("loadgen floor: trivial server", "cpu_us_per_req"), lim, False, "revd %.2f us vs trivial %.2f us: %.2fx")
verdict17("17: conn/request req/s >= 1.5x nginx", get("revd conn per request", "rps"), get("nginx conn per request", "rps"),
          1.5, True, "revd %.0f vs nginx %.0f: %.2fx")
for q in ("p50", "p99"):
    verdict17("17: open loop at half peak %s <= 1.5x trivial" % q, get("revd GET at half of peak (open loop)", q + "_us"),
              get("trivial at revd's half of peak (open loop)", q + "_us"), 1.5, False,
              "revd %.0f us vs trivial %.0f us at the same rate: %.2fx")
for n in by_name:
    if n.startswith("mass revocation"):
        m = by_name[n]
        at = "" if certs >= 10**6 else " (the target is for 10%% of 10^6; this run: %d certificates)" % certs
        if m.get("min_rps") is not None:
            normal = m.get("pre_rps") or m["peak_rps"]
            how = ("the median of %d slices before the burst" % m["pre_slices"]) if m.get("pre_rps") else "scenario 1"
            verdict17("17: mass: serving >= 80% throughout", m["min_rps"], normal, 0.8, True,
                      "slowest 1 s slice %.0f req/s vs normal %.0f: %.2fx" + (" (normal: %s; mean of %d slices in it %.0f)%s"
                                                                                  % (how, m["slices"], m["serving_rps"], at)).replace("%", "%%"))
        else:
            target("17: mass: serving >= 80% throughout", None, "no 1 s slice inside the burst")
        cores, speed = m.get("resign_cores"), get("signing, one core", "openssl_sign_s")
        if cores and speed:
            verdict17("17: mass: re-signing >= 80% of openssl speed", m["sign_rate"], speed * len(cores), 0.8, True,
                      "%.0f/s vs openssl speed %.0f/s" + " for %d core(s): %%.2fx; re-signing had core(s) %s (shared with the serving shard; the loadgen on core 1)%s"
                      % (len(cores), ",".join(map(str, cores)), at.replace("%", "%%")))
        else:
            target("17: mass: re-signing >= 80% of openssl speed", None, "cores or openssl speed not measured")
        if m.get("work_cpu_s") and speed:
            # Two responses per certificate (SHA-1 and SHA-256 CertIDs), over the CPU the non-shard threads got.
            per_cpu = 2 * m["n"] / m["work_cpu_s"]
            verdict17("17: mass: signatures per CPU second it got", per_cpu, speed, 0.8, True,
                      "%.0f/s vs openssl speed %.0f/s: %.2fx" + (" (%.2f CPU s outside the shards over %.2f s; two "
                      "responses per certificate)%s" % (m["work_cpu_s"], m["ocsp_s"], at)).replace("%", "%%"))
print()
print("%-48s %-8s %s" % ("target", "", "this run"))
for what, verdict, detail in targets:
    print("%-48s %-8s %s" % (what, verdict, detail))

json.dump({"mode": mode, "certificates": certs, "seconds": secs, "cpu": cpu_model(), "cores": os.cpu_count(),
           "results": rows, "profiles": profiles, "targets": [{"target": a, "verdict": b, "detail": c} for a, b, c in targets]},
          open(prefix + ".json", "w"), indent=1)
written = [prefix + ".json"]

# The charts: one per group (req/s, CPU per request, latency), clustered by
# scenario, revd's bar first and its peers' beside it, on a log scale so that
# cfssl's and openssl's small bars read beside nginx's; each bar labelled.
SERIES = ("revd", "trivial", "nginx", "cfssl (POST)", "openssl ocsp (POST, conn/req)")
CLUSTERS = (
    ("GET keep-alive", {"revd": "revd GET keep-alive", "trivial": "loadgen floor: trivial server", "nginx": "nginx static file",
                        "cfssl (POST)": "cfssl POST keep-alive", "openssl ocsp (POST, conn/req)": "openssl ocsp POST, conn/request"}),
    ("GET Zipf 1.1", {"revd": "revd GET keep-alive, Zipf 1.1"}),
    ("open loop, half of peak", {"revd": "revd GET at half of peak (open loop)", "trivial": "trivial at revd's half of peak (open loop)"}),
    ("POST keep-alive", {"revd": "revd POST keep-alive"}),
    ("conn per request", {"revd": "revd conn per request", "trivial": "trivial conn per request", "nginx": "nginx conn per request"}),
    ("never-issued flood", {"revd": "revd never-issued flood"}),
    ("nonce echo", {"revd": "revd nonce echo"}),
    ("CRL download", {"revd": "revd CRL", "nginx": "nginx CRL file"}),
)


def row_named(name):
    """the row called name, or whose name starts with it (the CRL rows carry their size)."""
    return by_name.get(name) or next((r for n, r in by_name.items() if n.startswith(name + " (")), None)


def chart_table(clusters, key):
    """[(label, [value or None per series])], and the series that have a value."""
    table = [(label, [(row_named(m[s]) or {}).get(key) if s in m else None for s in SERIES]) for label, m in clusters]
    table = [(label, v) for label, v in table if any(x is not None for x in v)]
    used = [i for i in range(len(SERIES)) if any(v[i] is not None for _, v in table)]
    return [(label, [v[i] for i in used]) for label, v in table], [SERIES[i] for i in used]


def chart(png, title, ylabel, table, series, dat):
    """writes png with gnuplot; True when gnuplot exits 0 and the file is not empty."""
    with open(dat, "w") as f:
        f.write("label " + " ".join('"%s"' % x for x in series) + "\n")
        for label, v in table:
            f.write('"%s" %s\n' % (label, " ".join("-" if x is None else "%g" % x for x in v)))
    n, gap = len(series), 1
    vals = [x for _, v in table for x in v if x]
    yr = "[%g:%g]" % (min(vals) / 2, max(vals) * 4) if vals else "[*:*]"  # room for the labels on a log scale
    script = ('set terminal pngcairo size 1400,700 noenhanced font ",10"\nset output "%s"\n' % png +
              'set title "%s"\nset ylabel "%s"\nset logscale y\nset style data histograms\n' % (title, ylabel) +
              'set style histogram clustered gap %d\nset style fill solid 0.85 border -1\nset datafile missing "-"\n' % gap +
              'fmt(v) = v >= 1e6 ? sprintf("%.2fM", v / 1e6) : v >= 1e4 ? sprintf("%.0fk", v / 1e3) : '
              'v >= 1e3 ? sprintf("%.1fk", v / 1e3) : v >= 10 ? sprintf("%.0f", v) : sprintf("%.2f", v)\n'
              'set key top right\nset xtics rotate by -20 left\nset bmargin 6\nset grid ytics\nset yrange ' + yr + '\n' +
              'plot for [i=2:%d] "%s" using i:xtic(1) title columnhead(i), \\\n' % (n + 1, dat) +
              '     for [i=2:%d] "%s" using ($0 - 1 + (i - 2 - (%d - 1) / 2.0) / %d.0):i:(fmt(column(i))) '
              'with labels rotate by 90 left offset 0,0.3 font ",8" notitle\n' % (n + 1, dat, n, n + gap))
    done = subprocess.run(["gnuplot"], input=script.encode(), capture_output=True)
    return done.returncode == 0 and os.path.exists(png) and os.path.getsize(png) > 0


if shutil.which("gnuplot"):
    lat = [("%s %s" % (label, q), m, q) for label, m in CLUSTERS if label in ("GET keep-alive", "open loop, half of peak",
                                                                               "conn per request") for q in ("p50", "p99")]
    with tempfile.TemporaryDirectory() as t:
        for name, title, ylabel, key, clusters in (
                ("rps", "requests/s (server on core 0, loadgen on core 1; log scale)", "requests/s", "rps", CLUSTERS),
                ("cpu", "server CPU per request, user + system (/proc/PID/stat; log scale)", "microseconds", "cpu_us_per_req", CLUSTERS)):
            table, series = chart_table(clusters, key)
            png = "%s-%s.png" % (prefix, name)
            if chart(png, title, ylabel, table, series, os.path.join(t, name + ".dat")):
                written.append(png)
            else:
                print("bench: gnuplot failed on %s" % png, file=sys.stderr)
        table = [(label, [(row_named(m[x]) or {}).get(q + "_us") if x in m else None for x in SERIES]) for label, m, q in lat]
        used = [i for i in range(len(SERIES)) if any(v[i] is not None for _, v in table)]
        table = [(label, [v[i] for i in used]) for label, v in table]
        png = "%s-latency.png" % prefix
        if chart(png, "latency p50 and p99 (closed loop, but open loop at half of peak; log scale)", "microseconds", table,
                 [SERIES[i] for i in used], os.path.join(t, "latency.dat")):
            written.append(png)
        else:
            print("bench: gnuplot failed on %s" % png, file=sys.stderr)
print("written: " + ", ".join(written))
