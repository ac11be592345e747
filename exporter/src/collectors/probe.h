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
//
// Where the parts live (split like kminion's e2e package): collectors/probe/
// histogram.h (latency buckets), payload.h (message codec),
// partition_planner.h (the topic's layout), message_tracker.h (accounting and
// the metrics), shared_state.h (what the threads share), producer.h (sender
// thread), consumer.h (receiver thread), topic.h (maintainer thread); the
// librdkafka producer and consumer are kafka/probe_transport.h.
#include <memory>
#include <string>

#include "collectors/collector.h"
#include "collectors/probe/message_tracker.h"
#include "kafka/api.h"

namespace dora {

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

  struct Impl;  // the transport, the shared state and the three threads (probe.cpp)

 private:
  ProbeCollectorConfig config_;
  KafkaConfig kafka_config_;
  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<ProbeTracker> tracker_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
