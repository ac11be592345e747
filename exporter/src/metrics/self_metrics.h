#pragma once
// The daemon's own metrics, kept in a prometheus-cpp Registry (few series,
// updated from several threads: what prometheus-cpp serves well). Thread-safe.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/snapshot_store.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

// The SnapshotStore entry holding the self metrics: '_' sorts before every
// collector name, so they open the exposition as before.
inline constexpr char kSelfEntry[] = "_self";

class SelfMetrics {
 public:
  SelfMetrics();
  // Records one collector run: success, duration, last success time, and on
  // failure an errors_total{reason} increment and whether the run published
  // partial data.
  void RecordRun(const std::string& collector, const Status& status, double duration_seconds);
  // Registers a collector so its series exist (success 0) before its first run.
  void Declare(const std::string& collector);
  void RecordReload(bool success);
  // A live reload of the web config file: applied, or refused/invalid.
  void RecordWebConfigReload(bool success);
  // kafka_exporter_shard_info{index, count}: the shard this daemon is
  // (0 of 1 without sharding); a reload may change it.
  void SetShard(int index, int count);
  // Counter for negative lag values clamped to zero (consumer_groups).
  prometheus::Counter& lag_clamped() { return *lag_clamped_; }
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  std::string Render() const;
  // Publishes `entries` and a fresh Render() in one store generation. Calls
  // are serialized, render and publish together, so a later call never
  // publishes an older rendering: no scrape sees a counter step back.
  void PublishTo(SnapshotStore* store,
                 std::vector<std::pair<std::string, std::vector<std::string>>> entries = {});

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>* success_;
  prometheus::Family<prometheus::Gauge>* duration_;
  prometheus::Family<prometheus::Gauge>* last_success_;
  prometheus::Family<prometheus::Counter>* errors_;
  prometheus::Family<prometheus::Gauge>* partial_;
  prometheus::Family<prometheus::Gauge>* shard_;
  prometheus::Gauge* shard_series_ = nullptr;
  prometheus::Gauge* reload_ok_;
  prometheus::Gauge* reload_ts_;
  prometheus::Counter* lag_clamped_;
  prometheus::Gauge* web_reload_ok_;
  prometheus::Gauge* web_reload_ts_;
  std::mutex publish_mu_;
};

}  // namespace dora
