// probe: payload format, topic planning, histogram buckets and the
// accounting of every message's outcome (no Kafka needed).
#include <algorithm>
#include <catch2/catch.hpp>

#include "collectors/probe.h"
#include "collectors/probe/partition_planner.h"
#include "collectors/probe/payload.h"
#include "collectors/probe/shared_state.h"
#include "support/metrics_text.h"

using namespace dora;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;
using namespace std::chrono_literals;

TEST_CASE("probe payload round trip and rejection", "[probe]") {
  ProbePayload p{0x0123456789abcdefULL, 2, 41, 1700000000123456};
  std::string text = EncodeProbePayload(p);
  CHECK(text == "dora-probe/1 0123456789abcdef 2 41 1700000000123456");
  CHECK(text.size() < 64);  // small: it is sent once per partition per interval
  auto back = DecodeProbePayload(text);
  REQUIRE(back);
  CHECK(back->instance == p.instance);
  CHECK(back->partition == 2);
  CHECK(back->seq == 41);
  CHECK(back->sent_unix_us == p.sent_unix_us);
  for (const char* bad : {"", "dora-probe/1", "dora-probe/2 0123456789abcdef 2 41 1", "hello world",
                          "dora-probe/1 0123456789abcdef 2 41", "dora-probe/1 0123456789abcdef 2 41 1 extra",
                          "dora-probe/1 0123456789abcdef -1 41 1", "dora-probe/1 zz 2 41 1"}) {
    INFO(bad);
    CHECK_FALSE(DecodeProbePayload(bad));
  }
  CHECK_FALSE(DecodeProbePayload(std::string(500, 'x')));
}

TEST_CASE("probe topic plan: create with one partition led by each broker", "[probe]") {
  auto plan = PlanProbeTopic({3, 1, 2}, nullptr);
  REQUIRE(plan.action == ProbeTopicPlan::Action::kCreate);
  CHECK(plan.total_partitions == 3);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}});

  // Replication factor min(3, brokers).
  plan = PlanProbeTopic({1}, nullptr);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{1}});
  plan = PlanProbeTopic({5, 7}, nullptr);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{5, 7}, {7, 5}});
  plan = PlanProbeTopic({1, 2, 3, 4, 5}, nullptr);
  REQUIRE(plan.assignment.size() == 5);
  CHECK(plan.assignment[3] == std::vector<int32_t>{4, 5, 1});
  CHECK(plan.assignment[4] == std::vector<int32_t>{5, 1, 2});

  plan = PlanProbeTopic({}, nullptr);
  CHECK(plan.action == ProbeTopicPlan::Action::kNone);
  CHECK_FALSE(plan.note.empty());
}

TEST_CASE("probe topic plan: repair adds partitions for brokers without one", "[probe]") {
  TopicMetadata t;
  t.name = "probe";
  PartitionMetadata p0;
  p0.id = 0;
  p0.leader = 1;
  p0.replicas = {1, 2, 3};
  PartitionMetadata p1;
  p1.id = 1;
  p1.leader = 3;  // led elsewhere right now; its preferred leader (2) still counts as covered
  p1.replicas = {2, 3, 1};
  t.partitions = {p0, p1};

  auto plan = PlanProbeTopic({1, 2, 3}, &t);
  REQUIRE(plan.action == ProbeTopicPlan::Action::kAddPartitions);
  CHECK(plan.total_partitions == 3);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{3, 1, 2}});

  // A broker joined: it gets a partition too.
  t.partitions.push_back(PartitionMetadata{2, 3, {3, 1, 2}, {3, 1, 2}, 0});
  plan = PlanProbeTopic({1, 2, 3, 4}, &t);
  REQUIRE(plan.action == ProbeTopicPlan::Action::kAddPartitions);
  CHECK(plan.total_partitions == 4);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{4, 1, 2}});

  // Complete: nothing to do; a broker that is down (absent from the metadata) changes nothing.
  CHECK(PlanProbeTopic({1, 2, 3}, &t).action == ProbeTopicPlan::Action::kNone);
  CHECK(PlanProbeTopic({1, 3}, &t).action == ProbeTopicPlan::Action::kNone);

  // New partitions keep the topic's replication factor; a low one is reported, not "fixed".
  TopicMetadata low;
  low.partitions = {PartitionMetadata{0, 1, {1}, {1}, 0}};
  plan = PlanProbeTopic({1, 2, 3}, &low);
  REQUIRE(plan.action == ProbeTopicPlan::Action::kAddPartitions);
  CHECK(plan.assignment == std::vector<std::vector<int32_t>>{{2}, {3}});
  CHECK(plan.note.find("replication factor 1") != std::string::npos);
}

