#pragma once
// WatermarkService fetches every partition's high and low watermark with
// batched ListOffsets (rd_kafka_offsets_for_times with -1 / -2, in chunks of
// partitions_per_request: the call's cost grows quadratically with its list)
// and shares the latest fetch between the offsets and consumer_groups
// collectors, so a cycle makes the requests once. Thread-safe.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "kafka/client.h"
#include "kafka/cluster_state.h"

namespace dora {

struct Watermark {
  int64_t high = -1;  // log end offset (read_uncommitted)
  int64_t low = -1;   // log start offset
};

struct WatermarkSnapshot {
  std::chrono::steady_clock::time_point started;    // before the first request went out
  std::chrono::steady_clock::time_point finished;   // after the last answer
  std::chrono::system_clock::time_point wall;       // wall time of `finished`
  std::map<TopicPartition, Watermark> partitions;   // only partitions both fetches answered
  std::map<std::string, int> partitions_per_topic;  // from the metadata used
  size_t requested = 0;
  size_t failed = 0;  // partitions without an answer (offline, errors, timeouts)
  size_t calls = 0;   // offsets_for_times calls made
  std::string last_error;
};

class WatermarkService {
 public:
  WatermarkService(std::shared_ptr<KafkaClient> kafka, std::shared_ptr<ClusterState> cluster,
                   int partitions_per_request);

  // Returns a fetch that started no earlier than `not_before`, fetching now if
  // the cached one is older. Fails only when nothing could be fetched at all.
  Result<std::shared_ptr<const WatermarkSnapshot>> Get(std::chrono::steady_clock::time_point not_before,
                                                       std::chrono::steady_clock::time_point deadline);

 private:
  Result<std::shared_ptr<const WatermarkSnapshot>> Fetch(std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<KafkaClient> kafka_;
  std::shared_ptr<ClusterState> cluster_;
  int chunk_;
  std::mutex fetch_mu_;  // one fetch at a time; a waiter then reuses its result
  std::mutex mu_;
  std::shared_ptr<const WatermarkSnapshot> latest_;
};

}  // namespace dora
