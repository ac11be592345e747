#pragma once
// consumer_groups: group state, members, committed offsets, lag in messages
// and seconds, Burrow-style status, data loss, consumption rate.
//
// Exports kafka_consumergroup_{current_offset,current_offset_sum,lag,lag_sum,
// members,info,lag_seconds,max_lag,max_lag_seconds,status,partition_status,
// uncommitted_partitions,expired_messages,consumed_messages_per_second,
// lag_retention_ratio,retention_time_left_seconds} and
// kafka_sharegroup_info (share groups stay out of every other family), and
// with lag_exporter_metrics kafka-lag-exporter's kafka_consumergroup_group_*
// and kafka_partition_{latest,earliest}_offset families.
//
// Requests per run: ListGroups + DescribeGroups per broker (or, while a broker
// is down, ListGroups v4 and DescribeGroups per group), FindCoordinator +
// OffsetFetch per group (KafkaApi::FetchCommittedOffsets,
// max_in_flight at once), then the watermarks (shared with offsets) — always
// fetched after the committed offsets, so lag is never negative by race.
//
// A broker outage costs only what that broker serves: the three phases have
// deadlines of their own (listing by 60% of the timeout, offsets by 80%, the
// rest for the watermarks), and a group its coordinator did not list,
// describe or answer for keeps its last description and committed offsets for
// collectors.consumer_groups.carry_for, counted per group in
// kafka_consumergroup_stale_partitions (with the partitions whose watermarks
// are carried). Such a run publishes with success 0 ("partial").
// ACLs: DESCRIBE on the groups and topics, DESCRIBE on Cluster.
//
// Files: the runs (listing, offsets, carrying) here in consumer_groups.cpp;
// Render in consumer_groups_render.cpp (per run and per group) and
// consumer_groups_partitions.cpp (the walk over a group's partitions), with
// their shared state in consumer_groups_render.h.
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "collectors/cluster_state.h"
#include "collectors/collector.h"
#include "collectors/lag_model.h"
#include "collectors/watermarks.h"
#include "kafka/api.h"
#include "kafka/offsets_topic.h"
#include "metrics/self_metrics.h"
#include "util/name_filter.h"

