#!/usr/bin/env python3
"""Cross-checks for the alerting and dashboard assets (run by check.sh).

    validate.py dashboard FILE   one Grafana dashboard (stdlib json only)
    validate.py promql           every dashboard query parses (needs promtool)
    validate.py contract         rules and dashboards use only names from
                                 docs/metrics.md (its tables, and the
                                 series it lists as read, not exported;
                                 plus `up`, and recording rules in rules/)
    validate.py alerts           labels/annotations/runbook_url of every alert
    validate.py runbooks         one docs/runbooks.md section per alert and back
    validate.py tests            every alert has a firing and a silent unit test
    validate.py inhibitions      alertmanager inhibit rules name existing alerts

Prints what is wrong and exits 1; exits 0 when the check passes and 77 when
it cannot run here (PyYAML or promtool missing).
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTRACT = os.path.join(ROOT, "docs", "metrics.md")
RULE_FILES = sorted(glob.glob(os.path.join(ROOT, "rules", "*.yml")) +
                    glob.glob(os.path.join(ROOT, "rules", "*.yaml")))
TEST_FILES = sorted(glob.glob(os.path.join(ROOT, "tests", "rules", "*.test.yml")))
DASHBOARDS = sorted(glob.glob(os.path.join(ROOT, "dashboards", "*.json")))
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks.md")
ALERTMANAGER = os.path.join(ROOT, "config", "alertmanager.yml")
RUNBOOK_BASE = "https://github.com/dora/dora-kafka-exporter/blob/main/docs/runbooks.md#"
SEVERITIES = {"page", "ticket", "warning"}
SKIP = 77

# Design thresholds each dashboard must draw (fieldConfig.defaults.thresholds).
REQUIRED_THRESHOLDS = {
    "cluster-overview.json": [10000, 0.8, 5, 0.01, 0.9999, 100000, 500000],
    "consumer-lag.json": [10000, 0.8],
    "topics-throughput.json": [100000, 500000, 0.5],
    "brokers-disk-replication.json": [0.8, 5, 0.9, 600],
    "schema-registry.json": [1],
    "slo-probe.json": [0.9999, 0.01, 5],
    "kafka-connect.json": [1, 10000],
}
BASE_VARIABLES = ("datasource", "job", "cluster")
KUBELET_SERIES = re.compile(r"^(kubelet_volume_stats_|broker_pvc:kubelet_volume_stats_)")


def load_yaml(path):
    import yaml  # only the YAML checks need it
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- PromQL helpers --------------------------------------------------------------

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                   "or", "unless", "offset", "bool", "inf", "nan"}


def metric_names(expr):
    """Metric names an expression selects (heuristic, enough for our queries)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"'(?:[^'\\]|\\.)*'", "''", e)
    e = re.sub(r"\{[^}]*\}", "{}", e)
    e = re.sub(r"\[[^\]]*\]", "[]", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\s*(\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def label_values_metric(query):
    """label_values(metric{...}, label) -> 'metric{...}'."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_]\w*\s*\)\s*", query)
    return m.group(1) if m else None


def selectors(expr):
    """(metric name, matcher text) of every selector with braces."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: m.group(0).replace("{", "(").replace("}", ")"), expr)
    return re.findall(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", e)


def grafana_to_promql(expr):
    return (expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
                .replace("$__interval", "1m"))


def contract_names():
    """Names docs/metrics.md declares: a table row per exported family (the
    metric catalogue's, tests/unit/test_catalogue.cpp) and a list item per
    series read from elsewhere (`- `kubelet_...{labels}``)."""
    names, histograms = set(), set()
    with open(CONTRACT, encoding="utf-8") as f:
        for line in f:
            row = re.match(r"^\| `([a-z_:][a-z0-9_:]*)` \| ([a-z]+) \|", line)
            if row:
                names.add(row.group(1))
                if row.group(2) == "histogram":
                    histograms.add(row.group(1))
                continue
            read = re.match(r"^- `([a-z_:][a-z0-9_:]*)[{`]", line)
            if read:
                names.add(read.group(1))
    for h in histograms:
        names.update({h + "_bucket", h + "_sum", h + "_count"})
    return names


# --- dashboards ------------------------------------------------------------------

def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def dashboard_queries(d):
    for p in walk_panels(d.get("panels", [])):
        for t in p.get("targets", []):
            yield p.get("title", "?"), t.get("expr", "")
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            yield "variable " + v.get("name", "?"), q or ""


def check_dashboard(path):
    errors = []
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        return [f"{name}: not valid JSON: {e}"]

    if not str(d.get("title", "")).startswith("DORA Kafka / "):
        errors.append(f"{name}: title must start with 'DORA Kafka / '")
    if not re.fullmatch(r"[a-z0-9-]{1,40}", str(d.get("uid", ""))):
        errors.append(f"{name}: uid missing or not a stable slug")
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        errors.append(f"{name}: schemaVersion must be >= 36")

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    for v in BASE_VARIABLES:
        if v not in variables:
            errors.append(f"{name}: templating variable '{v}' missing")
    ds = variables.get("datasource", {})
    if ds and (ds.get("type") != "datasource" or ds.get("query") != "prometheus"):
        errors.append(f"{name}: variable datasource must be type datasource, query prometheus")
    for vname, v in variables.items():
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not label_values_metric(q or ""):
            errors.append(f"{name}: variable {vname} is not a label_values() query")
        if (v.get("datasource") or {}).get("uid") != "${datasource}":
            errors.append(f"{name}: variable {vname} does not use ${{datasource}}")
        if not (v.get("includeAll") and v.get("allValue") == ".*" and v.get("multi")):
            errors.append(f"{name}: variable {vname} needs multi, includeAll and allValue '.*'")
    if "label_values(kafka_exporter_build_info" not in json.dumps(variables.get("job", {})):
        errors.append(f"{name}: variable job must come from kafka_exporter_build_info")

    ids, thresholds = set(), set()
    for p in walk_panels(d.get("panels", [])):
        title = p.get("title", "?")
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            errors.append(f"{name}: panel '{title}' datasource is not ${{datasource}}")
        if p.get("id") in ids:
            errors.append(f"{name}: duplicate panel id {p.get('id')}")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            errors.append(f"{name}: panel '{title}' has no gridPos")
        for t in p.get("targets", []):
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                errors.append(f"{name}: a query of '{title}' does not use ${{datasource}}")
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        th = defaults.get("thresholds")
        if th:
            if th.get("mode") != "absolute":
                errors.append(f"{name}: panel '{title}' thresholds are not absolute")
            values = [s.get("value") for s in th.get("steps", []) if s.get("value") is not None]
            style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
            if p.get("type") == "timeseries" and len(values) > 0 and style == "off":
                errors.append(f"{name}: panel '{title}' has thresholds but does not draw them")
            thresholds.update(values)
    for value in REQUIRED_THRESHOLDS.get(name, []):
        if value not in thresholds:
            errors.append(f"{name}: no panel draws the design threshold {value}")

    for where, expr in dashboard_queries(d):
        if where.startswith("variable"):
            expr = label_values_metric(expr) or expr
        for metric, matchers in selectors(expr):
            if metric in ("kafka_exporter_build_info",) and where in ("variable job",):
                continue
            # $job lists the exporter's jobs; kubelet-derived series come from the
            # kubelet's job, so they are filtered by cluster only.
            if 'job=~"$job"' not in matchers and not KUBELET_SERIES.match(metric):
                errors.append(f"{name}: {where}: selector {metric} lacks job=~\"$job\"")
            if where != "variable cluster" and 'cluster=~"$cluster"' not in matchers:
                errors.append(f"{name}: {where}: selector {metric} lacks cluster=~\"$cluster\"")
    return errors


def check_promql():
    """Every dashboard query parses: feed them to promtool as recording rules."""
    if not shutil_which("promtool"):
        return None
    rules = []
    for path in DASHBOARDS:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for where, expr in dashboard_queries(d):
            if where.startswith("variable"):
                expr = label_values_metric(expr) or expr
            rules.append({"record": "dashboard:query", "expr": grafana_to_promql(expr),
                          "labels": {"where": f"{os.path.basename(path)}: {where}"}})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
        tmp = f.name
    try:
        r = subprocess.run(["promtool", "check", "rules", tmp], capture_output=True, text=True)
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        return [r.stdout + r.stderr]
    return []


def shutil_which(cmd):
    import shutil
    return shutil.which(cmd)


# --- rules -----------------------------------------------------------------------

def all_rules():
    for path in RULE_FILES:
        for g in load_yaml(path).get("groups", []):
            for r in g.get("rules", []):
                yield os.path.basename(path), r


def alerts():
    return [r for _, r in all_rules() if "alert" in r]


def check_contract():
    known = contract_names() | {"up"}
    recorded = {r["record"] for _, r in all_rules() if "record" in r}
    errors = []
    for path, r in all_rules():
        for m in metric_names(r["expr"]) - known - recorded:
            errors.append(f"{path}: {r.get('alert') or r.get('record')}: unknown metric {m}")
    for path in DASHBOARDS:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for where, expr in dashboard_queries(d):
            if where.startswith("variable"):
                expr = label_values_metric(expr) or expr
            for m in metric_names(grafana_to_promql(expr)) - known - recorded:
                errors.append(f"{os.path.basename(path)}: {where}: unknown metric {m}")
    return errors


def check_alerts():
    # One name may have several rules only as variants of one alert over other
    # sources (rules/dora-kafka-kubelet-disk.rules.yml): same labels and runbook,
    # in different files, so routing and inhibition treat them alike.
    errors, seen = [], {}
    for path, r in all_rules():
        if "alert" not in r:
            continue
        name = r["alert"]
        if name in seen:
            first_path, first = seen[name]
            if first_path == path:
                errors.append(f"{name}: defined twice in {path}")
            elif (first.get("labels") != r.get("labels") or
                  first.get("annotations", {}).get("runbook_url") != r.get("annotations", {}).get("runbook_url")):
                errors.append(f"{name}: the variant in {path} differs from {first_path} in labels or runbook_url")
        else:
            seen[name] = (path, r)
        sev = r.get("labels", {}).get("severity")
        if sev not in SEVERITIES:
            errors.append(f"{name}: severity {sev!r} not in {sorted(SEVERITIES)}")
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                errors.append(f"{name}: annotation {key} missing")
        if "$labels" not in ann.get("description", "") and "$value" not in ann.get("description", ""):
            errors.append(f"{name}: description uses neither $labels nor $value")
        if ann.get("runbook_url") != RUNBOOK_BASE + name.lower():
            errors.append(f"{name}: runbook_url must be {RUNBOOK_BASE}{name.lower()}")
    return errors


def check_runbooks():
    with open(RUNBOOKS, encoding="utf-8") as f:
        text = f.read()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    headings = [s.splitlines()[0].strip() for s in sections]
    names = {r["alert"] for r in alerts()}
    errors = []
    for h in sorted(set(headings)):
        if headings.count(h) > 1:
            errors.append(f"runbooks.md: section '{h}' appears {headings.count(h)} times")
    for h in sorted(set(headings) - names):
        errors.append(f"runbooks.md: section '{h}' matches no alert")
    for n in sorted(names - set(headings)):
        errors.append(f"runbooks.md: no section for alert {n}")
    for s in sections:
        h = s.splitlines()[0].strip()
        for part in ("What it means", "How to check", "What to do"):
            if part not in s:
                errors.append(f"runbooks.md: section {h} lacks '{part}'")
    return errors


def check_tests():
    firing, silent = set(), set()
    for path in TEST_FILES:
        for t in load_yaml(path).get("tests", []):
            for a in t.get("alert_rule_test", []):
                (firing if a.get("exp_alerts") else silent).add(a["alertname"])
    errors = []
    for n in sorted(r["alert"] for r in alerts()):
        if n not in firing:
            errors.append(f"{n}: no unit test where it fires")
        if n not in silent:
            errors.append(f"{n}: no unit test where it stays silent")
    return errors


def check_inhibitions():
    names = {r["alert"] for r in alerts()}
    errors = []
    for rule in load_yaml(ALERTMANAGER).get("inhibit_rules", []):
        for key in ("source_matchers", "target_matchers"):
            for m in rule.get(key, []):
                mm = re.fullmatch(r'\s*alertname\s*=\s*"?([^"]+)"?\s*', m)
                if mm and mm.group(1) not in names:
                    errors.append(f"alertmanager.yml: {key} names unknown alert {mm.group(1)}")
    return errors


CHECKS = {
    "promql": check_promql,
    "contract": check_contract,
    "alerts": check_alerts,
    "runbooks": check_runbooks,
    "tests": check_tests,
    "inhibitions": check_inhibitions,
}


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    try:
        if argv[0] == "dashboard":
            errors = check_dashboard(argv[1])
        else:
            errors = CHECKS[argv[0]]()
    except ImportError as e:
        print(f"skipped: {e} (install python3-yaml)")
        return SKIP
    if errors is None:
        print("skipped: promtool not found")
        return SKIP
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
