#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "collectors/lag_model.h"
#include "collectors/offsets.h"
#include "kafka/group_types.h"

using namespace dora;
using namespace std::chrono_literals;

namespace {
const SteadyTime T0 = SteadyTime() + 1000s;
}

TEST_CASE("lag seconds interpolates between watermark points", "[lag]") {
  WatermarkHistory h(60);
  // A steady 100 msg/s producer sampled every 10 s.
  for (int i = 0; i <= 6; ++i) h.Add(T0 + std::chrono::seconds(10 * i), 1000 * i);
  SteadyTime now = T0 + 60s;
  // Offset 2500 was reached at t=25s: 35 s ago.
  REQUIRE(h.LagSeconds(2500, now).value() == Approx(35.0));
  REQUIRE(h.LagSeconds(6000, now).value() == Approx(0.0));  // caught up
  REQUIRE(h.LagSeconds(7000, now).value() == Approx(0.0));  // ahead (clamped elsewhere)
  REQUIRE(h.LagSeconds(0, now).value() == Approx(60.0));
}

TEST_CASE("lag seconds extrapolates before the history at its average rate", "[lag]") {
  WatermarkHistory h(60);
  h.Add(T0, 10000);
  h.Add(T0 + 10s, 11000);
  // 100 msg/s: offset 9000 was reached 10 s before T0, i.e. 30 s before now.
  REQUIRE(h.LagSeconds(9000, T0 + 20s).value() == Approx(30.0));
}

TEST_CASE("lag seconds reports nothing when the history cannot tell", "[lag]") {
  WatermarkHistory h(60);
  REQUIRE_FALSE(h.LagSeconds(5, T0).has_value());
  h.Add(T0, 100);
  REQUIRE_FALSE(h.LagSeconds(50, T0 + 5s).has_value());  // one point only
  h.Add(T0 + 5s, 100);                                   // idle: same offset merges
  REQUIRE(h.size() == 1);
  REQUIRE_FALSE(h.LagSeconds(50, T0 + 10s).has_value());
  REQUIRE(h.LagSeconds(100, T0 + 10s).value() == 0.0);
}

TEST_CASE("an idle run keeps the time the watermark first reached the offset", "[lag]") {
  WatermarkHistory h(60);
  h.Add(T0, 0);
  h.Add(T0 + 10s, 1000);  // produced during the first 10 s
  h.Add(T0 + 20s, 1000);  // then idle
  h.Add(T0 + 30s, 1000);
  // Offset 500 reached at T0+5s whatever the idle samples say.
  REQUIRE(h.LagSeconds(500, T0 + 30s).value() == Approx(25.0));
}

TEST_CASE("watermark history is bounded and restarts when the watermark goes down", "[lag]") {
  WatermarkHistory h(3);
  for (int i = 0; i < 10; ++i) h.Add(T0 + std::chrono::seconds(i), i * 10);
  REQUIRE(h.size() == 3);
  h.Add(T0 + 20s, 5);  // topic recreated
  REQUIRE(h.size() == 1);
}

TEST_CASE("status: lag zero anywhere in the window is OK", "[status]") {
  StatusWindow w(3);
  w.Add({10, 5});
  w.Add({10, 0});
  w.Add({10, 7});
  REQUIRE(w.Evaluate(false) == PartitionStatus::kOk);
}

TEST_CASE("status: offset unchanged over a full window is STOP without owner, STALL with one", "[status]") {
  StatusWindow w(3);
  w.Add({10, 5});
  w.Add({10, 6});
  REQUIRE(w.Evaluate(false) == PartitionStatus::kOk);  // window not full yet
  w.Add({10, 9});
  REQUIRE(w.Evaluate(false) == PartitionStatus::kStop);
  REQUIRE(w.Evaluate(true) == PartitionStatus::kStall);
  REQUIRE(w.complete() == 1.0);
}

TEST_CASE("status: an unmoved partition of a member moving elsewhere is WARN or OK, not STALL", "[status]") {
  StatusWindow w(3);
  w.Add({10, 5});
  w.Add({10, 6});
  w.Add({10, 9});
  REQUIRE_FALSE(w.Moved());
  REQUIRE(w.Evaluate(true, false) == PartitionStatus::kStall);
  REQUIRE(w.Evaluate(true, true) == PartitionStatus::kWarn);  // lag grew, never fell
  REQUIRE(w.Evaluate(false, false) == PartitionStatus::kStop);
  StatusWindow flat(3);
  for (int i = 0; i < 3; ++i) flat.Add({10, 5});
  REQUIRE(flat.Evaluate(true, true) == PartitionStatus::kOk);  // no new data: nothing to consume
  REQUIRE(flat.Evaluate(true, false) == PartitionStatus::kStall);
}

TEST_CASE("status: offset going backwards is REWIND", "[status]") {
  StatusWindow w(5);
  w.Add({100, 5});
  w.Add({50, 55});
  REQUIRE(w.Evaluate(true) == PartitionStatus::kRewind);
}

