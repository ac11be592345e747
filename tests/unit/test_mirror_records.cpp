// MirrorMaker 2's offset-sync and checkpoint records (collectors/mirror/records.h),
// decoded from bytes a real MM2 3.9.1 wrote (tests/fixtures/mm2/*.hex), and
// every truncation of them refused without a crash.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/mirror/records.h"

using namespace dora::mirror;

namespace {

struct FixtureRecord {
  long long offset = 0;
  long long timestamp_ms = 0;
  std::string key;
  std::string value;
};

std::string Unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

std::vector<FixtureRecord> LoadFixture(const std::string& name) {
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/tests/fixtures/mm2/" + name);
  REQUIRE(in.good());
  std::vector<FixtureRecord> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    FixtureRecord r;
    std::string key, value;
    ls >> r.offset >> r.timestamp_ms >> key >> value;
    r.key = Unhex(key);
    r.value = Unhex(value);
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST_CASE("mirror records: offset syncs written by a real MirrorMaker 2 decode", "[mirror]") {
  const auto records = LoadFixture("offset-syncs.hex");
  REQUIRE(records.size() == 11);
  for (size_t i = 0; i < records.size(); ++i) {
    auto s = DecodeOffsetSync(records[i].key, records[i].value);
    REQUIRE(s.has_value());
    CHECK(s->topic == "orders");
    CHECK(s->partition == 1);
  }
  auto first = DecodeOffsetSync(records[0].key, records[0].value);
  CHECK(first->upstream_offset == 0);
  CHECK(first->downstream_offset == 0);
  auto last = DecodeOffsetSync(records.back().key, records.back().value);
  CHECK(last->upstream_offset == 54);
  CHECK(last->downstream_offset == 54);
}

TEST_CASE("mirror records: a checkpoint written by a real MirrorMaker 2 decodes", "[mirror]") {
  const auto records = LoadFixture("checkpoints.hex");
  REQUIRE(records.size() == 1);
  auto c = DecodeCheckpoint(records[0].key, records[0].value);
  REQUIRE(c.has_value());
  CHECK(c->group == "billing");
  CHECK(c->topic == "primary.orders");
  CHECK(c->partition == 1);
  CHECK(c->upstream_offset == 60);
  // MM2 translated through the sync 54 -> 54: one past it, conservatively.
  CHECK(c->downstream_offset == 55);
  CHECK(c->metadata.empty());
}

TEST_CASE("mirror records: truncated, extended or odd records are refused, never a crash", "[mirror]") {
  const auto sync = LoadFixture("offset-syncs.hex").back();
  const auto cp = LoadFixture("checkpoints.hex").front();
  for (size_t n = 0; n < sync.key.size(); ++n)
    CHECK_FALSE(DecodeOffsetSync(sync.key.substr(0, n), sync.value));
  for (size_t n = 0; n < sync.value.size(); ++n)
    CHECK_FALSE(DecodeOffsetSync(sync.key, sync.value.substr(0, n)));
  for (size_t n = 0; n < cp.key.size(); ++n) CHECK_FALSE(DecodeCheckpoint(cp.key.substr(0, n), cp.value));
  for (size_t n = 0; n < cp.value.size(); ++n) CHECK_FALSE(DecodeCheckpoint(cp.key, cp.value.substr(0, n)));
  // Trailing bytes: not the layout we know.
  CHECK_FALSE(DecodeOffsetSync(sync.key + "x", sync.value));
  CHECK_FALSE(DecodeCheckpoint(cp.key, cp.value + "x"));
  // An unknown checkpoint version.
  std::string v1 = cp.value;
  v1[1] = 1;
  CHECK_FALSE(DecodeCheckpoint(cp.key, v1));
  // A negative string length (0xffff) and a length past the end.
  CHECK_FALSE(DecodeOffsetSync(std::string("\xff\xff\0\0\0\1", 6), sync.value));
  CHECK_FALSE(DecodeOffsetSync(std::string("\x7f\xff"
                                           "ab\0\0\0\1",
                                           8),
                               sync.value));
  // A checkpoint's metadata is kept.
  std::string with_meta = cp.value.substr(0, cp.value.size() - 2) + std::string("\0\3abc", 5);
  auto c = DecodeCheckpoint(cp.key, with_meta);
  REQUIRE(c.has_value());
  CHECK(c->metadata == "abc");
}
