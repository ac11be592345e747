// Consumer-group lag against a real broker with real librdkafka consumers:
// exact lag, lag in seconds, the seed's 10,000-message threshold, Burrow-style
// status transitions, no-commit and data-loss cases, and a broker outage.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <future>
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
  // The default granularity (mixed): data loss per topic, lag per partition.
  CHECK(Find(s, "kafka_consumergroup_expired_messages", G("auditors", "audit-logs")) == 300.0);
  CHECK(Find(s, "kafka_consumergroup_lag", {{"consumergroup", "auditors"}, {"partition", "0"}}) == 900.0);
  // granularity: partition names the partition.
  std::string pcfg =
      Config("dataloss-partition", "collectors:\n  consumer_groups: {granularity: partition}\n");
  auto p = RunExporter({"--config", pcfg, "--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
  unlink(pcfg.c_str());
  REQUIRE(p.exit_code == 0);
  CHECK(Find(ParseExposition(p.out), "kafka_consumergroup_expired_messages",
             {{"consumergroup", "auditors"}, {"topic", "audit-logs"}, {"partition", "0"}}) == 300.0);

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
    // (Per topic at the default granularity, mixed: its one partition's.)
    lag_s = Find(s, "kafka_consumergroup_lag_seconds", G("responders", "incident-events"));
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
    // Both partitions, counted per topic at the default granularity (mixed).
    CHECK(Find(s, "kafka_consumergroup_partition_status",
               {{"consumergroup", "risk"}, {"topic", "risk-assessments"}, {"status", "STALL"}}) == 2.0);
    CHECK(Find(s, "kafka_consumergroup_members", {{"consumergroup", "risk"}}) == 1.0);
  }  // the member leaves the group
  REQUIRE(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_consumergroup_partition_status",
                    {{"consumergroup", "risk"}, {"topic", "risk-assessments"}, {"status", "STOP"}}) == 2.0;
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
  {
    const std::string log = d.Log();
    INFO("consumer_groups success "
         << Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}).value_or(-1)
         << "\ndaemon log (tail):\n"
         << log.substr(log.size() > 30000 ? log.size() - 30000 : 0));
    CHECK(Find(s, "kafka_consumergroup_lag_sum", G("reporting", "compliance-reports")) == 400.0);
    CHECK(Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0);
  }
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
  // 200 per partition: keyless messages from librdkafka's sticky
  // partitioner can all land on one partition, and a partition without
  // messages gets no commit and so no lag series.
  for (int32_t p = 0; p < 3; ++p)
    REQUIRE(ProduceMessages(kafka->bootstrap(), "agent-events", 200, 0, p) == 200);
  GroupMember member(kafka->bootstrap(), "agent-events", "agents", GroupMember::Mode::kConsume);
  std::string cfg = Config("lagexporter",
                           "collectors:\n"
                           "  consumer_groups: {interval: 1s, timeout: 8s, lag_exporter_metrics: true, "
                           "cluster_name: seed}\n"
                           "retry: {initial_backoff: 200ms, max_backoff: 2s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  // Bounded: the member joins, commits, and the daemon sees all three partitions owned.
  std::string id, waiting;
  std::vector<Sample> s;
  bool seen = d.WaitFor(
      [&](const auto& x) {
        id = member.member_id();
        if (id.empty() || member.consumed() < 600) {
          waiting = "the member: id \"" + id + "\", consumed " + std::to_string(member.consumed());
          return false;
        }
        auto lag = FindAll(x, "kafka_consumergroup_group_lag", {{"group", "agents"}});
        if (lag.size() != 3) {
          waiting = std::to_string(lag.size()) + " of 3 group_lag series";
          return false;
        }
        for (const auto& l : lag) {
          if (l.labels.at("consumer_id").empty()) {
            waiting = "a consumer_id on partition " + l.labels.at("partition");
            return false;
          }
        }
        return true;
      },
      90s, &s);
  std::string text = d.Metrics();
  INFO("still waiting for " << waiting);
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

namespace {

using Clock = std::chrono::steady_clock;

double Secs(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The group coordinator's broker: the leader of its __consumer_offsets partition, as exported.
int CoordinatorOf(const std::vector<Sample>& s, const std::string& group) {
  return static_cast<int>(
      Find(s, "kafka_topic_partition_leader",
           {{"topic", "__consumer_offsets"}, {"partition", std::to_string(OffsetsPartition(group))}})
          .value_or(-1));
}

}  // namespace

// Issue 14 item 7: one broker of three down for 3 minutes while producing
// continues must cost no lag series. The stopped broker is the group's
// coordinator and leads some of its partitions: the worst case. On c535363
// (before the fix) all six partitions' lag series were present in 132 of 180
// scrapes; a first fix with per-run request timeouts made librdkafka 2.0.2
// abort (docs/design.md, "A broker outage costs only what it serves").
TEST_CASE("lag stays published in every scrape while one of three brokers is down for 3 minutes",
          "[kafka][lag][cluster3][outage]") {
  auto kafka = KafkaCluster::Start(3);
  const std::string topic = "ledger-events", group = "settlement";
  const int partitions = 6;
  kafka->CreateTopic(topic, partitions, 3, {"min.insync.replicas=2"});
  for (int p = 0; p < partitions; ++p)
    REQUIRE(ProduceMessages(kafka->bootstrap(), topic, 2000, 0, p) == 2000);
  // The consumer committed 200 on every partition and stopped: lag 10,800,
  // growing with the producer.
  kafka->Groups({"--reset-offsets", "--group", group, "--topic", topic, "--to-offset", "200", "--execute"});
  std::string cfg = Config("outage3m",
                           "collectors:\n"
                           "  cluster: {interval: 2s, timeout: 5s}\n"
                           "  offsets: {interval: 2s, timeout: 8s}\n"
                           "  consumer_groups: {interval: 2s, timeout: 15s}\n"
                           "retry: {initial_backoff: 200ms, max_backoff: 2s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  SteadyProducer load(kafka->bootstrap(), topic, 200);
  const std::map<std::string, std::string> of_group = {{"consumergroup", group}, {"topic", topic}};
  // The alert's expression: sum without (topic) (kafka_consumergroup_lag_sum) > 10000.
  auto alert_true = [&](const std::vector<Sample>& x) {
    double sum = 0;
    for (const auto& l : FindAll(x, "kafka_consumergroup_lag_sum", {{"consumergroup", group}}))
      sum += l.value;
    return sum > 10000;
  };
  auto lag_series = [&](const std::vector<Sample>& x) {
    return FindAll(x, "kafka_consumergroup_lag", of_group).size();
  };
  std::vector<Sample> s;
  REQUIRE(d.WaitFor(
      [&](const auto& x) {
        return lag_series(x) == static_cast<size_t>(partitions) && alert_true(x) &&
               CoordinatorOf(x, group) > 0 &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0;
      },
      90s, &s));
  const int stopped = CoordinatorOf(s, group);
  int led = 0;
  for (const auto& l : FindAll(s, "kafka_topic_partition_leader", {{"topic", topic}}))
    led += l.value == stopped;
  INFO("stopping broker " << stopped << ": the coordinator of " << group << ", leader of " << led << " of "
                          << partitions << " partitions");

  kafka->StopNode(stopped, /*kill=*/true);
  const auto t_stop = Clock::now();
  int scrapes = 0, with_all = 0, with_some = 0, alerting = 0, stale_seen = 0, wm_stale_seen = 0, cg_ok = 0;
  std::string first_gap;
  for (int i = 0; i < 1000 && Clock::now() - t_stop < 180s; ++i) {
    auto x = d.Samples();
    ++scrapes;
    const size_t n = lag_series(x);
    with_all += n == static_cast<size_t>(partitions);
    with_some += n > 0;
    alerting += alert_true(x);
    stale_seen += !FindAll(x, "kafka_consumergroup_stale_partitions", {{"consumergroup", group}}).empty();
    wm_stale_seen +=
        !FindAll(x, "kafka_topic_partition_watermarks_stale_seconds", {{"topic", topic}}).empty();
    cg_ok += Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0;
    if (first_gap.empty() && (n != static_cast<size_t>(partitions) || !alert_true(x)))
      first_gap = "at +" + std::to_string(static_cast<int>(Secs(t_stop, Clock::now()))) +
                  " s: " + std::to_string(n) + " lag series";
    std::this_thread::sleep_for(1s);
  }
  kafka->StartNode(stopped);
  const auto t_start = Clock::now();
  std::fprintf(
      stderr,
      "[outage] broker %d (coordinator, leader of %d/%d) down %.0f s under %0.f msg/s: lag series of all "
      "%d partitions in %d of %d scrapes (some in %d), alert expression true in %d of %d, stale marker "
      "in %d (watermarks %d), consumer_groups success 1 in %d\n",
      stopped, led, partitions, Secs(t_stop, t_start), 200.0, partitions, with_all, scrapes, with_some,
      alerting, scrapes, stale_seen, wm_stale_seen, cg_ok);
  INFO("first gap " << first_gap);
  CHECK(scrapes >= 150);
  CHECK(with_all == scrapes);
  CHECK(alerting == scrapes);
  // Whether a fetch falls in the leader move (the ~9 s of
  // broker.session.timeout.ms) and so serves carried, marked answers depends
  // on timing: the markers were seen in 6/4, 0/4, 0/4 and 0/0 scrapes
  // (group/watermarks) in four runs. They are reported above; that carried
  // answers are marked is asserted without timing in test_collectors_fake.cpp
  // ("[fake][carry]").
  // The broker is back: fresh answers again, nothing marked stale.
  bool healed = d.WaitFor(
      [&](const auto& x) {
        return Find(x, "kafka_brokers") == 3.0 && lag_series(x) == static_cast<size_t>(partitions) &&
               FindAll(x, "kafka_consumergroup_stale_partitions").empty() &&
               FindAll(x, "kafka_topic_partition_watermarks_stale_seconds").empty() &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0;
      },
      90s, &s);
  if (!healed) {
    std::string log = d.Log();
    INFO("daemon log (tail):\n" << log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
    CHECK(healed);
  }
  std::fprintf(stderr, "[outage] healed %.1f s after the restart\n", Secs(t_start, Clock::now()));
  load.Stop();
  CHECK(d.Running());
  unlink(cfg.c_str());
}

// Issue 14 item 8: kill -9 the coordinator of a group and restart it 20 s
// later. librdkafka 2.0.2 kept the group pinned to the restarted broker, which
// answered NOT_COORDINATOR until leadership happened to return to it (up to
// leader.imbalance.check.interval.seconds, 5 min); the daemon must recover
// within two collection intervals, as a fresh --once does at once.
TEST_CASE("a killed and restarted group coordinator costs consumer_groups at most two intervals",
          "[kafka][lag][cluster3][faults]") {
  auto kafka = KafkaCluster::Start(3);
  const std::string topic = "invoice-events", group = "billing";
  kafka->CreateTopic(topic, 3, 3, {"min.insync.replicas=2"});
  for (int p = 0; p < 3; ++p) REQUIRE(ProduceMessages(kafka->bootstrap(), topic, 1000, 0, p) == 1000);
  // A commit on every partition (a consumer that read part of the topic may
  // have committed on some only): lag 3 x 600.
  kafka->Groups({"--reset-offsets", "--group", group, "--topic", topic, "--to-offset", "400", "--execute"});
  const auto interval = 5s;
  std::string cfg = Config("coordinator",
                           "collectors:\n"
                           "  cluster: {interval: 2s, timeout: 5s}\n"
                           "  offsets: {interval: 5s, timeout: 8s}\n"
                           "  consumer_groups: {interval: 5s, timeout: 8s}\n"
                           "retry: {initial_backoff: 1s, max_backoff: 5s}\n");
  Daemon d({"--config", cfg, "--kafka.server=" + kafka->bootstrap()});
  REQUIRE(d.WaitHealthy());
  auto fresh_ok = [&](const std::vector<Sample>& x) {
    return Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}) == 1.0 &&
           Find(x, "kafka_consumergroup_lag_sum", G(group, topic)) == 1800.0 &&
           FindAll(x, "kafka_consumergroup_stale_partitions", {{"consumergroup", group}}).empty();
  };
  std::vector<Sample> s;
  bool ready = d.WaitFor([&](const auto& x) { return fresh_ok(x) && CoordinatorOf(x, group) > 0; }, 90s, &s);
  if (!ready) {
    std::string log = d.Log();
    INFO("consumer_groups success "
         << Find(s, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}).value_or(-1)
         << ", lag_sum " << Find(s, "kafka_consumergroup_lag_sum", G(group, topic)).value_or(-1)
         << ", coordinator " << CoordinatorOf(s, group) << "\ndaemon log (tail):\n"
         << log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
    REQUIRE(ready);
  }
  const int coordinator = CoordinatorOf(s, group);
  INFO("coordinator of " << group << ": broker " << coordinator);

  // A run that succeeded after `since` (wall clock, as the exporter reports it).
  auto succeeded_after = [](const std::vector<Sample>& x, std::chrono::system_clock::time_point since) {
    auto ts = Find(x, "kafka_exporter_collector_last_success_timestamp_seconds",
                   {{"collector", "consumer_groups"}});
    return ts && *ts >= std::chrono::duration<double>(since.time_since_epoch()).count();
  };
  kafka->StopNode(coordinator, /*kill=*/true);
  const auto t_kill = Clock::now();
  const auto wall_kill = std::chrono::system_clock::now();
  Clock::time_point t_first_ok{};
  while (Clock::now() - t_kill < 20s) {
    auto x = d.Samples();
    if (t_first_ok == Clock::time_point{} && fresh_ok(x) && succeeded_after(x, wall_kill))
      t_first_ok = Clock::now();
    std::this_thread::sleep_for(250ms);
  }
  kafka->StartNode(coordinator);
  const auto t_restart = Clock::now();
  const auto wall_restart = std::chrono::system_clock::now();
  // The control, beside the daemon: a fresh process answers at once.
  Clock::time_point t_once{};
  auto once = std::async(std::launch::async, [&] {
    auto r = RunExporter({"--kafka.server=" + kafka->bootstrap(), "--once"}, 60s);
    t_once = Clock::now();
    return r;
  });

  // From the restart on: recovered within two intervals, and no failing
  // stretch longer than that for the next 40 s.
  Clock::time_point t_recovered{}, failing_since = t_restart;
  double longest_failing = 0;
  std::string last_error;
  for (int i = 0; i < 1000 && Clock::now() - t_restart < 50s; ++i) {
    auto x = d.Samples();
    auto now = Clock::now();
    if (fresh_ok(x)) {
      if (t_recovered == Clock::time_point{} && succeeded_after(x, wall_restart)) t_recovered = now;
      if (failing_since != Clock::time_point{})
        longest_failing = std::max(longest_failing, Secs(failing_since, now));
      failing_since = Clock::time_point{};
    } else if (failing_since == Clock::time_point{}) {
      failing_since = now;
    }
    std::this_thread::sleep_for(250ms);
  }
  if (failing_since != Clock::time_point{})
    longest_failing = std::max(longest_failing, Secs(failing_since, Clock::now()));
  auto once_r = once.get();
  CHECK(Find(ParseExposition(once_r.out), "kafka_consumergroup_lag_sum", G(group, topic)) == 1800.0);
  const std::string log = d.Log();
  const bool not_coordinator_logged = log.find("Not coordinator") != std::string::npos;
  std::fprintf(
      stderr,
      "[coordinator] broker %d killed, restarted after %.1f s; a successful run %s after the kill; after "
      "the restart: --once answered in %.1f s, the daemon's first successful run in %s, longest failing "
      "stretch %.1f s; "
      "\"Not coordinator\" in the log: %s\n",
      coordinator, Secs(t_kill, t_restart),
      t_first_ok == Clock::time_point{} ? "never within 20 s"
                                        : (std::to_string(Secs(t_kill, t_first_ok)) + " s").c_str(),
      Secs(t_restart, t_once),
      t_recovered == Clock::time_point{} ? "never"
                                         : (std::to_string(Secs(t_restart, t_recovered)) + " s").c_str(),
      longest_failing, not_coordinator_logged ? "yes" : "no");
  INFO("daemon log (tail):\n" << log.substr(log.size() > 3000 ? log.size() - 3000 : 0));
  const double two_intervals = 2 * std::chrono::duration<double>(interval).count();
  REQUIRE(t_recovered != Clock::time_point{});
  // The restart itself is measured from when StartNode returned; one run's
  // duration of slack on top of the two intervals.
  CHECK(Secs(t_restart, t_recovered) <= two_intervals + 2);
  CHECK(longest_failing <= two_intervals + 2);
  CHECK(d.Running());
  unlink(cfg.c_str());
}