TEST_CASE("probe histogram buckets resolve the 10 ms objective", "[probe]") {
  const auto& b = ProbeLatencyBuckets();
  REQUIRE(b.size() == 17);
  CHECK(std::is_sorted(b.begin(), b.end()));
  CHECK(std::count(b.begin(), b.end(), 0.01) == 1);
  CHECK(std::count(b.begin(), b.end(), 5.0) == 1);
  CHECK(b.back() == 10.0);

  LatencyHistogram h;
  h.Observe(0.0005);
  h.Observe(0.01);  // "le" bounds: exactly 10 ms is within 10 ms
  h.Observe(0.0101);
  h.Observe(6.2);
  h.Observe(30);
  auto c = h.Cumulative();
  CHECK(c[0] == 1);   // le 0.001
  CHECK(c[4] == 2);   // le 0.01
  CHECK(c[5] == 3);   // le 0.0125
  CHECK(c[15] == 3);  // le 5
  CHECK(c[16] == 4);  // le 10
  CHECK(h.count() == 5);
  CHECK(h.sum() == Approx(0.0005 + 0.01 + 0.0101 + 6.2 + 30));
}

namespace {
const auto t0 = std::chrono::steady_clock::now();
}

TEST_CASE("probe tracker: success, produce error, loss, late arrival", "[probe]") {
  ProbeTracker t(10s, 300s);
  // 1: acked, read back in 4 ms.
  t.Sent(0, 1, "1", t0);
  t.Delivered(0, 1, true, "1", 0.003, 100, t0 + 3ms);
  t.Received(0, 1, 100, 0.004, t0 + 4ms);
  // 2: read back before its delivery report was served (the report still counts).
  t.Sent(1, 1, "2", t0);
  t.Received(1, 1, 7, 0.002, t0 + 2ms);
  t.Delivered(1, 1, true, "", 0.0025, 7, t0 + 3ms);
  // 3: produce error (message timed out); the label is the leader it was sent to.
  t.Sent(2, 1, "3", t0);
  t.Delivered(2, 1, false, "", -1, -1, t0 + 10s);
  // 4: acked but never read back.
  t.Sent(0, 2, "1", t0 + 1s);
  t.Delivered(0, 2, true, "1", 0.005, 101, t0 + 1s + 5ms);
  t.Sweep(t0 + 5s);
  CHECK(t.counters().lost == 0);  // not yet past the SLA
  t.Sweep(t0 + 11s + 10ms);
  // 5: read back, but after the SLA.
  t.Sent(1, 2, "2", t0 + 12s);
  t.Delivered(1, 2, true, "2", 0.004, 8, t0 + 12s);
  t.Received(1, 2, 8, 10.5, t0 + 22s + 500ms);

  auto c = t.counters();
  CHECK(c.attempts == 5);
  CHECK(c.failures == 3);
  CHECK(c.lost == 2);
  CHECK(c.received == 3);
  CHECK(c.produced == 4);
  CHECK(c.produce_errors == 1);
  CHECK(c.pending == 0);
  CHECK(t.SuccessRatio(t0 + 23s) == Approx(2.0 / 5.0));
  CHECK_FALSE(t.SuccessRatio(t0 + 1000s));  // nothing resolved in the last 5 minutes

  MetricsBuilder out;
  t.Render(out, t0 + 23s);
  auto s = ParseExposition(out.Render());
  CHECK(Find(s, "kafka_probe_messages_produced_total", {{"broker", "1"}}) == 2.0);
  CHECK(Find(s, "kafka_probe_messages_produced_total", {{"broker", "2"}}) == 2.0);
  CHECK(Find(s, "kafka_probe_produce_errors_total", {{"broker", "3"}}) == 1.0);
  // Probed brokers have their series from the first message on, at 0.
  CHECK(Find(s, "kafka_probe_produce_errors_total", {{"broker", "1"}}) == 0.0);
  CHECK(Find(s, "kafka_probe_messages_produced_total", {{"broker", "3"}}) == 0.0);
  CHECK(Find(s, "kafka_probe_produce_latency_seconds_count", {{"broker", "3"}}) == 0.0);
  CHECK(Find(s, "kafka_probe_end_to_end_latency_seconds_count", {{"partition", "2"}}) == 0.0);
  CHECK(Find(s, "kafka_probe_attempts_total") == 5.0);
  CHECK(Find(s, "kafka_probe_failures_total") == 3.0);
  CHECK(Find(s, "kafka_probe_messages_lost_total") == 2.0);
  CHECK(Find(s, "kafka_probe_messages_received_total") == 3.0);
  CHECK(Find(s, "kafka_probe_success_ratio") == Approx(0.4));
  CHECK(Find(s, "kafka_probe_produce_latency_seconds_bucket", {{"broker", "1"}, {"le", "0.0025"}}) == 0.0);
  CHECK(Find(s, "kafka_probe_produce_latency_seconds_bucket", {{"broker", "1"}, {"le", "0.005"}}) == 2.0);
  CHECK(Find(s, "kafka_probe_produce_latency_seconds_count", {{"broker", "1"}}) == 2.0);
  CHECK(Find(s, "kafka_probe_produce_latency_seconds_sum", {{"broker", "1"}}) == Approx(0.008));
  CHECK(Find(s, "kafka_probe_end_to_end_latency_seconds_bucket", {{"partition", "1"}, {"le", "10"}}) == 1.0);
  CHECK(Find(s, "kafka_probe_end_to_end_latency_seconds_bucket", {{"partition", "1"}, {"le", "+Inf"}}) ==
        2.0);
  CHECK(out.Render().find("# TYPE kafka_probe_produce_latency_seconds histogram") != std::string::npos);
}

