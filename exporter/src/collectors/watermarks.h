#pragma once
// WatermarkService fetches every partition's high and low watermark with
// batched ListOffsets (KafkaApi::ListOffsets with -1 / -2, in chunks of
// partitions_per_request: the call's cost grows quadratically with its list)
// and shares the latest fetch between the offsets and consumer_groups
// collectors, so a cycle makes the requests once. Thread-safe.
//
// A broker outage costs only the partitions it leads: chunks never mix
// leaders, each call has its own deadline (half the fetch's budget at most),
// a leader whose chunk timed out is not asked again in that fetch, and the
// partitions left without an answer are carried from the last answer for at
// most carry_for, listed in WatermarkSnapshot::carried.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "collectors/cluster_state.h"
#include "kafka/api.h"

namespace dora {

struct Watermark {
  int64_t high = -1;  // log end offset (read_uncommitted)
  int64_t low = -1;   // log start offset
};

struct WatermarkSnapshot {
  std::chrono::steady_clock::time_point started;   // before the first request went out
  std::chrono::steady_clock::time_point finished;  // after the last answer
  std::chrono::system_clock::time_point wall;      // wall time of `finished`
  // Partitions both fetches answered, plus the carried ones below.
  std::map<TopicPartition, Watermark> partitions;
  // Partitions of the metadata without an answer this time (leader down,
  // moving or absent), served from an earlier answer no older than the
  // service's carry_for: when that answer came. Never used for rates.
  std::map<TopicPartition, std::chrono::steady_clock::time_point> carried;
  std::map<std::string, int> partitions_per_topic;  // from the metadata used
  size_t requested = 0;
  size_t failed = 0;  // partitions without a fresh answer (offline, errors, timeouts), carried or not
  size_t calls = 0;   // offsets_for_times calls made
  std::string last_error;
  Reason last_error_cause = Reason::kKafka;  // of last_error
};

class WatermarkService {
 public:
  // `carry_for` bounds how long a partition without an answer is served
  // from its last one (0: never).
  WatermarkService(std::shared_ptr<KafkaApi> kafka, std::shared_ptr<ClusterState> cluster,
                   int partitions_per_request, Millis carry_for = Millis(0));

  // Returns a fetch that started no earlier than `not_before`, fetching now if
  // the cached one is older. Fails only when nothing could be fetched at all.
  Result<std::shared_ptr<const WatermarkSnapshot>> Get(std::chrono::steady_clock::time_point not_before,
                                                       std::chrono::steady_clock::time_point deadline);
  // The cluster view it reads the partitions from (its topic configs too).
  const std::shared_ptr<ClusterState>& cluster() const { return cluster_; }

 private:
  Result<std::shared_ptr<const WatermarkSnapshot>> Fetch(std::chrono::steady_clock::time_point deadline);
  // Fills snap->carried (and partitions) from `previous` for the metadata's
  // partitions that this fetch did not answer.
  void Carry(const WatermarkSnapshot* previous, const ClusterMetadata& md, WatermarkSnapshot* snap) const;

  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<ClusterState> cluster_;
  int chunk_;
  Millis carry_for_;
  std::mutex fetch_mu_;  // one fetch at a time; a waiter then reuses its result
  std::mutex mu_;
  std::shared_ptr<const WatermarkSnapshot> latest_;
};

}  // namespace dora
