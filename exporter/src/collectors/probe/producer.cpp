#include "collectors/probe/producer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "collectors/probe/payload.h"
#include "util/log.h"

namespace dora {

using Clock = std::chrono::steady_clock;

ProbeProducer::DeliveryCallback ProbeDeliveryHandler(std::shared_ptr<ProbeTracker> tracker) {
  return [tracker = std::move(tracker), log = GetLogger("collector.probe")](const ProbeDelivery& d) {
    if (!d.ok) log->debug("probe message {}/{} failed: {}", d.partition, d.seq, d.error);
    tracker->Delivered(d.partition, d.seq, d.ok, d.broker >= 0 ? std::to_string(d.broker) : "",
                       d.latency_seconds, d.offset, Clock::now());
  };
}

ProbeSender::ProbeSender(ProbeSharedState& state, ProbeTracker& tracker, ProbeProducer& producer,
                         Millis interval, uint64_t instance)
    : state_(state),
      tracker_(tracker),
      producer_(producer),
      interval_(interval),
      instance_(instance),
      log_(GetLogger("collector.probe")) {}

void ProbeSender::Run() {
  auto next = Clock::now();
  while (!state_.stopping()) {
    auto now = Clock::now();
    if (now >= next) {
      SendRound(now);
      next += interval_;
      if (next <= now) next = now + interval_;  // fell behind: skip, do not burst
    }
    tracker_.Sweep(now);
    auto wait = std::chrono::duration_cast<Millis>(next - Clock::now());
    wait = std::clamp(wait, Millis(0), Millis(100));
    producer_.Poll(wait);  // serves delivery reports
  }
}

void ProbeSender::SendRound(Clock::time_point now) {
  for (const auto& [p, broker] : state_.Targets()) {
    uint64_t s = ++seq_[p];
    std::string payload = EncodeProbePayload({instance_, p, s, ProbeUnixMicros()});
    tracker_.Sent(p, s, broker, now);
    Status sent = producer_.Send(p, s, payload);
    if (!sent.ok) {
      log_->debug("produce to partition {} failed at once: {}", p, sent.message);
      tracker_.Delivered(p, s, false, "", -1, -1, now);
    }
  }
}

}  // namespace dora
