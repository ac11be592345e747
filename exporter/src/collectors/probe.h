#pragma once
// probe: an end-to-end availability and latency probe, the SLIs behind the
// p95 < 10 ms and 99.99% availability objectives.
//
// A probe topic (collectors.probe.topic) has one partition led by each broker
// (partition i's replicas start with broker i, replication factor min(3,
// brokers)). Every interval a producer of its own (acks=all, linger.ms=0, no
// idempotence, message.timeout.ms = sla) sends one small message to each
// partition; a consumer of its own reads them back (assign(), never a group
// membership). Background threads owned by the collector do this; Collect()
// only renders the counters and histograms.
//
// Exports kafka_probe_produce_latency_seconds{broker} (histogram, acks=all
// acknowledgement per leader broker: it includes waiting for every in-sync
// follower), kafka_probe_end_to_end_latency_seconds{partition} (histogram,
// produce -> consume), kafka_probe_messages_produced_total{broker},
// kafka_probe_produce_errors_total{broker}, kafka_probe_messages_received_total,
// kafka_probe_messages_lost_total, kafka_probe_attempts_total,
// kafka_probe_failures_total and kafka_probe_success_ratio.
//
// Requests: per interval one Produce per partition leader and the consumer's
// Fetch long-polls; every 5 s one Metadata request for the probe topic; every
// topic_check_interval, when the layout is wrong and manage_topic is set,
// CreateTopics or CreatePartitions; ListOffsets when a partition is first
// assigned. ACLs: WRITE, READ, DESCRIBE on the probe topic; CREATE on the topic
// (or Cluster) and ALTER on the topic for manage_topic; DESCRIBE on the group
// "<client_id>-probe" (librdkafka looks up its coordinator; nothing is joined
// or committed). See docs/probe.md.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "kafka/api.h"
#include "kafka/types.h"

namespace dora {

// Upper bounds (seconds) of both probe histograms (docs/metric-contract.md):
// fine around the 10 ms objective, up to the default 10 s SLA.
const std::vector<double>& ProbeLatencyBuckets();

// A fixed-bucket histogram. Not thread-safe (ProbeTracker locks around it).
class LatencyHistogram {
 public:
  explicit LatencyHistogram(const std::vector<double>& bounds = ProbeLatencyBuckets());
  void Observe(double seconds);
  const std::vector<double>& bounds() const { return bounds_; }
  std::vector<uint64_t> Cumulative() const;  // per bound, without +Inf
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, last one is +Inf
  uint64_t count_ = 0;
  double sum_ = 0;
};

// What a probe message carries: whose it is, its place in the partition's
// sequence and when it was sent (wall clock, microseconds since the epoch).
struct ProbePayload {
  uint64_t instance = 0;
  int32_t partition = 0;
  uint64_t seq = 0;
  int64_t sent_unix_us = 0;
};
std::string EncodeProbePayload(const ProbePayload& p);
std::optional<ProbePayload> DecodeProbePayload(std::string_view text);

// What the probe topic needs. Pure.
struct ProbeTopicPlan {
  enum class Action { kNone, kCreate, kAddPartitions };
  Action action = Action::kNone;
  int total_partitions = 0;                      // after the action
  std::vector<std::vector<int32_t>> assignment;  // create: every partition; add: the new ones
  std::string note;                              // what is wrong that no action can fix (e.g. RF)
};
// `brokers`: live broker ids; `existing`: the topic's metadata, nullptr when missing.
// Missing: create one partition per broker, partition i led by the i-th broker
// and followed by the next min(3, brokers) - 1 in id order. Existing: add one
// partition for each broker that is no partition's preferred leader.
ProbeTopicPlan PlanProbeTopic(std::vector<int32_t> brokers, const TopicMetadata* existing);

// The probe's accounting. Each message resolves once: success (received
// within the SLA), produce error, or lost (acknowledged but not received within
// the SLA, or skipped by the consumer: a later offset arrived first).
// kafka_probe_attempts_total counts resolved messages, so failures <= attempts
// over any window. Thread-safe.
class ProbeTracker {
 public:
  using Clock = std::chrono::steady_clock;
  ProbeTracker(Millis sla, Millis window);

  void Sent(int32_t partition, uint64_t seq, const std::string& broker, Clock::time_point now);
  // `broker` "" keeps the label given at Sent (the leader the message went to).
  void Delivered(int32_t partition, uint64_t seq, bool ok, const std::string& broker, double latency_seconds,
                 int64_t offset, Clock::time_point now);
  void Received(int32_t partition, uint64_t seq, int64_t offset, double e2e_seconds, Clock::time_point now);
  // Resolves messages past the SLA; drops bookkeeping that can no longer change.
  void Sweep(Clock::time_point now);

  void Render(MetricsBuilder& out, Clock::time_point now) const;

  struct Counters {
    uint64_t attempts = 0, failures = 0, lost = 0, received = 0, produced = 0, produce_errors = 0;
    size_t pending = 0;
  };
  Counters counters() const;
  // Successes / resolved attempts over the window; nullopt when none resolved.
  std::optional<double> SuccessRatio(Clock::time_point now) const;

 private:
  struct Pending {
    Clock::time_point sent;
    std::string broker;
    bool delivered = false;  // a delivery report came
    bool acked = false;      // ... and it was a success
    int64_t offset = -1;
    bool received = false;
    bool resolved = false;
  };
  using Key = std::pair<int32_t, uint64_t>;
  void Resolve(Pending& p, bool ok, Clock::time_point now);
  int64_t Second(Clock::time_point t) const;
  std::optional<double> RatioLocked(Clock::time_point now) const;

  Millis sla_;
  Millis window_;
  mutable std::mutex mu_;
  std::map<Key, Pending> pending_;
  std::map<std::string, LatencyHistogram> produce_latency_;
  std::map<int32_t, LatencyHistogram> e2e_latency_;
  std::map<std::string, uint64_t> produced_, produce_errors_;
  Counters c_;
  std::deque<std::pair<int64_t, std::pair<uint64_t, uint64_t>>> window_buckets_;  // second -> (ok, fail)
  Clock::time_point epoch_ = Clock::now();
};

class ProbeCollector : public Collector {
 public:
  // `kafka` (the shared client) serves the admin requests; the probe's own
  // producer and consumer are built from `kafka_config`.
  ProbeCollector(ProbeCollectorConfig config, KafkaConfig kafka_config, std::shared_ptr<KafkaApi> kafka);
  // Stops the probe threads and destroys its handles (bounded).
  ~ProbeCollector() override;
  std::string name() const override { return "probe"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  // Starts the probe on the first call; renders its current state.
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

  struct Impl;  // librdkafka handles and threads (probe.cpp)

 private:
  ProbeCollectorConfig config_;
  KafkaConfig kafka_config_;
  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<ProbeTracker> tracker_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
