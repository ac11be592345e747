#pragma once
// Plain structs converted from librdkafka results, so collectors and their
// tests never touch librdkafka types.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dora {

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

// Name -> value of the resource's effective configuration.
using ConfigValues = std::map<std::string, std::string>;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
  bool operator==(const TopicPartition& o) const { return topic == o.topic && partition == o.partition; }
};

struct PartitionOffset {
  TopicPartition tp;
  int64_t offset = -1;
  int error = 0;
};

}  // namespace dora
