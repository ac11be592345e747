#pragma once
// What the exposition says about one metric family, declared once in
// metrics/catalogue.h: its name, type, labels, owner, source and HELP text.
#include <string_view>

namespace dora {

// kSummary: quantile-labelled samples (librdkafka's windowed percentiles carry
// no cumulative _sum/_count, so none are written).
enum class MetricType { kGauge, kCounter, kHistogram, kSummary, kUntyped };

// The exposition's name of a type ("gauge", ...), as docs/metrics.md writes it.
constexpr std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "untyped";
}

namespace metrics {

// One family. Every field is static text (the catalogue is constexpr).
struct FamilyDef {
  std::string_view name;
  MetricType type;
  // Label names, ", "-separated, as docs/metrics.md's Labels column lists
  // them; the most a sample has (the consumer-groups families at granularity
  // topic leave out `partition`). Histogram buckets add `le`.
  std::string_view labels;
  // The collector that renders it, the heading of its docs/metrics.md
  // section; "exporter" for the daemon's own metrics (metrics/self_metrics.cpp).
  std::string_view collector;
  // The Kafka request (or other source) of its values: docs/metrics.md's
  // Source column.
  std::string_view source;
  // The exposition's HELP text.
  std::string_view help;
};

}  // namespace metrics
}  // namespace dora
