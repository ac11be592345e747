#include "collectors/offsets.h"

#include <algorithm>

#include "metrics/catalogue.h"

namespace dora {

bool IsInternalTopic(const std::string& topic) { return topic.rfind("__", 0) == 0; }

void RateTracker::Add(const TopicPartition& tp, std::chrono::steady_clock::time_point t, int64_t high) {
  auto& h = history_[tp];
  if (!h.empty() && high < h.back().second) h.clear();  // recreated topic: no carry-over
  if (!h.empty() && t <= h.back().first) return;
  h.emplace_back(t, high);
  // Keep one sample at or before the window's start as the rate's base.
  size_t drop = 0;
  while (h.size() - drop > 2 && t - h[drop + 1].first >= window_) ++drop;
  h.erase(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(drop));
}

std::optional<double> RateTracker::Rate(const TopicPartition& tp) const {
  auto it = history_.find(tp);
  if (it == history_.end() || it->second.size() < 2) return std::nullopt;
  const auto& h = it->second;
  double secs = std::chrono::duration<double>(h.back().first - h.front().first).count();
  if (secs <= 0) return std::nullopt;
  return static_cast<double>(h.back().second - h.front().second) / secs;
}

void RateTracker::Retain(const std::map<std::string, int>& live) {
  for (auto it = history_.begin(); it != history_.end();) {
    auto t = live.find(it->first.topic);
    bool keep = t != live.end() && it->first.partition < t->second;
    it = keep ? std::next(it) : history_.erase(it);
  }
}

OffsetsCollector::OffsetsCollector(OffsetsCollectorConfig config,
                                   std::shared_ptr<WatermarkService> watermarks)
    : config_(std::move(config)),
      watermarks_(std::move(watermarks)),
      topics_(config_.topics),
      dlq_(config_.dlq_topics, std::regex::ECMAScript),
      rates_(config_.rate_window) {}

std::optional<WriteSkew> ComputeWriteSkew(const std::vector<double>& partition_rates) {
  if (partition_rates.size() < 2) return std::nullopt;
  double sum = 0, max = 0;
  for (double r : partition_rates) {
    sum += r;
    max = std::max(max, r);
  }
  if (!(sum > 0)) return std::nullopt;
  const double mean = sum / static_cast<double>(partition_rates.size());
  return WriteSkew{max / mean, max / sum};
}

std::map<int32_t, double> LeaderWriteShares(const std::map<TopicPartition, double>& rates,
                                            const ClusterMetadata& metadata) {
  std::map<int32_t, double> led;
  for (const auto& b : metadata.brokers) led[b.id] = 0;
  double total = 0;
  TopicPartition tp;
  for (const auto& t : metadata.topics) {
    tp.topic = t.name;
    for (const auto& p : t.partitions) {
      tp.partition = p.id;
      auto r = rates.find(tp);
      if (r == rates.end() || p.leader < 0) continue;
      led[p.leader] += r->second;
      total += r->second;
    }
  }
  if (!(total > 0)) return {};
  for (auto& kv : led) kv.second /= total;
  return led;
}

Status OffsetsCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  // A fetch the consumer_groups collector made within our interval is as fresh
  // as one we would make ourselves; reuse it rather than ask Kafka twice.
  auto snap_r = watermarks_->Get(std::chrono::steady_clock::now() - config_.interval, ctx.deadline);
  if (!snap_r.ok()) return snap_r.status();
  const WatermarkSnapshot& snap = *snap_r.value();
  bool new_sample = snap.finished != last_sample_;
  last_sample_ = snap.finished;
  auto current = out.Family(DORA_METRIC("kafka_topic_partition_current_offset"));
  auto oldest = out.Family(DORA_METRIC("kafka_topic_partition_oldest_offset"));
  auto p_rate = out.Family(DORA_METRIC("kafka_topic_partition_messages_in_per_second"));
  auto t_rate = out.Family(DORA_METRIC("kafka_topic_messages_in_per_second"));
  auto c_rate = out.Family(DORA_METRIC("kafka_cluster_messages_in_per_second"));
  auto c_internal_rate = out.Family(DORA_METRIC("kafka_cluster_internal_messages_in_per_second"));
  auto stale = out.Family(DORA_METRIC("kafka_topic_partition_watermarks_stale_seconds"));
  auto dlq_rate = out.Family(DORA_METRIC("kafka_topic_dlq_messages_in_per_second"));
  auto skew = out.Family(DORA_METRIC("kafka_topic_partition_write_skew"));
  auto hottest = out.Family(DORA_METRIC("kafka_topic_hottest_partition_write_share"));
  auto broker_share = out.Family(DORA_METRIC("kafka_broker_leader_write_share"));
  auto hot_threshold = out.Family(DORA_METRIC("kafka_topic_hot_partition_share_threshold"));

