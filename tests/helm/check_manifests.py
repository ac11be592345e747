#!/usr/bin/env python3
"""Assertions on the manifests tests/helm/check.sh rendered into OUTDIR.

Usage: check_manifests.py OUTDIR

Checks the restricted Pod Security profile, probes, resources, the sidecar's
collector set, Secret references, Service/ServiceMonitor ports, and that the
PrometheusRule and dashboard ConfigMaps carry exactly rules/ and dashboards/.
With DORA_EXPORTER_BIN set, each rendered exporter.yaml (and web-config.yml)
is also validated by the real binary (--check-config), with the Secret mounts
replaced by files in a temp dir (certificates made with the openssl CLI).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MOUNT = "/etc/dora-kafka-exporter/"
CLUSTER_WIDE = ["cluster", "offsets", "consumer_groups", "probe", "schema_registry", "connect"]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def load(outdir, name):
    with open(os.path.join(outdir, name + ".yaml")) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def of_kind(docs, kind):
    return [d for d in docs if d.get("kind") == kind]


def one(docs, kind, name_suffix=None):
    found = [d for d in of_kind(docs, kind)
             if name_suffix is None or d["metadata"]["name"].endswith(name_suffix)]
    if len(found) != 1:
        raise AssertionError("expected one %s%s, found %d" % (kind, " *" + name_suffix if name_suffix else "", len(found)))
    return found[0]


def exporter_config(docs):
    cm = [d for d in of_kind(docs, "ConfigMap") if "exporter.yaml" in d.get("data", {})]
    if len(cm) != 1:
        raise AssertionError("expected one ConfigMap with exporter.yaml, found %d" % len(cm))
    return yaml.safe_load(cm[0]["data"]["exporter.yaml"]), cm[0]


def web_config(docs):
    s = [d for d in of_kind(docs, "Secret") if "web-config.yml" in d.get("stringData", {})]
    return (yaml.safe_load(s[0]["stringData"]["web-config.yml"]), s[0]) if s else (None, None)


def check_security(where, container, pod_ctx=None):
    sc = container.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True, where + ": runAsNonRoot")
    check(isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] != 0, where + ": runAsUser non-zero")
    check(sc.get("readOnlyRootFilesystem") is True, where + ": readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, where + ": allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], where + ": capabilities drop ALL")
    check(not sc.get("capabilities", {}).get("add"), where + ": no added capabilities")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where + ": seccompProfile RuntimeDefault")
    check(not sc.get("privileged"), where + ": not privileged")
    if pod_ctx is not None:
        check(pod_ctx.get("runAsNonRoot") is True, where + ": pod runAsNonRoot")
        check(pod_ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", where + ": pod seccompProfile")


def check_probes(where, c, port, readiness=True):
    lp = c.get("livenessProbe", {}).get("httpGet", {})
    check(lp.get("path") == "/healthz" and lp.get("port") == port,
          "%s: liveness on /healthz port %s (got %r)" % (where, port, lp))
    if readiness:
        rp = c.get("readinessProbe", {}).get("httpGet", {})
        check(rp.get("path") == "/ready" and rp.get("port") == port,
              "%s: readiness on /ready port %s (got %r)" % (where, port, rp))
    names = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(port in names, "%s: probe port %s is a container port (%r)" % (where, port, names))


def check_resources(where, c):
    r = c.get("resources", {})
    check(r.get("requests", {}).get("cpu") and r.get("requests", {}).get("memory"), where + ": resource requests")
    check(r.get("limits", {}).get("memory"), where + ": memory limit")


def check_rules_and_dashboards(where, docs, expect):
    rules = of_kind(docs, "PrometheusRule")
    dashboards = [d for d in of_kind(docs, "ConfigMap") if d["metadata"].get("labels", {}).get("grafana_dashboard")]
    if not expect:
        check(not rules, where + ": no PrometheusRule")
        check(not dashboards, where + ": no dashboard ConfigMaps")
        return
    with open(os.path.join(ROOT, "rules", "dora-kafka.rules.yml")) as f:
        want_rules = yaml.safe_load(f)
    check(len(rules) == 1 and rules[0]["spec"] == want_rules, where + ": PrometheusRule spec equals rules/dora-kafka.rules.yml")
    sources = sorted(glob.glob(os.path.join(ROOT, "dashboards", "*.json")))
    seen = {}
    for cm in dashboards:
        check(cm["metadata"]["labels"].get("grafana_dashboard") == "1", where + ": grafana_dashboard label is \"1\"")
        check(len(cm["metadata"]["name"]) <= 63, where + ": ConfigMap name length")
        for key, text in cm["data"].items():
            seen[key] = json.loads(text)
    check(sorted(seen) == [os.path.basename(s) for s in sources],
          "%s: one dashboard ConfigMap per dashboards/*.json (%s)" % (where, sorted(seen)))
    for s in sources:
        with open(s) as f:
            check(seen.get(os.path.basename(s)) == json.load(f), where + ": dashboard %s equals its source" % s)


def check_service_monitor(where, docs, target_port):
    svc = one(docs, "Service")
    sm = one(docs, "ServiceMonitor")
    ports = svc["spec"]["ports"]
    check(len(ports) == 1 and ports[0]["name"] == "metrics", where + ": Service port named metrics")
    check(ports[0]["targetPort"] == target_port, "%s: Service targetPort %s" % (where, target_port))
    ep = sm["spec"]["endpoints"]
    check(len(ep) == 1 and ep[0]["port"] == ports[0]["name"], where + ": ServiceMonitor scrapes the Service's port")
    check(ep[0].get("path") == "/metrics", where + ": ServiceMonitor path /metrics")
    sel = sm["spec"]["selector"]["matchLabels"]
    labels = svc["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in sel.items()), where + ": ServiceMonitor selects the Service")
    return svc, sm


def mounts_by_path(c):
    return {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def volumes_by_name(vols):
    return {v["name"]: v for v in vols}


def check_secret_refs(where, cfg, c, vols):
    """Every property_files / ssl.*.location path lives on a read-only mount of a Secret."""
    mounts = mounts_by_path(c)
    vols = volumes_by_name(vols)
    paths = dict(cfg["kafka"].get("property_files") or {})
    for k, v in (cfg["kafka"].get("properties") or {}).items():
        if k.endswith(".location"):
            paths[k] = v
    for prop, path in paths.items():
        d = os.path.dirname(path)
        m = mounts.get(d)
        if not check(m is not None, "%s: %s file %s is on a mount" % (where, prop, path)):
            continue
        check(m.get("readOnly") is True, "%s: mount %s is read-only" % (where, d))
        check(not m.get("subPath"), "%s: mount %s has no subPath (rotation needs the directory)" % (where, d))
        v = vols.get(m["name"], {})
        check("secret" in v, "%s: %s comes from a Secret" % (where, prop))
        items = v.get("secret", {}).get("items")
        if items:
            check(os.path.basename(path) in [i["path"] for i in items], "%s: %s key mounted" % (where, prop))
    for k in (cfg["kafka"].get("properties") or {}):
        check(not any(s in k for s in ("password", "secret")), "%s: secret-looking property %s inline" % (where, k))


# --------------------------------------------------------------------------

def check_standalone(outdir):
    docs = load(outdir, "standalone")
    w = "standalone"
    dep = one(docs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    check(dep["spec"]["replicas"] == 1, w + ": one replica")
    check(dep["spec"].get("strategy", {}).get("type") == "Recreate", w + ": Recreate strategy")
    check(spec.get("automountServiceAccountToken") is False, w + ": no service account token")
    c = spec["containers"][0]
    check_security(w, c, spec.get("securityContext"))
    check_probes(w, c, "metrics")
    check_resources(w, c)
    cfg, _ = exporter_config(docs)
    col = cfg["collectors"]
    for name in ("cluster", "offsets", "consumer_groups"):
        check(col.get(name, {}).get("enabled") is True, w + ": %s enabled" % name)
    check(col["log_dirs"]["enabled"] is False, w + ": log_dirs disabled")
    check(col["broker_process"]["enabled"] is False, w + ": broker_process disabled (no broker in view)")
    check("expected_brokers" not in col["cluster"], w + ": no expected broker count by default")
    check("config_file" in cfg["web"], w + ": web config (headers) in use")
    wc, _ = web_config(docs)
    check(wc is not None and "health_server_config" not in wc, w + ": no health listener without TLS/auth")
    check(wc and wc.get("http_server_config", {}).get("headers", {}).get("X-Content-Type-Options") == "nosniff",
          w + ": default headers")
    check_service_monitor(w, docs, "metrics")
    check_rules_and_dashboards(w, docs, True)
    check(len(of_kind(docs, "ServiceAccount")) == 1, w + ": ServiceAccount")
    check(one(docs, "ServiceAccount").get("automountServiceAccountToken") is False, w + ": SA token not mounted")

    docs = load(outdir, "standalone-noassets")
    check_rules_and_dashboards("standalone-noassets", docs, False)
    check(not of_kind(docs, "ServiceMonitor"), "standalone-noassets: no ServiceMonitor")


def check_standalone_secure(outdir):
    docs = load(outdir, "standalone-secure")
    w = "standalone-secure"
    dep = one(docs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check_security(w, c, spec.get("securityContext"))
    check_probes(w, c, "health")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    check(ports.get("metrics") == 9308 and ports.get("health") == 9309, w + ": ports metrics 9308, health 9309")
    cfg, _ = exporter_config(docs)
    check(cfg["kafka"]["property_files"] == {"sasl.password": MOUNT + "kafka-secrets/0/password"},
          w + ": sasl.password from the mounted Secret (%r)" % cfg["kafka"].get("property_files"))
    check(cfg["kafka"]["properties"].get("ssl.ca.location") == MOUNT + "kafka-tls/ca.crt", w + ": ssl.ca.location")
    check(cfg["kafka"]["properties"].get("ssl.certificate.location") == MOUNT + "kafka-tls/tls.crt", w + ": mTLS cert")
    check(cfg["kafka"]["properties"].get("ssl.key.location") == MOUNT + "kafka-tls/tls.key", w + ": mTLS key")
    check(cfg["collectors"]["probe"]["enabled"] is True, w + ": probe enabled by values")
    check(cfg["collectors"]["consumer_groups"].get("granularity") == "topic", w + ": collector settings merged")
    check(cfg["collectors"]["cluster"].get("expected_brokers") == 3, w + ": kafka.expectedBrokers")
    check(cfg["web"].get("config_file") == MOUNT + "web/web-config.yml", w + ": web.config_file")
    check_secret_refs(w, cfg, c, spec["volumes"])
    vols = volumes_by_name(spec["volumes"])
    check(vols["dora-exporter-kafka-secret-0"]["secret"]["secretName"] == "kafka-exporter-credentials",
          w + ": credentials Secret referenced")
    check(vols["dora-exporter-kafka-tls"]["secret"]["secretName"] == "kafka-exporter-tls", w + ": Kafka TLS Secret")
    check(vols["dora-exporter-web-tls"]["secret"]["secretName"] == "exporter-web-tls", w + ": web TLS Secret")
    wc, secret = web_config(docs)
    check(secret is not None and secret["type"] == "Opaque", w + ": web config is a Secret")
    tls = wc["tls_server_config"]
    check(tls["cert_file"] == MOUNT + "web-tls/tls.crt" and tls["key_file"] == MOUNT + "web-tls/tls.key", w + ": web cert")
    check(tls["client_auth_type"] == "RequireAndVerifyClientCert" and tls["client_ca_file"] == MOUNT + "web-tls/ca.crt",
          w + ": mTLS on the endpoint")
    check(tls["min_version"] == "TLS13", w + ": TLS 1.3")
    check(list(wc["basic_auth_users"]) == ["prometheus"], w + ": basic auth users")
    check(wc["health_server_config"]["listen_address"] == ":9309", w + ": health listener")
    _, sm = check_service_monitor(w, docs, "metrics")
    ep = sm["spec"]["endpoints"][0]
    check(ep.get("scheme") == "https", w + ": ServiceMonitor https")
    check(ep.get("tlsConfig", {}).get("serverName") == "dora-kafka-exporter", w + ": ServiceMonitor tlsConfig")
    check(ep.get("basicAuth", {}).get("password", {}).get("name") == "scrape-credentials", w + ": ServiceMonitor basicAuth")
    # No secret value anywhere in the rendering (the values only name Secrets).
    with open(os.path.join(outdir, "standalone-secure.yaml")) as f:
        text = f.read()
    check("helm-test-password" not in text, w + ": no password in the manifests")
    pod_annotations = dep["spec"]["template"]["metadata"]["annotations"]
    check("checksum/config" in pod_annotations and "checksum/web-config" in pod_annotations,
          w + ": config checksums roll the pod")


def sidecar_patch(docs):
    cm = one(docs, "ConfigMap", "-sidecar-patch")
    return yaml.safe_load(cm["data"]["patch.yaml"])


def check_sidecar(outdir):
    for name in ("sidecar", "sidecar-default"):
        docs = load(outdir, name)
        w = name
        check(not of_kind(docs, "Deployment"), w + ": no Deployment")
        check(not of_kind(docs, "ServiceAccount"), w + ": no ServiceAccount (the broker pod's is used)")
        patch = sidecar_patch(docs)
        pspec = patch["spec"]["template"]["spec"]
        containers = pspec["containers"]
        check(len(containers) == 1 and containers[0]["name"] == "dora-kafka-exporter", w + ": one sidecar container")
        c = containers[0]
        check_security(w, c)  # the container carries the whole profile: the pod is the broker's
        check_probes(w, c, "dora-metrics")
        check_resources(w, c)
        cfg, _ = exporter_config(docs)
        col = cfg["collectors"]
        for cw in CLUSTER_WIDE:
            check(col.get(cw, {}).get("enabled") is False, "%s: %s disabled in the sidecar" % (w, cw))
        check(col["log_dirs"]["enabled"] is True, w + ": log_dirs enabled")
        check(col["broker_stats"]["enabled"] is True, w + ": broker_stats enabled")
        check(col["broker_process"]["enabled"] is True, w + ": broker_process enabled")
        check(pspec.get("shareProcessNamespace") is True, w + ": shareProcessNamespace (the broker process in view)")
        check("hostPID" not in pspec, w + ": no host PID namespace (restricted profile)")
        mounts = mounts_by_path(c)
        vol_names = {v["name"] for v in pspec["volumes"]}
        for p in col["log_dirs"]["paths"]:
            mount = [m for mp, m in mounts.items() if p == mp or p.startswith(mp.rstrip("/") + "/")]
            if check(len(mount) == 1, "%s: log dir %s is under a mount" % (w, p)):
                check(mount[0].get("readOnly") is True, "%s: log dir mount %s read-only" % (w, mount[0]["mountPath"]))
                check(mount[0]["name"] not in vol_names, "%s: log dir volume %s is the broker's, not added" % (w, mount[0]["name"]))
        svc, sm = check_service_monitor(w, docs, "dora-metrics")
        check(svc["spec"].get("clusterIP") == "None", w + ": headless Service over the broker pods")
        relabel = sm["spec"]["endpoints"][0].get("relabelings", [])
        check(any(r.get("targetLabel") == "broker" and r.get("sourceLabels") == ["__meta_kubernetes_pod_name"]
                  for r in relabel), w + ": broker label from the pod name")
        check_rules_and_dashboards(w, docs, False)

    docs = load(outdir, "sidecar")
    cfg, _ = exporter_config(docs)
    check(cfg["kafka"]["bootstrap_servers"] == ["localhost:9091"], "sidecar: bootstraps from its own broker")
    check(cfg["collectors"]["log_dirs"]["paths"] == ["/var/lib/kafka/data-0/kafka-log0", "/var/lib/kafka/data-1"],
          "sidecar: log dir paths (%r)" % cfg["collectors"]["log_dirs"]["paths"])
    check(cfg["collectors"]["log_dirs"].get("interval") == "1m", "sidecar: log_dirs settings merged")
    svc = one(docs, "Service")
    check(svc["spec"]["selector"] == {"strimzi.io/cluster": "dora", "strimzi.io/kind": "Kafka",
                                      "strimzi.io/name": "dora-kafka"}, "sidecar: Service selects the broker pods")
    patch = sidecar_patch(docs)
    check_secret_refs("sidecar", cfg, patch["spec"]["template"]["spec"]["containers"][0],
                      patch["spec"]["template"]["spec"]["volumes"])
    check_rules_and_dashboards("sidecar-assets", load(outdir, "sidecar-assets"), True)

    # Without a shared process namespace the broker is out of view: the collector stays off.
    docs = load(outdir, "sidecar-noshare")
    check("shareProcessNamespace" not in sidecar_patch(docs)["spec"]["template"]["spec"],
          "sidecar-noshare: no shareProcessNamespace")
    check(exporter_config(docs)[0]["collectors"]["broker_process"]["enabled"] is False,
          "sidecar-noshare: broker_process disabled")


KUBELET_PVC = 'persistentvolumeclaim=~"data-([0-9]+-)?.+-[0-9]+"'
KUBELET_NS = 'namespace=~".+"'


def kubelet_rule(docs):
    return one(docs, "PrometheusRule", "-kubelet-disk")


def check_kubelet_disk(outdir):
    with open(os.path.join(ROOT, "rules", "dora-kafka-kubelet-disk.rules.yml")) as f:
        text = f.read()
    want = yaml.safe_load(text)
    for name in ("standalone", "sidecar-assets"):
        check(not [d for d in of_kind(load(outdir, name), "PrometheusRule")
                   if d["metadata"]["name"].endswith("-kubelet-disk")], name + ": no kubelet disk rules by default")
    docs = load(outdir, "kubelet-disk-default")
    check(kubelet_rule(docs)["spec"] == want, "kubelet-disk-default: spec equals rules/dora-kafka-kubelet-disk.rules.yml")
    check_rules_and_dashboards("kubelet-disk-default", [d for d in docs if d not in [kubelet_rule(docs)]], True)
    check(not [d for d in of_kind(load(outdir, "kubelet-disk-sidecar"), "PrometheusRule")],
          "kubelet-disk-sidecar: no rules in a sidecar release")

    # Custom matchers (tests/helm/values-kubelet-disk.yaml, with a backslash):
    # only the two matchers change, and promtool accepts the result.
    spec = kubelet_rule(load(outdir, "kubelet-disk"))["spec"]
    expr = spec["groups"][0]["rules"][0]["expr"]
    pvc = 'persistentvolumeclaim=~"data-(0-)?dora-brokers-\\\\d+"'
    ns = 'namespace=~"kafka"'
    check(expr.count(pvc) == 3 and expr.count(ns) == 3, "kubelet-disk: custom matchers in all three selectors (%s)" % expr)
    check(KUBELET_PVC not in expr and KUBELET_NS not in expr, "kubelet-disk: default matchers replaced")
    back = json.loads(json.dumps(spec))
    back["groups"][0]["rules"][0]["expr"] = expr.replace(pvc, KUBELET_PVC).replace(ns, KUBELET_NS)
    check(back == want, "kubelet-disk: nothing but the matchers differs from the source")
    if shutil.which("promtool"):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            yaml.safe_dump(spec, f)
            tmp = f.name
        try:
            r = subprocess.run(["promtool", "check", "rules", tmp], capture_output=True, text=True)
            check(r.returncode == 0, "kubelet-disk: promtool check rules: " + r.stdout + r.stderr)
        finally:
            os.unlink(tmp)


def check_kyverno(outdir):
    w = "kyverno"
    docs = load(outdir, "kyverno")
    check(not [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-sidecar-patch")],
          w + ": no StatefulSet patch")
    pol = one(docs, "ClusterPolicy")
    check(pol["apiVersion"] == "kyverno.io/v1", w + ": kyverno.io/v1")
    spec = pol["spec"]
    check(spec.get("failurePolicy") == "Ignore", w + ": failurePolicy Ignore (a broker pod is never refused)")
    check(pol["metadata"]["annotations"].get("pod-policies.kyverno.io/autogen-controllers") == "none",
          w + ": no autogen rules for pod controllers")
    check(len(spec["rules"]) == 1, w + ": one rule")
    res = spec["rules"][0]["match"]["any"][0]["resources"]
    labels = {"strimzi.io/kind": "Kafka", "strimzi.io/cluster": "dora", "strimzi.io/broker-role": "true"}
    check(res["kinds"] == ["Pod"] and res["operations"] == ["CREATE"], w + ": Pods on CREATE only")
    check(res["namespaces"] == ["kafka"], w + ": the release namespace only")
    check(res["selector"]["matchLabels"] == labels, w + ": Strimzi broker labels of the named cluster")
    patch = spec["rules"][0]["mutate"]["patchStrategicMerge"]
    check(patch["spec"].get("shareProcessNamespace") is True, w + ": shareProcessNamespace")
    check(exporter_config(docs)[0]["collectors"]["broker_process"]["enabled"] is True, w + ": broker_process enabled")
    c = patch["spec"]["containers"]
    check(len(c) == 1 and c[0]["name"] == "dora-kafka-exporter", w + ": one container")
    check_security(w, c[0])
    check("readinessProbe" not in c[0], w + ": no readiness probe (values-strimzi.yaml)")
    for v in patch["spec"]["volumes"]:
        src = v.get("configMap") or v.get("secret") or {}
        check(src.get("optional") is True, w + ": volume %s optional (never blocks the broker pod)" % v["name"])
    svc = one(docs, "Service")
    check(svc["spec"]["selector"] == labels, w + ": Service selects the same broker pods")
    cfg, _ = exporter_config(docs)
    check(cfg["collectors"]["log_dirs"]["paths"] == ["/var/lib/kafka/data-0", "/var/lib/kafka/data-1"],
          w + ": log dirs are the data volume mounts")
    pools = one(load(outdir, "kyverno-pools"), "ClusterPolicy")["spec"]["rules"][0]["match"]["any"][0]["resources"]
    check(pools["selector"].get("matchExpressions") == [{"key": "strimzi.io/pool-name", "operator": "In",
                                                        "values": ["brokers"]}], w + ": pools restrict the match")


# --------------------------------------------------------------------------
# The rendered configs through the real binary.

def openssl_cert(d, name, ca=None):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    subprocess.run(["openssl", "req", "-x509" if ca is None else "-new", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", "/CN=" + name,
                    "-out", crt if ca is None else crt + ".csr"] + (["-days", "2"] if ca is None else []),
                   check=True, capture_output=True, timeout=60)
    if ca is not None:
        subprocess.run(["openssl", "x509", "-req", "-in", crt + ".csr", "-CA", ca[0], "-CAkey", ca[1],
                        "-CAcreateserial", "-days", "2", "-out", crt], check=True, capture_output=True, timeout=60)
    return crt, key


def materialize(tmp, text):
    return text.replace(MOUNT, tmp + "/")


SPOOL = "/var/lib/dora-kafka-exporter/incidents"


def spool_volume(where, docs, spec, c):
    """The incident spool: configured at the chart's path, on a writable mount, and that volume."""
    cfg, _ = exporter_config(docs)
    check(cfg["incidents"]["enabled"] is True, where + ": incidents enabled")
    check(cfg["incidents"]["spool"]["directory"] == SPOOL, where + ": spool.directory is the volume's path")
    check(cfg["incidents"]["spool"].get("max_bytes") == 134217728, where + ": incidents values merged")
    m = mounts_by_path(c).get(SPOOL)
    if not check(m is not None, where + ": the spool is mounted"):
        return {}
    check(not m.get("readOnly"), where + ": the spool mount is writable")
    return volumes_by_name(spec["volumes"]).get(m["name"], {})


