// Lag against retention with real components only: a topic whose retention.ms
// is 90 s, a consumer group that committed and stopped, the daemon, and
// Debian's Prometheus evaluating the shipped rules/dora-kafka.rules.yml (only
// `for:` shortened, as tests/chain/run_chain.py does). The ratio climbs with the
// age of the oldest unconsumed message, KafkaConsumerGroupLagNearRetention
// fires, and only later does retention delete that message: the daemon flags
// the data loss (kafka_consumergroup_expired_messages) and Prometheus fires
// KafkaConsumerGroupDataLoss. The daemon's built-in evaluator fires the same
// alert before the loss too (its /api/v1/alerts, with the same `for`), and
// kafka_consumergroup_retention_time_left_seconds falls one second per second
// towards the deletion.

// GCC 12 at -O2 sees a null dereference inside nlohmann's getters (a false
// positive, as in test_alertmanager.cpp).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"
#include "support/prometheus.h"
#include "support/temp_dir.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The daemon's own alert `name` for group `group` is firing (/api/v1/alerts).
bool DaemonFiring(int port, const std::string& name, const std::string& group) {
  const auto body = nlohmann::json::parse(HttpGet(port, "/api/v1/alerts").body, nullptr, false);
  if (body.is_discarded() || !body.contains("data")) return false;
  for (const auto& a : body["data"]["alerts"])
    if (a["labels"].value("alertname", "") == name && a["labels"].value("consumergroup", "") == group &&
        a.value("state", "") == "firing")
      return true;
  return false;
}

}  // namespace

