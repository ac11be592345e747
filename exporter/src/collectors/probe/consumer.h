#pragma once
// The probe's receiver: reads the probe topic back and hands this exporter's
// messages to the tracker. Runs on a thread of its own (Run() returns on Stop()).
#include <cstdint>
#include <memory>

#include "collectors/probe/message_tracker.h"
#include "collectors/probe/shared_state.h"
#include "kafka/probe_transport.h"

namespace spdlog {
class logger;
}

namespace dora {

class ProbeReceiver {
 public:
  // Only messages carrying `instance` count (see ProbeSender).
  ProbeReceiver(ProbeSharedState& state, ProbeTracker& tracker, ProbeConsumer& consumer, uint64_t instance);
  void Run();

 private:
  ProbeSharedState& state_;
  ProbeTracker& tracker_;
  ProbeConsumer& consumer_;
  const uint64_t instance_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace dora
