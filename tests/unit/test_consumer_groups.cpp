// ConsumerGroupsCollector::Render on hand-built observations (no broker): the
// kafka-lag-exporter labels and the partition statuses it writes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerting/rules.h"
#include "collectors/consumer_groups.h"
#include "support/metrics_text.h"

using namespace dora;
using namespace std::chrono_literals;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;
using dora::test::Sample;

namespace {

const SteadyTime T0 = SteadyTime() + 1000s;

// Member ids as librdkafka makes them: longer than a std::string's inline
// buffer, so a label viewing a freed copy reads freed heap.
GroupMember Member(const std::string& id, std::vector<TopicPartition> assignment) {
  GroupMember m;
  m.member_id = "rdkafka-" + id + "-0b9e7d4c-5a61-4c2e-9d7a-3f0e8c1b2a47";
  m.client_id = "client-of-" + id + "-with-a-long-name";
  m.client_host = "/127.0.0.1";
  m.assignment = std::move(assignment);
  return m;
}

// One run's observation: group `group` with `members`, committed offsets of
// topic `topic` per partition, high watermarks per partition.
GroupsObservation Observe(const std::string& group, std::vector<GroupMember> members,
                          const std::string& topic, const std::vector<int64_t>& committed,
                          const std::vector<int64_t>& high, SteadyTime now) {
  GroupsObservation obs;
  GroupDescription g;
  g.name = group;
  g.state = "Stable";
  g.protocol_type = "consumer";
  g.protocol = "range";
  g.coordinator = 1;
  g.members = std::move(members);
  obs.listing.groups.push_back(std::move(g));
  GroupOffsets go;
  go.group = group;
  go.topics = {topic};
  for (size_t p = 0; p < committed.size(); ++p)
    go.committed.push_back({0, static_cast<int32_t>(p), committed[p]});
  obs.offsets.push_back(std::move(go));
  auto wm = std::make_shared<WatermarkSnapshot>();
  wm->finished = now;
  for (size_t p = 0; p < high.size(); ++p) wm->partitions[{topic, static_cast<int32_t>(p)}] = {high[p], 0};
  wm->partitions_per_topic[topic] = static_cast<int>(high.size());
  obs.watermarks = wm;
  obs.now = now;
  return obs;
}

std::string RenderOnce(ConsumerGroupsCollector& c, const GroupsObservation& obs) {
  MetricsBuilder out;
  c.Render(obs, out);
  return out.Render();
}

}  // namespace

TEST_CASE("kafka-lag-exporter labels carry the owning member's ids", "[consumer_groups][lag-exporter]") {
  ConsumerGroupsCollectorConfig config;
  config.lag_exporter_metrics = true;
  config.cluster_name = "main";
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  const GroupMember a = Member("a", {{"orders", 0}});
  const GroupMember b = Member("b", {{"orders", 1}});
  // Partition 2 is committed but owned by nobody: empty member labels.
  auto obs = Observe("billing", {a, b}, "orders", {10, 20, 30}, {15, 40, 30}, T0);
  auto s = ParseExposition(RenderOnce(c, obs));

  for (const char* family : {"kafka_consumergroup_group_offset", "kafka_consumergroup_group_lag"}) {
    INFO(family);
    auto series = FindAll(s, family, {{"group", "billing"}, {"topic", "orders"}});
    REQUIRE(series.size() == 3);
    for (const auto& x : series) {
      const std::string& p = x.labels.at("partition");
      const GroupMember* m = p == "0" ? &a : p == "1" ? &b : nullptr;
      INFO("partition " << p);
      CHECK(x.labels.at("cluster_name") == "main");
      CHECK(x.labels.at("consumer_id") == (m ? m->member_id : ""));
      CHECK(x.labels.at("client_id") == (m ? m->client_id : ""));
      CHECK(x.labels.at("member_host") == (m ? m->client_host : ""));
    }
  }
  CHECK(Find(s, "kafka_consumergroup_group_lag", {{"partition", "1"}, {"consumer_id", b.member_id}}) == 20);
  CHECK(Find(s, "kafka_consumergroup_group_offset", {{"partition", "0"}, {"client_id", a.client_id}}) == 10);
}

