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
#include <initializer_list>
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
  const std::string& name() const {
    static const std::string kNone;
    auto it = labels.find("alertname");
    return it == labels.end() ? kNone : it->second;
  }
};

// A snapshot's alerts, read-only: the snapshots of evaluations that changed
// no alert share one list (copying 10,000 alerts was most of an evaluation).
class AlertList {
 public:
  using value_type = Alert;
  using const_iterator = std::vector<Alert>::const_iterator;
  using iterator = const_iterator;
  AlertList() = default;
  AlertList(std::vector<Alert> alerts)  // NOLINT(google-explicit-constructor): a list is its alerts
      : list_(std::make_shared<const std::vector<Alert>>(std::move(alerts))) {}
  AlertList(std::initializer_list<Alert> alerts) : AlertList(std::vector<Alert>(alerts)) {}
  explicit AlertList(std::shared_ptr<const std::vector<Alert>> list) : list_(std::move(list)) {}
  const std::vector<Alert>& get() const {
    static const std::vector<Alert> kEmpty;
    return list_ ? *list_ : kEmpty;
  }
  operator const std::vector<Alert>&() const { return get(); }  // NOLINT(google-explicit-constructor)
  const_iterator begin() const { return get().begin(); }
  const_iterator end() const { return get().end(); }
  size_t size() const { return get().size(); }
  bool empty() const { return get().empty(); }
  const Alert& operator[](size_t i) const { return get()[i]; }
  // The shared list (null for an empty one): equal in two snapshots when
  // the later evaluation changed no alert.
  const std::shared_ptr<const std::vector<Alert>>& shared() const { return list_; }

 private:
  std::shared_ptr<const std::vector<Alert>> list_;
};

struct AlertsSnapshot {
  AlertList alerts;  // pending, firing and kept resolved ones, ordered by labels
  SysTime evaluated_at{};
  uint64_t generation = 0;  // grows with every evaluation
  // alertname -> when its rule was last evaluated (a rule whose collector
  // failed is not evaluated: its alerts keep their state and this time).
  std::map<std::string, SysTime> rules_evaluated;
};

// Where readers get the current alerts.
class AlertSource {
 public:
  virtual ~AlertSource() = default;
  // Never null (an empty snapshot before the first evaluation).
  virtual std::shared_ptr<const AlertsSnapshot> Current() const = 0;
};

}  // namespace dora::alerting
