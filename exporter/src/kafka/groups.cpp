#include "kafka/groups.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

#include "kafka/handle.h"

namespace dora {
namespace {

struct Reader {
  const uint8_t* p;
  size_t left;
  bool ok = true;
  int16_t I16() {
    if (left < 2) return ok = false, 0;
    int16_t v = static_cast<int16_t>((p[0] << 8) | p[1]);
    p += 2;
    left -= 2;
    return v;
  }
  int32_t I32() {
    if (left < 4) return ok = false, 0;
    uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    p += 4;
    left -= 4;
    return static_cast<int32_t>(v);
  }
  std::string Str() {
    int16_t n = I16();
    if (!ok || n < 0 || static_cast<size_t>(n) > left) return ok = false, std::string();
    std::string s(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    p += n;
    left -= n;
    return s;
  }
};

}  // namespace

bool DecodeAssignment(const void* data, size_t size, std::vector<TopicPartition>* out) {
  out->clear();
  if (data == nullptr || size == 0) return true;  // no assignment (e.g. rebalancing)
  Reader r{static_cast<const uint8_t*>(data), size};
  r.I16();  // version
  int32_t topics = r.I32();
  if (!r.ok || topics < 0 || topics > 1'000'000) return false;
  for (int32_t t = 0; t < topics && r.ok; ++t) {
    std::string topic = r.Str();
    int32_t parts = r.I32();
    if (!r.ok || parts < 0 || static_cast<size_t>(parts) * 4 > r.left) return false;
    for (int32_t i = 0; i < parts && r.ok; ++i) out->push_back({topic, r.I32()});
  }
  return r.ok;  // user data that follows is ignored
}

namespace {

// ListGroups v4 on every broker (rd_kafka_ListConsumerGroups): each group's
// name, state and whether its protocol type is empty. Per-broker errors make
// *partial_reason non-empty.
Result<std::vector<ListedGroup>> ListListedGroups(rd_kafka_t* rk, rd_kafka_queue_t* q, int timeout_ms,
                                                  std::string* partial_reason) {
  char errstr[256];
  OptionsPtr lopts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS));
  if (!lopts) return Status::Error("kafka", "ListConsumerGroups: cannot create the request");
  rd_kafka_AdminOptions_set_request_timeout(lopts.get(), timeout_ms, errstr, sizeof errstr);
  rd_kafka_ListConsumerGroups(rk, lopts.get(), q);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> lev(
      rd_kafka_queue_poll(q, KafkaMs(Millis(timeout_ms), 200)), rd_kafka_event_destroy);
  if (!lev) return Status::Error("timeout", "ListConsumerGroups: no response in time");
  if (rd_kafka_event_error(lev.get()))
    return Status::Error("kafka",
                         std::string("ListConsumerGroups: ") + rd_kafka_event_error_string(lev.get()));
  const rd_kafka_ListConsumerGroups_result_t* lres = rd_kafka_event_ListConsumerGroups_result(lev.get());
  if (lres == nullptr) return Status::Error("kafka", "ListConsumerGroups: unexpected event");
  size_t nerr = 0;
  const rd_kafka_error_t** errs = rd_kafka_ListConsumerGroups_result_errors(lres, &nerr);
  if (nerr > 0) *partial_reason = std::string("ListConsumerGroups: ") + rd_kafka_error_string(errs[0]);
  size_t n = 0;
  const rd_kafka_ConsumerGroupListing_t** valid = rd_kafka_ListConsumerGroups_result_valid(lres, &n);
  std::vector<ListedGroup> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    const char* id = rd_kafka_ConsumerGroupListing_group_id(valid[i]);
    if (id == nullptr || !seen.insert(id).second) continue;
    ListedGroup l;
    l.name = id;
    l.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(valid[i]));
    l.simple = rd_kafka_ConsumerGroupListing_is_simple_consumer_group(valid[i]) != 0;
    out.push_back(std::move(l));
  }
  return out;
}

bool DeadOrUnknown(const std::string& state) {
  return state.empty() || state == "Dead" || state == "Unknown";
}

}  // namespace

