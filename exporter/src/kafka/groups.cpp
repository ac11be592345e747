#include "kafka/groups.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

#include "kafka/group_requests.h"
#include "kafka/handle.h"
#include "util/log.h"

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

// The first cause found is the one reported.
void MarkPartial(GroupListing* listing, Reason cause, std::string reason) {
  if (listing->partial) return;
  listing->partial = true;
  listing->partial_cause = cause;
  listing->partial_reason = std::move(reason);
}

// ListGroups v4 on every broker (rd_kafka_ListConsumerGroups): each group's
// name, state and whether its protocol type is empty. Per-broker errors mark
// *listing partial, with their cause.
Result<std::vector<ListedGroup>> ListListedGroups(rd_kafka_t* rk, rd_kafka_queue_t* q, int timeout_ms,
                                                  GroupListing* listing) {
  char errstr[256];
  OptionsPtr lopts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS));
  if (!lopts) return Status::Error(Reason::kKafka, "ListConsumerGroups: cannot create the request");
  rd_kafka_AdminOptions_set_request_timeout(lopts.get(), timeout_ms, errstr, sizeof errstr);
  rd_kafka_ListConsumerGroups(rk, lopts.get(), q);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> lev(
      rd_kafka_queue_poll(q, KafkaMs(Millis(timeout_ms), 200)), rd_kafka_event_destroy);
  if (!lev) return Status::Error(Reason::kTimeout, "ListConsumerGroups: no response in time");
  if (rd_kafka_event_error(lev.get()))
    return Status::Error(Reason::kKafka,
                         std::string("ListConsumerGroups: ") + rd_kafka_event_error_string(lev.get()));
  const rd_kafka_ListConsumerGroups_result_t* lres = rd_kafka_event_ListConsumerGroups_result(lev.get());
  if (lres == nullptr) return Status::Error(Reason::kKafka, "ListConsumerGroups: unexpected event");
  size_t nerr = 0;
  const rd_kafka_error_t** errs = rd_kafka_ListConsumerGroups_result_errors(lres, &nerr);
  if (nerr > 0) {
    MarkPartial(listing, IsTimeoutError(rd_kafka_error_code(errs[0])) ? Reason::kTimeout : Reason::kKafka,
                std::string("ListConsumerGroups: ") + rd_kafka_error_string(errs[0]));
  }
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

GroupDescription DescribedGroup(const rd_kafka_ConsumerGroupDescription_t* g) {
  GroupDescription d;
  const char* id = rd_kafka_ConsumerGroupDescription_group_id(g);
  d.name = id ? id : "";
  if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(g))
    d.error = rd_kafka_error_code(e);
  // Kafka's own state names (Stable, Empty, ...), as rd_kafka_list_groups reports them.
  d.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g));
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
  return d;
}

Result<GroupListing> ListGroupsAdmin(KafkaClient& client, GroupRequests& requests, int max_in_flight,
                                     Millis timeout) {
  rd_kafka_t* rk = client.raw();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto left = [&] { return std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now()); };
  QueuePtr q(rd_kafka_queue_new(rk));
  if (!q) return Status::Error(Reason::kKafka, "ListConsumerGroups: cannot create the request");
  GroupListing out;
  // ListConsumerGroups asks every broker the handle knows and waits out its
  // time for one that just stopped: at most half the budget, so that the
  // describes of the groups it did list still have time.
  const Millis list_time = std::min(left(), std::max(Millis(1000), left() / 2));
  auto listed = ListListedGroups(rk, q.get(), KafkaMs(list_time), &out);
  GetLogger("kafka")->debug("ListConsumerGroups: {} ({}), {} ms left",
                            listed.ok() ? "answered" : listed.status().message, out.partial_reason,
                            left().count());
  if (!listed.ok()) return listed.status();
  std::vector<std::string> names;
  for (const auto& l : listed.value()) names.push_back(l.name);
  // No group, and a broker did not answer: librdkafka does not say whether any
  // broker did, so whether groups exist is unknown. With every broker down
  // this is the only answer there is, and it must not pass for "no groups".
  if (names.empty() && out.partial) return Status::Error(out.partial_cause, out.partial_reason);
  if (names.empty()) return out;
  // One DescribeConsumerGroups per group, coordinator-bound: through the
  // long-lived requests (GroupRequests says why).
  out.groups = requests.DescribeGroups(names, max_in_flight, left());
  for (auto& d : out.groups) {
    if (d.error == 0) continue;
    MarkPartial(&out, IsTimeoutError(d.error) ? Reason::kTimeout : Reason::kKafka,
                "DescribeConsumerGroups(" + d.name + "): " + KafkaErrorString(d.error));
    if (d.state.empty()) d.state = "Unknown";
  }
  // The admin path lists with v4 only: share groups never reach it.
  ReconcileWithListing(&out, listed.value(), false);
  return out;
}

Result<GroupListing> ListGroups(KafkaClient& client, GroupRequests& requests, int max_in_flight,
                                Millis timeout, bool try_cheap, bool* cheap_failed) {
  if (cheap_failed) *cheap_failed = false;
  if (!try_cheap) return ListGroupsAdmin(client, requests, max_in_flight, timeout);
  auto start = std::chrono::steady_clock::now();
  // Half the budget for the cheap path (under load it needs seconds; with a
  // broker down it fails within about one), the rest for the fallback:
  // ListConsumerGroups, then one DescribeConsumerGroups per group.
  Millis first = timeout / 2;
  const rd_kafka_group_list* list = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_list_groups(client.raw(), nullptr, &list, KafkaMs(first));
  const GroupListPtr list_owner(list);  // released on every return, and if a copy below throws
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || list == nullptr) {
    if (cheap_failed) *cheap_failed = true;
    auto left = timeout - std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    GetLogger("kafka")->debug("ListGroups (all brokers) failed after {} ms ({}); the admin listing has {} ms",
                              (timeout - left).count(), rd_kafka_err2str(err), left.count());
    if (left.count() <= 0)
      return Status::Error(Reason::kTimeout, std::string("ListGroups: ") + rd_kafka_err2str(err));
    return ListGroupsAdmin(client, requests, max_in_flight, left);
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
    GroupListing per_broker;
    auto listed = q && left.count() > 0 ? ListListedGroups(client.raw(), q.get(), KafkaMs(left), &per_broker)
                                        : Result<std::vector<ListedGroup>>(Status::Error(
                                              Reason::kTimeout, "ListConsumerGroups: no time left"));
    if (!listed.ok()) {
      // States stay DescribeGroups' (possibly wrong): say so in the run's status.
      MarkPartial(&out, listed.status().reason, listed.status().message);
    } else {
      if (per_broker.partial) MarkPartial(&out, per_broker.partial_cause, per_broker.partial_reason);
      ReconcileWithListing(&out, listed.value(), !per_broker.partial);
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
