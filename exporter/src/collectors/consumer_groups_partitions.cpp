// ConsumerGroupsCollector's walk over one group's committed partitions: the
// per-partition series of both schemas (kafka_exporter's, kafka-lag-exporter's),
// the topic sums, the Burrow windows and the partition statuses.
#include <algorithm>
#include <optional>

#include "collectors/consumer_groups_render.h"

namespace dora {

void ConsumerGroupsCollector::WalkPartitions(GroupRun& group, GroupState& gs, RenderRun& run,
                                             MetricsBuilder& out) {
  const GroupDescription& g = group.group;
  const GroupOffsets& go = group.offsets;
  // Which partitions a live member owns, and which member (for the lag-exporter labels).
  std::map<TopicPartition, const GroupMember*> owner;
  for (const auto& m : g.members)
    for (const auto& tp : m.assignment) owner[tp] = &m;
  // Members unknown: a Stable group has live members, taken as one owner of
  // every committed partition (Burrow's STALL needs a live owner; without
  // members a partition is STOP).
  const bool owned_by_group = !g.members_known && g.state == "Stable";
  for (const auto& [tp, m] : owner) {
    if (topics_.Matches(tp.topic) && !go.HasCommitted(tp)) ++group.uncommitted;
  }

  // The next state is built walking the old one alongside the (equally
  // ordered) committed offsets: the state of a partition this run keeps is
  // moved over, any other is left behind.
  auto st_it = gs.partitions.begin();
  auto before = [&gs](const PartitionEntry& e, const TopicPartition& tp) {
    return PartitionLess(gs.topics[e.topic], e.partition, tp.topic, tp.partition);
  };
  auto same = [&gs](const PartitionEntry& e, const TopicPartition& tp) {
    return PartitionEqual(gs.topics[e.topic], e.partition, tp.topic, tp.partition);
  };
  group.next_state.reserve(go.committed.size());
  run.windows.clear();
  run.windows.reserve(go.committed.size());
  run.member_moved.assign(std::max<size_t>(g.members.size(), 1), 0);
  const GroupMember no_member;
  std::string pbuf;
  TopicPartition tp;  // reused: its topic keeps its buffer, no allocation per partition
  // Committed offsets come grouped by topic: the filter and the topic's sums
  // are looked up once per topic, not per partition.
  uint32_t topic_of_run = UINT32_MAX;
  bool topic_matches = false;
  TopicSums* sums = nullptr;
  for (const auto& c : go.committed) {
    if (c.topic != topic_of_run) {
      topic_of_run = c.topic;
      tp.topic.assign(go.topic(c));
      topic_matches = topics_.Matches(tp.topic);
      sums = topic_matches ? &group.topics[tp.topic] : nullptr;
    }
    tp.partition = c.partition;
    while (st_it != gs.partitions.end() && before(*st_it, tp)) ++st_it;
    const bool had_state = st_it != gs.partitions.end() && same(*st_it, tp);
    if (!topic_matches) continue;
    pbuf = std::to_string(tp.partition);
    // The partition's owner, or no_member's empty strings (lvalues: the
    // labels view them).
    const GroupMember* owned_by = nullptr;
    if (auto o = owner.find(tp); o != owner.end()) owned_by = o->second;
    const GroupMember& m = owned_by != nullptr ? *owned_by : no_member;
    const std::optional<int64_t> lag = RenderPartition(group, tp, pbuf, c.offset, m, *sums, run, out);
    if (!lag) continue;  // no watermark (offline/deleted partition): no lag, no window
    const int member =
        owned_by != nullptr ? static_cast<int>(owned_by - g.members.data()) : (owned_by_group ? 0 : -1);
    AdvanceWindow(group, had_state ? &*st_it++ : nullptr, tp, c.offset, *lag, member, *sums, run);
  }
  gs.partitions = std::move(group.next_state);  // partitions no longer committed leave the state
  gs.topics = std::move(group.next_topics);
  RenderPartitionStatuses(group, gs, run, out);
}

std::optional<int64_t> ConsumerGroupsCollector::RenderPartition(GroupRun& group, const TopicPartition& tp,
                                                                const std::string& partition,
                                                                int64_t committed, const GroupMember& m,
                                                                TopicSums& ts, RenderRun& run,
                                                                MetricsBuilder& out) {
  const std::string& name = group.group.name;
  const Families& fam = run.fam;
  const bool per_partition = run.partition_offsets, detail = run.partition_detail;
  ts.offset += static_cast<double>(committed);
  if (per_partition)
    out.Add(fam.offset, {{"consumergroup", name}, {"topic", tp.topic}, {"partition", partition}},
            static_cast<double>(committed));
  if (fam.lx) {
    out.Add(fam.lx_offset,
            {{"cluster_name", config_.cluster_name},
             {"group", name},
             {"topic", tp.topic},
             {"partition", partition},
             {"member_host", m.client_host},
             {"consumer_id", m.member_id},
             {"client_id", m.client_id}},
            static_cast<double>(committed));
  }
  auto w = run.FindWatermark(tp);
  if (w == run.wm.partitions.end()) return std::nullopt;
  if (group.carried || (!run.wm.carried.empty() && run.wm.carried.count(tp))) ++group.stale;
  int64_t lag = w->second.high - committed;
  if (lag < 0) {
    // Committed ahead of the end offset (truncation, unclean election): never negative.
    ++run.clamped;
    lag = 0;
  }
  if (committed < w->second.low) {  // data loss
    const double expired = static_cast<double>(w->second.low - committed);
    ts.expired += expired;
    if (detail)
      out.Add(fam.expired, {{"consumergroup", name}, {"topic", tp.topic}, {"partition", partition}}, expired);
  }
  ts.lag += static_cast<double>(lag);
  ts.any_lag = true;
  group.max_lag = std::max(group.max_lag, static_cast<double>(lag));
  std::optional<double> lag_s;
  if (lag == 0) {
    lag_s = 0.0;
  } else if (auto h = run.FindHistory(tp); h != history_.end()) {
    lag_s = h->second.LagSeconds(committed, run.obs.now);
  }
  if (lag_s) {
    group.max_lag_s = std::max(group.max_lag_s, *lag_s);
    ts.max_lag_s = std::max(ts.max_lag_s, *lag_s);
  } else {
    group.lag_s_unknown = true;
    ts.lag_s_unknown = true;
  }
  if (per_partition) {
    out.Add(fam.lag, {{"consumergroup", name}, {"topic", tp.topic}, {"partition", partition}},
            static_cast<double>(lag));
    if (lag_s && detail)
      out.Add(fam.lag_s, {{"consumergroup", name}, {"topic", tp.topic}, {"partition", partition}}, *lag_s);
  }
  if (fam.lx) {
    const std::vector<Label> labels = {{"cluster_name", config_.cluster_name},
                                       {"group", name},
                                       {"topic", tp.topic},
                                       {"partition", partition},
                                       {"member_host", m.client_host},
                                       {"consumer_id", m.member_id},
                                       {"client_id", m.client_id}};
    out.Add(fam.lx_lag, labels, static_cast<double>(lag));
    if (lag_s) out.Add(fam.lx_lag_s, labels, *lag_s);
  }
  return lag;
}

void ConsumerGroupsCollector::AdvanceWindow(GroupRun& group, PartitionEntry* old, const TopicPartition& tp,
                                            int64_t committed, int64_t lag, int member, TopicSums& ts,
                                            RenderRun& run) const {
  // Burrow-style window, one observation per poll.
  if (group.next_topics.empty() || group.next_topics.back() != tp.topic)
    group.next_topics.push_back(tp.topic);
  const auto topic_index = static_cast<uint32_t>(group.next_topics.size() - 1);
  if (old != nullptr) {
    group.next_state.push_back(std::move(*old));
    group.next_state.back().topic = topic_index;
  } else {
    group.next_state.push_back({topic_index, tp.partition, {StatusWindow(config_.status_window)}});
  }
  PartitionState& ps = group.next_state.back().state;
  // A carried commit is no new observation: the window waits for a real one.
  if (!group.carried) {
    if (ps.window.count() > 0 && committed > ps.window.last().offset)
      group.consumed_now += static_cast<double>(committed - ps.window.last().offset);
    ps.window.Add({committed, lag});
  }
  if (ps.window.count() == 0) return;
  if (member >= 0 && ps.window.Moved()) run.member_moved[static_cast<size_t>(member)] = 1;
  run.windows.push_back({group.next_state.size() - 1, member, &ts});
}

void ConsumerGroupsCollector::RenderPartitionStatuses(GroupRun& group, const GroupState& gs,
                                                      const RenderRun& run, MetricsBuilder& out) {
  // Statuses once every window has this run's observation: a partition
  // whose owner moved another partition in the window is not stalled.
  std::string pbuf;
  for (const RenderRun::WindowRef& w : run.windows) {
    const PartitionEntry& e = gs.partitions[w.entry];
    const bool owned = w.member >= 0;
    const PartitionStatus st =
        e.state.window.Evaluate(owned, owned && run.member_moved[static_cast<size_t>(w.member)] != 0);
    group.statuses.push_back(st);
    ++w.sums->statuses[static_cast<size_t>(st)];
    // Like Burrow's status answer, only the partitions that are not OK: no
    // series for the healthy majority.
    if (run.partition_detail && st != PartitionStatus::kOk) {
      pbuf = std::to_string(e.partition);
      out.Add(run.fam.pstatus,
              {{"consumergroup", group.group.name},
               {"topic", gs.topics[e.topic]},
               {"partition", pbuf},
               {"status", ToString(st)}},
              1);
    }
  }
}

}  // namespace dora
