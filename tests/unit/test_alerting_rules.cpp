// The evaluator's alerts against rules/dora-kafka.rules.yml (name, severity
// and other labels, threshold and operator, for, keep_firing_for, annotation
// texts), and the template rendering.
#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include <regex>

#include "alerting/rules.h"
#include "config/config.h"
#include "util/duration.h"

using namespace dora;
using namespace dora::alerting;

namespace {

std::string Str(const YAML::Node& n) { return n ? n.as<std::string>() : std::string(); }

Millis Dur(const YAML::Node& n) {
  if (!n) return Millis(0);
  auto d = ParseDuration(n.as<std::string>());
  return d ? *d : Millis(-1);
}

std::string Num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Every way the evaluator's rules and defaults differ from the rules file.
std::vector<std::string> Disagreements(const YAML::Node& file, const AlertingConfig& defaults) {
  std::map<std::string, YAML::Node> alerts;
  for (const auto& group : file["groups"])
    for (const auto& rule : group["rules"])
      if (rule["alert"]) alerts.emplace(rule["alert"].as<std::string>(), YAML::Node(rule));
  std::vector<std::string> out;
  if (defaults.rules.size() != Rules().size()) out.push_back("the defaults are not one per rule");
  for (const RuleDef& def : Rules()) {
    const std::string name = def.name;
    auto it = alerts.find(name);
    if (it == alerts.end()) {
      out.push_back(name + ": not in the rules file");
      continue;
    }
    const YAML::Node& r = it->second;
    auto d = defaults.rules.find(name);
    if (d == defaults.rules.end()) {
      out.push_back(name + ": no default configuration");
      continue;
    }
    std::map<std::string, std::string> labels;
    for (const auto& kv : r["labels"]) labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
    std::map<std::string, std::string> ours = d->second.labels;
    ours["severity"] = def.severity;
    if (labels != ours) out.push_back(name + ": labels differ");
    if (Dur(r["for"]) != d->second.for_duration)
      out.push_back(name + ": for " + Str(r["for"]) + " in the file, " +
                    FormatDuration(d->second.for_duration));
    if (Dur(r["keep_firing_for"]) != d->second.keep_firing_for)
      out.push_back(name + ": keep_firing_for differs");
    // The comparison the expression ends with: operator and constant.
    std::string expr = Str(r["expr"]);
    while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.pop_back();
    std::smatch m;
    Op op = Op::kNone;
    double threshold = 0;
    if (std::regex_search(expr, m, std::regex(R"((>|==|<)\s*([0-9][0-9.]*)$)"))) {
      op = m[1] == ">" ? Op::kGreater : m[1] == "==" ? Op::kEqual : Op::kLess;
      threshold = std::stod(m[2]);
    }
    if (op != def.op) out.push_back(name + ": another comparison than the expression's (" + expr + ")");
    if (op != Op::kNone && threshold != d->second.threshold)
      out.push_back(name + ": threshold " + Num(threshold) + " in the file, " + Num(d->second.threshold));
    const auto& a = r["annotations"];
    if (Str(a["summary"]) != def.summary) out.push_back(name + ": summary differs");
    if (Str(a["description"]) != def.description) out.push_back(name + ": description differs");
    if (Str(a["runbook_url"]) != def.runbook_url) out.push_back(name + ": runbook_url differs");
  }
  return out;
}

}  // namespace

TEST_CASE("rules/dora-kafka.rules.yml and the evaluator's defaults agree on every alert they share",
          "[alerting]") {
  const YAML::Node file = YAML::LoadFile(std::string(DORA_SOURCE_DIR) + "/rules/dora-kafka.rules.yml");
  CHECK(Disagreements(file, AlertingConfig{}) == std::vector<std::string>{});
  CHECK(Rules().size() == 16);

  SECTION("a changed threshold, for or label is reported") {
    AlertingConfig changed;
    changed.rules["KafkaBrokerDiskUsageHigh"].threshold = 0.85;
    changed.rules["KafkaTopicPartitionOffline"].for_duration = Millis(120000);
    changed.rules["KafkaConsumerGroupLagHigh"].labels["team"] = "x";
    CHECK(Disagreements(file, changed) ==
          std::vector<std::string>{"KafkaConsumerGroupLagHigh: labels differ",
                                   "KafkaBrokerDiskUsageHigh: threshold 0.8 in the file, 0.85",
                                   "KafkaTopicPartitionOffline: for 1m in the file, 2m"});
  }
  SECTION("a changed rules file is reported") {
    YAML::Node edited = YAML::Clone(file);
    for (auto group : edited["groups"])
      for (auto rule : group["rules"])
        if (rule["alert"] && rule["alert"].as<std::string>() == "KafkaSchemaRegistryDown") rule["for"] = "3m";
    CHECK(Disagreements(edited, AlertingConfig{}) ==
          std::vector<std::string>{"KafkaSchemaRegistryDown: for 3m in the file, 2m"});
  }
}

