// ConsumerGroupsCollector::Render: one observation to the exposition, in the
// order a reader follows it. Per run: the watermark history, the families,
// the share groups and kafka-lag-exporter's partition offsets. Per group: its
// info, the walk over its committed partitions (consumer_groups_partitions.cpp),
// its per-topic sums, its totals and its consumption rate. Last: the self
// metric and the state of deleted groups.
#include "collectors/consumer_groups_render.h"
#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {

void ConsumerGroupsCollector::Render(const GroupsObservation& obs, MetricsBuilder& out) {
  RenderRun run(obs, DeclareFamilies(out), history_);
  run.partition_detail = config_.granularity == "partition";
  run.partition_offsets = run.partition_detail || config_.granularity == "mixed";
  AddHistoryPoints(run.wm);
  run.w_next = run.wm.partitions.end();
  run.h_next = history_.end();

  for (const auto& sg : obs.listing.share_groups)
    out.Add(run.fam.share, {{"group", sg.name}, {"state", sg.state}}, 1);
  // Topic series: from shard 0 only (docs/deployment.md, "Sharding").
  if (run.fam.lx && shard_index_ == 0) RenderPartitionOffsets(run, out);
  if (run.partition_offsets) ReservePerPartition(run, out);
  if (run.partition_detail) {
    run.tap_status_sums = out.TapSumsWithout(run.fam.pstatus, "partition");
    run.tap_expired_sums = out.TapSumsWithout(run.fam.expired, "partition");
  }

  std::set<std::string> seen_groups;
  for (size_t gi = 0; gi < obs.listing.groups.size(); ++gi) {
    const GroupDescription& g = obs.listing.groups[gi];
    seen_groups.insert(g.name);
    GroupState& gs = state_[g.name];
    RenderGroupInfo(g, run, out);
    const GroupOffsets* go =
        gi < obs.offsets.size() && obs.offsets[gi].group == g.name ? &obs.offsets[gi] : nullptr;
    if (go == nullptr || go->error != 0) continue;  // offsets unknown this run: no lag series
    GroupRun group(g, *go, obs.carried.count(g.name) > 0);
    WalkPartitions(group, gs, run, out);
    RenderTopicSums(group, gs, run, out);
    RenderGroupTotals(group, run, out);
    RenderConsumptionRate(group, gs, obs.now, run, out);
  }

  // The one effect outside this collector's exposition: the self metric.
  if (self_ != nullptr && run.clamped > 0) self_->lag_clamped().Increment(run.clamped);
  ForgetGroups(obs, seen_groups);
}

ConsumerGroupsCollector::Families ConsumerGroupsCollector::DeclareFamilies(MetricsBuilder& out) const {
  Families f;
  f.offset = out.Family(DORA_METRIC("kafka_consumergroup_current_offset"));
  f.offset_sum = out.Family(DORA_METRIC("kafka_consumergroup_current_offset_sum"));
  f.lag = out.Family(DORA_METRIC("kafka_consumergroup_lag"));
  f.lag_sum = out.Family(DORA_METRIC("kafka_consumergroup_lag_sum"));
  f.members = out.Family(DORA_METRIC("kafka_consumergroup_members"));
  f.info = out.Family(DORA_METRIC("kafka_consumergroup_info"));
  f.lag_s = out.Family(DORA_METRIC("kafka_consumergroup_lag_seconds"));
  f.max_lag = out.Family(DORA_METRIC("kafka_consumergroup_max_lag"));
  f.max_lag_s = out.Family(DORA_METRIC("kafka_consumergroup_max_lag_seconds"));
  f.status = out.Family(DORA_METRIC("kafka_consumergroup_status"));
  f.pstatus = out.Family(DORA_METRIC("kafka_consumergroup_partition_status"));
  f.uncommitted = out.Family(DORA_METRIC("kafka_consumergroup_uncommitted_partitions"));
  f.expired = out.Family(DORA_METRIC("kafka_consumergroup_expired_messages"));
  f.consumed = out.Family(DORA_METRIC("kafka_consumergroup_consumed_messages_per_second"));
  f.stale = out.Family(DORA_METRIC("kafka_consumergroup_stale_partitions"));
  f.share = out.Family(DORA_METRIC("kafka_sharegroup_info"));
  f.retention_ratio = out.Family(DORA_METRIC("kafka_consumergroup_lag_retention_ratio"));
  f.retention_left = out.Family(DORA_METRIC("kafka_consumergroup_retention_time_left_seconds"));
  f.lx = config_.lag_exporter_metrics;
  if (f.lx) {
    f.lx_offset = out.Family(DORA_METRIC("kafka_consumergroup_group_offset"));
    f.lx_lag = out.Family(DORA_METRIC("kafka_consumergroup_group_lag"));
    f.lx_lag_s = out.Family(DORA_METRIC("kafka_consumergroup_group_lag_seconds"));
    f.lx_max = out.Family(DORA_METRIC("kafka_consumergroup_group_max_lag"));
    f.lx_max_s = out.Family(DORA_METRIC("kafka_consumergroup_group_max_lag_seconds"));
    f.lx_sum = out.Family(DORA_METRIC("kafka_consumergroup_group_sum_lag"));
    f.lx_topic_sum = out.Family(DORA_METRIC("kafka_consumergroup_group_topic_sum_lag"));
    f.lx_latest = out.Family(DORA_METRIC("kafka_partition_latest_offset"));
    f.lx_earliest = out.Family(DORA_METRIC("kafka_partition_earliest_offset"));
    f.lx_retention_ratio = out.Family(DORA_METRIC("kafka_consumergroup_group_lag_retention_ratio"));
  }
  return f;
}

