#!/usr/bin/python3
"""bench/scale_report.py RESULTS.jsonl: bench/scale.sh's figures as a
Markdown table per size, with the ratios big/small and the extrapolation
to 10^8 certificates (bench/README.md, "Scale (issue 15)", gives the
formulas). Prints to stdout."""
import json
import sys

E8 = 10**8


def mb(kb):
    return "%.0f MB" % (kb / 1024) if kb is not None else "n/a"


def sec(ms):
    return "%.2f s" % (ms / 1000) if ms is not None else "n/a"


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def merged(loads, n, name):
    """The rounds of one load, as one: mean req/s (and the range), CPU over
    all requests, the worst round's percentiles, the last round's maximum
    loop turn, every round's turns over 1 ms and errors."""
    rs = [x for x in loads if x["n"] == n and x["name"] == name]
    if not rs:
        return None
    ok = sum(x["status_2xx"] + x["status_3xx"] for x in rs)
    cpu = sum((x["cpu_us_per_req"] or 0) * (x["status_2xx"] + x["status_3xx"]) for x in rs)
    over = [x["stall_over_1ms"] for x in rs if x["stall_over_1ms"] is not None]
    return {"name": name, "rps": sum(x["rps"] for x in rs) / len(rs), "rps_min": min(x["rps"] for x in rs),
            "rps_max": max(x["rps"] for x in rs), "rounds": len(rs), "cpu_us_per_req": cpu / ok if ok else None,
            "p50_us": max(x["p50_us"] for x in rs), "p99_us": max(x["p99_us"] for x in rs),
            "errors": sum(x["errors_connect"] + x["errors_read"] + x["status_4xx"] + x["status_5xx"] for x in rs),
            "stall_max_s": rs[-1]["stall_max_s"], "stall_over_1ms": sum(over) if over else None,
            "preempted": sum(x["preempted"] for x in rs) if all("preempted" in x for x in rs) else None}


def rps_range(x):
    if x["rounds"] == 1:
        return "%.0f" % x["rps"]
    return "%.0f (%.0f-%.0f)" % (x["rps"], x["rps_min"], x["rps_max"])


