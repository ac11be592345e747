#pragma once
// What the evaluator reads: copies of the samples of a few metric families
// (the "tapped" ones), taken while a collector renders them
// (MetricsBuilder::Tap), and handed over by the runner after each publish.
// No text is parsed; families not tapped cost one bool check per sample.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "alerting/alert.h"
#include "metrics/builder.h"

namespace dora::alerting {

struct Sample {
  Labels labels;  // without the metric name; a histogram bucket has `le`
  double value = 0;
};

// Family name -> samples. A histogram family is tapped under its own name
// with one sample per bucket (`le` label, cumulative count, "+Inf" included).
using Samples = std::map<std::string, std::vector<Sample>>;

// One collector run as the runner saw it.
struct RunInputs {
  std::string collector;
  bool published = false;  // ok or partial, and not a kept text: `samples` replace the last ones
  bool kept = false;       // the collector kept its published text: inputs unchanged
  bool success = false;    // kafka_exporter_collector_success of this run
  Samples samples;
  // The same, as the builder tapped them (MetricsBuilder::TakeTapped): what
  // the runner hands over. A family here is taken instead of one in
  // `samples`, and turned into samples only when it differs from the last
  // one taken (at L, 10,000 unchanged sums a run).
  std::map<std::string, std::vector<MetricsBuilder::TappedSample>> tapped;
};

// Where the runner hands each run's inputs (the evaluator). Thread-safe:
// collectors run on their own threads.
class InputSink {
 public:
  virtual ~InputSink() = default;
  // The families to tap (constant for the sink's lifetime).
  virtual const std::set<std::string>& TappedFamilies() const = 0;
  // Which of them are tapped reduced (MetricsBuilder::TapReduce), constant
  // too; null: none. Their samples reach OnRun as the reduction's sums, for
  // every reader of the tap.
  virtual const MetricsBuilder::TapReductions* Reductions() const { return nullptr; }
  virtual void OnRun(RunInputs run) = 0;
};

}  // namespace dora::alerting
