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
// Hot partitions, from the same rates: per topic the write skew (hottest
// partition over the mean) and the hottest partition's share, once every
// partition of the topic has a rate and the topic has writes and at least two
// partitions; per broker the share of the cluster's writes to partitions it
// leads (leaders from the cluster collector's metadata); and
// kafka_topic_hot_partition_share_threshold (collectors.offsets.
// hot_partition_share, the alert's threshold).
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

// One topic's write skew from its partitions' rates (every partition's).
// nullopt with fewer than two partitions or no writes. Pure.
struct WriteSkew {
  double skew = 0;           // hottest partition's rate over the mean: 1 even, N all in one of N
  double hottest_share = 0;  // hottest partition's rate over the topic's
};
std::optional<WriteSkew> ComputeWriteSkew(const std::vector<double>& partition_rates);

// Each broker's share of the writes to the partitions it leads, over all
// partitions in `rates` whose leader the metadata names (every broker of the
// metadata, 0 for those leading no written partition). Empty without writes.
std::map<int32_t, double> LeaderWriteShares(const std::map<TopicPartition, double>& rates,
                                            const ClusterMetadata& metadata);

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
