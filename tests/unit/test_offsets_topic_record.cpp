// The __consumer_offsets decoder (kafka/offsets_topic_record.h), the table it
// feeds (kafka/offsets_topic.h) and the consumer_groups collector with that
// source (no broker). The records in kRealRecords were written by real Kafka
// brokers and clients (tests/integration/test_offsets_topic.cpp with
// DORA_OFFSETS_TOPIC_DUMP set); the rest are truncations and garbage.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "collectors/consumer_groups.h"
#include "collectors/runner.h"
#include "kafka/offsets_topic.h"
#include "kafka/offsets_topic_record.h"
#include "support/fake_kafka.h"
#include "support/metrics_text.h"

using namespace dora;
using namespace std::chrono_literals;

namespace {

OffsetsTopicRecord Decode(const std::string& key, const std::string* value) {
  return DecodeOffsetsTopicRecord(key.data(), key.size(), value ? value->data() : nullptr,
                                  value ? value->size() : 0);
}

// Big-endian helpers for hand-made records.
std::string I16(int v) { return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)}; }
std::string I32(int32_t v) { return I16(v >> 16) + I16(v & 0xffff); }
std::string I64(int64_t v) { return I32(static_cast<int32_t>(v >> 32)) + I32(static_cast<int32_t>(v)); }
std::string Str(const std::string& s) { return I16(static_cast<int>(s.size())) + s; }

// Records as real brokers wrote them (Kafka version, key hex, value hex or
// "null"), captured by tests/integration/test_offsets_topic.cpp with
// DORA_OFFSETS_TOPIC_DUMP: kafka-consumer-groups --reset-offsets, --delete,
// the Java console consumer (classic on 3.9, group.protocol=consumer on 4.1)
// and librdkafka's transactional producer.
struct RealRecord {
  const char* version;
  const char* key;
  const char* value;
};
const RealRecord kRealRecords[] = {
    {"3.9.1", "00010007672d726573657400066f726465727300000000",
     "00030000000000000028ffffffff0000000001a251e1173e"},
    {"3.9.1", "00010009672d64656c6574656400066f726465727300000000", "null"},
    {"3.9.1", "00020006672d6a617661",
     "00030008636f6e73756d657200000001000572616e67650035636f6e736f6c652d636f6e73756d65722d35636136636137652d6"
     "234"
     "39332d343666652d383430612d653138613366613436333266000001a251e1106d000000010035636f6e736f6c652d636f6e737"
     "5"
     "6d65722d35636136636137652d623439332d343666652d383430612d653138613366613436333266ffff0010636f6e736f6c652"
     "d"
     "636f6e73756d6572000a2f3132372e302e302e31000493e00000afc80000001c00030000000100066f7264657273ffffffff000"
     "0"
     "0000ffffffffffff0000002200030000000100066f726465727300000003000000000000000100000002ffffffff"},
    {"4.1.1", "00010005672d6e657700066f726465727300000000",
     "0004000000000000005a0000000001000001a251e4141a00"},
    {"4.1.1", "00010005672d74786e00066f726465727300000001",
     "0004000000000000004dffffffff01000001a251e429a000"},
    {"4.1.1", "00050005672d6e6577001655766a5f52756b5451355737765f7a50763469496b41",
     "0000000011636f6e736f6c652d636f6e73756d65720b2f3132372e302e302e3102076f726465727301000493e00001000100"},
    {"4.1.1", "00030005672d6e6577", "0000000000010100083b5e5182d4e2a493"},
    {"4.1.1", "00080005672d6e6577001655766a5f52756b5451355737765f7a50763469496b41", "null"},
    {"4.1.1", "00020009672d64656c65746564", "null"},
};

std::string Unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

OffsetsTopicRecord DecodeReal(const RealRecord& r) {
  const bool null = std::string(r.value) == "null";
  const std::string key = Unhex(r.key), value = null ? std::string() : Unhex(r.value);
  return Decode(key, null ? nullptr : &value);
}

}  // namespace

