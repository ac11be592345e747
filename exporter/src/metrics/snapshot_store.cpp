#include "metrics/snapshot_store.h"

namespace dora {

void SnapshotStore::Publish(const std::string& collector, std::string text) {
  auto ptr = std::make_shared<const std::string>(std::move(text));
  std::lock_guard<std::mutex> lock(mu_);
  texts_[collector] = std::move(ptr);
  ++generation_;
}

void SnapshotStore::Remove(const std::string& collector) {
  std::lock_guard<std::mutex> lock(mu_);
  texts_.erase(collector);
  ++generation_;
}

void SnapshotStore::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  texts_.clear();
  ++generation_;
}

std::string SnapshotStore::Render() const {
  std::vector<std::shared_ptr<const std::string>> parts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    parts.reserve(texts_.size());
    for (const auto& kv : texts_) parts.push_back(kv.second);
  }
  size_t total = 0;
  for (const auto& p : parts) total += p->size();
  std::string out;
  out.reserve(total);
  for (const auto& p : parts) out += *p;
  return out;
}

uint64_t SnapshotStore::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

}  // namespace dora