TEST_CASE("status: moving but falling behind is WARN, catching up is OK", "[status]") {
  StatusWindow w(3);
  w.Add({10, 5});
  w.Add({20, 8});
  w.Add({30, 12});
  REQUIRE(w.Evaluate(true) == PartitionStatus::kWarn);
  w.Add({45, 7});
  REQUIRE(w.Evaluate(true) == PartitionStatus::kOk);
}

TEST_CASE("status: a step that left the window no longer counts", "[status]") {
  StatusWindow w(3);
  w.Add({100, 5});
  w.Add({50, 55});  // rewind
  REQUIRE(w.Evaluate(false) == PartitionStatus::kRewind);
  w.Add({60, 45});
  w.Add({70, 50});  // the window is {50, 55} {60, 45} {70, 50}: the rewind was before it
  REQUIRE(w.Evaluate(false) == PartitionStatus::kOk);
  REQUIRE(w.last().offset == 70);
  REQUIRE(w.last().lag == 50);
  REQUIRE(w.count() == 3);
}

// Burrow's rules written out over the stored observations, as the window
// evaluated them before it kept one byte per observation.
static PartitionStatus ReferenceStatus(const std::vector<Observation>& obs, size_t size, bool owned,
                                       bool owner_moved) {
  const size_t n = obs.size();
  if (n == 0) return PartitionStatus::kOk;
  for (const auto& o : obs)
    if (o.lag == 0) return PartitionStatus::kOk;
  for (size_t i = 1; i < n; ++i)
    if (obs[i].offset < obs[i - 1].offset) return PartitionStatus::kRewind;
  if (n < size) return PartitionStatus::kOk;
  if (obs[n - 1].offset == obs[0].offset) {
    if (!owned) return PartitionStatus::kStop;
    if (!owner_moved) return PartitionStatus::kStall;
  }
  bool never_decreased = true;
  for (size_t i = 1; i < n; ++i)
    if (obs[i].lag < obs[i - 1].lag) never_decreased = false;
  if (never_decreased && obs[n - 1].lag > obs[0].lag) return PartitionStatus::kWarn;
  return PartitionStatus::kOk;
}

TEST_CASE("status: the compact window agrees with the rules over every stored observation", "[status]") {
  std::mt19937 rng(20261127);
  size_t seen[5] = {};
  for (size_t size : {2, 3, 10, 16, 17, 40}) {
    for (int run = 0; run < 400; ++run) {
      StatusWindow w(size);
      std::vector<Observation> all;
      int64_t offset = 1000;
      int64_t lag = 50;
      for (int step = 0; step < 60; ++step) {
        // Small moves, so that equal, rising and falling values all occur.
        offset += static_cast<int64_t>(rng() % 4) - (rng() % 9 == 0 ? 3 : 0);
        lag = std::max<int64_t>(0, lag + static_cast<int64_t>(rng() % 5) - 2 + (rng() % 7 == 0 ? 3 : 0));
        if (rng() % 3 == 0) lag = std::max<int64_t>(lag, 1);  // runs without a zero
        w.Add({offset, lag});
        all.push_back({offset, lag});
        std::vector<Observation> window(all.end() - static_cast<std::ptrdiff_t>(std::min(all.size(), size)),
                                        all.end());
        const bool owned = rng() % 2 == 0;
        const bool owner_moved = owned && rng() % 2 == 0;
        const PartitionStatus want = ReferenceStatus(window, size, owned, owner_moved);
        REQUIRE(w.Evaluate(owned, owner_moved) == want);
        bool moved = false;
        for (size_t i = 1; i < window.size(); ++i) moved |= window[i].offset > window[i - 1].offset;
        REQUIRE(w.Moved() == moved);
        ++seen[static_cast<size_t>(want)];
      }
    }
  }
  // Every status came up, so every rule was compared.
  for (size_t s = 0; s < 5; ++s) REQUIRE(seen[s] > 0);
}

TEST_CASE("status: a moved-from window is empty and safe to use", "[status]") {
  // Longer than the inline buffer (16): the ring is on the heap and moves out.
  for (size_t size : {3, 40}) {
    INFO("size " << size);
    StatusWindow w(size);
    for (int i = 0; i < 50; ++i) w.Add({100, 5 + i});
    REQUIRE(w.Evaluate(true) == PartitionStatus::kStall);
    StatusWindow moved(std::move(w));
    CHECK(moved.count() == size);
    CHECK(moved.Evaluate(true) == PartitionStatus::kStall);
    CHECK(moved.last().lag == 54);
    // The source: no observations, no size, and every call still works.
    CHECK(w.count() == 0);
    CHECK(w.complete() == 0.0);
    CHECK(w.Evaluate(true) == PartitionStatus::kOk);
    for (int i = 0; i < 50; ++i) w.Add({i, 1});
    CHECK(w.count() == 0);
    CHECK(w.Evaluate(false) == PartitionStatus::kOk);
    // Move-assigning over a window replaces it; assigning back revives the source.
    StatusWindow other(20);
    other.Add({1, 1});
    other = std::move(moved);
    CHECK(other.Evaluate(true) == PartitionStatus::kStall);
    CHECK(moved.count() == 0);
    w = std::move(other);
    CHECK(w.count() == size);
    w.Add({101, 0});
    CHECK(w.Evaluate(true) == PartitionStatus::kOk);
  }
}

