// The evaluator's inputs: the MetricsBuilder tap, the runner's hand-off after
// each publish, and the alerting configuration section.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <random>

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
  for (const auto& s : samples) out.emplace_back(s.Decode(), s.value);
  return out;
}

// One tapped sample, as a builder would tap it.
MetricsBuilder::TappedSample TappedOf(
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
  MetricsBuilder::TappedSample t;
  for (const auto& [name, v] : labels) t.Append(name, v);
  t.value = value;
  return t;
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

// consumer_groups as the alerts see it: per run, each (group, topic,
// partition)'s status, rendered as the collector renders
// kafka_consumergroup_partition_status (here OK ones too).
class StatusCollector : public Collector {
 public:
  using Run = std::vector<std::array<std::string, 4>>;  // group, topic, partition, status
  explicit StatusCollector(std::deque<Run> runs) : runs_(std::move(runs)) {}
  std::string name() const override { return "consumer_groups"; }
  Millis interval() const override { return Millis(1000); }
  Millis timeout() const override { return Millis(5000); }
  Status Collect(const CollectContext&, MetricsBuilder& out) override {
    const auto status = out.Family(DORA_METRIC("kafka_consumergroup_partition_status"));
    for (const auto& [g, t, p, st] : runs_.front())
      out.Add(status, {{"consumergroup", g}, {"topic", t}, {"partition", p}, {"status", st}}, 1);
    runs_.pop_front();
    return Status::Ok();
  }

 private:
  std::deque<Run> runs_;
};

// Hands each run to the evaluator, counting the samples handed over.
class CountingSink : public alerting::InputSink {
 public:
  explicit CountingSink(alerting::Evaluator& eval) : eval_(eval) {}
  const std::set<std::string>& TappedFamilies() const override { return eval_.TappedFamilies(); }
  const MetricsBuilder::TapReductions* Reductions() const override { return eval_.Reductions(); }
  void OnRun(alerting::RunInputs run) override {
    size_t n = 0;
    for (const auto& [family, samples] : run.tapped) n += samples.size();
    handed_over.push_back(n);
    eval_.OnRun(std::move(run));
  }
  std::vector<size_t> handed_over;

 private:
  alerting::Evaluator& eval_;
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

TEST_CASE("a reduced tap keeps one sum per label set without the summed label, of matching samples only",
          "[alerting][builder]") {
  const std::set<std::string> tap{"kafka_consumergroup_partition_status",
                                  "kafka_consumergroup_expired_messages", "kafka_consumergroup_lag"};
  const MetricsBuilder::TapReductions reduce{
      {"kafka_consumergroup_partition_status", {"partition", "status", {"STOP", "STALL"}}},
      {"kafka_consumergroup_expired_messages", {"partition", "", {}}}};
  auto render = [](MetricsBuilder& b) {
    const auto status = b.Family(DORA_METRIC("kafka_consumergroup_partition_status"));
    const auto expired = b.Family(DORA_METRIC("kafka_consumergroup_expired_messages"));
    const auto lag = b.Family(DORA_METRIC("kafka_consumergroup_lag"));
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "0"}, {"status", "STALL"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "1"}, {"status", "OK"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "2"}, {"status", "STALL"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "0"}, {"status", "STALL"}},
          1);  // dup
    b.Add(status, {{"consumergroup", "a"}, {"topic", "y"}, {"partition", "0"}, {"status", "STOP"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "3"}, {"status", "WARN"}}, 1);
    b.Add(status, {{"consumergroup", "b"}, {"topic", "x"}, {"partition", "0"}, {"status", "STALL"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "4"}, {"status", "STALL"}}, 1);
    b.Add(status, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "5"}}, 1);  // no status label
    b.Add(expired, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "0"}}, 3);
    b.Add(expired, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "1"}}, 0.5);
    b.Add(lag, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "0"}}, 7);
    b.Add(lag, {{"consumergroup", "a"}, {"topic", "x"}, {"partition", "1"}}, 8);
  };
  MetricsBuilder b;
  b.Tap(&tap, &reduce);
  render(b);
  auto tapped = b.TakeTapped();
  // In the order of each sum's first sample; OK, WARN and the sample without
  // a status are not summed, nor is the duplicate the builder dropped.
  CHECK(Flat(tapped["kafka_consumergroup_partition_status"]) ==
        Tapped{{{{"consumergroup", "a"}, {"topic", "x"}, {"status", "STALL"}}, 3},
               {{{"consumergroup", "a"}, {"topic", "y"}, {"status", "STOP"}}, 1},
               {{{"consumergroup", "b"}, {"topic", "x"}, {"status", "STALL"}}, 1}});
  CHECK(Flat(tapped["kafka_consumergroup_expired_messages"]) ==
        Tapped{{{{"consumergroup", "a"}, {"topic", "x"}}, 3.5}});
  // A family without a reduction is tapped sample by sample.
  CHECK(Flat(tapped["kafka_consumergroup_lag"]) ==
        Tapped{{{{"consumergroup", "a"}, {"topic", "x"}, {"partition", "0"}}, 7},
               {{{"consumergroup", "a"}, {"topic", "x"}, {"partition", "1"}}, 8}});
  // The text is the same as without a tap.
  MetricsBuilder plain;
  render(plain);
  CHECK(b.Render() == plain.Render());
}

