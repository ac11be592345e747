#!/usr/bin/env python3
"""Routing and inhibition of config/alertmanager.yml against a real Alertmanager.

amtool checks the syntax and the routing tree, not the inhibit rules. This
starts the Alertmanager binary on a free loopback port (webhooks pointed at
another free port, so nothing is delivered anywhere), posts a set of alerts
through the v2 API and checks each alert's receiver and whether it is
inhibited. Exit 0 pass, 1 fail, 77 when no Alertmanager binary is installed.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(ROOT, "config", "alertmanager.yml")
SKIP = 77

A = {"cluster": "a", "instance": "kx-a:9308", "job": "dora-kafka-exporter"}
B = {"cluster": "b", "instance": "kx-b:9308", "job": "dora-kafka-exporter"}

# (labels, expected receiver, expected to be inhibited)
CASES = [
    (dict(A, alertname="KafkaBrokersMissing", severity="page"), "pager", False),
    (dict(A, alertname="KafkaTopicUnderReplicatedPartitions", severity="ticket",
          topic="audit-logs"), "ticket", True),
    (dict(B, alertname="KafkaTopicUnderReplicatedPartitions", severity="ticket",
          topic="audit-logs"), "ticket", False),                      # other cluster
    (dict(A, alertname="KafkaTopicPartitionOffline", severity="page",
          topic="incident-events", partition="3"), "pager", False),
    (dict(A, alertname="KafkaTopicPartitionUnderMinISR", severity="page",
          topic="incident-events", partition="3"), "pager", True),
    (dict(A, alertname="KafkaTopicPartitionUnderMinISR", severity="page",
          topic="incident-events", partition="4"), "pager", False),  # other partition
    (dict(A, alertname="KafkaExporterCollectorFailing", severity="ticket",
          collector="log_dirs"), "ticket", False),
    (dict(A, alertname="KafkaExporterCollectorStale", severity="ticket",
          collector="log_dirs"), "ticket", True),
    (dict(A, alertname="KafkaExporterCollectorStale", severity="ticket",
          collector="probe"), "ticket", False),                      # other collector
    (dict(B, alertname="KafkaProbeErrorBudgetBurnFast", severity="page"), "pager", False),
    (dict(B, alertname="KafkaProbeErrorBudgetBurnSlow", severity="ticket"), "ticket", True),
    (dict(B, alertname="KafkaExporterDown", severity="page"), "pager", False),
    ({"alertname": "KafkaExporterAbsent", "severity": "page", "cluster": "b",
      "job": "dora-kafka-exporter"}, "pager", True),
    (dict(A, alertname="KafkaClusterWriteThroughputAboveTarget", severity="warning"),
     "ticket", False),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, data=None):
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read() or b"null")


def check(alerts):
    by_name = {json.dumps(a["labels"], sort_keys=True): a for a in alerts}
    errors = []
    for labels, receiver, inhibited in CASES:
        a = by_name.get(json.dumps(labels, sort_keys=True))
        if a is None:
            errors.append(f"not in Alertmanager: {labels}")
            continue
        got_receivers = sorted(r["name"] for r in a.get("receivers", []))
        if got_receivers != [receiver]:
            errors.append(f"{labels['alertname']} {labels}: receivers {got_receivers}, want [{receiver}]")
        got_inhibited = bool(a["status"].get("inhibitedBy"))
        if got_inhibited != inhibited:
            errors.append(f"{labels['alertname']} {labels}: inhibited={got_inhibited}, want {inhibited}")
    return errors


def main():
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        print("skipped: no alertmanager binary")
        return SKIP
    port, hook_port = free_port(), free_port()
    tmp = tempfile.mkdtemp(prefix="am-live-")
    proc = None
    try:
        with open(CONFIG, encoding="utf-8") as f:
            config = f.read().replace("127.0.0.1:5001", f"127.0.0.1:{hook_port}")
        cfg = os.path.join(tmp, "alertmanager.yml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(config)
        log = open(os.path.join(tmp, "alertmanager.log"), "w")
        proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.path={tmp}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 15
        while True:
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    with open(log.name, encoding="utf-8") as f:
                        print("alertmanager did not start:\n" + f.read()[-2000:])
                    return 1
                time.sleep(0.2)

        now = time.time()
        stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        request(base + "/api/v2/alerts",
                [{"labels": labels, "startsAt": stamp(now - 60), "endsAt": stamp(now + 3600)}
                 for labels, _, _ in CASES])

        # The inhibitor learns about source alerts asynchronously: poll.
        deadline = time.time() + 10
        while True:
            errors = check(request(base + "/api/v2/alerts"))
            if not errors or time.time() > deadline:
                break
            time.sleep(0.3)
        for e in errors:
            print(e)
        if not errors:
            print(f"{len(CASES)} alerts routed and inhibited as expected")
        return 1 if errors else 0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
