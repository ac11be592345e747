// Hot partitions against a real 3-broker cluster: a producer sends 80% of a
// topic's records to one partition (what a dominant key does) and the rest
// evenly; the exporter's skew, hottest-partition share and per-broker leader
// shares must match the true shares counted from the producers' acks within
// 5%, and Debian's Prometheus with the shipped rules (`for:` shortened) must
// fire KafkaTopicHotPartition for that topic and not for an evenly written one.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/prometheus.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

TEST_CASE("a topic with one dominant partition is measured as skewed and alerted on", "[kafka][hot]") {
  auto kafka = KafkaCluster::Start(3);
  constexpr int kPartitions = 4;
  kafka->CreateTopic("agent-events", kPartitions, 1);
  kafka->CreateTopic("audit-logs", kPartitions, 1);
  // agent-events: 80 msg/s to partition 0 (one hot key), 5 msg/s to each
  // partition: 85% of the writes in partition 0. audit-logs: 10 msg/s each.
  std::vector<std::unique_ptr<SteadyProducer>> hot_writers, even_writers;
  hot_writers.push_back(std::make_unique<SteadyProducer>(kafka->bootstrap(), "agent-events", 80, 0));
  for (int32_t p = 0; p < kPartitions; ++p) {
    hot_writers.push_back(std::make_unique<SteadyProducer>(kafka->bootstrap(), "agent-events", 5, p));
    even_writers.push_back(std::make_unique<SteadyProducer>(kafka->bootstrap(), "audit-logs", 10, p));
  }

  TempDir dir("dora-hot");
  std::ofstream(dir.P("exporter.yaml"))
      << "alerting: {enabled: false}\n"
         "collectors:\n"
         "  cluster: {interval: 1s}\n"
         "  offsets: {interval: 1s, rate_window: 20s, hot_partition_share: 0.6}\n"
         "  consumer_groups: {enabled: false}\n"
         "  broker_stats: {enabled: false}\n";
  Daemon d({"--config", dir.P("exporter.yaml"), "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  const bool prometheus = PrometheusProcess::Installed();
  std::unique_ptr<PrometheusProcess> prom;
  if (prometheus) {
    prom = std::make_unique<PrometheusProcess>(dir.path, d.port());
    if (!prom->WaitReady(60s)) FAIL("prometheus did not get ready: " << prom->log());
  } else {
    WARN("prometheus is not installed (scripts/install-deps.sh): the alert is not checked");
  }

  // A full rate window of steady writing, then the true shares over the next
  // window from the acks, against the exporter's rates over the same window.
  std::this_thread::sleep_for(22s);
  // Acks per partition of each topic so far.
  auto acked = [&hot_writers, &even_writers]() {
    std::vector<int64_t> hot(kPartitions, 0), even(kPartitions, 0);
    hot[0] += hot_writers[0]->acked();
    for (int32_t p = 0; p < kPartitions; ++p) {
      hot[static_cast<size_t>(p)] += hot_writers[static_cast<size_t>(1 + p)]->acked();
      even[static_cast<size_t>(p)] = even_writers[static_cast<size_t>(p)]->acked();
    }
    return std::make_pair(hot, even);
  };
  const auto before = acked();
  std::this_thread::sleep_for(20s);
  const std::vector<Sample> s = d.Samples();
  const auto after = acked();
  std::vector<double> written(kPartitions), written_even(kPartitions);
  double total = 0, total_even = 0;
  for (int i = 0; i < kPartitions; ++i) {
    const auto p = static_cast<size_t>(i);
    written[p] = static_cast<double>(after.first[p] - before.first[p]);
    written_even[p] = static_cast<double>(after.second[p] - before.second[p]);
    total += written[p];
    total_even += written_even[p];
  }
  REQUIRE(total > 0);
  const double true_share = written[0] / total;
  const double true_skew = true_share * kPartitions;

  const auto share = Find(s, "kafka_topic_hottest_partition_write_share", {{"topic", "agent-events"}});
  const auto skew = Find(s, "kafka_topic_partition_write_skew", {{"topic", "agent-events"}});
  const auto even_share = Find(s, "kafka_topic_hottest_partition_write_share", {{"topic", "audit-logs"}});
  INFO(d.Log());
  REQUIRE(share.has_value());
  REQUIRE(skew.has_value());
  REQUIRE(even_share.has_value());
  CHECK(*share == Approx(true_share).epsilon(0.05));
  CHECK(*skew == Approx(true_skew).epsilon(0.05));
  CHECK(*even_share < 0.35);  // 0.25 when even
  CHECK(Find(s, "kafka_topic_hot_partition_share_threshold") == 0.6);

  // Per broker: the share of all writes (both topics) to the partitions it leads.
  std::map<std::string, double> true_broker;
  const double all = total + total_even;
  for (const auto& x : FindAll(s, "kafka_topic_partition_leader")) {
    const std::string& topic = x.labels.at("topic");
    const int p = std::stoi(x.labels.at("partition"));
    const std::string leader = std::to_string(static_cast<int>(x.value));
    if (topic == "agent-events") true_broker[leader] += written[static_cast<size_t>(p)];
    if (topic == "audit-logs") true_broker[leader] += written_even[static_cast<size_t>(p)];
  }
  std::string broker_report;
  double sum = 0;
  for (const auto& x : FindAll(s, "kafka_broker_leader_write_share")) {
    const std::string& b = x.labels.at("broker");
    INFO("broker " << b);
    CHECK(x.value == Approx(true_broker[b] / all).margin(0.05));
    sum += x.value;
    char buf[96];
    std::snprintf(buf, sizeof buf, " broker %s %.3f (true %.3f);", b.c_str(), x.value, true_broker[b] / all);
    broker_report += buf;
  }
  CHECK(sum == Approx(1.0));
  std::fprintf(
      stderr,
      "[hot] agent-events: hottest share %.4f (true %.4f, %+.2f%%), skew %.3f (true %.3f); audit-logs "
      "hottest share %.3f;%s\n",
      *share, true_share, 100 * (*share - true_share) / true_share, *skew, true_skew, *even_share,
      broker_report.c_str());

  if (prom) {
    // Bounded: 60 s for the shortened `for:` and a few evaluations.
    bool fired = false;
    for (int i = 0; i < 120 && !fired; ++i) {
      fired = prom->Firing("KafkaTopicHotPartition", "topic", "agent-events");
      if (!fired) std::this_thread::sleep_for(500ms);
    }
    INFO(prom->log());
    CHECK(fired);
    CHECK_FALSE(prom->Firing("KafkaTopicHotPartition", "topic", "audit-logs"));
  }
}