void ConsumerGroupsCollector::AddHistoryPoints(const WatermarkSnapshot& wm) {
  // The daemon's own (time, high watermark) history, for lag in seconds.
  if (wm.finished == last_watermarks_) return;
  last_watermarks_ = wm.finished;
  for (const auto& [tp, w] : wm.partitions) {
    if (wm.carried.count(tp)) continue;  // an old answer is no new point
    auto it = history_.find(tp);
    if (it == history_.end()) it = history_.emplace(tp, WatermarkHistory(config_.lag_history_points)).first;
    it->second.Add(wm.finished, w.high);
  }
  for (auto it = history_.begin(); it != history_.end();) {
    auto t = wm.partitions_per_topic.find(it->first.topic);
    it = (t == wm.partitions_per_topic.end()) ? history_.erase(it) : std::next(it);
  }
}

void ConsumerGroupsCollector::RenderPartitionOffsets(const RenderRun& run, MetricsBuilder& out) {
  // kafka-lag-exporter's watermarks of every included partition.
  const std::string& cn = config_.cluster_name;
  std::string pb;
  for (const auto& [tp, w] : run.wm.partitions) {
    if (!topics_.Matches(tp.topic)) continue;
    pb = std::to_string(tp.partition);
    out.Add(run.fam.lx_latest, {{"cluster_name", cn}, {"topic", tp.topic}, {"partition", pb}},
            static_cast<double>(w.high));
    out.Add(run.fam.lx_earliest, {{"cluster_name", cn}, {"topic", tp.topic}, {"partition", pb}},
            static_cast<double>(w.low));
  }
}

void ConsumerGroupsCollector::ReservePerPartition(const RenderRun& run, MetricsBuilder& out) {
  // Capacity for the per-partition families: regrowing ~20 MB strings and
  // their label indexes cost more than the copying itself at 200k series.
  size_t n = 0, label_bytes = 0;
  for (const auto& go : run.obs.offsets) {
    if (go.error != 0) continue;
    n += go.committed.size();
    for (const auto& c : go.committed) label_bytes += go.group.size() + go.topic(c).size();
  }
  const size_t bytes = n * 128 + label_bytes;  // name, label names, partition and value: < 128 a line
  for (auto f : {run.fam.offset, run.fam.lag}) out.Reserve(f, n, bytes);
  if (run.partition_detail) out.Reserve(run.fam.lag_s, n, bytes);
}

