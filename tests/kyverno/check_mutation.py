#!/usr/bin/env python3
"""Assertions on what the Kyverno CLI made of tests/kyverno/strimzi-pods.yaml.

Usage: check_mutation.py PODS_YAML OUTDIR

OUTDIR holds create.yaml / update.yaml (kubectl-kyverno apply -o, as CREATE
and as UPDATE) and configmap.yaml (the rendered sidecar config). The broker
pod of cluster "dora" must have gained exactly our container (restricted Pod
Security profile, read-only mounts of its data volumes at the broker's own
paths, covering every configured log dir), our config volume and
shareProcessNamespace, and lost or changed nothing of Strimzi's (containers,
volumes, labels, strimzi.io/revision). Every other pod, and every pod on
UPDATE, must come out exactly as it went in.
"""

import copy
import os
import sys

import yaml

BROKER = ("kafka", "dora-brokers-3")
OURS = "dora-kafka-exporter"
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def pods(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d and d.get("kind") == "Pod"]
    return {(d["metadata"].get("namespace", "default"), d["metadata"]["name"]): d for d in docs}


def check_broker(before, after):
    w = "%s/%s" % BROKER
    spec, spec0 = after["spec"], before["spec"]
    names = sorted(c["name"] for c in spec["containers"])
    check(names == sorted(["kafka", OURS]), w + ": containers are kafka + %s (%r)" % (OURS, names))
    by_name = {c["name"]: c for c in spec["containers"]}
    check(by_name.get("kafka") == spec0["containers"][0], w + ": Strimzi's kafka container unchanged")
    check(after["metadata"]["annotations"].get("kubectl.kubernetes.io/default-container") == "kafka",
          w + ": kubectl exec/logs still default to the kafka container")
    check(spec.get("shareProcessNamespace") is True, w + ": shareProcessNamespace")
    check(after["metadata"]["labels"] == before["metadata"]["labels"], w + ": labels unchanged")
    rev = before["metadata"]["annotations"]["strimzi.io/revision"]
    check(after["metadata"].get("annotations", {}).get("strimzi.io/revision") == rev,
          w + ": strimzi.io/revision unchanged (the StrimziPodSet controller sees no change)")
    for k, v in before["metadata"]["annotations"].items():
        check(after["metadata"]["annotations"].get(k) == v, w + ": annotation %s unchanged" % k)
    check(after["metadata"].get("ownerReferences") == before["metadata"].get("ownerReferences"),
          w + ": owner reference unchanged")
    for k in spec0:
        if k not in ("containers", "volumes"):
            check(spec.get(k) == spec0[k], w + ": spec.%s unchanged" % k)

    vols = {v["name"]: v for v in spec["volumes"]}
    for v in spec0["volumes"]:
        check(vols.get(v["name"]) == v, w + ": Strimzi volume %s unchanged" % v["name"])
    added = sorted(n for n in vols if n not in {v["name"] for v in spec0["volumes"]})
    ours = sorted(v["name"] for v in POLICY_PATCH["spec"]["volumes"])
    check(added == ours and all(n.startswith("dora-exporter-") for n in added),
          w + ": only our volumes added (%r)" % added)
    for n in added:
        src = vols[n].get("configMap") or vols[n].get("secret") or {}
        check(src.get("optional") is True, w + ": volume %s optional" % n)
    cm = vols.get("dora-exporter-config", {}).get("configMap", {})
    check(cm.get("name") == "dora-kafka-exporter-sidecar" and cm.get("optional") is True,
          w + ": config volume is the release's ConfigMap, optional")

    c = by_name.get(OURS, {})
    sc = c.get("securityContext", {})
    # The restricted Pod Security Standard, on the container (the pod context is Strimzi's).
    check(sc.get("runAsNonRoot") is True, w + ": runAsNonRoot")
    check(isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] != 0, w + ": runAsUser non-zero")
    check(sc.get("allowPrivilegeEscalation") is False, w + ": allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], w + ": capabilities drop ALL")
    check(not sc.get("capabilities", {}).get("add"), w + ": no capabilities added")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", w + ": seccompProfile RuntimeDefault")
    check(sc.get("readOnlyRootFilesystem") is True, w + ": readOnlyRootFilesystem")
    check(not sc.get("privileged"), w + ": not privileged")
    check("readinessProbe" not in c, w + ": no readiness probe (never decides the broker's readiness)")

    kafka_mounts = {m["name"]: m["mountPath"] for m in spec0["containers"][0]["volumeMounts"]}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    for m in mounts.values():
        check(m["name"] in vols, w + ": mount %s refers to a volume of the pod" % m["name"])
        check(m.get("readOnly") is True, w + ": mount %s read-only" % m["name"])
    for data in ("data-0", "data-1"):
        m = mounts.get(data)
        if check(m is not None, w + ": %s mounted in the sidecar" % data):
            check(m["mountPath"] == kafka_mounts[data], w + ": %s at the broker's path %s" % (data, kafka_mounts[data]))
            check("persistentVolumeClaim" in vols[data], w + ": %s is the broker's PVC" % data)

    cfg = yaml.safe_load(CONFIG["data"]["exporter.yaml"])
    paths = cfg["collectors"]["log_dirs"]["paths"]
    check(cfg["collectors"]["log_dirs"]["enabled"] is True and paths, w + ": log_dirs enabled with paths")
    for p in paths:
        under = [m for m in mounts.values() if p == m["mountPath"] or p.startswith(m["mountPath"].rstrip("/") + "/")]
        check(len(under) == 1 and under[0]["name"].startswith("data-"),
              w + ": log dir %s is under a read-only data volume mount" % p)


def main():
    global CONFIG, POLICY_PATCH
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    src, outdir = sys.argv[1], sys.argv[2]
    before = pods(src)
    with open(os.path.join(outdir, "configmap.yaml")) as f:
        CONFIG = yaml.safe_load(f)
    with open(os.path.join(outdir, "policy.yaml")) as f:
        POLICY_PATCH = yaml.safe_load(f)["spec"]["rules"][0]["mutate"]["patchStrategicMerge"]
    check(BROKER in before, "fixture has the broker pod")
    for op in ("create", "update"):
        after = pods(os.path.join(outdir, op + ".yaml"))
        check(after, op + ": kubectl-kyverno wrote pods")
        for key, pod in before.items():
            got = after.get(key)
            if op == "create" and key == BROKER:
                if check(got is not None, "create: the broker pod is in the output"):
                    check_broker(copy.deepcopy(pod), got)
            elif got is not None:
                check(got == pod, "%s: %s/%s left untouched" % (op, key[0], key[1]))
    if failures:
        for f in failures:
            print("FAIL: " + f)
        print("%d kyverno mutation check(s) failed" % len(failures))
        return 1
    print("   all mutation assertions passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
