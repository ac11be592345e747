#include "collectors/probe/message_tracker.h"

#include <iterator>

#include "metrics/catalogue.h"

namespace dora {
namespace {

// A message without a delivery report this long after the SLA
// (message.timeout.ms) is resolved as failed.
constexpr Millis kReportGrace{5000};

}  // namespace

ProbeTracker::ProbeTracker(Millis sla, Millis window) : sla_(sla), window_(window) {}

int64_t ProbeTracker::Second(Clock::time_point t) const {
  return std::chrono::duration_cast<std::chrono::seconds>(t - epoch_).count();
}

void ProbeTracker::Resolve(Pending& p, bool ok, Clock::time_point now) {
  if (p.resolved) return;
  p.resolved = true;
  ++c_.attempts;
  if (!ok) ++c_.failures;
  int64_t s = Second(now);
  if (window_buckets_.empty() || window_buckets_.back().first != s) window_buckets_.push_back({s, {0, 0}});
  (ok ? window_buckets_.back().second.first : window_buckets_.back().second.second)++;
  int64_t oldest = s - std::chrono::duration_cast<std::chrono::seconds>(window_).count();
  while (!window_buckets_.empty() && window_buckets_.front().first <= oldest) window_buckets_.pop_front();
}

void ProbeTracker::Sent(int32_t partition, uint64_t seq, const std::string& broker, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  Pending& p = pending_[{partition, seq}];
  p = Pending{};
  p.sent = now;
  p.broker = broker;
  // Every probed broker and partition has its series from the first message on
  // (counters at 0, so rate() and alerts work from the first error).
  produce_latency_.try_emplace(broker);
  produced_.try_emplace(broker, 0);
  produce_errors_.try_emplace(broker, 0);
  e2e_latency_.try_emplace(partition);
}

void ProbeTracker::Delivered(int32_t partition, uint64_t seq, bool ok, const std::string& broker,
                             double latency_seconds, int64_t offset, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find({partition, seq});
  if (it == pending_.end()) return;  // forgotten long ago (no report for 2x the SLA)
  Pending& p = it->second;
  if (p.delivered) return;
  p.delivered = true;
  const std::string& label = broker.empty() ? p.broker : broker;
  if (ok) {
    p.acked = true;
    p.offset = offset;
    if (latency_seconds < 0) latency_seconds = std::chrono::duration<double>(now - p.sent).count();
    produce_latency_.try_emplace(label).first->second.Observe(latency_seconds);
    ++produced_[label];
    ++c_.produced;
  } else {
    ++produce_errors_[label];
    ++c_.produce_errors;
    // Written despite the error (a timeout after the broker appended it) and
    // already read back: the consumer's verdict stands.
    if (!p.received) Resolve(p, false, now);
  }
  if (p.resolved) pending_.erase(it);
}

void ProbeTracker::Received(int32_t partition, uint64_t seq, int64_t offset, double e2e_seconds,
                            Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  ++c_.received;
  e2e_latency_.try_emplace(partition).first->second.Observe(e2e_seconds);
  const double sla = std::chrono::duration<double>(sla_).count();
  auto it = pending_.find({partition, seq});
  if (it != pending_.end()) {
    Pending& p = it->second;
    p.received = true;
    if (!p.resolved) {
      bool late = e2e_seconds > sla;
      if (late) ++c_.lost;
      Resolve(p, !late, now);
    }
    if (p.delivered) pending_.erase(it);
  }
  // The consumer reads a partition in offset order: an acknowledged message at
  // a lower offset that never arrived was skipped (truncated by the leader).
  for (auto g = pending_.lower_bound({partition, 0}); g != pending_.end() && g->first.first == partition;) {
    Pending& p = g->second;
    if (!p.resolved && p.acked && !p.received && p.offset >= 0 && p.offset < offset) {
      ++c_.lost;
      Resolve(p, false, now);
      g = pending_.erase(g);
    } else {
      ++g;
    }
  }
}

void ProbeTracker::Sweep(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    auto age = now - p.sent;
    if (!p.resolved && p.acked && age > sla_) {
      ++c_.lost;
      Resolve(p, false, now);
    } else if (!p.resolved && !p.delivered && age > sla_ + kReportGrace) {
      Resolve(p, false, now);  // librdkafka should have reported by now (message.timeout.ms = SLA)
    }
    bool done = p.resolved && (p.delivered || age > 2 * sla_ + kReportGrace);
    it = done ? pending_.erase(it) : std::next(it);
  }
}

std::optional<double> ProbeTracker::RatioLocked(Clock::time_point now) const {
  int64_t oldest = Second(now) - std::chrono::duration_cast<std::chrono::seconds>(window_).count();
  uint64_t ok = 0, fail = 0;
  for (const auto& [s, c] : window_buckets_) {
    if (s <= oldest) continue;
    ok += c.first;
    fail += c.second;
  }
  if (ok + fail == 0) return std::nullopt;
  return static_cast<double>(ok) / static_cast<double>(ok + fail);
}

std::optional<double> ProbeTracker::SuccessRatio(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return RatioLocked(now);
}

ProbeTracker::Counters ProbeTracker::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counters c = c_;
  c.pending = pending_.size();
  return c;
}

void ProbeTracker::Render(MetricsBuilder& out, Clock::time_point now) const {
  auto produce = out.Family(DORA_METRIC("kafka_probe_produce_latency_seconds"));
  auto e2e = out.Family(DORA_METRIC("kafka_probe_end_to_end_latency_seconds"));
  auto produced = out.Family(DORA_METRIC("kafka_probe_messages_produced_total"));
  auto errors = out.Family(DORA_METRIC("kafka_probe_produce_errors_total"));
  auto received = out.Family(DORA_METRIC("kafka_probe_messages_received_total"));
  auto lost = out.Family(DORA_METRIC("kafka_probe_messages_lost_total"));
  auto attempts = out.Family(DORA_METRIC("kafka_probe_attempts_total"));
  auto failures = out.Family(DORA_METRIC("kafka_probe_failures_total"));
  auto ratio = out.Family(DORA_METRIC("kafka_probe_success_ratio"));

  std::lock_guard<std::mutex> lock(mu_);
  const auto& bounds = ProbeLatencyBuckets();
  for (const auto& [broker, h] : produce_latency_) {
    out.AddHistogram(produce, {{"broker", broker}}, bounds, h.Cumulative(), h.sum(), h.count());
  }
  for (const auto& [partition, h] : e2e_latency_) {
    std::string p = std::to_string(partition);
    out.AddHistogram(e2e, {{"partition", p}}, bounds, h.Cumulative(), h.sum(), h.count());
  }
  for (const auto& [broker, n] : produced_) out.Add(produced, {{"broker", broker}}, static_cast<double>(n));
  for (const auto& [broker, n] : produce_errors_)
    out.Add(errors, {{"broker", broker}}, static_cast<double>(n));
  out.Add(received, {}, static_cast<double>(c_.received));
  out.Add(lost, {}, static_cast<double>(c_.lost));
  out.Add(attempts, {}, static_cast<double>(c_.attempts));
  out.Add(failures, {}, static_cast<double>(c_.failures));
  if (auto r = RatioLocked(now)) out.Add(ratio, {}, *r);
}

}  // namespace dora
