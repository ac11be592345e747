// The metric catalogue (metrics/catalogue.h) is the one list of families:
// docs/metrics.md must match it both ways, without a broker, and the
// exposition checks used by the golden test must catch what they claim to.
#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "alerting/notifier_metrics.h"
#include "incidents/metrics.h"
#include "metrics/catalogue.h"
#include "metrics/self_metrics.h"
#include "support/metrics_text.h"

using dora::MetricType;
using dora::test::DocsCatalogueMismatches;
using dora::test::DocumentedFamilies;
using dora::test::ExpositionCatalogueMismatches;
using dora::test::ReadSourceFile;
namespace metrics = dora::metrics;

namespace {

// `markdown` without the line holding `needle` (which must be there).
std::string WithoutLine(const std::string& markdown, const std::string& needle) {
  const size_t at = markdown.find(needle);
  REQUIRE(at != std::string::npos);
  const size_t begin = markdown.rfind('\n', at) + 1;
  const size_t end = markdown.find('\n', at);
  return markdown.substr(0, begin) + markdown.substr(end + 1);
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("docs/metrics.md documents exactly the catalogue's families with their type and labels",
          "[catalogue][docs]") {
  const std::string doc = ReadSourceFile("docs/metrics.md");
  CHECK(DocsCatalogueMismatches(doc) == std::vector<std::string>{});
  CHECK(DocumentedFamilies(doc).size() == metrics::kCatalogueSize);
  CHECK(metrics::kCatalogueSize > 100);
}

TEST_CASE("the docs check reports a missing or extra or changed row", "[catalogue][docs]") {
  const std::string doc = ReadSourceFile("docs/metrics.md");
  SECTION("a catalogue family without a row") {
    CHECK(DocsCatalogueMismatches(WithoutLine(doc, "| `kafka_brokers` |")) ==
          std::vector<std::string>{"kafka_brokers: in the catalogue, not documented"});
  }
  SECTION("a row of no catalogue family") {
    const std::string extra = "| `kafka_made_up` | gauge | topic | Not exported | Metadata |\n";
    CHECK(DocsCatalogueMismatches(Replaced(doc, "| `kafka_brokers` |", extra + "| `kafka_brokers` |")) ==
          std::vector<std::string>{"kafka_made_up: documented, not in the catalogue"});
  }
  SECTION("another type") {
    CHECK(DocsCatalogueMismatches(
              Replaced(doc, "| `kafka_brokers` | gauge |", "| `kafka_brokers` | counter |")) ==
          std::vector<std::string>{"kafka_brokers: type counter documented, gauge in the catalogue"});
  }
  SECTION("other labels") {
    CHECK(DocsCatalogueMismatches(Replaced(doc, "| `kafka_topic_partitions` | gauge | topic |",
                                           "| `kafka_topic_partitions` | gauge | topic, partition |")) ==
          std::vector<std::string>{
              "kafka_topic_partitions: labels \"topic, partition\" documented, \"topic\" in the catalogue"});
  }
  SECTION("another section") {
    // kafka_brokers moved to the offsets table.
    const std::string moved =
        Replaced(WithoutLine(doc, "| `kafka_brokers` |"), "| `kafka_topic_partition_current_offset` |",
                 "| `kafka_brokers` | gauge | | Brokers in the cluster metadata | Metadata |\n"
                 "| `kafka_topic_partition_current_offset` |");
    CHECK(DocsCatalogueMismatches(moved) ==
          std::vector<std::string>{
              "kafka_brokers: documented under \"offsets\", collector cluster in the catalogue"});
  }
}

TEST_CASE("catalogue entries are complete and follow the naming conventions", "[catalogue]") {
  const std::regex name("[a-z_][a-z0-9_]*");
  const std::regex label_list("([a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*)?");
  const std::set<std::string> collectors = {"exporter", "cluster",  "offsets",        "consumer_groups",
                                            "log_dirs", "probe",    "broker_stats",   "schema_registry",
                                            "connect",  "alerting", "broker_process", "mirror"};
  for (const metrics::FamilyDef& def : metrics::kCatalogue) {
    INFO(def.name);
    // ALERTS and ALERTS_FOR_STATE keep Prometheus's names.
    if (def.collector != "alerting") CHECK(std::regex_match(std::string(def.name), name));
    CHECK(std::regex_match(std::string(def.labels), label_list));
    CHECK(collectors.count(std::string(def.collector)) == 1);
    CHECK_FALSE(def.help.empty());
    CHECK_FALSE(def.source.empty());
    // Counters end in _total; only counters do (Prometheus conventions).
    const bool total = def.name.size() > 6 && def.name.substr(def.name.size() - 6) == "_total";
    CHECK(total == (def.type == MetricType::kCounter));
  }
  CHECK(metrics::LabelNames(DORA_METRIC("kafka_brokers")).empty());
  CHECK(metrics::LabelNames(DORA_METRIC("kafka_topic_partition_leader")) ==
        std::vector<std::string_view>{"topic", "partition"});
  static_assert(DORA_METRIC("kafka_probe_produce_latency_seconds").type == MetricType::kHistogram);
}

TEST_CASE("the self metrics render as the catalogue declares them", "[catalogue]") {
  dora::SelfMetrics self;
  self.Declare("cluster");
  self.RecordRun("cluster", dora::Status::Partial(dora::Reason::kKafka, "a broker did not answer"), 0.5);
  self.lag_clamped().Increment();
  // The notifier's families live in the same registry (alerting/notifier_metrics.h).
  dora::alerting::NotifierMetrics notifier(*self.registry());
  notifier.Declare("am-0");
  // And the incident events' (incidents/metrics.h).
  dora::incidents::IncidentMetrics incidents(*self.registry());
  const std::string text = self.Render();
  CHECK(ExpositionCatalogueMismatches(text) == std::vector<std::string>{});
  size_t families = 0;
  for (const metrics::FamilyDef& def : metrics::kCatalogue) {
    if (def.collector != "exporter") continue;
    ++families;
    INFO(def.name);
    CHECK(text.find("# TYPE " + std::string(def.name) + " " + std::string(dora::TypeName(def.type)) + "\n") !=
          std::string::npos);
  }
  CHECK(families == 27);
}

TEST_CASE("the exposition check reports a foreign family or another HELP or TYPE or an unknown label",
          "[catalogue]") {
  const std::string good =
      "# HELP kafka_topic_partitions Number of partitions of the topic.\n"
      "# TYPE kafka_topic_partitions gauge\n"
      "kafka_topic_partitions{topic=\"audit-logs\"} 3\n"
      "# HELP kafka_probe_produce_latency_seconds " +
      std::string(DORA_METRIC("kafka_probe_produce_latency_seconds").help) +
      "\n"
      "# TYPE kafka_probe_produce_latency_seconds histogram\n"
      "kafka_probe_produce_latency_seconds_bucket{broker=\"1\",le=\"+Inf\"} 1\n"
      "kafka_probe_produce_latency_seconds_sum{broker=\"1\"} 0.01\n"
      "kafka_probe_produce_latency_seconds_count{broker=\"1\"} 1\n";
  CHECK(ExpositionCatalogueMismatches(good) == std::vector<std::string>{});
  CHECK(ExpositionCatalogueMismatches(
            good + "# HELP kafka_made_up x\n# TYPE kafka_made_up gauge\nkafka_made_up 1\n") ==
        std::vector<std::string>{"kafka_made_up: exported, not in the catalogue",
                                 "kafka_made_up: a sample of no catalogue family"});
  CHECK(
      ExpositionCatalogueMismatches(Replaced(good, "of the topic.", "per topic.")) ==
      std::vector<std::string>{"kafka_topic_partitions: HELP \"Number of partitions per topic.\" is not the "
                               "catalogue's"});
  CHECK(ExpositionCatalogueMismatches(Replaced(good, "partitions gauge", "partitions counter")) ==
        std::vector<std::string>{"kafka_topic_partitions: TYPE counter, gauge in the catalogue"});
  CHECK(
      ExpositionCatalogueMismatches(Replaced(good, "{topic=", "{partition=\"0\",topic=")) ==
      std::vector<std::string>{"kafka_topic_partitions: label partition is not in the catalogue's (topic)"});
  // le belongs to the buckets only.
  CHECK(ExpositionCatalogueMismatches(Replaced(good, "_sum{broker=\"1\"}", "_sum{broker=\"1\",le=\"1\"}")) ==
        std::vector<std::string>{
            "kafka_probe_produce_latency_seconds_sum: label le is not in the catalogue's (broker)"});
}