void ConsumerGroupsCollector::RenderGroupInfo(const GroupDescription& g, const RenderRun& run,
                                              MetricsBuilder& out) {
  const std::string coord = std::to_string(g.coordinator);
  // Members librdkafka 2.0.2 cannot see (a new-protocol group): no number at all.
  if (g.members_known)
    out.Add(run.fam.members, {{"consumergroup", g.name}}, static_cast<double>(g.members.size()));
  out.Add(run.fam.info,
          {{"consumergroup", g.name},
           {"state", g.state},
           {"type", g.type},
           {"protocol_type", g.protocol_type},
           {"protocol", g.protocol},
           {"coordinator", coord}},
          1);
  if (!g.described_state.empty()) {
    if (disagreed_.insert(g.name).second)
      GetLogger("collector.consumer_groups")
          ->info(
              "group {}: DescribeGroups says {} but ListGroups says {}: a new-protocol (KIP-848) group; "
              "its state is taken from ListGroups, its members are unknown to librdkafka 2.0.2",
              g.name, g.described_state, g.state);
  } else {
    disagreed_.erase(g.name);
  }
}

void ConsumerGroupsCollector::RenderTopicSums(GroupRun& group, GroupState& gs, const RenderRun& run,
                                              MetricsBuilder& out) const {
  const std::string& name = group.group.name;
  const Families& fam = run.fam;
  for (const auto& [topic, ts] : group.topics) {
    out.Add(fam.offset_sum, {{"consumergroup", name}, {"topic", topic}}, ts.offset);
    if (!run.partition_detail) {
      // granularity mixed and topic: the data-loss and partition-status
      // families per topic, without the partition label (a sum and a count),
      // so the alerts' `sum without (partition)` read the same at every
      // granularity; lag in seconds as the topic's largest estimate (absent
      // while a lagging partition has none, like the group's maximum).
      if (ts.expired > 0) out.Add(fam.expired, {{"consumergroup", name}, {"topic", topic}}, ts.expired);
      if (ts.any_lag && ts.max_lag_s >= 0 && !ts.lag_s_unknown)
        out.Add(fam.lag_s, {{"consumergroup", name}, {"topic", topic}}, ts.max_lag_s);
      for (size_t i = 0; i < ts.statuses.size(); ++i) {
        const auto st = static_cast<PartitionStatus>(i);
        if (st != PartitionStatus::kOk && ts.statuses[i] > 0)
          out.Add(fam.pstatus, {{"consumergroup", name}, {"topic", topic}, {"status", ToString(st)}},
                  ts.statuses[i]);
      }
    } else {
      // granularity: partition: the same sums, for the alert evaluator's tap
      // only (the per-partition samples rendered above add up to them).
      if (run.tap_expired_sums && ts.expired > 0)
        out.TapSum(fam.expired, {{"consumergroup", name}, {"topic", topic}}, ts.expired);
      for (size_t i = 0; run.tap_status_sums && i < ts.statuses.size(); ++i) {
        const auto st = static_cast<PartitionStatus>(i);
        if (st != PartitionStatus::kOk && ts.statuses[i] > 0)
          out.TapSum(fam.pstatus, {{"consumergroup", name}, {"topic", topic}, {"status", ToString(st)}},
                     ts.statuses[i]);
      }
    }
    if (ts.any_lag) {
      out.Add(fam.lag_sum, {{"consumergroup", name}, {"topic", topic}}, ts.lag);
      group.lag_total += ts.lag;
      if (fam.lx)
        out.Add(fam.lx_topic_sum, {{"cluster_name", config_.cluster_name}, {"group", name}, {"topic", topic}},
                ts.lag);
    }
    // How close the oldest unconsumed message is to being deleted by
    // retention.ms: the topic's largest lag in seconds against it. Not for a
    // compacted topic, one without a time limit, or a lag without an estimate.
    std::optional<double> keep;
    if (ts.any_lag && ts.max_lag_s >= 0 && !ts.lag_s_unknown && run.obs.cluster) {
      auto configs = run.obs.cluster->topic_configs.find(topic);
      keep =
          TimeRetentionSeconds(configs == run.obs.cluster->topic_configs.end() ? nullptr : &configs->second);
    }
    if (!keep) {
      gs.retention_lag.erase(topic);  // a gap: the trend starts over
      continue;
    }
    const double ratio = ts.max_lag_s / *keep;
    out.Add(fam.retention_ratio, {{"consumergroup", name}, {"topic", topic}}, ratio);
    if (fam.lx)
      out.Add(fam.lx_retention_ratio,
              {{"cluster_name", config_.cluster_name}, {"group", name}, {"topic", topic}}, ratio);
    // The time left at the current rates, from the lag's trend over the rate
    // window (a carried commit is no new point: it says nothing of the rate).
    auto& points = gs.retention_lag[topic];
    if (!group.carried) points.emplace_back(run.obs.now, ts.max_lag_s);
    while (points.size() > 2 && run.obs.now - points[1].first >= rate_window_) points.pop_front();
    if (auto left = RetentionSecondsLeft(*keep, points))
      out.Add(fam.retention_left, {{"consumergroup", name}, {"topic", topic}}, *left);
  }
  // Topics the group no longer commits to take their trend with them.
  for (auto it = gs.retention_lag.begin(); it != gs.retention_lag.end();)
    it = group.topics.count(it->first) ? std::next(it) : gs.retention_lag.erase(it);
}

