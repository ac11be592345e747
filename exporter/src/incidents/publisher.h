#pragma once
// The incident events' publisher: a thread that reads the spool in order from
// the acknowledged position and produces each record (key = incident id)
// through an EventProducer (kafka/event_producer.h), up to `window` records
// in flight. A record counts as delivered when Kafka acknowledged it; the
// spool's ack position moves past a record only once it and every record
// before it were delivered (persisted at most every 200 ms, and when the
// window empties).
//
// Failures: a delivery error, a fatal producer error or a producer that cannot
// be built pause producing with exponential backoff (initial_backoff doubling
// up to max_backoff); then everything from the ack position is produced again
// (after a fatal error on a new producer). A consumer may so see an event
// twice, never lose one: it deduplicates by event_id. While Kafka is down the
// idempotent producer keeps retrying by itself (no message timeout).
//
// Nothing here blocks evaluation or scrapes: Wake() only notifies.
// Thread-safe: Wake, Stop and the accessors from any thread.
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "incidents/metrics.h"
#include "incidents/spool.h"
#include "kafka/event_producer.h"
#include "util/duration.h"
#include "util/status.h"

namespace dora::incidents {

struct PublisherOptions {
  // Builds a producer (again after a fatal error).
  std::function<Result<std::unique_ptr<EventProducer>>()> make_producer;
  size_t window = 1000;  // records produced and not yet reported
  Millis initial_backoff{1000};
  Millis max_backoff{60000};
  Millis ack_interval{200};
  Millis drain{1000};  // Stop() waits this long for reports of records in flight
  // Called from the publisher's thread (at most once a second, and at stop)
  // when its metrics changed.
  std::function<void()> metrics_changed;
};

class Publisher {
 public:
  // `spool` and `metrics` (optional) outlive the publisher.
  Publisher(Spool* spool, PublisherOptions options, IncidentMetrics* metrics);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void Start();
  // New records were appended: read them now. Never blocks.
  void Wake();
  // Waits up to `drain` for the reports of records in flight, records what
  // was delivered, then destroys the producer (the rest stays spooled).
  void Stop();

  uint64_t delivered() const { return delivered_.load(); }

 private:
  void Loop();

  Spool* spool_;
  const PublisherOptions options_;
  IncidentMetrics* metrics_;
  std::atomic<uint64_t> delivered_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = true;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace dora::incidents
