#pragma once
// The alerts the daemon evaluates itself: the rules of
// rules/dora-kafka.rules.yml that it can compute from what it collects, with
// the same alertname, severity, threshold, `for` and annotation texts
// (tests/unit/test_alerting_rules.cpp compares them with the file). Each
// condition is plain C++ over the input samples (no PromQL engine).
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "alerting/inputs.h"

namespace dora::alerting {

// How a rule compares its value with its threshold (the expr's operator).
enum class Op { kGreater, kEqual, kLess, kNone };

// Input samples of every collector (family -> samples) and the histories the
// range functions need, kept by the evaluator.
struct History {
  // kafka_brokers points for max_over_time(kafka_brokers[1d]).
  std::deque<std::pair<SysTime, double>> brokers;
  // Counter points per series (family + labels) for increase()/rate() over 5m:
  // the probe's produce latency buckets and produce errors, the broker
  // process's CPU seconds.
  std::map<std::pair<std::string, Labels>, std::deque<std::pair<SysTime, double>>> counters;
  // Records a collector's fresh samples at `now` (only the families kept here).
  void Observe(SysTime now, const Samples& fresh);
  // True for the families Observe keeps.
  static bool Observes(const std::string& family);
  // Increase of one counter series over (now - window, now], counter resets
  // handled; false with fewer than two points.
  bool Increase(const std::string& family, const Labels& labels, SysTime now, std::chrono::seconds window,
                double* out) const;
  // rate() of one counter series over (now - window, now], with
  // Prometheus's extrapolation to the window's edges (and to the counter's
  // zero); false with fewer than two points.
  bool Rate(const std::string& family, const Labels& labels, SysTime now, std::chrono::seconds window,
            double* out) const;
};

struct RuleDef {
  const char* name;
  const char* severity;
  Op op;
  std::vector<std::string> families;  // input families (their catalogue collectors feed the rule)
  const char* summary;                // annotation templates, as in rules/
  const char* description;
  const char* runbook_url;
  // The expression's value per output series (before the comparison), from
  // every collector's latest samples.
  std::vector<Sample> (*compute)(const Samples& in, const History& h, SysTime now);
};

// The rules in priority order.
const std::vector<RuleDef>& Rules();
const RuleDef* FindRule(const std::string& name);
// The families any rule reads (the builder tap).
const std::set<std::string>& TappedFamilies();
// Those of them the rules read only through a `sum without`, tapped reduced
// to the sums (one sample per group and topic instead of one per partition).
// Each rule still takes its sum over what it is given, which over the sums is
// the same sum: reduced or not (the promtool vectors feed raw samples), the
// alerts are the same.
const MetricsBuilder::TapReductions& ReducedFamilies();
// True when the rule reads History, whose windows move with the evaluation
// time: its values may change without new inputs.
bool ReadsHistory(const RuleDef& rule);
// True when `value op threshold` holds (kNone: always).
bool Compare(Op op, double value, double threshold);

// The alert texts: {{ $labels.x }}, {{ $value }} and {{ $value | f }} with f
// printf "%.Nf", humanize, humanizePercentage or humanizeDuration, the way
// Prometheus renders them; and {{ with <query> }}...{{ end }} where <query>
// is `query "sel"` or `printf "fmt" $labels.x | query` over the inputs `in`
// (a selector with equality matchers only), its body reading the result as
// {{ . | first | value | f }}. Without inputs a query is empty.
std::string RenderTemplate(const std::string& text, const Labels& labels, double value,
                           const Samples* in = nullptr);

// histogram_quantile over cumulative (upper bound, count) buckets, +Inf last.
double HistogramQuantile(double q, std::vector<std::pair<double, double>> buckets);

}  // namespace dora::alerting
