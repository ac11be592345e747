#pragma once
// Every key of the config file, declared once: its place in the YAML, its
// type, the member it sets (whose initialiser in config.h is the default) and
// the checks on its value alone. Everything else is derived from this one
// declaration by a visitor:
//   - the loader reads each key through it, and the keys a section accepts
//     are the keys declared in it (config/loader.cpp);
//   - FlattenConfig dumps each key through it (config/flatten.cpp), which
//     keeps config/exporter.yaml complete (tests/unit/test_config.cpp);
//   - ValidateConfig runs each key's checks (config/loader.cpp); checks that
//     relate two keys stay there.
// A new key is one line here plus its member in config.h.
//
// A visitor V offers Section, Bool, Int, Double, Duration, String, StringList,
// StringMap, Endpoints and Items (see the calls below); C is Config or const Config.
#include <string>
#include <type_traits>
#include <vector>

#include "config/config.h"

namespace dora {

// A check on one value. Int: Range. Duration: Positive. String, StringList:
// OneOf, Regex.
struct Check {
  enum class Kind { kNone, kRange, kPositive, kOneOf, kRegex } kind = Kind::kNone;
  long long min = 0;
  long long max = 0;  // kRange: 0 means no upper bound
  std::vector<std::string> one_of;
};
inline Check Between(long long min, long long max) { return {Check::Kind::kRange, min, max, {}}; }
inline Check AtLeast(long long min) { return {Check::Kind::kRange, min, 0, {}}; }
inline Check Positive() { return {Check::Kind::kPositive, 0, 0, {}}; }
inline Check OneOf(std::vector<std::string> values) { return {Check::Kind::kOneOf, 0, 0, std::move(values)}; }
inline Check Regex() { return {Check::Kind::kRegex, 0, 0, {}}; }

// The dotted path of the section a visitor is in: In() runs a section's body
// one level deeper; Of(key) is that key's full path.
class KeyPath {
 public:
  template <typename F>
  void In(std::string key, F&& body) {
    parts_.push_back(std::move(key));
    body();
    parts_.pop_back();
  }
  std::string Of(const std::string& key) const {
    std::string path;
    for (const auto& p : parts_) path += p + ".";
    return path + key;
  }

