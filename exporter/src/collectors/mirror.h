#pragma once
// mirror: MirrorMaker 2 replication watched end to end, for each declared
// flow source->target between the daemon's own cluster (kafka:) and the peer
// (collectors.mirror.peer); docs/disaster-recovery.md.
//
// Per run and flow:
//   - offset syncs: reads MM2's offset-syncs topic (on the source, or the
//     target with offset_syncs_on: target) on from where the last run stopped;
//     with the source's high watermarks (one batched ListOffsets) it exports
//     kafka_mirror_partition_lag_messages and kafka_mirror_offset_sync_age_seconds;
//   - checkpoints: reads <source>.checkpoints.internal on the target the same
//     way; with the groups' committed offsets on the source (OffsetFetch) it
//     exports kafka_mirror_checkpoint_age_seconds and
//     kafka_mirror_checkpoint_reread_messages per group and topic;
//   - kafka_mirror_topic_offset_sum: each replicated topic's high watermarks
//     summed, on the source and on the target (rates: source vs target);
//   - the latency probe: a thread of the flow's own writes a probe message to
//     probe_topic on the source every probe_interval (creating the topic when
//     missing) and reads the mirrored copy on the target (assign(), no group);
//     kafka_mirror_latency_seconds (histogram), ..._probe_messages_sent_total,
//     ..._probe_messages_missing_total, ..._probe_oldest_pending_seconds.
// The peer's handles are its own: a dead peer fails this collector (success
// 0) and touches no other collector.
#include <memory>
#include <string>

#include "collectors/collector.h"
#include "kafka/api.h"

namespace dora {

class MirrorCollector : public Collector {
 public:
  // `local` is the daemon's own cluster (kafka:), `local_api` its shared client.
  MirrorCollector(MirrorCollectorConfig config, KafkaConfig local, std::shared_ptr<KafkaApi> local_api);
  ~MirrorCollector() override;
  std::string name() const override { return "mirror"; }
  Millis interval() const override { return config_.interval; }
  Millis timeout() const override { return config_.timeout; }
  Status Collect(const CollectContext& ctx, MetricsBuilder& out) override;

  struct Impl;

 private:
  MirrorCollectorConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dora
