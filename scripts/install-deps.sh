#!/usr/bin/env bash
# Installs everything dora-kafka-exporter needs to build, test and run its demo,
# from Debian bookworm packages (and the Kafka broker and Connect jars via Maven). Idempotent:
# a second run installs nothing and takes a second.
#   scripts/install-deps.sh          everything (the test command, CI)
#   scripts/install-deps.sh --demo   only what scripts/run-demo.sh needs: the build,
#                                    Java and the broker jars (no helm, Kyverno,
#                                    fuzzing toolchain, Prometheus, Chromium or
#                                    Connect jars)
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_ONLY=0
[[ "${1:-}" == --demo ]] && DEMO_ONLY=1

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev prometheus-cpp-dev libcpp-httplib-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev catch2
  libavro-dev
  zlib1g-dev libssl-dev libbrotli-dev libcrypt-dev openssl
  openjdk-17-jre-headless maven
  curl procps python3
)
# The tests' tools: formatting, the real Prometheus and Alertmanager,
# headless Chromium (the status page test reads the page's DOM), and
# python3-avro (the incident events' Avro test decodes with an independent
# implementation).
((DEMO_ONLY)) || PACKAGES+=(clang-format prometheus prometheus-alertmanager chromium python3-avro)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # A JDK/JRE from elsewhere is fine if java 17+ is on PATH.
    if [[ "$p" == openjdk-17-jre-headless ]] && command -v java >/dev/null; then continue; fi
    if [[ "$p" == maven ]] && command -v mvn >/dev/null; then continue; fi
    missing+=("$p")
  fi
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: Debian packages already installed"
fi

if ((DEMO_ONLY)); then
  python3 tests/kafka/kafkactl.py fetch --version "${DORA_KAFKA_VERSION:-3.9.1}"
  exit 0
fi

# PyYAML for the asset checks (tests/rules), in whichever python3 is first on PATH.
if ! python3 -c 'import yaml' 2>/dev/null; then
  python3 -m pip install --quiet pyyaml || $SUDO apt-get install -y -qq python3-yaml >/dev/null
fi

# Helm (tests/helm), the Kyverno CLI (tests/kyverno) and clang + libFuzzer
# (fuzz/): all idempotent.
scripts/install-helm.sh
scripts/install-kyverno.sh
scripts/install-fuzz-deps.sh

# The real Kafka broker used by the demo and the integration tests, and the
# same release's Kafka Connect worker and connect-file plugin (the [connect]
# integration test) and MirrorMaker 2 (the [mirror] integration tests), all cached.
python3 tests/kafka/kafkactl.py fetch --connect --mirror --version "${DORA_KAFKA_VERSION:-3.9.1}"
