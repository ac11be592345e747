// collectors.consumer_groups.offsets_source: offsets_topic against a real
// cluster: committed offsets written by real clients (Kafka's Java console
// consumer, kafka-consumer-groups --reset-offsets, librdkafka commits, a
// librdkafka transactional producer's committed and aborted offsets, a
// deleted group's tombstones and, on Kafka 4.x, a new-protocol (KIP-848)
// group) read back from __consumer_offsets. The daemon with the topic as its
// source reports what the default source (OffsetFetch) and Kafka's own
// kafka-consumer-groups report; the decoder reads every raw record the broker
// wrote; /ready waits for the reader to catch up. One cluster, one test case.
// DORA_OFFSETS_TOPIC_DUMP=<file> writes the raw records as hex (the unit
// test's fixture, tests/unit/test_offsets_topic_record.cpp, came from it).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "kafka/offsets_topic_record.h"
#include "support/daemon.h"
#include "support/kafka_clients.h"
#include "support/kafka_cluster.h"

using namespace dora::test;
using namespace std::chrono_literals;

namespace {

std::string Config(const std::string& name, const std::string& body) {
  std::string path = "/tmp/dora-offtopic-" + std::to_string(getpid()) + "-" + name + ".yaml";
  std::ofstream(path) << body;
  return path;
}

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h += d[c >> 4];
    h += d[c & 15];
  }
  return h;
}

// (group/topic/partition) -> value, for a per-partition family.
std::map<std::string, double> ByPartition(const std::vector<Sample>& s, const std::string& family) {
  std::map<std::string, double> m;
  for (const auto& x : FindAll(s, family))
    m[x.labels.at("consumergroup") + "/" + x.labels.at("topic") + "/" + x.labels.at("partition")] = x.value;
  return m;
}

// kafka-consumer-groups --describe --all-groups: (group/topic/partition) ->
// (current offset, lag); rows without a commit ("-") are left out.
std::map<std::string, std::pair<double, double>> ToolOffsets(const std::string& out) {
  std::map<std::string, std::pair<double, double>> m;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.size() < 6 || w[0] == "GROUP" || w[3] == "-" || w[5] == "-") continue;
    if (w[2].find_first_not_of("0123456789") != std::string::npos) continue;
    m[w[0] + "/" + w[1] + "/" + w[2]] = {std::stod(w[3]), std::stod(w[5])};
  }
  return m;
}

std::string Once(const char* source) {
  return std::string("collectors:\n  consumer_groups: {timeout: 30s, offsets_source: ") + source + "}\n";
}

}  // namespace

