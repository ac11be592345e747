#pragma once
// offsets: per-partition watermarks and throughput.
//
// Exports kafka_topic_partition_current_offset (high watermark),
// kafka_topic_partition_oldest_offset (log start), messages-in per second per
// partition, topic and cluster over collectors.offsets.rate_window, and the
// inflow of dead-letter topics (collectors.offsets.dlq_topics). The cluster
// rate is the platform's own messages: internal topics (IsInternalTopic) have
// their own kafka_cluster_internal_messages_in_per_second.
//
// Requests per run: ListOffsets (latest and earliest) per leader broker per
// chunk of partitions_per_request partitions — shared with consumer_groups
// through WatermarkService, so a cycle makes them once. Metadata comes from the
// cluster collector. ACLs: DESCRIBE on the topics.
#include <map>
#include <memory>
#include <regex>
#include <vector>

#include "collectors/collector.h"
#include "collectors/watermarks.h"
#include "util/name_filter.h"

namespace dora {

// Kafka's internal topics (__consumer_offsets, __transaction_state,
// __share_group_state) and ours (the probe's __dora_kafka_exporter_probe):
// the "__" prefix Kafka reserves for them.
bool IsInternalTopic(const std::string& topic);

// Per-partition (time, high watermark) history for rates over a window. Pure.
class RateTracker {
 public:
  explicit RateTracker(Millis window) : window_(window) {}
  // Adds a sample; a watermark that went down (topic recreated) restarts the history.
  void Add(const TopicPartition& tp, std::chrono::steady_clock::time_point t, int64_t high);
  // Messages per second over the window; nullopt with fewer than two samples.
  std::optional<double> Rate(const TopicPartition& tp) const;
  // Forgets partitions of topics not in `live`.
  void Retain(const std::map<std::string, int>& live);
  size_t size() const { return history_.size(); }

 private:
  Millis window_;
  // A vector per partition, oldest first: a handful of samples each, and a
  // std::deque costs ~600 bytes even when nearly empty (20k partitions).
  std::map<TopicPartition, std::vector<std::pair<std::chrono::steady_clock::time_point, int64_t>>> history_;
};

class OffsetsCollector : public Collector {
 public:
  OffsetsCollector(OffsetsCollectorConfig config, std::shared_ptr<WatermarkService> watermarks);
  std::string name() const override { return "offsets"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

 private:
  OffsetsCollectorConfig config_;
  std::shared_ptr<WatermarkService> watermarks_;
  NameFilter topics_;
  std::regex dlq_;
  RateTracker rates_;
  std::chrono::steady_clock::time_point last_sample_{};
};

}  // namespace dora