TEST_CASE("probe tracker: a skipped offset is a loss at once", "[probe]") {
  ProbeTracker t(10s, 300s);
  t.Sent(0, 1, "1", t0);
  t.Delivered(0, 1, true, "1", 0.001, 10, t0 + 1ms);
  t.Sent(0, 2, "1", t0 + 1s);
  t.Delivered(0, 2, true, "1", 0.001, 11, t0 + 1s + 1ms);
  // Offset 10 never arrives (truncated by an unclean leader change); 11 does.
  t.Received(0, 2, 11, 0.002, t0 + 1s + 2ms);
  auto c = t.counters();
  CHECK(c.lost == 1);
  CHECK(c.attempts == 2);
  CHECK(c.failures == 1);
  CHECK(c.pending == 0);
  // Another partition's messages are not affected.
  t.Sent(1, 1, "2", t0);
  t.Delivered(1, 1, true, "2", 0.001, 3, t0 + 1ms);
  t.Received(0, 3, 12, 0.002, t0 + 2s);
  CHECK(t.counters().lost == 1);
  CHECK(t.counters().pending == 1);
}

TEST_CASE("probe tracker: a message without a delivery report is resolved and forgotten", "[probe]") {
  ProbeTracker t(2s, 300s);
  t.Sent(0, 1, "1", t0);
  t.Sweep(t0 + 3s);
  CHECK(t.counters().attempts == 0);  // the report is still due (message.timeout.ms = SLA)
  t.Sweep(t0 + 8s);
  CHECK(t.counters().attempts == 1);
  CHECK(t.counters().failures == 1);
  CHECK(t.counters().pending == 1);  // a late report is still matched ...
  t.Sweep(t0 + 20s);
  CHECK(t.counters().pending == 0);  // ... for a while only
  // A report for a forgotten message changes nothing.
  t.Delivered(0, 1, false, "", -1, -1, t0 + 21s);
  CHECK(t.counters().produce_errors == 0);
  CHECK(t.counters().attempts == 1);
}

