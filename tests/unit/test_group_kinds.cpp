// New-protocol (KIP-848) and share groups as librdkafka 2.0.2 sees them:
// ReconcileWithListing on hand-built descriptions and listings, and what
// ConsumerGroupsCollector::Render makes of the result (no broker).
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collectors/consumer_groups.h"
#include "kafka/group_types.h"
#include "support/metrics_text.h"

using namespace dora;
using namespace std::chrono_literals;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;
using dora::test::Sample;

namespace {

GroupDescription Described(const std::string& name, const std::string& state) {
  GroupDescription d;
  d.name = name;
  d.state = state;
  d.coordinator = 1;
  if (state != "Dead") d.protocol_type = "consumer";
  return d;
}

// Runs `runs` polls of group `g` on topic "events" (2 partitions, committed
// offsets frozen at 100, high watermarks growing by 10 a poll).
std::vector<Sample> Run(const GroupDescription& g, int runs, bool with_offsets = true) {
  ConsumerGroupsCollectorConfig config;
  config.status_window = 4;
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  std::string text;
  for (int run = 0; run < runs; ++run) {
    GroupsObservation obs;
    obs.listing.groups.push_back(g);
    obs.listing.share_groups.push_back({"jobs", "Unknown"});
    GroupOffsets go;
    go.group = g.name;
    go.topics = {"events"};
    if (with_offsets) go.committed = {{0, 0, 100}, {0, 1, 100}};
    obs.offsets.push_back(go);
    auto wm = std::make_shared<WatermarkSnapshot>();
    wm->finished = SteadyTime() + 1000s + run * 5s;
    for (int32_t p = 0; p < 2; ++p) wm->partitions[{"events", p}] = {200 + 10 * run, 0};
    wm->partitions_per_topic["events"] = 2;
    obs.watermarks = wm;
    obs.now = wm->finished;
    MetricsBuilder out;
    c.Render(obs, out);
    text = out.Render();
  }
  return ParseExposition(text);
}

}  // namespace

TEST_CASE("a group DescribeGroups calls Dead but ListGroups lists live is a new-protocol group",
          "[consumer_groups][kip848]") {
  GroupListing g;
  g.groups = {Described("classic-live", "Stable"), Described("new-live", "Dead"),
              Described("new-empty", "Dead"), Described("really-dead", "Dead"),
              Described("share-jobs", "Dead")};
  const std::vector<ListedGroup> l = {{"classic-live", "Stable", false},
                                      {"new-live", "Stable", false},
                                      {"new-empty", "Empty", false},
                                      {"really-dead", "Dead", false}};
  ReconcileWithListing(&g, l, true);
  REQUIRE(g.groups.size() == 4);
  const auto& d = g.groups;
  CHECK(d[0].state == "Stable");
  CHECK(d[0].type == "classic");
  CHECK(d[0].members_known);
  CHECK(d[0].described_state.empty());
  CHECK(d[1].state == "Stable");
  CHECK(d[1].type == "consumer");
  CHECK_FALSE(d[1].members_known);
  CHECK(d[1].described_state == "Dead");
  CHECK(d[1].protocol_type == "consumer");
  CHECK(d[2].state == "Empty");
  CHECK(d[2].type == "consumer");
  // Dead in both: nothing to correct.
  CHECK(d[3].state == "Dead");
  CHECK(d[3].type == "classic");
  // Listed by v0 only (a share group on 4.1): out of the consumer groups, state unknown.
  REQUIRE(g.share_groups.size() == 1);
  CHECK(g.share_groups[0].name == "share-jobs");
  CHECK(g.share_groups[0].state == "Unknown");
  // An incomplete v4 listing proves nothing: the group stays where it was.
  GroupListing h;
  h.groups = {Described("share-jobs", "Dead")};
  ReconcileWithListing(&h, {}, false);
  CHECK(h.groups.size() == 1);
  CHECK(h.share_groups.empty());
}

TEST_CASE("a new-protocol group has no member count, and Stable means a live owner (STALL)",
          "[consumer_groups][kip848]") {
  GroupListing g;
  g.groups = {Described("orders", "Dead")};
  ReconcileWithListing(&g, {{"orders", "Stable", false}}, true);
  auto s = Run(g.groups.at(0), 6);
  CHECK(Find(s, "kafka_consumergroup_info",
             {{"consumergroup", "orders"}, {"state", "Stable"}, {"type", "consumer"}}) == 1.0);
  // Unknown is absent, never 0.
  CHECK_FALSE(Find(s, "kafka_consumergroup_members", {{"consumergroup", "orders"}}).has_value());
  CHECK_FALSE(
      Find(s, "kafka_consumergroup_uncommitted_partitions", {{"consumergroup", "orders"}}).has_value());
  // Both partitions (counted per topic at the default granularity, mixed).
  CHECK(Find(s, "kafka_consumergroup_partition_status",
             {{"consumergroup", "orders"}, {"topic", "events"}, {"status", "STALL"}}) == 2.0);
  CHECK(Find(s, "kafka_consumergroup_lag",
             {{"consumergroup", "orders"}, {"topic", "events"}, {"partition", "0"}}) == 150.0);
  // Share groups: their own family, in no consumer-group family.
  CHECK(Find(s, "kafka_sharegroup_info", {{"group", "jobs"}, {"state", "Unknown"}}) == 1.0);
  for (const auto& x : s) {
    if (x.name.rfind("kafka_consumergroup_", 0) == 0) CHECK(x.labels.count("consumergroup") == 1);
    if (x.name.rfind("kafka_consumergroup_", 0) == 0) CHECK(x.labels.at("consumergroup") != "jobs");
  }
}

TEST_CASE("a new-protocol group without members is STOP, and a classic group keeps its member count",
          "[consumer_groups][kip848]") {
  GroupListing g;
  g.groups = {Described("orders", "Dead")};
  ReconcileWithListing(&g, {{"orders", "Empty", false}}, true);
  auto s = Run(g.groups.at(0), 6);
  CHECK(Find(s, "kafka_consumergroup_info",
             {{"consumergroup", "orders"}, {"state", "Empty"}, {"type", "consumer"}}) == 1.0);
  CHECK(Find(s, "kafka_consumergroup_partition_status",
             {{"consumergroup", "orders"}, {"topic", "events"}, {"status", "STOP"}}) == 2.0);
  auto c = Run(Described("billing", "Empty"), 6);
  CHECK(Find(c, "kafka_consumergroup_members", {{"consumergroup", "billing"}}) == 0.0);
  CHECK(Find(c, "kafka_consumergroup_info", {{"consumergroup", "billing"}, {"type", "classic"}}) == 1.0);
  CHECK(Find(c, "kafka_consumergroup_uncommitted_partitions", {{"consumergroup", "billing"}}) == 0.0);
}
