#!/usr/bin/env bash
# Fails when librdkafka leaks out of exporter/src/kafka/: any "rd_kafka_" or
# "rdkafka.h" in exporter/src outside that directory, comments included, is
# named as file:line (issue 16: kafka/ is the one place that knows librdkafka).
set -euo pipefail
cd "$(dirname "$0")/.."

hits=$(grep -rnE 'rd_kafka_|rdkafka\.h' exporter/src | grep -v '^exporter/src/kafka/' || true)
if [[ -n "$hits" ]]; then
  sed 's/^/kafka boundary: /' <<<"$hits" >&2
  exit 1
fi
echo "kafka boundary: no librdkafka outside exporter/src/kafka/"
