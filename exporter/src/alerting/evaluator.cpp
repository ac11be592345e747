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

// What the runner taps: the rules' families and the status page's.
const std::set<std::string>& Tapped() {
  static const std::set<std::string> kFamilies = [] {
    std::set<std::string> out = alerting::TappedFamilies();
    out.insert(StatusFamilies().begin(), StatusFamilies().end());
    return out;
  }();
  return kFamilies;
}

// Equal labels and values, in the same order (a NaN is a change).
// The same series in the same order (values aside).
bool SameTappedLabels(const std::vector<MetricsBuilder::TappedSample>& a,
                      const std::vector<MetricsBuilder::TappedSample>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
           return x.labels == y.labels;
         });
}

std::vector<Sample> ToSamples(const std::vector<MetricsBuilder::TappedSample>& tapped) {
  std::vector<Sample> out;
  out.reserve(tapped.size());
  for (const auto& t : tapped) {
    Labels labels;
    t.ForEachLabel([&](std::string_view name, std::string_view value) { labels.emplace(name, value); });
    out.push_back({std::move(labels), t.value});
  }
  return out;
}

// Equal labels and values, in the same order (a NaN is a change).
bool SameSamples(const std::vector<Sample>& a, const std::vector<Sample>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const Sample& x, const Sample& y) {
           return x.value == y.value && x.labels == y.labels;
         });
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
      r.evaluated = old.evaluated;
      old.active.clear();  // what is left below is the alerts of rules now disabled
    }
    next.push_back(std::move(r));
  }
  // Alerts of rules now disabled leave the snapshot at once (with alerting
  // off there is no next evaluation).
  bool dropped = false;
  for (const RuleState& old : rules_) {
    dropped = dropped || !old.active.empty();
    for (const auto& [labels, act] : old.active)
      if (transition_ && act.alert.state == AlertState::kFiring) transition_(act.alert, true);
  }
  rules_ = std::move(next);
  series_changed_ = true;
  alerts_changed_ = true;
  if (dropped) Publish(clock_());
}

void Evaluator::Forget(const std::string& collector) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = inputs_.begin(); it != inputs_.end();) {
    if (CollectorOf(it->first) == collector && it->first != kSuccess) {
      versions_[it->first] = ++changes_;
      tapped_.erase(it->first);
      it = inputs_.erase(it);
    } else {
      ++it;
    }
  }
  versions_[kSuccess] = ++changes_;
  auto& success = inputs_[kSuccess];
  success.erase(std::remove_if(success.begin(), success.end(),
                               [&](const Sample& s) { return s.labels.at("collector") == collector; }),
                success.end());
  failed_.erase(collector);
  runs_.erase(collector);
}

const std::set<std::string>& Evaluator::TappedFamilies() const { return Tapped(); }

const MetricsBuilder::TapReductions* Evaluator::Reductions() const { return &alerting::ReducedFamilies(); }

