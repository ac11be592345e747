// Sharding (docs/deployment.md, "Sharding"): the documented hash, the
// sharding keys and flags, and the consumer_groups collector taking only its
// shard's groups, on FakeKafka. tests/integration/test_sharding.cpp runs the
// daemons against a real broker.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "app/flags.h"
#include "collectors/consumer_groups.h"
#include "config/loader.h"
#include "support/fake_kafka.h"
#include "support/metrics_text.h"
#include "util/shard.h"

using namespace dora;
using namespace std::chrono_literals;
using dora::test::FakeKafka;
using dora::test::ParseExposition;

namespace {

bool Contains(const ConfigErrors& e, const std::string& needle) {
  for (const auto& s : e.errors)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

ConfigErrors Validate(const std::string& yaml) {
  ConfigErrors errors;
  Config c = ParseConfig(yaml, "test.yaml", &errors);
  if (errors.empty()) ValidateConfig(c, &errors);
  return errors;
}

// The names below and their shards, computed apart from our code:
//   def fnv1a32(s):
//       h = 2166136261
//       for b in s.encode(): h = ((h ^ b) * 16777619) & 0xffffffff
//       return h
//   for n in names: print(n, hex(fnv1a32(n)), fnv1a32(n) % 2, fnv1a32(n) % 3)
const std::vector<std::string> kNames = {"billing",
                                         "payments",
                                         "orders-consumer",
                                         "analytics-v2",
                                         "fraud-scoring",
                                         "search-indexer",
                                         "audit-log",
                                         "gr\xc3\xbc\xc3\x9f"
                                         "e"};
const std::set<std::string> kShard0Of2 = {"billing", "payments", "analytics-v2",
                                          "gr\xc3\xbc\xc3\x9f"
                                          "e"};
const std::set<std::string> kShard1Of2 = {"orders-consumer", "fraud-scoring", "search-indexer", "audit-log"};

GroupDescription Group(const std::string& name) {
  GroupDescription g;
  g.name = name;
  g.state = "Empty";
  g.protocol_type = "consumer";
  g.coordinator = 1;
  return g;
}

std::string Collect(Collector& c) {
  CollectContext ctx;
  ctx.deadline = std::chrono::steady_clock::now() + 2s;
  ctx.wall_now = std::chrono::system_clock::now();
  MetricsBuilder out;
  Status s = c.Collect(ctx, out);
  INFO(s.message);
  REQUIRE(s.ok);
  return out.Render();
}

// A broker, topic "events" with 4 partitions at high watermark 1000, and one
// group per name with committed offsets 100 + 10 * its position + partition.
std::shared_ptr<FakeKafka> Cluster() {
  auto kafka = std::make_shared<FakeKafka>();
  kafka->AddBroker(1);
  kafka->AddTopic("events", {{1}, {1}, {1}, {1}});
  for (int32_t p = 0; p < 4; ++p) kafka->SetOffsets("events", p, 0, 1000);
  for (size_t i = 0; i < kNames.size(); ++i) {
    std::map<TopicPartition, int64_t> committed;
    for (int32_t p = 0; p < 4; ++p) committed[{"events", p}] = 100 + 10 * static_cast<int64_t>(i) + p;
    kafka->SetGroup(Group(kNames[i]), committed);
  }
  return kafka;
}

// The lag series of one collector run: "group/partition" -> lag.
std::map<std::string, double> LagSeries(const std::string& text) {
  std::map<std::string, double> out;
  for (const auto& s : ParseExposition(text)) {
    if (s.name != "kafka_consumergroup_lag") continue;
    out[s.labels.at("consumergroup") + "/" + s.labels.at("partition")] = s.value;
  }
  return out;
}

}  // namespace

TEST_CASE("the shard hash is FNV-1a 32 of the name's bytes, mod count", "[sharding]") {
  // FNV-1a's published test vectors (offset basis; "a"; "foobar").
  CHECK(Fnv1a32("") == 0x811c9dc5u);
  CHECK(Fnv1a32("a") == 0xe40c292cu);
  CHECK(Fnv1a32("foobar") == 0xbf9cf968u);
  // The group names above (python in the comment at kNames).
  CHECK(Fnv1a32("billing") == 0x417000dcu);
  CHECK(Fnv1a32("orders-consumer") == 0x3895c2a3u);
  CHECK(Fnv1a32("gr\xc3\xbc\xc3\x9f"
                "e") == 0x0a0eb658u);
  for (const auto& n : kShard0Of2) CHECK(ShardOf(n, 2) == 0);
  for (const auto& n : kShard1Of2) CHECK(ShardOf(n, 2) == 1);
  CHECK(ShardOf("payments", 3) == 0);
  CHECK(ShardOf("billing", 3) == 1);
  CHECK(ShardOf("analytics-v2", 3) == 2);
  for (const auto& n : kNames) CHECK(ShardOf(n, 1) == 0);
}

TEST_CASE("sharding keys: index below count, count from 1, errors at file:line", "[sharding][config]") {
  CHECK(Validate("sharding: {count: 4, index: 3}\n").empty());
  CHECK(Validate("sharding:\n  count: 1\n").empty());
  auto too_big = Validate("sharding:\n  count: 2\n  index: 2\n");
  REQUIRE(too_big.errors.size() == 1);
  CHECK(too_big.errors[0] == "test.yaml:3:3: sharding.index: must be below sharding.count (2), got 2");
  CHECK(Contains(Validate("sharding: {count: 0}\n"), "test.yaml:1:12: sharding.count"));
  CHECK(Contains(Validate("sharding: {count: 2, index: -1}\n"), "sharding.index"));
  CHECK(Contains(Validate("sharding: {shards: 2}\n"), "sharding.shards"));
}

TEST_CASE("the --sharding.index flag overrides the file, named in errors", "[sharding][config][flags]") {
  const char* argv[] = {"x", "--sharding.index=1", "--sharding.count", "3"};
  auto f = ParseFlags(4, argv);
  REQUIRE(f.ok());
  ConfigErrors errors;
  Config c = ParseConfig("sharding: {count: 2, index: 0}\n", "test.yaml", &errors);
  REQUIRE(errors.empty());
  ApplyFlags(f.value(), &c);
  CHECK(c.sharding.index == 1);
  CHECK(c.sharding.count == 3);

  const char* past[] = {"x", "--sharding.index=5"};
  auto p = ParseFlags(2, past);
  REQUIRE(p.ok());
  Config d = ParseConfig("sharding: {count: 2}\n", "test.yaml", &errors);
  ApplyFlags(p.value(), &d);
  ValidateConfig(d, &errors);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0] == "flag --sharding.index: sharding.index: must be below sharding.count (2), got 5");

  for (const char* bad : {"--sharding.index=", "--sharding.index=1x", "--sharding.index=99999999999"}) {
    INFO(bad);
    const char* args[] = {"x", bad};
    auto r = ParseFlags(2, args);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message.find("flag --sharding.index: expected a whole number") == 0);
  }
}

