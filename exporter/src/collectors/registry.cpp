#include "collectors/registry.h"

#include "collectors/cluster.h"
#include "collectors/consumer_groups.h"
#include "collectors/offsets.h"
#include "collectors/schema_registry.h"

namespace dora {

Result<std::vector<std::unique_ptr<Collector>>> BuildCollectors(const Config& config, CollectorDeps* deps) {
  std::vector<std::unique_ptr<Collector>> out;
  const auto& cc = config.collectors;
  auto kafka = KafkaClient::Create(config.kafka);
  if (!kafka.ok()) return kafka.status();
  deps->kafka = std::shared_ptr<KafkaClient>(std::move(kafka.value()));
  deps->cluster_state = std::make_shared<ClusterState>();

  deps->watermarks =
      std::make_shared<WatermarkService>(deps->kafka, deps->cluster_state, cc.offsets.partitions_per_request);

  if (cc.cluster.enabled)
    out.push_back(std::make_unique<ClusterCollector>(cc.cluster, deps->kafka, deps->cluster_state));
  if (cc.offsets.enabled) out.push_back(std::make_unique<OffsetsCollector>(cc.offsets, deps->watermarks));
  if (cc.consumer_groups.enabled) {
    out.push_back(std::make_unique<ConsumerGroupsCollector>(cc.consumer_groups, cc.offsets.rate_window,
                                                            deps->kafka, deps->watermarks, deps->self));
  }
  if (cc.schema_registry.enabled && !cc.schema_registry.registries.empty())
    out.push_back(std::make_unique<SchemaRegistryCollector>(cc.schema_registry));
  return out;
}

}  // namespace dora
