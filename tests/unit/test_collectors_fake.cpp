// The Kafka collectors run end to end on FakeKafka (no broker): a broker
// outage seen through the KafkaApi boundary, and the golden exposition of a
// fixed cluster (tests/fixtures/golden.prom; UPDATE_GOLDEN=1 rewrites it).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "collectors/cluster.h"
#include "collectors/consumer_groups.h"
#include "collectors/offsets.h"
#include "support/fake_kafka.h"
#include "support/metrics_text.h"

using namespace dora;
using namespace std::chrono_literals;
using dora::test::FakeKafka;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;

namespace {

struct Run {
  Status status;
  std::string text;
};

Run Collect(Collector& c, Millis timeout = 2s) {
  CollectContext ctx;
  ctx.deadline = std::chrono::steady_clock::now() + timeout;
  ctx.wall_now = std::chrono::system_clock::now();
  MetricsBuilder out;
  Run r;
  r.status = c.Collect(ctx, out);
  r.text = out.Render();
  return r;
}

GroupDescription Group(const std::string& name, int32_t coordinator, const std::string& state = "Empty") {
  GroupDescription g;
  g.name = name;
  g.state = state;
  g.protocol_type = "consumer";
  g.coordinator = coordinator;
  return g;
}

// Three brokers; "ledger-events" with one partition led by each.
std::shared_ptr<FakeKafka> ThreeBrokers() {
  auto kafka = std::make_shared<FakeKafka>();
  for (int32_t b = 1; b <= 3; ++b) kafka->AddBroker(b, "broker-" + std::to_string(b), 9092);
  kafka->AddTopic("ledger-events", {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}});
  return kafka;
}

}  // namespace

TEST_CASE("through the API: a broker outage carries what it served, marked, for carry_for only",
          "[collectors][fake][carry]") {
  auto kafka = ThreeBrokers();
  for (int32_t p = 0; p < 3; ++p) kafka->SetOffsets("ledger-events", p, 0, 1000);
  kafka->SetGroup(Group("settlement", 3),
                  {{{"ledger-events", 0}, 200}, {{"ledger-events", 1}, 200}, {{"ledger-events", 2}, 200}});
  auto state = std::make_shared<ClusterState>();
  auto watermarks = std::make_shared<WatermarkService>(kafka, state, 250, 800ms);
  ConsumerGroupsCollectorConfig gc;
  gc.carry_for = 800ms;
  ConsumerGroupsCollector groups(gc, 60s, kafka, watermarks, nullptr);
  OffsetsCollectorConfig oc;
  OffsetsCollector offsets(oc, watermarks);
  const std::map<std::string, std::string> settlement = {{"consumergroup", "settlement"}};
  auto lag = [](const std::vector<dora::test::Sample>& s, int p) {
    return Find(
        s, "kafka_consumergroup_lag",
        {{"consumergroup", "settlement"}, {"topic", "ledger-events"}, {"partition", std::to_string(p)}});
  };

  auto r = Collect(groups);
  REQUIRE(r.status.ok);
  auto s = ParseExposition(r.text);
  for (int p = 0; p < 3; ++p) CHECK(lag(s, p) == 800.0);
  CHECK(FindAll(s, "kafka_consumergroup_stale_partitions").empty());

  // Broker 3 (the coordinator, leader of partition 2) stops; writes go on
  // to the other partitions.
  kafka->SetBrokerDown(3, true);
  kafka->SetOffsets("ledger-events", 0, 0, 1100);
  kafka->SetOffsets("ledger-events", 1, 0, 1100);
  r = Collect(groups);
  INFO(r.status.message);
  CHECK_FALSE(r.status.ok);
  CHECK(r.status.partial);  // published, with success 0
  // The real cause is kept: the listing timed out on the stopped broker.
  CHECK(r.status.reason == Reason::kTimeout);
  s = ParseExposition(r.text);
  CHECK(lag(s, 0) == 900.0);  // fresh watermark minus the last known commit
  CHECK(lag(s, 1) == 900.0);
  CHECK(lag(s, 2) == 800.0);  // carried watermark too
  CHECK(Find(s, "kafka_consumergroup_stale_partitions", settlement) == 3.0);
  CHECK(Find(s, "kafka_consumergroup_lag_sum",
             {{"consumergroup", "settlement"}, {"topic", "ledger-events"}}) == 2600.0);
  auto o = Collect(offsets);
  auto os = ParseExposition(o.text);
  auto stale = FindAll(os, "kafka_topic_partition_watermarks_stale_seconds");
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].labels.at("partition") == "2");
  CHECK(stale[0].value >= 0.0);
  CHECK(stale[0].value < 5.0);
  CHECK(Find(os, "kafka_topic_partition_current_offset", {{"topic", "ledger-events"}, {"partition", "2"}}) ==
        1000.0);

  // Past carry_for the carried series go: no lag from an answer that old.
  std::this_thread::sleep_for(900ms);
  r = Collect(groups);
  s = ParseExposition(r.text);
  CHECK(FindAll(s, "kafka_consumergroup_lag", settlement).empty());
  CHECK(FindAll(s, "kafka_consumergroup_stale_partitions").empty());
  os = ParseExposition(Collect(offsets).text);
  CHECK(FindAll(os, "kafka_topic_partition_current_offset", {{"partition", "2"}}).empty());
  CHECK(FindAll(os, "kafka_topic_partition_watermarks_stale_seconds").empty());

  // Back: everything fresh.
  kafka->SetBrokerDown(3, false);
  r = Collect(groups);
  CHECK(r.status.ok);
  s = ParseExposition(r.text);
  for (int p = 0; p < 2; ++p) CHECK(lag(s, p) == 900.0);
  CHECK(lag(s, 2) == 800.0);
  CHECK(FindAll(s, "kafka_consumergroup_stale_partitions").empty());
}

