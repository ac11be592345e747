#pragma once
// What the probe topic needs: one partition led by each broker, replication
// factor min(3, brokers). Pure (the maintainer, topic.h, carries it out).
#include <cstdint>
#include <string>
#include <vector>

#include "kafka/types.h"

namespace dora {

struct ProbeTopicPlan {
  enum class Action { kNone, kCreate, kAddPartitions };
  Action action = Action::kNone;
  int total_partitions = 0;                      // after the action
  std::vector<std::vector<int32_t>> assignment;  // create: every partition; add: the new ones
  std::string note;                              // what is wrong that no action can fix (e.g. RF)
};
// `brokers`: live broker ids; `existing`: the topic's metadata, nullptr when missing.
// Missing: create one partition per broker, partition i led by the i-th broker
// and followed by the next min(3, brokers) - 1 in id order. Existing: add one
// partition for each broker that is no partition's preferred leader.
ProbeTopicPlan PlanProbeTopic(std::vector<int32_t> brokers, const TopicMetadata* existing);

}  // namespace dora
