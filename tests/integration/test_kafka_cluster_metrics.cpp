// The real binary against a real KRaft broker: cluster metadata, offsets and
// consumer-group metrics on the seed's topic layout.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Config(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-it-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

const char* kFastConfig =
    "collectors:\n"
    "  cluster: {interval: 1s, timeout: 5s, config_refresh_interval: 2s}\n"
    "  offsets: {interval: 1s, timeout: 5s, rate_window: 10s}\n"
    "  consumer_groups: {interval: 1s, timeout: 8s, status_window: 4}\n"
    "retry: {initial_backoff: 200ms, max_backoff: 2s}\n";

double Sum(const std::vector<Sample>& s, const std::string& name,
           const std::map<std::string, std::string>& l = {}) {
  double t = 0;
  for (const auto& x : FindAll(s, name, l)) t += x.value;
  return t;
}

}  // namespace

TEST_CASE("seed topics: watermarks and group lag on a 1-node cluster", "[kafka][smoke]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->SeedTopics();
  kafka->Produce("audit-logs", 1200);
  kafka->Ctl({"consume", "--topic", "audit-logs", "--group", "auditors", "--max-messages", "500"});

  auto once = RunExporter({"--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  INFO(once.err);
  REQUIRE(once.exit_code == 0);
  auto s = ParseExposition(once.out);
  CHECK(Find(s, "kafka_brokers") == 1.0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1.0);
  for (const char* topic : {"agent-events", "task-requests", "task-responses", "compliance-reports",
                            "audit-logs", "incident-events", "risk-assessments", "policy-updates",
                            "monitoring-metrics", "policy-analysis", "gap-assessments", "risk-calculations",
                            "user-activities", "data-access", "dlq-agent-events", "dlq-task-requests"}) {
    INFO(topic);
    CHECK(Find(s, "kafka_topic_partitions", {{"topic", topic}}) == 12.0);
    CHECK(FindAll(s, "kafka_topic_partition_leader", {{"topic", topic}}).size() == 12);
  }
  CHECK(Find(s, "kafka_topic_partition_leader", {{"topic", "audit-logs"}, {"partition", "5"}}) == 1.0);
  CHECK(Find(s, "kafka_topic_partition_in_sync_replica", {{"topic", "audit-logs"}, {"partition", "5"}}) ==
        1.0);
  CHECK(Find(s, "kafka_cluster_under_replicated_partitions") == 0.0);
  CHECK(Find(s, "kafka_cluster_offline_partitions") == 0.0);
  // Watermarks equal exactly what was produced.
  CHECK(Sum(s, "kafka_topic_partition_current_offset", {{"topic", "audit-logs"}}) == 1200.0);
  CHECK(Sum(s, "kafka_topic_partition_oldest_offset", {{"topic", "audit-logs"}}) == 0.0);
  // Lag: produced 1200, consumed (and committed) 500.
  CHECK(Find(s, "kafka_consumergroup_current_offset_sum",
             {{"consumergroup", "auditors"}, {"topic", "audit-logs"}}) == 500.0);
  CHECK(Find(s, "kafka_consumergroup_lag_sum", {{"consumergroup", "auditors"}, {"topic", "audit-logs"}}) ==
        700.0);
  for (const auto& lag : FindAll(s, "kafka_consumergroup_lag")) CHECK(lag.value >= 0);
  CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", "auditors"}}) == 0.0);
  CHECK(Find(s, "kafka_consumergroup_info", {{"consumergroup", "auditors"}, {"state", "Empty"}}) == 1.0);

  // promtool accepts the exposition; its only findings are kafka_exporter's two
  // compatibility names ending in _sum, kept on purpose (docs/compatibility.md).
  std::string path = "/tmp/dora-it-" + std::to_string(getpid()) + "-once.prom";
  std::ofstream(path) << once.out;
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string lint;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) lint += buf;
  pclose(p);
  std::istringstream lines(lint);
  std::string line;
  int findings = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++findings;
    INFO(line);
    CHECK((line.rfind("kafka_consumergroup_current_offset_sum non-histogram", 0) == 0 ||
           line.rfind("kafka_consumergroup_lag_sum non-histogram", 0) == 0));
  }
  CHECK(findings == 2);
  unlink(path.c_str());
}