void ConsumerGroupsCollector::RenderGroupTotals(const GroupRun& group, const RenderRun& run,
                                                MetricsBuilder& out) const {
  const std::string& name = group.group.name;
  const std::string& cn = config_.cluster_name;
  const Families& fam = run.fam;
  if (group.max_lag >= 0) {
    out.Add(fam.max_lag, {{"consumergroup", name}}, group.max_lag);
    if (fam.lx) {
      out.Add(fam.lx_max, {{"cluster_name", cn}, {"group", name}}, group.max_lag);
      out.Add(fam.lx_sum, {{"cluster_name", cn}, {"group", name}}, group.lag_total);
    }
  }
  if (group.max_lag_s >= 0 && !group.lag_s_unknown) {
    out.Add(fam.max_lag_s, {{"consumergroup", name}}, group.max_lag_s);
    if (fam.lx) out.Add(fam.lx_max_s, {{"cluster_name", cn}, {"group", name}}, group.max_lag_s);
  }
  if (!group.statuses.empty())
    out.Add(fam.status, {{"consumergroup", name}, {"status", ToString(Aggregate(group.statuses))}}, 1);
  if (group.stale > 0) out.Add(fam.stale, {{"consumergroup", name}}, group.stale);
  // Assignments unknown (members unknown): the count is unknown, not 0.
  if (group.group.members_known) out.Add(fam.uncommitted, {{"consumergroup", name}}, group.uncommitted);
}

void ConsumerGroupsCollector::RenderConsumptionRate(const GroupRun& group, GroupState& gs, SteadyTime now,
                                                    const RenderRun& run, MetricsBuilder& out) const {
  // Consumption rate over the rate window, from committed-offset advances.
  gs.consumed_total += group.consumed_now;
  if (!group.carried) gs.consumed_history.emplace_back(now, gs.consumed_total);
  while (gs.consumed_history.size() > 2 && now - gs.consumed_history[1].first >= rate_window_)
    gs.consumed_history.pop_front();
  if (gs.consumed_history.size() < 2) return;
  const double secs =
      std::chrono::duration<double>(gs.consumed_history.back().first - gs.consumed_history.front().first)
          .count();
  if (secs > 0)
    out.Add(run.fam.consumed, {{"consumergroup", group.group.name}},
            (gs.consumed_history.back().second - gs.consumed_history.front().second) / secs);
}

void ConsumerGroupsCollector::ForgetGroups(const GroupsObservation& obs,
                                           const std::set<std::string>& seen_groups) {
  // Deleted groups leave the state with the listing (unless the listing was
  // partial, when a missing group may only be behind an unreachable broker).
  if (obs.listing.partial) return;
  for (auto it = state_.begin(); it != state_.end();) {
    it = seen_groups.count(it->first) ? std::next(it) : state_.erase(it);
  }
  for (auto it = disagreed_.begin(); it != disagreed_.end();) {
    it = seen_groups.count(*it) ? std::next(it) : disagreed_.erase(it);
  }
}

}  // namespace dora
