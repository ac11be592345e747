#include "kafka/offsets_topic.h"

namespace dora {

void CommittedOffsetsTable::Apply(const OffsetsTopicRecord& r) {
  if (r.kind != OffsetsRecordKind::kOffsetCommit) return;
  if (r.tombstone) {
    auto g = groups_.find(r.group);
    if (g == groups_.end()) return;
    auto t = g->second.find(r.topic);
    if (t == g->second.end()) return;
    partitions_ -= t->second.erase(r.partition);
    if (t->second.empty()) g->second.erase(t);
    if (g->second.empty()) groups_.erase(g);
    return;
  }
  auto& parts = groups_[r.group][r.topic];
  auto [it, added] = parts.insert_or_assign(r.partition, r.offset);
  (void)it;
  partitions_ += added;
}

std::vector<GroupOffsets> CommittedOffsetsTable::Committed(const std::vector<std::string>& groups) const {
  std::vector<GroupOffsets> out;
  out.reserve(groups.size());
  for (const auto& name : groups) {
    GroupOffsets& o = out.emplace_back();
    o.group = name;
    auto g = groups_.find(name);
    if (g == groups_.end()) continue;
    size_t n = 0;
    for (const auto& [topic, parts] : g->second) n += parts.size();
    o.topics.reserve(g->second.size());
    o.committed.reserve(n);
    for (const auto& [topic, parts] : g->second) {
      const auto index = static_cast<uint32_t>(o.topics.size());
      o.topics.push_back(topic);
      for (const auto& [partition, offset] : parts) o.committed.push_back({index, partition, offset});
    }
  }
  return out;
}

}  // namespace dora
