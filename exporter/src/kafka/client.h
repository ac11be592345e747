#pragma once
// KafkaClient: the one place that owns a librdkafka handle. Thread-safe: every
// method may be called from any collector thread concurrently (librdkafka
// handles are thread-safe; each admin call uses its own temporary queue).
// Methods block for at most their timeout (plus librdkafka's own slack).
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/types.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

struct KafkaHandleDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandlePtr = std::unique_ptr<rd_kafka_t, KafkaHandleDeleter>;

class KafkaClient {
 public:
  // Creates a producer-type handle (it never produces; it is the cheapest handle
  // for metadata and admin requests). Does not need a reachable broker.
  // `extra` properties override the config (e.g. statistics.interval.ms).
  static Result<std::unique_ptr<KafkaClient>> Create(
      const KafkaConfig& config, const std::map<std::string, std::string>& extra = {},
      std::function<void(const std::string&)> stats_cb = nullptr);
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  // One Metadata request for all topics, plus controller and cluster id.
  Result<ClusterMetadata> Metadata(Millis timeout);

  // DescribeConfigs for topics (one request). Missing/errored topics are absent.
  Result<std::map<std::string, ConfigValues>> DescribeTopicConfigs(const std::vector<std::string>& topics,
                                                                   Millis timeout);
  // DescribeConfigs for one broker (librdkafka allows one broker resource per call).
  Result<ConfigValues> DescribeBrokerConfig(int32_t broker_id, Millis timeout);

  // ListOffsets through rd_kafka_offsets_for_times (timestamp -1 = latest,
  // -2 = earliest), chunked by the caller. Never query_watermark_offsets: on
  // librdkafka 2.0.2 it can hang far past its timeout when brokers are down.
  Result<std::vector<PartitionOffset>> ListOffsets(const std::vector<TopicPartition>& partitions,
                                                   int64_t timestamp, Millis timeout);

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  KafkaClient() = default;
  KafkaHandlePtr rk_;
  std::function<void(const std::string&)> stats_cb_;
  friend int StatsTrampoline(rd_kafka_t*, char*, size_t, void*);
};

// Error text for an rd_kafka_resp_err_t.
std::string KafkaErrorString(int err);

// True when the error means "we could not reach the cluster in time".
bool IsTimeoutError(int err);

}  // namespace dora
