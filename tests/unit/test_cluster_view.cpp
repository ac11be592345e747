#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "collectors/cluster.h"
#include "metrics/builder.h"

using namespace dora;
using namespace std::chrono_literals;

namespace {

PartitionMetadata Partition(int32_t id, std::vector<int32_t> isr) {
  PartitionMetadata p;
  p.id = id;
  p.leader = isr.empty() ? -1 : isr.front();
  p.replicas = {1, 2, 3};
  p.isr = std::move(isr);
  return p;
}

ClusterView View(std::vector<TopicMetadata> topics) {
  ClusterView v;
  v.metadata.brokers = {{1, "127.0.0.1", 9092}, {2, "127.0.0.1", 9093}, {3, "127.0.0.1", 9094}};
  v.metadata.controller_id = 1;
  v.metadata.topics = std::move(topics);
  for (const auto& t : v.metadata.topics) v.topic_configs[t.name] = {{"min.insync.replicas", "2"}};
  return v;
}

// The value of one series in the rendered text (NaN when absent).
double Value(const std::string& text, const std::string& series) {
  const std::string needle = series + " ";
  size_t at = text.find("\n" + needle);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::stod(text.substr(at + 1 + needle.size()));
}

std::string Poll(const ClusterView& view, std::chrono::steady_clock::time_point now,
                 ClusterHealthState* state) {
  MetricsBuilder out;
  RenderClusterView(view, now, state, out);
  return out.Render();
}

}  // namespace

TEST_CASE("cluster view: ISR shrinks, expands and under-replicated time carry across polls", "[cluster]") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  ClusterHealthState state;
  // Topics out of name order, as metadata answers them.
  const std::string a = "orders-events-long-name", b = "audit";
  Poll(View({{a, {Partition(0, {1, 2, 3}), Partition(1, {2, 3, 1})}, 0}, {b, {Partition(0, {3, 1, 2})}, 0}}),
       t0, &state);

  // a/1 loses two replicas: under-replicated and under min ISR.
  auto text =
      Poll(View({{a, {Partition(0, {1, 2, 3}), Partition(1, {2})}, 0}, {b, {Partition(0, {3, 1, 2})}, 0}}),
           t0 + 10s, &state);
  CHECK(Value(text, "kafka_cluster_isr_shrinks_total") == 2);
  CHECK(Value(text, "kafka_cluster_isr_expands_total") == 0);
  CHECK(Value(text,
              "kafka_topic_partition_under_replicated_partition{topic=\"" + a + "\",partition=\"1\"}") == 1);
  CHECK(Value(text, "kafka_cluster_partition_underminisr{topic=\"" + a + "\",partition=\"1\"}") == 1);
  CHECK(Value(text, "kafka_topic_partition_under_replicated_duration_seconds{topic=\"" + a +
                        "\",partition=\"1\"}") == 0);

  // Still under-replicated 30 s later: the duration counts from the first poll that saw it.
  text =
      Poll(View({{a, {Partition(0, {1, 2, 3}), Partition(1, {2, 3})}, 0}, {b, {Partition(0, {3, 1, 2})}, 0}}),
           t0 + 40s, &state);
  CHECK(Value(text, "kafka_cluster_isr_shrinks_total") == 2);
  CHECK(Value(text, "kafka_cluster_isr_expands_total") == 1);
  CHECK(Value(text, "kafka_topic_partition_under_replicated_duration_seconds{topic=\"" + a +
                        "\",partition=\"1\"}") == 30);
  CHECK(Value(text, "kafka_cluster_partition_atminisr{topic=\"" + a + "\",partition=\"1\"}") == 1);
  CHECK(Value(text, "kafka_topic_under_replicated_partitions{topic=\"" + a + "\"}") == 1);
  CHECK(Value(text, "kafka_topic_under_replicated_partitions{topic=\"" + b + "\"}") == 0);

  // Healthy again: duration 0. Then topic b is deleted and created again with
  // a shrunken ISR: it starts from no memory, so no shrink is counted.
  text = Poll(View({{a, {Partition(0, {1, 2, 3}), Partition(1, {2, 3, 1})}, 0}}), t0 + 50s, &state);
  CHECK(Value(text, "kafka_cluster_isr_expands_total") == 2);
  CHECK(Value(text, "kafka_topic_partition_under_replicated_duration_seconds{topic=\"" + a +
                        "\",partition=\"1\"}") == 0);
  CHECK(std::isnan(Value(text, "kafka_topic_partitions{topic=\"" + b + "\"}")));
  text = Poll(View({{b, {Partition(0, {3})}, 0}, {a, {Partition(0, {1, 2, 3}), Partition(1, {2, 3, 1})}, 0}}),
              t0 + 60s, &state);
  CHECK(Value(text, "kafka_cluster_isr_shrinks_total") == 2);
  CHECK(Value(text, "kafka_topic_partition_under_replicated_duration_seconds{topic=\"" + b +
                        "\",partition=\"0\"}") == 0);
  CHECK(Value(text, "kafka_cluster_under_replicated_partitions") == 1);
  CHECK(Value(text, "kafka_topic_partitions{topic=\"" + b + "\"}") == 1);
}
