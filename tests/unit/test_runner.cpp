// CollectorRunner with scripted collectors: what a run publishes, and the
// KeepPublished hand-off that lets an unchanged collector skip rendering.
#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/runner.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

using namespace dora;

namespace {

// One scripted step per run: render `value`, keep the published text, or fail.
struct Step {
  enum Kind { kRender, kKeep, kFail } kind = kRender;
  int value = 0;
};

class ScriptedCollector : public Collector {
 public:
  ScriptedCollector(std::deque<Step> steps, std::vector<bool>* saw_previous)
      : steps_(std::move(steps)), saw_previous_(saw_previous) {}
  std::string name() const override { return "scripted"; }
  Millis interval() const override { return Millis(1000); }
  Millis timeout() const override { return Millis(5000); }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override {
    saw_previous_->push_back(ctx.previous_published);
    Step s = steps_.front();
    steps_.pop_front();
    if (s.kind == Step::kFail) return Status::Error("kafka", "broker down");
    MetricsBuilder& live = out.Live();
    live.Add(live.Family("scripted_run", "Runs so far.", MetricType::kGauge), {}, ++runs_);
    if (s.kind == Step::kKeep && ctx.previous_published) {
      out.KeepPublished();
      return Status::Ok();
    }
    auto f = out.Family("scripted_value", "A scripted value.", MetricType::kGauge);
    out.Add(f, {{"run", "x"}}, s.value);
    return Status::Ok();
  }

 private:
  std::deque<Step> steps_;
  std::vector<bool>* saw_previous_;
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
