#pragma once
// The collector seam: each collector lives in its own file, renders its series
// into a MetricsBuilder, and is run by CollectorRunner on its own interval and
// timeout. Collect() runs on the collector's own thread; implementations keep
// their own state private and need no locking unless they share it.
#include <chrono>
#include <string>

#include "config/config.h"
#include "metrics/builder.h"
#include "util/status.h"

namespace dora {

struct CollectContext {
  std::chrono::steady_clock::time_point deadline;
  std::chrono::system_clock::time_point wall_now;
  // Time left before the deadline, never negative.
  Millis remaining() const {
    auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? left : Millis(0);
  }
  bool expired() const { return std::chrono::steady_clock::now() >= deadline; }
};

class Collector {
 public:
  virtual ~Collector() = default;
  // Stable name: the `collector` label and the log name.
  virtual std::string name() const = 0;
  virtual Millis interval() const = 0;
  virtual Millis timeout() const = 0;
  // One collection. On failure the builder may still hold series that are
  // trustworthy on their own: return Status::Partial to publish them with
  // success 0; any other error drops this collector's series until it recovers.
  // The text of a run that returned Ok is served until the next run; a
  // collector that knows its text would come out the same may call
  // MetricsBuilder::KeepPublished() instead (it alone decides; the runner
  // carries it out).
  virtual Status Collect(const CollectContext& ctx, MetricsBuilder& out) = 0;
  // Ready for /ready once it has also run once (CollectorRunner::AllRanOnce):
  // false while it still catches up with something it reads (the consumer
  // groups' reader of __consumer_offsets). Called from any thread.
  virtual bool Ready() const { return true; }
};

}  // namespace dora
