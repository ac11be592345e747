#pragma once
// The probe's maintainer: the probe topic's layout (one Metadata request for
// it every 5 s), its creation and repair (manage_topic, every
// topic_check_interval) and the consumer's assignment of new partitions. Runs
// on a thread of its own (Run() returns on Stop()).
#include <memory>
#include <vector>

#include "collectors/probe/shared_state.h"
#include "config/config.h"
#include "kafka/probe_transport.h"
#include "kafka/types.h"

namespace spdlog {
class logger;
}

namespace dora {

class KafkaApi;

class ProbeTopicMaintainer {
 public:
  // `admin` sends CreateTopics / CreatePartitions; `producer` asks for the
  // layout; `consumer` is assigned the partitions.
  ProbeTopicMaintainer(const ProbeCollectorConfig& config, ProbeSharedState& state,
                       std::shared_ptr<KafkaApi> admin, ProbeProducer& producer, ProbeConsumer& consumer);
  void Run();

 private:
  Millis ShortTimeout() const;
  // Returns false when the topic is missing or was just changed.
  bool RefreshLayout(bool check);
  // Creates or grows the topic when needed; true when it changed something.
  bool Repair(const std::vector<int32_t>& brokers, const TopicMetadata* existing);
  // The topic was (re)created: stop probing and reading the old partitions.
  void Forget();
  // Starts reading new partitions at their current end.
  void AssignNew();

  const ProbeCollectorConfig& config_;
  ProbeSharedState& state_;
  std::shared_ptr<KafkaApi> admin_;
  ProbeProducer& producer_;
  ProbeConsumer& consumer_;
  std::shared_ptr<spdlog::logger> log_;
  bool changed_ = false;         // the topic was just created or grown
  bool assign_failing_ = false;  // the last assign() failed (logged once at warn)
};

}  // namespace dora
