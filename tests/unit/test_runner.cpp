// CollectorRunner with scripted collectors: what a run publishes, and the
// KeepPublished hand-off that lets an unchanged collector skip rendering.
#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/runner.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

using namespace dora;

namespace {

// One scripted step per run: render `value`, keep the published text, fail,
// or render `value` and fail in part (a timeout behind a stopped broker).
struct Step {
  enum Kind { kRender, kKeep, kFail, kPartial, kBadKeep } kind = kRender;
  int value = 0;
};

class ScriptedCollector : public Collector {
 public:
  ScriptedCollector(std::deque<Step> steps, std::vector<bool>* saw_previous)
      : steps_(std::move(steps)), saw_previous_(saw_previous) {}
  std::string name() const override { return "scripted"; }
  Millis interval() const override { return Millis(1000); }
  Millis timeout() const override { return Millis(5000); }
  // Keeps only when its last run succeeded (its text is being served), as a
  // collector must; kBadKeep keeps regardless (a bug the runner must catch).
  Status Collect(const CollectContext&, MetricsBuilder& out) override {
    saw_previous_->push_back(served_);
    Step s = steps_.front();
    steps_.pop_front();
    if (s.kind == Step::kFail) {
      served_ = false;
      return Status::Error(Reason::kKafka, "broker down");
    }
    MetricsBuilder& live = out.Live();
    live.Add(live.Family({"scripted_run", MetricType::kGauge, "", "", "", "Runs so far."}), {}, ++runs_);
    served_ = true;
    if ((s.kind == Step::kKeep && saw_previous_->back()) || s.kind == Step::kBadKeep) {
      out.KeepPublished();
      return Status::Ok();
    }
    auto f = out.Family({"scripted_value", MetricType::kGauge, "", "", "", "A scripted value."});
    out.Add(f, {{"run", "x"}}, s.value);
    if (s.kind == Step::kPartial) return Status::Partial(Reason::kTimeout, "one broker did not answer");
    return Status::Ok();
  }

 private:
  std::deque<Step> steps_;
  std::vector<bool>* saw_previous_;
  bool served_ = false;
  int runs_ = 0;
};

std::string Served(const SnapshotStore& store) { return store.Shared()->Joined(); }

}  // namespace

TEST_CASE("runner: a kept run leaves the published text, a failed one drops it", "[runner]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<bool> saw_previous;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<ScriptedCollector>(
      std::deque<Step>{{Step::kRender, 7}, {Step::kKeep}, {Step::kFail}, {Step::kKeep, 9}, {Step::kKeep}},
      &saw_previous));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});

  REQUIRE(runner.RunOnce());
  CHECK(Served(store).find("scripted_value{run=\"x\"} 7\n") != std::string::npos);
  const uint64_t before_keep = store.generation();

  CHECK(Served(store).find("scripted_run 1\n") != std::string::npos);

  // Kept: the same text is served, the live series and self metrics moved on.
  REQUIRE(runner.RunOnce());
  CHECK(Served(store).find("scripted_value{run=\"x\"} 7\n") != std::string::npos);
  CHECK(Served(store).find("scripted_run 2\n") != std::string::npos);
  CHECK(Served(store).find("scripted_run 1\n") == std::string::npos);
  CHECK(store.generation() > before_keep);
  CHECK(Served(store).find("kafka_exporter_collector_success{collector=\"scripted\"} 1") !=
        std::string::npos);

  // Failed: the series go (no stale data shown as fresh).
  REQUIRE_FALSE(runner.RunOnce());
  CHECK(Served(store).find("scripted_value") == std::string::npos);
  CHECK(Served(store).find("scripted_run") == std::string::npos);
  CHECK(Served(store).find("kafka_exporter_collector_success{collector=\"scripted\"} 0") !=
        std::string::npos);

  // After a failure there is nothing to keep: the collector is told so and renders.
  REQUIRE(runner.RunOnce());
  CHECK(Served(store).find("scripted_value{run=\"x\"} 9\n") != std::string::npos);
  REQUIRE(runner.RunOnce());
  CHECK(Served(store).find("scripted_value{run=\"x\"} 9\n") != std::string::npos);
  CHECK(Served(store).find("scripted_run 4\n") != std::string::npos);

  CHECK(saw_previous == std::vector<bool>{false, true, true, false, true});
}

