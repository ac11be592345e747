#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config/topics_spec.h"
#include "config/yaml_reader.h"
#include "kafka/properties.h"
#include "util/secret.h"

namespace dora {
namespace {

// No interval, timeout, backoff or window of this daemon is sensibly longer
// than a day; the bound also keeps every millisecond count far inside the
// 32-bit ints librdkafka takes.
constexpr Millis kMaxDuration = std::chrono::hours(24);

// Walks YAML with the schema spelled out in code; collects errors with marks.
class Reader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  template <typename T>
  void Scalar(const YAML::Node& parent, const std::string& key, const std::string& path, T* out,
              const char* what) {
    YAML::Node n = parent[key];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsScalar()) {
      Error(n, Join(path, key), std::string("expected ") + what);
      return;
    }
    try {
      *out = n.as<T>();
    } catch (const YAML::Exception&) {
      Error(n, Join(path, key), std::string("expected ") + what + ", got \"" + n.Scalar() + "\"");
    }
  }

  void Bool(const YAML::Node& p, const std::string& k, const std::string& path, bool* out) {
    Scalar(p, k, path, out, "true or false");
  }
  void Int(const YAML::Node& p, const std::string& k, const std::string& path, int* out) {
    Scalar(p, k, path, out, "an integer");
  }
  void String(const YAML::Node& p, const std::string& k, const std::string& path, std::string* out) {
    Scalar(p, k, path, out, "a string");
  }
  void Duration(const YAML::Node& p, const std::string& k, const std::string& path, Millis* out) {
    YAML::Node n = p[k];
    if (!n.IsDefined() || n.IsNull()) return;
    auto d = n.IsScalar() ? ParseDuration(n.Scalar()) : std::nullopt;
    if (!d) {
      Error(
          n, Join(path, k),
          "expected a duration like 500ms, 15s, 5m or 1h, got \"" + (n.IsScalar() ? n.Scalar() : "") + "\"");
      return;
    }
    if (*d > kMaxDuration) {
      Error(n, Join(path, k),
            "must be at most " + FormatDuration(kMaxDuration) + ", got \"" + n.Scalar() + "\"");
      return;
    }
    *out = *d;
  }
  void StringList(const YAML::Node& p, const std::string& k, const std::string& path,
                  std::vector<std::string>* out) {
    YAML::Node n = p[k];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) {
      Error(n, Join(path, k), "expected a list of strings");
      return;
    }
    out->clear();
    for (size_t i = 0; i < n.size(); ++i) {
      Locate(n[i], Join(path, k) + "[" + std::to_string(i) + "]");
      if (!n[i].IsScalar()) {
        Error(n[i], Join(path, k) + "[" + std::to_string(i) + "]", "expected a string");
        continue;
      }
      out->push_back(n[i].Scalar());
    }
  }
  void StringMap(const YAML::Node& p, const std::string& k, const std::string& path,
                 std::map<std::string, std::string>* out) {
    YAML::Node n = p[k];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsMap()) {
      Error(n, Join(path, k), "expected a mapping of strings");
      return;
    }
    for (const auto& kv : n) {
      Locate(kv.first, Join(path, k) + "." + kv.first.Scalar());
      if (!kv.second.IsScalar()) {
        Error(kv.second, Join(path, k) + "." + kv.first.Scalar(), "expected a string value");
        continue;
      }
      (*out)[kv.first.Scalar()] = kv.second.Scalar();
    }
  }

  void Common(const YAML::Node& n, const std::string& path, CollectorCommon* c) {
    Bool(n, "enabled", path, &c->enabled);
    Duration(n, "interval", path, &c->interval);
    Duration(n, "timeout", path, &c->timeout);
  }

  void Filter(const YAML::Node& p, const std::string& k, const std::string& path, RegexFilter* f) {
    YAML::Node n = p[k];
    std::string sub = Join(path, k);
    if (!Map(n, sub, {"include", "exclude"})) return;
    StringList(n, "include", sub, &f->include);
    StringList(n, "exclude", sub, &f->exclude);
  }

  // A list of HTTP endpoints (schema registries, Connect clusters); each
  // endpoint's timeout defaults to the collector's.
  void Endpoints(const YAML::Node& p, const std::string& k, const std::string& path, const std::string& what,
                 Millis default_timeout, std::vector<HttpEndpoint>* out) {
    YAML::Node list = p[k];
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) {
      Error(list, Join(path, k), "expected a list of " + what);
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string rp = Join(path, k) + "[" + std::to_string(i) + "]";
      HttpEndpoint e;
      e.timeout = default_timeout;
      Locate(list[i], rp);
      if (Map(list[i], rp,
              {"name", "url", "username", "password_file", "password_env", "ca_file", "cert_file", "key_file",
               "insecure_skip_verify", "timeout"})) {
        String(list[i], "name", rp, &e.name);
        String(list[i], "url", rp, &e.url);
        String(list[i], "username", rp, &e.username);
        String(list[i], "password_file", rp, &e.password_file);
        String(list[i], "password_env", rp, &e.password_env);
        String(list[i], "ca_file", rp, &e.ca_file);
        String(list[i], "cert_file", rp, &e.cert_file);
        String(list[i], "key_file", rp, &e.key_file);
        Bool(list[i], "insecure_skip_verify", rp, &e.insecure_skip_verify);
        Duration(list[i], "timeout", rp, &e.timeout);
      } else if (!list[i].IsMap()) {
        Error(list[i], rp, "expected a mapping");
      }
      out->push_back(std::move(e));
    }
  }
};

