#include "config/yaml_reader.h"

#include <sstream>

namespace dora {

void YamlReader::Error(const YAML::Node& node, const std::string& path, const std::string& msg) {
  std::ostringstream os;
  os << source_;
  if (node.IsDefined()) {
    const YAML::Mark m = node.Mark();
    if (m.line >= 0) os << ":" << (m.line + 1) << ":" << (m.column + 1);
  }
  os << ": " << (path.empty() ? "<root>" : path) << ": " << msg;
  errors_->errors.push_back(os.str());
}

bool YamlReader::Map(const YAML::Node& node, const std::string& path, const std::set<std::string>& known) {
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    Error(node, path, "expected a mapping");
    return false;
  }
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (known.count(key) == 0) {
      std::string options;
      for (const auto& k : known) options += (options.empty() ? "" : ", ") + k;
      Error(kv.first, Join(path, key), "unknown key (known keys: " + options + ")");
    }
  }
  return true;
}

}  // namespace dora