namespace {

// Partition statuses after `runs` polls of topic "events" (partitions
// 0..n-1): member "a" owns the partitions in `a_owns`, member "b" (when
// given) those in `b_owns`; in run r, partition p's committed offset advances
// by step(r, p) and its high watermark by 10.
using Step = std::function<int64_t(int run, size_t partition)>;
std::vector<Sample> RunStatuses(int runs, size_t n, const Step& step, const std::vector<int32_t>& a_owns,
                                const std::vector<int32_t>& b_owns,
                                const std::string& granularity = "partition") {
  ConsumerGroupsCollectorConfig config;
  config.status_window = 10;
  config.granularity = granularity;
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  std::vector<TopicPartition> a_parts, b_parts;
  for (int32_t p : a_owns) a_parts.push_back({"events", p});
  for (int32_t p : b_owns) b_parts.push_back({"events", p});
  std::vector<GroupMember> members = {Member("a", a_parts)};
  if (!b_parts.empty()) members.push_back(Member("b", b_parts));
  std::vector<int64_t> committed(n, 100), high(n, 200);
  std::string text;
  for (int run = 0; run < runs; ++run) {
    for (size_t p = 0; p < n; ++p) {
      committed[p] += step(run, p);
      high[p] += 10;
    }
    text = RenderOnce(c, Observe("workers", members, "events", committed, high, T0 + run * 5s));
  }
  return ParseExposition(text);
}

// Partition p advances by steps[p] every run.
Step Every(std::vector<int64_t> steps) {
  return [steps](int, size_t p) { return steps[p]; };
}

std::optional<double> PartitionStatusOf(const std::vector<Sample>& s, const char* partition,
                                        const char* status) {
  return Find(
      s, "kafka_consumergroup_partition_status",
      {{"consumergroup", "workers"}, {"topic", "events"}, {"partition", partition}, {"status", status}});
}

}  // namespace

TEST_CASE("status: a live member that moves other partitions does not stall a starved one",
          "[consumer_groups][status]") {
  // A throttled consumer: partition 0 moves every poll, partition 1 gets no
  // fetch for longer than the window while its lag grows. Not STALL (no page
  // for a slow but live consumer): WARN, as lag never decreased and grew.
  auto s = RunStatuses(12, 2, Every({8, 0}), {0, 1}, {});
  CHECK_FALSE(PartitionStatusOf(s, "1", "STALL").has_value());
  CHECK(PartitionStatusOf(s, "1", "WARN") == 1.0);
  CHECK(FindAll(s, "kafka_consumergroup_partition_status", {{"partition", "0"}}).size() ==
        1);  // WARN: lag grows
  CHECK(Find(s, "kafka_consumergroup_status", {{"consumergroup", "workers"}, {"status", "WARN"}}) == 1.0);
  // The same at granularity topic: no STALL count, two partitions in WARN.
  auto t = RunStatuses(12, 2, Every({8, 0}), {0, 1}, {}, "topic");
  CHECK_FALSE(Find(t, "kafka_consumergroup_partition_status", {{"status", "STALL"}}).has_value());
  CHECK(Find(t, "kafka_consumergroup_partition_status", {{"topic", "events"}, {"status", "WARN"}}) == 2.0);
}

TEST_CASE("status: a member that moves none of its partitions in the window is STALL",
          "[consumer_groups][status]") {
  // Everything frozen: both partitions STALL, the group ERR.
  auto s = RunStatuses(12, 2, Every({0, 0}), {0, 1}, {});
  CHECK(PartitionStatusOf(s, "0", "STALL") == 1.0);
  CHECK(PartitionStatusOf(s, "1", "STALL") == 1.0);
  CHECK(Find(s, "kafka_consumergroup_status", {{"consumergroup", "workers"}, {"status", "ERR"}}) == 1.0);
  // Member a moves partition 0; member b, owning partition 1 only, is stuck:
  // b's partition stalls whatever a does.
  auto two = RunStatuses(12, 2, Every({8, 0}), {0}, {1});
  CHECK(PartitionStatusOf(two, "1", "STALL") == 1.0);
  CHECK_FALSE(PartitionStatusOf(two, "0", "STALL").has_value());
  // Progress older than the window does not count: a member that moved
  // partition 0 in the first two polls and nothing since is stalled on both.
  auto gone = RunStatuses(14, 2, [](int run, size_t p) { return run < 2 && p == 0 ? 8 : 0; }, {0, 1}, {});
  CHECK(PartitionStatusOf(gone, "0", "STALL") == 1.0);
  CHECK(PartitionStatusOf(gone, "1", "STALL") == 1.0);
  // ... while one step inside the window is enough to keep the starved partition live.
  auto recent = RunStatuses(14, 2, [](int run, size_t p) { return run == 12 && p == 0 ? 8 : 0; }, {0, 1}, {});
  CHECK_FALSE(PartitionStatusOf(recent, "1", "STALL").has_value());
}

