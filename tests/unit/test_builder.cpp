#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "metrics/builder.h"

using dora::Label;
using dora::LabelValue;
using dora::MetricsBuilder;
using dora::MetricType;

// A label value views its text: it takes lvalue strings and C strings, never a
// temporary std::string, whose buffer would be gone when the sample is written
// (tests/compile_fail/label_temporaries.cpp tries the call sites themselves).
static_assert(std::is_convertible_v<const std::string&, LabelValue>);
static_assert(std::is_convertible_v<std::string&, LabelValue>);
static_assert(std::is_convertible_v<const char (&)[4], LabelValue>);
static_assert(std::is_convertible_v<const char*, LabelValue>);
static_assert(!std::is_constructible_v<LabelValue, std::string&&>);
static_assert(!std::is_constructible_v<LabelValue, const std::string&&>);
static_assert(!std::is_constructible_v<LabelValue, std::string>);
static_assert(!std::is_convertible_v<std::string, LabelValue>);
// A view's owner is unknown: only an explicit LabelValue(view) takes one.
static_assert(!std::is_convertible_v<std::string_view, LabelValue>);
static_assert(std::is_constructible_v<LabelValue, std::string_view>);
// The same through a Label, as the braced call sites build them.
static_assert(std::is_constructible_v<Label, const char (&)[2], const std::string&>);
static_assert(!std::is_constructible_v<Label, const char (&)[2], std::string>);
static_assert(!std::is_constructible_v<Label, std::string, const std::string&>);

TEST_CASE("builder renders HELP/TYPE once per family and samples in order", "[builder]") {
  MetricsBuilder b;
  auto f = b.Family({"kafka_topic_partitions", MetricType::kGauge, "", "", "", "Number of partitions."});
  b.Add(f, {{"topic", "audit-logs"}}, 12);
  b.Add(f, {{"topic", "agent-events"}}, 6);
  auto g = b.Family({"kafka_brokers", MetricType::kGauge, "", "", "", "Brokers."});
  b.Add(g, {}, 3);
  REQUIRE(b.Render() ==
          "# HELP kafka_topic_partitions Number of partitions.\n"
          "# TYPE kafka_topic_partitions gauge\n"
          "kafka_topic_partitions{topic=\"audit-logs\"} 12\n"
          "kafka_topic_partitions{topic=\"agent-events\"} 6\n"
          "# HELP kafka_brokers Brokers.\n"
          "# TYPE kafka_brokers gauge\n"
          "kafka_brokers 3\n");
  REQUIRE(b.series() == 3);
}

TEST_CASE("builder drops duplicate label sets instead of emitting them", "[builder]") {
  MetricsBuilder b;
  auto f = b.Family({"kafka_consumergroup_members", MetricType::kGauge, "", "", "", "Members."});
  REQUIRE(b.Add(f, {{"consumergroup", "g1"}}, 2));
  REQUIRE_FALSE(b.Add(f, {{"consumergroup", "g1"}}, 3));
  REQUIRE(b.duplicates_dropped() == 1);
  REQUIRE(b.Render().find("kafka_consumergroup_members{consumergroup=\"g1\"} 2\n") != std::string::npos);
  REQUIRE(b.Render().find("} 3") == std::string::npos);
  // Declaring the same family twice returns the same id (no second HELP block).
  REQUIRE(b.Family({"kafka_consumergroup_members", MetricType::kGauge, "", "", "", "other"}) == f);
}

