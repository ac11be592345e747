#pragma once
// broker_stats: per-broker client-side health from librdkafka's statistics of
// the shared Kafka client (the one every other collector uses).
//
// Exports kafka_client_broker_rtt_seconds{broker,quantile} and
// kafka_client_broker_throttle_seconds{broker,quantile} (p50/p99 over
// librdkafka's last statistics window; rtt is NaN when the window saw no
// request, throttle 0 when the broker did not throttle),
// kafka_client_broker_request_timeouts_total{broker},
// kafka_client_broker_connection_state{broker,state} (1 for the current state),
// kafka_client_broker_outbuf_requests{broker} and
// kafka_client_broker_waitresp_requests{broker}. broker is the node id;
// bootstrap and logical (coordinator) entries, node id -1, are skipped.
//
// Requests per run: none (the statistics come from librdkafka every
// statistics.interval.ms = collectors.broker_stats.interval). ACLs: none.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "kafka/api.h"

namespace dora {

// Latest statistics JSON of a client. Thread-safe: Set runs on the thread that
// serves librdkafka's callbacks, Get on the collector's thread. The client's
// stats callback holds a shared_ptr to it, so it outlives the client.
class BrokerStatsStore {
 public:
  void Set(std::string json);
  // The JSON ("" until the first statistics) and when it arrived.
  std::string Get(std::chrono::steady_clock::time_point* at = nullptr) const;

 private:
  mutable std::mutex mu_;
  std::string json_;
  std::chrono::steady_clock::time_point at_{};
};

struct BrokerStat {
  int32_t nodeid = -1;
  std::string name;   // "host:port/id"
  std::string state;  // UP, DOWN, CONNECT, APIVERSION_QUERY, ...
  // Quantiles over librdkafka's window; rtt is nullopt when the window has no
  // sample (throttle is 0 then: librdkafka only samples actual throttling).
  std::optional<double> rtt_p50_seconds, rtt_p99_seconds;
  std::optional<double> throttle_p50_seconds, throttle_p99_seconds;
  uint64_t request_timeouts = 0;
  int64_t outbuf_requests = 0;
  int64_t waitresp_requests = 0;
};

// Pure: librdkafka statistics JSON -> real brokers, sorted by node id. A JSON
// or shape error comes back as a "internal" Status with the reason; never throws.
Result<std::vector<BrokerStat>> ParseBrokerStats(const std::string& json);

// Pure: renders the parsed brokers.
void RenderBrokerStats(const std::vector<BrokerStat>& brokers, MetricsBuilder& out);

class BrokerStatsCollector : public Collector {
 public:
  // `kafka` is the shared client whose statistics `store` receives.
  BrokerStatsCollector(BrokerStatsCollectorConfig config, std::shared_ptr<KafkaApi> kafka,
                       std::shared_ptr<BrokerStatsStore> store);
  std::string name() const override { return "broker_stats"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

 private:
  BrokerStatsCollectorConfig config_;
  std::shared_ptr<KafkaApi> kafka_;
  std::shared_ptr<BrokerStatsStore> store_;
  std::chrono::steady_clock::time_point created_;
};

}  // namespace dora
