#include "collectors/probe/consumer.h"

#include <algorithm>
#include <string>

#include "collectors/probe/payload.h"
#include "util/log.h"

namespace dora {

ProbeReceiver::ProbeReceiver(ProbeSharedState& state, ProbeTracker& tracker, ProbeConsumer& consumer,
                             uint64_t instance)
    : state_(state),
      tracker_(tracker),
      consumer_(consumer),
      instance_(instance),
      log_(GetLogger("collector.probe")) {}

void ProbeReceiver::Run() {
  std::string last_error;
  while (!state_.stopping()) {
    auto m = consumer_.Poll(Millis(100));
    if (!m) continue;
    if (!m->error.empty()) {
      if (m->error != last_error) log_->debug("probe consumer: {}", m->error);
      last_error = m->error;
      continue;
    }
    int64_t now_us = ProbeUnixMicros();
    auto payload = DecodeProbePayload(m->payload);
    // Other exporter instances may probe the same topic: only our own messages count.
    if (!payload || payload->instance != instance_ || payload->partition != m->partition) continue;
    double e2e = std::max<int64_t>(0, now_us - payload->sent_unix_us) / 1e6;
    tracker_.Received(m->partition, payload->seq, m->offset, e2e, std::chrono::steady_clock::now());
  }
}

}  // namespace dora
