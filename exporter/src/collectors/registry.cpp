#include "collectors/registry.h"

#include "collectors/cluster.h"

namespace dora {

Result<std::vector<std::unique_ptr<Collector>>> BuildCollectors(const Config& config, CollectorDeps* deps) {
  std::vector<std::unique_ptr<Collector>> out;
  const auto& cc = config.collectors;
  auto kafka = KafkaClient::Create(config.kafka);
  if (!kafka.ok()) return kafka.status();
  deps->kafka = std::shared_ptr<KafkaClient>(std::move(kafka.value()));
  deps->cluster_state = std::make_shared<ClusterState>();

  if (cc.cluster.enabled)
    out.push_back(std::make_unique<ClusterCollector>(cc.cluster, deps->kafka, deps->cluster_state));
  return out;
}

}  // namespace dora
