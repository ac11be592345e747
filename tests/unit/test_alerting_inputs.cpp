// The evaluator's inputs: the MetricsBuilder tap, the runner's hand-off after
// each publish, and the alerting configuration section.
#include <catch2/catch.hpp>

#include <deque>

#include "alerting/evaluator.h"
#include "collectors/runner.h"
#include "config/flatten.h"
#include "config/loader.h"
#include "metrics/catalogue.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

using namespace dora;

namespace {

using Tapped = std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, double>>;

Tapped Flat(const std::vector<MetricsBuilder::TappedSample>& samples) {
  Tapped out;
  for (const auto& s : samples) out.emplace_back(s.labels, s.value);
  return out;
}

// Renders a disk ratio per run; fails on the runs listed.
class DiskCollector : public Collector {
 public:
  explicit DiskCollector(std::deque<double> ratios) : ratios_(std::move(ratios)) {}
  std::string name() const override { return "log_dirs"; }
  Millis interval() const override { return Millis(1000); }
  Millis timeout() const override { return Millis(5000); }
  Status Collect(const CollectContext&, MetricsBuilder& out) override {
    const double r = ratios_.front();
    ratios_.pop_front();
    if (r < 0) return Status::Error(Reason::kInternal, "statvfs failed");
    out.Add(out.Family(DORA_METRIC("kafka_log_dir_free_bytes")), {{"broker", "1"}, {"log_dir", "/d"}}, 5);
    out.Add(out.Family(DORA_METRIC("kafka_log_dir_used_ratio")), {{"broker", "1"}, {"log_dir", "/d"}}, r);
    return Status::Ok();
  }

 private:
  std::deque<double> ratios_;
};

class RecordingSink : public alerting::InputSink {
 public:
  const std::set<std::string>& TappedFamilies() const override { return families_; }
  void OnRun(alerting::RunInputs run) override { runs.push_back(std::move(run)); }
  std::vector<alerting::RunInputs> runs;

 private:
  std::set<std::string> families_{"kafka_log_dir_used_ratio"};
};

}  // namespace

TEST_CASE("the builder copies the samples of tapped families only", "[alerting]") {
  const std::set<std::string> tap{"kafka_topic_partition_offline", "kafka_probe_produce_latency_seconds"};
  MetricsBuilder b;
  b.Tap(&tap);
  const auto offline = b.Family(DORA_METRIC("kafka_topic_partition_offline"));
  const auto partitions = b.Family(DORA_METRIC("kafka_topic_partitions"));
  const auto latency = b.Family(DORA_METRIC("kafka_probe_produce_latency_seconds"));
  b.Add(offline, {{"topic", "a"}, {"partition", "0"}}, 1);
  b.Add(offline, {{"topic", "a"}, {"partition", "0"}}, 0);  // a duplicate: dropped, not tapped
  b.Add(partitions, {{"topic", "a"}}, 3);
  const std::string broker = "2";
  b.AddHistogram(latency, {{"broker", broker}}, {0.5, 5}, {3, 4}, 2.5, 6);
  auto tapped = b.TakeTapped();
  REQUIRE(tapped.size() == 2);
  CHECK(Flat(tapped["kafka_topic_partition_offline"]) == Tapped{{{{"topic", "a"}, {"partition", "0"}}, 1}});
  CHECK(Flat(tapped["kafka_probe_produce_latency_seconds"]) ==
        Tapped{{{{"broker", "2"}, {"le", "0.5"}}, 3},
               {{{"broker", "2"}, {"le", "5"}}, 4},
               {{{"broker", "2"}, {"le", "+Inf"}}, 6}});
  // Tapping stops once the samples are taken.
  b.Add(offline, {{"topic", "b"}, {"partition", "0"}}, 1);
  CHECK(b.TakeTapped().empty());
  // The text is the same as without a tap.
  MetricsBuilder plain;
  plain.Add(plain.Family(DORA_METRIC("kafka_topic_partition_offline")), {{"topic", "a"}, {"partition", "0"}},
            1);
  plain.Add(plain.Family(DORA_METRIC("kafka_topic_partitions")), {{"topic", "a"}}, 3);
  plain.AddHistogram(plain.Family(DORA_METRIC("kafka_probe_produce_latency_seconds")), {{"broker", broker}},
                     {0.5, 5}, {3, 4}, 2.5, 6);
  plain.Add(plain.Family(DORA_METRIC("kafka_topic_partition_offline")), {{"topic", "b"}, {"partition", "0"}},
            1);
  CHECK(b.Render() == plain.Render());
  MetricsBuilder untapped;
  untapped.Add(untapped.Family(DORA_METRIC("kafka_topic_partitions")), {{"topic", "a"}}, 3);
  CHECK(untapped.TakeTapped().empty());
}

