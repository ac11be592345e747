#!/usr/bin/env python3
"""report.py RESULTS_DIR OUT.md: docs/benchmarks.md from bench/results/*.json
(written by bench/run.sh) and the hand-written analysis in bench/notes.md."""
import json
import math
import os
import statistics
import sys

TARGETS = {"wall_s": 2.0, "cpu_s": 0.5, "rss_mb": 150, "render_ms": 50, "p99_16_ms": 50, "req_ratio": 1.2}
SIZES = ["S", "M", "L"]
C_PER_CALL = 1000          # partitions_per_request of results written before cycle_bench recorded it
INTERNAL_PARTITIONS = 10   # __consumer_offsets (kafkactl: offsets.topic.num.partitions=10)


def load(d, name):
    p = os.path.join(d, name + ".json")
    return json.load(open(p)) if os.path.exists(p) else None


def steady(cycles):
    """Cycles after the first (the first opens connections and reads configs)."""
    ok = [c for c in cycles if c["cycle"] > 1] or cycles
    return ok


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def min_requests(r, cycle=None):
    lay = r["layout"]
    c = (cycle or r["cycle"]).get("partitions_per_request", C_PER_CALL)
    b, n, g = lay["brokers"], lay["partitions"] + INTERNAL_PARTITIONS, lay["groups"]
    return 1 + 2 * b * math.ceil(n / c) + 2 * b + 2 * g


def cycle_summary(r, cycle):
    """Medians of a cycle_bench run's steady cycles."""
    cyc = steady(cycle["cycles"])
    s = {"wall_s": med([c["wall_s"] for c in cyc]), "cpu_s": med([c["cpu_s"] for c in cyc]),
         "requests": med([c["requests"] for c in cyc]), "series": med([c["series"] for c in cyc]),
         "min_requests": min_requests(r, cycle), "rss_inproc_mb": cycle.get("peak_rss_mb")}
    s["req_ratio"] = s["requests"] / s["min_requests"]
    return s


def summary(r):
    cyc = steady(r["cycle"]["cycles"])
    s = {
        "wall_s": med([c["wall_s"] for c in cyc]),
        "cpu_s": med([c["cpu_s"] for c in cyc]),
        "requests": med([c["requests"] for c in cyc]),
        "series": med([c["series"] for c in cyc]),
        "body_mb": med([c["body_bytes"] for c in cyc]) / 1048576,
        "gzip_mb": med([c["gzip_bytes"] for c in cyc]) / 1048576,
        "render_ms": med([c["render_ms"] for c in cyc]),
        "gzip_ms": med([c["gzip_ms"] for c in cyc]),
        "rss_inproc_mb": r["cycle"].get("peak_rss_mb"),
        "rss_daemon_mb": r["daemon"].get("peak_rss_mb"),
        "rss_daemon_noscrape_mb": r["daemon"].get("peak_rss_mb_before_scrapes"),
        "min_requests": min_requests(r),
    }
    types = {}
    for c in cyc:
        for k, v in c["requests_by_type"].items():
            types.setdefault(k, []).append(v)
    once = r["daemon"].get("once", {})
    if once:
        s["once_cpu_s"] = once.get("user_s", 0) + once.get("sys_s", 0)
        s["once_wall"] = once.get("wall")
        s["once_rss_mb"] = once.get("maxrss_kb", 0) / 1024
    s["idle_cpu"] = r["daemon"].get("idle_cpu_s_per_s")
    s["by_type"] = {k: med(v) for k, v in sorted(types.items())}
    s["req_ratio"] = s["requests"] / s["min_requests"]
    for sc in r.get("scrape", []):
        key = "%s_%d" % ("gz" if sc["gzip"] else "plain", sc["concurrency"])
        s[key] = sc
    return s


def targets_table(w, title, checks):
    """checks: (target, met, result text)."""
    w(title)
    w("")
    w("| target | result | met |")
    w("| --- | --- | --- |")
    for name, ok, val in checks:
        w("| %s | %s | %s |" % (name, val, "yes" if ok else "**no**"))
    w("")


def fmt(x, nd=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float):
        return ("%%.%df" % nd) % x
    return str(x)


def exponent(a, b, size_a, size_b):
    if not a or not b or a <= 0 or b <= 0:
        return "–"
    return "%.2f" % (math.log(b / a) / math.log(size_b / size_a))


