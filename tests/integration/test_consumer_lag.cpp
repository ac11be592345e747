// Consumer-group lag against a real broker with real librdkafka consumers:
// exact lag, lag in seconds, the seed's 10,000-message threshold, Burrow-style
// status transitions, no-commit and data-loss cases, and a broker outage.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Config(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-lag-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

const char* kFast =
    "collectors:\n"
    "  cluster: {interval: 1s, timeout: 5s}\n"
    "  offsets: {interval: 1s, timeout: 5s, rate_window: 10s}\n"
    "  consumer_groups: {interval: 1s, timeout: 8s, status_window: 4}\n"
    "retry: {initial_backoff: 200ms, max_backoff: 2s}\n";

std::map<std::string, std::string> G(const std::string& g, const std::string& t) {
  return {{"consumergroup", g}, {"topic", t}};
}

}  // namespace

TEST_CASE("lag is exact after producing N and consuming M and no commit means no lag series",
          "[kafka][lag][smoke]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("task-requests", 1, 1);
  kafka->CreateTopic("task-responses", 12, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "task-requests", 5000) == 5000);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "task-requests", "workers", 1234) == 1234);
  // 12,000 more: the seed's 10,000-message threshold is crossed.
  REQUIRE(ProduceMessages(kafka->bootstrap(), "task-requests", 12000) == 12000);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "task-responses", 6000) == 6000);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "task-responses", "workers", 2500) == 2500);
  auto r = RunExporter({"--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto s = ParseExposition(r.out);
  CHECK(Find(s, "kafka_consumergroup_current_offset_sum", G("workers", "task-requests")) == 1234.0);
  CHECK(Find(s, "kafka_consumergroup_lag_sum", G("workers", "task-requests")) == 17000.0 - 1234.0);
  CHECK(Find(s, "kafka_consumergroup_lag",
             {{"consumergroup", "workers"}, {"topic", "task-requests"}, {"partition", "0"}})
            .value() > 10000.0);
  CHECK(Find(s, "kafka_consumergroup_max_lag", {{"consumergroup", "workers"}}) == 17000.0 - 1234.0);
  // Multi-partition: every lag series is that partition's high watermark minus
  // the commit, and only committed partitions have one (never -1).
  CHECK(Find(s, "kafka_consumergroup_current_offset_sum", G("workers", "task-responses")) == 2500.0);
  double lag_sum = 0;
  auto lags =
      FindAll(s, "kafka_consumergroup_lag", {{"consumergroup", "workers"}, {"topic", "task-responses"}});
  REQUIRE_FALSE(lags.empty());
  for (const auto& l : lags) {
    const std::string& p = l.labels.at("partition");
    double hwm =
        Find(s, "kafka_topic_partition_current_offset", {{"topic", "task-responses"}, {"partition", p}})
            .value();
    double committed = Find(s, "kafka_consumergroup_current_offset",
                            {{"consumergroup", "workers"}, {"topic", "task-responses"}, {"partition", p}})
                           .value();
    CHECK(l.value == hwm - committed);
    CHECK(l.value >= 0);
    lag_sum += l.value;
  }
  CHECK(Find(s, "kafka_consumergroup_lag_sum", G("workers", "task-responses")) == lag_sum);
  for (const auto& l : FindAll(s, "kafka_consumergroup_lag")) CHECK(l.value != -1.0);
  CHECK(lags.size() == FindAll(s, "kafka_consumergroup_current_offset",
                               {{"consumergroup", "workers"}, {"topic", "task-responses"}})
                           .size());
  CHECK(FindAll(s, "kafka_consumergroup_expired_messages").empty());
}

TEST_CASE("data loss: a committed offset below the log start offset is flagged", "[kafka][lag]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("audit-logs", 1, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "audit-logs", 1000) == 1000);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "audit-logs", "auditors", 100) == 100);
  DeleteRecordsBefore(kafka->bootstrap(), "audit-logs", 0, 400);  // retention took 300 unread messages
  auto r = RunExporter({"--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  REQUIRE(r.exit_code == 0);
  auto s = ParseExposition(r.out);
  CHECK(Find(s, "kafka_topic_partition_oldest_offset", {{"topic", "audit-logs"}, {"partition", "0"}}) ==
        400.0);
  CHECK(Find(s, "kafka_consumergroup_expired_messages",
             {{"consumergroup", "auditors"}, {"topic", "audit-logs"}, {"partition", "0"}}) == 300.0);
  CHECK(Find(s, "kafka_consumergroup_lag", {{"consumergroup", "auditors"}, {"partition", "0"}}) == 900.0);

  // granularity: topic drops the per-partition offset and lag series, and
  // keeps the data-loss signal its alert reads, per topic.
  std::string cfg = Config("dataloss-topic", "collectors:\n  consumer_groups: {granularity: topic}\n");
  auto t = RunExporter({"--config", cfg, "--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  unlink(cfg.c_str());
  REQUIRE(t.exit_code == 0);
  auto ts = ParseExposition(t.out);
  auto lost = FindAll(ts, "kafka_consumergroup_expired_messages", G("auditors", "audit-logs"));
  REQUIRE(lost.size() == 1);  // per topic, summed
  CHECK(lost[0].value == 300.0);
  CHECK(lost[0].labels.count("partition") == 0);
  CHECK(Find(ts, "kafka_consumergroup_lag_sum", G("auditors", "audit-logs")) == 900.0);
  CHECK(FindAll(ts, "kafka_consumergroup_lag").empty());
  CHECK(FindAll(ts, "kafka_consumergroup_current_offset").empty());
}

TEST_CASE("lag in seconds is within 10% of the true age for a steady producer", "[kafka][lag][slow]") {
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("incident-events", 1, 1);
  std::string cfg = Config("lagsec", kFast);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  const double rate = 50;
  SteadyProducer producer(kafka->bootstrap(), "incident-events", rate, 0);
  std::this_thread::sleep_for(5s);
  // Commit offset 100: message 100 was produced 100/rate = 2 s after the start.
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "incident-events", "responders", 100) == 100);
  auto produced_at = producer.started() + std::chrono::milliseconds(static_cast<int>(1000 * 100 / rate));
  std::this_thread::sleep_for(18s);
  std::vector<Sample> s;
  std::optional<double> lag_s;
  double true_age = 0;
  for (int i = 0; i < 5 && !lag_s; ++i) {
    s = d.Samples();
    true_age = std::chrono::duration<double>(std::chrono::steady_clock::now() - produced_at).count();
    lag_s = Find(s, "kafka_consumergroup_lag_seconds",
                 {{"consumergroup", "responders"}, {"topic", "incident-events"}, {"partition", "0"}});
    if (!lag_s) std::this_thread::sleep_for(1s);
  }
  REQUIRE(lag_s.has_value());
  INFO("estimate " << *lag_s << " s, true age " << true_age << " s");
  // The estimate is as of the last collection (at most one 1 s interval old).
  CHECK(*lag_s <= true_age * 1.10);
  CHECK(*lag_s >= true_age * 0.90 - 1.0);
  CHECK(Find(s, "kafka_consumergroup_max_lag_seconds", {{"consumergroup", "responders"}}).value() == *lag_s);
  unlink(cfg.c_str());
}

TEST_CASE("status: catching up is OK, a stalled member is STALL, a stopped consumer is STOP",
          "[kafka][lag][status]") {
  if (KafkaCluster::DefaultVersion().rfind("3.", 0) != 0) {
    WARN("subscribe() needs the classic group protocol; librdkafka 2.0.2 cannot join groups on Kafka 4.x");
    return;
  }
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("risk-assessments", 2, 1);
  std::string cfg = Config("status", kFast);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  SteadyProducer producer(kafka->bootstrap(), "risk-assessments", 40);
  auto status_is = [](const char* st) {
    return [st](const std::vector<Sample>& x) {
      return Find(x, "kafka_consumergroup_status", {{"consumergroup", "risk"}, {"status", st}}) == 1.0;
    };
  };
  std::vector<Sample> s;
  {
    GroupMember member(kafka->bootstrap(), "risk-assessments", "risk", GroupMember::Mode::kConsume);
    REQUIRE(d.WaitFor(
        [&](const auto& x) {
          return member.consumed() > 50 &&
                 Find(x, "kafka_consumergroup_members", {{"consumergroup", "risk"}}) == 1.0 &&
                 status_is("OK")(x);
        },
        60s, &s));
    // Healthy partitions have no partition status series (Burrow, too, lists only the others).
    CHECK(FindAll(s, "kafka_consumergroup_partition_status", {{"consumergroup", "risk"}}).empty());
    // The member stays in the group and keeps committing, but stops moving.
    member.SetMode(GroupMember::Mode::kStall);
    REQUIRE(d.WaitFor(status_is("ERR"), 60s, &s));
    auto stalled =
        FindAll(s, "kafka_consumergroup_partition_status", {{"consumergroup", "risk"}, {"status", "STALL"}});
    CHECK(stalled.size() == 2);
    CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", "risk"}}) == 1.0);
  }  // the member leaves the group
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return FindAll(x, "kafka_consumergroup_partition_status",
                       {{"consumergroup", "risk"}, {"status", "STOP"}})
                   .size() == 2;
      },
      60s, &s));
  CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", "risk"}}) == 0.0);
  CHECK(Find(s, "kafka_consumergroup_info", {{"consumergroup", "risk"}, {"state", "Empty"}}) == 1.0);
  CHECK(Find(s, "kafka_consumergroup_lag_sum", G("risk", "risk-assessments")).value() >
        0);  // empty groups keep lag
  // A new member catches up: back to OK.
  GroupMember again(kafka->bootstrap(), "risk-assessments", "risk", GroupMember::Mode::kConsume);
  REQUIRE(d.WaitFor(status_is("OK"), 90s, &s));
  unlink(cfg.c_str());
}