 private:
  std::vector<std::string> parts_;
};

template <class V, class C>
void VisitCommon(V& v, C& c) {
  v.Bool("enabled", c.enabled);
  v.Duration("interval", c.interval, Positive());
  v.Duration("timeout", c.timeout, Positive());
}

template <class V, class F>
void VisitFilter(V& v, const char* key, F& f) {
  v.Section(key, [&] {
    v.StringList("include", f.include, Regex());
    v.StringList("exclude", f.exclude, Regex());
  });
}

// One HTTP endpoint (a schema registry, a Connect cluster). Its timeout
// defaults to its collector's (the reader sets that before the visit).
template <class V, class E>
void VisitEndpoint(V& v, E& e) {
  v.String("name", e.name);
  v.String("url", e.url);
  v.String("username", e.username);
  v.String("password_file", e.password_file);
  v.String("password_env", e.password_env);
  v.String("ca_file", e.ca_file);
  v.String("cert_file", e.cert_file);
  v.String("key_file", e.key_file);
  v.Bool("insecure_skip_verify", e.insecure_skip_verify);
  v.Duration("timeout", e.timeout, Positive());
  if constexpr (std::is_base_of_v<AlertmanagerEndpoint, std::remove_const_t<E>>)
    v.String("bearer_token_file", e.bearer_token_file);
}

// A Kafka connection: the `kafka:` section, and the same keys wherever
// another cluster is named (collectors.mirror.peer).
template <class V, class K>
void VisitKafka(V& v, K& k) {
  v.String("name", k.name);
  v.StringList("bootstrap_servers", k.bootstrap_servers);
  v.String("client_id", k.client_id);
  v.StringMap("properties", k.properties, /*secret_values=*/true);
  v.StringMap("property_files", k.property_files, false);
  v.StringMap("property_env", k.property_env, false);
}

// One MirrorMaker 2 flow (collectors.mirror.flows[i]).
template <class V, class F>
void VisitMirrorFlow(V& v, F& f) {
  v.String("source", f.source);
  v.String("target", f.target);
  VisitFilter(v, "topics", f.topics);
  v.String("replication_policy", f.replication_policy, OneOf({"default", "identity"}));
  v.String("separator", f.separator);
  v.String("offset_syncs_topic", f.offset_syncs_topic);
  v.String("offset_syncs_on", f.offset_syncs_on, OneOf({"source", "target"}));
  v.String("checkpoints_topic", f.checkpoints_topic);
  v.String("probe_topic", f.probe_topic);
}

template <class V, class C>
void VisitConfig(V& v, C& c) {
  v.Section("kafka", [&] { VisitKafka(v, c.kafka); });
  v.Section("web", [&] {
    v.String("listen_address", c.web.listen_address);
    v.String("telemetry_path", c.web.telemetry_path);
    v.String("config_file", c.web.config_file);
    v.Duration("header_timeout", c.web.header_timeout, Positive());
    v.Duration("idle_timeout", c.web.idle_timeout, Positive());
    v.Duration("write_timeout", c.web.write_timeout, Positive());
    v.Int("max_connections", c.web.max_connections, AtLeast(1));
    v.Int("max_connections_per_address", c.web.max_connections_per_address);  // checked with max_connections
  });
  v.Section("log", [&] {
    v.String("level", c.log.level, OneOf({"trace", "debug", "info", "warn", "error"}));
    v.String("format", c.log.format, OneOf({"text", "json"}));
  });
  v.Section("retry", [&] {
    v.Duration("initial_backoff", c.retry.initial_backoff, Positive());
    v.Duration("max_backoff", c.retry.max_backoff);  // checked with initial_backoff
  });
  v.Section("sharding", [&] {
    v.Int("count", c.sharding.count, Between(1, 1024));
    v.Int("index", c.sharding.index, AtLeast(0));  // below count: ValidateConfig
  });
  v.Section("collectors", [&] {
    auto& cc = c.collectors;
    v.Section("cluster", [&] {
      VisitCommon(v, cc.cluster);
      v.Duration("config_refresh_interval", cc.cluster.config_refresh_interval, Positive());
      v.String("expected_topics_file", cc.cluster.expected_topics_file);
      v.Int("expected_brokers", cc.cluster.expected_brokers, Between(0, 10000));
    });
    v.Section("offsets", [&] {
      VisitCommon(v, cc.offsets);
      v.Int("partitions_per_request", cc.offsets.partitions_per_request, Between(1, 100000));
      v.Duration("rate_window", cc.offsets.rate_window, Positive());
      VisitFilter(v, "topics", cc.offsets.topics);
      v.String("dlq_topics", cc.offsets.dlq_topics, Regex());
      v.Duration("carry_for", cc.offsets.carry_for);
      v.Double("hot_partition_share", cc.offsets.hot_partition_share);  // (0, 1]: ValidateConfig
    });
    v.Section("consumer_groups", [&] {
      auto& g = cc.consumer_groups;
      VisitCommon(v, g);
      v.Int("max_in_flight", g.max_in_flight, Between(1, 1024));
      v.String("granularity", g.granularity, OneOf({"mixed", "partition", "topic"}));
      VisitFilter(v, "groups", g.groups);
      VisitFilter(v, "topics", g.topics);
      v.Int("status_window", g.status_window, Between(2, 1000));
      v.Duration("status_min_distance", g.status_min_distance);
      v.Int("lag_history_points", g.lag_history_points, Between(2, 10000));
      v.Bool("lag_exporter_metrics", g.lag_exporter_metrics);
      v.String("cluster_name", g.cluster_name);
      v.Duration("carry_for", g.carry_for);
      v.String("offsets_source", g.offsets_source, OneOf({"offset_fetch", "offsets_topic"}));
    });
    v.Section("log_dirs", [&] {
      VisitCommon(v, cc.log_dirs);
      v.String("broker_id", cc.log_dirs.broker_id);
      v.StringList("paths", cc.log_dirs.paths);
      v.Int("max_entries_per_cycle", cc.log_dirs.max_entries_per_cycle, AtLeast(1));
    });
    v.Section("broker_process", [&] {
      VisitCommon(v, cc.broker_process);
      v.String("broker_id", cc.broker_process.broker_id);
      v.String("pid_file", cc.broker_process.pid_file);
      v.String("cmdline_regex", cc.broker_process.cmdline_regex, Regex());
    });
    v.Section("probe", [&] {
      VisitCommon(v, cc.probe);
      v.String("topic", cc.probe.topic);  // Kafka's topic name rule: ValidateConfig
      v.Bool("manage_topic", cc.probe.manage_topic);
      v.Duration("sla", cc.probe.sla, Positive());
      v.Duration("topic_check_interval", cc.probe.topic_check_interval);
    });
    v.Section("broker_stats", [&] { VisitCommon(v, cc.broker_stats); });
    v.Section("schema_registry", [&] {
      VisitCommon(v, cc.schema_registry);
      v.Endpoints("registries", cc.schema_registry.registries, cc.schema_registry.timeout, "registry");
    });
    v.Section("connect", [&] {
      VisitCommon(v, cc.connect);
      v.Endpoints("clusters", cc.connect.clusters, cc.connect.timeout, "Connect cluster");
      v.Int("max_connectors", cc.connect.max_connectors, Between(1, 100000));
      v.Int("max_trace_length", cc.connect.max_trace_length, Between(20, 1000));
    });
    v.Section("mirror", [&] {
      VisitCommon(v, cc.mirror);
      v.Section("peer", [&] { VisitKafka(v, cc.mirror.peer); });
      v.Items("flows", cc.mirror.flows, "flow", [&](auto& f) { VisitMirrorFlow(v, f); });
      v.Duration("probe_interval", cc.mirror.probe_interval, Positive());
      v.Duration("probe_timeout", cc.mirror.probe_timeout, Positive());
    });
  });
  v.Section("alerting", [&] {
    v.Bool("enabled", c.alerting.enabled);
    // One section per alert the daemon evaluates (alerting/rules.h).
    v.Section("rules", [&] {
      // Not a structured binding: C++17 lambdas cannot capture one (clang refuses).
      for (auto& rule : c.alerting.rules) {
        auto& r = rule.second;
        v.Section(rule.first.c_str(), [&] {
          v.Bool("enabled", r.enabled);
          v.Double("threshold", r.threshold);
          v.Duration("for", r.for_duration);
          v.Duration("keep_firing_for", r.keep_firing_for);
          v.StringMap("labels", r.labels, false);
        });
      }
    });
    v.Duration("resend_delay", c.alerting.resend_delay, Positive());
    v.StringMap("external_labels", c.alerting.external_labels, false);  // names checked in ValidateConfig
    v.Endpoints("alertmanagers", c.alerting.alertmanagers, AlertmanagerEndpoint().timeout, "Alertmanager");
  });
  v.Section("incidents", [&] {
    v.Bool("enabled", c.incidents.enabled);
    v.String("topic", c.incidents.topic);  // Kafka's topic name rule: ValidateConfig
    v.String("format", c.incidents.format, OneOf({"json", "avro"}));
    v.String("subject_name_strategy", c.incidents.subject_name_strategy,
             OneOf({"topic", "record", "topic_record"}));
    v.Section("schema_registry",
              [&] { VisitEndpoint(v, c.incidents.schema_registry); });  // url: ValidateConfig
    v.String("instance", c.incidents.instance);
    v.String("compression", c.incidents.compression, OneOf({"none", "gzip", "snappy", "lz4", "zstd"}));
    v.Duration("renotify_interval", c.incidents.renotify_interval);
    v.Section("spool", [&] {
      v.String("directory", c.incidents.spool.directory);  // required when enabled: ValidateConfig
      v.Int("max_bytes", c.incidents.spool.max_bytes, Between(65536, 1 << 30));
    });
  });
}

}  // namespace dora
