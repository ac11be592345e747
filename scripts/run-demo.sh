#!/usr/bin/env bash
# README command 1: the main job on an embedded default. Installs what is
# missing, builds, starts a local single-node Kafka (KRaft) with the seed's
# topics and a small producer/consumer load, starts the exporter watching it
# (alerting on), prints the URLs (the status page first) and runs until Ctrl-C
# (or --duration SECONDS), then stops everything it started.
#   scripts/run-demo.sh [--duration SECONDS] [--port 9308] [--kafka-version 3.9.1] [--dlq]
# --dlq: the load also writes to the dead-letter topics (dlq-*), which fires
# KafkaDeadLetterMessages; without it the demo is healthy and opens no ticket.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=0
PORT=9308
VERSION="${DORA_KAFKA_VERSION:-3.9.1}"
LOAD_ARGS=()
while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --kafka-version) VERSION="$2"; shift 2 ;;
    --dlq) LOAD_ARGS+=(--dlq); shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-demo: unknown argument $1" >&2; exit 2 ;;
  esac
done
export DORA_KAFKA_VERSION="$VERSION"

scripts/install-deps.sh --demo
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target dora-kafka-exporter

DEMO="$PWD/.demo"
KAFKACTL="python3 tests/kafka/kafkactl.py"
EXPORTER_PID=""
cleanup() {
  trap - EXIT INT TERM
  echo "run-demo: stopping"
  [[ -n "$EXPORTER_PID" ]] && kill "$EXPORTER_PID" 2>/dev/null && wait "$EXPORTER_PID" 2>/dev/null || true
  $KAFKACTL stop --dir "$DEMO/kafka" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

$KAFKACTL stop --dir "$DEMO/kafka" >/dev/null 2>&1 || true
rm -rf "$DEMO" && mkdir -p "$DEMO"
$KAFKACTL start --dir "$DEMO/kafka" --nodes 1 --version "$VERSION" --watch-pid $$
$KAFKACTL seed-topics --dir "$DEMO/kafka"
$KAFKACTL load --dir "$DEMO/kafka" --rate 200 ${LOAD_ARGS[@]+"${LOAD_ARGS[@]}"}
BOOTSTRAP=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['bootstrap'])" "$DEMO/kafka/cluster.json")

# The seed's layout, scaled to one broker (replication factor and min ISR 1).
sed -e 's/replication_factor: 3/replication_factor: 1/' -e 's/min_insync_replicas: 2/min_insync_replicas: 1/' \
  config/topics.yaml >"$DEMO/topics.yaml"
cat >"$DEMO/exporter.yaml" <<YAML
kafka:
  bootstrap_servers: [$BOOTSTRAP]
web:
  listen_address: "127.0.0.1:$PORT"
collectors:
  cluster: {interval: 5s, expected_topics_file: $DEMO/topics.yaml}
  offsets: {interval: 5s}
  consumer_groups: {interval: 5s}
alerting:
  enabled: true   # the default, written out: the status page shows what it evaluates
# ICT incident events on the seed's incident-events topic (docs/incident-events.md):
# a healthy demo opens none; stop the broker (or use --dlq) to see one.
incidents:
  enabled: true
  instance: demo
  spool: {directory: $DEMO/incidents}
YAML

build/exporter/dora-kafka-exporter --config "$DEMO/exporter.yaml" 2>"$DEMO/exporter.log" &
EXPORTER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break
  kill -0 "$EXPORTER_PID" 2>/dev/null || { cat "$DEMO/exporter.log" >&2; exit 1; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "run-demo: exporter not ready" >&2; exit 1; }

cat <<MSG

dora-kafka-exporter is watching a local Kafka $VERSION ($BOOTSTRAP) with the seed's topics and a demo load.
  status:   http://127.0.0.1:$PORT/   (open it in a browser: cluster health, alerts, most lagging groups)
  metrics:  http://127.0.0.1:$PORT/metrics
  alerts:   http://127.0.0.1:$PORT/api/v1/alerts
  health:   http://127.0.0.1:$PORT/healthz
  ready:    http://127.0.0.1:$PORT/ready
  log:      $DEMO/exporter.log
  try:      curl -s http://127.0.0.1:$PORT/metrics | grep -E '^kafka_(brokers|consumergroup_lag_sum|topic_messages_in_per_second)'
  incidents: curl -s http://127.0.0.1:$PORT/metrics | grep -E '^kafka_exporter_incident_'
            $KAFKACTL tool --dir $DEMO/kafka --main org.apache.kafka.tools.consumer.ConsoleConsumer -- \\
              --bootstrap-server {bootstrap} --topic incident-events --from-beginning --timeout-ms 5000 | grep schema_version
MSG
if [[ "$DURATION" -gt 0 ]]; then
  sleep "$DURATION"
  curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^kafka_(brokers|consumergroup_lag_sum|cluster_messages_in_per_second) |^kafka_exporter_incident_events_(total|delivered_total)' || true
else
  echo "Ctrl-C to stop."
  wait "$EXPORTER_PID"
fi