TEST_CASE("the runner hands each run's tapped samples to the sink after it publishes", "[alerting]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<DiskCollector>(std::deque<double>{0.9, -1, 0.5}));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});
  RecordingSink sink;
  runner.SetInputSink(&sink);
  CHECK(runner.RunOnce());
  CHECK_FALSE(runner.RunOnce());
  CHECK(runner.RunOnce());
  REQUIRE(sink.runs.size() == 3);
  CHECK(sink.runs[0].collector == "log_dirs");
  CHECK(sink.runs[0].published);
  CHECK(sink.runs[0].success);
  REQUIRE(sink.runs[0].samples.size() == 1);  // the free bytes are not tapped
  REQUIRE(sink.runs[0].samples["kafka_log_dir_used_ratio"].size() == 1);
  CHECK(sink.runs[0].samples["kafka_log_dir_used_ratio"][0].value == 0.9);
  CHECK(sink.runs[0].samples["kafka_log_dir_used_ratio"][0].labels ==
        alerting::Labels{{"broker", "1"}, {"log_dir", "/d"}});
  CHECK_FALSE(sink.runs[1].published);
  CHECK_FALSE(sink.runs[1].success);
  CHECK(sink.runs[1].samples.empty());
  CHECK(sink.runs[2].samples["kafka_log_dir_used_ratio"][0].value == 0.5);
}

TEST_CASE("a failed log_dirs run keeps the disk alert firing through the daemon's wiring", "[alerting]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<DiskCollector>(std::deque<double>{0.9, -1, 0.5}));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});
  AlertingConfig config;
  config.rules["KafkaBrokerDiskUsageHigh"].for_duration = Millis(0);
  alerting::SysTime now{std::chrono::seconds(1'700'000'000)};
  alerting::Evaluator eval(config, &store, [&] { return now; });
  runner.SetInputSink(&eval);
  runner.RunOnce();
  const std::string firing =
      "ALERTS{alertname=\"KafkaBrokerDiskUsageHigh\",broker=\"1\",log_dir=\"/d\",severity=\"ticket\","
      "alertstate=\"firing\"} 1\n";
  CHECK(store.Render().find(firing) != std::string::npos);
  now += std::chrono::minutes(1);
  runner.RunOnce();  // fails
  CHECK(store.Render().find(firing) != std::string::npos);
  now += std::chrono::minutes(1);
  runner.RunOnce();  // 0.5
  CHECK(store.Render().find("ALERTS{alertname=\"KafkaBrokerDiskUsageHigh\"") == std::string::npos);
  REQUIRE(eval.Current()->alerts.size() == 1);
  CHECK(eval.Current()->alerts[0].state == alerting::AlertState::kResolved);
}

TEST_CASE("alerting configuration: per-alert keys, unknown alerts rejected", "[alerting][config]") {
  ConfigErrors errors;
  Config c = ParseConfig(
      "alerting:\n"
      "  rules:\n"
      "    KafkaConsumerGroupLagHigh:\n"
      "      threshold: 50000\n"
      "      for: 10m\n"
      "      keep_firing_for: 2m\n"
      "      labels: {team: payments}\n"
      "    KafkaBrokerDiskUsageHigh:\n"
      "      enabled: false\n"
      "      threshold: 0.9\n",
      "test.yaml", &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  CHECK(c.alerting.enabled);
  const AlertRuleConfig& lag = c.alerting.rules.at("KafkaConsumerGroupLagHigh");
  CHECK(lag.threshold == 50000);
  CHECK(lag.for_duration == Millis(600000));
  CHECK(lag.keep_firing_for == Millis(120000));
  CHECK(lag.labels == std::map<std::string, std::string>{{"team", "payments"}});
  CHECK_FALSE(c.alerting.rules.at("KafkaBrokerDiskUsageHigh").enabled);
  CHECK(c.alerting.rules.at("KafkaBrokerDiskUsageHigh").threshold == 0.9);
  CHECK(c.alerting.rules.at("KafkaTopicPartitionOffline").for_duration == Millis(60000));

  ConfigErrors bad;
  ParseConfig(
      "alerting:\n  enabled: maybe\n  rules:\n    KafkaLagHihg:\n      for: 1m\n    "
      "KafkaBrokerDiskUsageHigh:\n      threshold: high\n",
      "test.yaml", &bad);
  REQUIRE(bad.errors.size() == 3);
  CHECK(bad.Joined().find("test.yaml:2:12: alerting.enabled: expected true or false") != std::string::npos);
  CHECK(bad.Joined().find("alerting.rules.KafkaLagHihg: unknown key") != std::string::npos);
  CHECK(bad.Joined().find("alerting.rules.KafkaBrokerDiskUsageHigh.threshold: expected a number") !=
        std::string::npos);
  bool dumped = false;
  for (const auto& [path, value] : FlattenConfig(c)) {
    if (path != "alerting.rules.KafkaConsumerGroupLagHigh.threshold") continue;
    dumped = true;
    CHECK(value == "50000");
  }
  CHECK(dumped);
}
