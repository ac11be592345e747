#include "collectors/consumer_groups.h"

#include <algorithm>

#include "metrics/catalogue.h"
#include "util/log.h"
#include "util/shard.h"

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
  // This shard's groups only, before their committed offsets are asked for:
  // a shard pays for its own groups alone.
  auto mine = [this](const std::string& name) {
    return groups_.Matches(name) && ShardOf(name, shard_count_) == shard_index_;
  };
  std::vector<GroupDescription> kept;
  for (auto& g : obs.listing.groups) {
    if (mine(g.name)) kept.push_back(std::move(g));
  }
  std::vector<ShareGroup> shares;
  for (auto& sg : obs.listing.share_groups) {
    if (mine(sg.name)) shares.push_back(std::move(sg));
  }
  obs.listing.share_groups = std::move(shares);
  obs.listing.groups = std::move(kept);
  std::vector<std::string> names;
  names.reserve(obs.listing.groups.size());
  for (const auto& g : obs.listing.groups) names.push_back(g.name);
  // The reader of __consumer_offsets, once caught up, holds every group's
  // committed offsets: no FindCoordinator or OffsetFetch this run.
  std::optional<OffsetsTopicProgress> progress;
  if (offsets_source_) progress = offsets_source_->Progress();
  if (progress && progress->caught_up) {
    obs.offsets = offsets_source_->Committed(names);
  } else {
    obs.offsets = kafka_->FetchCommittedOffsets(names, config_.max_in_flight, until(offsets_by));
  }
  if (progress) RenderOffsetsTopicProgress(*progress, out);
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
  if (watermarks_->cluster()) obs.cluster = watermarks_->cluster()->Get();
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

void ConsumerGroupsCollector::RenderOffsetsTopicProgress(const OffsetsTopicProgress& p, MetricsBuilder& out) {
  out.Add(out.Family(DORA_METRIC("kafka_consumergroup_offsets_topic_caught_up")), {}, p.caught_up ? 1 : 0);
  auto records = out.Family(DORA_METRIC("kafka_consumergroup_offsets_topic_records_total"));
  for (const auto& [kind, n] : p.records) out.Add(records, {{"kind", kind}}, static_cast<double>(n));
  out.Add(out.Family(DORA_METRIC("kafka_consumergroup_offsets_topic_group_partitions")), {},
          static_cast<double>(p.group_partitions));
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

}  // namespace dora
