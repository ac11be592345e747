#pragma once
// MetricsBuilder renders one collector's samples straight to Prometheus text
// exposition format (0.0.4). Each family appears once with HELP and TYPE, and a
// label set appears at most once per family: a duplicate is dropped and
// counted, so a scrape can never be broken by duplicate series.
// Not thread-safe: one builder per collection run.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace dora {

// kSummary: quantile-labelled samples (librdkafka's windowed percentiles carry
// no cumulative _sum/_count, so none are written).
enum class MetricType { kGauge, kCounter, kHistogram, kSummary, kUntyped };

using Label = std::pair<std::string_view, std::string_view>;

class MetricsBuilder {
 public:
  using FamilyId = size_t;

  // Declares a family (idempotent by name; the first help/type win).
  FamilyId Family(std::string_view name, std::string_view help, MetricType type);

  // Adds one sample. Returns false when the label set was already present.
  bool Add(FamilyId family, std::initializer_list<Label> labels, double value);
  bool Add(FamilyId family, const std::vector<Label>& labels, double value);

  // Adds a histogram: `bounds` ascending upper bounds (without +Inf) and
  // `cumulative` counts per bound; `count` is the +Inf bucket.
  bool AddHistogram(FamilyId family, const std::vector<Label>& labels, const std::vector<double>& bounds,
                    const std::vector<uint64_t>& cumulative, double sum, uint64_t count);

  // Text of every family with at least one sample, in declaration order.
  std::string Render() const;

  size_t series() const { return series_; }
  size_t duplicates_dropped() const { return duplicates_; }

  // Escapes a label value (\\, \", \n) per the exposition format.
  static void AppendEscaped(std::string* out, std::string_view value);
  // Formats a sample value the way Prometheus reads it (integers without ".0", NaN, +Inf).
  static void AppendValue(std::string* out, double value);

 private:
  struct FamilyData {
    std::string name;
    std::string help;
    MetricType type;
    std::string body;
    std::unordered_set<std::string> seen;
    size_t samples = 0;
  };
  bool AddRendered(FamilyData& f, const Label* begin, const Label* end, double value);
  static void AppendLabels(std::string* out, const Label* begin, const Label* end, const Label* extra);

  std::vector<FamilyData> families_;
  size_t series_ = 0;
  size_t duplicates_ = 0;
};

}  // namespace dora
