#include "alerting/evaluator.h"

#include <algorithm>

#include "metrics/builder.h"
#include "metrics/catalogue.h"
#include "metrics/snapshot_store.h"

namespace dora::alerting {
namespace {

constexpr char kSuccess[] = "kafka_exporter_collector_success";

// The collector that renders `family` (metrics/catalogue.h).
std::string CollectorOf(const std::string& family) {
  const size_t i = metrics::IndexOf(family);
  return i < metrics::kCatalogueSize ? std::string(metrics::kCatalogue[i].collector) : std::string();
}

}  // namespace

Evaluator::Evaluator(const AlertingConfig& config, SnapshotStore* store, Clock clock)
    : store_(store), clock_(std::move(clock)), current_(std::make_shared<AlertsSnapshot>()) {
  Configure(config);
}

void Evaluator::Configure(const AlertingConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RuleState> next;
  for (const RuleDef& def : Rules()) {
    auto c = config.rules.find(def.name);
    if (c == config.rules.end() || !c->second.enabled) continue;
    RuleState r;
    r.def = &def;
    r.config = c->second;
    for (RuleState& old : rules_) {
      if (old.def != &def) continue;
      r.active = std::move(old.active);
      old.active.clear();  // what is left below is the alerts of rules now disabled
    }
    next.push_back(std::move(r));
  }
  // Alerts of rules now disabled leave the snapshot at once (with alerting
  // off there is no next evaluation).
  bool dropped = false;
  for (const RuleState& old : rules_) dropped = dropped || !old.active.empty();
  rules_ = std::move(next);
  if (dropped) Publish(clock_());
}

void Evaluator::Forget(const std::string& collector) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = inputs_.begin(); it != inputs_.end();) {
    it = CollectorOf(it->first) == collector && it->first != kSuccess ? inputs_.erase(it) : std::next(it);
  }
  auto& success = inputs_[kSuccess];
  success.erase(std::remove_if(success.begin(), success.end(),
                               [&](const Sample& s) { return s.labels.at("collector") == collector; }),
                success.end());
  failed_.erase(collector);
}

const std::set<std::string>& Evaluator::TappedFamilies() const { return alerting::TappedFamilies(); }

const MetricsBuilder::TapReductions* Evaluator::Reductions() const { return &alerting::ReducedFamilies(); }

void Evaluator::OnRun(RunInputs run) {
  const SysTime now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  if (run.published) {
    history_.Observe(now, run.samples);  // the range functions' points: this run's samples only
    // Replaced as a whole: a family absent from the run has no series now.
    for (const std::string& family : alerting::TappedFamilies()) {
      if (CollectorOf(family) != run.collector) continue;
      auto it = run.samples.find(family);
      if (it == run.samples.end()) {
        inputs_.erase(family);
      } else {
        inputs_[family] = std::move(it->second);
      }
    }
  }
  failed_[run.collector] = !run.published && !run.kept;
  auto& success = inputs_[kSuccess];
  bool found = false;
  for (Sample& s : success) {
    if (s.labels["collector"] == run.collector) {
      s.value = run.success ? 1 : 0;
      found = true;
    }
  }
  if (!found) success.push_back({{{"collector", run.collector}}, run.success ? 1.0 : 0.0});
  EvaluateLocked(now);
}

void Evaluator::Evaluate() {
  const SysTime now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  EvaluateLocked(now);
}

bool Evaluator::Frozen(const RuleDef& def) const {
  for (const std::string& family : def.families) {
    auto it = failed_.find(CollectorOf(family));
    if (it != failed_.end() && it->second) return true;
  }
  return false;
}

void Evaluator::EvaluateLocked(SysTime now) {
  for (RuleState& rule : rules_) {
    if (!Frozen(*rule.def)) EvaluateRule(rule, now);
  }
  Publish(now);
}

