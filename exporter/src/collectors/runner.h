#pragma once
// CollectorRunner runs every collector on its own thread, on its own interval
// and timeout, and publishes each run's text to the SnapshotStore. A failing
// collector is retried with exponential backoff (retry.initial_backoff doubling
// up to retry.max_backoff, never longer than its interval... unless the interval
// is shorter than the initial backoff). Thread-safe Start/Stop from one owner.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerting/inputs.h"
#include "collectors/collector.h"
#include "metrics/self_metrics.h"
#include "metrics/snapshot_store.h"

namespace dora {

// Store entry of a collector's MetricsBuilder::Live() series: "<name>/live".
inline constexpr char kLiveSuffix[] = "/live";

// The tap of a run's builder for `sink` (before the collector renders), and
// the hand-over of its samples to the sink's RunInputs (after the publish):
// what the runner does around each run, also timed by bench/eval_bench.
void StartTap(MetricsBuilder& builder, const alerting::InputSink& sink);
void HandOver(MetricsBuilder& builder, alerting::RunInputs* run);

class CollectorRunner {
 public:
  CollectorRunner(std::vector<std::unique_ptr<Collector>> collectors, SnapshotStore* store, SelfMetrics* self,
                  RetryConfig retry);
  ~CollectorRunner();

  // The built-in alert evaluator: after each run's publish, the samples of
  // the families it taps (alerting/inputs.h). Set before Start; null: none.
  void SetInputSink(alerting::InputSink* sink) { sink_ = sink; }

  // Starts one thread per collector. If a thread cannot be created, the ones
  // already started are stopped again and the error returned (nothing runs).
  Status Start();
  // Signals every collector thread and joins them (a Kafka call in flight ends
  // within its own timeout).
  void Stop();
  // Runs every collector once, synchronously and in parallel (for --once).
  // Returns true when all succeeded.
  bool RunOnce();
  // True once every collector has finished its first run (for /ready).
  bool AllRanOnce() const;
  std::vector<std::string> names() const;

  // Delay before retrying after `failures` consecutive failures.
  static Millis Backoff(const RetryConfig& retry, Millis interval, int failures);

 private:
  struct Slot {
    std::unique_ptr<Collector> collector;
    std::thread thread;
    std::atomic<bool> ran_once{false};
    bool failing = false;
    int failures = 0;
    bool published = false;  // the last run's text is the one in the store
    // An entry "<name>/live" may be in the store: true at first, since a
    // runner that replaces another on reload finds its predecessor's entries.
    bool live = true;
  };
  // Returns success.
  bool RunOne(Slot& slot);
  void Loop(Slot& slot);

  std::vector<std::unique_ptr<Slot>> slots_;
  SnapshotStore* store_;
  SelfMetrics* self_;
  RetryConfig retry_;
  alerting::InputSink* sink_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool started_ = false;
};

}  // namespace dora
