// Every configurable metric family against a real broker, in one run per
// consumer-group granularity (partition, mixed, topic): with every optional collector and setting on
// (committed offsets from __consumer_offsets, conformance, DLQ rates, kafka-lag-exporter labels with a
// live member, log dirs, the broker process, probe, broker stats, schema registry, Kafka Connect, the
// MirrorMaker 2 watch with the one cluster as both ends), and a run as a shard other than 0
// (sharding). .ci/run runs it from the ASan/UBSan build ("[asan-families]"), where the daemon under
// test is the sanitized binary: a memory or UB error aborts it, and the test reads its log.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "support/alertmanager.h"
#include "support/daemon.h"
#include "support/fake_connect.h"
#include "support/fake_registry.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Write(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-families-" + std::to_string(getpid()) + "-" + name;
  std::ofstream(path) << body;
  return path;
}

// The exporter.yaml of one run: every optional family on.
// Alerting: every setting, with a recording server as the Alertmanager
// (bearer token from a file) and a lag rule lowered so that it fires.
struct Alerting {
  std::string alertmanager_url;
  std::string token_file;
};

std::string Config(const std::string& granularity, const std::string& topics_file,
                   const std::string& data_dir, const std::string& kafka_dir, const std::string& registry_url,
                   const std::string& connect_url, const std::string& connect_password_file,
                   const Alerting& alerting, const std::string& bootstrap) {
  // Incident events: every setting, re-notified every 2s, zstd; the lowered
  // lag rule's incident is delivered to incident-events, in JSON in the
  // partition run and in Avro (schema registered with the fake registry) in
  // the topic run.
  const std::string incidents =
      "incidents:\n  enabled: true\n  topic: incident-events\n  format: " +
      std::string(granularity == "topic" ? "avro" : "json") +
      "\n  subject_name_strategy: topic_record\n  schema_registry: {name: main, url: '" + registry_url +
      "', timeout: 2s}\n  instance: asan-0\n  compression: zstd\n  renotify_interval: 2s\n"
      "  spool: {directory: /tmp/dora-families-" +
      std::to_string(getpid()) + "-spool-" + granularity + ", max_bytes: 1048576}\n";
  // mirror: the one cluster is both ends of the flow primary -> dr; with the
  // identity policy the probe reads its own topic back, and the offset syncs
  // and checkpoints are the records a real MM2 wrote, produced by the test
  // into the configured topics (on the "target": offset_syncs_on).
  const std::string mirror =
      "  mirror:\n    enabled: true\n    interval: 1s\n    timeout: 3s\n    probe_interval: 300ms\n"
      "    probe_timeout: 5s\n    peer: {name: dr, bootstrap_servers: ['" +
      bootstrap +
      "'], client_id: dora-asan-peer, properties: {socket.keepalive.enable: 'true'}, property_files: {}, "
      "property_env: {}}\n    flows:\n      - {source: primary, target: dr, topics: {include: [audit-logs], "
      "exclude: ['^none$']}, replication_policy: identity, separator: '_', offset_syncs_topic: mm2-syncs, "
      "offset_syncs_on: target, checkpoints_topic: mm2-checkpoints, probe_topic: dora-mirror-probe}\n";
  return "kafka:\n  name: primary\n" + incidents +
         "alerting:\n"
         "  enabled: true\n"
         "  resend_delay: 1s\n"
         "  external_labels: {cluster: asan}\n"
         "  alertmanagers:\n    - {name: am, url: '" +
         alerting.alertmanager_url + "', bearer_token_file: '" + alerting.token_file +
         "', timeout: 2s}\n"
         "  rules:\n"
         "    KafkaConsumerGroupLagHigh: {threshold: 50, for: 0s, keep_firing_for: 5s, labels: {team: "
         "seed}}\n"
         "    KafkaBrokerDiskUsageHigh: {enabled: false}\n"
         "collectors:\n"
         "  cluster: {interval: 1s, config_refresh_interval: 2s, expected_brokers: 1, "
         "expected_topics_file: " +
         topics_file +
         "}\n"
         "  offsets: {interval: 1s, rate_window: 5s, partitions_per_request: 2, dlq_topics: '^dlq-'}\n"
         "  consumer_groups: {interval: 1s, status_window: 3, status_min_distance: 500ms, "
         "lag_history_points: 5, max_in_flight: 2, lag_exporter_metrics: true, cluster_name: seed, "
         "granularity: " +
         granularity +
         // Committed offsets from __consumer_offsets in the partition run
         // (its reader's families), from OffsetFetch in the topic run.
         ", offsets_source: " + (granularity == "partition" ? "offsets_topic" : "offset_fetch") +
         "}\n"
         "  log_dirs: {enabled: true, interval: 1s, broker_id: '1', max_entries_per_cycle: 50, paths: ['" +
         data_dir +
         "']}\n"
         // The broker JVM by its pid file, narrowed by its config path (other
         // clusters may run on this machine).
         "  broker_process: {enabled: true, interval: 1s, timeout: 2s, broker_id: '1', pid_file: '" +
         kafka_dir +
         "/node-1/pid', cmdline_regex: 'node-1/server[.]properties$'}\n"
         "  probe: {enabled: true, interval: 500ms, sla: 3s, topic_check_interval: 2s}\n"
         "  broker_stats: {interval: 1s}\n"
         "  schema_registry:\n    interval: 1s\n    registries:\n      - {name: main, url: '" +
         registry_url +
         "'}\n"
         // Every connect setting: the cap cuts one of the fake's four connectors,
         // basic auth from a file, a short trace bound, a per-cluster timeout.
         "  connect:\n    interval: 1s\n    timeout: 2s\n    max_connectors: 3\n    max_trace_length: 40\n"
         "    clusters:\n      - {name: main, url: '" +
         connect_url + "', username: monitor, password_file: '" + connect_password_file +
         "', timeout: 1500ms}\n" + mirror;
}