// Issue 14 item 7: while a group's coordinator or a partition's leader is
// down, the run serves the group's last committed offsets or the partition's
// last watermarks. Its lag series stay, the stale partitions are counted, and
// the carried commit is no new observation for the status window (it would
// read as a consumer that stopped).
TEST_CASE("carried offsets and watermarks keep the lag series, counted as stale",
          "[consumer_groups][carry]") {
  ConsumerGroupsCollectorConfig config;
  config.status_window = 3;
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  const GroupMember a = Member("a", {{"ledger", 0}, {"ledger", 1}});
  // Three fresh runs: the consumer advances 10 per run on both partitions.
  for (int run = 0; run < 3; ++run)
    RenderOnce(
        c, Observe("settlement", {a}, "ledger", {100 + 10 * run, 200 + 10 * run}, {500, 600}, T0 + run * 5s));
  // Fresh, but partition 1's watermarks are carried: one stale partition.
  auto obs = Observe("settlement", {a}, "ledger", {130, 230}, {700, 800}, T0 + 15s);
  auto wm = std::make_shared<WatermarkSnapshot>(*obs.watermarks);
  wm->carried[{"ledger", 1}] = T0 + 10s;
  obs.watermarks = wm;
  auto s = ParseExposition(RenderOnce(c, obs));
  CHECK(Find(s, "kafka_consumergroup_stale_partitions", {{"consumergroup", "settlement"}}) == 1.0);
  CHECK(Find(s, "kafka_consumergroup_lag", {{"consumergroup", "settlement"}, {"partition", "1"}}) == 570.0);
  // Committed offsets carried (the coordinator is down) for several runs:
  // every partition stale, lag from the carried commit and the new
  // watermarks, and no partition called stalled.
  for (int run = 4; run < 10; ++run) {
    auto carried =
        Observe("settlement", {a}, "ledger", {130, 230}, {700 + 50 * run, 800 + 50 * run}, T0 + run * 5s);
    carried.carried.insert("settlement");
    s = ParseExposition(RenderOnce(c, carried));
    INFO("run " << run);
    CHECK(Find(s, "kafka_consumergroup_stale_partitions", {{"consumergroup", "settlement"}}) == 2.0);
    CHECK(Find(s, "kafka_consumergroup_lag", {{"consumergroup", "settlement"}, {"partition", "0"}}) ==
          570.0 + 50 * run);
    CHECK(Find(s, "kafka_consumergroup_lag_sum", {{"consumergroup", "settlement"}, {"topic", "ledger"}}) ==
          (570.0 + 50 * run) + (570.0 + 50 * run));
    CHECK(FindAll(s, "kafka_consumergroup_partition_status").empty());
    CHECK(Find(s, "kafka_consumergroup_status", {{"consumergroup", "settlement"}, {"status", "OK"}}) == 1.0);
  }
  // The coordinator answers again: nothing stale.
  s = ParseExposition(
      RenderOnce(c, Observe("settlement", {a}, "ledger", {600, 700}, {1300, 1400}, T0 + 50s)));
  CHECK(FindAll(s, "kafka_consumergroup_stale_partitions").empty());
  CHECK(Find(s, "kafka_consumergroup_lag", {{"consumergroup", "settlement"}, {"partition", "0"}}) == 700.0);
}

