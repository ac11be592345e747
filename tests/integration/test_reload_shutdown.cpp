// The real binary against a real KRaft broker: a SIGHUP swaps the collectors
// without a gap in /metrics, and SIGTERM stops the daemon within 5 s even
// while its broker is frozen (SIGSTOP) in the middle of a collection.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Config(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-it-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

const char* kConfig =
    "collectors:\n"
    "  cluster: {interval: 1s, timeout: 5s, config_refresh_interval: 2s}\n"
    "  offsets: {interval: 1s, timeout: 5s}\n"
    "  consumer_groups: {interval: 1s, timeout: 8s}\n"
    "retry: {initial_backoff: 200ms, max_backoff: 2s}\n";

bool HasKafkaSeries(const std::vector<Sample>& s) {
  return Find(s, "kafka_brokers") == 1.0 && !FindAll(s, "kafka_topic_partition_current_offset").empty() &&
         Find(s, "kafka_consumergroup_lag_sum", {{"consumergroup", "auditors"}, {"topic", "audit-logs"}}) ==
             700.0;
}

}  // namespace

TEST_CASE("reload: 50 SIGHUPs in 10 s never leave /metrics without its Kafka series", "[kafka][reload]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 12, 1);
  kafka->Produce("audit-logs", 1200);
  kafka->Ctl({"consume", "--topic", "audit-logs", "--group", "auditors", "--max-messages", "500"});
  std::string cfg = Config("reload-gap", kConfig);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  REQUIRE(d.WaitFor(HasKafkaSeries, 60s));

  std::atomic<bool> stop{false};
  std::atomic<int> scrapes{0}, missing{0}, empty{0};
  std::thread scraper([&] {
    for (int i = 0; i < 20000 && !stop.load(); ++i) {
      auto reply = HttpGet(d.port(), "/metrics");
      ++scrapes;
      if (reply.status != 200 || reply.body.empty()) {
        ++empty;
        continue;
      }
      if (!HasKafkaSeries(ParseExposition(reply.body))) ++missing;
    }
  });
  for (int i = 0; i < 50; ++i) {
    d.Signal(SIGHUP);
    std::this_thread::sleep_for(200ms);
  }
  // Let the last reloads finish before the count closes.
  std::this_thread::sleep_for(2s);
  stop.store(true);
  scraper.join();
  INFO("scrapes " << scrapes.load() << ", without Kafka series " << missing.load() << ", empty "
                  << empty.load());
  CHECK(scrapes.load() > 50);
  CHECK(missing.load() == 0);
  CHECK(empty.load() == 0);
  auto s = d.Samples();
  CHECK(Find(s, "kafka_exporter_config_last_reload_successful") == 1.0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0);
  CHECK(d.Running());
  // A reload that disables a collector removes its series at once.
  std::ofstream(cfg, std::ios::trunc) << "collectors:\n"
                                         "  cluster: {interval: 1s, timeout: 5s}\n"
                                         "  offsets: {enabled: false}\n"
                                         "  consumer_groups: {interval: 1s, timeout: 8s}\n";
  d.Signal(SIGHUP);
  CHECK(d.WaitFor(
      [](const auto& x) {
        return FindAll(x, "kafka_topic_partition_oldest_offset").empty() && Find(x, "kafka_brokers") == 1.0;
      },
      20s));
  unlink(cfg.c_str());
}

TEST_CASE("shutdown: SIGTERM exits within 5 s while the broker is frozen mid-collection",
          "[kafka][shutdown]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 12, 1);
  kafka->Produce("audit-logs", 100);
  std::string cfg = Config("shutdown",
                           "collectors:\n"
                           "  cluster: {interval: 1s, timeout: 15s}\n"
                           "  offsets: {interval: 1s, timeout: 15s}\n"
                           "  consumer_groups: {interval: 1s, timeout: 15s}\n"
                           "  probe: {interval: 1s, timeout: 15s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  REQUIRE(d.WaitFor([](const auto& s) { return Find(s, "kafka_brokers") == 1.0; }, 60s));
  kafka->FreezeNode(1);
  std::this_thread::sleep_for(3s);  // every collector is now waiting on the frozen broker
  auto start = std::chrono::steady_clock::now();
  d.Signal(SIGTERM);
  int code = d.Wait(30s);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  kafka->ThawNode(1);
  INFO(d.Log());
  WARN("SIGTERM to exit with a frozen broker: " << took << " s");
  CHECK(code == 0);
  CHECK(took < 5.0);
  unlink(cfg.c_str());
}
