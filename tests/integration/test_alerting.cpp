// The built-in alert evaluator against a real broker: a group lagging more
// than the threshold shows ALERTS{alertstate="firing"} on /metrics within
// interval + for + 5 s; a SIGHUP that raises the threshold resolves it.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string WriteConfig(const std::string& path, const std::string& lag_threshold) {
  std::ofstream(path) << "collectors:\n"
                         "  cluster: {interval: 1s, timeout: 5s}\n"
                         "  offsets: {interval: 1s, timeout: 5s}\n"
                         "  consumer_groups: {interval: 1s, timeout: 8s}\n"
                         "alerting:\n"
                         "  rules:\n"
                         "    KafkaConsumerGroupLagHigh: {for: 3s, threshold: "
                      << lag_threshold << ", labels: {team: payments}}\n";
  return path;
}

bool Firing(const std::vector<Sample>& s, const std::string& group) {
  for (const Sample& x : s) {
    if (x.name != "ALERTS" || x.value != 1) continue;
    auto l = x.labels;
    if (l["alertname"] == "KafkaConsumerGroupLagHigh" && l["alertstate"] == "firing" &&
        l["consumergroup"] == group)
      return true;
  }
  return false;
}

bool AnyLagAlert(const std::vector<Sample>& s) {
  for (const Sample& x : s) {
    auto l = x.labels;
    if (x.name == "ALERTS" && l["alertname"] == "KafkaConsumerGroupLagHigh") return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a group lagging above the threshold fires KafkaConsumerGroupLagHigh on /metrics",
          "[kafka][alerting]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("orders", 1, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "orders", 12000) == 12000);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "orders", "lagging", 500) == 500);         // lag 11,500
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "orders", "keeping-up", 11000) == 11000);  // lag 1,000
  const std::string cfg = "/tmp/dora-alerting-" + std::to_string(getpid()) + ".yaml";
  WriteConfig(cfg, "10000");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  const auto start = std::chrono::steady_clock::now();
  std::vector<Sample> s;
  // interval 1s + for 3s + 5s.
  const bool fired = d.WaitFor([](const auto& x) { return Firing(x, "lagging"); }, 9s, &s);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(d.Log());
  REQUIRE(fired);
  WARN("KafkaConsumerGroupLagHigh firing " << took << " s after the daemon was healthy");
  CHECK_FALSE(Firing(s, "keeping-up"));
  bool for_state = false;
  for (const Sample& x : s) {
    auto l = x.labels;
    if (x.name == "ALERTS") {
      if (l["alertname"] != "KafkaConsumerGroupLagHigh") continue;
      CHECK(l["severity"] == "ticket");
      CHECK(l["team"] == "payments");
      CHECK(l.count("topic") == 0);  // summed over topics
    }
    if (x.name == "ALERTS_FOR_STATE" && l["consumergroup"] == "lagging") {
      for_state = true;
      const double now =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      CHECK(x.value <= now - 3);  // active at least `for` before it fired
      CHECK(x.value >= now - 15);
    }
  }
  CHECK(for_state);

  // SIGHUP with a threshold above the lag: the alert resolves (no ALERTS series).
  WriteConfig(cfg, "1000000");
  d.Signal(SIGHUP);
  CHECK(d.WaitFor([](const auto& x) { return !AnyLagAlert(x); }, 10s));
  std::remove(cfg.c_str());
}
