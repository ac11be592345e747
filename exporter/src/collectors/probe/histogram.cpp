#include "collectors/probe/histogram.h"

#include <algorithm>

namespace dora {

const std::vector<double>& ProbeLatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025,
                                              0.05,  0.1,    0.25,  0.5,    1,    2.5,    5,     10};
  return buckets;
}

LatencyHistogram::LatencyHistogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

void LatencyHistogram::Observe(double seconds) {
  // Buckets are "less than or equal" upper bounds.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  ++counts_[i];
  ++count_;
  sum_ += seconds;
}

std::vector<uint64_t> LatencyHistogram::Cumulative() const {
  std::vector<uint64_t> out(bounds_.size());
  uint64_t acc = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    acc += counts_[i];
    out[i] = acc;
  }
  return out;
}

}  // namespace dora
