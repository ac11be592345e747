#pragma once
// The probe's latency histograms: fixed buckets around the 10 ms objective.
#include <cstdint>
#include <vector>

namespace dora {

// Upper bounds (seconds) of both probe histograms (docs/metrics.md):
// fine around the 10 ms objective, up to the default 10 s SLA.
const std::vector<double>& ProbeLatencyBuckets();

// A fixed-bucket histogram. Not thread-safe (ProbeTracker locks around it).
class LatencyHistogram {
 public:
  explicit LatencyHistogram(const std::vector<double>& bounds = ProbeLatencyBuckets());
  void Observe(double seconds);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<uint64_t> Cumulative() const;  // per bound, without +Inf
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, last one is +Inf
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace dora
