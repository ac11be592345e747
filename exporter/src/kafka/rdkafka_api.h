#pragma once
// KafkaApi over librdkafka 2.0.2: a shared handle for metadata, configs,
// ListOffsets and topic admin, and, made on first use, a handle of its own for
// the consumer-group requests (GroupClientProperties) with their long-lived
// GroupRequests. That handle is rebuilt when its requests stall: a group left
// unasked (GroupRequests::starved) or a request outstanding for kRebuildAfter,
// well before librdkafka's hour (GroupRequests says why).
#include <chrono>
#include <memory>
#include <mutex>

#include "kafka/api.h"
#include "kafka/client.h"
#include "kafka/group_requests.h"

namespace dora {

class RdKafkaApi : public KafkaApi {
 public:
  static constexpr Millis kRebuildAfter{2 * 60 * 1000};
  // After rd_kafka_list_groups failed, the admin listing alone this long.
  static constexpr Millis kAdminListingFor{60 * 1000};

  RdKafkaApi(const KafkaConfig& config, std::unique_ptr<KafkaClient> main);
  ~RdKafkaApi() override;

  Result<ClusterMetadata> Metadata(Millis timeout) override { return main_->Metadata(timeout); }
  Result<std::map<std::string, ConfigValues>> DescribeTopicConfigs(const std::vector<std::string>& topics,
                                                                   Millis timeout) override {
    return main_->DescribeTopicConfigs(topics, timeout);
  }
  Result<ConfigValues> DescribeBrokerConfig(int32_t broker_id, Millis timeout) override {
    return main_->DescribeBrokerConfig(broker_id, timeout);
  }
  Result<std::vector<PartitionOffset>> ListOffsets(const std::vector<TopicPartition>& partitions,
                                                   int64_t timestamp, Millis timeout) override {
    return main_->ListOffsets(partitions, timestamp, timeout);
  }
  Result<GroupListing> ListGroups(int max_in_flight, Millis timeout) override;
  std::vector<GroupOffsets> FetchCommittedOffsets(const std::vector<std::string>& groups, int max_in_flight,
                                                  Millis timeout) override;
  Status CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                     const std::map<std::string, std::string>& configs, Millis timeout) override {
    return main_->CreateTopic(topic, assignment, configs, timeout);
  }
  Status CreatePartitions(const std::string& topic, int total_count,
                          const std::vector<std::vector<int32_t>>& new_assignment, Millis timeout) override {
    return main_->CreatePartitions(topic, total_count, new_assignment, timeout);
  }
  int ServeCallbacks() override { return main_->ServeCallbacks(); }

 private:
  // The group handle and its requests, made or rebuilt as needed; under groups_mu_.
  Status GroupsReady();

  KafkaConfig config_;
  std::unique_ptr<KafkaClient> main_;
  std::mutex groups_mu_;  // one group call at a time (GroupRequests is single-threaded)
  std::unique_ptr<KafkaClient> groups_;
  // After groups_, so destroyed before the handle it sends on.
  std::unique_ptr<GroupRequests> requests_;
  std::chrono::steady_clock::time_point admin_listing_until_{};
};

}  // namespace dora