TEST_CASE("a shard asks for and exports only its groups, and the shards add up to one daemon",
          "[sharding][consumer_groups][fake]") {
  auto run = [](int index, int count, bool lag_exporter, std::vector<std::string>* asked) {
    auto kafka = Cluster();
    auto watermarks = std::make_shared<WatermarkService>(kafka, std::make_shared<ClusterState>(), 250);
    ConsumerGroupsCollectorConfig gc;
    gc.lag_exporter_metrics = lag_exporter;
    ConsumerGroupsCollector groups(gc, 60s, kafka, watermarks, nullptr);
    groups.SetShard(index, count);
    std::string text = Collect(groups);
    *asked = kafka->offsets_asked();
    return text;
  };
  std::vector<std::string> asked_all, asked0, asked1;
  auto all = LagSeries(run(0, 1, false, &asked_all));
  auto text0 = run(0, 2, true, &asked0);
  auto text1 = run(1, 2, true, &asked1);
  // Committed offsets are asked for the shard's own groups only.
  CHECK(std::set<std::string>(asked_all.begin(), asked_all.end()).size() == kNames.size());
  CHECK(std::set<std::string>(asked0.begin(), asked0.end()) == kShard0Of2);
  CHECK(std::set<std::string>(asked1.begin(), asked1.end()) == kShard1Of2);

  auto lag0 = LagSeries(text0), lag1 = LagSeries(text1);
  REQUIRE(all.size() == kNames.size() * 4);
  CHECK(lag0.size() == kShard0Of2.size() * 4);
  CHECK(lag1.size() == kShard1Of2.size() * 4);
  std::map<std::string, double> merged = lag0;
  for (const auto& [k, v] : lag1) CHECK(merged.emplace(k, v).second);  // in no two shards
  CHECK(merged == all);
  CHECK(all.at("orders-consumer/3") == 1000 - (100 + 10 * 2 + 3));

  // kafka-lag-exporter's topic series: shard 0 only.
  auto latest = [](const std::string& text) {
    return dora::test::FindAll(ParseExposition(text), "kafka_partition_latest_offset").size();
  };
  CHECK(latest(text0) == 4);
  CHECK(latest(text1) == 0);
}