TEST_CASE("assigned partitions without commits are counted, not given a lag", "[kafka][lag]") {
  if (KafkaCluster::DefaultVersion().rfind("3.", 0) != 0) {
    WARN("subscribe() needs the classic group protocol; skipped on Kafka 4.x");
    return;
  }
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("policy-updates", 3, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "policy-updates", 300) == 300);
  std::string cfg = Config("nocommit", kFast);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  GroupMember idle(kafka->bootstrap(), "policy-updates", "idle", GroupMember::Mode::kStall);
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_consumergroup_uncommitted_partitions", {{"consumergroup", "idle"}}) == 3.0;
      },
      60s, &s));
  CHECK(FindAll(s, "kafka_consumergroup_lag", {{"consumergroup", "idle"}}).empty());
  CHECK(FindAll(s, "kafka_consumergroup_lag_sum", {{"consumergroup", "idle"}}).empty());
  CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", "idle"}}) == 1.0);
  unlink(cfg.c_str());
}

// Hidden ([.]) from ctest: flaky on a loaded 2-core machine (consumer_groups success stays 0
// for over 90 s in some runs after the stop); run it with integration_tests "[outage]".
// Kafka's group coordinator: the leader of __consumer_offsets partition
// abs(String.hashCode(group)) % offsets.topic.num.partitions (10 in the harness).
static int OffsetsPartition(const std::string& group) {
  int32_t h = 0;
  for (unsigned char c : group) h = static_cast<int32_t>(31u * static_cast<uint32_t>(h) + c);
  return static_cast<int>((h & 0x7fffffff) % 10);
}