TEST_CASE("every family a rule reads is tapped, except the runner's success series", "[alerting]") {
  CHECK(TappedFamilies() == std::set<std::string>{"kafka_broker_process_cpu_limit_cores",
                                                  "kafka_broker_process_cpu_seconds_total",
                                                  "kafka_broker_process_max_fds",
                                                  "kafka_broker_process_open_fds",
                                                  "kafka_broker_process_start_time_seconds",
                                                  "kafka_brokers",
                                                  "kafka_brokers_expected",
                                                  "kafka_cluster_partition_underminisr",
                                                  "kafka_consumergroup_expired_messages",
                                                  "kafka_consumergroup_lag_retention_ratio",
                                                  "kafka_consumergroup_lag_sum",
                                                  "kafka_consumergroup_partition_status",
                                                  "kafka_log_dir_used_ratio",
                                                  "kafka_probe_produce_errors_total",
                                                  "kafka_probe_produce_latency_seconds",
                                                  "kafka_schema_registry_up",
                                                  "kafka_topic_hot_partition_share_threshold",
                                                  "kafka_topic_hottest_partition_write_share",
                                                  "kafka_topic_messages_in_per_second",
                                                  "kafka_topic_partition_offline"});
}

TEST_CASE("alert templates look a series up with query, as Prometheus does", "[alerting]") {
  const Labels l{{"instance", "kx:9308"}};
  const std::string text =
      "fewer{{ with printf \"kafka_brokers_expected{instance=%q}\" $labels.instance | query }} than "
      "{{ . | first | value | printf \"%.0f\" }} ({{ $labels.instance }}){{ end }}.";
  Samples in;
  // Without the series, or with another instance's, the body is left out.
  CHECK(RenderTemplate(text, l, 2, &in) == "fewer.");
  in["kafka_brokers_expected"] = {{{{"instance", "other:9308"}}, 5}};
  CHECK(RenderTemplate(text, l, 2, &in) == "fewer.");
  in["kafka_brokers_expected"].push_back({{{"instance", "kx:9308"}}, 3});
  CHECK(RenderTemplate(text, l, 2, &in) == "fewer than 3 (kx:9308).");
  CHECK(RenderTemplate(text, l, 2, nullptr) == "fewer.");
  // The daemon's own series have no instance label: instance="" matches them.
  Samples own;
  own["kafka_brokers_expected"] = {{{}, 4}};
  CHECK(RenderTemplate(text, Labels{}, 2, &own) == "fewer than 4 ().");
  CHECK(RenderTemplate("{{ with query \"kafka_brokers_expected\" }}{{ . | first | value }}{{ end }}", l, 0,
                       &own) == "4");
}

TEST_CASE("alert templates render labels and values as Prometheus does", "[alerting]") {
  const Labels l{{"consumergroup", "orders"}, {"broker", "1"}};
  CHECK(RenderTemplate("group {{ $labels.consumergroup }} on {{ $labels.instance }}.", l, 0) ==
        "group orders on .");
  CHECK(RenderTemplate("{{ $value | printf \"%.0f\" }}", l, 11000.4) == "11000");
  CHECK(RenderTemplate("{{ $value | printf \"%.2f\" }}", l, 0.5) == "0.50");
  CHECK(RenderTemplate("{{ $value | humanizePercentage }}", l, 0.8512) == "85.12%");
  CHECK(RenderTemplate("{{ $value | humanizePercentage }}", l, 0.85) == "85%");
  CHECK(RenderTemplate("{{ $value | humanizeDuration }}", l, 9.2) == "9.2s");
  CHECK(RenderTemplate("{{ $value | humanizeDuration }}", l, 0.25) == "250ms");
  CHECK(RenderTemplate("{{ $value | humanizeDuration }}", l, 90) == "1m 30s");
  CHECK(RenderTemplate("{{ $value | humanizeDuration }}", l, 3700) == "1h 1m 40s");
  CHECK(RenderTemplate("{{ $value | humanizeDuration }}", l, 90000) == "1d 1h 0m 0s");
  CHECK(RenderTemplate("{{ $value | humanize }}", l, 123456) == "123.5k");
  CHECK(RenderTemplate("{{ $value }} and {{$value}}", l, 0.1) == "0.1 and 0.1");
  CHECK(RenderTemplate("no template", l, 1) == "no template");
}

TEST_CASE("histogram_quantile interpolates within the bucket as Prometheus does", "[alerting]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(HistogramQuantile(0.99, {{1, 150}, {5, 150}, {10, 160}, {inf, 160}}) == Approx(9.2));
  CHECK(HistogramQuantile(0.5, {{1, 50}, {2, 100}, {inf, 100}}) == Approx(1.0));
  // In the +Inf bucket: the highest finite bound.
  CHECK(HistogramQuantile(0.99, {{1, 10}, {5, 20}, {inf, 100}}) == 5);
  CHECK(std::isnan(HistogramQuantile(0.99, {{1, 0}, {inf, 0}})));
  CHECK(std::isnan(HistogramQuantile(0.99, {{1, 3}})));
}