TEST_CASE("offsets topic decoder: records written by real Kafka 3.9 and 4.1 brokers", "[offsets-topic]") {
  // 3.9: kafka-consumer-groups --reset-offsets --to-offset 40, value v3.
  auto r = DecodeReal(kRealRecords[0]);
  REQUIRE(r.kind == OffsetsRecordKind::kOffsetCommit);
  CHECK(r.key_version == 1);
  CHECK(r.value_version == 3);
  CHECK(r.group == "g-reset");
  CHECK(r.topic == "orders");
  CHECK(r.partition == 0);
  CHECK(r.offset == 40);
  CHECK(r.leader_epoch == -1);
  CHECK(r.commit_timestamp == 0x1a251e1173e);  // 2026-12-07, when it was captured
  // 3.9: --delete: the offset's tombstone.
  r = DecodeReal(kRealRecords[1]);
  CHECK(r.kind == OffsetsRecordKind::kOffsetCommit);
  CHECK(r.tombstone);
  CHECK(r.group == "g-deleted");
  CHECK(r.partition == 0);
  // 3.9: the Java console consumer's classic group metadata (skipped).
  r = DecodeReal(kRealRecords[2]);
  CHECK(r.kind == OffsetsRecordKind::kGroupMetadata);
  CHECK(r.group == "g-java");
  CHECK_FALSE(r.tombstone);
  // 4.1: a new-protocol group's commit, value v4 (flexible).
  r = DecodeReal(kRealRecords[3]);
  REQUIRE(r.kind == OffsetsRecordKind::kOffsetCommit);
  CHECK(r.value_version == 4);
  CHECK(r.group == "g-new");
  CHECK(r.offset == 90);
  CHECK(r.leader_epoch == 0);
  CHECK(r.commit_timestamp == 0x1a251e4141a);
  // 4.1: a transactional commit (TxnOffsetCommit, then committed).
  r = DecodeReal(kRealRecords[4]);
  CHECK(r.group == "g-txn");
  CHECK(r.partition == 1);
  CHECK(r.offset == 77);
  // 4.1: KIP-848 records (member metadata, group metadata, current assignment
  // tombstone): skipped; the classic group's metadata tombstone of a delete.
  for (int i : {5, 6, 7}) CHECK(DecodeReal(kRealRecords[i]).kind == OffsetsRecordKind::kOtherGroupRecord);
  CHECK(DecodeReal(kRealRecords[5]).key_version == 5);
  CHECK(DecodeReal(kRealRecords[6]).key_version == 3);
  r = DecodeReal(kRealRecords[8]);
  CHECK(r.kind == OffsetsRecordKind::kGroupMetadata);
  CHECK(r.tombstone);
  CHECK(r.group == "g-deleted");
  // Every truncation of every real record is malformed or (key version 3+,
  // whose body is not read) skipped, never an offset commit.
  for (const auto& rec : kRealRecords) {
    if (std::string(rec.value) == "null") continue;
    const std::string key = Unhex(rec.key), value = Unhex(rec.value);
    for (size_t n = 0; n < value.size(); ++n) {
      std::string v = value.substr(0, n);
      auto t = Decode(key, &v);
      CHECK(t.kind != OffsetsRecordKind::kUnknown);
      if (t.key_version == 1) CHECK(t.kind == OffsetsRecordKind::kMalformed);
    }
  }
}

TEST_CASE("offsets topic decoder: offset commit key and values v0 to v4", "[offsets-topic]") {
  const std::string key = I16(1) + Str("billing") + Str("invoices") + I32(7);
  std::string v0 = I16(0) + I64(1234) + Str("meta") + I64(1700000000000);
  std::string v1 = I16(1) + I64(1235) + Str("") + I64(1700000000001) + I64(1700000100000);
  std::string v3 = I16(3) + I64(1236) + I32(5) + Str("m") + I64(1700000000002);
  std::string v4 =
      I16(4) + I64(1237) + I32(6) + std::string("\x02x", 2) + I64(1700000000003) + std::string(1, '\0');
  int n = 0;
  for (const std::string* v : {&v0, &v1, &v3, &v4}) {
    auto r = Decode(key, v);
    INFO(r.error);
    REQUIRE(r.kind == OffsetsRecordKind::kOffsetCommit);
    CHECK(r.group == "billing");
    CHECK(r.topic == "invoices");
    CHECK(r.partition == 7);
    CHECK(r.offset == 1234 + n);
    CHECK(r.commit_timestamp == 1700000000000 + n);
    ++n;
  }
  CHECK(Decode(key, &v3).leader_epoch == 5);
  CHECK(Decode(key, &v0).leader_epoch == -1);
  auto t = Decode(key, nullptr);
  CHECK(t.kind == OffsetsRecordKind::kOffsetCommit);
  CHECK(t.tombstone);
  CHECK(std::string(OffsetsRecordKindName(t.kind, t.tombstone)) == "offset_tombstone");
  // Key version 0 is an offset commit too.
  CHECK(Decode(I16(0) + Str("g") + Str("t") + I32(0), &v0).kind == OffsetsRecordKind::kOffsetCommit);
}

