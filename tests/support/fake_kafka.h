#pragma once
// FakeKafka: a KafkaApi of plain maps, for collector tests without a broker
// (speed and edge cases; the real-broker integration tests are the proof).
// A broker marked down behaves as a stopped one does to the daemon: ListOffsets
// of the partitions it leads times out, the groups it coordinates are missing
// from ListGroups (which is then partial) and their OffsetFetch times out.
// Thread-safe.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kafka/api.h"

namespace dora::test {

class FakeKafka : public KafkaApi {
 public:
  void AddBroker(int32_t id, const std::string& host = "127.0.0.1", int port = 9092);
  // A topic whose partition p has replicas `replicas[p]` (the first leads) and
  // an ISR of all of them; watermarks 0/0 until SetOffsets.
  void AddTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& replicas,
                const ConfigValues& configs = {});
  void SetIsr(const std::string& topic, int32_t partition, std::vector<int32_t> isr);
  void SetLeader(const std::string& topic, int32_t partition, int32_t leader);
  void SetOffsets(const std::string& topic, int32_t partition, int64_t low, int64_t high);
  // A group and its coordinator; `committed` by (topic, partition).
  void SetGroup(GroupDescription group, std::map<TopicPartition, int64_t> committed);
  void SetBrokerDown(int32_t id, bool down);
  // A broker just killed, not yet fenced by the controller: down brokers stay
  // in the metadata, and DescribeBrokerConfig of one waits out its timeout
  // before failing, as librdkafka does (off: they leave the metadata and
  // DescribeBrokerConfig fails at once).
  void SetDownBrokersListed(bool listed);
  // The longest timeout DescribeBrokerConfig was given so far.
  Millis longest_broker_config_timeout() const;
  // Calls made, by method name ("Metadata", "ListOffsets", ...).
  int calls(const std::string& method) const;
  // Every group FetchCommittedOffsets was asked for, in order, all calls.
  std::vector<std::string> offsets_asked() const;

  Result<ClusterMetadata> Metadata(Millis timeout) override;
  Result<std::map<std::string, ConfigValues>> DescribeTopicConfigs(const std::vector<std::string>& topics,
                                                                   Millis timeout) override;
  Result<ConfigValues> DescribeBrokerConfig(int32_t broker_id, Millis timeout) override;
  Result<std::vector<PartitionOffset>> ListOffsets(const std::vector<TopicPartition>& partitions,
                                                   int64_t timestamp, Millis timeout) override;
  Result<GroupListing> ListGroups(int max_in_flight, Millis timeout) override;
  std::vector<GroupOffsets> FetchCommittedOffsets(const std::vector<std::string>& groups, int max_in_flight,
                                                  Millis timeout) override;
  Status CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                     const std::map<std::string, std::string>& configs, Millis timeout) override;
  Status CreatePartitions(const std::string& topic, int total_count,
                          const std::vector<std::vector<int32_t>>& new_assignment, Millis timeout) override;
  int ServeCallbacks() override { return 0; }

 private:
  struct Group {
    GroupDescription description;
    std::map<TopicPartition, int64_t> committed;
  };
  void Count(const std::string& method) const { ++calls_[method]; }
  int32_t LeaderOf(const TopicPartition& tp) const;

  mutable std::mutex mu_;
  mutable std::map<std::string, int> calls_;
  std::vector<std::string> offsets_asked_;
  ClusterMetadata metadata_;
  std::map<std::string, ConfigValues> topic_configs_;
  std::map<TopicPartition, std::pair<int64_t, int64_t>> offsets_;  // low, high
  std::map<std::string, Group> groups_;
  std::set<int32_t> down_;
  bool down_listed_ = false;
  Millis longest_broker_config_timeout_{0};
};

}  // namespace dora::test
