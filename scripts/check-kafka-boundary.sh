#!/usr/bin/env bash
# Fails when librdkafka leaks out of exporter/src/kafka/: any "rd_kafka_" or
# "rdkafka.h" in exporter/src outside that directory, comments included, is
# named as file:line (issue 16: kafka/ is the one place that knows librdkafka).
# Files listed in scripts/kafka-boundary-allow.txt are still let through; an
# entry that no longer matches anything fails too, so the list only shrinks.
set -euo pipefail
cd "$(dirname "$0")/.."

allow_file=scripts/kafka-boundary-allow.txt
declare -A allowed=()
if [[ -f "$allow_file" ]]; then
  while IFS= read -r line; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    [[ -n "$line" ]] && allowed["$line"]=1
  done <"$allow_file"
fi

pattern='rd_kafka_|rdkafka\.h'
status=0
declare -A seen=()
while IFS= read -r hit; do
  file="${hit%%:*}"
  if [[ -n "${allowed[$file]:-}" ]]; then
    seen["$file"]=1
    continue
  fi
  echo "kafka boundary: $hit" >&2
  status=1
done < <(grep -rnE "$pattern" exporter/src | grep -v '^exporter/src/kafka/' || true)

for file in "${!allowed[@]}"; do
  if [[ -z "${seen[$file]:-}" ]]; then
    echo "kafka boundary: $allow_file lists $file, which no longer needs it: remove the line" >&2
    status=1
  fi
done

if ((status != 0)); then
  echo "kafka boundary: librdkafka is used outside exporter/src/kafka/ (see above)" >&2
  exit 1
fi
echo "kafka boundary: no librdkafka outside exporter/src/kafka/ (${#allowed[@]} file(s) still allow-listed)"
