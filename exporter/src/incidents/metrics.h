#pragma once
// The incident events' metrics (incidents/pipeline.h), kept in the self
// metrics' registry (metrics/self_metrics.h) so they render with them.
// Every series exists (at 0) from the start, so increase() sees the first
// drop. Thread-safe. Created once per process (a registry holds a family once).
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

#include "incidents/event.h"

namespace dora::incidents {

// Why an event was dropped (the `reason` label).
inline constexpr char kDropSpoolFull[] = "spool_full";  // the spool's bound (max_bytes) refused it
inline constexpr char kDropQueueFull[] = "queue_full";  // the hand-off to the spool was full

class IncidentMetrics {
 public:
  explicit IncidentMetrics(prometheus::Registry& registry);
  prometheus::Counter& events(EventType t) { return *events_[static_cast<int>(t)]; }
  prometheus::Counter& spooled(EventType t) { return *spooled_[static_cast<int>(t)]; }
  prometheus::Counter& dropped(EventType t, const std::string& reason);
  prometheus::Counter& delivered() { return *delivered_; }
  prometheus::Counter& failed() { return *failed_; }
  prometheus::Counter& skipped() { return *skipped_; }
  prometheus::Gauge& spool_bytes() { return *spool_bytes_; }
  prometheus::Gauge& spool_events() { return *spool_events_; }
  prometheus::Gauge& oldest_age() { return *oldest_age_; }

 private:
  prometheus::Counter* events_[3];
  prometheus::Counter* spooled_[3];
  prometheus::Family<prometheus::Counter>* dropped_;
  prometheus::Counter* delivered_;
  prometheus::Counter* failed_;
  prometheus::Counter* skipped_;
  prometheus::Gauge* spool_bytes_;
  prometheus::Gauge* spool_events_;
  prometheus::Gauge* oldest_age_;
};

}  // namespace dora::incidents