void ReconcileWithListing(GroupListing* listing, const std::vector<ListedGroup>& listed,
                          bool listed_complete) {
  std::map<std::string, const ListedGroup*> by_name;
  for (const auto& l : listed) by_name.emplace(l.name, &l);
  std::vector<GroupDescription> kept;
  kept.reserve(listing->groups.size());
  for (auto& d : listing->groups) {
    auto it = by_name.find(d.name);
    if (it == by_name.end()) {
      // Listed by ListGroups v0 but not by v4, and unknown to DescribeGroups:
      // a share group (4.1 lists no other kind so with share.version=1).
      if (listed_complete && DeadOrUnknown(d.state) && d.members.empty() && d.error == 0) {
        listing->share_groups.push_back({d.name, "Unknown"});
        continue;
      }
    } else if (DeadOrUnknown(d.state) && !DeadOrUnknown(it->second->state)) {
      // DescribeGroups knows classic groups only: the listing's live state wins.
      d.described_state = d.state.empty() ? "Unknown" : d.state;
      d.state = it->second->state;
      d.type = "consumer";
      d.members_known = false;
      d.members.clear();
      if (d.protocol_type.empty() && !it->second->simple) d.protocol_type = "consumer";
    }
    kept.push_back(std::move(d));
  }
  listing->groups = std::move(kept);
}

Result<GroupListing> ListGroupsAdmin(KafkaClient& client, Millis timeout) {
  rd_kafka_t* rk = client.raw();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    return KafkaMs(std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
  };
  char errstr[256];
  QueuePtr q(rd_kafka_queue_new(rk));
  if (!q) return Status::Error("kafka", "ListConsumerGroups: cannot create the request");
  GroupListing out;
  auto listed = ListListedGroups(rk, q.get(), left_ms(), &out.partial_reason);
  if (!listed.ok()) return listed.status();
  out.partial = !out.partial_reason.empty();
  std::vector<std::string> names;
  for (const auto& l : listed.value()) names.push_back(l.name);
  if (names.empty()) return out;
  std::vector<const char*> cnames;
  for (const auto& s : names) cnames.push_back(s.c_str());
  OptionsPtr dopts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS));
  if (!dopts) return Status::Error("kafka", "DescribeConsumerGroups: cannot create the request");
  rd_kafka_AdminOptions_set_request_timeout(dopts.get(), left_ms(), errstr, sizeof errstr);
  rd_kafka_DescribeConsumerGroups(rk, cnames.data(), cnames.size(), dopts.get(), q.get());
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> dev(
      rd_kafka_queue_poll(q.get(), KafkaMs(Millis(left_ms()), 200)), rd_kafka_event_destroy);
  if (!dev) return Status::Error("timeout", "DescribeConsumerGroups: no response in time");
  const rd_kafka_DescribeConsumerGroups_result_t* dres =
      rd_kafka_event_DescribeConsumerGroups_result(dev.get());
  if (rd_kafka_event_error(dev.get()) || dres == nullptr)
    return Status::Error("kafka",
                         std::string("DescribeConsumerGroups: ") + rd_kafka_event_error_string(dev.get()));
  size_t dn = 0;
  const rd_kafka_ConsumerGroupDescription_t** descs =
      rd_kafka_DescribeConsumerGroups_result_groups(dres, &dn);
  for (size_t i = 0; i < dn; ++i) {
    const rd_kafka_ConsumerGroupDescription_t* g = descs[i];
    GroupDescription d;
    d.name = rd_kafka_ConsumerGroupDescription_group_id(g);
    if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(g)) {
      d.error = rd_kafka_error_code(e);
      out.partial = true;
      out.partial_reason = "DescribeConsumerGroups(" + d.name + "): " + rd_kafka_error_string(e);
    }
    // Kafka's own state names (Stable, Empty, ...), as rd_kafka_list_groups reports them.
    std::string state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g));
    d.state = state;
    d.protocol_type = rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g) ? "" : "consumer";
    const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(g);
    d.protocol = assignor ? assignor : "";
    if (const rd_kafka_Node_t* node = rd_kafka_ConsumerGroupDescription_coordinator(g))
      d.coordinator = rd_kafka_Node_id(node);
    size_t members = rd_kafka_ConsumerGroupDescription_member_count(g);
    for (size_t m = 0; m < members; ++m) {
      const rd_kafka_MemberDescription_t* md = rd_kafka_ConsumerGroupDescription_member(g, m);
      GroupMember gm;
      const char* s;
      gm.member_id = (s = rd_kafka_MemberDescription_consumer_id(md)) ? s : "";
      gm.client_id = (s = rd_kafka_MemberDescription_client_id(md)) ? s : "";
      gm.client_host = (s = rd_kafka_MemberDescription_host(md)) ? s : "";
      if (const rd_kafka_MemberAssignment_t* a = rd_kafka_MemberDescription_assignment(md)) {
        if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_MemberAssignment_partitions(a)) {
          for (int p = 0; p < parts->cnt; ++p)
            gm.assignment.push_back({parts->elems[p].topic, parts->elems[p].partition});
        }
      }
      d.members.push_back(std::move(gm));
    }
    out.groups.push_back(std::move(d));
  }
  // The admin path lists with v4 only: share groups never reach it.
  ReconcileWithListing(&out, listed.value(), false);
  return out;
}