TEST_CASE("runner: keeping a text that is not being served is an internal error, never an empty text",
          "[runner]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<bool> saw_previous;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<ScriptedCollector>(
      std::deque<Step>{{Step::kFail}, {Step::kBadKeep}, {Step::kRender, 3}}, &saw_previous));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});
  auto has = [&store](const std::string& line) { return Served(store).find(line) != std::string::npos; };
  REQUIRE_FALSE(runner.RunOnce());
  REQUIRE_FALSE(runner.RunOnce());  // kept, with nothing served to keep
  CHECK_FALSE(has("scripted_value"));
  CHECK(has("kafka_exporter_collector_errors_total{collector=\"scripted\",reason=\"internal\"} 1\n"));
  CHECK(has("kafka_exporter_collector_success{collector=\"scripted\"} 0\n"));
  REQUIRE(runner.RunOnce());
  CHECK(has("scripted_value{run=\"x\"} 3\n"));
}

TEST_CASE("runner: a partial run publishes what it has and counts its real cause", "[runner]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<bool> saw_previous;
  std::vector<std::unique_ptr<Collector>> collectors;
  collectors.push_back(std::make_unique<ScriptedCollector>(
      std::deque<Step>{{Step::kPartial, 5}, {Step::kRender, 6}}, &saw_previous));
  CollectorRunner runner(std::move(collectors), &store, &self, RetryConfig{});
  auto has = [&store](const std::string& line) { return Served(store).find(line) != std::string::npos; };

  REQUIRE_FALSE(runner.RunOnce());
  CHECK(has("scripted_value{run=\"x\"} 5\n"));  // published
  CHECK(has("kafka_exporter_collector_success{collector=\"scripted\"} 0\n"));
  CHECK(has("kafka_exporter_collector_partial{collector=\"scripted\"} 1\n"));
  CHECK(has("kafka_exporter_collector_errors_total{collector=\"scripted\",reason=\"timeout\"} 1\n"));
  // The reason label is a closed set: every reason starts at 0, and there is no "partial".
  for (Reason r : kAllReasons) {
    if (r == Reason::kTimeout) continue;
    INFO(ReasonName(r));
    CHECK(has("kafka_exporter_collector_errors_total{collector=\"scripted\",reason=\"" +
              std::string(ReasonName(r)) + "\"} 0\n"));
  }
  CHECK_FALSE(has("reason=\"partial\""));

  REQUIRE(runner.RunOnce());
  CHECK(has("scripted_value{run=\"x\"} 6\n"));
  CHECK(has("kafka_exporter_collector_partial{collector=\"scripted\"} 0\n"));
  CHECK(has("kafka_exporter_collector_errors_total{collector=\"scripted\",reason=\"timeout\"} 1\n"));
}

namespace {

// Fails every run, as fast as the runner lets it.
class FailingCollector : public Collector {
 public:
  explicit FailingCollector(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Millis interval() const override { return Millis(1); }
  Millis timeout() const override { return Millis(1000); }
  Status Collect(const CollectContext&, MetricsBuilder&) override {
    return Status::Error(Reason::kKafka, "down");
  }

 private:
  std::string name_;
};

// kafka_exporter_collector_errors_total{collector=...,reason="kafka"} per collector.
std::map<std::string, double> KafkaErrors(const std::string& text) {
  std::map<std::string, double> out;
  const std::string prefix = "kafka_exporter_collector_errors_total{collector=\"";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    size_t name_end = text.find('"', at + prefix.size());
    size_t line_end = text.find('\n', at);
    std::string line = text.substr(at, line_end - at);
    if (line.find("reason=\"kafka\"") == std::string::npos) continue;
    out[text.substr(at + prefix.size(), name_end - at - prefix.size())] =
        std::stod(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("runner: self metrics published by many collector threads never step back", "[runner][race]") {
  SnapshotStore store;
  SelfMetrics self;
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 8; ++i)
    collectors.push_back(std::make_unique<FailingCollector>("c" + std::to_string(i)));
  RetryConfig fast{Millis(1), Millis(1)};
  CollectorRunner runner(std::move(collectors), &store, &self, fast);
  REQUIRE(runner.Start().ok);
  std::map<std::string, double> last;
  int scrapes = 0, steps_back = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < until && scrapes < 200000) {
    for (const auto& [name, value] : KafkaErrors(Served(store))) {
      auto it = last.find(name);
      if (it != last.end() && value < it->second) ++steps_back;
      last[name] = value;
    }
    ++scrapes;
  }
  runner.Stop();
  INFO("scrapes " << scrapes);
  REQUIRE(last.size() == 8);
  for (const auto& [name, value] : last) CHECK(value > 10);  // the collectors really ran, many times
  CHECK(steps_back == 0);
}
