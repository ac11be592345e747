#pragma once
// What the mirror collector remembers between runs, without Kafka: MM2's
// latest offset syncs and checkpoints, the translation of an upstream offset
// through the syncs, topic naming, and the latency probe's accounting. Unit
// tested in tests/unit/test_mirror_state.cpp.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "collectors/mirror/records.h"
#include "collectors/probe/histogram.h"
#include "config/config.h"

namespace dora::mirror {

// The target's name of a source topic: "<source><separator><topic>" under the
// default policy, the same name under identity.
std::string RemoteTopic(const MirrorFlow& flow, const std::string& topic);
// The source topic a target topic replicates; nullopt when it is not one of this flow's.
std::optional<std::string> UpstreamTopic(const MirrorFlow& flow, const std::string& remote);
// The flow's offset-syncs and checkpoints topics (configured or MM2's defaults).
std::string OffsetSyncsTopic(const MirrorFlow& flow);
std::string CheckpointsTopic(const MirrorFlow& flow);

// The offset syncs of each upstream partition: the latest few, by upstream offset.
class SyncStore {
 public:
  struct Entry {
    int64_t upstream = 0;
    int64_t downstream = 0;
    int64_t timestamp_ms = -1;
  };
  static constexpr size_t kHistory = 64;  // per partition
  void Add(const OffsetSync& s, int64_t timestamp_ms);
  const Entry* Latest(const std::string& topic, int32_t partition) const;
  // The downstream offset of upstream offset `upstream`, through the latest
  // sync at or below it (exact while MM2 replicates without gaps); nullopt
  // when no such sync is known.
  std::optional<int64_t> Translate(const std::string& topic, int32_t partition, int64_t upstream) const;

 private:
  std::map<std::pair<std::string, int32_t>, std::deque<Entry>> syncs_;
};

// The latest checkpoint of each (group, target topic, partition).
class CheckpointStore {
 public:
  struct Entry {
    int64_t upstream = 0;
    int64_t downstream = 0;
    int64_t timestamp_ms = -1;
  };
  using Key = std::tuple<std::string, std::string, int32_t>;  // group, target topic, partition
  void Add(const Checkpoint& c, int64_t timestamp_ms) {
    entries_[{c.group, c.topic, c.partition}] = {c.upstream_offset, c.downstream_offset, timestamp_ms};
  }
  const std::map<Key, Entry>& entries() const { return entries_; }

 private:
  std::map<Key, Entry> entries_;
};

// Upper bounds (seconds) of kafka_mirror_latency_seconds: cross-region
// replication, from 100 ms to 10 minutes.
const std::vector<double>& MirrorLatencyBuckets();

// The latency probe's accounting, shared by the collector (which renders and
// expires) and the flow's probe thread (which sends and sees). Thread-safe.
class ProbeLedger {
 public:
  using Clock = std::chrono::steady_clock;
  ProbeLedger() : histogram_(MirrorLatencyBuckets()) {}
  void Sent(uint64_t seq, Clock::time_point at);
  void ProduceFailed(uint64_t seq);
  // A probe message seen on the target: observed once, the first time.
  void Seen(uint64_t seq, Clock::time_point at);
  // Messages pending longer than `timeout` are missing from now on.
  void Expire(Clock::time_point now, std::chrono::milliseconds timeout);

  struct View {
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
    uint64_t sent = 0;
    uint64_t produce_errors = 0;
    uint64_t missing = 0;
    double oldest_pending_seconds = 0;  // 0: none pending
    double last_latency_seconds = -1;   // -1: none seen yet
  };
  View Snapshot(Clock::time_point now) const;
  const std::vector<double>& bounds() const { return histogram_.bounds(); }

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, Clock::time_point> pending_;
  LatencyHistogram histogram_;
  uint64_t sent_ = 0;
  uint64_t produce_errors_ = 0;
  uint64_t missing_ = 0;
  double last_latency_ = -1;
};

// The probe's payload: "dora-mirror-probe <instance hex> <seq>"; parse
// answers nullopt for anything else or another instance's message.
std::string ProbePayload(uint64_t instance, uint64_t seq);
std::optional<uint64_t> ParseProbePayload(const std::string& payload, uint64_t instance);

}  // namespace dora::mirror
