#pragma once
// The alerts the daemon evaluates itself, as the rest of the daemon reads
// them: the Alertmanager push, the status page and /api/v1/alerts, the
// ALERTS series and incident events. The evaluator (alerting/evaluator.h)
// publishes an AlertsSnapshot after each evaluation; readers take the
// current one from an AlertSource and never wait on the evaluator.
//
// Semantics are Prometheus's: an alert's identity is its labels (alertname,
// the input series' labels, then the rule's labels, which win); it is pending
// from the first true evaluation, firing once the rule's `for` has elapsed,
// and resolved when the condition no longer holds (after `keep_firing_for`).
// A pending alert that turns false is dropped; a resolved one is listed for
// kResolvedRetention so that its resolution is sent again.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dora::alerting {

using Labels = std::map<std::string, std::string>;  // sorted: equal identities compare equal
using SysTime = std::chrono::system_clock::time_point;

inline constexpr std::chrono::minutes kResolvedRetention{15};

enum class AlertState { kPending, kFiring, kResolved };

// "pending", "firing", "resolved" (Prometheus's alertstate values, plus ours
// for a kept resolved alert).
constexpr std::string_view StateName(AlertState s) {
  switch (s) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "pending";
}

struct Alert {
  Labels labels;       // identity; includes alertname and severity
  Labels annotations;  // summary, description, runbook_url: rendered with the value and labels
  AlertState state = AlertState::kPending;
  double value = 0;       // the condition's value at its last true evaluation
  SysTime active_at{};    // first true evaluation (the pending start: when it was detected)
  SysTime fired_at{};     // when it became firing; epoch while pending
  SysTime resolved_at{};  // when it resolved; epoch unless resolved
  SysTime last_evaluated{};
  const std::string& name() const {
    static const std::string kNone;
    auto it = labels.find("alertname");
    return it == labels.end() ? kNone : it->second;
  }
};

struct AlertsSnapshot {
  std::vector<Alert> alerts;  // pending, firing and kept resolved ones, ordered by labels
  SysTime evaluated_at{};
  uint64_t generation = 0;  // grows with every evaluation
};

// Where readers get the current alerts.
class AlertSource {
 public:
  virtual ~AlertSource() = default;
  // Never null (an empty snapshot before the first evaluation).
  virtual std::shared_ptr<const AlertsSnapshot> Current() const = 0;
};

}  // namespace dora::alerting