  {
    // Capacity for the per-partition families (regrowing large strings costs more than filling them).
    size_t n = snap.partitions.size(), label_bytes = 0;
    for (const auto& kv : snap.partitions) label_bytes += kv.first.topic.size();
    for (auto f : {current, oldest, p_rate}) out.Reserve(f, n, n * 96 + label_bytes);
  }
  rates_.Retain(snap.partitions_per_topic);
  std::map<std::string, double> topic_rates;
  std::map<std::string, std::vector<double>> partition_rates;  // per topic, for the skew
  std::map<TopicPartition, double> platform_rates;  // non-internal partitions, for the leader shares
  std::string pbuf;
  bool any_rate = false, any_internal_rate = false;
  double cluster_rate = 0, internal_rate = 0;
  for (const auto& [tp, wm] : snap.partitions) {
    if (!topics_.Matches(tp.topic)) continue;
    pbuf = std::to_string(tp.partition);
    out.Add(current, {{"topic", tp.topic}, {"partition", pbuf}}, static_cast<double>(wm.high));
    out.Add(oldest, {{"topic", tp.topic}, {"partition", pbuf}}, static_cast<double>(wm.low));
    if (auto c = snap.carried.find(tp); c != snap.carried.end()) {
      // An old answer: no rate from it (it would read as no traffic).
      out.Add(stale, {{"topic", tp.topic}, {"partition", pbuf}},
              std::chrono::duration<double>(snap.finished - c->second).count());
      continue;
    }
    if (new_sample) rates_.Add(tp, snap.finished, wm.high);
    if (auto r = rates_.Rate(tp)) {
      out.Add(p_rate, {{"topic", tp.topic}, {"partition", pbuf}}, *r);
      topic_rates[tp.topic] += *r;
      partition_rates[tp.topic].push_back(*r);
      if (IsInternalTopic(tp.topic)) {
        internal_rate += *r;
        any_internal_rate = true;
      } else {
        cluster_rate += *r;
        any_rate = true;
        platform_rates.emplace(tp, *r);
      }
    }
  }
  for (const auto& [topic, r] : topic_rates) {
    out.Add(t_rate, {{"topic", topic}}, r);
    if (std::regex_search(topic, dlq_)) out.Add(dlq_rate, {{"topic", topic}}, r);
  }
  if (any_rate) out.Add(c_rate, {}, cluster_rate);
  if (any_internal_rate) out.Add(c_internal_rate, {}, internal_rate);

  // Hot partitions. A topic with a partition without a rate (carried, new,
  // leaderless) has no skew: the missing one could be the hottest.
  for (const auto& [topic, rates] : partition_rates) {
    auto n = snap.partitions_per_topic.find(topic);
    if (n == snap.partitions_per_topic.end() || static_cast<size_t>(n->second) != rates.size()) continue;
    if (auto s = ComputeWriteSkew(rates)) {
      out.Add(skew, {{"topic", topic}}, s->skew);
      out.Add(hottest, {{"topic", topic}}, s->hottest_share);
    }
  }
  if (auto view = watermarks_->cluster() ? watermarks_->cluster()->Get() : nullptr) {
    std::string bbuf;
    for (const auto& [broker, share] : LeaderWriteShares(platform_rates, view->metadata)) {
      bbuf = std::to_string(broker);
      out.Add(broker_share, {{"broker", bbuf}}, share);
    }
  }
  out.Add(hot_threshold, {}, config_.hot_partition_share);
  if (!snap.last_error.empty()) {
    return Status::Partial(snap.last_error_cause, "some partitions have no watermarks: " + snap.last_error);
  }
  return Status::Ok();
}

}  // namespace dora