TEST_CASE("lag against retention: the topic's largest lag in seconds over retention.ms",
          "[consumer_groups][retention]") {
  using Configs = std::map<std::string, std::string>;
  const Configs deleted = {{"cleanup.policy", "delete"}, {"retention.ms", "600000"}};
  CHECK(TimeRetentionSeconds(&deleted) == 600.0);
  const Configs both = {{"cleanup.policy", "compact,delete"}, {"retention.ms", "60000"}};
  CHECK(TimeRetentionSeconds(&both) == 60.0);
  const Configs compacted = {{"cleanup.policy", "compact"}, {"retention.ms", "60000"}};
  CHECK_FALSE(TimeRetentionSeconds(&compacted));
  const Configs forever = {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}};
  CHECK_FALSE(TimeRetentionSeconds(&forever));
  const Configs junk = {{"retention.ms", "ten"}};
  CHECK_FALSE(TimeRetentionSeconds(&junk));
  CHECK_FALSE(TimeRetentionSeconds(nullptr));

  ConsumerGroupsCollectorConfig config;
  config.lag_exporter_metrics = true;
  config.cluster_name = "main";
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  auto view = std::make_shared<ClusterView>();
  view->topic_configs["orders"] = deleted;
  view->topic_configs["profiles"] = compacted;
  // A producer at 10 messages/s on both partitions of each topic; the group
  // committed offset 100 on partition 0 and keeps up on partition 1.
  ConsumerGroupsCollector compacted_reader(config, 60s, nullptr, nullptr, nullptr);
  std::string text, compacted_text;
  for (int run = 0; run <= 30; ++run) {
    const int64_t high = 100 + 10 * 10 * run;  // 10 s apart
    auto obs = Observe("billing", {}, "orders", {100, high}, {high, high}, T0 + run * 10s);
    obs.cluster = view;
    text = RenderOnce(c, obs);
    obs = Observe("billing", {}, "profiles", {100, high}, {high, high}, T0 + run * 10s);
    obs.cluster = view;
    compacted_text = RenderOnce(compacted_reader, obs);
  }
  auto s = ParseExposition(text);
  // Offset 100 was the end 300 s ago: 300 s of 600 s.
  CHECK(
      Find(s, "kafka_consumergroup_lag_retention_ratio", {{"consumergroup", "billing"}, {"topic", "orders"}})
          .value_or(-1) == Approx(0.5));
  CHECK(Find(s, "kafka_consumergroup_group_lag_retention_ratio",
             {{"cluster_name", "main"}, {"group", "billing"}, {"topic", "orders"}})
            .value_or(-1) == Approx(0.5));

  // The compacted topic has none (its lag in seconds is there); neither has a
  // topic whose configs are unknown.
  auto cs = ParseExposition(compacted_text);
  // (Per topic at the default granularity, mixed: partition 0's, the largest.)
  CHECK(Find(cs, "kafka_consumergroup_lag_seconds", {{"topic", "profiles"}}) == Approx(300));
  CHECK(FindAll(cs, "kafka_consumergroup_lag_retention_ratio").empty());
  CHECK(FindAll(ParseExposition(
                    RenderOnce(c, Observe("billing", {}, "orders", {100, 3200}, {3200, 3200}, T0 + 320s))),
                "kafka_consumergroup_lag_retention_ratio")
            .empty());
}

