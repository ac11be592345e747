#include "kafka/metadata_convert.h"

#include <algorithm>

namespace dora {

std::vector<BrokerInfo> ConvertBrokers(const rd_kafka_metadata_t& md) {
  std::vector<BrokerInfo> out;
  out.reserve(md.broker_cnt);
  for (int i = 0; i < md.broker_cnt; ++i) {
    out.push_back({md.brokers[i].id, md.brokers[i].host ? md.brokers[i].host : "", md.brokers[i].port});
  }
  std::sort(out.begin(), out.end(), [](const BrokerInfo& a, const BrokerInfo& b) { return a.id < b.id; });
  return out;
}

TopicMetadata ConvertTopic(const rd_kafka_metadata_topic_t& t) {
  TopicMetadata tm;
  tm.name = t.topic ? t.topic : "";
  tm.error = t.err;
  tm.partitions.reserve(t.partition_cnt);
  for (int p = 0; p < t.partition_cnt; ++p) {
    const auto& pm = t.partitions[p];
    PartitionMetadata out_p;
    out_p.id = pm.id;
    out_p.leader = pm.leader;
    out_p.error = pm.err;
    out_p.replicas.assign(pm.replicas, pm.replicas + pm.replica_cnt);
    out_p.isr.assign(pm.isrs, pm.isrs + pm.isr_cnt);
    tm.partitions.push_back(std::move(out_p));
  }
  std::sort(tm.partitions.begin(), tm.partitions.end(),
            [](const PartitionMetadata& a, const PartitionMetadata& b) { return a.id < b.id; });
  return tm;
}

}  // namespace dora
