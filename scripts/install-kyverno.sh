#!/usr/bin/env bash
# Installs the pinned Kyverno CLI (kubectl-kyverno) used by tests/helm/kyverno.sh,
# built from its Go module (the Go module proxy is the only source), into a cache
# bin dir. Idempotent: when that binary already reports the pinned version,
# nothing runs.
#
# Why not `go install github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno@vX`:
# Kyverno's go.mod carries a `replace` directive (k8s.io/pod-security-admission
# => its own fork), and `go install pkg@version` refuses any module with one. So
# the script downloads the pinned module with `go mod download` (checked against
# the checksum database like any module), then runs `go build` inside that
# read-only copy, where Kyverno's own go.mod, go.sum and replace apply exactly as
# in its release builds. Nothing is written into the module cache's copy.
#
# Env: DORA_KYVERNO_VERSION  pinned version (default below)
#      DORA_TOOLS_BIN        bin dir (default ${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}/bin)
# Prints the binary's path on its last line.
set -euo pipefail

KYVERNO_VERSION="${DORA_KYVERNO_VERSION:-v1.19.1}"
CACHE="${DORA_KAFKA_CACHE:-$HOME/.cache/dora-kafka-exporter}"
BIN="${DORA_TOOLS_BIN:-$CACHE/bin}"
KYV="$BIN/kubectl-kyverno"

installed_version() {
  [[ -x "$KYV" ]] || return 1
  "$KYV" version 2>/dev/null | awk '/^Version:/ {print $2; exit}'
}

if [[ "$(installed_version || true)" == "$KYVERNO_VERSION" ]]; then
  echo "install-kyverno: kubectl-kyverno $KYVERNO_VERSION already installed"
  echo "$KYV"
  exit 0
fi

GO="$(command -v go || true)"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
if [[ -z "$GO" ]]; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-kyverno: installing golang-go"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends golang-go >/dev/null
  GO="$(command -v go)"
fi

echo "install-kyverno: downloading github.com/kyverno/kyverno@$KYVERNO_VERSION"
src="$(timeout 900 "$GO" mod download -json "github.com/kyverno/kyverno@$KYVERNO_VERSION" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")); sys.exit(1 if d.get("Error") else 0)')"
if [[ -z "$src" || ! -f "$src/go.mod" ]]; then
  echo "install-kyverno: module download gave no source dir" >&2
  exit 1
fi

echo "install-kyverno: building kubectl-kyverno $KYVERNO_VERSION with $("$GO" version | awk '{print $3}') (many minutes on first run: it links most of Kubernetes)"
mkdir -p "$BIN"
start=$(date +%s)
tmp="$KYV.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# -mod=readonly: build exactly what Kyverno's go.mod/go.sum pin; GOFLAGS from the
# environment (e.g. -buildvcs=false) still apply. Release builds stamp the version
# the same way (Makefile LD_FLAGS).
(cd "$src" && CGO_ENABLED=0 timeout 3600 "$GO" build -mod=readonly -trimpath \
  -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" \
  -o "$tmp" ./cmd/cli/kubectl-kyverno)
mv -f "$tmp" "$KYV"
got="$(installed_version || true)"
if [[ "$got" != "$KYVERNO_VERSION" ]]; then
  echo "install-kyverno: built kubectl-kyverno reports \"$got\", expected $KYVERNO_VERSION" >&2
  exit 1
fi
echo "install-kyverno: kubectl-kyverno $KYVERNO_VERSION installed in $(( $(date +%s) - start ))s"
echo "$KYV"