// The alert evaluator reads the partition statuses and data loss as sums per
// group and topic (alerting::ReducedFamilies); at granularity partition the
// collector taps its own per-topic sums instead of every partition's sample
// (MetricsBuilder::TapSumsWithout). They must be the sums of what it renders.
TEST_CASE("the alert tap gets per-topic sums equal to the rendered statuses and data loss",
          "[consumer_groups][alerting]") {
  // "workers": member a owns events 0-1 and audit 0-2 and moves events/0
  // only; member b owns events 2-3 and moves nothing (STALL). "idle" and
  // "lossy" have no members and never commit (STOP); "lossy" committed below
  // audit's log start offset (data loss).
  auto observe = [](int run) {
    GroupsObservation obs;
    obs.now = T0 + run * 5s;
    auto wm = std::make_shared<WatermarkSnapshot>();
    wm->finished = obs.now;
    for (int32_t p = 0; p < 4; ++p) wm->partitions[{"events", p}] = {200 + 10 * run, 0};
    for (int32_t p = 0; p < 3; ++p) wm->partitions[{"audit", p}] = {500 + 10 * run, 150 + p};
    wm->partitions_per_topic = {{"events", 4}, {"audit", 3}};
    obs.watermarks = wm;
    auto group = [&](const std::string& name, std::vector<GroupMember> members, int64_t audit_commit) {
      GroupDescription g;
      g.name = name;
      g.state = members.empty() ? "Empty" : "Stable";
      g.protocol_type = "consumer";
      g.coordinator = 1;
      g.members = std::move(members);
      obs.listing.groups.push_back(g);
      GroupOffsets go;
      go.group = name;
      go.topics = {"audit", "events"};
      for (int32_t p = 0; p < 3; ++p) go.committed.push_back({0, p, audit_commit});
      for (int32_t p = 0; p < 4; ++p)
        go.committed.push_back({1, p, p == 0 && name == "workers" ? 100 + 10 * run : 100});
      obs.offsets.push_back(std::move(go));
    };
    group("workers",
          {Member("a", {{"events", 0}, {"events", 1}, {"audit", 0}, {"audit", 1}, {"audit", 2}}),
           Member("b", {{"events", 2}, {"events", 3}})},
          300);
    group("idle", {}, 300);
    group("lossy", {}, 100);
    return obs;
  };
  using Sums = std::map<std::map<std::string, std::string>, double>;
  auto sums_of = [](const std::vector<MetricsBuilder::TappedSample>& samples) {
    Sums out;
    for (const auto& t : samples) {
      const auto labels = t.Decode();
      out[{labels.begin(), labels.end()}] += t.value;
    }
    return out;
  };
  auto value = [](const Sums& sums, const std::map<std::string, std::string>& labels) {
    auto it = sums.find(labels);
    return it == sums.end() ? 0.0 : it->second;
  };
  for (const std::string granularity : {"partition", "mixed", "topic"}) {
    INFO("granularity " << granularity);
    ConsumerGroupsCollectorConfig config;
    config.status_window = 3;
    config.granularity = granularity;
    ConsumerGroupsCollector tapped(config, 60s, nullptr, nullptr, nullptr);
    ConsumerGroupsCollector plain(config, 60s, nullptr, nullptr, nullptr);
    for (int run = 0; run < 5; ++run) {
      const GroupsObservation obs = observe(run);
      MetricsBuilder a, b;
      a.Tap(&alerting::TappedFamilies(), &alerting::ReducedFamilies());
      tapped.Render(obs, a);
      plain.Render(obs, b);
      const std::string text = b.Render();
      REQUIRE(a.Render() == text);  // the tap changes nothing rendered
      auto taken = a.TakeTapped();
      if (run < 4) continue;
      // The rules' reductions of what is rendered: STOP and STALL counted,
      // data loss summed, per group and topic (and status).
      Sums statuses, expired;
      for (const Sample& s : ParseExposition(text)) {
        auto labels = s.labels;
        labels.erase("partition");
        if (s.name == "kafka_consumergroup_partition_status" &&
            (labels.at("status") == "STOP" || labels.at("status") == "STALL"))
          statuses[labels] += s.value;
        if (s.name == "kafka_consumergroup_expired_messages") expired[labels] += s.value;
      }
      CHECK(value(statuses, {{"consumergroup", "workers"}, {"topic", "events"}, {"status", "STALL"}}) == 2);
      CHECK(value(statuses, {{"consumergroup", "workers"}, {"topic", "audit"}, {"status", "STALL"}}) == 0);
      CHECK(value(statuses, {{"consumergroup", "idle"}, {"topic", "audit"}, {"status", "STOP"}}) == 3);
      CHECK(value(expired, {{"consumergroup", "lossy"}, {"topic", "audit"}}) == 50 + 51 + 52);
      CHECK(sums_of(taken["kafka_consumergroup_partition_status"]) == statuses);
      CHECK(sums_of(taken["kafka_consumergroup_expired_messages"]) == expired);
    }
  }
}

