#pragma once
// The probe's accounting and its metrics: every message sent resolves once,
// and Render() writes the kafka_probe_* families.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "collectors/probe/histogram.h"
#include "metrics/builder.h"
#include "util/duration.h"

namespace dora {

// The probe's accounting. Each message resolves once: success (received
// within the SLA), produce error, or lost (acknowledged but not received within
// the SLA, or skipped by the consumer: a later offset arrived first).
// kafka_probe_attempts_total counts resolved messages, so failures <= attempts
// over any window. Thread-safe.
class ProbeTracker {
 public:
  using Clock = std::chrono::steady_clock;
  ProbeTracker(Millis sla, Millis window);

  void Sent(int32_t partition, uint64_t seq, const std::string& broker, Clock::time_point now);
  // `broker` "" keeps the label given at Sent (the leader the message went to).
  void Delivered(int32_t partition, uint64_t seq, bool ok, const std::string& broker, double latency_seconds,
                 int64_t offset, Clock::time_point now);
  void Received(int32_t partition, uint64_t seq, int64_t offset, double e2e_seconds, Clock::time_point now);
  // Resolves messages past the SLA; drops bookkeeping that can no longer change.
  void Sweep(Clock::time_point now);

  void Render(MetricsBuilder& out, Clock::time_point now) const;

  struct Counters {
    uint64_t attempts = 0, failures = 0, lost = 0, received = 0, produced = 0, produce_errors = 0;
    size_t pending = 0;
  };
  Counters counters() const;
  // Successes / resolved attempts over the window; nullopt when none resolved.
  std::optional<double> SuccessRatio(Clock::time_point now) const;

 private:
  struct Pending {
    Clock::time_point sent;
    std::string broker;
    bool delivered = false;  // a delivery report came
    bool acked = false;      // ... and it was a success
    int64_t offset = -1;
    bool received = false;
    bool resolved = false;
  };
  using Key = std::pair<int32_t, uint64_t>;
  void Resolve(Pending& p, bool ok, Clock::time_point now);
  int64_t Second(Clock::time_point t) const;
  std::optional<double> RatioLocked(Clock::time_point now) const;

  Millis sla_;
  Millis window_;
  mutable std::mutex mu_;
  std::map<Key, Pending> pending_;
  std::map<std::string, LatencyHistogram> produce_latency_;
  std::map<int32_t, LatencyHistogram> e2e_latency_;
  std::map<std::string, uint64_t> produced_, produce_errors_;
  Counters c_;
  std::deque<std::pair<int64_t, std::pair<uint64_t, uint64_t>>> window_buckets_;  // second -> (ok, fail)
  Clock::time_point epoch_ = Clock::now();
};

}  // namespace dora