TEST_CASE("lag near retention fires before retention deletes unconsumed messages", "[kafka][retention]") {
  if (!PrometheusProcess::Installed()) {
    WARN("prometheus is not installed (scripts/install-deps.sh): skipped");
    return;
  }
  // Retention checked every second; a deleted segment's files go 1 s later
  // (the log start offset moves at once either way).
  auto kafka =
      KafkaCluster::Start(1, KafkaCluster::DefaultVersion(),
                          {"log.retention.check.interval.ms=1000", "log.segment.delete.delay.ms=1000"});
  constexpr double kRetentionSeconds = 90;
  // Segments roll every 5 s, so the one holding the group's position is
  // closed and deleted once its newest message is 90 s old.
  kafka->CreateTopic("audit-logs", 1, 1, {"retention.ms=90000", "segment.ms=5000", "cleanup.policy=delete"});
  SteadyProducer producer(kafka->bootstrap(), "audit-logs", 20);
  const Clock::time_point produced_from = producer.started();
  // The group reads the first 40 messages (2 s of production), commits, and stops.
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "audit-logs", "auditors", 40) == 40);
  const Clock::time_point committed_message_at = produced_from + 2s;

  TempDir dir("dora-retention");
  std::ofstream(dir.P("exporter.yaml")) << "collectors:\n"
                                           "  cluster: {interval: 1s, config_refresh_interval: 5s}\n"
                                           "  offsets: {interval: 1s, rate_window: 10s}\n"
                                           "  consumer_groups: {interval: 1s}\n"
                                           "  broker_stats: {enabled: false}\n"
                                           // The `for` Prometheus gets (support/prometheus.cpp).
                                           "alerting:\n"
                                           "  rules:\n"
                                           "    KafkaConsumerGroupLagNearRetention: {for: 3s}\n";
  Daemon d({"--config", dir.P("exporter.yaml"), "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  PrometheusProcess prom(dir.path, d.port());
  if (!prom.WaitReady(60s)) FAIL("prometheus did not get ready: " << prom.log());

  // Bounded: until both happened, or three retention periods.
  std::optional<Clock::time_point> near_at, loss_seen_at, loss_alert_at, daemon_near_at, ratio_crossed_at;
  std::optional<double> ratio_at_alert, age_at_alert;
  double last_ratio = -1;
  // (when, seconds left) while the group is stopped and nothing is deleted yet.
  std::vector<std::pair<Clock::time_point, double>> left;
  const auto end = Clock::now() + 270s;
  while (Clock::now() < end && !(near_at && loss_seen_at && loss_alert_at && daemon_near_at)) {
    const auto s = d.Samples();
    const auto now = Clock::now();
    if (auto r = Find(s, "kafka_consumergroup_lag_retention_ratio",
                      {{"consumergroup", "auditors"}, {"topic", "audit-logs"}})) {
      last_ratio = *r;
      if (!ratio_crossed_at && *r > 0.8) ratio_crossed_at = now;
    }
    if (auto l = Find(s, "kafka_consumergroup_retention_time_left_seconds",
                      {{"consumergroup", "auditors"}, {"topic", "audit-logs"}}))
      if (!loss_seen_at) left.emplace_back(now, *l);
    if (!daemon_near_at && DaemonFiring(d.port(), "KafkaConsumerGroupLagNearRetention", "auditors"))
      daemon_near_at = now;
    if (!loss_seen_at && Find(s, "kafka_consumergroup_expired_messages", {{"consumergroup", "auditors"}}))
      loss_seen_at = now;
    if (!near_at && prom.Firing("KafkaConsumerGroupLagNearRetention", "consumergroup", "auditors")) {
      near_at = now;
      ratio_at_alert = last_ratio;
      age_at_alert = Secs(committed_message_at, now);
    }
    if (!loss_alert_at && prom.Firing("KafkaConsumerGroupDataLoss", "consumergroup", "auditors"))
      loss_alert_at = now;
    std::this_thread::sleep_for(500ms);
  }
  INFO(d.Log());
  INFO(prom.log());
  REQUIRE(near_at.has_value());
  REQUIRE(loss_seen_at.has_value());  // retention really deleted what the group had not read
  CHECK(*near_at < *loss_seen_at);
  if (loss_alert_at) CHECK(*near_at < *loss_alert_at);
  // The built-in evaluator fires it too, after the ratio crossed 0.8 and its
  // `for`, and before the loss.
  REQUIRE(ratio_crossed_at.has_value());
  REQUIRE(daemon_near_at.has_value());
  CHECK(*daemon_near_at < *loss_seen_at);
  CHECK(Secs(*ratio_crossed_at, *daemon_near_at) >= 2.0);  // for: 3s, less one poll of ours
  // Time left: a stopped group ages one second per second, so the gauge
  // falls by the time between two readings (within the lag estimate's and
  // the runs' jitter), and, before the loss, says about how long remains
  // until the loss is flagged (deletion comes later than eligibility: the
  // segment must be closed, then the retention check runs; so only the
  // upper side is bounded by the estimate's error).
  // (Once due the gauge stays at 0 until the deletion: the slope is read up
  // to its last positive value.)
  REQUIRE(left.size() >= 20);
  const auto& [first_t, first_left] = left.front();
  auto positive = left.end() - 1;
  while (positive != left.begin() && positive->second <= 0) --positive;
  const auto& [last_t, last_left] = *positive;
  const double elapsed = Secs(first_t, last_t);
  REQUIRE(elapsed > 30);
  CHECK(first_left - last_left == Approx(elapsed).margin(4));
  for (const auto& [t, l] : left) {
    INFO("time left " << l << " s, " << Secs(t, *loss_seen_at) << " s before the loss was flagged");
    CHECK(l <= Secs(t, *loss_seen_at) + 4);
    CHECK(l >= 0);
  }
  // The ratio is the committed message's age against retention.ms: past 0.8
  // at the alert, and its age estimate within 10% (plus the scrape and
  // evaluation delays of a few seconds) of the true age.
  REQUIRE(ratio_at_alert.has_value());
  CHECK(*ratio_at_alert > 0.8);
  CHECK(*ratio_at_alert * kRetentionSeconds == Approx(*age_at_alert).epsilon(0.1).margin(4));
  const double loss_alert = loss_alert_at ? Secs(committed_message_at, *loss_alert_at) : -1;
  std::fprintf(
      stderr,
      "[retention] retention.ms 90 s: ratio past 0.8 %.1f s after the committed message was produced; "
      "KafkaConsumerGroupLagNearRetention firing in Prometheus after %.1f s (ratio %.3f, %.1f s by the "
      "estimate), in the daemon after %.1f s; data loss flagged by the daemon after %.1f s, "
      "KafkaConsumerGroupDataLoss after %.1f s (-1: not seen): %.1f s of warning\n",
      Secs(committed_message_at, *ratio_crossed_at), *age_at_alert, *ratio_at_alert,
      *ratio_at_alert * kRetentionSeconds, Secs(committed_message_at, *daemon_near_at),
      Secs(committed_message_at, *loss_seen_at), loss_alert, Secs(*near_at, *loss_seen_at));
  std::fprintf(stderr,
               "[retention] time left %.1f s at %.1f s, %.1f s at %.1f s (fell %.1f s in %.1f s); the "
               "loss was flagged %.1f s after the last positive reading\n",
               first_left, Secs(committed_message_at, first_t), last_left, Secs(committed_message_at, last_t),
               first_left - last_left, elapsed, Secs(last_t, *loss_seen_at));
}