def eval_section(w, ev, cycle_l):
    """bench/results/eval.json (bench/run.sh eval REV): the alert evaluator's cost per publish at L."""
    m = ev["machine"]
    any_run = next(iter(next(iter(ev["runs"].values())).values()))[0]
    lay = any_run["layout"]
    cycle_ms = cycle_l["cpu_s"] * 1000 if cycle_l else None
    w("## Alert evaluation cost per publish at L")
    w("")
    w("`bench/run.sh eval REV` runs `bench/eval_bench` (no broker): the real consumer_groups and cluster renders")
    w("on observations of the L layout (%s partitions, %s groups, %s group-partitions), the runner's tap and"
      % ("{:,}".format(lay["partitions"]), "{:,}".format(lay["groups"]), "{:,}".format(lay["group_partitions"])))
    w("hand-over, and `Evaluator::OnRun`, in this thread's CPU time, medians over %d cycles after %d of warm-up"
      % (any_run["cycles"], any_run["warmup"]))
    w("(status windows filled, `for` elapsed: every alert firing). **base** is %s, before this round; **head** is"
      % ("`%s`" % ev["base_rev"] if ev.get("base_rev") else "not run"))
    w("`%s`; %s, on %s cores, load average %s at the start (%s)."
      % (ev["head_rev"], "both in one run, interleaved" if ev.get("base_rev") else "head alone",
         m.get("nproc"), " / ".join(m.get("loadavg", [])), m.get("date")))
    w("**stopped** is the L cluster of the tables above: every group Empty, nothing committed, one message per")
    w("partition per cycle, so every group-partition is STOP and KafkaConsumerGroupStalled fires for all")
    w("10,000 group-topics (plus 100 KafkaConsumerGroupDataLoss); **healthy**: every group Stable, committing.")
    w("A cycle of the four Kafka collectors is four publishes: consumer_groups', and three that hand over no")
    w("samples (offsets, broker_stats, and a cluster run that kept its unchanged text).")
    w("")

    def med_plain(xs):
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None

    def phase(name):
        return lambda r: r["phases"].get(name, {}).get("cpu_ms")

    rows = [("consumer_groups render, untapped (context)", phase("render_untapped"), 1),
            ("tap: the samples' copies (base) or sums (head), replayed", lambda r: r["tap_cpu_ms"], 1),
            ("hand-over to the evaluator", phase("handover"), 1),
            ("`OnRun` of that publish (inputs, every rule, snapshot, ALERTS)", phase("onrun"), 1),
            ("**consumer_groups publish: tap + hand-over + OnRun**", lambda r: r["per_publish_cpu_ms"], 1),
            ("**a publish without samples: OnRun**", phase("onrun_eval_only"), 1),
            ("**per cycle of 4 publishes**", lambda r: r["per_cycle_cpu_ms"], 1),
            ("cluster publish when its view changed: tap + hand-over + OnRun", lambda r: r["cluster_publish_cpu_ms"], 1),
            ("samples handed over per consumer_groups publish",
             lambda r: sum(r.get("handed_over", {}).values()), 0),
            ("alerts (firing)", lambda r: r["alerts"], 0),
            ("peak RSS of eval_bench (MB)", lambda r: r.get("peak_rss_mb"), 1)]
    for scenario in ("stopped", "healthy"):
        sides = ev["runs"].get(scenario)
        if not sides:
            continue
        w("**%s** (CPU ms, medians):" % scenario)
        w("")
        w("| | base | head | head / base |")
        w("| --- | --- | --- | --- |")
        for label, f, nd in rows:
            vals = {side: med_plain([f(r) for r in sides[side]]) for side in ("base", "head") if side in sides}
            b, h = vals.get("base"), vals.get("head")
            ratio = "%.3f" % (h / b) if (b and h is not None and nd) else ""
            cell = lambda v: "–" if v is None else ("{:,}".format(int(v)) if nd == 0 else "%.1f" % v)
            w("| %s | %s | %s | %s |" % (label, cell(b), cell(h), ratio))
        if cycle_ms:
            per_cycle = {side: med_plain([r["per_cycle_cpu_ms"] for r in sides[side]]) for side in sides}
            w("| per cycle, %% of the L cycle's CPU (%.0f ms, above) | %s | %s | |"
              % (cycle_ms, ("%.1f %%" % (100 * per_cycle["base"] / cycle_ms)) if "base" in per_cycle else "–",
                 ("%.1f %%" % (100 * per_cycle["head"] / cycle_ms)) if "head" in per_cycle else "–"))
        w("")
    stopped = ev["runs"].get("stopped", {}).get("head")
    if stopped and cycle_ms:
        pub = med_plain([r["per_publish_cpu_ms"] for r in stopped])
        only = med_plain([r["phases"]["onrun_eval_only"]["cpu_ms"] for r in stopped])
        cyc = med_plain([r["per_cycle_cpu_ms"] for r in stopped])
        render = med_plain([r["phases"]["render_untapped"]["cpu_ms"] for r in stopped])
        cycle_median = statistics.median([pub, only, only, only])
        checks = [("consumer_groups publish < 20 ms", pub < 20, "%.1f ms" % pub),
                  ("median over a cycle's 4 publishes < 20 ms", cycle_median < 20, "%.1f ms" % cycle_median),
                  ("evaluation < 5 % of the cycle's CPU", cyc < 0.05 * cycle_ms,
                   "%.1f ms of %.0f ms: %.1f %%" % (cyc, cycle_ms, 100 * cyc / cycle_ms))]
        targets_table(w, "### Targets at L, every group stopped (head)", checks)
        w("The cycle's CPU is `cycle_bench`'s at L above (whole process, librdkafka included, no evaluator in")
        w("it); the consumer_groups render measured here takes %.0f ms of it (%.0f %%)." % (render, 100 * render / cycle_ms))
        w("")