const std::set<std::string> kCommonKeys = {"enabled", "interval", "timeout"};

std::set<std::string> With(std::set<std::string> extra) {
  extra.insert(kCommonKeys.begin(), kCommonKeys.end());
  return extra;
}

void ParseRoot(const YAML::Node& root, Reader& r, Config* c) {
  if (!r.Map(root, "", {"kafka", "web", "log", "retry", "collectors"})) return;

  if (YAML::Node k = root["kafka"];
      r.Map(k, "kafka", {"bootstrap_servers", "client_id", "properties", "property_files", "property_env"})) {
    r.StringList(k, "bootstrap_servers", "kafka", &c->kafka.bootstrap_servers);
    r.String(k, "client_id", "kafka", &c->kafka.client_id);
    r.StringMap(k, "properties", "kafka", &c->kafka.properties);
    r.StringMap(k, "property_files", "kafka", &c->kafka.property_files);
    r.StringMap(k, "property_env", "kafka", &c->kafka.property_env);
  }
  if (YAML::Node w = root["web"];
      r.Map(w, "web",
            {"listen_address", "telemetry_path", "config_file", "header_timeout", "idle_timeout",
             "write_timeout", "max_connections", "max_connections_per_address"})) {
    r.String(w, "listen_address", "web", &c->web.listen_address);
    r.String(w, "telemetry_path", "web", &c->web.telemetry_path);
    r.String(w, "config_file", "web", &c->web.config_file);
    r.Duration(w, "header_timeout", "web", &c->web.header_timeout);
    r.Duration(w, "idle_timeout", "web", &c->web.idle_timeout);
    r.Duration(w, "write_timeout", "web", &c->web.write_timeout);
    r.Int(w, "max_connections", "web", &c->web.max_connections);
    r.Int(w, "max_connections_per_address", "web", &c->web.max_connections_per_address);
  }
  if (YAML::Node l = root["log"]; r.Map(l, "log", {"level", "format"})) {
    r.String(l, "level", "log", &c->log.level);
    r.String(l, "format", "log", &c->log.format);
  }
  if (YAML::Node b = root["retry"]; r.Map(b, "retry", {"initial_backoff", "max_backoff"})) {
    r.Duration(b, "initial_backoff", "retry", &c->retry.initial_backoff);
    r.Duration(b, "max_backoff", "retry", &c->retry.max_backoff);
  }

  YAML::Node cs = root["collectors"];
  if (!r.Map(cs, "collectors",
             {"cluster", "offsets", "consumer_groups", "log_dirs", "probe", "broker_stats", "schema_registry",
              "connect"}))
    return;
  auto& cc = c->collectors;
  if (YAML::Node n = cs["cluster"];
      r.Map(n, "collectors.cluster", With({"config_refresh_interval", "expected_topics_file"}))) {
    r.Common(n, "collectors.cluster", &cc.cluster);
    r.Duration(n, "config_refresh_interval", "collectors.cluster", &cc.cluster.config_refresh_interval);
    r.String(n, "expected_topics_file", "collectors.cluster", &cc.cluster.expected_topics_file);
  }
  if (YAML::Node n = cs["offsets"];
      r.Map(n, "collectors.offsets",
            With({"partitions_per_request", "rate_window", "topics", "dlq_topics", "carry_for"}))) {
    r.Common(n, "collectors.offsets", &cc.offsets);
    r.Int(n, "partitions_per_request", "collectors.offsets", &cc.offsets.partitions_per_request);
    r.Duration(n, "rate_window", "collectors.offsets", &cc.offsets.rate_window);
    r.Filter(n, "topics", "collectors.offsets", &cc.offsets.topics);
    r.String(n, "dlq_topics", "collectors.offsets", &cc.offsets.dlq_topics);
    r.Duration(n, "carry_for", "collectors.offsets", &cc.offsets.carry_for);
  }
  if (YAML::Node n = cs["consumer_groups"];
      r.Map(n, "collectors.consumer_groups",
            With({"max_in_flight", "granularity", "groups", "topics", "status_window", "status_min_distance",
                  "lag_history_points", "lag_exporter_metrics", "cluster_name", "carry_for"}))) {
    const std::string p = "collectors.consumer_groups";
    auto& g = cc.consumer_groups;
    r.Common(n, p, &g);
    r.Int(n, "max_in_flight", p, &g.max_in_flight);
    r.String(n, "granularity", p, &g.granularity);
    r.Filter(n, "groups", p, &g.groups);
    r.Filter(n, "topics", p, &g.topics);
    r.Int(n, "status_window", p, &g.status_window);
    r.Duration(n, "status_min_distance", p, &g.status_min_distance);
    r.Int(n, "lag_history_points", p, &g.lag_history_points);
    r.Bool(n, "lag_exporter_metrics", p, &g.lag_exporter_metrics);
    r.String(n, "cluster_name", p, &g.cluster_name);
    r.Duration(n, "carry_for", p, &g.carry_for);
  }
  if (YAML::Node n = cs["log_dirs"];
      r.Map(n, "collectors.log_dirs", With({"broker_id", "paths", "max_entries_per_cycle"}))) {
    const std::string p = "collectors.log_dirs";
    r.Common(n, p, &cc.log_dirs);
    r.String(n, "broker_id", p, &cc.log_dirs.broker_id);
    r.StringList(n, "paths", p, &cc.log_dirs.paths);
    r.Int(n, "max_entries_per_cycle", p, &cc.log_dirs.max_entries_per_cycle);
  }
  if (YAML::Node n = cs["probe"];
      r.Map(n, "collectors.probe", With({"topic", "manage_topic", "sla", "topic_check_interval"}))) {
    const std::string p = "collectors.probe";
    r.Common(n, p, &cc.probe);
    r.String(n, "topic", p, &cc.probe.topic);
    r.Bool(n, "manage_topic", p, &cc.probe.manage_topic);
    r.Duration(n, "sla", p, &cc.probe.sla);
    r.Duration(n, "topic_check_interval", p, &cc.probe.topic_check_interval);
  }
  if (YAML::Node n = cs["broker_stats"]; r.Map(n, "collectors.broker_stats", kCommonKeys)) {
    r.Common(n, "collectors.broker_stats", &cc.broker_stats);
  }
  if (YAML::Node n = cs["schema_registry"]; r.Map(n, "collectors.schema_registry", With({"registries"}))) {
    const std::string p = "collectors.schema_registry";
    r.Common(n, p, &cc.schema_registry);
    r.Endpoints(n, "registries", p, "registries", cc.schema_registry.timeout, &cc.schema_registry.registries);
  }
  if (YAML::Node n = cs["connect"];
      r.Map(n, "collectors.connect", With({"clusters", "max_connectors", "max_trace_length"}))) {
    const std::string p = "collectors.connect";
    r.Common(n, p, &cc.connect);
    r.Endpoints(n, "clusters", p, "Connect clusters", cc.connect.timeout, &cc.connect.clusters);
    r.Int(n, "max_connectors", p, &cc.connect.max_connectors);
    r.Int(n, "max_trace_length", p, &cc.connect.max_trace_length);
  }
}