TEST_CASE("group status is the worst partition status", "[status]") {
  using P = PartitionStatus;
  REQUIRE(Aggregate({}) == GroupStatus::kOk);
  REQUIRE(Aggregate({P::kOk, P::kWarn}) == GroupStatus::kWarn);
  REQUIRE(Aggregate({P::kWarn, P::kStall}) == GroupStatus::kErr);
  REQUIRE(Aggregate({P::kOk, P::kStop}) == GroupStatus::kErr);
  REQUIRE(Aggregate({P::kRewind}) == GroupStatus::kErr);
  REQUIRE(std::string(ToString(GroupStatus::kErr)) == "ERR");
  REQUIRE(std::string(ToString(P::kStall)) == "STALL");
}

TEST_CASE("rate tracker: messages per second over the window, reset on recreation", "[offsets]") {
  RateTracker r(60s);
  TopicPartition tp{"audit-logs", 3};
  REQUIRE_FALSE(r.Rate(tp).has_value());
  r.Add(tp, T0, 0);
  REQUIRE_FALSE(r.Rate(tp).has_value());
  for (int i = 1; i <= 12; ++i) r.Add(tp, T0 + std::chrono::seconds(15 * i), 1500 * i);  // 100/s
  REQUIRE(r.Rate(tp).value() == Approx(100.0));
  r.Add(tp, T0 + 200s, 10);  // watermark went down: recreated topic
  REQUIRE_FALSE(r.Rate(tp).has_value());
  r.Retain({{"other", 1}});
  REQUIRE(r.size() == 0);
}

TEST_CASE("consumer protocol assignment decoding", "[groups]") {
  // version 1, 1 topic "ab" with partitions 0 and 7, empty user data
  const unsigned char bytes[] = {0, 1, 0, 0, 0, 1, 0, 2, 'a', 'b',  0,    0,    0,
                                 2, 0, 0, 0, 0, 0, 0, 0, 7,   0xff, 0xff, 0xff, 0xff};
  std::vector<TopicPartition> out;
  REQUIRE(DecodeAssignment(bytes, sizeof bytes, &out));
  REQUIRE(out.size() == 2);
  REQUIRE(out[0] == TopicPartition{"ab", 0});
  REQUIRE(out[1] == TopicPartition{"ab", 7});
  // Truncated input is rejected, not read past its end.
  REQUIRE_FALSE(DecodeAssignment(bytes, 12, &out));
  REQUIRE(DecodeAssignment(nullptr, 0, &out));
  REQUIRE(out.empty());
}

TEST_CASE("write skew: the hottest partition against the mean and the whole topic", "[offsets][hot]") {
  // 80 of 100 messages/s to partition 0, the rest spread: 85% in partition 0.
  auto s = ComputeWriteSkew({85, 5, 5, 5});
  REQUIRE(s);
  CHECK(s->hottest_share == Approx(0.85));
  CHECK(s->skew == Approx(3.4));
  auto even = ComputeWriteSkew({10, 10, 10});
  REQUIRE(even);
  CHECK(even->skew == Approx(1));
  CHECK(even->hottest_share == Approx(1.0 / 3));
  CHECK_FALSE(ComputeWriteSkew({42}));    // one partition: always "all in one"
  CHECK_FALSE(ComputeWriteSkew({0, 0}));  // no writes
  CHECK_FALSE(ComputeWriteSkew({}));
}

TEST_CASE("leader write shares: each broker's part of the writes it leads", "[offsets][hot]") {
  ClusterMetadata md;
  for (int32_t b : {1, 2, 3}) {
    BrokerInfo info;
    info.id = b;
    md.brokers.push_back(info);
  }
  TopicMetadata t;
  t.name = "agent-events";
  for (int32_t p = 0; p < 4; ++p) {
    PartitionMetadata pm;
    pm.id = p;
    pm.leader = p == 3 ? -1 : p + 1;  // partition 3 offline
    t.partitions.push_back(pm);
  }
  md.topics.push_back(t);
  std::map<TopicPartition, double> rates = {{{"agent-events", 0}, 60},
                                            {{"agent-events", 1}, 30},
                                            {{"agent-events", 2}, 10},
                                            {{"agent-events", 3}, 99},  // no leader: left out
                                            {{"other-topic", 0}, 50}};  // not in the metadata: left out
  auto shares = LeaderWriteShares(rates, md);
  REQUIRE(shares.size() == 3);
  CHECK(shares[1] == Approx(0.6));
  CHECK(shares[2] == Approx(0.3));
  CHECK(shares[3] == Approx(0.1));
  CHECK(LeaderWriteShares({}, md).empty());
}