def targets(p, m, b, small, loads, rate):
    """Issue 15's targets beside this size's figures. Each is stated at one
    size (10^6 or 3x10^7); at another size it is shown for the trend only."""
    n = b["n"]
    lb = {k: merged(loads, n, k) for k in {x["name"] for x in loads if x["n"] == n}}
    ratio_of = lambda d: (lb["big " + d]["rps"] / lb["small " + d]["rps"]) if ("big " + d) in lb and lb["small " + d]["rps"] else None
    stall = max((x["stall_max_s"] for x in lb.values() if x["name"].startswith("big") and x["stall_max_s"] is not None),
                default=None)
    rss_max = max(v for v in (b["rss_restart_kb"], b["rss_settled_kb"], b["rss_loaded_kb"]) if v is not None) * 1024
    crl_s = b["crl_rebuild_ms"] / 1000
    ideal = m["openssl_sign_per_s_core"] * m["cores"]
    rows = [
        ("restart to serving < 2 s", "10^6 (256 MiB cache), 3x10^7", "%.2f s" % (b["restart_ms"] / 1000), b["restart_ms"] < 2000),
        ("RSS after restart <= 700 MB", "10^6, 256 MiB cache", "%.0f MB" % (b["rss_restart_kb"] / 1024), b["rss_restart_kb"] * 1024 <= 700e6),
        ("RSS <= 2 GiB (the most measured)", "3x10^7, 1 GiB cache", "%.2f GiB" % (rss_max / 2**30), rss_max <= 2**31),
        ("disk <= 700 bytes per certificate", "3x10^7", "%.0f B" % (b["disk"]["total"] / n), b["disk"]["total"] / n <= 700),
        ("first start signs at >= 80% of openssl speed x cores", "3x10^7", "%.0f%%" % (100 * rate / ideal) if ideal else "n/a",
         ideal and rate >= 0.8 * ideal),
        ("Zipf(1.1) req/s >= 90% of the small CA's", "3x10^7, 1 GiB cache",
         "%.0f%%" % (100 * ratio_of("zipf")) if ratio_of("zipf") else "n/a", (ratio_of("zipf") or 0) >= 0.9),
        ("uniform req/s >= 50% of the small CA's", "3x10^7, 1 GiB cache",
         "%.0f%%" % (100 * ratio_of("uniform")) if ratio_of("uniform") else "n/a", (ratio_of("uniform") or 0) >= 0.5),
        ("no shard loop turn over 1 ms", "every size", "%.3f ms" % (stall * 1e3) if stall is not None else "n/a",
         stall is not None and stall <= 1e-3),
        ("every CRL partition rebuilt in < 2 s", "3x10^7, 2 cores", "%.2f s (%d partitions)" % (crl_s, b["crl_partitions"]),
         crl_s < 2),
    ]
    p("")
    p("### Issue 15's targets beside this run (each judged at the size it names)")
    p("")
    p("| target | stated at | here (N = %s) | met here |" % format(n, ","))
    p("| --- | --- | --- | --- |")
    for name, at, val, ok in rows:
        p("| %s | %s | %s | %s |" % (name, at, val, "yes" if ok else "no"))


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    m = next(r for r in rows if r["kind"] == "machine")
    small = next((r for r in rows if r["kind"] == "ca" and r["which"] == "small"), None)
    bigs = [r for r in rows if r["kind"] == "ca" and r["which"] == "big"]
    loads = [r for r in rows if r["kind"] == "load"]
    out = []
    p = out.append
    p("# revd at scale (bench/scale.sh, issue 15)")
    p("")
    p("- machine: %d cores (%s), %.1f GiB RAM, Linux %s" % (m["cores"], m["cpu"], m["mem_kb"] / 1048576, m["kernel"]))
    end = next((r for r in rows if r["kind"] == "end"), {})
    p("- date: %s to %s; revd commit %s" % (m["date"], end.get("date", "?"), m["commit"]))
    p("- load average (1, 5, 15 min) at start %s, at end %s: anything above ~1 before the run is other "
      "work sharing the 2 cores, and shows in the latencies and loop turns (wall-clock times, preemption "
      "included)" % (m.get("loadavg_start", "?"), end.get("loadavg_end", "?")))
    if m["store"]:
        p("- responses: **on disk, memory as a cache** (`--response-cache`, bytes per size below)")
    else:
        p("- responses: **every response in memory** (this revd has no `--response-cache`: the figures before the store)")
    p("- loads: bench/loadgen on core 1, %d connections, keep-alive GET, %s s warm-up then %s s measured; "
      "revd with one shard pinned to core 0; serials uniform over the whole CA or Zipf(1.1) over the whole CA "
      "(rank to serial by a fixed pseudo-random permutation; sampler in C, bench/scale.h)" %
      (m["connections"], m["warmup"], m["secs"]))
    p("- `openssl speed ecdsap256`: %s signatures/s on one core" % m["openssl_sign_per_s_core"])
    for r in rows:
        if r["kind"] == "skipped":
            p("- N=%d skipped: not enough %s (bench/scale.sh's guard)" % (r["n"], r["why"]))
    for b in bigs:
        n, ns = b["n"], small["n"]
        p("")
        p("## N = %s certificates (5%% revoked) beside a CA of %s" % (format(n, ","), format(ns, ",")))
        p("")
        p("Cache: %s." % ("`--response-cache %d`" % b["cache"] if b["cache"] else "none (all in memory)"))
        p("")
        p("| figure | big CA | small CA | big/small |")
        p("| --- | --- | --- | --- |")
        p("| import (`revd import`) | %s | %s | |" % (sec(b["import_ms"]), sec(small["import_ms"])))
        p("| first start to serving (%d threads: signs every response) | %s | %s | |" %
          (m["cores"], sec(b["first_ms"]), sec(small["first_ms"])))
        rate = 2 * n / (b["first_ms"] / 1000)
        ideal = m["openssl_sign_per_s_core"] * m["cores"]
        p("| signing rate of the first start (2 responses per certificate) | %.0f /s (%.0f%% of openssl speed x %d cores) | | |" %
          (rate, 100 * rate / ideal if ideal else 0, m["cores"]))
        if "first_cpu_ms" in b:
            p("| revd's CPU time until serving: first start / restart (over wall time: cores kept busy) | %s (%.2f) / %s (%.2f) | | |" %
              (sec(b["first_cpu_ms"]), b["first_cpu_ms"] / b["first_ms"], sec(b["restart_cpu_ms"]),
               b["restart_cpu_ms"] / b["restart_ms"]))
        p("| first start: the server idle (under 3%% of a core) after | %s s more | | |" % b["first_idle_s"])
        p("| RSS after the first start | %s | | |" % mb(b["rss_first_kb"]))
        p("| stop (SIGTERM to exit) | %s | | |" % sec(b["stop_ms"]))
        p("| restart to serving (%d threads) | %s | %s | %s |" %
          (m["cores"], sec(b["restart_ms"]), sec(small["restart_ms"]), ratio(b["restart_ms"], small["restart_ms"])))
        p("| RSS after restart | %s | %s | %s |" % (mb(b["rss_restart_kb"]), mb(small["rss_restart_kb"]),
                                                  ratio(b["rss_restart_kb"], small["rss_restart_kb"])))
        p("| start with one shard on core 0 (the loads' server) | %s | %s | |" %
          (sec(b["restart1_ms"]), sec(small["restart1_ms"])))
        p("| RSS of the loads' server: settled / after the loads | %s / %s | %s | |" %
          (mb(b["rss_settled_kb"]), mb(b["rss_loaded_kb"]), mb(small["rss_serving_kb"])))
        p("| disk, the data directory | %.0f bytes per certificate (%.2f GB) | %.0f bytes per certificate | |" %
          (b["disk"]["total"] / n, b["disk"]["total"] / 1e9, small["disk"]["total"] / ns))
        parts = ", ".join("%s %.0f" % (k, v / n) for k, v in sorted(b["disk"].items()) if k != "total" and v / n >= 1)
        p("| disk per certificate, by entry of the data directory | %s | | |" % parts)
        p("")
        p("| load | req/s big | req/s small | big/small | CPU us/req big | small | p50 us big / small | p99 us big / small | errors big | longest loop turn since start (big) | turns over 1 ms during it (big) | revd preempted during it (big) |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for dist in ("uniform", "zipf"):
            lb = merged(loads, n, "big " + dist)
            ls = merged(loads, n, "small " + dist)
            if lb is None or ls is None:
                continue
            p("| %s | %s | %s | %s | %.2f | %.2f | %d / %d | %d / %d | %d | %s | %s | %s |" % (
                "uniform over the CA" if dist == "uniform" else "Zipf(1.1) over the CA",
                rps_range(lb), rps_range(ls), ratio(lb["rps"], ls["rps"]), lb["cpu_us_per_req"] or 0,
                ls["cpu_us_per_req"] or 0, lb["p50_us"], ls["p50_us"], lb["p99_us"], ls["p99_us"], lb["errors"],
                "%.3f ms" % (lb["stall_max_s"] * 1e3) if lb["stall_max_s"] is not None else "n/a",
                lb["stall_over_1ms"] if lb["stall_over_1ms"] is not None else "n/a",
                lb["preempted"] if lb["preempted"] is not None else "n/a"))
        p("")
        p("req/s: the mean of %d rounds (big and small alternating; the range in brackets). CPU per request: all "
          "rounds' server CPU over all their requests. p50, p99: the worst round's. Loop turns: the maximum "
          "since the server started, after the last round; turns over 1 ms: all rounds. Preempted: the involuntary "
          "context switches of revd's threads over all rounds (the scheduler running something else on core 0: a "
          "loop turn that spans one counts the time it waited)." % m.get("rounds", 1))
        p("")
        crl = b["crl_log"] or "not measured (no `crl.rebuilt_all` line in revd's log)"
        p("CRL: %d partitions; `revd crl rebuild --all` through the running server (%d cores): %s wall; revd's own "
          "figure: %s." % (b["crl_partitions"], m["cores"], sec(b["crl_rebuild_ms"]), crl))
        if b.get("zipf_top_share") is not None and b["cache"]:
            p("Computed, not measured: a perfect cache of the %s most popular certificates (cache / 2,000 bytes) "
              "would answer %.1f%% of the Zipf(1.1) requests." % (format(b["cache"] // 2000, ","),
                                                                  100 * b["zipf_top_share"]))
        p("")
        p("### Extrapolated to 10^8 (formulas: bench/README.md)")
        p("")
        disk_pc = b["disk"]["total"] / n
        fixed = small["rss_restart_kb"] * 1024
        per_cert = (b["rss_restart_kb"] * 1024 - fixed) / (n - ns)
        cache = b["cache"] or 0
        rss8 = fixed + per_cert * E8 + cache
        rss_formula = "fixed %.0f MB + %.0f bytes per certificate x N + cache %.0f MB" % (
            fixed / 2**20, per_cert, cache / 2**20)
        store_pc = b["disk"].get("ocsp", 0) / n if isinstance(b["disk"], dict) else 0
        if cache and store_pc > 0:
            # On disk: memory grows only by the store's sparse index, 40
            # bytes per run of about 4 KiB of records (ocsp/store.h), on top
            # of what the big CA's server held after its restart.
            per_cert = 40.0 * store_pc / 4096
            fixed = b["rss_restart_kb"] * 1024
            rss8 = fixed + per_cert * (E8 - n) + cache
            rss_formula = ("the big CA's %.0f MB after restart + the store index's %.1f bytes per certificate "
                           "(40 per 4 KiB run) x (10^8 - N) + cache %.0f MB" % (fixed / 2**20, per_cert,
                                                                                cache / 2**20))
        restart_slope = max(0.0, (b["restart_ms"] - small["restart_ms"]) / (n - ns))
        restart8 = small["restart_ms"] + restart_slope * (E8 - ns)
        first8 = 2 * E8 / rate
        p("| figure | formula | 10^8 |")
        p("| --- | --- | --- |")
        p("| disk | %.0f bytes per certificate x 10^8 | %.0f GB |" % (disk_pc, disk_pc * E8 / 1e9))
        p("| RSS | %s | %.1f GB |" % (rss_formula, rss8 / 1e9))
        p("| first start | 2N signatures / %.0f signatures/s (measured; openssl speed x %d cores: %.0f) | %.0f s |" %
          (rate, m["cores"], ideal, first8))
        p("| restart | %.2f s + %.3f us per certificate x N (line through both CAs; no less than flat) | %.1f s |" %
          (small["restart_ms"] / 1000, restart_slope * 1000, restart8 / 1000))
        if b["crl_partitions"]:
            per_part = b["crl_rebuild_ms"] / b["crl_partitions"]
            parts8 = E8 * b["crl_partitions"] / n
            p("| CRL rebuild, all partitions | %.2f ms per partition (measured, %d cores) x %.0f partitions | %.0f s |" %
              (per_part, m["cores"], parts8, per_part * parts8 / 1000))
        targets(p, m, b, small, loads, rate)
    print("\n".join(out))


if __name__ == "__main__":
    main()
