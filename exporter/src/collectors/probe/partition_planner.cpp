#include "collectors/probe/partition_planner.h"

#include <algorithm>
#include <set>

namespace dora {

ProbeTopicPlan PlanProbeTopic(std::vector<int32_t> brokers, const TopicMetadata* existing) {
  ProbeTopicPlan plan;
  std::sort(brokers.begin(), brokers.end());
  brokers.erase(std::unique(brokers.begin(), brokers.end()), brokers.end());
  const size_t n = brokers.size();
  if (n == 0) {
    plan.note = "no brokers in the metadata";
    return plan;
  }
  const size_t want_rf = std::min<size_t>(3, n);
  auto replicas_from = [&](size_t first, size_t rf) {
    std::vector<int32_t> r;
    for (size_t k = 0; k < rf; ++k) r.push_back(brokers[(first + k) % n]);
    return r;
  };
  if (existing == nullptr) {
    plan.action = ProbeTopicPlan::Action::kCreate;
    for (size_t i = 0; i < n; ++i) plan.assignment.push_back(replicas_from(i, want_rf));
    plan.total_partitions = static_cast<int>(n);
    return plan;
  }
  std::set<int32_t> covered;
  size_t topic_rf = 0;
  for (const auto& p : existing->partitions) {
    if (!p.replicas.empty()) covered.insert(p.replicas.front());
    topic_rf = std::max(topic_rf, p.replicas.size());
  }
  if (topic_rf == 0) topic_rf = want_rf;
  if (topic_rf < want_rf) {
    plan.note = "replication factor " + std::to_string(topic_rf) +
                " is below min(3, brokers) = " + std::to_string(want_rf) +
                "; not repaired (that needs a partition reassignment)";
  }
  // New partitions must match the topic's replication factor.
  const size_t rf = std::min(topic_rf, n);
  for (size_t i = 0; i < n; ++i) {
    if (covered.count(brokers[i]) == 0) plan.assignment.push_back(replicas_from(i, rf));
  }
  plan.total_partitions = static_cast<int>(existing->partitions.size() + plan.assignment.size());
  if (!plan.assignment.empty()) plan.action = ProbeTopicPlan::Action::kAddPartitions;
  return plan;
}

}  // namespace dora
