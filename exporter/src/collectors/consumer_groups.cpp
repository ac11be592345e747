#include "collectors/consumer_groups.h"

#include <algorithm>
#include <array>

#include "util/log.h"

namespace dora {

ConsumerGroupsCollector::ConsumerGroupsCollector(ConsumerGroupsCollectorConfig config, Millis rate_window,
                                                 std::shared_ptr<KafkaApi> kafka,
                                                 std::shared_ptr<WatermarkService> watermarks,
                                                 SelfMetrics* self)
    : config_(std::move(config)),
      rate_window_(rate_window),
      kafka_(std::move(kafka)),
      watermarks_(std::move(watermarks)),
      self_(self),
      groups_(config_.groups),
      topics_(config_.topics) {}

Status ConsumerGroupsCollector::Collect(const CollectContext& ctx, MetricsBuilder& out) {
  GroupsObservation obs;
  if (!kafka_) return Status::Error(Reason::kInternal, "no Kafka client");
  const auto start = std::chrono::steady_clock::now();
  // Each phase has a deadline of its own: listing and committed offsets
  // cannot leave the watermarks without time (a dead coordinator or leader
  // would otherwise eat the whole budget and blank every lag series).
  const auto budget = ctx.deadline - start;
  const auto list_by = start + budget * 3 / 5, offsets_by = start + budget * 4 / 5;
  auto until = [](std::chrono::steady_clock::time_point t) {
    auto ms = std::chrono::duration_cast<Millis>(t - std::chrono::steady_clock::now());
    return ms.count() > 0 ? ms : Millis(0);
  };
  auto fresh = [this, start](SteadyTime t) { return Fresh(t, start); };
  auto listing = kafka_->ListGroups(config_.max_in_flight, until(list_by));
  if (listing.ok()) {
    obs.listing = std::move(listing.value());
  } else {
    // No listing at all: the groups seen lately, as they were, if any.
    obs.listing.partial = true;
    obs.listing.partial_cause = listing.status().reason;
    obs.listing.partial_reason = listing.status().message;
  }
  if (obs.listing.partial) {
    // A group missing from a partial listing may only be behind the broker
    // that did not answer; one without a description keeps its last one.
    std::map<std::string, size_t> at;
    for (size_t i = 0; i < obs.listing.groups.size(); ++i) at[obs.listing.groups[i].name] = i;
    for (const auto& [name, seen] : last_) {
      if (!fresh(seen.described)) continue;
      auto it = at.find(name);
      if (it == at.end()) {
        obs.listing.groups.push_back(seen.description);
        obs.listing.groups.back().carried = true;
      } else if (obs.listing.groups[it->second].error != 0) {
        obs.listing.groups[it->second] = seen.description;
        obs.listing.groups[it->second].carried = true;
      }
    }
    if (!listing.ok() && obs.listing.groups.empty()) return listing.status();
  }
  std::vector<GroupDescription> kept;
  for (auto& g : obs.listing.groups) {
    if (groups_.Matches(g.name)) kept.push_back(std::move(g));
  }
  std::vector<ShareGroup> shares;
  for (auto& sg : obs.listing.share_groups) {
    if (groups_.Matches(sg.name)) shares.push_back(std::move(sg));
  }
  obs.listing.share_groups = std::move(shares);
  obs.listing.groups = std::move(kept);
  std::vector<std::string> names;
  names.reserve(obs.listing.groups.size());
  for (const auto& g : obs.listing.groups) names.push_back(g.name);
  obs.offsets = kafka_->FetchCommittedOffsets(names, config_.max_in_flight, until(offsets_by));
  size_t failed = 0;
  std::string example;
  Reason offsets_cause = Reason::kKafka;
  for (auto& o : obs.offsets) {
    if (o.error == 0) continue;
    if (example.empty()) {
      example = o.group + ": " + KafkaErrorString(o.error);
      offsets_cause = IsTimeoutError(o.error) ? Reason::kTimeout : Reason::kKafka;
    }
    auto seen = last_.find(o.group);
    if (seen != last_.end() && seen->second.has_offsets && fresh(seen->second.fetched)) {
      o = seen->second.offsets;
      obs.carried.insert(o.group);
    } else {
      ++failed;
    }
  }
  // End offsets strictly after the committed offsets: the high watermark only
  // grows, so lag = high - committed cannot go negative by a race.
  auto after_commits = std::chrono::steady_clock::now();
  auto wm = watermarks_->Get(after_commits, ctx.deadline);
  if (!wm.ok()) return wm.status();
  obs.watermarks = wm.value();
  obs.now = obs.watermarks->finished;
  Render(obs, out);
  Remember(obs, start);

  // A partial listing (a broker that just stopped did not answer) costs the
  // run its success only when something is missing: a group served from an
  // earlier run, or no complete listing yet to compare with.
  size_t carried_descriptions = 0;
  for (const auto& g : obs.listing.groups) carried_descriptions += g.carried;
  if (obs.listing.partial && (carried_descriptions > 0 || !had_complete_listing_))
    return Status::Partial(obs.listing.partial_cause, obs.listing.partial_reason);
  if (!obs.listing.partial) had_complete_listing_ = true;
  if (!obs.carried.empty() || failed > 0)
    return Status::Partial(offsets_cause, "committed offsets missing for " +
                                              std::to_string(obs.carried.size() + failed) + " group(s) (" +
                                              std::to_string(obs.carried.size()) +
                                              " served from an earlier run), e.g. " + example);
  return Status::Ok();
}

void ConsumerGroupsCollector::Remember(GroupsObservation& obs, SteadyTime start) {
  std::set<std::string> listed;
  for (size_t i = 0; i < obs.listing.groups.size(); ++i) {
    GroupDescription& g = obs.listing.groups[i];
    listed.insert(g.name);
    LastSeen& seen = last_[g.name];
    // A carried description (or one without an answer) is not news.
    if (g.error == 0 && !g.carried) {
      seen.description = g;
      seen.described = start;
    }
    if (i < obs.offsets.size() && obs.offsets[i].group == g.name && obs.offsets[i].error == 0 &&
        !obs.carried.count(g.name)) {
      seen.offsets = std::move(obs.offsets[i]);
      seen.fetched = start;
      seen.has_offsets = true;
    }
  }
  // Deleted groups go with a complete listing; anything past carry_for goes.
  for (auto it = last_.begin(); it != last_.end();) {
    const bool gone = !obs.listing.partial && !listed.count(it->first);
    const bool old =
        !Fresh(it->second.described, start) && (!it->second.has_offsets || !Fresh(it->second.fetched, start));
    it = gone || old ? last_.erase(it) : std::next(it);
  }
}

void ConsumerGroupsCollector::Render(const GroupsObservation& obs, MetricsBuilder& out) {
  using MT = MetricType;
  const bool per_partition = config_.granularity == "partition";
  const WatermarkSnapshot& wm = *obs.watermarks;

  // The daemon's own (time, high watermark) history, for lag in seconds.
  if (wm.finished != last_watermarks_) {
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

  auto f_offset = out.Family("kafka_consumergroup_current_offset",
                             "Committed offset of the group on the partition.", MT::kGauge);
  auto f_offset_sum = out.Family("kafka_consumergroup_current_offset_sum",
                                 "Sum of the group's committed offsets on the topic.", MT::kGauge);
  auto f_lag =
      out.Family("kafka_consumergroup_lag",
                 "Messages between the group's committed offset and the high watermark. Absent when the "
                 "group has no committed offset on the partition.",
                 MT::kGauge);
  auto f_lag_sum =
      out.Family("kafka_consumergroup_lag_sum", "Sum of the group's lag on the topic.", MT::kGauge);
  auto f_members = out.Family("kafka_consumergroup_members", "Members of the consumer group.", MT::kGauge);
  auto f_info = out.Family("kafka_consumergroup_info",
                           "Group state, protocol and coordinator broker; always 1.", MT::kGauge);
  auto f_lag_s =
      out.Family("kafka_consumergroup_lag_seconds",
                 "Estimated age in seconds of the oldest unconsumed message: interpolated from the "
                 "exporter's own history of high watermarks (an estimate; absent while that history "
                 "is too short).",
                 MT::kGauge);
  auto f_max_lag =
      out.Family("kafka_consumergroup_max_lag", "Largest partition lag of the group.", MT::kGauge);
  auto f_max_lag_s =
      out.Family("kafka_consumergroup_max_lag_seconds",
                 "Largest estimated partition lag of the group in seconds (an estimate).", MT::kGauge);
  auto f_status = out.Family("kafka_consumergroup_status",
                             "Burrow-style group status (OK, WARN, ERR) as a label; always 1.", MT::kGauge);
  auto f_pstatus = out.Family("kafka_consumergroup_partition_status",
                              "Burrow-style partition status (WARN, STALL, STOP, REWIND) as a label, 1; "
                              "only partitions that are not OK. With granularity topic, per topic without "
                              "the partition label: the number of partitions in that status.",
                              MT::kGauge);
  auto f_uncommitted =
      out.Family("kafka_consumergroup_uncommitted_partitions",
                 "Partitions assigned to the group's members that have no committed offset.", MT::kGauge);
  auto f_expired =
      out.Family("kafka_consumergroup_expired_messages",
                 "Messages deleted by retention before the group consumed them (committed offset below "
                 "the log start offset): data loss. Present only when above 0. With granularity topic, "
                 "summed per topic without the partition label.",
                 MT::kGauge);
  auto f_consumed = out.Family(
      "kafka_consumergroup_consumed_messages_per_second",
      "Messages the group consumed per second (committed-offset advance) over the rate window.", MT::kGauge);
  auto f_stale =
      out.Family("kafka_consumergroup_stale_partitions",
                 "Partitions of the group whose lag is computed from an earlier answer: its "
                 "coordinator did not answer this run (its committed offsets are carried), or the "
                 "partition's leader did not (its watermarks are carried). Present only when above 0.",
                 MT::kGauge);
  auto f_share = out.Family("kafka_sharegroup_info",
                            "Share group (KIP-932) and its state as ListGroups reports it; always 1. Share "
                            "groups are in no consumer-group family.",
                            MT::kGauge);
  for (const auto& sg : obs.listing.share_groups)
    out.Add(f_share, {{"group", sg.name}, {"state", sg.state}}, 1);
  const bool lx = config_.lag_exporter_metrics;
  MetricsBuilder::FamilyId lx_offset = 0, lx_lag = 0, lx_lag_s = 0, lx_max = 0, lx_max_s = 0, lx_sum = 0,
                           lx_topic_sum = 0, lx_latest = 0, lx_earliest = 0;
  if (lx) {
    lx_offset =
        out.Family("kafka_consumergroup_group_offset", "kafka-lag-exporter: committed offset.", MT::kGauge);
    lx_lag = out.Family("kafka_consumergroup_group_lag", "kafka-lag-exporter: lag in messages.", MT::kGauge);
    lx_lag_s = out.Family("kafka_consumergroup_group_lag_seconds",
                          "kafka-lag-exporter: estimated lag in seconds (an estimate).", MT::kGauge);
    lx_max = out.Family("kafka_consumergroup_group_max_lag", "kafka-lag-exporter: max lag of the group.",
                        MT::kGauge);
    lx_max_s = out.Family("kafka_consumergroup_group_max_lag_seconds",
                          "kafka-lag-exporter: max estimated lag in seconds of the group.", MT::kGauge);
    lx_sum = out.Family("kafka_consumergroup_group_sum_lag", "kafka-lag-exporter: summed lag of the group.",
                        MT::kGauge);
    lx_topic_sum = out.Family("kafka_consumergroup_group_topic_sum_lag",
                              "kafka-lag-exporter: summed lag of the group on the topic.", MT::kGauge);
    lx_latest =
        out.Family("kafka_partition_latest_offset", "kafka-lag-exporter: high watermark.", MT::kGauge);
    lx_earliest =
        out.Family("kafka_partition_earliest_offset", "kafka-lag-exporter: log start offset.", MT::kGauge);
    const std::string& cn = config_.cluster_name;
    std::string pb;
    for (const auto& [tp, w] : wm.partitions) {
      if (!topics_.Matches(tp.topic)) continue;
      pb = std::to_string(tp.partition);
      out.Add(lx_latest, {{"cluster_name", cn}, {"topic", tp.topic}, {"partition", pb}},
              static_cast<double>(w.high));
      out.Add(lx_earliest, {{"cluster_name", cn}, {"topic", tp.topic}, {"partition", pb}},
              static_cast<double>(w.low));
    }
  }

  if (per_partition) {
    // Capacity for the per-partition families: regrowing ~20 MB strings and
    // their label indexes cost more than the copying itself at 200k series.
    size_t n = 0, label_bytes = 0;
    for (const auto& go : obs.offsets) {
      if (go.error != 0) continue;
      n += go.committed.size();
      for (const auto& c : go.committed) label_bytes += go.group.size() + go.topic(c).size();
    }
    const size_t bytes = n * 128 + label_bytes;  // name, label names, partition and value: < 128 a line
    for (auto f : {f_offset, f_lag, f_lag_s}) out.Reserve(f, n, bytes);
  }

  // A group's committed partitions come in (topic, partition) order, as the
  // watermark and history maps are sorted: the entry after the last one found
  // is usually the next one wanted, which saves a lookup among 20k string keys.
  auto w_next = wm.partitions.end();
  auto h_next = history_.end();
  auto find_wm = [&](const TopicPartition& tp) {
    auto it = (w_next != wm.partitions.end() && w_next->first == tp) ? w_next : wm.partitions.find(tp);
    w_next = it == wm.partitions.end() ? it : std::next(it);
    return it;
  };
  auto find_history = [&](const TopicPartition& tp) {
    auto it = (h_next != history_.end() && h_next->first == tp) ? h_next : history_.find(tp);
    h_next = it == history_.end() ? it : std::next(it);
    return it;
  };

  std::set<std::string> seen_groups;
  std::string pbuf, coord;
  const GroupMember no_member;
  struct TopicSums {
    double offset = 0, lag = 0, expired = 0;
    bool any_lag = false;
    std::array<int, 5> statuses{};  // partitions per PartitionStatus
  };
  // A partition's window, its owner (index into the group's members, -1:
  // none) and its topic's sums, for the statuses after the walk (reused).
  struct WindowRef {
    size_t entry;
    int member;
    TopicSums* sums;
  };
  std::vector<WindowRef> windows;
  std::vector<char> member_moved;
  for (size_t gi = 0; gi < obs.listing.groups.size(); ++gi) {
    const GroupDescription& g = obs.listing.groups[gi];
    const GroupOffsets* go =
        gi < obs.offsets.size() && obs.offsets[gi].group == g.name ? &obs.offsets[gi] : nullptr;
    seen_groups.insert(g.name);
    GroupState& gs = state_[g.name];
    coord = std::to_string(g.coordinator);
    // Members librdkafka 2.0.2 cannot see (a new-protocol group): no number at all.
    if (g.members_known)
      out.Add(f_members, {{"consumergroup", g.name}}, static_cast<double>(g.members.size()));
    out.Add(f_info,
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

    // Which partitions a live member owns, and which member (for the lag-exporter labels).
    std::map<TopicPartition, const GroupMember*> owner;
    for (const auto& m : g.members)
      for (const auto& tp : m.assignment) owner[tp] = &m;
    // Members unknown: a Stable group has live members, taken as one owner of
    // every committed partition (Burrow's STALL needs a live owner; without
    // members a partition is STOP).
    const bool owned_by_group = !g.members_known && g.state == "Stable";

    if (go == nullptr || go->error != 0) continue;  // offsets unknown this run: no lag series
    const bool carried = obs.carried.count(g.name) > 0;
    int stale = 0;

    std::map<std::string, TopicSums> topics;
    std::vector<PartitionStatus> statuses;
    double max_lag = -1, max_lag_s = -1;
    bool lag_s_unknown = false;  // a lagging partition without an estimate: no group maximum
    double consumed_now = 0;
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
    std::vector<std::string> next_topics;
    std::vector<PartitionEntry> next_state;
    next_state.reserve(go->committed.size());
    windows.clear();
    windows.reserve(go->committed.size());
    member_moved.assign(std::max<size_t>(g.members.size(), 1), 0);  // per member: progress in the window
    int uncommitted = 0;
    for (const auto& [tp, m] : owner) {
      if (topics_.Matches(tp.topic) && !go->HasCommitted(tp)) ++uncommitted;
    }
    TopicPartition tp;  // reused: its topic keeps its buffer, no allocation per partition
    // Committed offsets come grouped by topic: the filter and the topic's sums
    // are looked up once per topic, not per partition.
    uint32_t topic_of_run = UINT32_MAX;
    bool topic_matches = false;
    TopicSums* sums = nullptr;
    for (const auto& c : go->committed) {
      if (c.topic != topic_of_run) {
        topic_of_run = c.topic;
        tp.topic.assign(go->topic(c));
        topic_matches = topics_.Matches(tp.topic);
        sums = topic_matches ? &topics[tp.topic] : nullptr;
      }
      tp.partition = c.partition;
      const int64_t committed = c.offset;
      while (st_it != gs.partitions.end() && before(*st_it, tp)) ++st_it;
      const bool had_state = st_it != gs.partitions.end() && same(*st_it, tp);
      if (!topic_matches) continue;
      pbuf = std::to_string(tp.partition);
      TopicSums& ts = *sums;
      ts.offset += static_cast<double>(committed);
      if (per_partition)
        out.Add(f_offset, {{"consumergroup", g.name}, {"topic", tp.topic}, {"partition", pbuf}},
                static_cast<double>(committed));
      // The partition's owner, or no_member's empty strings (lvalues: the
      // labels below view them).
      const GroupMember* owned_by = nullptr;
      if (auto o = owner.find(tp); o != owner.end()) owned_by = o->second;
      const GroupMember& m = owned_by != nullptr ? *owned_by : no_member;
      if (lx) {
        out.Add(lx_offset,
                {{"cluster_name", config_.cluster_name},
                 {"group", g.name},
                 {"topic", tp.topic},
                 {"partition", pbuf},
                 {"member_host", m.client_host},
                 {"consumer_id", m.member_id},
                 {"client_id", m.client_id}},
                static_cast<double>(committed));
      }
      auto w = find_wm(tp);
      if (w == wm.partitions.end()) continue;  // no watermark (offline/deleted partition): no lag
      if (carried || (!wm.carried.empty() && wm.carried.count(tp))) ++stale;
      int64_t lag = w->second.high - committed;
      if (lag < 0) {
        // Committed ahead of the end offset (truncation, unclean election): never negative.
        if (self_) self_->lag_clamped().Increment();
        lag = 0;
      }
      if (committed < w->second.low) {  // data loss
        const double expired = static_cast<double>(w->second.low - committed);
        ts.expired += expired;
        if (per_partition)
          out.Add(f_expired, {{"consumergroup", g.name}, {"topic", tp.topic}, {"partition", pbuf}}, expired);
      }
      ts.lag += static_cast<double>(lag);
      ts.any_lag = true;
      max_lag = std::max(max_lag, static_cast<double>(lag));
      std::optional<double> lag_s;
      if (lag == 0) {
        lag_s = 0.0;
      } else if (auto h = find_history(tp); h != history_.end()) {
        lag_s = h->second.LagSeconds(committed, obs.now);
      }
      if (lag_s)
        max_lag_s = std::max(max_lag_s, *lag_s);
      else
        lag_s_unknown = true;
      if (per_partition) {
        out.Add(f_lag, {{"consumergroup", g.name}, {"topic", tp.topic}, {"partition", pbuf}},
                static_cast<double>(lag));
        if (lag_s)
          out.Add(f_lag_s, {{"consumergroup", g.name}, {"topic", tp.topic}, {"partition", pbuf}}, *lag_s);
      }
      if (lx) {
        const std::vector<Label> labels = {{"cluster_name", config_.cluster_name},
                                           {"group", g.name},
                                           {"topic", tp.topic},
                                           {"partition", pbuf},
                                           {"member_host", m.client_host},
                                           {"consumer_id", m.member_id},
                                           {"client_id", m.client_id}};
        out.Add(lx_lag, labels, static_cast<double>(lag));
        if (lag_s) out.Add(lx_lag_s, labels, *lag_s);
      }

      // Burrow-style window, one observation per poll.
      if (next_topics.empty() || next_topics.back() != tp.topic) next_topics.push_back(tp.topic);
      const auto topic_index = static_cast<uint32_t>(next_topics.size() - 1);
      if (had_state) {
        next_state.push_back(std::move(*st_it++));
        next_state.back().topic = topic_index;
      } else {
        next_state.push_back({topic_index, tp.partition, {StatusWindow(config_.status_window)}});
      }
      PartitionState& ps = next_state.back().state;
      // A carried commit is no new observation: the window waits for a real one.
      if (!carried) {
        if (ps.window.count() > 0 && committed > ps.window.last().offset)
          consumed_now += static_cast<double>(committed - ps.window.last().offset);
        ps.window.Add({committed, lag});
      }
      if (ps.window.count() == 0) continue;
      const int member =
          owned_by != nullptr ? static_cast<int>(owned_by - g.members.data()) : (owned_by_group ? 0 : -1);
      if (member >= 0 && ps.window.Moved()) member_moved[static_cast<size_t>(member)] = 1;
      windows.push_back({next_state.size() - 1, member, &ts});
    }
    // Statuses once every window has this run's observation: a partition
    // whose owner moved another partition in the window is not stalled.
    for (const WindowRef& w : windows) {
      const PartitionEntry& e = next_state[w.entry];
      const bool owned = w.member >= 0;
      const PartitionStatus st =
          e.state.window.Evaluate(owned, owned && member_moved[static_cast<size_t>(w.member)] != 0);
      statuses.push_back(st);
      ++w.sums->statuses[static_cast<size_t>(st)];
      // Like Burrow's status answer, only the partitions that are not OK: no
      // series for the healthy majority.
      if (per_partition && st != PartitionStatus::kOk) {
        pbuf = std::to_string(e.partition);
        out.Add(f_pstatus,
                {{"consumergroup", g.name},
                 {"topic", next_topics[e.topic]},
                 {"partition", pbuf},
                 {"status", ToString(st)}},
                1);
      }
    }
    gs.partitions = std::move(next_state);  // partitions no longer committed leave the state
    gs.topics = std::move(next_topics);

    double lag_total = 0;
    for (const auto& [topic, ts] : topics) {
      out.Add(f_offset_sum, {{"consumergroup", g.name}, {"topic", topic}}, ts.offset);
      if (!per_partition) {
        // granularity: topic: the data-loss and partition-status families per
        // topic, without the partition label (a sum and a count), so the
        // alerts' `sum without (partition)` read the same at either granularity.
        if (ts.expired > 0) out.Add(f_expired, {{"consumergroup", g.name}, {"topic", topic}}, ts.expired);
        for (size_t i = 0; i < ts.statuses.size(); ++i) {
          const auto st = static_cast<PartitionStatus>(i);
          if (st != PartitionStatus::kOk && ts.statuses[i] > 0)
            out.Add(f_pstatus, {{"consumergroup", g.name}, {"topic", topic}, {"status", ToString(st)}},
                    ts.statuses[i]);
        }
      }
      if (ts.any_lag) {
        out.Add(f_lag_sum, {{"consumergroup", g.name}, {"topic", topic}}, ts.lag);
        lag_total += ts.lag;
        if (lx)
          out.Add(lx_topic_sum, {{"cluster_name", config_.cluster_name}, {"group", g.name}, {"topic", topic}},
                  ts.lag);
      }
    }
    if (max_lag >= 0) {
      out.Add(f_max_lag, {{"consumergroup", g.name}}, max_lag);
      if (lx) {
        out.Add(lx_max, {{"cluster_name", config_.cluster_name}, {"group", g.name}}, max_lag);
        out.Add(lx_sum, {{"cluster_name", config_.cluster_name}, {"group", g.name}}, lag_total);
      }
    }
    if (max_lag_s >= 0 && !lag_s_unknown) {
      out.Add(f_max_lag_s, {{"consumergroup", g.name}}, max_lag_s);
      if (lx) out.Add(lx_max_s, {{"cluster_name", config_.cluster_name}, {"group", g.name}}, max_lag_s);
    }
    if (!statuses.empty())
      out.Add(f_status, {{"consumergroup", g.name}, {"status", ToString(Aggregate(statuses))}}, 1);
    if (stale > 0) out.Add(f_stale, {{"consumergroup", g.name}}, stale);
    // Assignments unknown (members unknown): the count is unknown, not 0.
    if (g.members_known) out.Add(f_uncommitted, {{"consumergroup", g.name}}, uncommitted);

    // Consumption rate over the rate window, from committed-offset advances.
    gs.consumed_total += consumed_now;
    if (!carried) gs.consumed_history.emplace_back(obs.now, gs.consumed_total);
    while (gs.consumed_history.size() > 2 && obs.now - gs.consumed_history[1].first >= rate_window_)
      gs.consumed_history.pop_front();
    if (gs.consumed_history.size() >= 2) {
      double secs =
          std::chrono::duration<double>(gs.consumed_history.back().first - gs.consumed_history.front().first)
              .count();
      if (secs > 0)
        out.Add(f_consumed, {{"consumergroup", g.name}},
                (gs.consumed_history.back().second - gs.consumed_history.front().second) / secs);
    }
  }
  // Deleted groups leave the state with the listing (unless the listing was
  // partial, when a missing group may only be behind an unreachable broker).
  if (!obs.listing.partial) {
    for (auto it = state_.begin(); it != state_.end();) {
      it = seen_groups.count(it->first) ? std::next(it) : state_.erase(it);
    }
    for (auto it = disagreed_.begin(); it != disagreed_.end();) {
      it = seen_groups.count(*it) ? std::next(it) : disagreed_.erase(it);
    }
  }
}

}  // namespace dora