void Evaluator::EvaluateRule(RuleState& rule, SysTime now) {
  const RuleDef& def = *rule.def;
  const AlertRuleConfig& cfg = rule.config;
  std::set<Labels> seen;
  for (const Sample& s : def.compute(inputs_, history_, now)) {
    if (!Compare(def.op, s.value, cfg.threshold)) continue;
    // Identity: the series' labels, then the rule's (which win), then alertname.
    Labels labels = s.labels;
    labels["severity"] = def.severity;
    for (const auto& [k, v] : cfg.labels) labels[k] = v;
    labels["alertname"] = def.name;
    if (!seen.insert(labels).second) continue;  // Prometheus refuses duplicates; keep the first
    auto it = rule.active.find(labels);
    if (it == rule.active.end() || it->second.alert.state == AlertState::kResolved) {
      Active a;
      a.alert.labels = labels;
      a.alert.state = AlertState::kPending;
      a.alert.active_at = now;
      it = rule.active.insert_or_assign(labels, std::move(a)).first;
    }
    Alert& a = it->second.alert;
    it->second.keep_firing_since = SysTime{};
    a.value = s.value;
    a.last_evaluated = now;
    a.annotations["summary"] = RenderTemplate(def.summary, s.labels, s.value);
    a.annotations["description"] = RenderTemplate(def.description, s.labels, s.value);
    a.annotations["runbook_url"] = RenderTemplate(def.runbook_url, s.labels, s.value);
  }
  for (auto it = rule.active.begin(); it != rule.active.end();) {
    Active& act = it->second;
    Alert& a = act.alert;
    if (seen.count(it->first) == 0) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && cfg.keep_firing_for.count() > 0) {
        if (act.keep_firing_since == SysTime{}) act.keep_firing_since = now;
        keep_firing = now - act.keep_firing_since < cfg.keep_firing_for;
      }
      if (a.state == AlertState::kPending ||
          (a.state == AlertState::kResolved && now - a.resolved_at > kResolvedRetention)) {
        it = rule.active.erase(it);
        continue;
      }
      a.last_evaluated = now;
      if (a.state == AlertState::kFiring && !keep_firing) {
        a.state = AlertState::kResolved;
        a.resolved_at = now;
      }
      ++it;
      continue;
    }
    if (a.state == AlertState::kPending && now - a.active_at >= cfg.for_duration) {
      a.state = AlertState::kFiring;
      a.fired_at = now;
    }
    ++it;
  }
}

void Evaluator::Publish(SysTime now) {
  auto snap = std::make_shared<AlertsSnapshot>();
  for (const RuleState& rule : rules_)
    for (const auto& [labels, act] : rule.active) snap->alerts.push_back(act.alert);
  std::sort(snap->alerts.begin(), snap->alerts.end(),
            [](const Alert& a, const Alert& b) { return a.labels < b.labels; });
  snap->evaluated_at = now;
  snap->generation = ++generation_;
  if (store_ != nullptr) store_->PublishAll({{kAlertsEntry, RenderParts(*snap)}});
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(snap);
  }
  if (published_) published_();
}

std::shared_ptr<const AlertsSnapshot> Evaluator::Current() const {
  std::lock_guard<std::mutex> lock(current_mu_);
  return current_;
}

std::vector<std::string> Evaluator::RenderParts(const AlertsSnapshot& snap) {
  MetricsBuilder out;
  const auto alerts = out.Family(DORA_METRIC("ALERTS"));
  const auto for_state = out.Family(DORA_METRIC("ALERTS_FOR_STATE"));
  std::vector<Label> labels;
  for (const Alert& a : snap.alerts) {
    if (a.state == AlertState::kResolved) continue;  // Prometheus exports active alerts only
    labels.clear();
    for (const auto& [k, v] : a.labels) labels.emplace_back(k, v);
    out.Add(for_state, labels, std::chrono::duration<double>(a.active_at.time_since_epoch()).count());
    const std::string state(StateName(a.state));
    labels.emplace_back("alertstate", state);
    out.Add(alerts, labels, 1);
  }
  return out.TakeParts();
}

std::string Evaluator::RenderSeries() const {
  std::string out;
  for (const std::string& part : RenderParts(*Current())) out += part;
  return out;
}

}  // namespace dora::alerting
