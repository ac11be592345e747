#include "collectors/mirror/state.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace dora::mirror {

std::string RemoteTopic(const MirrorFlow& flow, const std::string& topic) {
  if (flow.replication_policy == "identity") return topic;
  return flow.source + flow.separator + topic;
}

std::optional<std::string> UpstreamTopic(const MirrorFlow& flow, const std::string& remote) {
  if (flow.replication_policy == "identity") return remote;
  const std::string prefix = flow.source + flow.separator;
  if (remote.size() <= prefix.size() || remote.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return remote.substr(prefix.size());
}

std::string OffsetSyncsTopic(const MirrorFlow& flow) {
  return flow.offset_syncs_topic.empty() ? "mm2-offset-syncs." + flow.target + ".internal"
                                         : flow.offset_syncs_topic;
}

std::string CheckpointsTopic(const MirrorFlow& flow) {
  return flow.checkpoints_topic.empty() ? flow.source + ".checkpoints.internal" : flow.checkpoints_topic;
}

void SyncStore::Add(const OffsetSync& s, int64_t timestamp_ms) {
  auto& list = syncs_[{s.topic, s.partition}];
  // MM2 restarting or a truncated downstream topic: a sync below the ones
  // known replaces those above it, as MM2's own translation does.
  while (!list.empty() && list.back().upstream >= s.upstream_offset) list.pop_back();
  list.push_back({s.upstream_offset, s.downstream_offset, timestamp_ms});
  while (list.size() > kHistory) list.pop_front();
}

const SyncStore::Entry* SyncStore::Latest(const std::string& topic, int32_t partition) const {
  auto it = syncs_.find({topic, partition});
  if (it == syncs_.end() || it->second.empty()) return nullptr;
  return &it->second.back();
}

std::optional<int64_t> SyncStore::Translate(const std::string& topic, int32_t partition,
                                            int64_t upstream) const {
  auto it = syncs_.find({topic, partition});
  if (it == syncs_.end()) return std::nullopt;
  const Entry* best = nullptr;
  for (const auto& e : it->second) {
    if (e.upstream <= upstream) best = &e;
  }
  if (best == nullptr) return std::nullopt;
  return best->downstream + (upstream - best->upstream);
}

const std::vector<double>& MirrorLatencyBuckets() {
  static const std::vector<double> b = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return b;
}

void ProbeLedger::Sent(uint64_t seq, Clock::time_point at) {
  std::lock_guard<std::mutex> l(mu_);
  pending_[seq] = at;
  ++sent_;
}

void ProbeLedger::ProduceFailed(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  if (pending_.erase(seq) > 0) ++produce_errors_;
}

void ProbeLedger::Seen(uint64_t seq, Clock::time_point at) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;  // seen before, expired, or not ours
  const double s = std::chrono::duration<double>(at - it->second).count();
  histogram_.Observe(std::max(0.0, s));
  last_latency_ = std::max(0.0, s);
  pending_.erase(it);
}

void ProbeLedger::Expire(Clock::time_point now, std::chrono::milliseconds timeout) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second > timeout) {
      ++missing_;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

ProbeLedger::View ProbeLedger::Snapshot(Clock::time_point now) const {
  std::lock_guard<std::mutex> l(mu_);
  View v;
  v.cumulative = histogram_.Cumulative();
  v.sum = histogram_.sum();
  v.count = histogram_.count();
  v.sent = sent_;
  v.produce_errors = produce_errors_;
  v.missing = missing_;
  v.last_latency_seconds = last_latency_;
  for (const auto& [seq, at] : pending_) {
    v.oldest_pending_seconds =
        std::max(v.oldest_pending_seconds, std::chrono::duration<double>(now - at).count());
  }
  return v;
}

std::string ProbePayload(uint64_t instance, uint64_t seq) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "dora-mirror-probe %016" PRIx64 " %" PRIu64, instance, seq);
  return buf;
}

std::optional<uint64_t> ParseProbePayload(const std::string& payload, uint64_t instance) {
  unsigned long long inst = 0;
  unsigned long long seq = 0;
  char tail = 0;
  if (payload.size() > 100) return std::nullopt;
  if (std::sscanf(payload.c_str(), "dora-mirror-probe %16llx %20llu%c", &inst, &seq, &tail) != 2)
    return std::nullopt;
  if (inst != instance) return std::nullopt;
  return static_cast<uint64_t>(seq);
}

}  // namespace dora::mirror