TEST_CASE("builder escapes label values and formats special values", "[builder]") {
  MetricsBuilder b;
  auto f = b.Family({"x", MetricType::kGauge, "", "", "", "help with \\ and\nnewline"});
  b.Add(f, {{"l", "a\"b\\c\nd"}}, 0.5);
  b.Add(f, {{"l", "nan"}}, std::nan(""));
  b.Add(f, {{"l", "inf"}}, 1.0 / 0.0);
  b.Add(f, {{"l", "big"}}, 1234567890123.0);
  b.Add(f, {{"l", "neg"}}, -2);
  std::string text = b.Render();
  REQUIRE(text.find("# HELP x help with \\\\ and\\nnewline\n") != std::string::npos);
  REQUIRE(text.find("x{l=\"a\\\"b\\\\c\\nd\"} 0.5\n") != std::string::npos);
  REQUIRE(text.find("x{l=\"nan\"} NaN\n") != std::string::npos);
  REQUIRE(text.find("x{l=\"inf\"} +Inf\n") != std::string::npos);
  REQUIRE(text.find("x{l=\"big\"} 1234567890123\n") != std::string::npos);
  REQUIRE(text.find("x{l=\"neg\"} -2\n") != std::string::npos);
}

TEST_CASE("builder renders histograms with cumulative buckets", "[builder]") {
  MetricsBuilder b;
  auto h = b.Family({"kafka_probe_produce_latency_seconds", MetricType::kHistogram, "", "", "", "Latency."});
  b.AddHistogram(h, {{"broker", "1"}}, {0.005, 0.01}, {3, 7}, 0.05, 9);
  std::string text = b.Render();
  REQUIRE(text.find("# TYPE kafka_probe_produce_latency_seconds histogram\n") != std::string::npos);
  REQUIRE(text.find("kafka_probe_produce_latency_seconds_bucket{broker=\"1\",le=\"0.005\"} 3\n") !=
          std::string::npos);
  REQUIRE(text.find("kafka_probe_produce_latency_seconds_bucket{broker=\"1\",le=\"0.01\"} 7\n") !=
          std::string::npos);
  REQUIRE(text.find("kafka_probe_produce_latency_seconds_bucket{broker=\"1\",le=\"+Inf\"} 9\n") !=
          std::string::npos);
  REQUIRE(text.find("kafka_probe_produce_latency_seconds_sum{broker=\"1\"} 0.05\n") != std::string::npos);
  REQUIRE(text.find("kafka_probe_produce_latency_seconds_count{broker=\"1\"} 9\n") != std::string::npos);
}

TEST_CASE("a family without samples is not rendered", "[builder]") {
  MetricsBuilder b;
  b.Family({"kafka_topic_partitions", MetricType::kGauge, "", "", "", "x"});
  REQUIRE(b.Render().empty());
}

TEST_CASE("TakeParts hands over the rendered text in pieces, without joining it", "[builder]") {
  MetricsBuilder b;
  auto lag = b.Family({"kafka_consumergroup_lag", MetricType::kGauge, "", "", "", "Lag."});
  auto unused = b.Family({"kafka_unused", MetricType::kGauge, "", "", "", "Never filled."});
  auto brokers = b.Family({"kafka_brokers", MetricType::kGauge, "", "", "", "Brokers."});
  (void)unused;
  b.Add(lag, {{"consumergroup", "g"}, {"partition", "0"}}, 5);
  b.Add(lag, {{"consumergroup", "g"}, {"partition", "1"}}, 7);
  b.Add(brokers, {}, 3);
  const std::string whole = b.Render();
  auto parts = b.TakeParts();
  // HELP/TYPE lines and samples of each family with samples, in declaration order.
  REQUIRE(parts.size() == 4);
  CHECK(parts[0] == "# HELP kafka_consumergroup_lag Lag.\n# TYPE kafka_consumergroup_lag gauge\n");
  CHECK(parts[1] ==
        "kafka_consumergroup_lag{consumergroup=\"g\",partition=\"0\"} 5\n"
        "kafka_consumergroup_lag{consumergroup=\"g\",partition=\"1\"} 7\n");
  CHECK(parts[3] == "kafka_brokers 3\n");
  std::string joined;
  for (const auto& p : parts) joined += p;
  CHECK(joined == whole);
  CHECK(b.series() == 3);     // the counts stay for the run's self metrics
  CHECK(b.Render().empty());  // the text has left the builder
}
