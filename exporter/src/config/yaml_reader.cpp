#include "config/yaml_reader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dora {

bool ReadTextFile(const std::string& path, const std::string& what, ConfigErrors* errors, std::string* out) {
  std::ifstream in(path);
  if (!in) {
    errors->errors.push_back(path + ": cannot read " + what + ": " + std::strerror(errno));
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool LoadYaml(const std::string& text, const std::string& source, ConfigErrors* errors, YAML::Node* root) {
  try {
    *root = YAML::Load(text);
    return true;
  } catch (const YAML::ParserException& ex) {
    errors->errors.push_back(source + ":" + std::to_string(ex.mark.line + 1) + ":" +
                             std::to_string(ex.mark.column + 1) + ": invalid YAML: " + ex.msg);
  } catch (const YAML::Exception& ex) {
    errors->errors.push_back(source + ": invalid YAML: " + ex.what());
  }
  return false;
}

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
