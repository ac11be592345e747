// The mirror collector's state without Kafka (collectors/mirror/state.h):
// topic naming, offset translation through syncs, the probe's accounting.
#include <catch2/catch.hpp>

#include "collectors/mirror/state.h"

using namespace dora;
using namespace dora::mirror;

TEST_CASE("mirror state: topic names under the default and the identity policy", "[mirror]") {
  MirrorFlow f;
  f.source = "primary";
  f.target = "dr";
  CHECK(RemoteTopic(f, "orders") == "primary.orders");
  CHECK(UpstreamTopic(f, "primary.orders") == std::optional<std::string>("orders"));
  CHECK_FALSE(UpstreamTopic(f, "other.orders"));
  CHECK_FALSE(UpstreamTopic(f, "primary."));
  CHECK(OffsetSyncsTopic(f) == "mm2-offset-syncs.dr.internal");
  CHECK(CheckpointsTopic(f) == "primary.checkpoints.internal");
  f.separator = "_";
  CHECK(RemoteTopic(f, "orders") == "primary_orders");
  f.replication_policy = "identity";
  CHECK(RemoteTopic(f, "orders") == "orders");
  CHECK(UpstreamTopic(f, "orders") == std::optional<std::string>("orders"));
  f.offset_syncs_topic = "syncs";
  f.checkpoints_topic = "cps";
  CHECK(OffsetSyncsTopic(f) == "syncs");
  CHECK(CheckpointsTopic(f) == "cps");
}

TEST_CASE("mirror state: an upstream offset translates through the latest sync at or below it", "[mirror]") {
  SyncStore s;
  CHECK_FALSE(s.Translate("orders", 1, 60));
  s.Add({"orders", 1, 0, 0}, 1000);
  s.Add({"orders", 1, 54, 50}, 2000);  // downstream behind upstream: a filtered or truncated record
  s.Add({"orders", 1, 97, 93}, 3000);
  REQUIRE(s.Latest("orders", 1) != nullptr);
  CHECK(s.Latest("orders", 1)->upstream == 97);
  CHECK(s.Latest("orders", 1)->timestamp_ms == 3000);
  CHECK(s.Translate("orders", 1, 60) == std::optional<int64_t>(56));
  CHECK(s.Translate("orders", 1, 97) == std::optional<int64_t>(93));
  CHECK(s.Translate("orders", 1, 10) == std::optional<int64_t>(10));
  CHECK_FALSE(s.Translate("orders", 0, 10));
  // MM2 restarted from an older offset: the later syncs go.
  s.Add({"orders", 1, 40, 40}, 4000);
  CHECK(s.Latest("orders", 1)->upstream == 40);
  CHECK(s.Translate("orders", 1, 60) == std::optional<int64_t>(60));
  // Bounded history.
  for (int i = 100; i < 300; ++i) s.Add({"orders", 1, i, i}, i);
  CHECK(s.Translate("orders", 1, 299) == std::optional<int64_t>(299));
  CHECK_FALSE(s.Translate("orders", 1, 100));  // older than the kept history
}

TEST_CASE("mirror state: the probe ledger observes, expires and reports the oldest pending", "[mirror]") {
  ProbeLedger l;
  const auto t0 = ProbeLedger::Clock::now();
  l.Sent(1, t0);
  l.Sent(2, t0 + std::chrono::seconds(1));
  l.Sent(3, t0 + std::chrono::seconds(2));
  l.Seen(1, t0 + std::chrono::milliseconds(1500));
  l.Seen(1, t0 + std::chrono::seconds(9));  // a duplicate is not observed twice
  l.ProduceFailed(3);
  auto v = l.Snapshot(t0 + std::chrono::seconds(4));
  CHECK(v.sent == 3);
  CHECK(v.count == 1);
  CHECK(v.sum == Approx(1.5));
  CHECK(v.produce_errors == 1);
  CHECK(v.oldest_pending_seconds == Approx(3.0));
  CHECK(v.last_latency_seconds == Approx(1.5));
  l.Expire(t0 + std::chrono::seconds(20), std::chrono::seconds(10));
  v = l.Snapshot(t0 + std::chrono::seconds(20));
  CHECK(v.missing == 1);
  CHECK(v.oldest_pending_seconds == 0);
  l.Seen(2, t0 + std::chrono::seconds(21));  // too late: already counted missing
  CHECK(l.Snapshot(t0).count == 1);
}

TEST_CASE("mirror state: probe payloads of this instance only", "[mirror]") {
  const std::string p = ProbePayload(0xabcdef0123456789ULL, 42);
  CHECK(ParseProbePayload(p, 0xabcdef0123456789ULL) == std::optional<uint64_t>(42));
  CHECK_FALSE(ParseProbePayload(p, 1));
  CHECK_FALSE(ParseProbePayload(p + "x", 0xabcdef0123456789ULL));
  CHECK_FALSE(ParseProbePayload("", 0));
  CHECK_FALSE(ParseProbePayload("dora-mirror-probe", 0));
  CHECK_FALSE(ParseProbePayload(std::string(500, 'a'), 0));
}
