#pragma once
// One Alertmanager's queue of alerts waiting to be sent (alerting/notifier.h):
// bounded, the oldest dropped first, and keyed by alert identity: a newer
// version of an alert still waiting replaces the older one in place (what
// Alertmanager would keep anyway), so an Alertmanager that was down receives
// each alert's latest state once it is back, not a backlog of stale ones.
// Not thread-safe: its owner locks.
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dora::alerting {

class SendQueue {
 public:
  struct Item {
    std::string key;   // the alert's identity (its labels)
    std::string json;  // one element of the POST /api/v2/alerts array
  };
  // A batch taken from the front; its alerts stay queued until Remove().
  struct Batch {
    std::vector<std::pair<std::string, uint64_t>> ids;  // (key, version) of each alert
    std::string body;                                   // the JSON array
    size_t size() const { return ids.size(); }
  };

  explicit SendQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Adds each item at the back, or replaces the waiting one with its key.
  // Returns how many of the oldest were dropped to stay within capacity.
  size_t Push(std::vector<Item> items);
  // Up to `max` alerts from the front.
  Batch Front(size_t max) const;
  // Removes the batch's alerts that were not replaced since Front(); returns
  // how many were removed (the replaced ones wait for their next send).
  size_t Remove(const Batch& batch);
  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    std::string json;
    uint64_t version;
  };
  size_t capacity_;
  uint64_t next_version_ = 1;
  std::list<Entry> entries_;  // oldest first
  std::unordered_map<std::string, std::list<Entry>::iterator> by_key_;
};

}  // namespace dora::alerting
