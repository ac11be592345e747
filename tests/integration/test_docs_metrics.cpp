// docs/metrics.md cannot drift: the live daemon, with every collector enabled
// against a real broker (and a registry speaking the Confluent API), must
// export exactly the metric families the document lists.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/daemon.h"
#include "support/fake_connect.h"
#include "support/fake_registry.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

TEST_CASE("docs/metrics.md lists exactly the metrics the daemon exports", "[kafka][docs]") {
  std::set<std::string> documented = DocumentedMetrics();
  REQUIRE(documented.size() > 50);
  const std::set<std::string> all_documented = documented;  // what rules and dashboards may query
  // Share groups exist on Kafka 4.1 only (share.version=1): this 3.9 broker
  // cannot have one. test_group_kinds.cpp ("[groups4]") checks the family
  // against a live 4.1.1 broker; it must still be documented.
  REQUIRE(documented.erase("kafka_sharegroup_info") == 1);
  // Served only while a broker is down (carried answers): checked by the
  // broker-outage test in test_consumer_lag.cpp ("[outage]") and, without a
  // broker, by test_collectors_fake.cpp ("[fake][carry]").
  REQUIRE(documented.erase("kafka_topic_partition_watermarks_stale_seconds") == 1);
  REQUIRE(documented.erase("kafka_consumergroup_stale_partitions") == 1);
  // Served only while the daemon evaluates alerts and pushes them to an
  // Alertmanager: checked by tests/unit/test_catalogue.cpp (render) and
  // tests/integration/test_alertmanager.cpp (values, "[alertmanager]").
  for (const char* name :
       {"kafka_exporter_alerts", "kafka_exporter_notifications_sent_total",
        "kafka_exporter_notifications_failed_total", "kafka_exporter_notifications_dropped_total",
        "kafka_exporter_notifications_queue_length", "kafka_exporter_notifications_latency_seconds"})
    REQUIRE(documented.erase(name) == 1);
  // Served only while the MirrorMaker 2 watch runs, which needs a second
  // cluster or MM2's records: checked against a real MM2 by
  // tests/integration/test_mirror.cpp ("[mirror]") and, family by family,
  // by "[asan-families]" (one cluster as both ends of a flow).
  size_t mirror = 0;
  for (auto it = documented.begin(); it != documented.end();) {
    if (it->rfind("kafka_mirror_", 0) == 0) {
      it = documented.erase(it);
      ++mirror;
    } else {
      ++it;
    }
  }
  REQUIRE(mirror >= 10);

  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 3, 1, {"min.insync.replicas=1"});
  kafka->CreateTopic("dlq-agent-events", 1, 1);
  kafka->CreateTopic("incident-events", 1, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "audit-logs", 600, 0, 0) == 600);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "audit-logs", "auditors", 100) == 100);
  DeleteRecordsBefore(kafka->bootstrap(), "audit-logs", 0, 200);  // data loss for "auditors"
  FakeRegistry registry;
  REQUIRE(registry.running());
  registry.SetSubject("audit-logs-value", 2);
  // A Connect cluster with a FAILED connector and a FAILED task, so every
  // connect family (the failure infos too) is exported.
  FakeRegistry connect;
  REQUIRE(connect.running());
  ServeConnect(connect, FailingConnectCluster());
  std::string data_dir = kafka->DataDir();
  REQUIRE_FALSE(data_dir.empty());

  std::string topics = "/tmp/dora-docs-" + std::to_string(getpid()) + "-topics.yaml";
  std::ofstream(topics)
      << "defaults: {partitions: 3, replication_factor: 1}\ntopics:\n  - name: audit-logs\n";
  std::string cfg = "/tmp/dora-docs-" + std::to_string(getpid()) + ".yaml";
  // Incident events on: their families exist from the start (docs/incident-events.md).
  const std::string spool = "/tmp/dora-docs-" + std::to_string(getpid()) + "-spool";
  std::ofstream(cfg) << "incidents: {enabled: true, spool: {directory: " << spool
                     << "}}\n"
                        "collectors:\n"
                        "  cluster: {interval: 1s, expected_brokers: 1, expected_topics_file: "
                     << topics
                     << "}\n"
                        "  offsets: {interval: 1s, rate_window: 5s}\n"
                        "  consumer_groups: {interval: 1s, status_window: 3, lag_exporter_metrics: true, "
                        "offsets_source: offsets_topic}\n"
                        "  log_dirs: {enabled: true, interval: 1s, broker_id: '1', paths: ['"
                     << data_dir
                     << "']}\n"
                        "  broker_process: {enabled: true, interval: 1s, broker_id: '1', pid_file: '"
                     << kafka->dir()
                     << "/node-1/pid'}\n"
                        "  probe: {enabled: true, interval: 500ms}\n"
                        "  broker_stats: {interval: 1s}\n"
                        "  schema_registry:\n    interval: 1s\n    registries:\n      - {name: main, url: '"
                     << registry.url()
                     << "'}\n"
                        "  connect:\n    interval: 1s\n    clusters:\n      - {name: main, url: '"
                     << connect.url() << "'}\n";
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  SteadyProducer producer(kafka->bootstrap(), "audit-logs", 30, 0);
  SteadyProducer dead_letters(kafka->bootstrap(), "dlq-agent-events", 5);

  std::set<std::string> exported, missing;
  std::string text;
  for (int i = 0; i < 120; ++i) {
    text = d.Metrics();
    exported = ExportedFamilies(text);
    missing.clear();
    for (const auto& m : documented)
      if (!exported.count(m)) missing.insert(m);
    if (missing.empty()) break;
    std::this_thread::sleep_for(500ms);
  }
  std::string missing_list, undocumented_list;
  for (const auto& m : missing) missing_list += m + " ";
  for (const auto& m : exported)
    if (!documented.count(m)) undocumented_list += m + " ";
  INFO("documented but never exported: " << missing_list);
  INFO("exported but not documented: " << undocumented_list);
  CHECK(missing.empty());
  CHECK(undocumented_list.empty());

  // No dead panels or rules: every metric the shipped rules and dashboards
  // query is one the live daemon exports (recording rules, with a colon, aside).
  std::string dead;
  std::regex name(R"(\bkafka_[a-z0-9_]+\b(?!:))");
  for (const char* dir : {"rules", "dashboards"}) {
    std::string cmd = std::string("cat ") + DORA_SOURCE_DIR + "/" + dir + "/*";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string all;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) all.append(buf, n);
    pclose(p);
    for (auto it = std::sregex_iterator(all.begin(), all.end(), name); it != std::sregex_iterator(); ++it) {
      std::string m = (*it)[0];
      // Exported here, or documented and checked by the tests named above.
      auto known = [&](const std::string& x) {
        return exported.count(x) != 0 || all_documented.count(x) != 0;
      };
      for (const char* suffix : {"_bucket", "_count", "_sum"}) {
        std::string sfx = suffix;
        if (!known(m) && m.size() > sfx.size() && m.compare(m.size() - sfx.size(), sfx.size(), sfx) == 0)
          m = m.substr(0, m.size() - sfx.size());
      }
      if (!known(m) && dead.find(m + " ") == std::string::npos) dead += m + " ";
    }
  }
  INFO("queried by rules/dashboards but not exported: " << dead);
  CHECK(dead.empty());
  unlink(cfg.c_str());
  unlink(topics.c_str());
  CHECK(std::system(("rm -rf " + spool).c_str()) == 0);
}
