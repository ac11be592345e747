// The mirror collector against two REAL KRaft clusters on loopback and a REAL
// MirrorMaker 2 (dedicated mode, the Kafka release's connect-mirror jars)
// replicating primary -> dr. One run of the clusters and MM2 serves every
// step (their starts are the slow part):
//   healthy: the latency histogram has observations, offset-sync lag is 0,
//            checkpoints match the group's committed offsets;
//   MM2 stopped: lag grows by exactly what was written, the oldest pending
//            probe message ages, probe messages go missing, the group's
//            checkpoint goes stale and its re-read count grows;
//   MM2 restarted: lag back to 0, probe messages seen again;
//   the dr cluster stopped: the mirror collector fails (success 0) while the
//            primary's own collectors keep serving their series.
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

double Sum(const std::vector<Sample>& s, const std::string& family,
           const std::map<std::string, std::string>& m) {
  double total = 0;
  for (const auto& x : FindAll(s, family, m)) total += x.value;
  return total;
}

double Value(const std::vector<Sample>& s, const std::string& family,
             const std::map<std::string, std::string>& m = {}) {
  return Find(s, family, m).value_or(-1);
}

const std::map<std::string, std::string> kFlow = {{"source", "primary"}, {"target", "dr"}};

std::map<std::string, std::string> With(std::map<std::string, std::string> m) {
  m.insert(kFlow.begin(), kFlow.end());
  return m;
}

}  // namespace