TEST_CASE("offsets_source offsets_topic reports what OffsetFetch and kafka-consumer-groups report",
          "[kafka][offsets-topic]") {
  const std::string version = KafkaCluster::DefaultVersion();
  const bool kafka4 = version.rfind("4.", 0) == 0;
  auto kafka = KafkaCluster::Start(1, version);
  const std::string bs = kafka->bootstrap();
  kafka->CreateTopic("orders", 3, 1);
  for (int32_t p = 0; p < 3; ++p) REQUIRE(ProduceMessages(bs, "orders", 100, 0, p) == 100);

  // Classic groups, committed by Kafka's Java clients and by librdkafka.
  kafka->Ctl({"consume", "--topic", "orders", "--group", "g-java", "--max-messages", "130"});
  kafka->Groups(
      {"--reset-offsets", "--group", "g-reset", "--topic", "orders:0,2", "--to-offset", "40", "--execute"});
  REQUIRE(ConsumeAndCommit(bs, "orders", "g-librdkafka", 170) == 170);
  // A new-protocol group (KIP-848) on 4.x: its records of key version 3+ are skipped.
  if (kafka4)
    kafka->Ctl({"consume", "--topic", "orders", "--group", "g-new", "--max-messages", "90",
                "--consumer-property", "group.protocol=consumer"});
  // A deleted group: its offsets' tombstones.
  kafka->Groups(
      {"--reset-offsets", "--group", "g-deleted", "--topic", "orders", "--to-offset", "10", "--execute"});
  kafka->Groups({"--delete", "--group", "g-deleted"});
  // Transactional commits: one committed, one aborted over a plain commit.
  CommitOffsetInTransaction(bs, "g-txn", "orders", 1, 77, true);
  kafka->Groups(
      {"--reset-offsets", "--group", "g-aborted", "--topic", "orders:1", "--to-offset", "5", "--execute"});
  CommitOffsetInTransaction(bs, "g-aborted", "orders", 1, 99, false);

  const std::string tool = kafka->Groups({"--describe", "--all-groups"});
  INFO(tool);
  auto expected = ToolOffsets(tool);
  REQUIRE(expected.count("g-txn/orders/1"));
  CHECK(expected["g-txn/orders/1"].first == 77.0);
  CHECK(expected["g-aborted/orders/1"].first == 5.0);

  {
    // The decoder on every raw record the broker wrote (read_uncommitted:
    // the aborted commit too).
    auto records = ReadTopic(bs, "__consumer_offsets", 10, 30s);
    REQUIRE(records.size() >= 10);
    std::map<std::string, int> kinds;
    std::set<std::string> tombstoned, committed_groups;
    std::ofstream dump;
    if (const char* path = std::getenv("DORA_OFFSETS_TOPIC_DUMP")) dump.open(path, std::ios::app);
    for (const auto& rec : records) {
      auto r = dora::DecodeOffsetsTopicRecord(rec.key.data(), rec.key.size(),
                                              rec.null_value ? nullptr : rec.value.data(), rec.value.size());
      INFO("partition " << rec.partition << " offset " << rec.offset << ": " << r.error);
      CHECK(r.kind != dora::OffsetsRecordKind::kMalformed);
      CHECK(r.kind != dora::OffsetsRecordKind::kUnknown);
      ++kinds[dora::OffsetsRecordKindName(r.kind, r.tombstone)];
      if (dump.is_open())
        dump << version << ' ' << Hex(rec.key) << ' ' << (rec.null_value ? "null" : Hex(rec.value)) << '\n';
      if (r.kind == dora::OffsetsRecordKind::kOffsetCommit) {
        CHECK(r.topic == "orders");
        CHECK(r.partition >= 0);
        CHECK(r.partition < 3);
        if (r.tombstone) {
          tombstoned.insert(r.group);
        } else {
          committed_groups.insert(r.group);
          CHECK(r.offset >= 0);
          CHECK(r.offset <= 100);
          CHECK(r.commit_timestamp > 1600000000000);
          if (r.group == "g-txn") CHECK(r.offset == 77);
          if (r.group == "g-deleted") CHECK(r.offset == 10);
        }
      }
    }
    CHECK(tombstoned == std::set<std::string>{"g-deleted"});
    for (const char* g : {"g-java", "g-reset", "g-librdkafka", "g-deleted", "g-txn", "g-aborted"})
      CHECK(committed_groups.count(g));
    CHECK(kinds["group_metadata"] > 0);  // the Java consumer's classic group
    if (kafka4) {
      CHECK(committed_groups.count("g-new"));
      CHECK(kinds["other_group_record"] > 0);  // the KIP-848 group's own records
    }
  }

  // Both sources, one-shot, against the tool.
  auto run = [&](const char* source) {
    auto r = RunExporter({"--config", Config(source, Once(source)), "--kafka.server=" + bs, "--once"}, 90s);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return ParseExposition(r.out);
  };
  auto fetch = run("offset_fetch");
  auto topic = run("offsets_topic");
  CHECK(Find(topic, "kafka_consumergroup_offsets_topic_caught_up", {}) == 1.0);
  CHECK(FindAll(fetch, "kafka_consumergroup_offsets_topic_caught_up").empty());
  CHECK(Find(topic, "kafka_consumergroup_offsets_topic_records_total", {{"kind", "offset_tombstone"}})
            .value_or(0) >= 1.0);
  CHECK(FindAll(topic, "kafka_consumergroup_offsets_topic_records_total", {{"kind", "malformed"}}).empty());
  CHECK(FindAll(topic, "kafka_consumergroup_offsets_topic_records_total", {{"kind", "unknown_version"}})
            .empty());
  const auto offsets_fetch = ByPartition(fetch, "kafka_consumergroup_current_offset");
  const auto offsets_topic = ByPartition(topic, "kafka_consumergroup_current_offset");
  const auto lag_fetch = ByPartition(fetch, "kafka_consumergroup_lag");
  const auto lag_topic = ByPartition(topic, "kafka_consumergroup_lag");
  CHECK(offsets_topic == offsets_fetch);
  CHECK(lag_topic == lag_fetch);
  std::map<std::string, std::pair<double, double>> reported;
  for (const auto& [key, offset] : offsets_topic) reported[key] = {offset, lag_topic.at(key)};
  CHECK(reported == expected);
  // The aborted transactional offset is not reported, the committed one is;
  // the deleted group is gone.
  CHECK(offsets_topic.at("g-aborted/orders/1") == 5.0);
  CHECK(offsets_topic.at("g-txn/orders/1") == 77.0);
  CHECK(offsets_topic.at("g-reset/orders/0") == 40.0);
  for (const auto& [key, v] : offsets_topic) CHECK(key.rfind("g-deleted/", 0) != 0);
  if (kafka4) CHECK(offsets_topic.count("g-new/orders/0") + offsets_topic.count("g-new/orders/1") > 0);

  // /ready: not while the reader cannot catch up (the only broker frozen),
  // although every collector has run; ready once it has.
  const std::string cfg =
      Config("ready",
             "collectors:\n"
             "  cluster: {interval: 1s, timeout: 2s}\n"
             "  offsets: {interval: 1s, timeout: 2s}\n"
             "  consumer_groups: {interval: 1s, timeout: 3s, offsets_source: offsets_topic}\n"
             "retry: {initial_backoff: 200ms, max_backoff: 1s}\n");
  kafka->FreezeNode(1);
  ThawGuard thaw{kafka.get(), 1};
  Daemon d({"--config", cfg, "--kafka.server=" + bs});
  REQUIRE(d.WaitHealthy());
  std::vector<Sample> s;
  const bool ran = d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_exporter_collector_success", {{"collector", "consumer_groups"}}).has_value() &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "cluster"}}).has_value() &&
               Find(x, "kafka_exporter_collector_success", {{"collector", "offsets"}}).has_value();
      },
      30s, &s);
  REQUIRE(ran);
  CHECK(HttpGet(d.port(), "/ready").status == 503);
  kafka->ThawNode(1);
  thaw.armed = false;
  bool ready = false;
  for (int i = 0; i < 120 && !ready; ++i) {
    ready = HttpGet(d.port(), "/ready").status == 200;
    if (!ready) std::this_thread::sleep_for(500ms);
  }
  CHECK(ready);
  CHECK(d.WaitFor(
      [](const auto& x) {
        return Find(x, "kafka_consumergroup_offsets_topic_caught_up", {}) == 1.0 &&
               Find(x, "kafka_consumergroup_current_offset",
                    {{"consumergroup", "g-txn"}, {"topic", "orders"}, {"partition", "1"}}) == 77.0;
      },
      60s, &s));
}
