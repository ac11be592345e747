#include "collectors/broker_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "metrics/catalogue.h"
#include "util/log.h"

namespace dora {
namespace {

using nlohmann::json;

// A number field of `obj`, if present and numeric.
std::optional<double> Number(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// p50/p99 of one of librdkafka's rolling windows, scaled to seconds. An empty
// window gives `empty` (librdkafka reports 0 then, which for rtt would read as
// "instant").
void Quantiles(const json& broker, const char* window, double to_seconds, std::optional<double> empty,
               std::optional<double>* p50, std::optional<double>* p99) {
  auto it = broker.find(window);
  if (it == broker.end() || !it->is_object()) return;
  auto cnt = Number(*it, "cnt");
  if (!cnt || *cnt <= 0) {
    *p50 = *p99 = empty;
    return;
  }
  if (auto v = Number(*it, "p50")) *p50 = *v * to_seconds;
  if (auto v = Number(*it, "p99")) *p99 = *v * to_seconds;
}

// A count from the statistics as an integer: JSON numbers can be anything,
// and a double outside T's range does not convert (undefined behaviour, found
// by the fuzz target); such a value is clamped to the range.
template <typename T>
T ClampedCount(double v) {
  if (std::isnan(v)) return 0;
  // Bounds that are exact doubles inside T's range (2^63 itself is not an int64).
  const double lo = std::numeric_limits<T>::is_signed ? -9.0e18 : 0.0;
  const double hi = sizeof(T) >= 8 ? 9.0e18 : static_cast<double>(std::numeric_limits<T>::max());
  return static_cast<T>(std::min(std::max(v, lo), hi));
}

}  // namespace

void BrokerStatsStore::Set(std::string json) {
  std::lock_guard<std::mutex> lock(mu_);
  json_ = std::move(json);
  at_ = std::chrono::steady_clock::now();
}

std::string BrokerStatsStore::Get(std::chrono::steady_clock::time_point* at) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (at != nullptr) *at = at_;
  return json_;
}

Result<std::vector<BrokerStat>> ParseBrokerStats(const std::string& text) {
  std::vector<BrokerStat> out;
  try {
    json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Status::Error(Reason::kInternal, "librdkafka statistics: not valid JSON");
    if (!doc.is_object()) return Status::Error(Reason::kInternal, "librdkafka statistics: not a JSON object");
    auto brokers = doc.find("brokers");
    if (brokers == doc.end() || !brokers->is_object()) {
      return Status::Error(Reason::kInternal, "librdkafka statistics: no \"brokers\" object");
    }
    for (const auto& [key, b] : brokers->items()) {
      if (!b.is_object()) continue;
      auto nodeid = Number(b, "nodeid");
      // Bootstrap and logical (coordinator) entries are not brokers of their
      // own; a node id outside int32 is no Kafka broker id either.
      if (!nodeid || *nodeid < 0 || *nodeid > std::numeric_limits<int32_t>::max()) continue;
      BrokerStat s;
      s.nodeid = static_cast<int32_t>(*nodeid);
      s.name = b.value("name", key);
      s.state = b.value("state", "");
      Quantiles(b, "rtt", 1e-6, std::nullopt, &s.rtt_p50_seconds, &s.rtt_p99_seconds);
      // librdkafka records a throttle sample only when a broker throttled (or
      // just stopped throttling): an empty window means no throttling.
      Quantiles(b, "throttle", 1e-3, 0.0, &s.throttle_p50_seconds, &s.throttle_p99_seconds);
      s.request_timeouts = ClampedCount<uint64_t>(Number(b, "req_timeouts").value_or(0));
      s.outbuf_requests = ClampedCount<int64_t>(Number(b, "outbuf_cnt").value_or(0));
      s.waitresp_requests = ClampedCount<int64_t>(Number(b, "waitresp_cnt").value_or(0));
      out.push_back(std::move(s));
    }
  } catch (const std::exception& ex) {
    return Status::Error(Reason::kInternal, std::string("librdkafka statistics: ") + ex.what());
  }
  std::sort(out.begin(), out.end(),
            [](const BrokerStat& a, const BrokerStat& b) { return a.nodeid < b.nodeid; });
  return out;
}

void RenderBrokerStats(const std::vector<BrokerStat>& brokers, MetricsBuilder& out) {
  auto rtt = out.Family(DORA_METRIC("kafka_client_broker_rtt_seconds"));
  auto throttle = out.Family(DORA_METRIC("kafka_client_broker_throttle_seconds"));
  auto timeouts = out.Family(DORA_METRIC("kafka_client_broker_request_timeouts_total"));
  auto state = out.Family(DORA_METRIC("kafka_client_broker_connection_state"));
  auto outbuf = out.Family(DORA_METRIC("kafka_client_broker_outbuf_requests"));
  auto waitresp = out.Family(DORA_METRIC("kafka_client_broker_waitresp_requests"));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& b : brokers) {
    std::string id = std::to_string(b.nodeid);
    out.Add(rtt, {{"broker", id}, {"quantile", "0.5"}}, b.rtt_p50_seconds.value_or(nan));
    out.Add(rtt, {{"broker", id}, {"quantile", "0.99"}}, b.rtt_p99_seconds.value_or(nan));
    out.Add(throttle, {{"broker", id}, {"quantile", "0.5"}}, b.throttle_p50_seconds.value_or(nan));
    out.Add(throttle, {{"broker", id}, {"quantile", "0.99"}}, b.throttle_p99_seconds.value_or(nan));
    out.Add(timeouts, {{"broker", id}}, static_cast<double>(b.request_timeouts));
    if (!b.state.empty()) out.Add(state, {{"broker", id}, {"state", b.state}}, 1);
    out.Add(outbuf, {{"broker", id}}, static_cast<double>(b.outbuf_requests));
    out.Add(waitresp, {{"broker", id}}, static_cast<double>(b.waitresp_requests));
  }
}

BrokerStatsCollector::BrokerStatsCollector(BrokerStatsCollectorConfig config, std::shared_ptr<KafkaApi> kafka,
                                           std::shared_ptr<BrokerStatsStore> store)
    : config_(std::move(config)),
      kafka_(std::move(kafka)),
      store_(std::move(store)),
      created_(std::chrono::steady_clock::now()) {}

Status BrokerStatsCollector::Collect(const CollectContext& /*ctx*/, MetricsBuilder& out) {
  // librdkafka queues statistics on the client's main queue; nothing else polls
  // it, so serve it here (the stats callback stores the JSON in store_).
  kafka_->ServeCallbacks();
  std::chrono::steady_clock::time_point at;
  std::string json = store_->Get(&at);
  auto now = std::chrono::steady_clock::now();
  if (json.empty()) {
    // The first statistics come one interval after the client was created.
    if (now - created_ < 2 * config_.interval + std::chrono::seconds(5)) return Status::Ok();
    return Status::Error(Reason::kUnavailable, "no statistics from librdkafka yet");
  }
  if (now - at > 3 * config_.interval + std::chrono::seconds(5)) {
    return Status::Error(Reason::kUnavailable,
                         "librdkafka statistics are stale (last " +
                             FormatDuration(std::chrono::duration_cast<Millis>(now - at)) + " ago)");
  }
  auto parsed = ParseBrokerStats(json);
  if (!parsed.ok()) return parsed.status();
  RenderBrokerStats(parsed.value(), out);
  return Status::Ok();
}

}  // namespace dora