Result<GroupListing> ListGroups(KafkaClient& client, Millis timeout, bool try_cheap, bool* cheap_failed) {
  if (cheap_failed) *cheap_failed = false;
  if (!try_cheap) return ListGroupsAdmin(client, timeout);
  auto start = std::chrono::steady_clock::now();
  // Half the budget for the cheap path, the rest for the fallback.
  Millis first = timeout / 2;
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(client.raw(), nullptr, &list, KafkaMs(first));
  const GroupListPtr list_owner(list);  // released on every return, and if a copy below throws
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || list == nullptr) {
    if (cheap_failed) *cheap_failed = true;
    auto left = timeout - std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    if (left.count() <= 0)
      return Status::Error("timeout", std::string("ListGroups: ") + rd_kafka_err2str(err));
    return ListGroupsAdmin(client, left);
  }
  GroupListing out;
  std::set<std::string> seen;
  for (int i = 0; i < list->group_cnt; ++i) {
    const auto& g = list->groups[i];
    // While a coordinator moves, two brokers may both answer for a group: keep one.
    if (g.group == nullptr || !seen.insert(g.group).second) continue;
    GroupDescription d;
    d.name = g.group;
    d.state = g.state ? g.state : "";
    d.protocol_type = g.protocol_type ? g.protocol_type : "";
    d.protocol = g.protocol ? g.protocol : "";
    d.coordinator = g.broker.id;
    d.error = g.err;
    for (int m = 0; m < g.member_cnt; ++m) {
      const auto& mi = g.members[m];
      GroupMember gm;
      gm.member_id = mi.member_id ? mi.member_id : "";
      gm.client_id = mi.client_id ? mi.client_id : "";
      gm.client_host = mi.client_host ? mi.client_host : "";
      if (d.protocol_type == "consumer") {
        DecodeAssignment(mi.member_assignment, static_cast<size_t>(mi.member_assignment_size),
                         &gm.assignment);
      }
      d.members.push_back(std::move(gm));
    }
    out.groups.push_back(std::move(d));
  }
  // DescribeGroups answers Dead for every group it does not know (KIP-848
  // and share groups): only then is ListGroups v4 asked for the real state.
  bool any_dead = false;
  for (const auto& d : out.groups) any_dead = any_dead || DeadOrUnknown(d.state);
  if (any_dead) {
    auto left = timeout - std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    QueuePtr q(rd_kafka_queue_new(client.raw()));
    std::string reason;
    auto listed =
        q && left.count() > 0
            ? ListListedGroups(client.raw(), q.get(), KafkaMs(left), &reason)
            : Result<std::vector<ListedGroup>>(Status::Error("timeout", "ListConsumerGroups: no time left"));
    if (!listed.ok()) {
      // States stay DescribeGroups' (possibly wrong): say so in the run's status.
      out.partial = true;
      out.partial_reason = listed.status().message;
    } else {
      if (!reason.empty()) out.partial = true, out.partial_reason = reason;
      ReconcileWithListing(&out, listed.value(), reason.empty());
    }
  }
  return out;
}