TEST_CASE("a real MirrorMaker 2: latency, offset-sync lag, checkpoints, MM2 stopped and restarted, dr down",
          "[kafka][mirror]") {
  auto primary = KafkaCluster::Start(1);
  auto dr = KafkaCluster::Start(1);
  primary->CreateTopic("orders", 2, 1);
  REQUIRE(ProduceMessages(primary->bootstrap(), "orders", 100) == 100);
  primary->Ctl({"consume", "--dir", primary->dir(), "--topic", "orders", "--group", "billing",
                "--max-messages", "60"});
  // The daemon creates its probe topic; MM2 picks it up on its next topic refresh (2 s).
  primary->StartMirrorMaker(*dr, "orders|dora-mirror-probe");

  const std::string cfg = "/tmp/dora-it-mirror-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(cfg) << "kafka:\n"
                        "  name: primary\n"
                        "collectors:\n"
                        "  cluster: {interval: 1s}\n"
                        "  offsets: {interval: 1s}\n"
                        "  consumer_groups: {enabled: false}\n"
                        "  mirror:\n"
                        "    enabled: true\n"
                        "    interval: 1s\n"
                        "    timeout: 5s\n"
                        "    probe_interval: 500ms\n"
                        "    probe_timeout: 15s\n"
                        "    peer:\n"
                        "      name: dr\n"
                        "      bootstrap_servers: ['"
                     << dr->bootstrap()
                     << "']\n"
                        "    flows:\n"
                        "      - {source: primary, target: dr, topics: {include: [orders]}}\n";
  Daemon d({"--config", cfg, "--kafka.server=" + primary->bootstrap()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  auto mm2_log = [&] {
    std::ifstream in(primary->dir() + "/mirror/logs/mm2.log");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    return t.size() > 4000 ? t.substr(t.size() - 4000) : t;
  };

  // Healthy.
  bool healthy = d.WaitFor(
      [&](const auto& x) {
        return Value(x, "kafka_exporter_collector_success", {{"collector", "mirror"}}) == 1 &&
               Value(x, "kafka_mirror_latency_seconds_count", kFlow) >= 5 &&
               FindAll(x, "kafka_mirror_partition_lag_messages", With({{"topic", "orders"}})).size() == 2 &&
               Sum(x, "kafka_mirror_partition_lag_messages", With({{"topic", "orders"}})) == 0 &&
               Value(x, "kafka_mirror_checkpoint_age_seconds",
                     With({{"group", "billing"}, {"topic", "orders"}})) == 0;
      },
      90s, &s);
  if (!healthy) {
    INFO(d.Log());
    INFO(mm2_log());
    INFO(d.Metrics());
    REQUIRE(healthy);
  }
  CHECK(Value(s, "kafka_mirror_topic_offset_sum", With({{"cluster", "primary"}, {"topic", "orders"}})) ==
        100);
  CHECK(Value(s, "kafka_mirror_topic_offset_sum", With({{"cluster", "dr"}, {"topic", "orders"}})) == 100);
  // Loopback replication: every observed latency is well under the 10 s bucket.
  CHECK(Value(s, "kafka_mirror_latency_seconds_bucket", With({{"le", "10"}})) ==
        Value(s, "kafka_mirror_latency_seconds_count", kFlow));
  CHECK(Value(s, "kafka_mirror_probe_messages_missing_total", kFlow) == 0);
  CHECK(Value(s, "kafka_mirror_probe_oldest_pending_seconds", kFlow) < 10);
  CHECK(Value(s, "kafka_mirror_records_undecodable_total", kFlow) == 0);
  const double reread_before =
      Value(s, "kafka_mirror_checkpoint_reread_messages", With({{"group", "billing"}, {"topic", "orders"}}));
  CHECK(reread_before >= 0);
  CHECK(reread_before <= 60);
  for (const auto& x : FindAll(s, "kafka_mirror_offset_sync_age_seconds", With({{"topic", "orders"}})))
    CHECK(x.value >= 0);

  // MM2 stopped: what is written now is not replicated.
  primary->StopMirrorMaker();
  REQUIRE(ProduceMessages(primary->bootstrap(), "orders", 50) == 50);
  primary->Ctl({"consume", "--dir", primary->dir(), "--topic", "orders", "--group", "billing",
                "--max-messages", "20", "--no-from-beginning"});
  bool stalled = d.WaitFor(
      [&](const auto& x) {
        return Sum(x, "kafka_mirror_partition_lag_messages", With({{"topic", "orders"}})) == 50 &&
               Value(x, "kafka_mirror_probe_messages_missing_total", kFlow) >= 1 &&
               Value(x, "kafka_mirror_probe_oldest_pending_seconds", kFlow) >= 10 &&
               Value(x, "kafka_mirror_checkpoint_age_seconds",
                     With({{"group", "billing"}, {"topic", "orders"}})) > 0;
      },
      60s, &s);
  if (!stalled) {
    INFO(d.Log());
    INFO(d.Metrics());
    REQUIRE(stalled);
  }
  CHECK(Value(s, "kafka_mirror_topic_offset_sum", With({{"cluster", "primary"}, {"topic", "orders"}})) ==
        150);
  CHECK(Value(s, "kafka_mirror_topic_offset_sum", With({{"cluster", "dr"}, {"topic", "orders"}})) == 100);
  CHECK(Value(s, "kafka_mirror_checkpoint_reread_messages",
              With({{"group", "billing"}, {"topic", "orders"}})) >= reread_before + 20);
  const double seen_before = Value(s, "kafka_mirror_latency_seconds_count", kFlow);

  // MM2 restarted: replication catches up.
  primary->StartMirrorMaker(*dr, "orders|dora-mirror-probe");
  bool recovered = d.WaitFor(
      [&](const auto& x) {
        return Sum(x, "kafka_mirror_partition_lag_messages", With({{"topic", "orders"}})) == 0 &&
               Value(x, "kafka_mirror_latency_seconds_count", kFlow) >= seen_before + 3 &&
               Value(x, "kafka_mirror_probe_oldest_pending_seconds", kFlow) < 10 &&
               Value(x, "kafka_mirror_topic_offset_sum", With({{"cluster", "dr"}, {"topic", "orders"}})) ==
                   150;
      },
      90s, &s);
  if (!recovered) {
    INFO(d.Log());
    INFO(mm2_log());
    INFO(d.Metrics());
    REQUIRE(recovered);
  }

  // The dr cluster stopped: only the mirror collector pays.
  primary->StopMirrorMaker(/*kill=*/true);
  dr->StopNode(1, /*kill=*/true);
  bool isolated = d.WaitFor(
      [&](const auto& x) {
        return Value(x, "kafka_exporter_collector_success", {{"collector", "mirror"}}) == 0 &&
               FindAll(x, "kafka_mirror_partition_lag_messages").empty();
      },
      30s, &s);
  if (!isolated) {
    INFO(d.Log());
    REQUIRE(isolated);
  }
  // Several runs of the primary's collectors after the failure, all successful.
  std::this_thread::sleep_for(3s);
  s = d.Samples();
  CHECK(Value(s, "kafka_exporter_collector_success", {{"collector", "mirror"}}) == 0);
  CHECK(Value(s, "kafka_exporter_collector_success", {{"collector", "cluster"}}) == 1);
  CHECK(Value(s, "kafka_exporter_collector_success", {{"collector", "offsets"}}) == 1);
  CHECK(Value(s, "kafka_brokers") == 1);
  CHECK(Value(s, "kafka_topic_partitions", {{"topic", "orders"}}) == 2);
  std::remove(cfg.c_str());
}