def check_incidents(outdir):
    w = "incidents"
    docs = load(outdir, w)
    dep = one(docs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check_security(w, c, spec.get("securityContext"))
    vol = spool_volume(w, docs, spec, c)
    pvcs = of_kind(docs, "PersistentVolumeClaim")
    check(len(pvcs) == 1, w + ": one PersistentVolumeClaim (%d)" % len(pvcs))
    pvc = pvcs[0]
    check(vol.get("persistentVolumeClaim", {}).get("claimName") == pvc["metadata"]["name"],
          w + ": the spool volume is the claim")
    check(pvc["metadata"]["name"] == "dora-dora-kafka-exporter-incident-spool", w + ": claim name")
    check(pvc["spec"]["accessModes"] == ["ReadWriteOnce"], w + ": ReadWriteOnce")
    check(pvc["spec"]["resources"]["requests"]["storage"] == "2Gi", w + ": claim size from values")
    check(pvc["spec"].get("storageClassName") == "fast-ssd", w + ": storage class from values")
    check(pvc["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
          w + ": the claim outlives the release")
    check(dep["spec"]["strategy"]["type"] == "Recreate", w + ": Recreate: never two pods on the claim")
    cfg, _ = exporter_config(docs)
    am = cfg["alerting"]["alertmanagers"][0]
    check(am["url"] == "http://alertmanager-operated.monitoring:9093", w + ": alertmanagers passed through")
    check(cfg["alerting"]["rules"]["KafkaConsumerGroupLagHigh"]["for"] == "10m", w + ": alert rules passed through")
    token_dir = os.path.dirname(am["bearer_token_file"])
    m = mounts_by_path(c).get(token_dir)
    if check(m is not None, w + ": the bearer token's directory is mounted"):
        check(m.get("readOnly") is True, w + ": secret mount read-only")
        v = volumes_by_name(spec["volumes"]).get(m["name"], {})
        check(v.get("secret", {}).get("secretName") == "alertmanager-credentials", w + ": from its Secret")

    docs = load(outdir, "incidents-claim")
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    vol = spool_volume("incidents-claim", docs, spec, spec["containers"][0])
    check(vol.get("persistentVolumeClaim", {}).get("claimName") == "spool-claim", "incidents-claim: existing claim")
    check(not of_kind(docs, "PersistentVolumeClaim"), "incidents-claim: no claim created")

    docs = load(outdir, "incidents-emptydir")
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    vol = spool_volume("incidents-emptydir", docs, spec, spec["containers"][0])
    check(vol.get("emptyDir", {}).get("sizeLimit") == "256Mi", "incidents-emptydir: an emptyDir with a limit")
    check(not of_kind(docs, "PersistentVolumeClaim"), "incidents-emptydir: no claim")

    docs = load(outdir, "incidents-sidecar")
    patch = sidecar_patch(docs)["spec"]["template"]["spec"]
    c = [x for x in patch["containers"] if x["name"] == "dora-kafka-exporter"][0]
    vol = spool_volume("incidents-sidecar", docs, patch, c)
    check(vol.get("emptyDir", {}).get("sizeLimit") == "256Mi", "incidents-sidecar: an emptyDir in the broker pod")
    check(vol.get("emptyDir") is not None and not of_kind(docs, "PersistentVolumeClaim"),
          "incidents-sidecar: no claim")

    # Without incidents: no spool volume, no claim, no incidents section.
    docs = load(outdir, "standalone")
    spec = one(docs, "Deployment")["spec"]["template"]["spec"]
    check(SPOOL not in mounts_by_path(spec["containers"][0]), "standalone: no spool mount by default")
    check(not of_kind(docs, "PersistentVolumeClaim"), "standalone: no claim by default")
    cfg, _ = exporter_config(docs)
    check("incidents" not in cfg and "alerting" not in cfg, "standalone: the daemon's defaults for alerting")


def check_sharded(outdir):
    """sharding.replicas > 1: a StatefulSet of shards behind a headless Service, each passing its ordinal."""
    w = "sharded"
    docs = load(outdir, w)
    check(not of_kind(docs, "Deployment"), w + ": no Deployment")
    sts = one(docs, "StatefulSet")
    check(sts["spec"]["replicas"] == 3, w + ": three replicas")
    svc = one(docs, "Service")
    check(svc["spec"].get("clusterIP") == "None", w + ": the Service is headless (every shard scraped)")
    check(sts["spec"]["serviceName"] == svc["metadata"]["name"], w + ": the Service governs the StatefulSet")
    check(sts["spec"].get("podManagementPolicy") == "Parallel", w + ": shards start in parallel")
    check(sts["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"], w + ": the Service selects the shards")
    spec = sts["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check_security(w, c, spec.get("securityContext"))
    check_probes(w, c, "metrics")
    check("--sharding.index=$(POD_INDEX)" in c["args"], w + ": the pod passes its index")
    env = {e["name"]: e for e in c.get("env", [])}
    check(env.get("POD_INDEX", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
          == "metadata.labels['apps.kubernetes.io/pod-index']", w + ": POD_INDEX is the pod's ordinal label")
    cfg, _ = exporter_config(docs)
    check(cfg.get("sharding") == {"count": 3}, w + ": the config shards the groups over three (%r)"
          % cfg.get("sharding"))
    for name in ("cluster", "offsets", "consumer_groups"):
        check(cfg["collectors"].get(name, {}).get("enabled") is True, w + ": %s enabled (shard 0 exports it)" % name)
    check_service_monitor(w, docs, "metrics")

    # Incidents: each shard's spool on a claim of its own, no shared claim.
    w = "sharded-incidents"
    docs = load(outdir, w)
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check(not of_kind(docs, "PersistentVolumeClaim"), w + ": no shared claim")
    templates = sts["spec"].get("volumeClaimTemplates", [])
    check(len(templates) == 1, w + ": one claim template")
    m = mounts_by_path(c).get(SPOOL)
    if check(m is not None and templates, w + ": the spool is mounted from the claim template"):
        check(templates[0]["metadata"]["name"] == m["name"], w + ": the mount is the claim template's")
        check(m["name"] not in volumes_by_name(spec["volumes"]), w + ": no pod volume shadows the claim")
        check(templates[0]["spec"]["resources"]["requests"]["storage"] == "2Gi", w + ": claim size from values")

    # Sidecar mode ignores sharding: no StatefulSet of the chart's own.
    docs = load(outdir, "sharded-sidecar")
    check(not of_kind(docs, "StatefulSet"), "sharded-sidecar: no StatefulSet in sidecar mode")
    cfg, _ = exporter_config(docs)
    check("sharding" not in cfg, "sharded-sidecar: no sharding in sidecar mode")


def check_with_binary(outdir):
    binary = os.environ.get("DORA_EXPORTER_BIN")
    if not binary:
        print("   (DORA_EXPORTER_BIN not set: rendered configs not run through --check-config)")
        return
    for name in ("standalone", "standalone-secure", "sidecar", "sidecar-default", "incidents", "sharded"):
        docs = load(outdir, name)
        _, cm = exporter_config(docs)
        tmp = tempfile.mkdtemp(prefix="dora-helm-cfg-")
        try:
            for sub in ("config", "web", "web-tls", "kafka-tls", "kafka-secrets/0", "secrets/alertmanager"):
                os.makedirs(os.path.join(tmp, sub), exist_ok=True)
            ca = openssl_cert(tmp, "ca")
            for d in ("web-tls", "kafka-tls"):
                crt, key = openssl_cert(tmp, "leaf-" + d, ca)
                shutil.copy(crt, os.path.join(tmp, d, "tls.crt"))
                shutil.copy(key, os.path.join(tmp, d, "tls.key"))
                shutil.copy(ca[0], os.path.join(tmp, d, "ca.crt"))
            with open(os.path.join(tmp, "kafka-secrets/0/password"), "w") as f:
                f.write("not-a-real-password\n")
            with open(os.path.join(tmp, "secrets/alertmanager/token"), "w") as f:
                f.write("not-a-real-token\n")
            wc, secret = web_config(docs)
            if secret is not None:
                with open(os.path.join(tmp, "web", "web-config.yml"), "w") as f:
                    f.write(materialize(tmp, secret["stringData"]["web-config.yml"]))
            cfg_path = os.path.join(tmp, "config", "exporter.yaml")
            with open(cfg_path, "w") as f:
                f.write(materialize(tmp, cm["data"]["exporter.yaml"]))
            # A sharded pod's config with its ordinal (the last one: 2 of 3).
            extra = ["--sharding.index=2"] if name == "sharded" else []
            r = subprocess.run([binary, "--config", cfg_path, "--check-config"] + extra, capture_output=True,
                               text=True, timeout=60)
            check(r.returncode == 0, "%s: rendered config fails --check-config (rc %d):\n%s%s"
                  % (name, r.returncode, r.stdout, r.stderr))
            print("   %s: exporter --check-config: %s" % (name, (r.stdout or r.stderr).strip()))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    outdir = sys.argv[1]
    for fn in (check_standalone, check_standalone_secure, check_sidecar, check_kubelet_disk, check_kyverno,
               check_incidents, check_sharded, check_with_binary):
        try:
            fn(outdir)
        except (AssertionError, KeyError, TypeError, IndexError) as e:
            failures.append("%s: %s: %r" % (fn.__name__, type(e).__name__, e))
    if failures:
        for f in failures:
            print("FAIL: " + f)
        print("%d helm manifest check(s) failed" % len(failures))
        return 1
    print("   all manifest assertions passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
