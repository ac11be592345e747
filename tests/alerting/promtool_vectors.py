#!/usr/bin/env python3
"""Runs every scenario vector of tests/alerting/vectors/ through promtool.

A vector is one promtool rule-test case (name, interval, input_series,
alert_rule_test) against rules/dora-kafka.rules.yml; this wraps each in a
rule-test file (rule_files, evaluation_interval 1m) and runs
`promtool test rules` on it. tests/unit/test_alerting_vectors.cpp runs the same
vectors through the daemon's own evaluator: both must agree with the
expected alerts, so they agree with each other.
Exit 0 when all pass, 1 otherwise (77 without promtool or PyYAML).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("PyYAML not installed")
    sys.exit(77)

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if shutil.which("promtool") is None:
    print("promtool not found")
    sys.exit(77)

vectors = sorted(glob.glob(os.path.join(root, "tests", "alerting", "vectors", "*.yaml")))
if not vectors:
    print("no vectors")
    sys.exit(1)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for path in vectors:
        with open(path) as f:
            case = yaml.safe_load(f)
        test = {
            "rule_files": [os.path.join(root, "rules", "dora-kafka.rules.yml")],
            "evaluation_interval": "1m",
            "tests": [case],
        }
        out = os.path.join(tmp, os.path.basename(path) + ".test.json")
        with open(out, "w") as f:
            json.dump(test, f)
        r = subprocess.run(["promtool", "test", "rules", out], capture_output=True, text=True)
        name = os.path.relpath(path, root)
        if r.returncode == 0:
            print(f"ok    {name}")
        else:
            failed += 1
            print(f"FAIL  {name}\n{r.stdout}{r.stderr}")
print(f"{len(vectors) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
