#pragma once
// The incident events' producer (incidents/publisher.h): keyed messages to one
// topic through an idempotent librdkafka producer, with plain structs in and
// out (this header does not include librdkafka's). Tests use
// tests/support/fake_producer.h.
//
// librdkafka properties, after the kafka: section's (security, bootstrap):
// client.id "<client_id>-incidents", enable.idempotence=true (so acks=all,
// ordered retries, at most 5 requests in flight), enable.gapless.guarantee=true
// (a gap in a partition's sequence is a fatal error, never silent),
// message.timeout.ms=0 (a message waits for Kafka as long as it takes: no
// timeout can open a gap), compression.codec as configured,
// allow.auto.create.topics=false (the broker never creates the topic with
// its defaults: a missing topic fails its messages with "unknown topic").
//
// Used from one thread at a time (the publisher's).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora {

// One delivery report.
struct EventDelivery {
  uint64_t id = 0;  // as given to Produce
  bool ok = false;
  int32_t partition = -1;
  int64_t offset = -1;  // when ok
  std::string error;    // "" when ok
};

class EventProducer {
 public:
  virtual ~EventProducer() = default;
  // Queues `payload` with `key` for the topic (both copied); its delivery
  // report carries `id`. An error here means no report will follow (the
  // local queue is full, or the handle failed).
  virtual Status Produce(uint64_t id, const std::string& key, const std::string& payload) = 0;
  // The delivery reports that came within `wait` (at least one poll).
  virtual std::vector<EventDelivery> Poll(Millis wait) = 0;
  // The producer's fatal error (idempotence state lost: it must be
  // rebuilt), or "" while there is none.
  virtual std::string FatalError() = 0;
  // Messages queued or in flight.
  virtual int Outstanding() = 0;
};

// An idempotent producer for `topic` (no broker needs to be reachable).
// Fails (reason "config") when librdkafka refuses the configuration.
// Destroying it fails what is outstanding at once (purge) instead of
// waiting: those events stay in the spool and are sent again.
Result<std::unique_ptr<EventProducer>> CreateEventProducer(const KafkaConfig& config,
                                                           const std::string& topic,
                                                           const std::string& compression);

}  // namespace dora
