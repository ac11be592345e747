#pragma once
// The built-in alert evaluator: after every collector publish it evaluates
// the alerts of alerting/rules.h on the daemon's own samples, with
// Prometheus's semantics (alert.h), publishes an AlertsSnapshot for readers
// and the ALERTS / ALERTS_FOR_STATE series as the store entry "alerting".
//
// Inputs: the runner hands each run's tapped samples (alerting/inputs.h). A
// collector's samples are replaced as a whole by its next published run (ok
// or partial); a failed run replaces nothing, and the rules fed by that
// collector are not evaluated until it publishes again: their alerts keep
// their state, like a Prometheus that cannot scrape.
// Thread-safe: OnRun comes from every collector thread.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "alerting/inputs.h"
#include "alerting/rules.h"
#include "alerting/status_view.h"
#include "config/config.h"

namespace dora {
class SnapshotStore;
}

namespace dora::alerting {

// Store entry of the ALERTS series.
inline constexpr char kAlertsEntry[] = "alerting";

class Evaluator : public AlertSource, public InputSink {
 public:
  using Clock = std::function<SysTime()>;
  // `store` may be null (tests): no series are published.
  Evaluator(const AlertingConfig& config, SnapshotStore* store,
            Clock clock = &std::chrono::system_clock::now);

  // A new configuration (SIGHUP): alerts of rules still enabled keep their
  // state (with the new `for`, threshold and labels from the next
  // evaluation on); alerts of rules now disabled are dropped.
  void Configure(const AlertingConfig& config);
  // A collector no longer configured: its samples and success series go.
  void Forget(const std::string& collector);

  // The rules' families and the status page's (alerting/status_view.h).
  const std::set<std::string>& TappedFamilies() const override;
  const MetricsBuilder::TapReductions* Reductions() const override;
  // Takes a run's inputs, then evaluates every rule at the clock's now.
  void OnRun(RunInputs run) override;
  // Evaluates every rule at the clock's now (OnRun does it).
  void Evaluate();

  std::shared_ptr<const AlertsSnapshot> Current() const override;
  // Called after each new snapshot (the notifier's wake-up); must not block
  // and must not call back into the evaluator. Set before the first run.
  void OnPublish(std::function<void()> published) { published_ = std::move(published); }
  // Called with an alert right after it started firing (state kFiring) or
  // resolved (kResolved), and with `dropped` true for a firing alert a
  // reload drops unresolved (its rule disabled, or alerting off). Called
  // under the evaluator's lock in evaluation order, so it sees every
  // transition exactly once: it must not block and must not call back into
  // the evaluator (incident events queue it, incidents/pipeline.h). Set
  // before the first run.
  void OnTransition(std::function<void(const Alert&, bool dropped)> transition) {
    transition_ = std::move(transition);
  }
  // The ALERTS and ALERTS_FOR_STATE text of the current snapshot.
  std::string RenderSeries() const;
  // The status page's view of the latest samples and runs (without the
  // alerts: Current()). Cheap: a few per-group series, under the lock.
  StatusView Status() const;

 private:
  struct Active {
    Alert alert;
    SysTime keep_firing_since{};  // first false evaluation while kept firing
    uint64_t seen = 0;            // the last full pass whose series raised it (RuleState::pass)
    bool overridden = false;      // its annotations' series had labels the identity overrides
    // `alert` as the snapshots share it; reset whenever `alert` changes.
    std::shared_ptr<const Alert> shared;
  };
  struct RuleState {
    const RuleDef* def = nullptr;
    AlertRuleConfig config;
    std::map<Labels, Active> active;  // by identity
    // The expression's last values, and the versions of the inputs they were
    // computed from: a rule whose inputs did not change since is not computed
    // again, and one whose values did not change needs no full pass over its
    // alerts, only their clocks (at 10,000 alerts, the full pass is most of
    // an evaluation).
    std::vector<Sample> values;
    std::vector<uint64_t> versions;
    bool computed = false;
    SysTime evaluated{};  // its last evaluation (AlertsSnapshot::rules_evaluated)
    uint64_t pass = 0;    // the last full pass (numbered across rules: Configure moves alerts between states)
    // The earliest time at which an alert's clock can change it without a
    // full pass (`for` elapsing, keep_firing_for or the resolved retention
    // ending); the clocks are not walked before it.
    SysTime next_clock{};
  };
  void EvaluateLocked(SysTime now);
  void EvaluateRule(RuleState& rule, SysTime now);
  // Brings rule.values up to date; true when they changed (or are new).
  bool Refresh(RuleState& rule, SysTime now);
  bool Frozen(const RuleDef& def) const;
  void Publish(SysTime now);
  static std::vector<std::string> RenderParts(const AlertsSnapshot& snap);

  SnapshotStore* store_;
  Clock clock_;
  std::function<void()> published_;
  std::function<void(const Alert&, bool)> transition_;
  mutable std::mutex mu_;  // everything below but current_
  std::vector<RuleState> rules_;
  Samples inputs_;  // family -> latest samples (each family has one collector)
  // family -> the samples inputs_ has, as they were tapped (RunInputs::tapped)
  std::map<std::string, std::vector<MetricsBuilder::TappedSample>> tapped_;
  std::map<std::string, uint64_t> versions_;        // family -> a number that changes with its samples
  uint64_t changes_ = 0;                            // source of versions_ and RuleState::pass
  bool series_changed_ = true;                      // the ALERTS series differ from the published ones
  bool alerts_changed_ = true;                      // an alert differs from those of alerts_
  std::shared_ptr<const AlertList::Items> alerts_;  // the last snapshot's alerts
  std::map<std::string, bool> failed_;              // collector -> its last run published nothing
  std::map<std::string, CollectorRun> runs_;
  History history_;
  uint64_t generation_ = 0;
  mutable std::mutex current_mu_;
  std::shared_ptr<const AlertsSnapshot> current_;
};

}  // namespace dora::alerting