// Issue 19: the default granularity, mixed, keeps kafka_exporter's
// per-partition committed offset and lag and writes lag in seconds per topic
// (the topic's largest estimate); partition keeps every family per partition;
// topic has no per-partition group series at all.
TEST_CASE("granularity mixed: per-partition offset and lag, lag in seconds per topic",
          "[consumer_groups][granularity]") {
  CHECK(ConsumerGroupsCollectorConfig{}.granularity == "mixed");
  const GroupMember a = Member("a", {{"orders", 0}, {"orders", 1}, {"orders", 2}});
  // Four runs 10 s apart; the producer writes 100 per run on every partition.
  // Partition 0 stays at 100, 1 at 250, 2 keeps up (lag 0).
  auto render = [&](const std::string& granularity) {
    ConsumerGroupsCollectorConfig config;
    config.granularity = granularity;
    ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
    std::string text;
    for (int run = 0; run < 4; ++run) {
      const int64_t high = 100 + 100 * run;
      text = RenderOnce(c, Observe("billing", {a}, "orders", {100, std::min<int64_t>(250, high), high},
                                   {high, high, high}, T0 + run * 10s));
    }
    return ParseExposition(text);
  };
  const auto partition = render("partition"), mixed = render("mixed"), topic = render("topic");
  const std::map<std::string, std::string> group_topic = {{"consumergroup", "billing"}, {"topic", "orders"}};

  // partition: lag in seconds per partition, 0 for the one that keeps up.
  const auto per_partition = FindAll(partition, "kafka_consumergroup_lag_seconds", group_topic);
  REQUIRE(per_partition.size() == 3);
  double largest = 0;
  for (const auto& x : per_partition) largest = std::max(largest, x.value);
  CHECK(Find(partition, "kafka_consumergroup_lag_seconds", {{"partition", "0"}}) == Approx(30.0));
  CHECK(Find(partition, "kafka_consumergroup_lag_seconds", {{"partition", "2"}}) == 0.0);
  CHECK(largest == Approx(30.0));

  // mixed and topic: one lag-in-seconds series for the topic, the largest.
  for (const auto* s : {&mixed, &topic}) {
    const auto series = FindAll(*s, "kafka_consumergroup_lag_seconds");
    REQUIRE(series.size() == 1);
    CHECK(series[0].labels == group_topic);
    CHECK(series[0].value == largest);
    CHECK(Find(*s, "kafka_consumergroup_max_lag_seconds", {{"consumergroup", "billing"}}) == largest);
  }
  // mixed: kafka_exporter's per-partition names, exactly as at partition.
  for (const char* family : {"kafka_consumergroup_current_offset", "kafka_consumergroup_lag"}) {
    INFO(family);
    const auto p = FindAll(partition, family), m = FindAll(mixed, family);
    REQUIRE(p.size() == 3);
    REQUIRE(m.size() == 3);
    for (size_t i = 0; i < p.size(); ++i) {
      CHECK(m[i].labels == p[i].labels);
      CHECK(m[i].value == p[i].value);
    }
    CHECK(FindAll(topic, family).empty());
  }
  CHECK(Find(mixed, "kafka_consumergroup_lag", {{"partition", "0"}}) == 300.0);
  CHECK(Find(mixed, "kafka_consumergroup_lag", {{"partition", "1"}}) == 150.0);
  // The sums are the same at every granularity.
  for (const char* family : {"kafka_consumergroup_lag_sum", "kafka_consumergroup_current_offset_sum"})
    for (const auto* s : {&mixed, &topic})
      CHECK(Find(*s, family, group_topic) == Find(partition, family, group_topic));
  CHECK(Find(mixed, "kafka_consumergroup_lag_sum", group_topic) == 450.0);
}

// A topic whose lagging partition has no estimate yet has no lag in seconds
// at mixed granularity (as the group's maximum): a largest over the others
// would read as an all-clear.
TEST_CASE("granularity mixed: no topic lag in seconds while a lagging partition has no estimate",
          "[consumer_groups][granularity]") {
  ConsumerGroupsCollector c(ConsumerGroupsCollectorConfig{}, 60s, nullptr, nullptr, nullptr);
  // One run: no watermark history yet, partition 0 lags.
  auto s = ParseExposition(RenderOnce(c, Observe("billing", {}, "orders", {100, 200}, {200, 200}, T0)));
  CHECK(FindAll(s, "kafka_consumergroup_lag_seconds").empty());
  CHECK(FindAll(s, "kafka_consumergroup_max_lag_seconds").empty());
  CHECK(FindAll(s, "kafka_consumergroup_lag").size() == 2);
  // A topic without lag: 0 seconds.
  ConsumerGroupsCollector d(ConsumerGroupsCollectorConfig{}, 60s, nullptr, nullptr, nullptr);
  auto z = ParseExposition(RenderOnce(d, Observe("billing", {}, "orders", {200, 200}, {200, 200}, T0)));
  CHECK(Find(z, "kafka_consumergroup_lag_seconds", {{"consumergroup", "billing"}, {"topic", "orders"}}) ==
        0.0);
}