TEST_CASE("group lag keeps reporting while the group's coordinator broker is down",
          "[kafka][lag][cluster3][faults]") {
  auto kafka = KafkaCluster::Start(3);
  // One partition, so the committed 200 of 600 make an exact lag of 400.
  kafka->CreateTopic("compliance-reports", 1, 3, {"min.insync.replicas=2"});
  REQUIRE(ProduceMessages(kafka->bootstrap(), "compliance-reports", 600) == 600);
  REQUIRE(ConsumeAndCommit(kafka->bootstrap(), "compliance-reports", "reporting", 200) == 200);
  std::string cfg = Config("outage", kFast);
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  const std::map<std::string, std::string> offsets_partition = {
      {"topic", "__consumer_offsets"}, {"partition", std::to_string(OffsetsPartition("reporting"))}};
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")) == 400.0 &&
               Find(x, "kafka_topic_partition_leader", offsets_partition) > 0;
      },
      60s, &s));
  // Stopping the coordinator makes the next OffsetFetch answer NOT_COORDINATOR
  // or fail over: the case that crashed librdkafka 2.0.2 on a handle without
  // a group.id (see KafkaClient::Create).
  int coordinator = static_cast<int>(Find(s, "kafka_topic_partition_leader", offsets_partition).value_or(-1));
  INFO("coordinator of group reporting: broker " << coordinator);
  kafka->StopNode(coordinator);
  bool recovered = d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_brokers") == 2.0 &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0 &&
               Find(x, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")) == 400.0;
      },
      90s, &s);
  if (!recovered) {
    std::string log = d.Log();
    INFO("kafka_brokers "
         << Find(s, "kafka_brokers").value_or(-1) << ", consumer_groups success "
         << Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}).value_or(-1)
         << ", lag_sum "
         << Find(s, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")).value_or(-1)
         << "\ndaemon log (tail):\n"
         << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
    REQUIRE(recovered);
  }
  CHECK(Find(s, "kafka_topic_partition_leader", offsets_partition) != coordinator);
  // Stays so for several more cycles, and the daemon is still the same process.
  std::this_thread::sleep_for(5s);
  s = d.Samples();
  CHECK(Find(s, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")) == 400.0);
  CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0);
  CHECK(d.Running());
  // The coordinator comes back and the group's lag is still exact.
  kafka->StartNode(coordinator);
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_brokers") == 3.0 &&
               Find(x, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")) == 400.0;
      },
      90s, &s));
  CHECK(d.Running());
  unlink(cfg.c_str());
}

