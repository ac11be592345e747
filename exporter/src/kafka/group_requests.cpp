#include "kafka/group_requests.h"

#include <algorithm>
#include <set>

#include "util/log.h"

namespace dora {

GroupRequests::GroupRequests(KafkaClient& client, size_t max_pending)
    : client_(client),
      max_pending_(std::max<size_t>(max_pending, 1)),
      queue_(rd_kafka_queue_new(client.raw())) {}

// Destroying the queue disables it: answers still to come are dropped by
// librdkafka (the requests themselves never time out before their hour).
GroupRequests::~GroupRequests() = default;

Millis GroupRequests::oldest_pending() const {
  if (pending_.empty()) return Millis(0);
  auto oldest = std::chrono::steady_clock::now();
  for (const auto& [id, p] : pending_) oldest = std::min(oldest, p.sent);
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - oldest);
}

bool GroupRequests::Send(Kind kind, const std::string& group, uint64_t id) {
  rd_kafka_t* rk = client_.raw();
  char errstr[256];
  OptionsPtr opts(rd_kafka_AdminOptions_new(rk, kind == Kind::kOffsets
                                                    ? RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS
                                                    : RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS));
  if (!opts) return false;
  if (rd_kafka_AdminOptions_set_request_timeout(opts.get(), KafkaMs(kRequestTimeout), errstr,
                                                sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return false;  // never sent with a shorter timeout than the hour (see the header)
  rd_kafka_AdminOptions_set_opaque(opts.get(), reinterpret_cast<void*>(static_cast<uintptr_t>(id)));
  if (kind == Kind::kOffsets) {
    OffsetsRequestPtr req(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr));
    if (!req) return false;
    rd_kafka_ListConsumerGroupOffsets_t* r = req.get();
    rd_kafka_ListConsumerGroupOffsets(rk, &r, 1, opts.get(), queue_.get());
  } else {
    const char* name = group.c_str();
    rd_kafka_DescribeConsumerGroups(rk, &name, 1, opts.get(), queue_.get());
  }
  return true;
}

void GroupRequests::Exchange(Kind kind, const std::vector<std::string>& groups, int max_in_flight,
                             Millis timeout, const std::function<bool(size_t, rd_kafka_event_t*)>& take) {
  if (groups.empty() || !queue_) return;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  auto left = [&] { return std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()); };
  // Per group of this run (names are unique, as listings are): its position,
  // its outstanding requests of this kind (sent by this run or an earlier
  // one: an answer to any of them is an answer for this run) and when the
  // newest of them went out.
  struct Want {
    size_t pos;
    int outstanding = 0;
    std::chrono::steady_clock::time_point newest{};
    bool good = false;
  };
  std::map<std::string, Want> want;
  for (size_t i = 0; i < groups.size(); ++i) want.emplace(groups[i], Want{i});
  size_t awaited = 0;  // outstanding requests of this run's groups
  for (const auto& [id, p] : pending_) {
    auto w = want.find(p.group);
    if (p.kind != kind || w == want.end()) continue;
    ++w->second.outstanding;
    ++awaited;
    w->second.newest = std::max(w->second.newest, p.sent);
  }
  std::set<uint64_t> mine;  // this run's own requests still out: max_in_flight bounds them
  size_t answered = 0, next = 0, skipped_young = 0;
  for (;;) {
    // Send: a group with a request younger than one run budget waits for
    // that one; an older one (its coordinator frozen, say) gets one more.
    while (mine.size() < static_cast<size_t>(std::max(max_in_flight, 1)) && next < groups.size() &&
           left().count() > 0) {
      Want& w = want.at(groups[next++]);
      if (w.good || w.pos != next - 1) continue;
      const bool young = w.outstanding > 0 && start - w.newest < timeout;
      if (young) {
        ++skipped_young;
        continue;
      }
      if (w.outstanding >= kMaxPendingPerGroup || pending_.size() >= max_pending_) {
        starved_ = true;
        continue;
      }
      const uint64_t id = next_id_++;
      if (!Send(kind, groups[w.pos], id)) continue;
      w.newest = std::chrono::steady_clock::now();
      pending_[id] = {kind, groups[w.pos], w.newest};
      ++w.outstanding;
      ++awaited;
      mine.insert(id);
    }
    if (answered == want.size() || (awaited == 0 && next >= groups.size())) break;
    const Millis wait = left();
    if (wait.count() <= 0) break;
    EventPtr ev(rd_kafka_queue_poll(queue_.get(), KafkaMs(wait)));
    if (!ev) break;  // deadline
    const auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(ev.get())));
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    const Pending p = std::move(it->second);
    pending_.erase(it);
    mine.erase(id);
    auto w = want.find(p.group);
    if (p.kind != kind || w == want.end()) continue;  // an earlier run's question: answered, dropped
    --w->second.outstanding;
    --awaited;
    if (w->second.good) continue;
    if (take(w->second.pos, ev.get())) {
      w->second.good = true;
      ++answered;
    } else {
      GetLogger("kafka")->debug(
          "{} {}: answer after {} ms without the group: {}",
          kind == Kind::kOffsets ? "OffsetFetch" : "DescribeConsumerGroups", p.group,
          std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - p.sent).count(),
          rd_kafka_event_error_string(ev.get()));
    }
  }
  if (answered < want.size()) {
    GetLogger("kafka")->debug(
        "{}: {} of {} group(s) answered in {} ms; {} waited on an earlier request, {} outstanding",
        kind == Kind::kOffsets ? "OffsetFetch" : "DescribeConsumerGroups", answered, want.size(),
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count(), skipped_young,
        pending_.size());
  }
}