void Evaluator::OnRun(RunInputs run) {
  const SysTime now = clock_();
  std::lock_guard<std::mutex> lock(mu_);
  if (run.published) {
    // The range functions' points: this run's samples only, of a few small
    // families, so always as samples.
    for (const auto& [family, flat] : run.tapped)
      if (History::Observes(family)) run.samples[family] = ToSamples(flat);
    history_.Observe(now, run.samples);
    // Replaced as a whole: a family absent from the run has no series now.
    for (const std::string& family : Tapped()) {
      if (CollectorOf(family) != run.collector) continue;
      if (auto t = run.tapped.find(family); t != run.tapped.end()) {
        // As tapped: compared with the last taken before anything is built.
        auto last = tapped_.find(family);
        auto input = inputs_.find(family);
        if (last != tapped_.end() && input != inputs_.end() && input->second.size() == t->second.size() &&
            SameTappedLabels(last->second, t->second)) {
          // The same series: only values are new (lag that grows), and no
          // label set is built again.
          bool changed = false;
          for (size_t i = 0; i < t->second.size(); ++i) {
            const double v = t->second[i].value;
            if (!(input->second[i].value == v)) changed = true;  // a NaN is a change
            input->second[i].value = v;
          }
          last->second = std::move(t->second);
          if (changed) versions_[family] = ++changes_;
          continue;
        }
        inputs_[family] = ToSamples(t->second);
        tapped_[family] = std::move(t->second);
        versions_[family] = ++changes_;
        continue;
      }
      tapped_.erase(family);
      auto it = run.samples.find(family);
      auto old = inputs_.find(family);
      if (it == run.samples.end()) {
        if (old == inputs_.end()) continue;
        inputs_.erase(old);
      } else if (old == inputs_.end()) {
        inputs_.emplace(family, std::move(it->second));
      } else if (SameSamples(old->second, it->second)) {
        continue;  // the rules that read it need not compute again
      } else {
        old->second = std::move(it->second);
      }
      versions_[family] = ++changes_;
    }
  }
  failed_[run.collector] = !run.published && !run.kept;
  RecordRun(&runs_, run, now);
  versions_[kSuccess] = ++changes_;
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

bool Evaluator::Refresh(RuleState& rule, SysTime now) {
  const RuleDef& def = *rule.def;
  std::vector<uint64_t> versions;
  versions.reserve(def.families.size());
  for (const std::string& family : def.families) {
    auto v = versions_.find(family);
    versions.push_back(v == versions_.end() ? 0 : v->second);
  }
  // The same inputs give the same values, unless the rule reads the
  // history too (its windows move with `now`).
  if (rule.computed && !ReadsHistory(def) && versions == rule.versions) return false;
  std::vector<Sample> values = def.compute(inputs_, history_, now);
  rule.versions = std::move(versions);
  const bool same = rule.computed && SameSamples(values, rule.values);
  rule.values = std::move(values);
  rule.computed = true;
  return !same;
}

void Evaluator::EvaluateRule(RuleState& rule, SysTime now) {
  const RuleDef& def = *rule.def;
  const AlertRuleConfig& cfg = rule.config;
  rule.evaluated = now;
  const bool full = Refresh(rule, now);
  if (full) {
    // The full pass: which alerts the values raise, with their values and
    // annotations. Skipped when the values are the last pass's: it would
    // find the same alerts with the same values (a reload makes new rule
    // states, so a changed threshold or label gets a full pass).
    rule.pass = ++changes_;
    for (const Sample& s : rule.values) {
      if (!Compare(def.op, s.value, cfg.threshold)) continue;
      // Identity: the series' labels, then the rule's (which win), then alertname.
      Labels labels = s.labels;
      bool overridden = !labels.insert_or_assign("severity", def.severity).second;
      for (const auto& [k, v] : cfg.labels) overridden |= !labels.insert_or_assign(k, v).second;
      overridden |= !labels.insert_or_assign("alertname", def.name).second;
      auto it = rule.active.find(labels);
      // Prometheus refuses duplicates; keep the first.
      if (it != rule.active.end() && it->second.seen == rule.pass) continue;
      const bool fresh = it == rule.active.end() || it->second.alert.state == AlertState::kResolved;
      if (fresh) {
        Active a;
        a.alert.labels = labels;
        a.alert.state = AlertState::kPending;
        a.alert.active_at = now;
        it = rule.active.insert_or_assign(std::move(labels), std::move(a)).first;
        series_changed_ = true;
        alerts_changed_ = true;
      }
      Active& act = it->second;
      act.seen = rule.pass;
      Alert& a = act.alert;
      // The annotations are the templates over the series' labels and the
      // value: the same when neither changed (the identity gives the series'
      // labels unless the rule's labels override some of them).
      if (fresh || overridden || act.overridden || !(a.value == s.value)) {
        Labels annotations{{"summary", RenderTemplate(def.summary, s.labels, s.value, &inputs_)},
                           {"description", RenderTemplate(def.description, s.labels, s.value, &inputs_)},
                           {"runbook_url", RenderTemplate(def.runbook_url, s.labels, s.value, &inputs_)}};
        if (annotations != a.annotations) {
          a.annotations = std::move(annotations);
          act.shared.reset();
          alerts_changed_ = true;
        }
        act.overridden = overridden;
      }
      if (!(a.value == s.value)) {  // a NaN is a change
        act.shared.reset();
        alerts_changed_ = true;
      }
      a.value = s.value;
    }
  }
  // The alerts' clocks: after a full pass, or once the earliest time at
  // which one of them can change has come (at 10,000 alerts, walking them at
  // every evaluation was most of an evaluation without a full pass).
  if (!full && now < rule.next_clock) return;
  rule.next_clock = SysTime::max();
  auto due = [&rule](SysTime t) { rule.next_clock = std::min(rule.next_clock, t); };
  for (auto it = rule.active.begin(); it != rule.active.end();) {
    Active& act = it->second;
    Alert& a = act.alert;
    if (act.seen != rule.pass) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && cfg.keep_firing_for.count() > 0) {
        if (act.keep_firing_since == SysTime{}) act.keep_firing_since = now;
        keep_firing = now - act.keep_firing_since < cfg.keep_firing_for;
        if (keep_firing) due(act.keep_firing_since + cfg.keep_firing_for);
      }
      if (a.state == AlertState::kPending ||
          (a.state == AlertState::kResolved && now - a.resolved_at > kResolvedRetention)) {
        series_changed_ = series_changed_ || a.state == AlertState::kPending;
        alerts_changed_ = true;
        it = rule.active.erase(it);
        continue;
      }
      if (a.state == AlertState::kFiring && !keep_firing) {
        a.state = AlertState::kResolved;
        a.resolved_at = now;
        act.shared.reset();
        series_changed_ = true;
        alerts_changed_ = true;
        if (transition_) transition_(a, false);
      }
      if (a.state == AlertState::kResolved)
        due(a.resolved_at + kResolvedRetention + std::chrono::nanoseconds(1));
      ++it;
      continue;
    }
    act.keep_firing_since = SysTime{};
    if (a.state == AlertState::kPending && now - a.active_at >= cfg.for_duration) {
      a.state = AlertState::kFiring;
      a.fired_at = now;
      act.shared.reset();
      series_changed_ = true;
      alerts_changed_ = true;
      if (transition_) transition_(a, false);
    }
    if (a.state == AlertState::kPending) due(a.active_at + cfg.for_duration);
    ++it;
  }
}

