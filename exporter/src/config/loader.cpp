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

#include "config/schema.h"
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
  void Double(const YAML::Node& p, const std::string& k, const std::string& path, double* out) {
    Scalar(p, k, path, out, "a number");
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
};

// Reads the YAML through the schema (config/schema.h): each declared key is
// read where it is declared, and a section accepts exactly the keys declared
// in it.
class ReadVisitor {
 public:
  ReadVisitor(Reader& r, const YAML::Node& root) : r_(r) { frames_.push_back({root, "", {}}); }

  // Unknown top-level keys (call after VisitConfig).
  void Finish() {
    if (r_.OpenMap(frames_.front().node, ""))
      r_.RejectUnknown(frames_.front().node, "", frames_.front().declared);
  }

  template <typename F>
  void Section(const char* key, F&& body) {
    const YAML::Node n = Child(key);
    const std::string path = Path(key);
    if (!r_.OpenMap(n, path)) return;
    frames_.push_back({n, path, {}});
    body();
    Within(frames_.back());
    frames_.pop_back();
  }
  void Bool(const char* k, bool& v) { r_.Bool(Node(k), k, Here(), &v); }
  void Int(const char* k, int& v, const Check& = {}) { r_.Int(Node(k), k, Here(), &v); }
  void Double(const char* k, double& v) { r_.Double(Node(k), k, Here(), &v); }
  void Duration(const char* k, Millis& v, const Check& = {}) { r_.Duration(Node(k), k, Here(), &v); }
  void String(const char* k, std::string& v, const Check& = {}) { r_.String(Node(k), k, Here(), &v); }
  void StringList(const char* k, std::vector<std::string>& v, const Check& = {}) {
    r_.StringList(Node(k), k, Here(), &v);
  }
  void StringMap(const char* k, std::map<std::string, std::string>& v, bool /*secret_values*/) {
    r_.StringMap(Node(k), k, Here(), &v);
  }
  template <typename E>
  void Endpoints(const char* k, std::vector<E>& out, Millis default_timeout, const char* what) {
    Items(k, out, what, [&](E& e) {
      e.timeout = default_timeout;
      VisitEndpoint(*this, e);
    });
  }
  // A list of mappings, each read by `body(item)` from a default item.
  template <typename T, typename F>
  void Items(const char* k, std::vector<T>& out, const char* what, F&& body) {
    const YAML::Node list = Child(k);
    const std::string path = Path(k);
    if (!list.IsDefined() || list.IsNull()) return;
    if (!list.IsSequence()) {
      r_.Error(list, path, std::string("expected a list, one mapping per ") + what);
      return;
    }
    out.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string rp = path + "[" + std::to_string(i) + "]";
      T item;
      r_.Locate(list[i], rp);
      if (r_.OpenMap(list[i], rp)) {
        frames_.push_back({list[i], rp, {}});
        body(item);
        Within(frames_.back());
        frames_.pop_back();
      } else if (!list[i].IsMap()) {
        r_.Error(list[i], rp, "expected a mapping");
      }
      out.push_back(std::move(item));
    }
  }

 private:
  struct Frame {
    YAML::Node node;
    std::string path;
    std::set<std::string> declared;
  };
  // The section being read: its node, declaring `key` in it.
  const YAML::Node& Node(const char* key) {
    frames_.back().declared.insert(key);
    return frames_.back().node;
  }
  YAML::Node Child(const char* key) {
    const YAML::Node& parent = Node(key);
    return parent[key];
  }
  const std::string& Here() const { return frames_.back().path; }
  std::string Path(const char* key) const { return YamlReader::Join(Here(), key); }
  void Within(const Frame& f) { r_.RejectUnknown(f.node, f.path, f.declared); }

  Reader& r_;
  std::vector<Frame> frames_;
};

// Runs each key's own checks (config/schema.h); errors are "<key.path>: <message>".
class CheckVisitor {
 public:
  explicit CheckVisitor(ConfigErrors* e) : e_(e) {}

