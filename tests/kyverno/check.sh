#!/usr/bin/env bash
# The Kyverno route onto Strimzi broker pods, offline: renders the chart's
# ClusterPolicy (sidecar.inject: kyverno, tests/kyverno/values-strimzi.yaml),
# applies it with the real Kyverno CLI to pods shaped as Strimzi renders them
# (tests/kyverno/strimzi-pods.yaml), as a CREATE and as an UPDATE, and asserts
# on the mutated pods (tests/kyverno/check_mutation.py).
#
# Exit 77 (ctest: skipped) when kubectl-kyverno or helm is not installed
# (scripts/install-kyverno.sh, scripts/install-helm.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=tests/kyverno
BIN="${DORA_TOOLS_BIN:-${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}/bin}"

find_tool() {  # name, env override
  local t="${2:-}"
  [[ -n "$t" ]] || t="$(command -v "$1" || true)"
  [[ -n "$t" || ! -x "$BIN/$1" ]] || t="$BIN/$1"
  echo "$t"
}
KYVERNO="$(find_tool kubectl-kyverno "${DORA_KYVERNO:-}")"
HELM="$(find_tool helm "${DORA_HELM:-}")"
missing=()
[[ -n "$KYVERNO" ]] || missing+=("kubectl-kyverno (scripts/install-kyverno.sh)")
[[ -n "$HELM" ]] || missing+=("helm (scripts/install-helm.sh)")
if ((${#missing[@]})); then
  echo "kyverno check: SKIPPED, not found: ${missing[*]}"
  exit 77
fi
echo "kyverno check: kubectl-kyverno $("$KYVERNO" version | awk '/^Version:/ {print $2}'), $("$HELM" version --short)"

OUT="$(mktemp -d "${TMPDIR:-/tmp}/dora-kyverno-check.XXXXXX")"
trap '[[ -n "${DORA_KEEP:-}" ]] || rm -rf "$OUT"' EXIT

"$HELM" template dora-kafka-exporter-sidecar helm/dora-kafka-exporter --namespace kafka \
  -f "$HERE/values-strimzi.yaml" --show-only templates/kyverno-policy.yaml >"$OUT/policy.yaml"
"$HELM" template dora-kafka-exporter-sidecar helm/dora-kafka-exporter --namespace kafka \
  -f "$HERE/values-strimzi.yaml" --show-only templates/configmap.yaml >"$OUT/configmap.yaml"

apply() {  # name, extra args...
  local name="$1"
  shift
  if ! "$KYVERNO" apply "$OUT/policy.yaml" --resource "$HERE/strimzi-pods.yaml" --remove-color \
    -o "$OUT/$name.yaml" "$@" >"$OUT/$name.log" 2>&1; then
    cat "$OUT/$name.log"
    echo "kyverno check: kubectl-kyverno apply ($name) failed" >&2
    exit 1
  fi
  sed 's/^/   /' "$OUT/$name.log" | grep -iE 'applied|pass|fail|warn|error|skip' || true
}
echo "== apply as CREATE"
apply create
echo "== apply as UPDATE"
apply update --values-file "$HERE/values-update.yaml"

echo "== assertions on the mutated pods"
python3 "$HERE/check_mutation.py" "$HERE/strimzi-pods.yaml" "$OUT"
echo "kyverno check: OK"
