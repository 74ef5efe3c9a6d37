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
        p("| load | req/s big | req/s small | big/small | CPU us/req big | small | p50 us big / small | p99 us big / small | errors big | longest loop turn since start (big) | turns over 1 ms during it (big) |")
        p("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for dist in ("uniform", "zipf"):
            lb = next((x for x in loads if x["n"] == n and x["name"] == "big " + dist), None)
            ls = next((x for x in loads if x["n"] == n and x["name"] == "small " + dist), None)
            if lb is None or ls is None:
                continue
            errs = lb["errors_connect"] + lb["errors_read"] + lb["status_4xx"] + lb["status_5xx"]
            p("| %s | %.0f | %.0f | %s | %.2f | %.2f | %d / %d | %d / %d | %d | %s | %s |" % (
                "uniform over the CA" if dist == "uniform" else "Zipf(1.1) over the CA",
                lb["rps"], ls["rps"], ratio(lb["rps"], ls["rps"]), lb["cpu_us_per_req"] or 0,
                ls["cpu_us_per_req"] or 0, lb["p50_us"], ls["p50_us"], lb["p99_us"], ls["p99_us"], errs,
                "%.3f ms" % (lb["stall_max_s"] * 1e3) if lb["stall_max_s"] is not None else "n/a",
                lb["stall_over_1ms"] if lb["stall_over_1ms"] is not None else "n/a"))
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
        restart_slope = (b["restart_ms"] - small["restart_ms"]) / (n - ns)
        restart8 = small["restart_ms"] + restart_slope * (E8 - ns)
        first8 = 2 * E8 / rate
        p("| figure | formula | 10^8 |")
        p("| --- | --- | --- |")
        p("| disk | %.0f bytes per certificate x 10^8 | %.0f GB |" % (disk_pc, disk_pc * E8 / 1e9))
        p("| RSS | fixed %.0f MB + %.0f bytes per certificate x N + cache %.0f MB | %.1f GB |" %
          (fixed / 2**20, per_cert, cache / 2**20, rss8 / 1e9))
        p("| first start | 2N signatures / %.0f signatures/s (measured; openssl speed x %d cores: %.0f) | %.0f s |" %
          (rate, m["cores"], ideal, first8))
        p("| restart | %.2f s + %.3f us per certificate x N (line through both CAs) | %.1f s |" %
          (small["restart_ms"] / 1000, restart_slope * 1000, restart8 / 1000))
        if b["crl_partitions"]:
            per_part = b["crl_rebuild_ms"] / b["crl_partitions"]
            parts8 = E8 * b["crl_partitions"] / n
            p("| CRL rebuild, all partitions | %.2f ms per partition (measured, %d cores) x %.0f partitions | %.0f s |" %
              (per_part, m["cores"], parts8, per_part * parts8 / 1000))
    print("\n".join(out))


if __name__ == "__main__":
    main()