// Issue 14 item 10: the kafka-lag-exporter family's member labels viewed
// temporaries (a ternary of strings bound to Label's string_views) and came
// out as freed memory: invalid UTF-8 that makes Prometheus reject the whole
// scrape. With a live member, each label must be the member's real id.
TEST_CASE("kafka-lag-exporter labels are the live member's consumer_id and client_id",
          "[kafka][lag][lag-exporter]") {
  if (KafkaCluster::DefaultVersion().rfind("3.", 0) != 0) {
    WARN("subscribe() needs the classic group protocol; skipped on Kafka 4.x");
    return;
  }
  auto kafka = KafkaCluster::Start(1);
  kafka->CreateTopic("agent-events", 3, 1);
  REQUIRE(ProduceMessages(kafka->bootstrap(), "agent-events", 600) == 600);
  GroupMember member(kafka->bootstrap(), "agent-events", "agents", GroupMember::Mode::kConsume);
  std::string cfg = Config("lagexporter",
                           "collectors:\n"
                           "  consumer_groups: {interval: 1s, timeout: 8s, lag_exporter_metrics: true, "
                           "cluster_name: seed}\n"
                           "retry: {initial_backoff: 200ms, max_backoff: 2s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  // Bounded: the member joins, commits, and the daemon sees all three partitions owned.
  std::string id;
  std::vector<Sample> s;
  bool seen = d.WaitFor(
      [&](const auto& x) {
        id = member.member_id();
        if (id.empty() || member.consumed() < 600) return false;
        auto lag = FindAll(x, "kafka_consumergroup_group_lag", {{"group", "agents"}});
        if (lag.size() != 3) return false;
        for (const auto& l : lag)
          if (l.labels.at("consumer_id").empty()) return false;
        return true;
      },
      90s, &s);
  std::string text = d.Metrics();
  INFO(d.Log().substr(d.Log().size() > 4000 ? d.Log().size() - 4000 : 0));
  REQUIRE(seen);
  CHECK(IsValidUtf8(text));
  const std::string client = member.client_id();
  REQUIRE_FALSE(client.empty());
  for (const char* family : {"kafka_consumergroup_group_lag", "kafka_consumergroup_group_offset"}) {
    auto series =
        FindAll(s, family, {{"cluster_name", "seed"}, {"group", "agents"}, {"topic", "agent-events"}});
    INFO(family);
    CHECK(series.size() == 3);
    for (const auto& x : series) {
      INFO("partition " << x.labels.at("partition"));
      CHECK(x.labels.at("consumer_id") == id);
      CHECK(x.labels.at("client_id") == client);
      CHECK_FALSE(x.labels.at("member_host").empty());
    }
  }
  unlink(cfg.c_str());
}