namespace {

// A fixed cluster with every kind of partition health and group the
// collectors tell apart.
std::shared_ptr<FakeKafka> GoldenCluster() {
  auto kafka = std::make_shared<FakeKafka>();
  for (int32_t b = 1; b <= 3; ++b) kafka->AddBroker(b, "broker-" + std::to_string(b), 9092);
  kafka->AddTopic(
      "agent-events", {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}},
      {{"min.insync.replicas", "2"}, {"retention.ms", "604800000"}, {"cleanup.policy", "delete"}});
  kafka->AddTopic("audit-logs", {{1, 2, 3}, {2, 3, 1}},
                  {{"min.insync.replicas", "2"}, {"retention.ms", "-1"}, {"cleanup.policy", "compact"}});
  kafka->AddTopic("dlq-agent-events", {{3, 1, 2}}, {{"min.insync.replicas", "2"}});
  kafka->SetIsr("agent-events", 1, {2, 3});     // under-replicated, at min ISR
  kafka->SetIsr("audit-logs", 1, {2});          // under min ISR
  kafka->SetLeader("audit-logs", 1, 1);         // not the preferred leader
  kafka->SetLeader("dlq-agent-events", 0, -1);  // offline
  kafka->SetOffsets("agent-events", 0, 0, 15000);
  kafka->SetOffsets("agent-events", 1, 100, 2000);
  kafka->SetOffsets("agent-events", 2, 0, 0);
  kafka->SetOffsets("audit-logs", 0, 400, 1000);
  kafka->SetOffsets("audit-logs", 1, 0, 50);
  GroupDescription agents = Group("agent-workers", 2, "Stable");
  agents.protocol = "range";
  GroupMember m;
  m.member_id = "consumer-agent-workers-1-5f0c";
  m.client_id = "agent-worker";
  m.client_host = "/10.0.0.7";
  m.assignment = {{"agent-events", 0}, {"agent-events", 1}, {"agent-events", 2}};
  agents.members = {m};
  kafka->SetGroup(agents, {{{"agent-events", 0}, 1000}, {{"agent-events", 1}, 2000}});
  kafka->SetGroup(Group("auditors", 1), {{{"audit-logs", 0}, 100}, {{"audit-logs", 1}, 50}});
  return kafka;
}