std::vector<GroupOffsets> FetchCommittedOffsets(KafkaClient& client, const std::vector<std::string>& groups,
                                                int max_in_flight, Millis timeout) {
  std::vector<GroupOffsets> out(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    out[i].group = groups[i];
    out[i].error = RD_KAFKA_RESP_ERR__TIMED_OUT;
  }
  if (groups.empty()) return out;
  rd_kafka_t* rk = client.raw();
  QueuePtr q(rd_kafka_queue_new(rk));
  if (!q) return out;  // every group stays timed out
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t next = 0, done = 0;
  int in_flight = 0;
  auto left_ms = [&] {
    return KafkaMs(std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()));
  };
  char errstr[256];
  // Each result carries its index in `groups` as the admin opaque.
  while (done < groups.size()) {
    while (in_flight < max_in_flight && next < groups.size() && left_ms() > 0) {
      OffsetsRequestPtr req(rd_kafka_ListConsumerGroupOffsets_new(groups[next].c_str(), nullptr));
      OptionsPtr opts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
      if (!req || !opts) {  // not sent: the group stays timed out
        ++next;
        ++done;
        continue;
      }
      rd_kafka_AdminOptions_set_request_timeout(opts.get(), left_ms(), errstr, sizeof errstr);
      rd_kafka_AdminOptions_set_opaque(opts.get(), reinterpret_cast<void*>(next));
      rd_kafka_ListConsumerGroupOffsets_t* r = req.get();
      rd_kafka_ListConsumerGroupOffsets(rk, &r, 1, opts.get(), q.get());
      ++next;
      ++in_flight;
    }
    if (in_flight == 0) break;  // deadline passed before the rest could be sent
    int wait = left_ms();
    if (wait <= 0) break;
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q.get(), KafkaMs(Millis(wait), 200));
    if (ev == nullptr) break;
    const EventPtr ev_owner(ev);  // released however this iteration ends
    --in_flight;
    ++done;
    size_t idx = reinterpret_cast<size_t>(rd_kafka_event_opaque(ev));
    if (idx < out.size()) {
      GroupOffsets& g = out[idx];
      g.error = rd_kafka_event_error(ev);
      const rd_kafka_ListConsumerGroupOffsets_result_t* res =
          rd_kafka_event_ListConsumerGroupOffsets_result(ev);
      size_t n = 0;
      const rd_kafka_group_result_t** gr =
          res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : nullptr;
      if (g.error == 0 && n == 1) {
        const rd_kafka_error_t* gerr = rd_kafka_group_result_error(gr[0]);
        if (gerr != nullptr) {
          g.error = rd_kafka_error_code(gerr);
        } else if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(gr[0])) {
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
          // A partition listed twice keeps its last offset, as the map did.
          size_t kept = 0;
          for (size_t r = 0; r < g.committed.size(); ++r) {
            if (kept > 0 && same(g.committed[kept - 1], g.committed[r])) {
              g.committed[kept - 1].offset = g.committed[r].offset;
            } else {
              g.committed[kept++] = g.committed[r];
            }
          }
          g.committed.resize(kept);
        }
      } else if (g.error == 0) {
        g.error = RD_KAFKA_RESP_ERR__BAD_MSG;
      }
    }
  }
  return out;
}

bool GroupOffsets::HasCommitted(const TopicPartition& tp) const {
  auto it = std::lower_bound(committed.begin(), committed.end(), tp,
                             [this](const Committed& c, const TopicPartition& key) {
                               return PartitionLess(topic(c), c.partition, key.topic, key.partition);
                             });
  return it != committed.end() && PartitionEqual(topic(*it), it->partition, tp.topic, tp.partition);
}

}  // namespace dora
