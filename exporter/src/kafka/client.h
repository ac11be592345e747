#pragma once
// KafkaClient: one librdkafka handle, internal to kafka/ (the rest of the
// daemon sees kafka/api.h). Thread-safe: every
// method may be called from any collector thread concurrently (librdkafka
// handles are thread-safe; each admin call uses its own temporary queue).
// Methods block for at most their timeout (plus librdkafka's own slack).
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "kafka/api.h"
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
  // Creates a consumer-type handle that never consumes, for metadata, admin
  // and ListOffsets requests. Does not need a reachable broker. `extra`
  // properties override the config (e.g. statistics.interval.ms, group.id).
  //
  // A handle that sends ListConsumerGroupOffsets must have a group.id
  // (AdminGroupId): librdkafka 2.0.2 answers that request's NOT_COORDINATOR /
  // COORDINATOR_NOT_AVAILABLE (a group coordinator moving, e.g. its broker
  // stopping) by queueing a coordinator query on the handle's own consumer
  // group, and without group.id there is none: a NULL dereference that kills
  // the process (rd_kafka_handle_OffsetFetch, rdkafka_request.c:860). The
  // group is never joined, so it never appears on the brokers.
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

  // CreateTopics for one topic with an explicit replica assignment:
  // assignment[i] lists partition i's replicas, preferred leader first.
  // `configs` are topic configs. A topic that exists already is an error
  // (reason Reason::kKafka, message naming TOPIC_ALREADY_EXISTS).
  Status CreateTopic(const std::string& topic, const std::vector<std::vector<int32_t>>& assignment,
                     const std::map<std::string, std::string>& configs, Millis timeout);

  // CreatePartitions: grows `topic` to `total_count` partitions; new_assignment[j]
  // lists the replicas of the j-th new partition (all or none; empty: the
  // controller chooses).
  Status CreatePartitions(const std::string& topic, int total_count,
                          const std::vector<std::vector<int32_t>>& new_assignment, Millis timeout);

  // Serves callbacks queued on the handle's main queue (statistics, errors)
  // without blocking: librdkafka runs stats_cb and error_cb only from a poll.
  // Returns the number of events served.
  int ServeCallbacks();

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  KafkaClient() = default;
  // One poll of the queue the callbacks arrive on, for up to timeout_ms.
  int Serve(int timeout_ms);
  bool grouped_ = false;  // has a group.id: the consumer queue is served
  // Declared before rk_, so destroyed after it: librdkafka may call back
  // into this client (stats_cb_, through the opaque) until the handle is gone.
  std::function<void(const std::string&)> stats_cb_;
  KafkaHandlePtr rk_;
  // Serves the handle's main queue (error and statistics callbacks) so its
  // events never pile up, whether or not broker_stats runs.
  std::atomic<bool> stop_poller_{false};
  std::thread poller_;
  friend int StatsTrampoline(rd_kafka_t*, char*, size_t, void*);
};

// The group.id of the exporter's own handle: "<client_id>-admin" (see Create).
std::string AdminGroupId(const KafkaConfig& config);

// The `extra` properties of the handle that sends the consumer-group requests
// (ListGroups, DescribeConsumerGroups, ListConsumerGroupOffsets): the admin
// group.id unless the config sets one, and a group-coordinator cache that
// forgets a coordinator ~1 s after its last use. librdkafka 2.0.2 keeps each
// group's coordinator in a cache whose entries expire only after
// metadata.max.age.ms (15 min) *unused*, or are looked up again while the
// cached broker is down; an admin request answered NOT_COORDINATOR evicts
// nothing. A group asked every run therefore stayed pinned to a broker that
// came back up without its coordinatorship, answering NOT_COORDINATOR until
// leadership happened to return to it. The short age also expires that
// handle's topic metadata, which it never uses, so it is a handle of its own.
std::map<std::string, std::string> GroupClientProperties(const KafkaConfig& config);

}  // namespace dora
