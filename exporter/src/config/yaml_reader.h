#pragma once
// The strict YAML walk shared by every file the daemon reads (the config, the
// web config): errors carry "<file>:<line>:<column>: <key.path>: <message>"
// and unknown keys are errors that list the known ones. Readers of one file
// derive from it and add the value types that file needs.
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>

#include "config/loader.h"

namespace dora {

// Reads a whole regular file into *out (util/file.h). On failure (missing, a
// directory, unreadable) records "<path>: cannot read <what>: <reason>" and
// returns false: a file that cannot be read is never taken as empty.
bool ReadTextFile(const std::string& path, const std::string& what, ConfigErrors* errors, std::string* out);

// Parses `text` as YAML into *root. On failure records "<source>:<line>:<column>:
// invalid YAML: <reason>" (or "<source>: invalid YAML: ..." without a mark) and
// returns false. A key given twice in one mapping is an error too, at the
// second place, naming the first (yaml-cpp would silently use the first).
bool LoadYaml(const std::string& text, const std::string& source, ConfigErrors* errors, YAML::Node* root);

class YamlReader {
 public:
  // `locations` (optional) receives "<file>:<line>:<column>" of every key
  // walked, by key path, for errors found after the walk (ValidateConfig).
  YamlReader(std::string source, ConfigErrors* errors,
             std::map<std::string, std::string>* locations = nullptr)
      : source_(std::move(source)), errors_(errors), locations_(locations) {}

  // Records an error at `node`'s mark (when it has one) for key path `path`.
  void Error(const YAML::Node& node, const std::string& path, const std::string& msg);

  // Remembers where the key (or list item) at `path` is, if locations are kept.
  void Locate(const YAML::Node& node, const std::string& path);

  // Checks `node` is a mapping (or null/absent: returns false, no error) and
  // that every key is in `known`.
  bool Map(const YAML::Node& node, const std::string& path, const std::set<std::string>& known);
  // Map in two steps, for a reader that learns the known keys while it reads
  // (config/schema.h): OpenMap checks the shape and locates every key;
  // RejectUnknown reports each key not in `known`, listing them.
  bool OpenMap(const YAML::Node& node, const std::string& path);
  void RejectUnknown(const YAML::Node& node, const std::string& path, const std::set<std::string>& known);

  const std::string& source() const { return source_; }

  // "a.b" (or "b" at the root).
  static std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

 private:
  std::string source_;
  ConfigErrors* errors_;
  std::map<std::string, std::string>* locations_;
};

}  // namespace dora