TEST_CASE("probe tracker: duplicates and strangers do not resolve twice", "[probe]") {
  ProbeTracker t(10s, 300s);
  t.Sent(0, 1, "1", t0);
  t.Delivered(0, 1, true, "1", 0.001, 5, t0 + 1ms);
  t.Received(0, 1, 5, 0.002, t0 + 2ms);
  t.Received(0, 1, 6, 0.002, t0 + 3ms);  // a producer retry wrote it twice
  t.Delivered(0, 1, true, "1", 0.001, 5, t0 + 4ms);
  auto c = t.counters();
  CHECK(c.attempts == 1);
  CHECK(c.failures == 0);
  CHECK(c.received == 2);
  CHECK(c.produced == 1);
}

TEST_CASE("probe: a topic name librdkafka refuses is an error and no crash", "[probe]") {
  // The config check stops such names; the collector must not rely on it.
  ProbeCollectorConfig config;
  config.enabled = true;
  config.topic = std::string(600, 'p');  // rd_kafka_topic_new answers NULL past 512
  KafkaConfig kafka;
  kafka.bootstrap_servers = {"127.0.0.1:1"};  // never contacted: the handles fail first
  ProbeCollector probe(config, kafka, nullptr);
  CollectContext ctx;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  MetricsBuilder out;
  Status s = probe.Collect(ctx, out);
  CHECK_FALSE(s.ok);
  CHECK(s.message.find("probe: cannot use topic") != std::string::npos);
}

TEST_CASE("probe shared state: only assigned partitions are probed, labelled by leader or preferred leader",
          "[probe]") {
  ProbeSharedState state("t");
  PartitionMetadata p0, p1, p2;
  p0.id = 0;
  p0.leader = 1;
  p0.replicas = {1, 2};
  p1.id = 1;
  p1.leader = -1;  // offline: the preferred leader names it
  p1.replicas = {2, 3};
  p2.id = 2;
  p2.leader = 3;
  p2.replicas = {3, 1};
  state.SetLayout({p0, p1, p2});
  CHECK(state.Targets().empty());  // nothing is read back yet: nothing is sent
  CHECK(state.Unassigned() == std::vector<int32_t>{0, 1, 2});

  state.MarkAssigned({0, 1, 7});  // 7 is unknown: ignored
  using Targets = std::vector<std::pair<int32_t, std::string>>;
  CHECK(state.Targets() == Targets{{0, "1"}, {1, "2"}});
  CHECK(state.Unassigned() == std::vector<int32_t>{2});

  // A new layout keeps what is assigned and drops what is gone.
  p0.leader = 2;
  state.SetLayout({p0, p2});
  CHECK(state.Targets() == Targets{{0, "2"}});
  CHECK(state.Unassigned() == std::vector<int32_t>{2});

  CHECK(state.Clear() == std::vector<int32_t>{0});
  CHECK(state.Targets().empty());
  CHECK(state.Unassigned().empty());

  CHECK(state.Problem().ok);
  state.SetProblem("topic missing");
  CHECK_FALSE(state.Problem().ok);
  CHECK(state.Problem().partial);
  CHECK(state.Problem().message == "topic missing");
  CHECK(state.Problem().reason == Reason::kUnavailable);
  state.SetProblem("repair refused", Reason::kKafka);
  CHECK(state.Problem().reason == Reason::kKafka);
  state.Fatal("sender stopped");
  state.SetProblem("");
  CHECK(state.Problem().message == "sender stopped");  // a stopped thread stays reported
  CHECK(state.Problem().reason == Reason::kInternal);
}
