// ConsumerGroupsCollector::Render on hand-built observations (no broker): the
// kafka-lag-exporter labels and the partition statuses it writes.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collectors/consumer_groups.h"
#include "support/metrics_text.h"

using namespace dora;
using namespace std::chrono_literals;
using dora::test::Find;
using dora::test::FindAll;
using dora::test::ParseExposition;

namespace {

const SteadyTime T0 = SteadyTime() + 1000s;

// Member ids as librdkafka makes them: longer than a std::string's inline
// buffer, so a label viewing a freed copy reads freed heap.
GroupMember Member(const std::string& id, std::vector<TopicPartition> assignment) {
  GroupMember m;
  m.member_id = "rdkafka-" + id + "-0b9e7d4c-5a61-4c2e-9d7a-3f0e8c1b2a47";
  m.client_id = "client-of-" + id + "-with-a-long-name";
  m.client_host = "/127.0.0.1";
  m.assignment = std::move(assignment);
  return m;
}

// One run's observation: group `group` with `members`, committed offsets of
// topic `topic` per partition, high watermarks per partition.
GroupsObservation Observe(const std::string& group, std::vector<GroupMember> members,
                          const std::string& topic, const std::vector<int64_t>& committed,
                          const std::vector<int64_t>& high, SteadyTime now) {
  GroupsObservation obs;
  GroupDescription g;
  g.name = group;
  g.state = "Stable";
  g.protocol_type = "consumer";
  g.protocol = "range";
  g.coordinator = 1;
  g.members = std::move(members);
  obs.listing.groups.push_back(std::move(g));
  GroupOffsets go;
  go.group = group;
  go.topics = {topic};
  for (size_t p = 0; p < committed.size(); ++p)
    go.committed.push_back({0, static_cast<int32_t>(p), committed[p]});
  obs.offsets.push_back(std::move(go));
  auto wm = std::make_shared<WatermarkSnapshot>();
  wm->finished = now;
  for (size_t p = 0; p < high.size(); ++p) wm->partitions[{topic, static_cast<int32_t>(p)}] = {high[p], 0};
  wm->partitions_per_topic[topic] = static_cast<int>(high.size());
  obs.watermarks = wm;
  obs.now = now;
  return obs;
}

std::string RenderOnce(ConsumerGroupsCollector& c, const GroupsObservation& obs) {
  MetricsBuilder out;
  c.Render(obs, out);
  return out.Render();
}

}  // namespace

TEST_CASE("kafka-lag-exporter labels carry the owning member's ids", "[consumer_groups][lag-exporter]") {
  ConsumerGroupsCollectorConfig config;
  config.lag_exporter_metrics = true;
  config.cluster_name = "main";
  ConsumerGroupsCollector c(config, 60s, nullptr, nullptr, nullptr);
  const GroupMember a = Member("a", {{"orders", 0}});
  const GroupMember b = Member("b", {{"orders", 1}});
  // Partition 2 is committed but owned by nobody: empty member labels.
  auto obs = Observe("billing", {a, b}, "orders", {10, 20, 30}, {15, 40, 30}, T0);
  auto s = ParseExposition(RenderOnce(c, obs));

  for (const char* family : {"kafka_consumergroup_group_offset", "kafka_consumergroup_group_lag"}) {
    INFO(family);
    auto series = FindAll(s, family, {{"group", "billing"}, {"topic", "orders"}});
    REQUIRE(series.size() == 3);
    for (const auto& x : series) {
      const std::string& p = x.labels.at("partition");
      const GroupMember* m = p == "0" ? &a : p == "1" ? &b : nullptr;
      INFO("partition " << p);
      CHECK(x.labels.at("cluster_name") == "main");
      CHECK(x.labels.at("consumer_id") == (m ? m->member_id : ""));
      CHECK(x.labels.at("client_id") == (m ? m->client_id : ""));
      CHECK(x.labels.at("member_host") == (m ? m->client_host : ""));
    }
  }
  CHECK(Find(s, "kafka_consumergroup_group_lag", {{"partition", "1"}, {"consumer_id", b.member_id}}) == 20);
  CHECK(Find(s, "kafka_consumergroup_group_offset", {{"partition", "0"}, {"client_id", a.client_id}}) == 10);
}
