#include "config/flatten.h"

#include "config/loader.h"
#include "util/secret.h"

namespace dora {
namespace {

std::string List(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

std::string Map(const std::map<std::string, std::string>& m, bool redact_secrets) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += (first ? "" : ", ") + k + ": " + (redact_secrets && IsSecretKey(k) ? "<redacted>" : v);
    first = false;
  }
  return out + "}";
}

std::string B(bool b) { return b ? "true" : "false"; }
std::string D(Millis d) { return FormatDuration(d); }

void Common(FlatConfig& f, const std::string& p, const CollectorCommon& c) {
  f.emplace_back(p + ".enabled", B(c.enabled));
  f.emplace_back(p + ".interval", D(c.interval));
  f.emplace_back(p + ".timeout", D(c.timeout));
}

void Filter(FlatConfig& f, const std::string& p, const RegexFilter& r) {
  f.emplace_back(p + ".include", List(r.include));
  f.emplace_back(p + ".exclude", List(r.exclude));
}

}  // namespace

FlatConfig FlattenConfig(const Config& c) {
  FlatConfig f;
  f.emplace_back("kafka.bootstrap_servers", List(c.kafka.bootstrap_servers));
  f.emplace_back("kafka.client_id", c.kafka.client_id);
  f.emplace_back("kafka.properties", Map(c.kafka.properties, true));
  f.emplace_back("kafka.property_files", Map(c.kafka.property_files, false));
  f.emplace_back("kafka.property_env", Map(c.kafka.property_env, false));
  f.emplace_back("web.listen_address", c.web.listen_address);
  f.emplace_back("web.telemetry_path", c.web.telemetry_path);
  f.emplace_back("web.config_file", c.web.config_file);
  f.emplace_back("web.header_timeout", D(c.web.header_timeout));
  f.emplace_back("web.idle_timeout", D(c.web.idle_timeout));
  f.emplace_back("web.write_timeout", D(c.web.write_timeout));
  f.emplace_back("web.max_connections", std::to_string(c.web.max_connections));
  f.emplace_back("web.max_connections_per_address", std::to_string(c.web.max_connections_per_address));
  f.emplace_back("log.level", c.log.level);
  f.emplace_back("log.format", c.log.format);
  f.emplace_back("retry.initial_backoff", D(c.retry.initial_backoff));
  f.emplace_back("retry.max_backoff", D(c.retry.max_backoff));
  const auto& cc = c.collectors;
  Common(f, "collectors.cluster", cc.cluster);
  f.emplace_back("collectors.cluster.config_refresh_interval", D(cc.cluster.config_refresh_interval));
  f.emplace_back("collectors.cluster.expected_topics_file", cc.cluster.expected_topics_file);
  Common(f, "collectors.offsets", cc.offsets);
  f.emplace_back("collectors.offsets.partitions_per_request",
                 std::to_string(cc.offsets.partitions_per_request));
  f.emplace_back("collectors.offsets.rate_window", D(cc.offsets.rate_window));
  Filter(f, "collectors.offsets.topics", cc.offsets.topics);
  f.emplace_back("collectors.offsets.dlq_topics", cc.offsets.dlq_topics);
  f.emplace_back("collectors.offsets.carry_for", D(cc.offsets.carry_for));
  const auto& g = cc.consumer_groups;
  Common(f, "collectors.consumer_groups", g);
  f.emplace_back("collectors.consumer_groups.max_in_flight", std::to_string(g.max_in_flight));
  f.emplace_back("collectors.consumer_groups.granularity", g.granularity);
  Filter(f, "collectors.consumer_groups.groups", g.groups);
  Filter(f, "collectors.consumer_groups.topics", g.topics);
  f.emplace_back("collectors.consumer_groups.status_window", std::to_string(g.status_window));
  f.emplace_back("collectors.consumer_groups.status_min_distance", D(g.status_min_distance));
  f.emplace_back("collectors.consumer_groups.lag_history_points", std::to_string(g.lag_history_points));
  f.emplace_back("collectors.consumer_groups.lag_exporter_metrics", B(g.lag_exporter_metrics));
  f.emplace_back("collectors.consumer_groups.cluster_name", g.cluster_name);
  f.emplace_back("collectors.consumer_groups.carry_for", D(g.carry_for));
  Common(f, "collectors.log_dirs", cc.log_dirs);
  f.emplace_back("collectors.log_dirs.broker_id", cc.log_dirs.broker_id);
  f.emplace_back("collectors.log_dirs.paths", List(cc.log_dirs.paths));
  f.emplace_back("collectors.log_dirs.max_entries_per_cycle",
                 std::to_string(cc.log_dirs.max_entries_per_cycle));
  Common(f, "collectors.probe", cc.probe);
  f.emplace_back("collectors.probe.topic", cc.probe.topic);
  f.emplace_back("collectors.probe.manage_topic", B(cc.probe.manage_topic));
  f.emplace_back("collectors.probe.sla", D(cc.probe.sla));
  f.emplace_back("collectors.probe.topic_check_interval", D(cc.probe.topic_check_interval));
  Common(f, "collectors.broker_stats", cc.broker_stats);
  Common(f, "collectors.schema_registry", cc.schema_registry);
  std::string regs = "[";
  for (size_t i = 0; i < cc.schema_registry.registries.size(); ++i) {
    const auto& r = cc.schema_registry.registries[i];
    // Registry passwords only ever come from files or the environment.
    regs += (i ? ", " : "") + std::string("{name: ") + r.name + ", url: " + r.url + "}";
  }
  f.emplace_back("collectors.schema_registry.registries", regs + "]");
  Common(f, "collectors.connect", cc.connect);
  std::string clusters = "[";
  for (size_t i = 0; i < cc.connect.clusters.size(); ++i) {
    const auto& r = cc.connect.clusters[i];
    clusters += (i ? ", " : "") + std::string("{name: ") + r.name + ", url: " + r.url + "}";
  }
  f.emplace_back("collectors.connect.clusters", clusters + "]");
  f.emplace_back("collectors.connect.max_connectors", std::to_string(cc.connect.max_connectors));
  f.emplace_back("collectors.connect.max_trace_length", std::to_string(cc.connect.max_trace_length));
  return f;
}

}  // namespace dora