std::vector<GroupOffsets> GroupRequests::FetchCommittedOffsets(const std::vector<std::string>& groups,
                                                               int max_in_flight, Millis timeout) {
  std::vector<GroupOffsets> out(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    out[i].group = groups[i];
    out[i].error = RD_KAFKA_RESP_ERR__TIMED_OUT;
  }
  Exchange(Kind::kOffsets, groups, max_in_flight, timeout, [&out](size_t i, rd_kafka_event_t* ev) {
    GroupOffsets parsed;
    parsed.group = out[i].group;
    const bool ok = ParseCommittedOffsets(ev, &parsed);
    if (ok || out[i].error == RD_KAFKA_RESP_ERR__TIMED_OUT) out[i] = std::move(parsed);
    return ok;
  });
  return out;
}

std::vector<GroupDescription> GroupRequests::DescribeGroups(const std::vector<std::string>& groups,
                                                            int max_in_flight, Millis timeout) {
  std::vector<GroupDescription> out(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    out[i].name = groups[i];
    out[i].error = RD_KAFKA_RESP_ERR__TIMED_OUT;
  }
  Exchange(Kind::kDescribe, groups, max_in_flight, timeout, [&out](size_t i, rd_kafka_event_t* ev) {
    const rd_kafka_DescribeConsumerGroups_result_t* res = rd_kafka_event_DescribeConsumerGroups_result(ev);
    size_t n = 0;
    const rd_kafka_ConsumerGroupDescription_t** descs =
        res != nullptr && rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR
            ? rd_kafka_DescribeConsumerGroups_result_groups(res, &n)
            : nullptr;
    if (n != 1) {
      if (out[i].error == RD_KAFKA_RESP_ERR__TIMED_OUT)
        out[i].error = res == nullptr ? RD_KAFKA_RESP_ERR__BAD_MSG : rd_kafka_event_error(ev);
      return false;
    }
    GroupDescription d = DescribedGroup(descs[0]);
    const bool ok = d.error == 0;
    if (ok || out[i].error == RD_KAFKA_RESP_ERR__TIMED_OUT) out[i] = std::move(d);
    return ok;
  });
  return out;
}

bool ParseCommittedOffsets(rd_kafka_event_t* ev, GroupOffsets* out) {
  GroupOffsets& g = *out;
  g.committed.clear();
  g.topics.clear();
  g.error = rd_kafka_event_error(ev);
  const rd_kafka_ListConsumerGroupOffsets_result_t* res = rd_kafka_event_ListConsumerGroupOffsets_result(ev);
  size_t n = 0;
  const rd_kafka_group_result_t** gr =
      res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : nullptr;
  if (g.error != 0) return false;
  if (n != 1) {
    g.error = RD_KAFKA_RESP_ERR__BAD_MSG;
    return false;
  }
  if (const rd_kafka_error_t* gerr = rd_kafka_group_result_error(gr[0])) {
    g.error = rd_kafka_error_code(gerr);
    return false;
  }
  const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(gr[0]);
  if (parts == nullptr) return true;
  g.committed.reserve(static_cast<size_t>(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& e = parts->elems[i];
    // No committed offset: no entry at all (never a -1 sentinel downstream).
    if (e.err != 0 || e.offset < 0) continue;
    if (g.topics.empty() || g.topics.back() != e.topic) g.topics.emplace_back(e.topic);
    g.committed.push_back({static_cast<uint32_t>(g.topics.size() - 1), e.partition, e.offset});
  }
  auto before = [&g](const GroupOffsets::Committed& a, const GroupOffsets::Committed& b) {
    return PartitionLess(g.topic(a), a.partition, g.topic(b), b.partition);
  };
  auto same = [&g](const GroupOffsets::Committed& a, const GroupOffsets::Committed& b) {
    return PartitionEqual(g.topic(a), a.partition, g.topic(b), b.partition);
  };
  std::stable_sort(g.committed.begin(), g.committed.end(), before);
  // A partition listed twice keeps its last offset.
  size_t kept = 0;
  for (size_t r = 0; r < g.committed.size(); ++r) {
    if (kept > 0 && same(g.committed[kept - 1], g.committed[r])) {
      g.committed[kept - 1].offset = g.committed[r].offset;
    } else {
      g.committed[kept++] = g.committed[r];
    }
  }
  g.committed.resize(kept);
  return true;
}

std::vector<GroupOffsets> FetchCommittedOffsets(KafkaClient& client, const std::vector<std::string>& groups,
                                                int max_in_flight, Millis timeout) {
  GroupRequests requests(client);
  return requests.FetchCommittedOffsets(groups, max_in_flight, timeout);
}

}  // namespace dora
