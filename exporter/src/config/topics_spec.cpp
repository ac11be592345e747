#include "config/topics_spec.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "config/yaml_reader.h"

namespace dora {
namespace {

class TopicsReader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  // n[key] as an integer >= min into *out, when present.
  template <typename T>
  void Int(const YAML::Node& n, const std::string& key, const std::string& path, int64_t min, T* out) {
    YAML::Node v = n[key];
    if (!v.IsDefined() || v.IsNull()) return;
    try {
      int64_t x = v.as<int64_t>();
      if (x >= min) {
        *out = static_cast<T>(x);
        return;
      }
    } catch (const YAML::Exception&) {
    }
    Error(v, Join(path, key),
          "expected an integer >= " + std::to_string(min) + ", got \"" + (v.IsScalar() ? v.Scalar() : "") +
              "\"");
  }

  void Settings(const YAML::Node& n, const std::string& path, TopicExpectation* t) {
    Int(n, "partitions", path, 1, &t->partitions);
    Int(n, "replication_factor", path, 1, &t->replication_factor);
    Int(n, "min_insync_replicas", path, 1, &t->min_insync_replicas);
    Int(n, "retention_ms", path, -1, &t->retention_ms);
  }
};

const std::set<std::string> kSettings = {"partitions", "replication_factor", "min_insync_replicas",
                                         "retention_ms"};

}  // namespace

TopicsSpec ParseTopicsSpec(const std::string& yaml, const std::string& source, ConfigErrors* errors) {
  TopicsSpec spec;
  YAML::Node root;
  if (!LoadYaml(yaml, source, errors, &root)) return spec;
  if (!root.IsMap()) {
    errors->errors.push_back(source + ": expected a mapping with defaults and topics");
    return spec;
  }
  TopicsReader r(source, errors);
  r.Map(root, "", {"defaults", "topics"});
  TopicExpectation defaults;
  if (r.Map(root["defaults"], "defaults", kSettings)) r.Settings(root["defaults"], "defaults", &defaults);
  YAML::Node topics = root["topics"];
  if (!topics.IsDefined() || !topics.IsSequence()) {
    r.Error(topics, "topics", "expected a list");
    return spec;
  }
  std::set<std::string> known = kSettings;
  known.insert({"name", "pattern"});
  std::set<std::string> names;
  for (size_t i = 0; i < topics.size(); ++i) {
    const std::string path = "topics[" + std::to_string(i) + "]";
    const YAML::Node& n = topics[i];
    if (!n.IsMap()) {
      r.Error(n, path, "expected a mapping with name or pattern");
      continue;
    }
    r.Map(n, path, known);
    TopicExpectation t = defaults;
    if (n["name"].IsDefined()) t.name = n["name"].Scalar();
    if (n["pattern"].IsDefined()) t.pattern = n["pattern"].Scalar();
    if (t.name.empty() == t.pattern.empty()) {
      r.Error(n, path, "needs exactly one of name or pattern");
      continue;
    }
    if (!t.pattern.empty()) {
      try {
        std::regex re(t.pattern);
      } catch (const std::regex_error& ex) {
        r.Error(n["pattern"], path + ".pattern", std::string("invalid regular expression: ") + ex.what());
        continue;
      }
    }
    if (!t.name.empty() && !names.insert(t.name).second)
      r.Error(n["name"], path + ".name", "duplicate topic \"" + t.name + "\"");
    r.Settings(n, path, &t);
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
