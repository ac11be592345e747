#pragma once
// Configuration model: plain structs whose member initialisers ARE the defaults.
// Each key is declared once, in config/schema.h (its path, type and checks);
// a member added here without a line there is never read. config/exporter.yaml
// documents every key; tests/unit/test_config.cpp keeps that file equal to
// these defaults. Loading lives in config/loader.h.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "util/duration.h"

namespace dora {

struct CollectorCommon {
  bool enabled = true;
  Millis interval{15000};
  Millis timeout{10000};
};

struct RegexFilter {
  std::vector<std::string> include{".*"};
  std::vector<std::string> exclude;
};

struct KafkaConfig {
  // The cluster's name: its MirrorMaker 2 alias in collectors.mirror.flows
  // (later its `cluster` label; docs/disaster-recovery.md). "" = unnamed.
  std::string name;
  std::vector<std::string> bootstrap_servers{"localhost:9092"};
  std::string client_id = "dora-kafka-exporter";
  // Passed verbatim to librdkafka (security.protocol, sasl.*, ssl.*, ...).
  std::map<std::string, std::string> properties;
  // librdkafka property -> file holding its value (secrets stay out of the YAML).
  std::map<std::string, std::string> property_files;
  // librdkafka property -> environment variable holding its value.
  std::map<std::string, std::string> property_env;
};

struct WebConfig {
  std::string listen_address = ":9308";
  std::string telemetry_path = "/metrics";
  std::string config_file;  // exporter-toolkit compatible web config (TLS, basic auth)
  // Connection limits (docs/security.md): a slow or idle client holds a
  // connection slot, never a request worker.
  Millis header_timeout{10000};          // TLS handshake + whole request head, from accept
  Millis idle_timeout{30000};            // keep-alive connection waiting for its next request
  Millis write_timeout{30000};           // response write without progress
  int max_connections = 1024;            // open connections in total
  int max_connections_per_address = 64;  // open connections from one client address
};

struct LogConfig {
  std::string level = "info";   // trace|debug|info|warn|error
  std::string format = "text";  // text|json
};

struct RetryConfig {
  Millis initial_backoff{1000};
  Millis max_backoff{60000};
};

// sharding: this daemon takes the consumer groups whose name hashes to
// `index` mod `count` (util/shard.h); cluster-wide series come from shard 0
// only (docs/deployment.md, "Sharding"). count 1: no sharding.
struct ShardingConfig {
  int count = 1;
  int index = 0;  // 0 .. count-1; also --sharding.index
};

struct ClusterCollectorConfig : CollectorCommon {
  Millis config_refresh_interval{300000};  // DescribeConfigs cadence (min.insync.replicas, retention, rack)
  std::string expected_topics_file;        // topic conformance declarations (config/topics.yaml)
  int expected_brokers = 0;  // brokers the cluster should have (kafka_brokers_expected); 0: unset
};

struct OffsetsCollectorConfig : CollectorCommon {
  int partitions_per_request = 250;  // ListOffsets chunk size (bench/notes.md, Round 4)
  Millis rate_window{60000};         // window for messages-in-per-second
  RegexFilter topics{{".*"}, {}};
  std::string dlq_topics = "^dlq-";  // dead-letter topics: their inflow is an incident signal
  Millis carry_for{300000};          // a partition without an answer keeps its last watermarks this long
  double hot_partition_share =
      0.5;  // KafkaTopicHotPartition: the hottest partition's share of a topic's writes
};

struct ConsumerGroupsCollectorConfig : CollectorCommon {
  ConsumerGroupsCollectorConfig() { timeout = Millis(20000); }
  int max_in_flight = 32;             // concurrent OffsetFetch requests
  std::string granularity = "mixed";  // mixed|partition|topic (docs/consumer-lag.md)
  RegexFilter groups{{".*"}, {}};
  RegexFilter topics{{".*"}, {}};
  int status_window = 10;                // commits per partition in the Burrow-style window
  Millis status_min_distance{0};         // commits closer than this are merged
  int lag_history_points = 60;           // (time, high watermark) points kept per partition
  bool lag_exporter_metrics = false;     // also emit kafka-lag-exporter's metric family
  std::string cluster_name = "default";  // cluster_name label of that family
  Millis carry_for{300000};  // a group without an answer keeps its last description/offsets this long
  // Where committed offsets come from: offset_fetch (FindCoordinator +
  // OffsetFetch per group per run) or offsets_topic (a reader of
  // __consumer_offsets, kafka/offsets_topic.h).
  std::string offsets_source = "offset_fetch";
};

struct LogDirsCollectorConfig : CollectorCommon {
  LogDirsCollectorConfig() {
    enabled = false;
    interval = Millis(30000);
  }
  std::string broker_id;              // broker label; sidecar of that broker
  std::vector<std::string> paths;     // the broker's log.dirs, mounted read-only
  int max_entries_per_cycle = 20000;  // bound on directory entries walked per cycle
};

// broker_process: the broker's own process from /proc (sidecar mode).
struct BrokerProcessCollectorConfig : CollectorCommon {
  BrokerProcessCollectorConfig() { enabled = false; }
  std::string broker_id;      // broker label; sidecar of that broker
  std::string pid_file;       // file holding the broker's PID; "": the process running kafka.Kafka
  std::string cmdline_regex;  // only processes with an argument it matches (several brokers in view)
};

struct ProbeCollectorConfig : CollectorCommon {
  ProbeCollectorConfig() {
    enabled = false;
    interval = Millis(1000);
  }
  std::string topic = "__dora_kafka_exporter_probe";
  bool manage_topic = true;  // create and repair the probe topic
  Millis sla{10000};         // a message not received within this is counted lost
  Millis topic_check_interval{60000};
};

struct BrokerStatsCollectorConfig : CollectorCommon {};

// A REST service the exporter probes over HTTP(S): a schema registry, a Kafka
// Connect cluster (collectors/http_client.h).
struct HttpEndpoint {
  std::string name;
  std::string url;
  std::string username;
  std::string password_file;
  std::string password_env;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool insecure_skip_verify = false;
  Millis timeout{5000};
};
using SchemaRegistryEndpoint = HttpEndpoint;
using ConnectEndpoint = HttpEndpoint;

struct SchemaRegistryCollectorConfig : CollectorCommon {
  SchemaRegistryCollectorConfig() { timeout = Millis(5000); }
  std::vector<SchemaRegistryEndpoint> registries;
};

struct ConnectCollectorConfig : CollectorCommon {
  ConnectCollectorConfig() { timeout = Millis(5000); }
  std::vector<ConnectEndpoint> clusters;
  int max_connectors = 1000;   // connectors exported per Connect cluster; the rest are counted, not exported
  int max_trace_length = 200;  // characters of a failed connector's or task's first trace line
};

// An Alertmanager the daemon pushes its alerts to (alerting/notifier.h): an
// HTTP endpoint plus a bearer token file (at most one of basic auth and token).
struct AlertmanagerEndpoint : HttpEndpoint {
  AlertmanagerEndpoint() { timeout = Millis(10000); }
  std::string bearer_token_file;
};

// One MirrorMaker 2 replication flow, source -> target (MM2's aliases): one
// of them is kafka.name, the other collectors.mirror.peer.name.
struct MirrorFlow {
  std::string source;
  std::string target;
  RegexFilter topics{{".*"}, {}};                 // source topics whose replication is watched
  std::string replication_policy = "default";     // default (<source><separator><topic>) | identity
  std::string separator = ".";                    // replication.policy.separator
  std::string offset_syncs_topic;                 // "" = mm2-offset-syncs.<target>.internal
  std::string offset_syncs_on = "source";         // offset-syncs.topic.location: source|target
  std::string checkpoints_topic;                  // "" = <source>.checkpoints.internal (on the target)
  std::string probe_topic = "dora-mirror-probe";  // on the source; MM2 must replicate it. "" = no probe
};

// mirror: MirrorMaker 2 replication watched end to end (docs/disaster-recovery.md).
struct MirrorCollectorConfig : CollectorCommon {
  MirrorCollectorConfig() {
    enabled = false;
    interval = Millis(10000);
    peer.bootstrap_servers.clear();
  }
  KafkaConfig peer;  // the other cluster: the keys of `kafka:`
  std::vector<MirrorFlow> flows;
  Millis probe_interval{5000};   // one probe message per flow this often
  Millis probe_timeout{300000};  // a probe message not seen on the target within this is missing
};

struct CollectorsConfig {
  ClusterCollectorConfig cluster;
  OffsetsCollectorConfig offsets;
  ConsumerGroupsCollectorConfig consumer_groups;
  LogDirsCollectorConfig log_dirs;
  BrokerProcessCollectorConfig broker_process;
  ProbeCollectorConfig probe;
  BrokerStatsCollectorConfig broker_stats;
  SchemaRegistryCollectorConfig schema_registry;
  ConnectCollectorConfig connect;
  MirrorCollectorConfig mirror;
};

// One alert the daemon evaluates itself (alerting/rules.h), by alertname.
// The defaults are the rule's in rules/dora-kafka.rules.yml
// (tests/unit/test_alerting_rules.cpp compares them).
struct AlertRuleConfig {
  bool enabled = true;
  double threshold =
      0;  // the constant the rule compares with (unused by KafkaBrokersMissing, KafkaTopicHotPartition)
  Millis for_duration{0};
  Millis keep_firing_for{0};
  std::map<std::string, std::string> labels;  // extra labels; they win over the rule's (severity)
};

// alerting: the daemon's own alerts (docs/alerting.md).
struct AlertingConfig {
  AlertingConfig() {
    auto rule = [this](const char* name, double threshold, int64_t for_seconds) {
      AlertRuleConfig r;
      r.threshold = threshold;
      r.for_duration = Millis(for_seconds * 1000);
      rules[name] = r;
    };
    rule("KafkaConsumerGroupLagHigh", 10000, 300);
    rule("KafkaBrokerDiskUsageHigh", 0.8, 300);
    rule("KafkaSchemaRegistryDown", 0, 120);
    rule("KafkaTopicPartitionOffline", 1, 60);
    rule("KafkaReplicationLatencyHigh", 5, 300);
    rule("KafkaTopicPartitionUnderMinISR", 1, 60);
    rule("KafkaBrokersMissing", 0, 300);
    rule("KafkaConsumerGroupDataLoss", 0, 0);
    rule("KafkaConsumerGroupStalled", 0, 300);
    rule("KafkaProbeProduceErrors", 0, 0);
    rule("KafkaExporterCollectorFailing", 0, 300);
    rule("KafkaConsumerGroupLagNearRetention", 0.8, 300);
    rule("KafkaBrokerFileDescriptorsHigh", 0.8, 300);
    rule("KafkaBrokerCpuSaturated", 0.9, 600);
    rule("KafkaTopicHotPartition", 0, 900);
    rule("KafkaBrokerRestarted", 600, 0);
  }
  bool enabled = true;  // evaluate the alerts of alerting/rules.h in the daemon
  // By alertname (the set is fixed: an unknown name is an unknown key).
  std::map<std::string, AlertRuleConfig> rules;
  // Push to Alertmanager starts when `alertmanagers` is not empty.
  Millis resend_delay{60000};                          // a firing alert is sent again this often
  std::map<std::string, std::string> external_labels;  // added to every pushed alert, never overriding
  std::vector<AlertmanagerEndpoint> alertmanagers;     // POST /api/v2/alerts to each
};

// incidents: ICT incident events on Kafka (docs/incident-events.md).
struct IncidentsConfig {
  bool enabled = false;
  std::string topic = "incident-events";
  std::string format = "json";                  // json|avro
  std::string subject_name_strategy = "topic";  // avro: topic|record|topic_record
  HttpEndpoint schema_registry;                 // avro: where the schema is registered
  std::string instance;                         // the daemon's name in every event; "" = the host name
  std::string compression = "lz4";              // the producer's compression.codec
  Millis renotify_interval{3600000};            // a firing incident is re-notified this often; 0 = never
  struct Spool {
    std::string directory = "/var/lib/dora-kafka-exporter/incidents";
    int max_bytes = 64 << 20;  // the segment files' bound on disk
  } spool;
};

struct Config {
  KafkaConfig kafka;
  WebConfig web;
  LogConfig log;
  RetryConfig retry;
  ShardingConfig sharding;
  CollectorsConfig collectors;
  AlertingConfig alerting;
  IncidentsConfig incidents;
  std::string source_file;  // "" when running on defaults
  // Where each key was set, by key path ("kafka.properties.acks",
  // "collectors.offsets.topics.include[0]"): "<file>:<line>:<column>", or
  // "flag --name" for a flag override. Validation errors are placed with it.
  std::map<std::string, std::string> locations;
};

}  // namespace dora
