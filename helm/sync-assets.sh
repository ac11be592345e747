#!/usr/bin/env bash
# Copies rules/dora-kafka.rules.yml, rules/dora-kafka-kubelet-disk.rules.yml and dashboards/*.json into the chart's
# files/ (Helm packages neither symlinks nor files outside the chart).
# tests/helm/check.sh fails while a copy differs from its source; run this after
# editing rules/ or dashboards/. --check only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=helm/dora-kafka-exporter/files
check=0
[[ "${1:-}" == "--check" ]] && check=1
status=0
sync() {  # src dst
  if ! cmp -s "$1" "$2"; then
    if ((check)); then
      echo "sync-assets: $2 differs from $1 (run helm/sync-assets.sh)" >&2
      status=1
    else
      mkdir -p "$(dirname "$2")"
      cp "$1" "$2"
      echo "sync-assets: updated $2"
    fi
  fi
}
sync rules/dora-kafka.rules.yml "$chart/dora-kafka.rules.yml"
sync rules/dora-kafka-kubelet-disk.rules.yml "$chart/dora-kafka-kubelet-disk.rules.yml"
for f in dashboards/*.json; do sync "$f" "$chart/dashboards/$(basename "$f")"; done
# Dashboards removed from dashboards/ must leave the chart too.
for f in "$chart"/dashboards/*.json; do
  [[ -e "$f" ]] || continue
  if [[ ! -e "dashboards/$(basename "$f")" ]]; then
    if ((check)); then
      echo "sync-assets: $f has no source in dashboards/" >&2
      status=1
    else
      rm "$f"
      echo "sync-assets: removed $f"
    fi
  fi
done
exit $status
