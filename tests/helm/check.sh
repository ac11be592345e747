#!/usr/bin/env bash
# The Helm chart, without a cluster: the files/ copies equal rules/ and
# dashboards/, `helm lint --strict` and `helm template` of both modes, bad
# values rejected by the schema, the package contains the copies, and
# tests/helm/check_manifests.py asserts on the rendered manifests (and runs the
# rendered exporter and web configs through the real binary's --check-config
# when DORA_EXPORTER_BIN is set).
#
# Exit 77 (ctest: skipped) when helm is not installed (scripts/install-helm.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
CHART=helm/dora-kafka-exporter
HERE=tests/helm

HELM="${DORA_HELM:-}"
if [[ -z "$HELM" ]]; then HELM="$(command -v helm || true)"; fi
if [[ -z "$HELM" ]]; then
  c="${DORA_TOOLS_BIN:-${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}/bin}/helm"
  [[ -x "$c" ]] && HELM="$c"
fi
if [[ -z "$HELM" ]]; then
  echo "helm check: SKIPPED, helm not found (run scripts/install-helm.sh)"
  exit 77
fi
echo "helm check: $("$HELM" version --short 2>/dev/null || echo "$HELM")"

OUT="$(mktemp -d "${TMPDIR:-/tmp}/dora-helm-check.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT

echo "== files/ copies equal rules/ and dashboards/"
helm/sync-assets.sh --check

echo "== helm lint --strict"
"$HELM" lint --strict "$CHART" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict "$CHART" -f "$HERE/values-standalone-secure.yaml" >"$OUT/lint.log" 2>&1 || {
  cat "$OUT/lint.log"
  exit 1
}
"$HELM" lint --strict "$CHART" --set sharding.replicas=3 >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict "$CHART" -f "$HERE/values-sidecar.yaml" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict "$CHART" -f tests/kyverno/values-strimzi.yaml >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict "$CHART" -f "$HERE/values-kubelet-disk.yaml" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
"$HELM" lint --strict "$CHART" -f "$HERE/values-incidents.yaml" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }

echo "== helm template"
render() {  # name, helm args...
  local name="$1"
  shift
  "$HELM" template dora "$CHART" --namespace monitoring "$@" >"$OUT/$name.yaml"
}
render standalone
render standalone-secure -f "$HERE/values-standalone-secure.yaml"
render sidecar -f "$HERE/values-sidecar.yaml"
render sidecar-default --set mode=sidecar --set sidecar.brokerPodSelector.app=kafka
render sidecar-noshare --set mode=sidecar --set sidecar.brokerPodSelector.app=kafka --set sidecar.shareProcessNamespace=false
render sidecar-assets -f "$HERE/values-sidecar.yaml" --set prometheusRule.enabled=true --set dashboards.enabled=true
render standalone-noassets --set prometheusRule.enabled=false --set dashboards.enabled=false --set serviceMonitor.enabled=false
render kubelet-disk-default --set prometheusRule.kubeletDisk.enabled=true
render kubelet-disk -f "$HERE/values-kubelet-disk.yaml"
render incidents -f "$HERE/values-incidents.yaml"
render incidents-claim -f "$HERE/values-incidents.yaml" --set incidentSpool.persistence.existingClaim=spool-claim
render incidents-emptydir -f "$HERE/values-incidents.yaml" --set incidentSpool.persistence.enabled=false
render incidents-sidecar -f "$HERE/values-sidecar.yaml" -f "$HERE/values-incidents.yaml"
render kubelet-disk-sidecar -f "$HERE/values-sidecar.yaml" -f "$HERE/values-kubelet-disk.yaml"
render sharded --set sharding.replicas=3
render sharded-incidents -f "$HERE/values-incidents.yaml" --set sharding.replicas=2
render sharded-sidecar -f "$HERE/values-sidecar.yaml" --set sharding.replicas=3
"$HELM" template dora "$CHART" --namespace kafka -f tests/kyverno/values-strimzi.yaml >"$OUT/kyverno.yaml"
"$HELM" template dora "$CHART" --namespace kafka -f tests/kyverno/values-strimzi.yaml \
  --set 'sidecar.kyverno.pools={brokers}' >"$OUT/kyverno-pools.yaml"

echo "== bad values are rejected"
expect_fail() {  # what, helm args...
  local what="$1"
  shift
  if "$HELM" template dora "$CHART" "$@" >"$OUT/bad.log" 2>&1; then
    echo "expected helm template to fail: $what" >&2
    exit 1
  fi
  echo "   rejected: $what"
}
expect_fail "unknown mode" --set mode=daemonset
expect_fail "a secret in kafka.properties" --set-string 'kafka.properties.sasl\.password=hunter2'
expect_fail "a plain password as basic auth hash" --set-string web.basicAuthUsers.prometheus=hunter2
expect_fail "unknown top-level key" --set replicas=3
expect_fail "web TLS without a Secret" --set web.tls.enabled=true
expect_fail "TLS 1.1" --set web.tls.minVersion=TLS11
expect_fail "sidecar without brokerPodSelector" --set mode=sidecar
expect_fail "kyverno without sidecar.kyverno.strimziCluster" --set mode=sidecar --set sidecar.inject=kyverno
expect_fail "unknown sidecar.inject" --set mode=sidecar --set sidecar.brokerPodSelector.app=kafka --set sidecar.inject=webhook
expect_fail "unknown prometheusRule key" --set prometheusRule.kubelet=true
expect_fail "a spool size that is not a quantity" --set incidentSpool.persistence.size=lots
expect_fail "a secret mount without its Secret" --set 'extraSecretMounts[0].name=am'
expect_fail "zero shards" --set sharding.replicas=0
expect_fail "shards that are not a number" --set-string sharding.replicas=two
expect_fail "unknown sharding key" --set sharding.index=1
expect_fail "one existing spool claim for several shards" -f "$HERE/values-incidents.yaml" --set sharding.replicas=2 --set incidentSpool.persistence.existingClaim=spool-claim

echo "== helm package keeps the copies"
"$HELM" package "$CHART" -d "$OUT" >/dev/null
tar -tzf "$OUT"/dora-kafka-exporter-*.tgz >"$OUT/package.txt"
grep -q '^dora-kafka-exporter/files/dora-kafka.rules.yml$' "$OUT/package.txt"
grep -q '^dora-kafka-exporter/files/dora-kafka-kubelet-disk.rules.yml$' "$OUT/package.txt"
for f in dashboards/*.json; do
  grep -q "^dora-kafka-exporter/files/dashboards/$(basename "$f")\$" "$OUT/package.txt"
done

echo "== assertions on the rendered manifests"
python3 "$HERE/check_manifests.py" "$OUT"
echo "helm check: OK"