  template <typename F>
  void Section(const char* key, F&& body) {
    path_.In(key, body);
  }
  void Bool(const char*, const bool&) {}
  void Double(const char*, const double&) {}
  void Int(const char* k, const int& v, const Check& c = {}) {
    if (c.kind != Check::Kind::kRange || (v >= c.min && (c.max == 0 || v <= c.max))) return;
    Error(k, (c.max != 0 ? "must be between " + std::to_string(c.min) + " and " + std::to_string(c.max)
                         : "must be at least " + std::to_string(c.min)) +
                 ", got " + std::to_string(v));
  }
  void Duration(const char* k, const Millis& v, const Check& c = {}) {
    if (c.kind == Check::Kind::kPositive && v.count() <= 0) Error(k, "must be greater than 0");
  }
  void String(const char* k, const std::string& v, const Check& c = {}) {
    if (c.kind == Check::Kind::kRegex) CheckRegex(k, v);
    if (c.kind != Check::Kind::kOneOf || std::find(c.one_of.begin(), c.one_of.end(), v) != c.one_of.end())
      return;
    std::string options;
    for (size_t i = 0; i < c.one_of.size(); ++i) {
      options += (i == 0 ? "" : c.one_of.size() == 2 ? " or " : ", ") + c.one_of[i];
    }
    Error(k, (c.one_of.size() == 2 ? "expected " + options + ", got \""
                                   : "expected one of " + options + "; got \"") +
                 v + "\"");
  }
  void StringList(const char* k, const std::vector<std::string>& v, const Check& c = {}) {
    if (c.kind != Check::Kind::kRegex) return;
    for (size_t i = 0; i < v.size(); ++i) CheckRegex(std::string(k) + "[" + std::to_string(i) + "]", v[i]);
  }
  void StringMap(const char*, const std::map<std::string, std::string>&, bool) {}
  template <typename E>
  void Endpoints(const char* k, const std::vector<E>& list, Millis, const char* what) {
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& r = list[i];
      const std::string item = std::string(k) + "[" + std::to_string(i) + "]";
      if (r.url.rfind("http://", 0) != 0 && r.url.rfind("https://", 0) != 0)
        Error(item + ".url", "expected an http:// or https:// URL, got \"" + r.url + "\"");
      const std::string name = r.name.empty() ? r.url : r.name;
      if (!names.insert(name).second)
        Error(item + ".name", std::string("duplicate ") + what + " \"" + name + "\"");
      path_.In(item, [&] { VisitEndpoint(*this, r); });
    }
  }
  template <typename T, typename F>
  void Items(const char* k, const std::vector<T>& list, const char*, F&& body) {
    for (size_t i = 0; i < list.size(); ++i)
      path_.In(std::string(k) + "[" + std::to_string(i) + "]", [&] { body(list[i]); });
  }

 private:
  void CheckRegex(const std::string& key, const std::string& re) {
    try {
      std::regex compiled(re, std::regex::ECMAScript);
    } catch (const std::regex_error& ex) {
      Error(key, "invalid regular expression \"" + re + "\": " + ex.what());
    }
  }
  void Error(const std::string& key, const std::string& message) {
    e_->errors.push_back(path_.Of(key) + ": " + message);
  }

  ConfigErrors* e_;
  KeyPath path_;
};

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
    ReadVisitor v(r, root);
    VisitConfig(v, c);
    v.Finish();
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

  // Each key's own checks, from its declaration.
  CheckVisitor checks(e);
  VisitConfig(checks, c);

  std::string host;
  int port = 0;
  if (!ParseListenAddress(c.web.listen_address, &host, &port))
    e->errors.push_back("web.listen_address: expected HOST:PORT or :PORT, got \"" + c.web.listen_address +
                        "\"");
  if (c.web.telemetry_path.empty() || c.web.telemetry_path[0] != '/')
    e->errors.push_back("web.telemetry_path: must start with '/'");
  if (c.web.max_connections_per_address < 1 || c.web.max_connections_per_address > c.web.max_connections)
    e->errors.push_back("web.max_connections_per_address: must be between 1 and web.max_connections (" +
                        std::to_string(c.web.max_connections) + "), got " +
                        std::to_string(c.web.max_connections_per_address));
  if (c.retry.max_backoff < c.retry.initial_backoff)
    e->errors.push_back("retry.max_backoff: must be at least retry.initial_backoff");

  if (c.sharding.index >= c.sharding.count)
    e->errors.push_back("sharding.index: must be below sharding.count (" + std::to_string(c.sharding.count) +
                        "), got " + std::to_string(c.sharding.index));

  const auto& cc = c.collectors;
  if (!cc.cluster.expected_topics_file.empty()) {
    ConfigErrors topic_errors;
    LoadTopicsSpec(cc.cluster.expected_topics_file, &topic_errors);
    for (const auto& err : topic_errors.errors)
      e->errors.push_back("collectors.cluster.expected_topics_file: " + err);
  }
  for (const auto& [name, value] : c.alerting.external_labels) {
    const bool valid = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                       std::all_of(name.begin(), name.end(), [](char ch) {
                         return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                       });
    if (!valid || name.rfind("__", 0) == 0)
      e->errors.push_back("alerting.external_labels." + name +
                          ": not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
    else if (value.empty())
      e->errors.push_back("alerting.external_labels." + name + ": empty value (a label without a value)");
  }
  for (size_t i = 0; i < c.alerting.alertmanagers.size(); ++i) {
    const auto& am = c.alerting.alertmanagers[i];
    if (!am.username.empty() && !am.bearer_token_file.empty())
      e->errors.push_back(
          "alerting.alertmanagers[" + std::to_string(i) +
          "].bearer_token_file: set either username (basic auth) or bearer_token_file, not both");
  }
  // Endpoint credentials from files and variables: checked here like the
  // Kafka ones, so --check-config and a reload catch a missing secret.
  auto check_credentials = [&](const std::string& prefix, const auto& list) {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string at = prefix + "[" + std::to_string(i) + "].";
      const HttpEndpoint& ep = list[i];
      if (!ep.password_file.empty())
        if (Status s = CheckSecretFile(at + "password_file", ep.password_file); !s.ok)
          e->errors.push_back(s.message);
      if (!ep.password_env.empty())
        if (Status s = CheckSecretEnv(at + "password_env", ep.password_env); !s.ok)
          e->errors.push_back(s.message);
    }
  };
  check_credentials("collectors.schema_registry.registries", cc.schema_registry.registries);
  check_credentials("collectors.connect.clusters", cc.connect.clusters);
  check_credentials("alerting.alertmanagers", c.alerting.alertmanagers);
  for (size_t i = 0; i < c.alerting.alertmanagers.size(); ++i) {
    const std::string& file = c.alerting.alertmanagers[i].bearer_token_file;
    if (file.empty()) continue;
    if (Status s =
            CheckSecretFile("alerting.alertmanagers[" + std::to_string(i) + "].bearer_token_file", file);
        !s.ok)
      e->errors.push_back(s.message);
  }
  // Kafka's own rule for topic names: 1-249 of [a-zA-Z0-9._-], not "." or "..".
  // librdkafka refuses any other name (its topic constructor answers NULL).
  auto check_topic = [&](const std::string& key, const std::string& t) {
    const bool legal_chars = std::all_of(t.begin(), t.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
    });
    if (t.empty())
      e->errors.push_back(key + ": must not be empty");
    else if (t.size() > 249)
      e->errors.push_back(key + ": longer than Kafka's limit of 249 characters (" + std::to_string(t.size()) +
                          ")");
    else if (!legal_chars || t == "." || t == "..")
      e->errors.push_back(key + ": \"" + t +
                          "\" is not a legal Kafka topic name (letters, digits, '.', '_' and '-' only)");
  };
  {
    const auto& m = cc.mirror;
    const std::string at = "collectors.mirror.peer.";
    for (const auto& [prop, file] : m.peer.property_files) {
      if (Status s = CheckSecretFile(at + "property_files." + prop, file); !s.ok)
        e->errors.push_back(s.message);
    }
    for (const auto& [prop, var] : m.peer.property_env) {
      if (Status s = CheckSecretEnv(at + "property_env." + prop, var); !s.ok) e->errors.push_back(s.message);
    }
    for (const auto& err : CheckKafkaProperties(m.peer, "collectors.mirror.peer")) e->errors.push_back(err);
    if (m.enabled) {
      if (c.kafka.name.empty())
        e->errors.push_back(
            "kafka.name: required when collectors.mirror is enabled (the cluster's MirrorMaker 2 alias)");
      if (m.peer.name.empty())
        e->errors.push_back(
            at + "name: required when collectors.mirror is enabled (the peer's MirrorMaker 2 alias)");
      else if (m.peer.name == c.kafka.name)
        e->errors.push_back(at + "name: must differ from kafka.name (\"" + c.kafka.name + "\")");
      if (m.peer.bootstrap_servers.empty() && m.peer.properties.count("bootstrap.servers") == 0)
        e->errors.push_back(at + "bootstrap_servers: at least one broker address is required when enabled");
      if (m.flows.empty())
        e->errors.push_back("collectors.mirror.flows: at least one flow is required when enabled");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < m.flows.size(); ++i) {
      const auto& f = m.flows[i];
      const std::string fp = "collectors.mirror.flows[" + std::to_string(i) + "].";
      const std::set<std::string> ends = {c.kafka.name, m.peer.name};
      if (f.source.empty()) e->errors.push_back(fp + "source: required (a MirrorMaker 2 cluster alias)");
      if (f.target.empty()) e->errors.push_back(fp + "target: required (a MirrorMaker 2 cluster alias)");
      if (!f.source.empty() && !f.target.empty() &&
          (f.source == f.target || ends.count(f.source) == 0 || ends.count(f.target) == 0))
        e->errors.push_back(
            fp + "source: the flow " + f.source + "->" + f.target + " must join kafka.name (\"" +
            c.kafka.name + "\") and collectors.mirror.peer.name (\"" + m.peer.name + "\"), one on each side");
      if (!seen.insert(f.source + "->" + f.target).second)
        e->errors.push_back(fp + "source: duplicate flow " + f.source + "->" + f.target);
      if (f.separator.empty()) e->errors.push_back(fp + "separator: must not be empty");
      if (!f.offset_syncs_topic.empty()) check_topic(fp + "offset_syncs_topic", f.offset_syncs_topic);
      if (!f.checkpoints_topic.empty()) check_topic(fp + "checkpoints_topic", f.checkpoints_topic);
      if (!f.probe_topic.empty()) check_topic(fp + "probe_topic", f.probe_topic);
    }
  }
  if (cc.log_dirs.enabled && cc.log_dirs.paths.empty())
    e->errors.push_back("collectors.log_dirs.paths: at least one log dir is required when enabled");
  if (!(cc.offsets.hot_partition_share > 0 && cc.offsets.hot_partition_share <= 1))
    e->errors.push_back(
        "collectors.offsets.hot_partition_share: expected a share above 0 and at most 1, got " +
        std::to_string(cc.offsets.hot_partition_share));
  check_topic("collectors.probe.topic", cc.probe.topic);
  check_topic("incidents.topic", c.incidents.topic);
  if (c.incidents.enabled && c.incidents.spool.directory.empty())
    e->errors.push_back("incidents.spool.directory: required when incidents.enabled is true");
  if (c.incidents.format == "avro" && c.incidents.schema_registry.url.empty())
    e->errors.push_back("incidents.schema_registry.url: required when incidents.format is avro");
}

}  // namespace

void ValidateConfig(const Config& c, ConfigErrors* e) {
  size_t first = e->errors.size();
  ValidateKeys(c, e);
  for (size_t i = first; i < e->errors.size(); ++i) e->errors[i] = Place(c, e->errors[i]);
}

}  // namespace dora
