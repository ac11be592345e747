#pragma once
// The explicit list of collectors, built from a validated Config.
#include <memory>
#include <vector>

#include "collectors/cluster_state.h"
#include "collectors/collector.h"
#include "collectors/watermarks.h"
#include "kafka/api.h"
#include "metrics/self_metrics.h"

namespace dora {

struct CollectorDeps {
  std::shared_ptr<KafkaApi> kafka;
  std::shared_ptr<ClusterState> cluster_state;
  std::shared_ptr<WatermarkService> watermarks;
  SelfMetrics* self = nullptr;
};

// Creates the shared Kafka client, the consumer-group client and every enabled collector.
Result<std::vector<std::unique_ptr<Collector>>> BuildCollectors(const Config& config, CollectorDeps* deps);

}  // namespace dora