TEST_CASE("time left until retention deletes: the retention left over the lag's growth",
          "[consumer_groups][retention]") {
  using Configs = std::map<std::string, std::string>;
  auto view = std::make_shared<ClusterView>();
  view->topic_configs["orders"] = Configs{{"cleanup.policy", "delete"}, {"retention.ms", "600000"}};
  view->topic_configs["profiles"] = Configs{{"cleanup.policy", "compact"}, {"retention.ms", "600000"}};
  // Producers write 100 messages per 10 s run on partition 0. Three groups:
  // stopped at offset 100, consuming at half the producer's rate, and keeping
  // a constant backlog of 200 messages (20 s) behind.
  const auto left = [&](const std::string& topic, const std::function<int64_t(int64_t)>& committed,
                        int runs) {
    ConsumerGroupsCollector c(ConsumerGroupsCollectorConfig{}, 60s, nullptr, nullptr, nullptr);
    std::string text;
    for (int run = 0; run < runs; ++run) {
      const int64_t high = 100 + 100 * run;
      auto obs = Observe("billing", {}, topic, {committed(high)}, {high}, T0 + run * 10s);
      obs.cluster = view;
      text = RenderOnce(c, obs);
    }
    return Find(ParseExposition(text), "kafka_consumergroup_retention_time_left_seconds",
                {{"consumergroup", "billing"}, {"topic", topic}});
  };
  const auto stopped = [](int64_t) { return int64_t{100}; };
  const auto half = [](int64_t high) { return 100 + (high - 100) / 2; };
  const auto pace = [](int64_t high) { return std::max<int64_t>(100, high - 200); };
  // Stopped at t = 300 s: 300 s of 600 s gone, the message ages 1 s per
  // second: 300 s left.
  CHECK(left("orders", stopped, 31).value_or(-1) == Approx(300));
  // Half the producer's rate: at t = 300 s the group reads what was written
  // at t = 150 s (lag 150 s), and the lag grows 0.5 s per second: (600 -
  // 150) / 0.5 = 900 s.
  CHECK(left("orders", half, 31).value_or(-1) == Approx(900));
  // A constant 20 s behind: the oldest unconsumed message never gets older.
  CHECK(left("orders", pace, 31).value_or(0) == std::numeric_limits<double>::infinity());
  // Stopped long enough that the message is due: 0 (t = 700 s > 600 s).
  CHECK(left("orders", stopped, 71).value_or(-1) == 0.0);
  // The first run gives no trend yet: no series (the ratio, 0 here, is
  // there already).
  CHECK_FALSE(left("orders", stopped, 1).has_value());
  // A compacted topic has no time left, as it has no ratio.
  CHECK_FALSE(left("profiles", stopped, 31).has_value());
}

TEST_CASE("retention seconds left: slope over the points, capped at the clock's", "[lag][retention]") {
  using P = std::deque<std::pair<SteadyTime, double>>;
  CHECK_FALSE(RetentionSecondsLeft(600, P{}));
  CHECK_FALSE(RetentionSecondsLeft(600, P{{T0, 100}}));
  CHECK_FALSE(RetentionSecondsLeft(600, P{{T0, 100}, {T0, 100}}));
  CHECK(RetentionSecondsLeft(600, P{{T0, 100}, {T0 + 60s, 160}}) == Approx(440));
  CHECK(RetentionSecondsLeft(600, P{{T0, 100}, {T0 + 60s, 130}}) == Approx(940));
  // Steeper than the clock (the largest lag moved to another partition):
  // counted as a stopped group.
  CHECK(RetentionSecondsLeft(600, P{{T0, 100}, {T0 + 60s, 400}}) == Approx(200));
  CHECK(*RetentionSecondsLeft(600, P{{T0, 100}, {T0 + 60s, 90}}) == std::numeric_limits<double>::infinity());
  CHECK(RetentionSecondsLeft(600, P{{T0, 500}, {T0 + 60s, 650}}) == 0.0);
}
