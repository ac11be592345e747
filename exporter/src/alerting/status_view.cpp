#include "alerting/status_view.h"

#include <algorithm>
#include <unordered_map>

namespace dora::alerting {
namespace {

// Per group (consumergroup label) or per cluster (no label).
constexpr char kLagSum[] = "kafka_consumergroup_lag_sum";
constexpr char kMaxLagSeconds[] = "kafka_consumergroup_max_lag_seconds";
constexpr char kGroupStatus[] = "kafka_consumergroup_status";
constexpr char kBrokers[] = "kafka_brokers";
constexpr char kUnderReplicated[] = "kafka_cluster_under_replicated_partitions";
constexpr char kUnderMinIsr[] = "kafka_cluster_under_min_isr_partitions";
constexpr char kOffline[] = "kafka_cluster_offline_partitions";

const std::string* LabelOf(const Sample& s, const char* name) {
  auto it = s.labels.find(name);
  return it == s.labels.end() ? nullptr : &it->second;
}

double Single(const Samples& in, const char* family) {
  auto it = in.find(family);
  return it == in.end() || it->second.empty() ? -1 : it->second.front().value;
}

const std::vector<Sample>* Family(const Samples& in, const char* family) {
  auto it = in.find(family);
  return it == in.end() ? nullptr : &it->second;
}

}  // namespace

const std::set<std::string>& StatusFamilies() {
  static const std::set<std::string> kFamilies{kMaxLagSeconds, kGroupStatus, kUnderReplicated, kUnderMinIsr,
                                               kOffline,       kBrokers,     kLagSum};
  return kFamilies;
}

void RecordRun(std::map<std::string, CollectorRun>* runs, const RunInputs& run, SysTime now) {
  CollectorRun& r = (*runs)[run.collector];
  r.name = run.collector;
  r.success = run.success;
  r.last_run = now;
  if (run.success) r.last_success = now;
  // A kept text is the last published one, still true: its samples stand.
  if (run.published || run.kept) r.last_publish = now;
}

StatusView BuildStatusView(const Samples& in, const std::map<std::string, CollectorRun>& runs, size_t top) {
  StatusView v;
  v.brokers = Single(in, kBrokers);
  v.under_replicated = Single(in, kUnderReplicated);
  v.under_min_isr = Single(in, kUnderMinIsr);
  v.offline = Single(in, kOffline);
  for (const auto& entry : runs) v.collectors.push_back(entry.second);

  // Each group's lag over its topics (the sum KafkaConsumerGroupLagHigh
  // compares), then the top ones: one pass over the group-topic series, a
  // partial sort, and one pass over the per-group families for the few kept.
  std::unordered_map<std::string, double> lag;
  if (const auto* sums = Family(in, kLagSum)) {
    lag.reserve(sums->size());
    for (const Sample& s : *sums) {
      if (const std::string* g = LabelOf(s, "consumergroup")) lag[*g] += s.value;
    }
  }
  v.groups = lag.size();
  std::vector<std::pair<double, const std::string*>> order;
  order.reserve(lag.size());
  for (const auto& entry : lag) order.emplace_back(entry.second, &entry.first);
  const size_t n = std::min(top, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                    });
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) {
    GroupLag g;
    g.group = *order[i].second;
    g.lag = order[i].first;
    index.emplace(g.group, i);
    v.top_groups.push_back(std::move(g));
  }
  if (index.empty()) return v;
  if (const auto* secs = Family(in, kMaxLagSeconds)) {
    for (const Sample& s : *secs) {
      const std::string* g = LabelOf(s, "consumergroup");
      auto it = g == nullptr ? index.end() : index.find(*g);
      if (it != index.end()) v.top_groups[it->second].lag_seconds = s.value;
    }
  }
  if (const auto* statuses = Family(in, kGroupStatus)) {
    for (const Sample& s : *statuses) {
      const std::string* g = LabelOf(s, "consumergroup");
      const std::string* st = LabelOf(s, "status");
      auto it = g == nullptr ? index.end() : index.find(*g);
      if (it != index.end() && st != nullptr && s.value == 1) v.top_groups[it->second].status = *st;
    }
  }
  return v;
}

}  // namespace dora::alerting