namespace dora {

// What one run saw: input to the pure renderer.
struct GroupsObservation {
  GroupListing listing;
  std::vector<GroupOffsets> offsets;  // same order as the groups it was asked for
  // Groups whose committed offsets (and description) are an earlier run's:
  // their coordinator did not answer this time (see carry_for).
  std::set<std::string> carried;
  std::shared_ptr<const WatermarkSnapshot> watermarks;
  SteadyTime now;
  // The cluster collector's latest view, for the topics' retention.ms
  // (kafka_consumergroup_lag_retention_ratio); may be null.
  std::shared_ptr<const ClusterView> cluster;
};

class ConsumerGroupsCollector : public Collector {
 public:
  // `rate_window` is collectors.offsets.rate_window (one window for all rates).
  ConsumerGroupsCollector(ConsumerGroupsCollectorConfig config, Millis rate_window,
                          std::shared_ptr<KafkaApi> kafka, std::shared_ptr<WatermarkService> watermarks,
                          SelfMetrics* self);
  std::string name() const override { return "consumer_groups"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;
  // Takes only the groups of shard `index` of `count` (util/shard.h), and
  // leaves the topic series (kafka_partition_*_offset) to shard 0.
  void SetShard(int index, int count) {
    shard_index_ = index;
    shard_count_ = count;
  }
  // offsets_source offsets_topic: committed offsets come from `source` once
  // it has caught up (from OffsetFetch before), and /ready waits for that.
  // Set before the first run.
  void SetOffsetsSource(std::shared_ptr<CommittedOffsetsSource> source) {
    offsets_source_ = std::move(source);
  }
  bool Ready() const override { return !offsets_source_ || offsets_source_->Progress().caught_up; }

  // Renders one observation and advances the per-partition state (exposed for
  // tests); consumer_groups_render.cpp. Its one effect outside `out`:
  // negative lags reported as 0 are counted in the self metric
  // kafka_exporter_lag_negative_clamped_total.
  void Render(const GroupsObservation& obs, MetricsBuilder& out);

 private:
  // The reader's progress (offsets_source offsets_topic).
  static void RenderOffsetsTopicProgress(const OffsetsTopicProgress& p, MetricsBuilder& out);
  // Keeps this run's good descriptions and committed offsets (moved out of
  // `obs`) for carrying, and forgets deleted groups and old answers.
  void Remember(GroupsObservation& obs, SteadyTime start);
  // An answer from `t` may still be served by a run started at `start`.
  bool Fresh(SteadyTime t, SteadyTime start) const { return start - t <= config_.carry_for; }

 private:
  struct PartitionState {
    StatusWindow window;  // its last() is the previous run's committed offset
  };
  // A partition of the group: its topic as an index into GroupState::topics
  // (a group has a few topics and up to thousands of partitions, and a topic
  // name of 16 characters or more is a heap allocation of its own).
  struct PartitionEntry {
    uint32_t topic = 0;
    int32_t partition = 0;
    PartitionState state;
  };
  struct GroupState {
    std::vector<std::string> topics;  // sorted
    // Sorted by (topic, partition), as the committed offsets come: vectors
    // rebuilt each run (a map's nodes cost ~50 bytes more per partition).
    std::vector<PartitionEntry> partitions;
    double consumed_total = 0;  // messages consumed since first seen (sum of offset advances)
    std::deque<std::pair<SteadyTime, double>> consumed_history;
    // Per topic with a retention ratio: (time, its largest lag in seconds)
    // over the rate window, for the time left until retention deletes.
    std::map<std::string, std::deque<std::pair<SteadyTime, double>>> retention_lag;
  };

  ConsumerGroupsCollectorConfig config_;
  Millis rate_window_{60000};
  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<WatermarkService> watermarks_;
  SelfMetrics* self_;
  NameFilter groups_;
  NameFilter topics_;
  int shard_index_ = 0;
  int shard_count_ = 1;
  std::shared_ptr<CommittedOffsetsSource> offsets_source_;
  std::map<std::string, GroupState> state_;
  std::map<TopicPartition, WatermarkHistory> history_;
  // Each group's last good description and committed offsets, with when
  // they came: served for carry_for while its coordinator does not answer.
  struct LastSeen {
    GroupDescription description;
    SteadyTime described{};
    GroupOffsets offsets;
    SteadyTime fetched{};
    bool has_offsets = false;
  };
  std::map<std::string, LastSeen> last_;
  bool had_complete_listing_ = false;
  // Groups whose description and listing disagree, logged once each.
  std::set<std::string> disagreed_;
  SteadyTime last_watermarks_{};

  // Render's parts (consumer_groups_render.cpp), in the order it calls them.
  struct Families;   // every family's id
  struct TopicSums;  // one topic's sums in a group
  struct GroupRun;   // what one group's walk gathers for its sums and totals
  struct RenderRun;  // what the groups of one Render share
  Families DeclareFamilies(MetricsBuilder& out) const;
  // Adds the watermarks' new answers to history_ (lag in seconds).
  void AddHistoryPoints(const WatermarkSnapshot& wm);
  // kafka-lag-exporter's kafka_partition_{latest,earliest}_offset.
  void RenderPartitionOffsets(const RenderRun& run, MetricsBuilder& out);
  static void ReservePerPartition(const RenderRun& run, MetricsBuilder& out);
  // kafka_consumergroup_{members,info}; logs a KIP-848 group once.
  void RenderGroupInfo(const GroupDescription& g, const RenderRun& run, MetricsBuilder& out);
  // One pass over the group's committed partitions: the per-partition series
  // of both schemas, the topic sums and the Burrow windows (gs's next state),
  // then the partition statuses.
  void WalkPartitions(GroupRun& group, GroupState& gs, RenderRun& run, MetricsBuilder& out);
  // One committed partition's series and sums; its lag, none without a watermark.
  std::optional<int64_t> RenderPartition(GroupRun& group, const TopicPartition& tp,
                                         const std::string& partition, int64_t committed,
                                         const GroupMember& m, TopicSums& ts, RenderRun& run,
                                         MetricsBuilder& out);
  // The partition's Burrow window takes this run's observation (its state
  // `old` moved over, or a new one); queued for the statuses.
  void AdvanceWindow(GroupRun& group, PartitionEntry* old, const TopicPartition& tp, int64_t committed,
                     int64_t lag, int member, TopicSums& ts, RenderRun& run) const;
  static void RenderPartitionStatuses(GroupRun& group, const GroupState& gs, const RenderRun& run,
                                      MetricsBuilder& out);
  // Per topic: offset and lag sums, at granularity mixed and topic the
  // data-loss, status and lag-seconds families without `partition`, and the
  // lag against retention (its trend in gs).
  void RenderTopicSums(GroupRun& group, GroupState& gs, const RenderRun& run, MetricsBuilder& out) const;
  // Per group: max lag (messages, seconds), sum, status, stale and uncommitted partitions.
  void RenderGroupTotals(const GroupRun& group, const RenderRun& run, MetricsBuilder& out) const;
  void RenderConsumptionRate(const GroupRun& group, GroupState& gs, SteadyTime now, const RenderRun& run,
                             MetricsBuilder& out) const;
  // Drops the state of groups a complete listing no longer has.
  void ForgetGroups(const GroupsObservation& obs, const std::set<std::string>& seen_groups);
};

}  // namespace dora