void Evaluator::Publish(SysTime now) {
  auto snap = std::make_shared<AlertsSnapshot>();
  // A new list only when an alert changed; otherwise the last snapshot's
  // list is shared. Each alert is shared too: only those that changed are
  // copied (at 10,000 alerts, copying them all was most of an evaluation).
  if (alerts_changed_ || !alerts_) {
    auto list = std::make_shared<AlertList::Items>();
    // Each rule's alerts come ordered by labels: merged, not sorted.
    size_t n = 0;
    for (const RuleState& rule : rules_) n += rule.active.size();
    list->reserve(n);
    auto by_labels = [](const AlertList::Item& a, const AlertList::Item& b) { return a->labels < b->labels; };
    for (RuleState& rule : rules_) {
      const auto middle = static_cast<std::ptrdiff_t>(list->size());
      for (auto& [labels, act] : rule.active) {
        if (!act.shared) act.shared = std::make_shared<const Alert>(act.alert);
        list->push_back(act.shared);
      }
      std::inplace_merge(list->begin(), list->begin() + middle, list->end(), by_labels);
    }
    alerts_ = std::move(list);
    alerts_changed_ = false;
  }
  snap->alerts = AlertList(alerts_);
  for (const RuleState& rule : rules_)
    if (rule.evaluated != SysTime{}) snap->rules_evaluated.emplace(rule.def->name, rule.evaluated);
  snap->evaluated_at = now;
  snap->generation = ++generation_;
  // The series show the active alerts' labels, states and active_at only:
  // published again when one of those changed.
  if (store_ != nullptr && series_changed_) store_->PublishAll({{kAlertsEntry, RenderParts(*snap)}});
  series_changed_ = false;
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    current_ = std::move(snap);
  }
  if (published_) published_();
}

StatusView Evaluator::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  StatusView v = BuildStatusView(inputs_, runs_);
  v.rules = rules_.size();
  return v;
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