void CheckCommon(const std::string& path, const CollectorCommon& c, ConfigErrors* e) {
  if (c.interval.count() <= 0) e->errors.push_back(path + ".interval: must be greater than 0");
  if (c.timeout.count() <= 0) e->errors.push_back(path + ".timeout: must be greater than 0");
}

void CheckRegexes(const std::string& path, const RegexFilter& f, ConfigErrors* e) {
  auto check = [&](const std::vector<std::string>& list, const char* which) {
    for (size_t i = 0; i < list.size(); ++i) {
      try {
        std::regex re(list[i], std::regex::ECMAScript);
      } catch (const std::regex_error& ex) {
        e->errors.push_back(path + "." + which + "[" + std::to_string(i) +
                            "]: invalid regular expression \"" + list[i] + "\": " + ex.what());
      }
    }
  };
  check(f.include, "include");
  check(f.exclude, "exclude");
}

void CheckEndpoints(const std::string& path, const std::string& what, const std::vector<HttpEndpoint>& list,
                    ConfigErrors* e) {
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& r = list[i];
    const std::string p = path + "[" + std::to_string(i) + "]";
    if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0)
      e->errors.push_back(p + ".url: expected an http:// or https:// URL, got \"" + r.url + "\"");
    std::string name = r.name.empty() ? r.url : r.name;
    if (!names.insert(name).second) e->errors.push_back(p + ".name: duplicate " + what + " \"" + name + "\"");
    if (r.timeout.count() <= 0) e->errors.push_back(p + ".timeout: must be greater than 0");
  }
}

}  // namespace