TEST_CASE("offsets topic decoder: group metadata and other group records are skipped, unknown counted",
          "[offsets-topic]") {
  std::string junk = "\x00\x03whatever";
  auto g = Decode(I16(2) + Str("billing"), &junk);
  CHECK(g.kind == OffsetsRecordKind::kGroupMetadata);
  CHECK(g.group == "billing");
  CHECK(std::string(OffsetsRecordKindName(g.kind, g.tombstone)) == "group_metadata");
  auto gt = Decode(I16(2) + Str("b"), nullptr);
  CHECK(gt.kind == OffsetsRecordKind::kGroupMetadata);
  CHECK(std::string(OffsetsRecordKindName(gt.kind, gt.tombstone)) == "group_tombstone");
  for (int kv : {3, 4, 5, 6, 7, 8, 16, 17, 100, 32767}) {
    CHECK(Decode(I16(kv) + Str("g"), &junk).kind == OffsetsRecordKind::kOtherGroupRecord);
    CHECK(Decode(I16(kv), nullptr).kind == OffsetsRecordKind::kOtherGroupRecord);
  }
  CHECK(Decode(I16(-1) + Str("g"), &junk).kind == OffsetsRecordKind::kUnknown);
  std::string bad_value = I16(-3) + I64(1);
  CHECK(Decode(I16(1) + Str("g") + Str("t") + I32(0), &bad_value).kind == OffsetsRecordKind::kUnknown);
}

TEST_CASE("offsets topic decoder: every truncation and random garbage is malformed, never a crash",
          "[offsets-topic]") {
  const std::string key = I16(1) + Str("billing") + Str("invoices") + I32(7);
  const std::string value = I16(3) + I64(1236) + I32(5) + Str("m") + I64(1700000000002);
  for (size_t n = 0; n < key.size(); ++n) {
    auto r = Decode(key.substr(0, n), &value);
    CHECK(r.kind == OffsetsRecordKind::kMalformed);
  }
  for (size_t n = 0; n < value.size(); ++n) {
    std::string v = value.substr(0, n);
    auto r = Decode(key, &v);
    CHECK(r.kind == OffsetsRecordKind::kMalformed);
  }
  // A string length past the end, and a huge compact length.
  CHECK(Decode(I16(1) + I16(30000) + "ab", &value).kind == OffsetsRecordKind::kMalformed);
  std::string v4 = I16(4) + I64(1) + I32(0) + std::string("\xff\xff\xff\xff\x0f", 5);
  CHECK(Decode(key, &v4).kind == OffsetsRecordKind::kMalformed);
  std::mt19937 rng(19);
  for (int i = 0; i < 20000; ++i) {
    std::string k(rng() % 24, '\0'), v(rng() % 40, '\0');
    for (auto& c : k) c = static_cast<char>(rng());
    for (auto& c : v) c = static_cast<char>(rng());
    if (k.size() >= 2) k[0] = 0, k[1] = static_cast<char>(rng() % 4);  // mostly known key versions
    auto r = Decode(k, i % 5 == 0 ? nullptr : &v);
    CHECK(std::strlen(OffsetsRecordKindName(r.kind, r.tombstone)) > 0);
  }
}

