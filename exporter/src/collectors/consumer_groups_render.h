#pragma once
// ConsumerGroupsCollector's render state, shared by consumer_groups_render.cpp
// (the run and each group's series) and consumer_groups_partitions.cpp (the
// walk over a group's committed partitions). Private to those two files.
#include <array>
#include <map>
#include <string>
#include <vector>

#include "collectors/consumer_groups.h"

namespace dora {

// Every family the collector renders, declared in the exposition's order.
struct ConsumerGroupsCollector::Families {
  MetricsBuilder::FamilyId offset, offset_sum, lag, lag_sum, members, info, lag_s, max_lag, max_lag_s, status,
      pstatus, uncommitted, expired, consumed, stale, share, retention_ratio, retention_left;
  // kafka-lag-exporter's, with lag_exporter_metrics.
  bool lx = false;
  MetricsBuilder::FamilyId lx_offset = 0, lx_lag = 0, lx_lag_s = 0, lx_max = 0, lx_max_s = 0, lx_sum = 0,
                           lx_topic_sum = 0, lx_latest = 0, lx_earliest = 0, lx_retention_ratio = 0;
};

// Sums over one topic's committed partitions of a group.
struct ConsumerGroupsCollector::TopicSums {
  double offset = 0, lag = 0, expired = 0;
  bool any_lag = false;
  double max_lag_s = -1;          // over the partitions with an estimate
  bool lag_s_unknown = false;     // a lagging partition without one: no maximum
  std::array<int, 5> statuses{};  // partitions per PartitionStatus
};

// What one group's walk gathers for its per-topic and per-group series.
struct ConsumerGroupsCollector::GroupRun {
  GroupRun(const GroupDescription& g, const GroupOffsets& o, bool c) : group(g), offsets(o), carried(c) {}
  const GroupDescription& group;
  const GroupOffsets& offsets;
  const bool carried;  // its committed offsets are an earlier run's
  std::map<std::string, TopicSums> topics;
  double lag_total = 0;  // over the topics with a lag
  std::vector<PartitionStatus> statuses;
  double max_lag = -1, max_lag_s = -1;
  bool lag_s_unknown = false;  // a lagging partition without an estimate: no group maximum
  double consumed_now = 0;
  int stale = 0;
  int uncommitted = 0;
  // The group's next state, built by the walk (topics as GroupState's).
  std::vector<std::string> next_topics;
  std::vector<PartitionEntry> next_state;
};

// What the groups of one Render share: the input, the families, lookups that
// follow the sorted partitions, and buffers reused from group to group.
struct ConsumerGroupsCollector::RenderRun {
  RenderRun(const GroupsObservation& o, Families f, std::map<TopicPartition, WatermarkHistory>& h)
      : obs(o), wm(*o.watermarks), fam(f), history(h) {}
  const GroupsObservation& obs;
  const WatermarkSnapshot& wm;
  Families fam;
  // granularity partition and mixed: kafka_exporter's per-partition committed
  // offset and lag. partition only: lag in seconds, data loss and partition
  // statuses per partition too (otherwise per topic, without the label).
  bool partition_offsets = false, partition_detail = false;
  // The alert evaluator's tap takes these families' per-topic sums from
  // RenderTopicSums rather than every partition's sample
  // (MetricsBuilder::TapSumsWithout).
  bool tap_status_sums = false, tap_expired_sums = false;
  // A group's committed partitions come in (topic, partition) order, as the
  // watermark and history maps are sorted: the entry after the last one found
  // is usually the next one wanted, which saves a lookup among 20k string keys.
  std::map<TopicPartition, Watermark>::const_iterator FindWatermark(const TopicPartition& tp) {
    auto it = (w_next != wm.partitions.end() && w_next->first == tp) ? w_next : wm.partitions.find(tp);
    w_next = it == wm.partitions.end() ? it : std::next(it);
    return it;
  }
  std::map<TopicPartition, WatermarkHistory>::iterator FindHistory(const TopicPartition& tp) {
    auto it = (h_next != history.end() && h_next->first == tp) ? h_next : history.find(tp);
    h_next = it == history.end() ? it : std::next(it);
    return it;
  }
  std::map<TopicPartition, WatermarkHistory>& history;
  std::map<TopicPartition, Watermark>::const_iterator w_next;
  std::map<TopicPartition, WatermarkHistory>::iterator h_next;
  // A partition's window, its owner (index into the group's members, -1:
  // none) and its topic's sums, for the statuses after the walk.
  struct WindowRef {
    size_t entry;
    int member;
    TopicSums* sums;
  };
  std::vector<WindowRef> windows;
  std::vector<char> member_moved;  // per member: progress in the window
  double clamped = 0;              // negative lags reported as 0
};

}  // namespace dora