std::string ConfigErrors::Joined() const {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

Config ParseConfig(const std::string& yaml_text, const std::string& source, ConfigErrors* errors) {
  Config c;
  c.source_file = source;
  YAML::Node root;
  if (!LoadYaml(yaml_text, source, errors, &root)) return c;
  Reader r(source, errors, &c.locations);
  try {
    ParseRoot(root, r, &c);
  } catch (const YAML::Exception& ex) {  // defensive: yaml-cpp throws on odd shapes
    errors->errors.push_back(source + ": " + ex.what());
  }
  return c;
}

Config LoadConfigFile(const std::string& path, ConfigErrors* errors) {
  std::string text;
  if (!ReadTextFile(path, "config file (--config)", errors, &text)) {
    Config c;
    c.source_file = path;
    return c;
  }
  return ParseConfig(text, path, errors);
}

bool ParseListenAddress(const std::string& addr, std::string* host, int* port) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = addr.substr(0, colon);
  std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  int n = std::stoi(p);
  if (n < 0 || n > 65535) return false;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) h = "0.0.0.0";
  *host = h;
  *port = n;
  return true;
}

namespace {

// Puts "<where>: " before a validation error "<key.path>: <message>": the
// place the key (or, failing that, its nearest parent) was set, else the file.
std::string Place(const Config& c, const std::string& error) {
  std::string path = error.substr(0, error.find(": "));
  while (!path.empty()) {
    if (auto it = c.locations.find(path); it != c.locations.end()) return it->second + ": " + error;
    size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return c.source_file.empty() ? error : c.source_file + ": " + error;
}

void ValidateKeys(const Config& c, ConfigErrors* e) {
  if (c.kafka.bootstrap_servers.empty() && c.kafka.properties.count("bootstrap.servers") == 0)
    e->errors.push_back("kafka.bootstrap_servers: at least one broker address is required");
  for (const auto& [prop, file] : c.kafka.property_files) {
    if (Status s = CheckSecretFile("kafka.property_files." + prop, file); !s.ok)
      e->errors.push_back(s.message);
  }
  for (const auto& [prop, var] : c.kafka.property_env) {
    if (Status s = CheckSecretEnv("kafka.property_env." + prop, var); !s.ok) e->errors.push_back(s.message);
  }
  // librdkafka is the authority on its own properties: try every one on a scratch conf.
  for (const auto& err : CheckKafkaProperties(c.kafka)) e->errors.push_back(err);

  std::string host;
  int port = 0;
  if (!ParseListenAddress(c.web.listen_address, &host, &port))
    e->errors.push_back("web.listen_address: expected HOST:PORT or :PORT, got \"" + c.web.listen_address +
                        "\"");
  if (c.web.telemetry_path.empty() || c.web.telemetry_path[0] != '/')
    e->errors.push_back("web.telemetry_path: must start with '/'");
  for (const auto& [key, d] : {std::pair<const char*, Millis>{"header_timeout", c.web.header_timeout},
                               {"idle_timeout", c.web.idle_timeout},
                               {"write_timeout", c.web.write_timeout}}) {
    if (d.count() <= 0) e->errors.push_back(std::string("web.") + key + ": must be greater than 0");
  }
  if (c.web.max_connections < 1)
    e->errors.push_back("web.max_connections: must be at least 1, got " +
                        std::to_string(c.web.max_connections));
  if (c.web.max_connections_per_address < 1 || c.web.max_connections_per_address > c.web.max_connections)
    e->errors.push_back("web.max_connections_per_address: must be between 1 and web.max_connections (" +
                        std::to_string(c.web.max_connections) + "), got " +
                        std::to_string(c.web.max_connections_per_address));
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (kLevels.count(c.log.level) == 0)
    e->errors.push_back("log.level: expected one of trace, debug, info, warn, error; got \"" + c.log.level +
                        "\"");
  if (c.log.format != "text" && c.log.format != "json")
    e->errors.push_back("log.format: expected text or json, got \"" + c.log.format + "\"");
  if (c.retry.initial_backoff.count() <= 0)
    e->errors.push_back("retry.initial_backoff: must be greater than 0");
  if (c.retry.max_backoff < c.retry.initial_backoff)
    e->errors.push_back("retry.max_backoff: must be at least retry.initial_backoff");

  const auto& cc = c.collectors;
  CheckCommon("collectors.cluster", cc.cluster, e);
  if (cc.cluster.config_refresh_interval.count() <= 0)
    e->errors.push_back("collectors.cluster.config_refresh_interval: must be greater than 0");
  if (!cc.cluster.expected_topics_file.empty()) {
    ConfigErrors topic_errors;
    LoadTopicsSpec(cc.cluster.expected_topics_file, &topic_errors);
    for (const auto& err : topic_errors.errors)
      e->errors.push_back("collectors.cluster.expected_topics_file: " + err);
  }
  CheckCommon("collectors.offsets", cc.offsets, e);
  if (cc.offsets.partitions_per_request < 1 || cc.offsets.partitions_per_request > 100000)
    e->errors.push_back("collectors.offsets.partitions_per_request: must be between 1 and 100000");
  if (cc.offsets.rate_window.count() <= 0)
    e->errors.push_back("collectors.offsets.rate_window: must be greater than 0");
  CheckRegexes("collectors.offsets.topics", cc.offsets.topics, e);
  try {
    std::regex re(cc.offsets.dlq_topics, std::regex::ECMAScript);
  } catch (const std::regex_error& ex) {
    e->errors.push_back("collectors.offsets.dlq_topics: invalid regular expression \"" +
                        cc.offsets.dlq_topics + "\": " + ex.what());
  }
  CheckCommon("collectors.consumer_groups", cc.consumer_groups, e);
  if (cc.consumer_groups.max_in_flight < 1 || cc.consumer_groups.max_in_flight > 1024)
    e->errors.push_back("collectors.consumer_groups.max_in_flight: must be between 1 and 1024");
  if (cc.consumer_groups.granularity != "partition" && cc.consumer_groups.granularity != "topic")
    e->errors.push_back("collectors.consumer_groups.granularity: expected partition or topic, got \"" +
                        cc.consumer_groups.granularity + "\"");
  if (cc.consumer_groups.status_window < 2 || cc.consumer_groups.status_window > 1000)
    e->errors.push_back("collectors.consumer_groups.status_window: must be between 2 and 1000");
  if (cc.consumer_groups.lag_history_points < 2 || cc.consumer_groups.lag_history_points > 10000)
    e->errors.push_back("collectors.consumer_groups.lag_history_points: must be between 2 and 10000");
  CheckRegexes("collectors.consumer_groups.groups", cc.consumer_groups.groups, e);
  CheckRegexes("collectors.consumer_groups.topics", cc.consumer_groups.topics, e);
  CheckCommon("collectors.log_dirs", cc.log_dirs, e);
  if (cc.log_dirs.enabled && cc.log_dirs.paths.empty())
    e->errors.push_back("collectors.log_dirs.paths: at least one log dir is required when enabled");
  if (cc.log_dirs.max_entries_per_cycle < 1)
    e->errors.push_back("collectors.log_dirs.max_entries_per_cycle: must be at least 1");
  CheckCommon("collectors.probe", cc.probe, e);
  {
    // Kafka's own rule for topic names: 1-249 of [a-zA-Z0-9._-], not "." or "..".
    // librdkafka refuses any other name (its topic constructor answers NULL).
    const std::string& t = cc.probe.topic;
    const bool legal_chars = std::all_of(t.begin(), t.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
    });
    if (t.empty())
      e->errors.push_back("collectors.probe.topic: must not be empty");
    else if (t.size() > 249)
      e->errors.push_back("collectors.probe.topic: longer than Kafka's limit of 249 characters (" +
                          std::to_string(t.size()) + ")");
    else if (!legal_chars || t == "." || t == "..")
      e->errors.push_back("collectors.probe.topic: \"" + t +
                          "\" is not a legal Kafka topic name (letters, digits, '.', '_' and '-' only)");
  }
  if (cc.probe.sla.count() <= 0) e->errors.push_back("collectors.probe.sla: must be greater than 0");
  CheckCommon("collectors.broker_stats", cc.broker_stats, e);
  CheckCommon("collectors.schema_registry", cc.schema_registry, e);
  CheckEndpoints("collectors.schema_registry.registries", "registry", cc.schema_registry.registries, e);
  CheckCommon("collectors.connect", cc.connect, e);
  CheckEndpoints("collectors.connect.clusters", "Connect cluster", cc.connect.clusters, e);
  if (cc.connect.max_connectors < 1 || cc.connect.max_connectors > 100000)
    e->errors.push_back("collectors.connect.max_connectors: must be between 1 and 100000");
  if (cc.connect.max_trace_length < 20 || cc.connect.max_trace_length > 1000)
    e->errors.push_back("collectors.connect.max_trace_length: must be between 20 and 1000");
}

}  // namespace

void ValidateConfig(const Config& c, ConfigErrors* e) {
  size_t first = e->errors.size();
  ValidateKeys(c, e);
  for (size_t i = first; i < e->errors.size(); ++i) e->errors[i] = Place(c, e->errors[i]);
}

}  // namespace dora
