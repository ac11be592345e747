#pragma once
// The probe's sender: every interval one message per probed partition, its
// delivery reports into the tracker, and the tracker's sweep of overdue
// messages. Runs on a thread of its own (Run() returns on Stop()).
#include <cstdint>
#include <map>
#include <memory>

#include "collectors/probe/message_tracker.h"
#include "collectors/probe/shared_state.h"
#include "kafka/probe_transport.h"
#include "util/duration.h"

namespace spdlog {
class logger;
}

namespace dora {

// The producer's delivery callback: each report resolves its message in `tracker`.
ProbeProducer::DeliveryCallback ProbeDeliveryHandler(std::shared_ptr<ProbeTracker> tracker);

class ProbeSender {
 public:
  // `instance` marks this exporter's messages (random per start).
  ProbeSender(ProbeSharedState& state, ProbeTracker& tracker, ProbeProducer& producer, Millis interval,
              uint64_t instance);
  void Run();

 private:
  void SendRound(std::chrono::steady_clock::time_point now);

  ProbeSharedState& state_;
  ProbeTracker& tracker_;
  ProbeProducer& producer_;
  const Millis interval_;
  const uint64_t instance_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<int32_t, uint64_t> seq_;  // per partition, last sent
};

}  // namespace dora
