#!/usr/bin/env python3
"""Full alert chain on loopback, with real components only:

  real Kafka (3 KRaft nodes) -> dora-kafka-exporter -> Prometheus (Debian's,
  evaluating the shipped rules/) -> Alertmanager (Debian's, routing with the
  shipped config/alertmanager.yml) -> a webhook receiver in this script.

Scenarios: a consumer group lagging > 10,000 messages pages the ticket
receiver; a stopped broker pages the pager receiver; its recovery sends the
resolved notification. Only the test copies of the rules and the Alertmanager
config are shortened (`for:` durations, group waits); the expressions,
thresholds, labels and routes are the shipped ones. Prints the time from each
fault to its webhook delivery, and ends with "N passed, M failed".

  tests/chain/run_chain.py --exporter build/exporter/dora-kafka-exporter
"""
import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KAFKACTL = [sys.executable, os.path.join(ROOT, "tests", "kafka", "kafkactl.py")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hooks:
    def __init__(self):
        self.lock = threading.Lock()
        self.events = []  # (time, receiver path, alertname, status)

    def add(self, path, payload):
        with self.lock:
            for a in payload.get("alerts", []):
                self.events.append((time.monotonic(), path, a["labels"].get("alertname"), a.get("status")))

    def wait(self, path, alertname, status, since, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                for t, p, name, st in self.events:
                    if t >= since and p == path and name == alertname and st == status:
                        return t
            time.sleep(0.2)
        return None


def webhook_server(hooks):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                hooks.add(self.path, json.loads(body))
            except ValueError:
                pass
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_http(url, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if http_ok(url):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} not ready at {url}")


def ctl(*args, timeout=300):
    return subprocess.run(KAFKACTL + list(args), check=True, capture_output=True, text=True, timeout=timeout).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--kafka-version", default=os.environ.get("DORA_KAFKA_VERSION", "3.9.1"))
    args = ap.parse_args()
    prometheus = shutil.which("prometheus")
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not prometheus or not alertmanager:
        print("chain: prometheus and prometheus-alertmanager are required (scripts/install-deps.sh)")
        return 1

    work = tempfile.mkdtemp(prefix="dora-chain-")
    procs = []
    kdir = os.path.join(work, "kafka")
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if ok:
            passed += 1
        else:
            failed += 1

    try:
        ctl("start", "--dir", kdir, "--nodes", "3", "--version", args.kafka_version, "--watch-pid", str(os.getpid()))
        bootstrap = json.load(open(os.path.join(kdir, "cluster.json")))["bootstrap"]
        ctl("topic-create", "--dir", kdir, "--name", "task-requests", "--partitions", "1", "--rf", "3",
            "--config", "min.insync.replicas=2")
        ctl("produce", "--dir", kdir, "--topic", "task-requests", "--num-records", "12000")
        ctl("consume", "--dir", kdir, "--topic", "task-requests", "--group", "workers", "--max-messages", "100")

        # The exporter, with short intervals.
        exp_port = free_port()
        cfg = os.path.join(work, "exporter.yaml")
        with open(cfg, "w") as f:
            f.write("collectors:\n  cluster: {interval: 1s}\n  offsets: {interval: 1s}\n"
                    "  consumer_groups: {interval: 1s}\n")
        exp_log = open(os.path.join(work, "exporter.log"), "w")
        procs.append(subprocess.Popen([args.exporter, "--config", cfg, "--kafka.server=" + bootstrap,
                                       f"--web.listen-address=127.0.0.1:{exp_port}"], stdout=exp_log, stderr=exp_log))
        wait_http(f"http://127.0.0.1:{exp_port}/ready", 60, "exporter")

        # Webhook receiver and Alertmanager with the shipped routes (test timings).
        hooks = Hooks()
        hook_srv = webhook_server(hooks)
        am_port = free_port()
        am_cfg = open(os.path.join(ROOT, "config", "alertmanager.yml")).read()
        am_cfg = am_cfg.replace("http://127.0.0.1:5001/", f"http://127.0.0.1:{hook_srv.server_address[1]}/")
        am_cfg = re.sub(r"group_wait: \S+", "group_wait: 1s", am_cfg)
        am_cfg = re.sub(r"group_interval: \S+", "group_interval: 2s", am_cfg)
        with open(os.path.join(work, "alertmanager.yml"), "w") as f:
            f.write(am_cfg)
        am_log = open(os.path.join(work, "alertmanager.log"), "w")
        procs.append(subprocess.Popen([alertmanager, "--config.file=" + os.path.join(work, "alertmanager.yml"),
                                       "--storage.path=" + os.path.join(work, "am-data"),
                                       f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
                                      stdout=am_log, stderr=am_log))
        wait_http(f"http://127.0.0.1:{am_port}/-/ready", 60, "alertmanager")

        # Prometheus with the shipped rules; only `for:` is shortened.
        rules_dir = os.path.join(work, "rules")
        os.makedirs(rules_dir)
        for name in os.listdir(os.path.join(ROOT, "rules")):
            text = open(os.path.join(ROOT, "rules", name)).read()
            with open(os.path.join(rules_dir, name), "w") as f:
                f.write(re.sub(r"(\n\s+for:) \S+", r"\1 3s", text))
        prom_port = free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules_dir}/*.yml"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]
scrape_configs:
  - job_name: dora-kafka-exporter
    static_configs: [{{targets: ["127.0.0.1:{exp_port}"], labels: {{cluster: chain-test}}}}]
""")
        prom_log = open(os.path.join(work, "prometheus.log"), "w")
        procs.append(subprocess.Popen([prometheus, "--config.file=" + os.path.join(work, "prometheus.yml"),
                                       "--storage.tsdb.path=" + os.path.join(work, "prom-data"),
                                       f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                                      stdout=prom_log, stderr=prom_log))
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 60, "prometheus")
        t_prom = time.monotonic()

        # Scenario 1: lag of 11,900 messages > 10,000.
        t = hooks.wait("/ticket", "KafkaConsumerGroupLagHigh", "firing", t_prom, 120)
        check(t is not None, "consumer lag > 10,000: KafkaConsumerGroupLagHigh delivered to the ticket receiver"
              + (f" {t - t_prom:.1f} s after Prometheus started" if t else ""))

        # Scenario 2: a broker stops.
        t_fault = time.monotonic()
        ctl("stop-node", "--dir", kdir, "--id", "3")
        t = hooks.wait("/pager", "KafkaBrokersMissing", "firing", t_fault, 180)
        check(t is not None, "broker stopped: KafkaBrokersMissing delivered to the pager receiver"
              + (f" {t - t_fault:.1f} s after the fault" if t else ""))

        # Scenario 3: recovery sends the resolved notification.
        t_fix = time.monotonic()
        ctl("start-node", "--dir", kdir, "--id", "3")
        t = hooks.wait("/pager", "KafkaBrokersMissing", "resolved", t_fix, 180)
        check(t is not None, "broker back: resolved KafkaBrokersMissing delivered"
              + (f" {t - t_fix:.1f} s after the restart began" if t else ""))
    except Exception as e:  # any setup failure is a failed check, with its reason
        check(False, f"chain setup: {e}")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            ctl("stop", "--dir", kdir, "--kill", timeout=60)
        except Exception:
            pass
        if failed:
            for name in ("exporter.log", "alertmanager.log", "prometheus.log"):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    print(f"--- {name} (tail)")
                    print("".join(open(path).readlines()[-20:]))
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