def cycle_of(r):
    """The last steady cycle of a size's cycle_bench run (its family_series), or None."""
    if not r or not r.get("cycle", {}).get("cycles"):
        return None
    return steady(r["cycle"]["cycles"])[-1]


def granularity_section(w, gr, cycle_l):
    """bench/results/granularity.json (bench/run.sh granularity): the consumer_groups exposition at L per
    collectors.consumer_groups.granularity, without a broker (bench/eval_bench)."""
    m = gr["machine"]
    any_run = next(iter(next(iter(gr["runs"].values())).values()))
    lay = any_run["layout"]
    w("## Series by granularity at L (issue 19)")
    w("")
    w("`bench/run.sh granularity` runs `bench/eval_bench` (no broker): the real `ConsumerGroupsCollector::Render`")
    w("on observations of the L layout (%s partitions, %s groups, %s group-partitions), one message per"
      % ("{:,}".format(lay["partitions"]), "{:,}".format(lay["groups"]), "{:,}".format(lay["group_partitions"])))
    w("partition per cycle, %d cycles after %d of warm-up (status windows full), one process per row;"
      % (any_run["cycles"], any_run["warmup"]))
    w("`%s`, on %s cores, load average %s at the start (%s). **partition** renders what the default rendered"
      % (gr["head_rev"], m.get("nproc"), " / ".join(m.get("loadavg", [])), m.get("date")))
    w("before issue 19 (its code path is unchanged; `tests/fixtures/golden-partition.prom` kept every sample,")
    w("only two HELP texts changed),")
    w("so it is the base of the ratios. **healthy**: every group Stable and committing (no partition status);")
    w("**stopped**: every group Empty, every group-partition STOP. CPU is this thread's, medians; the peak RSS")
    w("is eval_bench's (two collectors and the evaluator), for comparison between rows only.")
    w("")
    w("| scenario | granularity | consumer_groups series | ratio | body MB | ratio | render CPU ms | ratio | "
      "peak RSS MB |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for scenario in ("healthy", "stopped"):
        runs = gr["runs"].get(scenario, {})
        base = runs.get("partition")
        for g in ("partition", "mixed", "topic"):
            r = runs.get(g)
            if not r:
                continue
            render = r["phases"]["render_untapped"]["cpu_ms"]
            ratio = lambda a, b: "%.2f" % (a / b) if b else "–"
            w("| %s | %s | %s | %s | %.1f | %s | %.0f | %s | %.0f |" % (
                scenario, "**%s** (default)" % g if g == "mixed" else g, "{:,}".format(r["series"]),
                ratio(r["series"], base["series"]) if base else "–", r["body_bytes"] / 1e6,
                ratio(r["body_bytes"], base["body_bytes"]) if base else "–", render,
                ratio(render, base["phases"]["render_untapped"]["cpu_ms"]) if base else "–",
                r["peak_rss_mb"]))
    w("")
    if cycle_l and cycle_l.get("family_series"):
        fs = cycle_l["family_series"]
        others = sum(v for k, v in fs.items() if not k.startswith("kafka_consumergroup_"))
        healthy = gr["runs"].get("healthy", {})
        w("**The whole exposition at L**, derived: the other collectors' series from the L run above (%s, every"
          % "{:,}".format(others))
        w("family not `kafka_consumergroup_*`; they do not depend on the granularity) plus the consumer_groups")
        w("series measured here, healthy groups (the L run's groups had not filled their status windows either):")
        w("")
        w("| granularity | series in /metrics | ratio to partition | target (L) |")
        w("| --- | --- | --- | --- |")
        for g in ("partition", "mixed", "topic"):
            if g in healthy:
                total = others + healthy[g]["series"]
                base_total = others + healthy["partition"]["series"] if "partition" in healthy else None
                w("| %s | %s | %s | %s |" % (g, "{:,}".format(total),
                                          "%.2f" % (total / base_total) if base_total else "–",
                                          "≤ 550,000 (%s)" % ("met" if total <= 550000 else "**not met**")
                                          if g == "mixed" else ""))
        w("")


def main(results, out):
    runs = {s: load(results, s) for s in SIZES}
    render = load(results, "render")
    sums = {s: summary(r) for s, r in runs.items() if r}
    L = []
    w = L.append
    w("# Benchmarks: collection, render and scrape at scale")
    w("")
    w("Generated by `bench/run.sh` (`bench/report.py` from `bench/results/*.json`, with the analysis in")
    w("`bench/notes.md`). A benchmark, not a timed test: numbers from a shared 2-core machine are")
    w("indicative; ratios and exponents travel better than absolute times. Re-run with")
    w("`bench/run.sh [S|M|L|all|render]` (S and M take 1–3 minutes each, L about 8, of which 1–2 create")
    w("the 20,000 partitions).")
    w("")
    w("## Machine")
    w("")
    w("| size | date | nproc | RAM | CPU | load average at start (1/5/15 min) | librdkafka | Kafka | compiler |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in SIZES:
        if runs[s]:
            m = runs[s]["machine"]
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (s, m["date"], m["nproc"], m["ram"], m["cpu"],
              " / ".join(m["loadavg"]), m["librdkafka"], m["kafka"], m["compiler"]))
    if render:
        m = render["machine"]
        w("| render | %s | %s | %s | %s | %s | %s | %s | %s |" % (m["date"], m["nproc"], m["ram"], m["cpu"],
          " / ".join(m["loadavg"]), m["librdkafka"], m["kafka"], m["compiler"]))
    w("")
    w("Build: RelWithDebInfo (`-O2 -g`). Brokers: %s KRaft nodes (combined broker+controller, 512 MB heap"
      % (next(iter(runs.values()))["layout"]["brokers"] if any(runs.values()) else "3"))
    w("each) on the same machine as the exporter, so every wall time includes brokers competing for the")
    w("same two cores.")
    w("")
    w("## Layout")
    w("")
    w("| size | topics × partitions | partitions | groups | topics per group | lag series | setup time |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for s in SIZES:
        r = runs[s]
        if r:
            l = r["layout"]
            w("| %s | %d × %d | %d | %d | %d | %d | %d s |" % (s, l["topics"], l["partitions_per_topic"],
              l["partitions"], l["groups"], l["topics_per_group"], l["lag_series"], r["setup_s"]))
    w("")
    w("Topics `bench-topic-NNNNN` (RF 1, 5–20 messages per partition); group `bench-group-NNNNN` commits on")
    w("every partition of its topics, written with `AlterConsumerGroupOffsets` (no consumer runs, so every")
    w("group is `Empty`), at offsets that leave lags of 0 to 20. Between measured cycles one message is")
    w("produced to every partition, so watermarks move and the lag-in-seconds series exist.")
    w("")
    w("## Results")
    w("")
    w("Per collection cycle: all collectors (cluster, offsets, consumer_groups, broker_stats) run together")
    w("the way `--once` runs them (`CollectorRunner::RunOnce`), in `bench/cycle_bench` (same library and")
    w("collectors as the daemon). Medians of the steady cycles (2..N; the first also opens connections and")
    w("reads topic configs).")
    w("")
    hdr = ["", "S", "M", "L", "target (L)"]
    w("| " + " | ".join(hdr) + " |")
    w("|" + " --- |" * len(hdr))

    def row(label, key, nd=2, target=None, f=None):
        vals = []
        for s in SIZES:
            v = sums[s].get(key) if s in sums else None
            vals.append(f(v) if (f and v is not None) else fmt(v, nd))
        w("| %s | %s | %s |" % (label, " | ".join(vals), target or ""))
    row("series in /metrics", "series", 0, f=lambda v: "{:,}".format(int(v)))
    row("cycle wall (s)", "wall_s", 3, "< 2 s")
    row("cycle CPU (CPU-s, whole process)", "cpu_s", 3, "< 0.5 CPU-s")
    row("Kafka requests per cycle", "requests", 0, f=lambda v: "{:,}".format(int(v)))
    row("achievable minimum 1 + 2B⌈N/C⌉ + 2B + 2G", "min_requests", 0, f=lambda v: "{:,}".format(int(v)))
    row("requests / minimum", "req_ratio", 2, "≤ 1.2")
    row("peak RSS, cycle_bench (MB)", "rss_inproc_mb", 1)
    row("peak RSS, daemon before scrapes (MB)", "rss_daemon_noscrape_mb", 1, "< 150 MB")
    row("peak RSS, daemon incl. 16 scrapers (MB)", "rss_daemon_mb", 1)
    row("daemon `--once` (cold: start, first cycle, print): CPU-s", "once_cpu_s", 2)
    row("daemon `--once`: wall (m:ss)", "once_wall", 2)
    row("daemon `--once`: max RSS (MB)", "once_rss_mb", 1)
    row("daemon serving, 2 s intervals, no scrapes: CPU-s per s", "idle_cpu", 3)
    row("/metrics body, plain (MB)", "body_mb", 2)
    row("/metrics body, gzip (MB)", "gzip_mb", 2)
    row("render: what a scrape does, SnapshotStore::Shared (ms)", "render_ms", 3, "< 50 ms")
    row("gzip of the body, zlib level 6 as cpp-httplib (ms)", "gzip_ms", 1)
    for gz in ("plain", "gz"):
        for c in (1, 4, 16):
            key = "%s_%d" % (gz, c)
            vals = []
            for s in SIZES:
                sc = sums.get(s, {}).get(key)
                vals.append("%s / %s (n=%d)" % (fmt(sc["p50_ms"], 1), fmt(sc["p99_ms"], 1), sc["n"]) if sc else "–")
            target = "p99 < 50 ms" if (gz == "plain" and c == 16) else ""
            w("| scrape p50 / p99 ms, %d concurrent, %s | %s | %s |" % (c, "gzip" if gz == "gz" else "plain",
              " | ".join(vals), target))
    w("")
    w("Requests by API per steady cycle (librdkafka statistics `brokers.*.req`, summed over brokers):")
    w("")
    apis = sorted({k for s in sums.values() for k in s["by_type"]})
    w("| API | " + " | ".join(s for s in SIZES if s in sums) + " |")
    w("| --- |" + " --- |" * len(sums))
    for a in apis:
        w("| %s | %s |" % (a, " | ".join(fmt(sums[s]["by_type"].get(a, 0), 0) for s in SIZES if s in sums)))
    w("")
    if "L" in sums:
        s = sums["L"]
        p99 = s.get("plain_16", {}).get("p99_ms")
        checks = [("cycle wall < 2 s", s["wall_s"] < 2.0, "%.2f s" % s["wall_s"]),
                  ("cycle CPU < 0.5 CPU-s", s["cpu_s"] < 0.5, "%.2f CPU-s" % s["cpu_s"]),
                  ("RSS < 150 MB (daemon, before scrapes)", (s["rss_daemon_noscrape_mb"] or 1e9) < 150,
                   "%s MB" % fmt(s["rss_daemon_noscrape_mb"], 0)),
                  ("render < 50 ms", s["render_ms"] < 50, "%.1f ms" % s["render_ms"]),
                  ("scrape p99 < 50 ms at 16 concurrent (plain)", p99 is not None and p99 < 50,
                   "%s ms" % fmt(p99, 0)),
                  ("scrape p99 < 50 ms at 16 concurrent (gzip, as Prometheus asks)",
                   s.get("gz_16", {}).get("p99_ms") is not None and s["gz_16"]["p99_ms"] < 50,
                   "%s ms" % fmt(s.get("gz_16", {}).get("p99_ms"), 0)),
                  ("requests ≤ 1.2 × minimum", s["req_ratio"] <= 1.2, "%.2f ×" % s["req_ratio"])]
        targets_table(w, "### Targets at L", checks)
    tg = [(s, runs[s]["topic_granularity"]) for s in SIZES
          if runs[s] and isinstance(runs[s].get("topic_granularity"), dict) and "daemon" in runs[s]["topic_granularity"]]
    if tg:
        w("### The daemon at `granularity: topic`")
        w("")
        w("The same cluster and daemon, `collectors.consumer_groups.granularity: topic` (per-topic sums;")
        w("no per-partition group offset, lag and lag-seconds series; partition statuses counted and data")
        w("loss summed per topic), the setting `docs/deployment.md` gives for clusters this size. Collector")
        w("intervals 2 s; CPU-s per s × 2 is what a full cycle of all collectors costs.")
        w("")
        w("| size | series | CPU-s per s, no scrapes | peak RSS before scrapes (MB) | peak RSS incl. 16 scrapers (MB) | gzip p50 / p99 ms at 1 / 4 / 16 scrapers |")
        w("| --- | --- | --- | --- | --- | --- |")
        for s, t in tg:
            d = t["daemon"]
            cells = []
            for c in (1, 4, 16):
                x = [r for r in t.get("scrape", []) if r.get("concurrency") == c]
                cells.append("%s / %s" % (fmt(x[0]["p50_ms"], 1), fmt(x[0]["p99_ms"], 1)) if x else "–")
            w("| %s | %s | %s | %s | %s | %s |" % (s, "{:,}".format(int(d.get("series") or 0)),
              fmt(d.get("idle_cpu_s_per_s"), 3), fmt(d.get("peak_rss_mb_before_scrapes"), 0),
              fmt(d.get("peak_rss_mb"), 0), " ; ".join(cells)))
        w("")
        tc = {s: cycle_summary(runs[s], t["cycle"]) for s, t in tg if t.get("cycle", {}).get("cycles")}
        if tc:
            w("Collection cycles at `granularity: topic` (`cycle_bench --config` with that one setting,")
            w("medians of the steady cycles, as above):")
            w("")
            w("| size | series | cycle wall (s) | cycle CPU (CPU-s) | requests | requests / minimum |")
            w("| --- | --- | --- | --- | --- | --- |")
            for s, c in tc.items():
                w("| %s | %s | %.3f | %.3f | %s | %.2f |" % (s, "{:,}".format(int(c["series"])), c["wall_s"],
                  c["cpu_s"], "{:,}".format(int(c["requests"])), c["req_ratio"]))
            w("")
        t = dict(tg).get("L")
        if t and "L" in tc:
            c, d = tc["L"], t["daemon"]
            g16 = [x for x in t.get("scrape", []) if x.get("concurrency") == 16]
            p99 = g16[0]["p99_ms"] if g16 else None
            rss = d.get("peak_rss_mb_before_scrapes")
            checks = [("cycle wall < 2 s", c["wall_s"] < 2.0, "%.2f s" % c["wall_s"]),
                      ("cycle CPU < 0.5 CPU-s", c["cpu_s"] < 0.5, "%.2f CPU-s" % c["cpu_s"]),
                      ("RSS < 150 MB (daemon, before scrapes)", rss is not None and rss < 150, "%s MB" % fmt(rss, 0)),
                      ("render < 50 ms", True, "as above (pointer copies)"),
                      ("scrape p99 < 50 ms at 16 concurrent (gzip, as Prometheus asks)",
                       p99 is not None and p99 < 50, "%s ms" % fmt(p99, 0)),
                      ("requests ≤ 1.2 × minimum", c["req_ratio"] <= 1.2, "%.2f ×" % c["req_ratio"])]
            targets_table(w, "#### Targets at L, `granularity: topic`", checks)
    if "M" in sums and "L" in sums and runs["M"] and runs["L"]:
        w("### How cost grows (exponent log(cost_L/cost_M) / log(size_L/size_M))")
        w("")
        w("Size is the lag-series count (×10 from M to L; partitions also ×10, groups ×20).")
        w("")
        sm, sl = runs["M"]["layout"]["lag_series"], runs["L"]["layout"]["lag_series"]
        w("| cost | S | M | L | exponent S→M | exponent M→L |")
        w("| --- | --- | --- | --- | --- | --- |")
        ss = runs["S"]["layout"]["lag_series"] if runs.get("S") else None
        for label, key in (("cycle wall (s)", "wall_s"), ("cycle CPU (CPU-s)", "cpu_s"),
                           ("requests", "requests"), ("series", "series"), ("body (MB)", "body_mb"),
                           ("peak RSS cycle_bench (MB)", "rss_inproc_mb")):
            a = sums.get("S", {}).get(key)
            b, c = sums["M"].get(key), sums["L"].get(key)
            w("| %s | %s | %s | %s | %s | %s |" % (label, fmt(a, 3), fmt(b, 3), fmt(c, 3),
              exponent(a, b, ss, sm) if ss else "–", exponent(b, c, sm, sl)))
        w("")
        gm, gl = runs["M"]["layout"]["groups"], runs["L"]["layout"]["groups"]
        w("Requests follow the group count rather than the lag series: against groups (×%d from M to L)"
          % (gl // gm))
        w("their exponent is %s, i.e. linear: two requests per group, and the ListOffsets chunks."
          % exponent(sums["M"]["requests"], sums["L"]["requests"], gm, gl))
        w("A scrape's render is now pointer copies, whatever the size, so it has no row here.")
        w("Building the text in the collectors grows with an exponent of ~1.1 (`render_bench builder` at")
        w("23k, 230k and 1M series: 7.7, 102 and 537 ms).")
        w("")
    https = [(s, runs[s].get("http", [])) for s in SIZES if runs[s] and runs[s].get("http")]
    if https:
        w("## The HTTP path alone: before vs now")
        w("")
        w("`bench/http_bench` serves the body the daemon served at that size (saved from its `/metrics`),")
        w("republished every 2 s as a collector run would, with brokers stopped: **current** (before) joins")
        w("self metrics + `SnapshotStore::Render()` per scrape, `set_content`, cpp-httplib's per-response")
        w("gzip and its default 8 workers; **proposed** (now) is the daemon's own `HttpServer`: the")
        w("published texts served as they are through a content provider, each text deflated once per")
        w("publish and stitched into one gzip member, 32 workers. `bench/scrape_load`, 5 s per row.")
        w("")
        w("| size | mode | encoding | 1 scraper p50 / p99 ms | 4 scrapers p50 / p99 ms | 16 scrapers p50 / p99 ms | peak RSS MB |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for s, rows in https:
            for mode in ("current", "proposed"):
                for gz in (False, True):
                    cells, rss = [], 0
                    for c in (1, 4, 16):
                        x = [r for r in rows if r["mode"] == mode and r["gzip"] == gz and r["concurrency"] == c]
                        if x:
                            cells.append("%s / %s (n=%d)" % (fmt(x[0]["p50_ms"], 1), fmt(x[0]["p99_ms"], 1), x[0]["n"]))
                            rss = max(rss, x[0].get("peak_rss_mb", 0))
                        else:
                            cells.append("–")
                    w("| %s | %s | %s | %s | %s |" % (s, mode, "gzip" if gz else "plain", " | ".join(cells), fmt(float(rss), 0)))
        w("")
    sweeps = [(s, runs[s]["cycle"].get("sweep", [])) for s in SIZES if runs[s] and runs[s]["cycle"].get("sweep")]
    if sweeps:
        w("## OffsetFetch throughput by max_in_flight")
        w("")
        w("`FetchCommittedOffsets` over every group (one `ListConsumerGroupOffsets` per group on librdkafka")
        w("2.0.2), median of 3 runs, after the cycles above (coordinators cached).")
        w("")
        w("| size | groups | max_in_flight | seconds | groups/s | failed |")
        w("| --- | --- | --- | --- | --- | --- |")
        for s, sw in sweeps:
            for x in sw:
                w("| %s | %d | %d | %.3f | %.0f | %d |" % (s, x["groups"], x["max_in_flight"], x["median_s"],
                  x["groups_per_s"], x["failed"]))
        w("")
    w("## Correctness at scale")
    w("")
    w("After the scrape runs (no produce since), the daemon's `kafka_consumergroup_lag` is compared with")
    w("`kafka-consumer-groups --describe` (`kafkactl.py groups`) for a sample of groups (`bench/compare_lag.py`).")
    w("")
    w("| size | groups sampled | partitions compared | mismatches | extra series | ok |")
    w("| --- | --- | --- | --- | --- | --- |")
    for s in SIZES:
        r = runs[s]
        if r:
            c = r.get("correctness", {})
            w("| %s | %s | %s | %s | %s | %s |" % (s, ", ".join(c.get("groups", [])) or "–",
              c.get("partitions_compared", "–"), c.get("mismatches", "–"), c.get("extra_in_exporter", "–"),
              "yes" if c.get("ok") else "**no** " + json.dumps(c.get("examples", c.get("error", "")))))
    w("")
    if render:
        rg, bd = render["registry"], render["builder"]
        w("## Render path: MetricsBuilder vs prometheus-cpp Registry")
        w("")
        w("`bench/render_bench` builds and renders %d consumer-lag-shaped series (median of 5, one mode"
          % int(rg["series"]))
        w("per process so peak RSS belongs to it), RelWithDebInfo:")
        w("")
        w("| mode | median ms | min ms | max ms | body bytes | peak RSS MB |")
        w("| --- | --- | --- | --- | --- | --- |")
        for name, d in (("prometheus-cpp Registry + TextSerializer", rg), ("MetricsBuilder", bd)):
            w("| %s | %.1f | %.1f | %.1f | %d | %.1f |" % (name, d["median_ms"], d["min_ms"], d["max_ms"],
              int(d["body_bytes"]), d["peak_rss_mb"]))
        w("")
        w("Ratio: MetricsBuilder is %.1f× faster and needs %.1f× less peak memory (earlier Debug build:"
          % (rg["median_ms"] / bd["median_ms"], rg["peak_rss_mb"] / bd["peak_rss_mb"]))
        w("814 ms / 436 MB vs 201 ms / 128 MB; the builder as it was before this round, RelWithDebInfo:")
        w("170.6 ms / 127.8 MB, see *What changed* below).")
        w("")
        w("Why the daemon pre-renders text per collector run instead of keeping a Registry:")
        w("")
        w("- **Cost**: building and serializing is the whole price of a scrape with a Registry, every")
        w("  scrape, for every scraper. The builder pays it once per collector run, and a scrape then")
        w("  only writes the immutable published texts one after the other (`SnapshotStore::Shared()`:")
        w("  pointer copies, no join).")
        w("- **Memory**: a Registry keeps a metric object, label maps and a family per series for as")
        w("  long as the series lives. The builder keeps text, the only form /metrics needs.")
        w("- **Consistency**: a collector's series are replaced as a whole when it publishes, so a")
        w("  scrape never sees half of one run and half of the next. A failed run removes its series")
        w("  together instead of leaving stale gauges behind. A duplicate label set is dropped when")
        w("  the series is built, so it can never reach a scrape.")
        w("- **Isolation**: a scrape never takes a collector's lock and never waits on Kafka.")
        w("")
        w("The daemon's few self metrics stay in a prometheus-cpp Registry (`SelfMetrics`): there are")
        w("few of them, and they are updated from many threads, which is what a Registry does well.")
        w("")
    compare = [load(results, "compare-" + size) for size in ("S", "M", "L")]
    compare = [c for c in compare if c]
    if compare:
        w("## No-regression check")
        w("")
        w("`bench/run.sh compare REV [S M L]`: the collection cycle of REV (base) and of this tree (head),")
        w("on one cluster per size, in one run, interleaved (base, head, base, head, ...). Medians over")
        w("all steady cycles of every round; head/base ratios near 1.00 are within noise.")
        w("")
        w("| size | base | head | date | rounds | load at start | cycle CPU-s base / head (ratio) | "
          "cycle wall s base / head (ratio) | cycle_bench peak RSS MB base / head (ratio) | "
          "daemon --once max RSS MB base / head (ratio) |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

        def pair(c, key, nd):
            b, h = c["base"].get(key), c["head"].get(key)
            if b is None or h is None:
                return "n/a"
            return "%s / %s (%s)" % (fmt(b, nd), fmt(h, nd), fmt(h / b, 2) if b else "n/a")

        for c in compare:
            m = c["machine"]
            w("| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |" % (
                c["size"], c["base_rev"], c["head_rev"], m.get("date", ""), c["rounds"], " / ".join(m.get("loadavg", [])),
                pair(c, "cycle_cpu_s", 3), pair(c, "cycle_wall_s", 3), pair(c, "cycle_peak_rss_mb", 1),
                pair(c, "once_max_rss_mb", 1)))
        w("")
    gr = load(results, "granularity")
    if gr and gr.get("runs"):
        granularity_section(w, gr, cycle_of(runs.get("L")))
    ev = load(results, "eval")
    if ev and ev.get("runs"):
        eval_section(w, ev, sums.get("L"))
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):
        w(open(notes).read().rstrip())
        w("")
    with open(out, "w") as f:
        f.write("\n".join(L))
    print("wrote " + out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
