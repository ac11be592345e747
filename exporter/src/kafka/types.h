#pragma once
// Plain structs converted from librdkafka results, so collectors and their
// tests never touch librdkafka types.
#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dora {

// A duration plus `slack_ms` as the int milliseconds librdkafka takes,
// computed in 64 bits and clamped to [0, INT_MAX] (a negative remainder is 0).
inline int KafkaMs(std::chrono::milliseconds d, int64_t slack_ms = 0) {
  int64_t ms = d.count() + slack_ms;
  if (ms < 0) return 0;
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

struct BrokerInfo {
  int32_t id = -1;
  std::string host;
  int port = 0;
  std::string address() const { return host + ":" + std::to_string(port); }
};

struct PartitionMetadata {
  int32_t id = 0;
  int32_t leader = -1;  // -1: offline
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  int error = 0;  // rd_kafka_resp_err_t
};

struct TopicMetadata {
  std::string name;
  std::vector<PartitionMetadata> partitions;
  int error = 0;
};

struct ClusterMetadata {
  std::vector<BrokerInfo> brokers;
  std::vector<TopicMetadata> topics;
  int32_t controller_id = -1;
  std::string cluster_id;
};

// Field-by-field equality (the cluster collector skips rendering an unchanged view).
inline bool operator==(const BrokerInfo& a, const BrokerInfo& b) {
  return a.id == b.id && a.port == b.port && a.host == b.host;
}
inline bool operator==(const PartitionMetadata& a, const PartitionMetadata& b) {
  return a.id == b.id && a.leader == b.leader && a.error == b.error && a.replicas == b.replicas &&
         a.isr == b.isr;
}
inline bool operator==(const TopicMetadata& a, const TopicMetadata& b) {
  return a.error == b.error && a.name == b.name && a.partitions == b.partitions;
}

// Name -> value of the resource's effective configuration.
using ConfigValues = std::map<std::string, std::string>;

// The (topic, partition) order and equality of TopicPartition, for keys that
// hold the topic elsewhere (an index into a list of names).
inline bool PartitionLess(std::string_view topic_a, int32_t partition_a, std::string_view topic_b,
                          int32_t partition_b) {
  return topic_a != topic_b ? topic_a < topic_b : partition_a < partition_b;
}
inline bool PartitionEqual(std::string_view topic_a, int32_t partition_a, std::string_view topic_b,
                           int32_t partition_b) {
  return partition_a == partition_b && topic_a == topic_b;
}

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return PartitionLess(topic, partition, o.topic, o.partition);
  }
  bool operator==(const TopicPartition& o) const {
    return PartitionEqual(topic, partition, o.topic, o.partition);
  }
};

struct PartitionOffset {
  TopicPartition tp;
  int64_t offset = -1;
  int error = 0;
};

}  // namespace dora