TEST_CASE("a STALL partition reaches KafkaConsumerGroupStalled through the runner, an OK one does not",
          "[alerting]") {
  using Run = StatusCollector::Run;
  SnapshotStore store;
  SelfMetrics self;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(
      std::make_unique<StatusCollector>(std::deque<Run>{{{"orders", "payments", "0", "STALL"},
                                                         {"orders", "payments", "1", "OK"},
                                                         {"billing", "payments", "0", "OK"}},
                                                        {{"orders", "payments", "0", "STALL"},
                                                         {"orders", "payments", "1", "STALL"},
                                                         {"billing", "payments", "0", "OK"}},
                                                        {{"orders", "payments", "0", "OK"},
                                                         {"orders", "payments", "1", "OK"},
                                                         {"billing", "payments", "0", "OK"}}}));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});
  AlertingConfig config;
  config.rules["KafkaConsumerGroupStalled"].for_duration = Millis(0);
  alerting::SysTime now{std::chrono::seconds(1'700'000'000)};
  alerting::Evaluator eval(config, &store, [&] { return now; });
  CountingSink sink(eval);
  runner.SetInputSink(&sink);
  const alerting::Labels stalled{{"alertname", "KafkaConsumerGroupStalled"},
                                 {"consumergroup", "orders"},
                                 {"severity", "ticket"},
                                 {"status", "STALL"},
                                 {"topic", "payments"}};

  runner.RunOnce();
  REQUIRE(eval.Current()->alerts.size() == 1);  // billing's OK partition raises nothing
  alerting::Alert a = eval.Current()->alerts[0];
  CHECK(a.labels == stalled);
  CHECK(a.state == alerting::AlertState::kFiring);
  CHECK(a.value == 1);
  CHECK(a.annotations["description"].rfind("1 partition(s) of topic payments consumed by group orders have "
                                           "status STALL",
                                           0) == 0);
  CHECK(sink.handed_over == std::vector<size_t>{1});  // one sum; the OK samples stay in the builder

  now += std::chrono::minutes(1);
  runner.RunOnce();
  REQUIRE(eval.Current()->alerts.size() == 1);
  CHECK(eval.Current()->alerts[0].value == 2);
  CHECK(eval.Current()->alerts[0].state == alerting::AlertState::kFiring);

  // Every partition OK again: the alert resolves.
  now += std::chrono::minutes(1);
  runner.RunOnce();
  CHECK(sink.handed_over == std::vector<size_t>{1, 1, 0});
  REQUIRE(eval.Current()->alerts.size() == 1);
  CHECK(eval.Current()->alerts[0].labels == stalled);
  CHECK(eval.Current()->alerts[0].state == alerting::AlertState::kResolved);
  CHECK(store.Render().find("ALERTS{") == std::string::npos);
}

TEST_CASE("reduced at the tap or not, the consumer-group rules raise the same alerts", "[alerting]") {
  // Raw samples straight to one evaluator (as the promtool vectors do), the
  // same samples through a builder's reduced tap to the other, at several
  // thresholds (negative ones included: a sum of 0 then fires).
  const char* statuses[] = {"OK", "WARN", "STALL", "STOP", "REWIND"};
  for (const double threshold : {-1.0, 0.0, 1.5, 40.0}) {
    std::mt19937 rng(static_cast<unsigned>(threshold * 10 + 100));
    AlertingConfig config;
    for (const char* rule :
         {"KafkaConsumerGroupStalled", "KafkaConsumerGroupDataLoss", "KafkaConsumerGroupLagHigh"}) {
      config.rules[rule].for_duration = Millis(60000);
      config.rules[rule].threshold = threshold;
    }
    alerting::SysTime now{std::chrono::seconds(1'700'000'000)};
    alerting::Evaluator raw(config, nullptr, [&] { return now; });
    alerting::Evaluator reduced(config, nullptr, [&] { return now; });
    for (int step = 0; step < 4; ++step) {
      alerting::RunInputs direct;
      direct.collector = "consumer_groups";
      direct.published = direct.success = true;
      MetricsBuilder b;
      StartTap(b, reduced);  // as the runner does
      const auto status = b.Family(DORA_METRIC("kafka_consumergroup_partition_status"));
      const auto expired = b.Family(DORA_METRIC("kafka_consumergroup_expired_messages"));
      const auto lag_sum = b.Family(DORA_METRIC("kafka_consumergroup_lag_sum"));
      for (int g = 0; g < 4; ++g) {
        const std::string group = "group-" + std::to_string(g);
        for (int t = 0; t < 3; ++t) {
          const std::string topic = "topic-" + std::to_string(t);
          const double lag = static_cast<double>(rng() % 60) / 2;
          b.Add(lag_sum, {{"consumergroup", group}, {"topic", topic}}, lag);
          direct.samples["kafka_consumergroup_lag_sum"].push_back(
              {{{"consumergroup", group}, {"topic", topic}}, lag});
          for (int p = 0; p < 6; ++p) {
            const std::string partition = std::to_string(p);
            const std::string st = statuses[rng() % 5];
            b.Add(status,
                  {{"consumergroup", group}, {"topic", topic}, {"partition", partition}, {"status", st}}, 1);
            direct.samples["kafka_consumergroup_partition_status"].push_back(
                {{{"consumergroup", group}, {"topic", topic}, {"partition", partition}, {"status", st}}, 1});
            const double lost = rng() % 3 == 0 ? static_cast<double>(rng() % 5) / 4 : 0;
            b.Add(expired, {{"consumergroup", group}, {"topic", topic}, {"partition", partition}}, lost);
            direct.samples["kafka_consumergroup_expired_messages"].push_back(
                {{{"consumergroup", group}, {"topic", topic}, {"partition", partition}}, lost});
          }
        }
      }
      alerting::RunInputs tapped;
      tapped.collector = "consumer_groups";
      tapped.published = tapped.success = true;
      HandOver(b, &tapped);  // as the runner does
      CHECK(tapped.tapped["kafka_consumergroup_partition_status"].size() <
            direct.samples["kafka_consumergroup_partition_status"].size());
      raw.OnRun(std::move(direct));
      reduced.OnRun(std::move(tapped));
      const auto& x = raw.Current()->alerts;
      const auto& y = reduced.Current()->alerts;
      INFO("threshold " << threshold << ", step " << step);
      CHECK_FALSE(x.empty());
      REQUIRE(x.size() == y.size());
      for (size_t i = 0; i < x.size(); ++i) {
        CHECK(x[i].labels == y[i].labels);
        CHECK(x[i].annotations == y[i].annotations);
        CHECK(x[i].state == y[i].state);
        CHECK(x[i].value == y[i].value);
        CHECK(x[i].active_at == y[i].active_at);
      }
      now += std::chrono::seconds(30);
    }
  }
}

TEST_CASE("samples handed over as tapped: unchanged ones kept, history points taken every run",
          "[alerting]") {
  alerting::SysTime now{std::chrono::seconds(1'700'000'000)};
  alerting::Evaluator eval(AlertingConfig{}, nullptr, [&] { return now; });
  auto probe = [&](double errors) {
    alerting::RunInputs run;
    run.collector = "probe";
    run.published = run.success = true;
    run.tapped["kafka_probe_produce_errors_total"] = {TappedOf({{"broker", "1"}}, errors)};
    eval.OnRun(std::move(run));
  };
  auto offline = [&](double value) {
    alerting::RunInputs run;
    run.collector = "cluster";
    run.published = run.success = true;
    run.tapped["kafka_topic_partition_offline"] = {TappedOf({{"topic", "a"}, {"partition", "0"}}, value)};
    eval.OnRun(std::move(run));
  };
  auto firing = [&](const std::string& name) {
    int n = 0;
    for (const auto& a : eval.Current()->alerts)
      n += a.state != alerting::AlertState::kResolved && a.name() == name;
    return n;
  };
  // The same counter value twice: no increase. Then one more error: the
  // increase over 5m is 1 (the points are the runs', unchanged or not).
  probe(3);
  now += std::chrono::seconds(30);
  probe(3);
  CHECK(firing("KafkaProbeProduceErrors") == 0);
  now += std::chrono::seconds(30);
  probe(4);
  CHECK(firing("KafkaProbeProduceErrors") == 1);
  // A partition offline, then the same samples again, then back online.
  offline(1);
  now += std::chrono::minutes(1);
  offline(1);
  CHECK(firing("KafkaTopicPartitionOffline") == 1);
  now += std::chrono::minutes(1);
  offline(0);
  CHECK(firing("KafkaTopicPartitionOffline") == 0);
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
  REQUIRE(sink.runs[0].tapped.size() == 1);  // the free bytes are not tapped
  CHECK(Flat(sink.runs[0].tapped["kafka_log_dir_used_ratio"]) ==
        Tapped{{{{"broker", "1"}, {"log_dir", "/d"}}, 0.9}});
  CHECK_FALSE(sink.runs[1].published);
  CHECK_FALSE(sink.runs[1].success);
  CHECK(sink.runs[1].tapped.empty());
  CHECK(Flat(sink.runs[2].tapped["kafka_log_dir_used_ratio"]) ==
        Tapped{{{{"broker", "1"}, {"log_dir", "/d"}}, 0.5}});
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
