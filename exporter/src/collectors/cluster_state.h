#pragma once
// The cluster collector's latest view of metadata and configs, shared with the
// other collectors (offsets, consumer groups) so they need not fetch metadata
// again. Readers get an immutable snapshot. Thread-safe.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "kafka/types.h"

namespace dora {

struct ClusterView {
  ClusterMetadata metadata;
  std::map<std::string, ConfigValues> topic_configs;  // effective topic configs (may lag metadata)
  std::map<int32_t, std::string> broker_racks;
  std::chrono::steady_clock::time_point fetched_at;
};

class ClusterState {
 public:
  void Set(std::shared_ptr<const ClusterView> view) {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = std::move(view);
  }
  std::shared_ptr<const ClusterView> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ClusterView> view_;
};

}  // namespace dora
