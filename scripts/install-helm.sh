#!/usr/bin/env bash
# Installs the pinned Helm used by tests/helm/check.sh, built from source with
# `go install` (the Go module proxy is the only source), into a cache bin dir.
# Idempotent: when that helm already reports the pinned version, nothing runs.
#
# Env: DORA_HELM_VERSION  pinned version (default below)
#      DORA_TOOLS_BIN     bin dir (default ${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}/bin)
# Prints the helm path on its last line.
set -euo pipefail

HELM_VERSION="${DORA_HELM_VERSION:-v3.21.4}"
CACHE="${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}"
BIN="${DORA_TOOLS_BIN:-$CACHE/bin}"
HELM="$BIN/helm"

installed_version() {
  [[ -x "$HELM" ]] || return 1
  "$HELM" version --template '{{.Version}}' 2>/dev/null
}

if [[ "$(installed_version || true)" == "$HELM_VERSION" ]]; then
  echo "install-helm: helm $HELM_VERSION already installed"
  echo "$HELM"
  exit 0
fi

GO="$(command -v go || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
if [[ -z "$GO" ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-helm: installing golang-go"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  GO="$(command -v go)"
fi
# Go >= 1.21 fetches the toolchain Helm's go.mod asks for (GOTOOLCHAIN=auto),
# through the module proxy like any other module.
echo "install-helm: building helm $HELM_VERSION with $("$GO" version | awk '{print $3}') (a few minutes on first run)"
mkdir -p "$BIN"
start=$(date +%s)
# Helm's release builds stamp the full version with -ldflags; without it the binary says "v3.21".
GOBIN="$BIN" CGO_ENABLED=0 timeout 1800 "$GO" install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
got="$(installed_version || true)"
if [[ "$got" != "$HELM_VERSION" ]]; then
  echo "install-helm: built helm reports \"$got\", expected $HELM_VERSION" >&2
  exit 1
fi
echo "install-helm: helm $HELM_VERSION installed in $(( $(date +%s) - start ))s"
echo "$HELM"