std::string GoldenText(const std::string& granularity) {
  auto kafka = GoldenCluster();
  auto state = std::make_shared<ClusterState>();
  auto watermarks = std::make_shared<WatermarkService>(kafka, state, 250, 5min);
  ClusterCollector cluster(ClusterCollectorConfig{}, kafka, state);
  OffsetsCollector offsets(OffsetsCollectorConfig{}, watermarks);
  ConsumerGroupsCollectorConfig gc;
  gc.granularity = granularity;
  gc.lag_exporter_metrics = true;
  ConsumerGroupsCollector groups(gc, 60s, kafka, watermarks, nullptr);
  std::string text;
  for (Collector* c : std::vector<Collector*>{&cluster, &offsets, &groups}) {
    auto r = Collect(*c);
    INFO(c->name() << ": " << r.status.message);
    CHECK(r.status.ok);
    text += r.text;
  }
  return text;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("offsets fails when no partition in the metadata has a leader", "[collectors][fake][leaderless]") {
  auto kafka = ThreeBrokers();
  for (int32_t p = 0; p < 3; ++p) kafka->SetOffsets("ledger-events", p, 0, 1000);
  auto watermarks = std::make_shared<WatermarkService>(kafka, std::make_shared<ClusterState>(), 250, 0ms);
  OffsetsCollectorConfig oc;
  oc.interval = Millis(0);  // every run fetches: no earlier answer is reused
  OffsetsCollector offsets(oc, watermarks);
  REQUIRE(Collect(offsets).status.ok);
  // One leaderless partition costs that partition only.
  kafka->SetLeader("ledger-events", 0, -1);
  auto r = Collect(offsets);
  CHECK(r.status.ok);
  CHECK(Find(ParseExposition(r.text), "kafka_topic_partition_current_offset",
             {{"topic", "ledger-events"}, {"partition", "1"}}) == 1000.0);
  // Every partition without a leader (the last broker shutting down): a
  // failure, not a cluster with nothing to ask.
  kafka->SetLeader("ledger-events", 1, -1);
  kafka->SetLeader("ledger-events", 2, -1);
  r = Collect(offsets);
  CHECK_FALSE(r.status.ok);
  CHECK(r.status.message.find("has a leader") != std::string::npos);
}

TEST_CASE("golden exposition of a fixed cluster, at every granularity", "[collectors][fake][golden]") {
  for (const std::string granularity : {"mixed", "partition", "topic"}) {
    const std::string path = std::string(DORA_SOURCE_DIR) + "/tests/fixtures/golden-" + granularity + ".prom";
    const std::string text = GoldenText(granularity);
    if (const char* update = std::getenv("UPDATE_GOLDEN"); update != nullptr && std::string(update) == "1") {
      std::ofstream(path) << text;
      WARN("rewrote " << path);
    }
    INFO(path << " (UPDATE_GOLDEN=1 rewrites it)");
    CHECK(text == ReadAll(path));
    // Every family, its HELP, TYPE and label names are the catalogue's
    // (metrics/catalogue.h, which docs/metrics.md is checked against).
    CHECK(dora::test::ExpositionCatalogueMismatches(text) == std::vector<std::string>{});
    std::set<std::string> families;
    std::regex type_line("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ");
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::smatch m;
      if (std::regex_search(line, m, type_line)) families.insert(m[1]);
    }
    CHECK(families.size() > 30);
    // promtool parses it; its only lint findings are the two names kept from
    // kafka_exporter (docs/compatibility.md).
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
      std::string lint;
      FILE* p = popen(("promtool check metrics < '" + path + "' 2>&1").c_str(), "r");
      REQUIRE(p != nullptr);
      char buf[512];
      while (fgets(buf, sizeof buf, p) != nullptr) lint += buf;
      pclose(p);
      std::istringstream findings(lint);
      int n = 0;
      for (std::string line; std::getline(findings, line);) {
        INFO("promtool: " << line);
        CHECK(std::regex_match(line,
                               std::regex("kafka_consumergroup_(current_offset|lag)_sum non-histogram and "
                                          "non-summary metrics should not have \"_sum\" suffix")));
        ++n;
      }
      CHECK(n == 2);
    } else {
      WARN("promtool not found: the exposition was not checked by it");
    }
  }
}

TEST_CASE("the cluster collector exports the expected broker count only when set, kept text included",
          "[collectors][fake]") {
  auto kafka = ThreeBrokers();
  auto state = std::make_shared<ClusterState>();
  ClusterCollector unset(ClusterCollectorConfig{}, kafka, state);
  auto r = Collect(unset);
  REQUIRE(r.status.ok);
  CHECK_FALSE(Find(ParseExposition(r.text), "kafka_brokers_expected").has_value());

  ClusterCollectorConfig config;
  config.expected_brokers = 4;
  ClusterCollector expected(config, kafka, state);
  r = Collect(expected);
  REQUIRE(r.status.ok);
  auto s = ParseExposition(r.text);
  CHECK(Find(s, "kafka_brokers") == 3.0);
  CHECK(Find(s, "kafka_brokers_expected") == 4.0);
  // The unchanged cluster's next run keeps the text that holds it.
  CollectContext ctx;
  ctx.deadline = std::chrono::steady_clock::now() + 2s;
  ctx.wall_now = std::chrono::system_clock::now();
  MetricsBuilder out;
  REQUIRE(expected.Collect(ctx, out).ok);
  CHECK(out.keep_published());
}

// Regression: the brokers' configs (for broker.rack) were asked one after the
// other with the run's whole remaining budget, so one broker that was just
// killed (still in the metadata until fenced) held every refreshing run for
// the collector's timeout, and the alerts fed by it with it (16.8 s measured
// for KafkaBrokersMissing). Now they are asked at once, each for at most a
// quarter of the timeout.
TEST_CASE("the cluster collector's broker config refresh does not wait out a dead broker",
          "[collectors][fake]") {
  auto kafka = ThreeBrokers();
  kafka->SetBrokerDown(2, true);
  kafka->SetBrokerDown(3, true);
  kafka->SetDownBrokersListed(true);
  auto state = std::make_shared<ClusterState>();
  ClusterCollectorConfig config;
  config.timeout = 8s;
  ClusterCollector cluster(config, kafka, state);
  const auto start = std::chrono::steady_clock::now();
  auto r = Collect(cluster, 8s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(r.status.ok);
  CHECK(kafka->calls("DescribeBrokerConfig") == 3);
  CHECK(kafka->longest_broker_config_timeout() == Millis(2000));
  // Both dead brokers' calls ran side by side: one cap (2 s), not the budget (8 s).
  CHECK(took < 5.0);
  CHECK(Find(ParseExposition(r.text), "kafka_brokers") == 3.0);
}
