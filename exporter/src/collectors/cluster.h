#pragma once
// cluster: brokers, controller, topics and per-partition health.
//
// Exports kafka_brokers, kafka_broker_info, kafka_cluster_controller_id,
// kafka_topic_partitions, kafka_topic_partition_{leader,replicas,in_sync_replica,
// leader_is_preferred,under_replicated_partition,offline}, kafka_cluster_partition_
// {atminisr,underminisr}, per-topic and cluster counts of each, broker leadership
// and preferred-leader imbalance, kafka_topic_info, under-replicated durations,
// ISR shrink/expand counters, and kafka_brokers_expected (from the config, when set).
//
// Requests per run: 1 Metadata (all topics). Every config_refresh_interval (and
// for new topics): 1 DescribeConfigs for the topics, 1 DescribeConfigs per broker
// (in parallel, each bounded by a quarter of the timeout).
// ACLs: DESCRIBE on Cluster, DESCRIBE and DESCRIBE_CONFIGS on topics,
// DESCRIBE_CONFIGS on Cluster (for broker.rack; optional).
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "collectors/cluster_state.h"
#include "collectors/collector.h"
#include "config/topics_spec.h"
#include "kafka/api.h"

namespace dora {

// Pure part: renders the series for a view. `state` carries the per-partition
// memory needed for durations and ISR shrink/expand counts across polls.
struct ClusterHealthState {
  struct PartitionMemory {
    bool known = false;  // seen in the previous poll
    bool under_replicated = false;
    uint32_t isr_size = 0;
    std::chrono::steady_clock::time_point under_since;
  };
  // Per topic, indexed by partition id: one lookup per topic and poll (the
  // metadata's topic order is not sorted), not a node and a string per
  // partition (20,000 at the bench's L).
  std::unordered_map<std::string, std::vector<PartitionMemory>> topics;
  int under_replicated = 0;  // partitions under-replicated in the view last rendered
  uint64_t isr_shrinks = 0;
  uint64_t isr_expands = 0;
};
void RenderClusterView(const ClusterView& view, std::chrono::steady_clock::time_point now,
                       ClusterHealthState* state, MetricsBuilder& out);

class ClusterCollector : public Collector {
 public:
  ClusterCollector(ClusterCollectorConfig config, std::shared_ptr<KafkaApi> kafka,
                   std::shared_ptr<ClusterState> state);
  std::string name() const override { return "cluster"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

 private:
  void RefreshConfigs(const CollectContext& ctx, const ClusterMetadata& md);

  ClusterCollectorConfig config_;
  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<ClusterState> state_;
  std::map<std::string, ConfigValues> topic_configs_;
  std::map<int32_t, std::string> racks_;
  std::chrono::steady_clock::time_point last_refresh_{};
  bool refreshed_once_ = false;
  ClusterHealthState health_;
  std::optional<TopicsSpec> expected_topics_;
  // The view of this collector's last successful run: the runner is serving
  // the text made from it (a failed run's text is dropped, and then this is
  // null). The keep decision compares with it (Collect).
  std::shared_ptr<const ClusterView> served_;
};

}  // namespace dora
