#pragma once
// What the status page (http/status_page.h) shows beside the alerts: the
// cluster's health, the most lagging consumer groups and each collector's last
// run. Built from the samples the evaluator already holds (the rules' tapped
// families plus StatusFamilies() below, a few series per group and one per
// cluster number, never a per-partition family), so a page costs no Kafka
// request and no pass over per-partition series.
//
// Plain data; BuildStatusView is a pure function (the evaluator calls it under
// its lock, Evaluator::Status()).
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/inputs.h"

namespace dora::alerting {

// How many groups the page lists.
inline constexpr size_t kTopGroups = 10;

// The families the page reads (metrics/catalogue.h); the evaluator taps them
// besides the rules' own (kafka_brokers and the lag sums are both).
const std::set<std::string>& StatusFamilies();

struct GroupLag {
  std::string group;
  double lag = 0;           // messages, summed over its topics (kafka_consumergroup_lag_sum)
  double lag_seconds = -1;  // kafka_consumergroup_max_lag_seconds; < 0: unknown (no estimate yet)
  std::string status;       // kafka_consumergroup_status: OK, WARN, ERR; empty: unknown
};

// A collector's runs as the evaluator saw them (RunInputs).
struct CollectorRun {
  std::string name;
  bool success = false;    // its last run succeeded
  SysTime last_run{};      // when its last run ended
  SysTime last_success{};  // epoch: never succeeded
  SysTime last_publish{};  // its samples were last published or kept as they are; epoch: never
};

struct StatusView {
  // Cluster numbers; < 0: unknown (no sample: the cluster collector is off or
  // has not published, or min.insync.replicas is not known).
  double brokers = -1;
  double under_replicated = -1;
  double under_min_isr = -1;
  double offline = -1;
  std::vector<GroupLag> top_groups;      // most lagging first (ties by name), at most kTopGroups
  size_t groups = 0;                     // groups with a lag series
  std::vector<CollectorRun> collectors;  // by name
  size_t rules = 0;                      // alert rules evaluated (0: alerting off)
};

// Records one run (what the runner handed the evaluator) at `now`.
void RecordRun(std::map<std::string, CollectorRun>* runs, const RunInputs& run, SysTime now);

// The view of `in` (the latest samples per family) and the collectors' runs.
StatusView BuildStatusView(const Samples& in, const std::map<std::string, CollectorRun>& runs,
                           size_t top = kTopGroups);

}  // namespace dora::alerting
