#include "collectors/registry.h"

#include "collectors/broker_process.h"
#include "collectors/broker_stats.h"
#include "collectors/cluster.h"
#include "collectors/connect.h"
#include "collectors/consumer_groups.h"
#include "collectors/log_dirs.h"
#include "collectors/mirror.h"
#include "collectors/offsets.h"
#include "collectors/probe.h"
#include "collectors/quiet.h"
#include "collectors/schema_registry.h"

namespace dora {

Result<std::vector<std::unique_ptr<Collector>>> BuildCollectors(const Config& config, CollectorDeps* deps) {
  std::vector<std::unique_ptr<Collector>> out;
  const auto& cc = config.collectors;
  const bool cluster_wide = config.sharding.index == 0;  // shard 0 (or no sharding)
  // broker_stats reads the statistics of the shared client: librdkafka emits
  // them every statistics.interval.ms into the store the callback holds.
  std::shared_ptr<BrokerStatsStore> stats;
  std::function<void(const std::string&)> stats_cb;
  if (cc.broker_stats.enabled && cluster_wide) {
    stats = std::make_shared<BrokerStatsStore>();
    stats_cb = [stats](const std::string& json) { stats->Set(json); };
  }
  // Group requests get a handle of their own inside (kafka/rdkafka_api.h).
  auto kafka = ConnectKafka(config.kafka, stats_cb, cc.broker_stats.interval);
  if (!kafka.ok()) return kafka.status();
  deps->kafka = std::move(kafka.value());
  deps->cluster_state = std::make_shared<ClusterState>();

  deps->watermarks = std::make_shared<WatermarkService>(
      deps->kafka, deps->cluster_state, cc.offsets.partitions_per_request, cc.offsets.carry_for);

  // Sharding (docs/deployment.md): every shard takes its own groups; the
  // cluster-wide series come from shard 0 alone. Another shard still runs the
  // cluster collector, quietly, for the metadata and topic configs its groups'
  // series read, and runs none of the other cluster-wide collectors.
  // log_dirs and broker_process watch one broker (sidecar mode): as configured.
  if (cc.cluster.enabled) {
    auto cluster = std::make_unique<ClusterCollector>(cc.cluster, deps->kafka, deps->cluster_state);
    if (cluster_wide)
      out.push_back(std::move(cluster));
    else
      out.push_back(std::make_unique<QuietCollector>(std::move(cluster)));
  }
  if (cc.offsets.enabled && cluster_wide)
    out.push_back(std::make_unique<OffsetsCollector>(cc.offsets, deps->watermarks));
  if (cc.consumer_groups.enabled) {
    auto groups = std::make_unique<ConsumerGroupsCollector>(cc.consumer_groups, cc.offsets.rate_window,
                                                            deps->kafka, deps->watermarks, deps->self);
    groups->SetShard(config.sharding.index, config.sharding.count);
    if (cc.consumer_groups.offsets_source == "offsets_topic") {
      auto reader = StartOffsetsTopicReader(config.kafka);
      if (!reader.ok()) return reader.status();
      groups->SetOffsetsSource(std::move(reader.value()));
    }
    out.push_back(std::move(groups));
  }
  if (cc.log_dirs.enabled) out.push_back(std::make_unique<LogDirsCollector>(cc.log_dirs));
  if (cc.broker_process.enabled) out.push_back(std::make_unique<BrokerProcessCollector>(cc.broker_process));
  if (cc.probe.enabled && cluster_wide)
    out.push_back(std::make_unique<ProbeCollector>(cc.probe, config.kafka, deps->kafka));
  if (cc.broker_stats.enabled && cluster_wide)
    out.push_back(std::make_unique<BrokerStatsCollector>(cc.broker_stats, deps->kafka, stats));
  if (cc.schema_registry.enabled && !cc.schema_registry.registries.empty() && cluster_wide)
    out.push_back(std::make_unique<SchemaRegistryCollector>(cc.schema_registry));
  if (cc.connect.enabled && !cc.connect.clusters.empty() && cluster_wide)
    out.push_back(std::make_unique<ConnectCollector>(cc.connect));
  if (cc.mirror.enabled && !cc.mirror.flows.empty() && cluster_wide)
    out.push_back(std::make_unique<MirrorCollector>(cc.mirror, config.kafka, deps->kafka));
  return out;
}

}  // namespace dora