TEST_CASE("deleted topics and groups vanish and recreated topics start clean", "[kafka]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("doomed", 3, 1);
  kafka->Produce("doomed", 300);
  kafka->Ctl({"consume", "--topic", "doomed", "--group", "doomed-readers", "--max-messages", "100"});
  std::string cfg = Config("lifecycle", kFastConfig);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_topic_partitions", {{"topic", "doomed"}}) == 3.0 &&
               Find(x, "kafka_consumergroup_lag_sum",
                    {{"consumergroup", "doomed-readers"}, {"topic", "doomed"}}) == 200.0;
      },
      60s, &s));
  kafka->Groups({"--delete", "--group", "doomed-readers"});
  kafka->DeleteTopic("doomed");
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        for (const auto& smp : x) {
          auto t = smp.labels.find("topic");
          auto g = smp.labels.find("consumergroup");
          if ((t != smp.labels.end() && t->second == "doomed") ||
              (g != smp.labels.end() && g->second == "doomed-readers"))
            return false;
        }
        return Find(x, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1.0;
      },
      60s, &s));
  // Recreated under the same name: offsets from zero, no rate carried over.
  kafka->CreateTopic("doomed", 2, 1);
  kafka->Produce("doomed", 10);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_topic_partitions", {{"topic", "doomed"}}) == 2.0 &&
               Sum(x, "kafka_topic_partition_current_offset", {{"topic", "doomed"}}) == 10.0;
      },
      60s, &s));
  CHECK(FindAll(s, "kafka_topic_partition_current_offset", {{"topic", "doomed"}}).size() == 2);
  for (const auto& r : FindAll(s, "kafka_topic_partition_messages_in_per_second", {{"topic", "doomed"}}))
    CHECK(r.value >= 0);
  unlink(cfg.c_str());
}

TEST_CASE("stopping brokers changes leader/ISR/min-ISR metrics and restarting restores them",
          "[kafka][cluster3]") {
  auto kafka = KafkaCluster::Start(3);
  kafka->CreateTopic("compliance-reports", 12, 3, {"min.insync.replicas=2"});
  kafka->CreateTopic("single-replica", 3, 1);
  std::string cfg = Config("stop1", kFastConfig);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_brokers") == 3.0 &&
               Find(x, "kafka_topic_under_replicated_partitions", {{"topic", "compliance-reports"}}) == 0.0 &&
               Find(x, "kafka_topic_at_min_isr_partitions", {{"topic", "compliance-reports"}}) == 0.0;
      },
      60s, &s));
  kafka->StopNode(2);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_brokers") == 2.0 &&
               Find(x, "kafka_topic_under_replicated_partitions", {{"topic", "compliance-reports"}}) == 12.0;
      },
      90s, &s));
  // No partition is led by the stopped broker; every ISR lost exactly one replica.
  for (const auto& l : FindAll(s, "kafka_topic_partition_leader", {{"topic", "compliance-reports"}})) {
    CHECK(l.value != 2.0);
    CHECK(l.value >= 1.0);
  }
  for (const auto& isr :
       FindAll(s, "kafka_topic_partition_in_sync_replica", {{"topic", "compliance-reports"}}))
    CHECK(isr.value == 2.0);
  // ISR 2 == min.insync.replicas 2: every partition at min ISR, none under.
  CHECK(Find(s, "kafka_topic_at_min_isr_partitions", {{"topic", "compliance-reports"}}) == 12.0);
  CHECK(Find(s, "kafka_topic_under_min_isr_partitions", {{"topic", "compliance-reports"}}) == 0.0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1.0);
  // The single-replica partition that lived on broker 2 has no leader now.
  CHECK(Find(s, "kafka_topic_offline_partitions", {{"topic", "single-replica"}}) == 1.0);
  CHECK(Find(s, "kafka_cluster_offline_partitions") == 1.0);
  int offline = 0;
  for (const auto& o : FindAll(s, "kafka_topic_partition_offline", {{"topic", "single-replica"}})) {
    if (o.value == 1.0) {
      ++offline;
      CHECK(Find(s, "kafka_topic_partition_leader",
                 {{"topic", "single-replica"}, {"partition", o.labels.at("partition")}}) == -1.0);
    }
  }
  CHECK(offline == 1);

  // A second broker down: under min ISR (acks=all producers would fail).
  kafka->StopNode(3);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_topic_under_min_isr_partitions", {{"topic", "compliance-reports"}}) == 12.0;
      },
      90s, &s));
  kafka->StartNode(3);
  kafka->StartNode(2);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_brokers") == 3.0 &&
               Find(x, "kafka_topic_under_replicated_partitions", {{"topic", "compliance-reports"}}) == 0.0 &&
               Find(x, "kafka_topic_under_min_isr_partitions", {{"topic", "compliance-reports"}}) == 0.0;
      },
      120s, &s));
  CHECK(Sum(s, "kafka_cluster_isr_shrinks_total") >= 24.0);
  CHECK(Sum(s, "kafka_cluster_isr_expands_total") >= 24.0);
  unlink(cfg.c_str());
}

