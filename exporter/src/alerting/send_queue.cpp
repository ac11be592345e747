#include "alerting/send_queue.h"

#include <iterator>

namespace dora::alerting {

size_t SendQueue::Push(std::vector<Item> items) {
  for (Item& item : items) {
    if (auto it = by_key_.find(item.key); it != by_key_.end()) {
      it->second->json = std::move(item.json);
      it->second->version = next_version_++;
      continue;
    }
    entries_.push_back({item.key, std::move(item.json), next_version_++});
    by_key_.emplace(std::move(item.key), std::prev(entries_.end()));
  }
  size_t dropped = 0;
  while (entries_.size() > capacity_) {
    by_key_.erase(entries_.front().key);
    entries_.pop_front();
    ++dropped;
  }
  return dropped;
}

SendQueue::Batch SendQueue::Front(size_t max) const {
  Batch b;
  b.body = "[";
  for (auto it = entries_.begin(); it != entries_.end() && b.ids.size() < max; ++it) {
    if (!b.ids.empty()) b.body += ',';
    b.body += it->json;
    b.ids.emplace_back(it->key, it->version);
  }
  b.body += ']';
  return b;
}

size_t SendQueue::Remove(const Batch& batch) {
  size_t removed = 0;
  for (const auto& [key, version] : batch.ids) {
    auto it = by_key_.find(key);
    if (it == by_key_.end() || it->second->version != version) continue;
    entries_.erase(it->second);
    by_key_.erase(it);
    ++removed;
  }
  return removed;
}

}  // namespace dora::alerting
