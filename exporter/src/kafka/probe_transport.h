#pragma once
// The end-to-end probe's own produce/consume transport: a producer and a
// consumer handle of their own, apart from the shared KafkaClient, returning
// plain structs (this header does not include librdkafka's).
//
// Producer: acks=all, linger.ms=0, enable.idempotence=false,
// message.timeout.ms = the probe's SLA, allow.auto.create.topics=false (the
// broker never creates the probe topic with its defaults),
// socket.nagle.disable=true. Delivery reports come through the callback given
// at Create, from Poll() (and from the destructor, for the purged messages).
//
// Consumer: partitions are assign()ed at explicit offsets, never subscribed: no
// group membership, nothing committed (enable.auto.commit and
// enable.auto.offset.store false). librdkafka needs a group.id for assign();
// it is "<client_id>-probe" (ProbeClientId), whose coordinator librdkafka
// looks up but never joins.
//
// Each class is used from one thread at a time (the probe's sender uses the
// producer, its receiver Poll() and its maintainer the rest of the consumer;
// librdkafka handles are thread-safe).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/types.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

// "<client_id>-probe": client.id of both probe handles and the consumer's group.id.
std::string ProbeClientId(const KafkaConfig& config);

// One delivery report.
struct ProbeDelivery {
  int32_t partition = 0;
  uint64_t seq = 0;  // as given to Send (its low 44 bits)
  bool ok = false;
  int32_t broker = -1;          // the broker that answered; -1 when unknown
  double latency_seconds = -1;  // librdkafka's produce-to-acknowledgement time; -1 when unknown
  int64_t offset = -1;          // the message's offset when ok
  std::string error;            // "" when ok
};

// The brokers and the probe topic, from one Metadata request for that topic.
struct ProbeTopicLayout {
  std::vector<int32_t> brokers;        // sorted by id
  std::optional<TopicMetadata> topic;  // nullopt: unknown to the cluster, or no partitions
};

class ProbeProducer {
 public:
  using DeliveryCallback = std::function<void(const ProbeDelivery&)>;
  // `on_delivery` runs on the thread calling Poll() or the destructor; it must
  // not throw (what it throws is dropped). Fails (reason "config") when the
  // handle cannot be built or librdkafka refuses `topic`.
  static Result<std::unique_ptr<ProbeProducer>> Create(const KafkaConfig& config, const std::string& topic,
                                                       Millis message_timeout, DeliveryCallback on_delivery);
  // Fails outstanding messages at once (purge), serves their reports, then
  // destroys the handles: bounded, nothing waits for a broker.
  ~ProbeProducer();
  ProbeProducer(const ProbeProducer&) = delete;
  ProbeProducer& operator=(const ProbeProducer&) = delete;

  // Queues `payload` (copied) for `partition`; its delivery report carries
  // (partition, seq). An error here means no report will follow.
  Status Send(int32_t partition, uint64_t seq, const std::string& payload);
  // Serves delivery reports for up to `wait`.
  void Poll(Millis wait);
  // Metadata for the topic only (no auto-creation).
  Result<ProbeTopicLayout> Layout(Millis timeout);

  struct Impl;

 private:
  explicit ProbeProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One message read back, or one consumer error.
struct ProbeRecord {
  int32_t partition = 0;
  int64_t offset = -1;
  std::string payload;
  std::string error;  // non-empty: an error event; the other fields are unset
};

class ProbeConsumer {
 public:
  // Fails (reason "config") when the handle cannot be built.
  static Result<std::unique_ptr<ProbeConsumer>> Create(const KafkaConfig& config);
  // Destroys the handle without a consumer close (there is no membership to leave).
  ~ProbeConsumer();
  ProbeConsumer(const ProbeConsumer&) = delete;
  ProbeConsumer& operator=(const ProbeConsumer&) = delete;

  // ListOffsets (latest) for `partitions` of `topic`: one entry per answered
  // partition, each with its own error (0 when its offset is set).
  Result<std::vector<PartitionOffset>> EndOffsets(const std::string& topic,
                                                  const std::vector<int32_t>& partitions, Millis timeout);
  // Adds these partitions to the assignment, each read from its offset.
  Status Assign(const std::vector<PartitionOffset>& starts);
  // Removes these partitions of `topic` from the assignment.
  Status Unassign(const std::string& topic, const std::vector<int32_t>& partitions);
  // The next message or error, waiting up to `wait`; nullopt when none came.
  std::optional<ProbeRecord> Poll(Millis wait);

  struct Impl;

 private:
  explicit ProbeConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