TEST_CASE("topic conformance drift for a wrong partition count and a missing topic", "[kafka]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 12, 1, {"min.insync.replicas=1"});
  kafka->CreateTopic("agent-events", 6, 1, {"min.insync.replicas=1"});
  kafka->CreateTopic("dlq-agent-events", 3, 1, {"min.insync.replicas=1"});
  std::string topics =
      Config("topics",
             "defaults: {partitions: 12, replication_factor: 1, min_insync_replicas: 1}\n"
             "topics:\n  - name: audit-logs\n  - name: agent-events\n  - name: incident-events\n"
             "  - name: data-access\n    retention_ms: 86400000\n  - pattern: \"dlq-.*\"\n");
  std::string cfg = Config("conformance", "collectors:\n  cluster: {expected_topics_file: " + topics + "}\n");
  auto once = RunExporter({"--config", cfg, "--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  INFO(once.err);
  REQUIRE(once.exit_code == 0);
  auto s = ParseExposition(once.out);
  auto drift = [&](const char* topic, const char* check) {
    return Find(s, "kafka_topic_conformance_drift", {{"topic", topic}, {"check", check}});
  };
  CHECK(drift("audit-logs", "missing") == 0.0);
  CHECK(drift("audit-logs", "partitions") == 0.0);
  CHECK(drift("audit-logs", "replication_factor") == 0.0);
  CHECK(drift("audit-logs", "min_insync_replicas") == 0.0);
  CHECK(drift("agent-events", "partitions") == 1.0);
  CHECK(drift("incident-events", "missing") == 1.0);
  CHECK(FindAll(s, "kafka_topic_conformance_drift", {{"topic", "incident-events"}}).size() == 1);
  CHECK(drift("data-access", "missing") == 1.0);
  CHECK(drift("dlq-agent-events", "partitions") == 1.0);     // pattern entry, checked because it exists
  CHECK_FALSE(drift("dlq-agent-events", "missing") == 1.0);  // patterns are never "missing"
  // A bad topics file is a config error at start.
  std::string bad = Config("topics-bad", "topics:\n  - name: x\n    partitons: 3\n");
  std::string badcfg =
      Config("conformance-bad", "collectors:\n  cluster: {expected_topics_file: " + bad + "}\n");
  auto r = RunExporter({"--config", badcfg, "--check-config"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(bad + ":3:5: topics[0].partitons: unknown key") != std::string::npos);
  for (const auto& f : {topics, cfg, bad, badcfg}) unlink(f.c_str());
}

TEST_CASE("throughput: messages in per second within 2% of a steady producer over 60 s", "[kafka][slow]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("monitoring-metrics", 12, 1);
  kafka->CreateTopic("dlq-task-requests", 3, 1);
  std::string cfg = Config("rate",
                           "collectors:\n  offsets: {interval: 5s, rate_window: 60s}\n"
                           "  cluster: {interval: 5s}\n  consumer_groups: {enabled: false}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  const double rate = 400;
  SteadyProducer producer(kafka->bootstrap(), "monitoring-metrics", rate);
  SteadyProducer dead_letters(kafka->bootstrap(), "dlq-task-requests", 5);
  // Let the 60 s window fill with production only (plus one interval of slack).
  std::this_thread::sleep_for(70s);
  auto s = d.Samples();
  auto measured = Find(s, "kafka_topic_messages_in_per_second", {{"topic", "monitoring-metrics"}});
  REQUIRE(measured.has_value());
  INFO("measured " << *measured << " msg/s, producer acked " << producer.acked());
  CHECK(*measured == Approx(rate).epsilon(0.02));
  CHECK(Sum(s, "kafka_topic_partition_messages_in_per_second", {{"topic", "monitoring-metrics"}}) ==
        Approx(*measured).epsilon(1e-9));
  auto dlq = Find(s, "kafka_topic_dlq_messages_in_per_second", {{"topic", "dlq-task-requests"}});
  REQUIRE(dlq.has_value());
  CHECK(*dlq == Approx(5).epsilon(0.1));
  CHECK(FindAll(s, "kafka_topic_dlq_messages_in_per_second", {{"topic", "monitoring-metrics"}}).empty());
  CHECK(Find(s, "kafka_cluster_messages_in_per_second").value_or(0) == Approx(rate + 5).epsilon(0.02));
  unlink(cfg.c_str());
}

TEST_CASE("throughput: the cluster rate counts the platform's messages, not offset commits", "[kafka]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("monitoring-metrics", 12, 1);
  std::string cfg = Config("internal-rate",
                           "collectors:\n  offsets: {interval: 2s, rate_window: 20s}\n"
                           "  cluster: {interval: 5s}\n  consumer_groups: {enabled: false}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  const double rate = 100;
  SteadyProducer producer(kafka->bootstrap(), "monitoring-metrics", rate);
  // Three groups committing all 12 partitions every 500 ms: ~70 records/s
  // into __consumer_offsets, of the same order as the platform's own writes.
  std::vector<std::unique_ptr<GroupMember>> members;
  for (const char* g : {"readers-a", "readers-b", "readers-c"})
    members.push_back(std::make_unique<GroupMember>(kafka->bootstrap(), "monitoring-metrics", g,
                                                    GroupMember::Mode::kConsume));
  std::this_thread::sleep_for(32s);
  auto s = d.Samples();
  auto topic = Find(s, "kafka_topic_messages_in_per_second", {{"topic", "monitoring-metrics"}});
  auto offsets = Find(s, "kafka_topic_messages_in_per_second", {{"topic", "__consumer_offsets"}});
  auto cluster = Find(s, "kafka_cluster_messages_in_per_second");
  REQUIRE(topic.has_value());
  REQUIRE(offsets.has_value());
  REQUIRE(cluster.has_value());
  INFO("monitoring-metrics " << *topic << " msg/s, __consumer_offsets " << *offsets << ", cluster "
                             << *cluster);
  CHECK(*topic == Approx(rate).epsilon(0.05));
  CHECK(*offsets > 10);                             // the commits are really there...
  CHECK(*cluster == Approx(*topic).epsilon(1e-9));  // ...and not in the platform's write rate
  auto internal = Find(s, "kafka_cluster_internal_messages_in_per_second");
  REQUIRE(internal.has_value());
  WARN("monitoring-metrics " << *topic << " msg/s, __consumer_offsets " << *offsets << ", cluster "
                             << *cluster << ", internal " << *internal);
  CHECK(*internal == Approx(*offsets).epsilon(1e-9));
  unlink(cfg.c_str());
}
