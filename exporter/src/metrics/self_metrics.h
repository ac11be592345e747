#pragma once
// The daemon's own metrics, kept in a prometheus-cpp Registry (few series,
// updated from several threads: what prometheus-cpp serves well). Thread-safe.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "util/duration.h"

namespace dora {

// The SnapshotStore entry holding the self metrics: '_' sorts before every
// collector name, so they open the exposition as before.
inline constexpr char kSelfEntry[] = "_self";

class SelfMetrics {
 public:
  SelfMetrics();
  // Records one collector run: success, duration, last success time, and an
  // errors_total{reason} increment on failure.
  void RecordRun(const std::string& collector, bool success, const std::string& reason,
                 double duration_seconds);
  // Registers a collector so its series exist (success 0) before its first run.
  void Declare(const std::string& collector);
  void RecordReload(bool success);
  // Counter for negative lag values clamped to zero (consumer_groups).
  prometheus::Counter& lag_clamped() { return *lag_clamped_; }
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* success_;
  prometheus::Family<prometheus::Gauge>* duration_;
  prometheus::Family<prometheus::Gauge>* last_success_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_ts_;
  prometheus::Counter* lag_clamped_;
};

}  // namespace dora
