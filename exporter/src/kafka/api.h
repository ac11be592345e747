#pragma once
// KafkaApi: the one boundary between the daemon and Kafka. Plain structs in,
// plain structs out; nothing here names a librdkafka type, so collectors, the
// app and their tests never see librdkafka. The implementation over
// librdkafka 2.0.2 is ConnectKafka() (kafka/rdkafka_api.cpp); tests use
// tests/support/fake_kafka.h.
//
// Thread-safe: every method may be called from any collector thread. Methods
// block for at most their timeout (plus librdkafka's own slack).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/group_types.h"
#include "kafka/types.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

class KafkaApi {
 public:
  virtual ~KafkaApi() = default;

  // Metadata for all topics, plus controller and cluster id; topics sorted by name.
  virtual Result<ClusterMetadata> Metadata(Millis timeout) = 0;
  // DescribeConfigs for topics (one request). Missing/errored topics are absent.
  virtual Result<std::map<std::string, ConfigValues>> DescribeTopicConfigs(
      const std::vector<std::string>& topics, Millis timeout) = 0;
  // DescribeConfigs for one broker.
  virtual Result<ConfigValues> DescribeBrokerConfig(int32_t broker_id, Millis timeout) = 0;

  // ListOffsets for `partitions` (one leader per call is the caller's
  // business): timestamp -1 = latest (high watermark), -2 = earliest.
  virtual Result<std::vector<PartitionOffset>> ListOffsets(const std::vector<TopicPartition>& partitions,
                                                           int64_t timestamp, Millis timeout) = 0;

  // Every group in the cluster with its state and members; share groups
  // apart. A broker that did not answer, or a group without a description,
  // makes the listing partial (GroupListing::partial).
  virtual Result<GroupListing> ListGroups(int max_in_flight, Millis timeout) = 0;
  // Committed offsets of `groups`, in that order, up to max_in_flight
  // requests at once; a group without an answer in time has error set.
  virtual std::vector<GroupOffsets> FetchCommittedOffsets(const std::vector<std::string>& groups,
                                                          int max_in_flight, Millis timeout) = 0;

  // CreateTopics for one topic with an explicit replica assignment
  // (assignment[i]: partition i's replicas, preferred leader first).
  virtual Status CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                             const std::map<std::string, std::string>& configs, Millis timeout) = 0;
  // CreatePartitions: grows `topic` to `total_count` partitions.
  virtual Status CreatePartitions(const std::string& topic, int total_count,
                                  const std::vector<std::vector<int32_t>>& new_assignment,
                                  Millis timeout) = 0;

  // Serves queued callbacks (statistics) without blocking; the number served.
  virtual int ServeCallbacks() = 0;
};

// Connects over librdkafka (no broker needs to be reachable). With
// `stats_cb`, librdkafka's statistics JSON arrives there every
// `statistics_interval`. Group requests get a handle of their own, made on
// first use.
Result<std::shared_ptr<KafkaApi>> ConnectKafka(const KafkaConfig& config,
                                               std::function<void(const std::string&)> stats_cb = nullptr,
                                               Millis statistics_interval = Millis(0));

// Error text for a Kafka error code (GroupOffsets::error, PartitionMetadata::error, ...).
std::string KafkaErrorString(int err);
// True when the error means "we could not reach the cluster in time".
bool IsTimeoutError(int err);
// The error code of a local timeout (RD_KAFKA_RESP_ERR__TIMED_OUT).
int KafkaTimedOutError();

}  // namespace dora
