#pragma once
// Holds the latest rendered text of every collector. Publishing swaps an
// immutable shared string under a short lock; a scrape copies the pointers and
// renders without ever waiting on Kafka. Thread-safe.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dora {

class SnapshotStore {
 public:
  void Publish(const std::string& collector, std::string text);
  void Remove(const std::string& collector);
  void Clear();
  // Concatenation of every collector's latest text (collector-name order).
  std::string Render() const;
  // A generation number that changes on every publish (for caches of the render).
  uint64_t generation() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const std::string>> texts_;
  uint64_t generation_ = 0;
};

}  // namespace dora
