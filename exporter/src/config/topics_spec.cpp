#include "config/topics_spec.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "config/yaml_reader.h"

namespace dora {
namespace {

std::string Where(const std::string& source, const YAML::Node& n) {
  if (!n.IsDefined()) return source;
  auto m = n.Mark();
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

void ReadInt(const YAML::Node& n, const std::string& key, const std::string& path, const std::string& source,
             int64_t min, int64_t* out, ConfigErrors* errors) {
  YAML::Node v = n[key];
  if (!v.IsDefined() || v.IsNull()) return;
  try {
    int64_t x = v.as<int64_t>();
    if (x < min) throw YAML::Exception(YAML::Mark(), "range");
    *out = x;
  } catch (const YAML::Exception&) {
    errors->errors.push_back(Where(source, v) + ": " + path + "." + key + ": expected an integer >= " +
                             std::to_string(min) + ", got \"" + (v.IsScalar() ? v.Scalar() : "") + "\"");
  }
}

void CheckKeys(const YAML::Node& n, const std::string& path, const std::string& source,
               const std::set<std::string>& known, ConfigErrors* errors) {
  for (const auto& kv : n) {
    if (!known.count(kv.first.Scalar()))
      errors->errors.push_back(Where(source, kv.first) + ": " + path + "." + kv.first.Scalar() +
                               ": unknown key");
  }
}

}  // namespace

TopicsSpec ParseTopicsSpec(const std::string& yaml, const std::string& source, ConfigErrors* errors) {
  TopicsSpec spec;
  YAML::Node root;
  if (!LoadYaml(yaml, source, errors, &root)) return spec;
  if (!root.IsMap()) {
    errors->errors.push_back(source + ": expected a mapping with defaults and topics");
    return spec;
  }
  CheckKeys(root, "", source, {"defaults", "topics"}, errors);
  const std::set<std::string> settings = {"partitions", "replication_factor", "min_insync_replicas",
                                          "retention_ms"};
  TopicExpectation defaults;
  auto read_settings = [&](const YAML::Node& n, const std::string& path, TopicExpectation* t) {
    int64_t v = t->partitions;
    ReadInt(n, "partitions", path, source, 1, &v, errors);
    t->partitions = static_cast<int>(v);
    v = t->replication_factor;
    ReadInt(n, "replication_factor", path, source, 1, &v, errors);
    t->replication_factor = static_cast<int>(v);
    v = t->min_insync_replicas;
    ReadInt(n, "min_insync_replicas", path, source, 1, &v, errors);
    t->min_insync_replicas = static_cast<int>(v);
    ReadInt(n, "retention_ms", path, source, -1, &t->retention_ms, errors);
  };
  if (YAML::Node d = root["defaults"]; d.IsDefined() && !d.IsNull()) {
    if (!d.IsMap()) {
      errors->errors.push_back(Where(source, d) + ": defaults: expected a mapping");
    } else {
      CheckKeys(d, "defaults", source, settings, errors);
      read_settings(d, "defaults", &defaults);
    }
  }
  YAML::Node topics = root["topics"];
  if (!topics.IsDefined() || !topics.IsSequence()) {
    errors->errors.push_back(Where(source, topics) + ": topics: expected a list");
    return spec;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < topics.size(); ++i) {
    const std::string path = "topics[" + std::to_string(i) + "]";
    const YAML::Node& n = topics[i];
    if (!n.IsMap()) {
      errors->errors.push_back(Where(source, n) + ": " + path + ": expected a mapping with name or pattern");
      continue;
    }
    std::set<std::string> known = settings;
    known.insert({"name", "pattern"});
    CheckKeys(n, path, source, known, errors);
    TopicExpectation t = defaults;
    if (n["name"].IsDefined()) t.name = n["name"].Scalar();
    if (n["pattern"].IsDefined()) t.pattern = n["pattern"].Scalar();
    if (t.name.empty() == t.pattern.empty()) {
      errors->errors.push_back(Where(source, n) + ": " + path + ": needs exactly one of name or pattern");
      continue;
    }
    if (!t.pattern.empty()) {
      try {
        std::regex re(t.pattern);
      } catch (const std::regex_error& ex) {
        errors->errors.push_back(Where(source, n["pattern"]) + ": " + path +
                                 ".pattern: invalid regular expression: " + ex.what());
        continue;
      }
    }
    if (!t.name.empty() && !names.insert(t.name).second)
      errors->errors.push_back(Where(source, n["name"]) + ": " + path + ".name: duplicate topic \"" + t.name +
                               "\"");
    read_settings(n, path, &t);
    spec.topics.push_back(t);
  }
  return spec;
}

TopicsSpec LoadTopicsSpec(const std::string& path, ConfigErrors* errors) {
  std::string text;
  if (!ReadTextFile(path, "topics file", errors, &text)) return {};
  return ParseTopicsSpec(text, path, errors);
}

}  // namespace dora