// MirrorMaker 2's record layouts (collectors/mirror/records.h), for records a
// test writes itself.
std::string Str(const std::string& v) { return std::string{char(v.size() >> 8), char(v.size() & 0xff)} + v; }
std::string Be(uint64_t v, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// What a sanitizer prints when it finds an error (the daemon's stderr is its log).
bool SanitizerReported(const std::string& log) {
  for (const char* m : {"AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"})
    if (log.find(m) != std::string::npos) return true;
  return false;
}

std::string Tail(const std::string& s, size_t n = 6000) { return s.size() > n ? s.substr(s.size() - n) : s; }

// Stops the daemon with SIGTERM and checks it exited cleanly and reported nothing.
void StopClean(Daemon& d) {
  d.Signal(SIGTERM);
  int code = d.Wait(20s);
  const std::string log = d.Log();
  INFO(Tail(log));
  CHECK(code == 0);
  CHECK_FALSE(SanitizerReported(log));
}

}  // namespace

TEST_CASE("every optional metric family and every granularity run clean against a real broker",
          "[kafka][asan-families]") {
  const bool classic_groups = KafkaCluster::DefaultVersion().rfind("3.", 0) == 0;
  std::set<std::string> documented = DocumentedMetrics();
  REQUIRE(documented.size() > 50);
  // Share groups need Kafka 4.1 with share.version=1; "[groups4]"
  // (test_group_kinds.cpp) exercises that family against a live 4.1.1 broker.
  REQUIRE(documented.erase("kafka_sharegroup_info") == 1);
  // Served only while a broker is down: the carried-answer paths run under
  // ASan in the unit stage of .ci/run (test_collectors_fake.cpp, "[fake][carry]").
  REQUIRE(documented.erase("kafka_topic_partition_watermarks_stale_seconds") == 1);
  REQUIRE(documented.erase("kafka_consumergroup_stale_partitions") == 1);

  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 3, 1, {"min.insync.replicas=1"});
  kafka->CreateTopic("agent-events", 2, 1);
  kafka->CreateTopic("dlq-agent-events", 1, 1);
  kafka->CreateTopic("incident-events", 3, 1);
  // "auditors": no member, committed below the log start (data loss), STOP
  // once its window is full: expired messages and partition statuses.
  REQUIRE(ProduceMessages(kafka->bootstrap(), "audit-logs", 600, 0, 0) == 600);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "audit-logs", "auditors", 100) == 100);
  DeleteRecordsBefore(kafka->bootstrap(), "audit-logs", 0, 200);
  FakeRegistry registry;
  REQUIRE(registry.running());
  registry.SetSubject("audit-logs-value", 2);
  FakeRegistry::Options connect_options;
  connect_options.username = "monitor";
  connect_options.password = "asan-connect-password";
  FakeRegistry connect(connect_options);
  REQUIRE(connect.running());
  ServeConnect(connect, FailingConnectCluster());
  const std::string connect_password = Write("connect-password", "asan-connect-password\n");
  HookServer alertmanager;
  const Alerting alerting{alertmanager.url(), Write("am-token", "asan-am-token\n")};
  kafka->CreateTopic("mm2-syncs", 1, 1);
  kafka->CreateTopic("mm2-checkpoints", 1, 1);
  REQUIRE(ProduceRecords(kafka->bootstrap(), "mm2-syncs",
                         {{Str("audit-logs") + Be(0, 4), Be(500, 8) + Be(500, 8)},
                          {Str("audit-logs") + Be(0, 4), "not a sync"}}) == 2);
  REQUIRE(ProduceRecords(kafka->bootstrap(), "mm2-checkpoints",
                         {{Str("auditors") + Str("audit-logs") + Be(0, 4),
                           Be(0, 2) + Be(100, 8) + Be(100, 8) + Str("")}}) == 1);
  const std::string data_dir = kafka->DataDir();
  REQUIRE_FALSE(data_dir.empty());
  const std::string topics = Write(
      "topics.yaml", "defaults: {partitions: 3, replication_factor: 1}\ntopics:\n  - name: audit-logs\n");

  SteadyProducer producer(kafka->bootstrap(), "audit-logs", 30, 0);
  SteadyProducer events(kafka->bootstrap(), "agent-events", 20);
  SteadyProducer dead_letters(kafka->bootstrap(), "dlq-agent-events", 5);
  // "agents": a live member (classic protocol: Kafka 3.x), so the
  // kafka-lag-exporter labels carry a real member id.
  std::unique_ptr<GroupMember> member;
  if (classic_groups)
    member = std::make_unique<GroupMember>(kafka->bootstrap(), "agent-events", "agents",
                                           GroupMember::Mode::kConsume);

  {
    // granularity partition: every documented family.
    const std::string cfg =
        Write("partition.yaml", Config("partition", topics, data_dir, kafka->dir(), registry.url(),
                                       connect.url(), connect_password, alerting, kafka->bootstrap()));
    Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
    REQUIRE(d.WaitHealthy());
    std::set<std::string> missing;
    std::string text;
    std::vector<Sample> s;
    // Bounded: 120 scrapes, 500 ms apart.
    for (int i = 0; i < 120; ++i) {
      text = d.Metrics();
      s = ParseExposition(text);
      missing.clear();
      const std::set<std::string> exported = ExportedFamilies(text);
      for (const auto& m : documented)
        if (!exported.count(m)) missing.insert(m);
      bool member_seen = true;
      if (member) {
        const std::string id = member->member_id();
        member_seen =
            !id.empty() &&
            FindAll(s, "kafka_consumergroup_group_lag", {{"group", "agents"}, {"consumer_id", id}}).size() ==
                2;
      }
      if (missing.empty() && member_seen) break;
      std::this_thread::sleep_for(500ms);
    }
    std::string missing_list;
    for (const auto& m : missing) missing_list += m + " ";
    INFO("never exported: " << missing_list);
    INFO(Tail(d.Log()));
    CHECK(missing.empty());
    CHECK(IsValidUtf8(text));
    for (const char* c : {"cluster", "offsets", "consumer_groups", "log_dirs", "broker_process", "probe",
                          "broker_stats", "schema_registry", "connect", "mirror"}) {
      INFO("collector " << c);
      CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", c}}) == 1.0);
    }
    // The connect settings took effect: 4 connectors counted, 3 exported, traces cut at 40.
    CHECK(Find(s, "kafka_connect_up", {{"connect", "main"}}) == 1.0);
    CHECK(Find(s, "kafka_connect_connectors", {{"connect", "main"}}) == 4.0);
    CHECK(FindAll(s, "kafka_connect_connector_info", {{"connect", "main"}}).size() == 3);
    for (const auto& t : FindAll(s, "kafka_connect_task_failure_info"))
      CHECK(t.labels.at("trace").size() <= 40);
    CHECK(text.find("asan-connect-password") == std::string::npos);
    // The alerting settings took effect: the lowered lag rule fires with its
    // extra label, and the recording Alertmanager got it with the token and
    // the external label.
    CHECK(Find(s, "ALERTS",
               {{"alertname", "KafkaConsumerGroupLagHigh"}, {"alertstate", "firing"}, {"team", "seed"}})
              .has_value());
    CHECK(alertmanager.WaitFor(
        [](const std::vector<HookServer::Post>& posts) {
          for (const auto& p : posts)
            if (p.path == "/api/v2/alerts" && p.body.find("KafkaConsumerGroupLagHigh") != std::string::npos &&
                p.body.find("\"cluster\":\"asan\"") != std::string::npos &&
                p.headers.count("authorization") && p.headers.at("authorization") == "Bearer asan-am-token")
              return true;
          return false;
        },
        10s));
    CHECK(text.find("asan-am-token") == std::string::npos);
    // The lag incident reached incident-events (opened, then re-notified).
    CHECK(d.WaitFor(
        [](const auto& x) {
          auto renotified = Find(x, "kafka_exporter_incident_events_spooled_total", {{"type", "renotified"}});
          auto delivered = Find(x, "kafka_exporter_incident_events_delivered_total");
          return renotified && *renotified >= 1 && delivered && *delivered >= 2;
        },
        20s));
    CHECK_FALSE(FindAll(s, "kafka_consumergroup_partition_status",
                        {{"consumergroup", "auditors"}, {"partition", "0"}})
                    .empty());
    if (member) {
      auto lag = FindAll(s, "kafka_consumergroup_group_lag", {{"cluster_name", "seed"}, {"group", "agents"}});
      CHECK(lag.size() == 2);
      for (const auto& l : lag) {
        CHECK(l.labels.at("consumer_id") == member->member_id());
        CHECK(l.labels.at("client_id") == member->client_id());
      }
    }
    StopClean(d);
    unlink(cfg.c_str());
  }

  {
    // granularity mixed (the default): kafka_exporter's per-partition offset
    // and lag; lag in seconds, statuses and data loss per topic.
    const std::string cfg =
        Write("mixed.yaml", Config("mixed", topics, data_dir, kafka->dir(), registry.url(), connect.url(),
                                   connect_password, alerting, kafka->bootstrap()));
    Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
    REQUIRE(d.WaitHealthy());
    std::vector<Sample> s;
    const std::map<std::string, std::string> auditors = {{"consumergroup", "auditors"},
                                                         {"topic", "audit-logs"}};
    // STOP needs a full window (3 runs at 1 s); lag in seconds two history points.
    const bool seen = d.WaitFor(
        [&auditors](const auto& x) {
          auto stop = auditors;
          stop["status"] = "STOP";
          return Find(x, "kafka_consumergroup_partition_status", stop).has_value() &&
                 Find(x, "kafka_consumergroup_expired_messages", auditors).has_value() &&
                 Find(x, "kafka_consumergroup_lag_seconds", auditors).has_value();
        },
        60s, &s);
    INFO(Tail(d.Log()));
    REQUIRE(seen);
    CHECK(IsValidUtf8(d.Metrics()));
    CHECK(Find(s, "kafka_consumergroup_lag_seconds", auditors).value() > 0);
    CHECK(Find(s, "kafka_consumergroup_expired_messages", auditors).value() >= 100);
    for (const char* per_topic : {"kafka_consumergroup_lag_seconds", "kafka_consumergroup_partition_status",
                                  "kafka_consumergroup_expired_messages"}) {
      INFO(per_topic);
      for (const auto& x : FindAll(s, per_topic)) CHECK(x.labels.count("partition") == 0);
    }
    auto p0 = auditors;
    p0["partition"] = "0";
    CHECK(Find(s, "kafka_consumergroup_current_offset", p0) == 100.0);
    CHECK(Find(s, "kafka_consumergroup_lag", p0).value() > 0);
    CHECK(Find(s, "kafka_consumergroup_lag_sum", auditors).value() >=
          Find(s, "kafka_consumergroup_lag", p0).value());
    CHECK(Find(s, "kafka_consumergroup_max_lag_seconds", {{"consumergroup", "auditors"}}).value() >=
          Find(s, "kafka_consumergroup_lag_seconds", auditors).value());
    StopClean(d);
    unlink(cfg.c_str());
  }

  {
    // granularity topic: per-topic sums and statuses, no per-partition group series.
    const std::string cfg =
        Write("topic.yaml", Config("topic", topics, data_dir, kafka->dir(), registry.url(), connect.url(),
                                   connect_password, alerting, kafka->bootstrap()));
    Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
    REQUIRE(d.WaitHealthy());
    std::vector<Sample> s;
    // STOP needs a full window (3 runs at 1 s) after the daemon's first run.
    const bool seen = d.WaitFor(
        [](const auto& x) {
          return Find(x, "kafka_consumergroup_partition_status",
                      {{"consumergroup", "auditors"}, {"topic", "audit-logs"}, {"status", "STOP"}})
                     .has_value() &&
                 Find(x, "kafka_consumergroup_expired_messages",
                      {{"consumergroup", "auditors"}, {"topic", "audit-logs"}})
                     .has_value() &&
                 !FindAll(x, "kafka_probe_messages_received_total").empty() &&
                 !FindAll(x, "kafka_log_dir_partition_size_bytes").empty();
        },
        60s, &s);
    INFO(Tail(d.Log()));
    REQUIRE(seen);
    const std::string text = d.Metrics();
    CHECK(IsValidUtf8(text));
    // Per topic: the count of partitions in STOP (partition 0 holds all the lag).
    CHECK(Find(s, "kafka_consumergroup_partition_status",
               {{"consumergroup", "auditors"}, {"topic", "audit-logs"}, {"status", "STOP"}})
              .value() >= 1.0);
    for (const auto& x : FindAll(s, "kafka_consumergroup_partition_status"))
      CHECK(x.labels.count("partition") == 0);
    CHECK(Find(s, "kafka_consumergroup_lag_sum", {{"consumergroup", "auditors"}, {"topic", "audit-logs"}})
              .value() > 0);
    for (const char* gone : {"kafka_consumergroup_lag", "kafka_consumergroup_current_offset"}) {
      INFO(gone);
      CHECK(FindAll(s, gone).empty());
    }
    for (const auto& x : FindAll(s, "kafka_consumergroup_lag_seconds"))
      CHECK(x.labels.count("partition") == 0);
    CHECK_FALSE(FindAll(s, "kafka_consumergroup_group_topic_sum_lag", {{"cluster_name", "seed"}}).empty());
    // Avro: the schema was registered under <topic>-<record name> and events were delivered.
    CHECK(d.WaitFor(
        [](const auto& x) {
          auto delivered = Find(x, "kafka_exporter_incident_events_delivered_total");
          return delivered && *delivered >= 1;
        },
        20s));
    bool registered = false;
    for (const auto& r : registry.Registered())
      registered = registered || r.first == "incident-events-dora.kafka.exporter.IncidentEvent";
    CHECK(registered);
    StopClean(d);
    unlink(cfg.c_str());
  }
  {
    // sharding: shard 2 of 3, which both groups hash to (FNV-1a-32 mod 3:
    // "auditors" and "agents" give 2). A shard other than 0 exports its
    // groups' series and none of the cluster-wide ones; its cluster collector
    // runs quietly and still feeds the retention ratio.
    const std::string cfg =
        Write("shard.yaml", Config("partition", topics, data_dir, kafka->dir(), registry.url(), connect.url(),
                                   connect_password, alerting, kafka->bootstrap()) +
                                "sharding: {count: 3, index: 2}\n");
    Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
    REQUIRE(d.WaitHealthy());
    std::vector<Sample> s;
    const bool seen = d.WaitFor(
        [](const auto& x) {
          return Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0 &&
                 Find(x, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1.0 &&
                 Find(x, "kafka_consumergroup_lag_retention_ratio",
                      {{"consumergroup", "auditors"}, {"topic", "audit-logs"}})
                     .has_value() &&
                 !FindAll(x, "kafka_consumergroup_lag", {{"consumergroup", "agents"}}).empty() &&
                 !FindAll(x, "kafka_log_dir_partition_size_bytes").empty();
        },
        60s, &s);
    INFO(Tail(d.Log()));
    REQUIRE(seen);
    CHECK(Find(s, "kafka_exporter_shard_info", {{"index", "2"}, {"count", "3"}}) == 1.0);
    for (const char* off : {"offsets", "probe", "broker_stats", "schema_registry", "connect", "mirror"}) {
      INFO(off);
      CHECK_FALSE(Find(s, "kafka_exporter_collector_success", {{"collector", off}}).has_value());
    }
    for (const char* gone :
         {"kafka_brokers", "kafka_topic_partitions", "kafka_topic_partition_current_offset",
          "kafka_partition_latest_offset", "kafka_probe_messages_received_total", "kafka_schema_registry_up",
          "kafka_connect_up"}) {
      INFO(gone);
      CHECK(FindAll(s, gone).empty());
    }
    StopClean(d);
    unlink(cfg.c_str());
  }
  unlink(topics.c_str());
  unlink(connect_password.c_str());
  unlink(alerting.token_file.c_str());
  for (const char* g : {"partition", "topic"}) {
    const std::string spool = "rm -rf /tmp/dora-families-" + std::to_string(getpid()) + "-spool-" + g;
    CHECK(std::system(spool.c_str()) == 0);
  }
}
