#include "collectors/watermarks.h"

#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace dora {

WatermarkService::WatermarkService(std::shared_ptr<KafkaApi> kafka, std::shared_ptr<ClusterState> cluster,
                                   int partitions_per_request, Millis carry_for)
    : kafka_(std::move(kafka)),
      cluster_(std::move(cluster)),
      chunk_(partitions_per_request),
      carry_for_(carry_for) {}

Result<std::shared_ptr<const WatermarkSnapshot>> WatermarkService::Get(
    std::chrono::steady_clock::time_point not_before, std::chrono::steady_clock::time_point deadline) {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (latest_ && latest_->started >= not_before) return latest_;
  }
  auto fetched = Fetch(deadline);
  if (fetched.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    latest_ = fetched.value();
  }
  return fetched;
}

Result<std::shared_ptr<const WatermarkSnapshot>> WatermarkService::Fetch(
    std::chrono::steady_clock::time_point deadline) {
  auto snap = std::make_shared<WatermarkSnapshot>();
  snap->started = std::chrono::steady_clock::now();
  auto left = [&] {
    auto ms = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    return ms.count() > 0 ? ms : Millis(0);
  };
  // Partition list: the cluster collector's latest metadata if it is fresh
  // enough, else a Metadata request of our own.
  std::shared_ptr<const ClusterView> view = cluster_->Get();
  ClusterMetadata own;
  const ClusterMetadata* md = nullptr;
  if (view && snap->started - view->fetched_at < std::chrono::seconds(60)) {
    md = &view->metadata;
  } else {
    auto m = kafka_->Metadata(left());
    if (!m.ok()) return m.status();
    own = std::move(m.value());
    md = &own;
  }
  // Chunks never mix leaders: each call is then one ListOffsets request, and a
  // broker that stopped answering stalls only its own chunks.
  std::map<int32_t, std::vector<TopicPartition>> by_leader;
  for (const auto& t : md->topics) {
    snap->partitions_per_topic[t.name] = static_cast<int>(t.partitions.size());
    for (const auto& p : t.partitions) {
      // A leaderless partition would stall the whole call until its timeout.
      if (p.leader >= 0) by_leader[p.leader].push_back({t.name, p.id});
    }
  }
  // Chunks taken round-robin over the leaders, so that one leader's many
  // chunks do not queue up behind each other.
  std::vector<std::vector<TopicPartition>> chunks;
  std::vector<int32_t> chunk_leader;
  for (size_t i = 0;; i += static_cast<size_t>(chunk_)) {
    bool any = false;
    for (const auto& [leader, parts] : by_leader) {
      if (i >= parts.size()) continue;
      any = true;
      size_t end = std::min(parts.size(), i + static_cast<size_t>(chunk_));
      chunks.emplace_back(parts.begin() + static_cast<long>(i), parts.begin() + static_cast<long>(end));
      chunk_leader.push_back(leader);
    }
    if (!any) break;
  }
  for (const auto& [leader, parts] : by_leader) snap->requested += parts.size();
  // Partitions, and not one with a leader (the last broker in a controlled
  // shutdown): nothing can answer, which is a failure, not an empty cluster.
  size_t known = 0;
  for (const auto& [t, n] : snap->partitions_per_topic) known += static_cast<size_t>(n);
  if (snap->requested == 0 && known > 0)
    return Status::Error(Reason::kKafka, "ListOffsets: none of the " + std::to_string(known) +
                                             " partitions in the metadata has a leader");
  // Each call's own deadline: a dead leader costs at most half the budget,
  // and once one of its calls timed out it is not asked again this fetch.
  const Millis budget = left();
  auto call_timeout = [&] { return std::min(left(), std::max(Millis(1000), budget / 2)); };
  std::mutex dead_mu;
  std::set<int32_t> dead_leaders;
  // Latest and earliest of every chunk, a few calls at a time: each call is one
  // ListOffsets per leader broker, and blocks until all of them answered.
  struct Answer {
    Result<std::vector<PartitionOffset>> high = Status::Error(Reason::kTimeout, "not run");
    Result<std::vector<PartitionOffset>> low = Status::Error(Reason::kTimeout, "not run");
  };
  std::vector<Answer> answers(chunks.size());
  const size_t kParallel = 4;
  auto run = [&](const std::vector<size_t>& which) {
    for (size_t base = 0; base < which.size(); base += kParallel) {
      std::vector<std::future<void>> jobs;
      for (size_t k = base; k < std::min(which.size(), base + kParallel); ++k) {
        size_t i = which[k];
        jobs.push_back(std::async(std::launch::async, [&, i] {
          const int32_t leader = chunk_leader[i];
          {
            std::lock_guard<std::mutex> lock(dead_mu);
            if (dead_leaders.count(leader)) return;  // stays "not run": a timeout
          }
          answers[i].high = kafka_->ListOffsets(chunks[i], -1, call_timeout());
          if (!answers[i].high.ok() && answers[i].high.status().reason == Reason::kTimeout) {
            std::lock_guard<std::mutex> lock(dead_mu);
            dead_leaders.insert(leader);
            return;
          }
          answers[i].low = kafka_->ListOffsets(chunks[i], -2, call_timeout());
        }));
      }
      for (auto& j : jobs) j.wait();
    }
    snap->calls += which.size() * 2;
  };
  // A chunk answered with a broker error (not a timeout) is asked again, up to
  // twice, a moment later: right after a topic is created or a leader moves,
  // brokers answer NOT_LEADER_FOR_PARTITION until they know, and librdkafka
  // refreshes its leaders meanwhile.
  auto needs_retry = [](const Answer& a) {
    for (const auto* r : {&a.high, &a.low}) {
      if (!r->ok()) {
        if (r->status().reason != Reason::kTimeout) return true;
        continue;
      }
      for (const auto& po : r->value())
        if (po.error != 0) return true;
    }
    return false;
  };
  std::vector<size_t> pending(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) pending[i] = i;
  for (int attempt = 0; attempt < 3 && !pending.empty(); ++attempt) {
    if (attempt > 0) {
      if (left() < Millis(1000)) break;
      std::this_thread::sleep_for(Millis(300));
    }
    run(pending);
    std::vector<size_t> again;
    for (size_t i : pending)
      if (needs_retry(answers[i])) again.push_back(i);
    pending = std::move(again);
  }
  for (const auto& a : answers) {
    if (!a.high.ok() || !a.low.ok()) {
      const Status& failed = !a.high.ok() ? a.high.status() : a.low.status();
      snap->last_error = failed.message;
      snap->last_error_cause = failed.reason;
      continue;
    }
    for (const auto& po : a.high.value()) {
      if (po.error == 0 && po.offset >= 0) snap->partitions[po.tp].high = po.offset;
    }
    for (const auto& po : a.low.value()) {
      auto it = snap->partitions.find(po.tp);
      if (it != snap->partitions.end() && po.error == 0 && po.offset >= 0) it->second.low = po.offset;
    }
  }
  // Only complete answers count: a high without its low is dropped.
  for (auto it = snap->partitions.begin(); it != snap->partitions.end();) {
    it = it->second.low < 0 ? snap->partitions.erase(it) : std::next(it);
  }
  size_t total = 0;
  for (const auto& [t, n] : snap->partitions_per_topic) total += static_cast<size_t>(n);
  snap->failed = total - snap->partitions.size();
  snap->finished = std::chrono::steady_clock::now();
  snap->wall = std::chrono::system_clock::now();
  if (snap->failed > 0 && carry_for_.count() > 0) {
    std::shared_ptr<const WatermarkSnapshot> previous;
    {
      std::lock_guard<std::mutex> lock(mu_);
      previous = latest_;
    }
    Carry(previous.get(), *md, snap.get());
  }
  if (snap->partitions.empty() && snap->requested > 0)
    return Status::Error(Reason::kKafka, "ListOffsets: no partition answered: " + snap->last_error);
  return std::shared_ptr<const WatermarkSnapshot>(std::move(snap));
}

void WatermarkService::Carry(const WatermarkSnapshot* previous, const ClusterMetadata& md,
                             WatermarkSnapshot* snap) const {
  if (previous == nullptr) return;
  TopicPartition tp;
  for (const auto& t : md.topics) {
    tp.topic = t.name;
    for (const auto& p : t.partitions) {
      tp.partition = p.id;
      if (snap->partitions.count(tp)) continue;
      auto it = previous->partitions.find(tp);
      if (it == previous->partitions.end()) continue;
      auto c = previous->carried.find(tp);
      const auto answered = c == previous->carried.end() ? previous->finished : c->second;
      if (snap->finished - answered > carry_for_) continue;
      snap->partitions.emplace(tp, it->second);
      snap->carried.emplace(tp, answered);
    }
  }
}

}  // namespace dora