TEST_CASE("offsets topic table: latest commit wins, tombstones remove, group metadata keeps offsets",
          "[offsets-topic]") {
  CommittedOffsetsTable t;
  auto commit = [&](const std::string& g, const std::string& topic, int32_t p, int64_t o) {
    OffsetsTopicRecord r;
    r.kind = OffsetsRecordKind::kOffsetCommit;
    r.group = g;
    r.topic = topic;
    r.partition = p;
    r.offset = o;
    t.Apply(r);
  };
  auto tombstone = [&](OffsetsRecordKind kind, const std::string& g, const std::string& topic, int32_t p) {
    OffsetsTopicRecord r;
    r.kind = kind;
    r.tombstone = true;
    r.group = g;
    r.topic = topic;
    r.partition = p;
    t.Apply(r);
  };
  commit("a", "orders", 1, 10);
  commit("a", "orders", 0, 5);
  commit("a", "audit", 0, 3);
  commit("a", "orders", 1, 12);
  commit("b", "orders", 0, 7);
  CHECK(t.groups() == 2);
  CHECK(t.partitions() == 4);
  auto c = t.Committed({"a", "missing", "b"});
  REQUIRE(c.size() == 3);
  CHECK(c[0].group == "a");
  CHECK(c[0].topics == std::vector<std::string>{"audit", "orders"});
  REQUIRE(c[0].committed.size() == 3);
  CHECK(c[0].topic(c[0].committed[0]) == "audit");
  CHECK(c[0].committed[1].partition == 0);
  CHECK(c[0].committed[2].offset == 12);
  CHECK(c[1].committed.empty());
  CHECK(c[1].error == 0);
  // A classic group's metadata tombstone (also written when a live group
  // moves to the consumer protocol) leaves its offsets.
  tombstone(OffsetsRecordKind::kGroupMetadata, "b", "", -1);
  CHECK(t.Committed({"b"})[0].committed.size() == 1);
  tombstone(OffsetsRecordKind::kOffsetCommit, "b", "orders", 0);
  tombstone(OffsetsRecordKind::kOffsetCommit, "b", "orders", 0);  // twice: no underflow
  tombstone(OffsetsRecordKind::kOffsetCommit, "a", "audit", 0);
  CHECK(t.groups() == 1);
  CHECK(t.partitions() == 2);
  CHECK(t.Committed({"a"})[0].topics == std::vector<std::string>{"orders"});
}

namespace {

// A CommittedOffsetsSource of a table and a switch.
class FakeSource : public CommittedOffsetsSource {
 public:
  OffsetsTopicProgress Progress() const override {
    OffsetsTopicProgress p;
    p.caught_up = caught_up;
    p.records["offset_commit"] = 1;
    p.group_partitions = table.partitions();
    return p;
  }
  std::vector<GroupOffsets> Committed(const std::vector<std::string>& groups) const override {
    return table.Committed(groups);
  }
  bool caught_up = false;
  CommittedOffsetsTable table;
};

}  // namespace

TEST_CASE("consumer_groups with the offsets topic source: OffsetFetch until caught up, none after",
          "[offsets-topic][collectors]") {
  auto kafka = std::make_shared<dora::test::FakeKafka>();
  kafka->AddBroker(1);
  kafka->AddTopic("orders", {{1}});
  kafka->SetOffsets("orders", 0, 0, 100);
  GroupDescription g;
  g.name = "billing";
  g.state = "Empty";
  g.protocol_type = "consumer";
  g.coordinator = 1;
  kafka->SetGroup(g, {{{"orders", 0}, 40}});
  auto watermarks = std::make_shared<WatermarkService>(kafka, std::make_shared<ClusterState>(), 250, 5min);
  ConsumerGroupsCollectorConfig gc;
  gc.offsets_source = "offsets_topic";
  ConsumerGroupsCollector groups(gc, 60s, kafka, watermarks, nullptr);
  auto source = std::make_shared<FakeSource>();
  OffsetsTopicRecord r;
  r.kind = OffsetsRecordKind::kOffsetCommit;
  r.group = "billing";
  r.topic = "orders";
  r.partition = 0;
  r.offset = 60;
  source->table.Apply(r);
  groups.SetOffsetsSource(source);
  auto run = [&] {
    CollectContext ctx;
    ctx.deadline = std::chrono::steady_clock::now() + 2s;
    MetricsBuilder out;
    REQUIRE(groups.Collect(ctx, out).ok);
    return dora::test::ParseExposition(out.Render());
  };
  const std::map<std::string, std::string> p0 = {
      {"consumergroup", "billing"}, {"topic", "orders"}, {"partition", "0"}};
  CHECK_FALSE(groups.Ready());
  auto s = run();
  CHECK(kafka->calls("FetchCommittedOffsets") == 1);
  CHECK(dora::test::Find(s, "kafka_consumergroup_current_offset", p0) == 40.0);
  CHECK(dora::test::Find(s, "kafka_consumergroup_offsets_topic_caught_up", {}) == 0.0);
  source->caught_up = true;
  CHECK(groups.Ready());
  s = run();
  CHECK(kafka->calls("FetchCommittedOffsets") == 1);  // none this run
  CHECK(dora::test::Find(s, "kafka_consumergroup_current_offset", p0) == 60.0);
  CHECK(dora::test::Find(s, "kafka_consumergroup_lag", p0) == 40.0);
  CHECK(dora::test::Find(s, "kafka_consumergroup_offsets_topic_caught_up", {}) == 1.0);
  CHECK(dora::test::Find(s, "kafka_consumergroup_offsets_topic_records_total", {{"kind", "offset_commit"}}) ==
        1.0);
}
