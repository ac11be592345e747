#include "config/yaml_reader.h"

#include <map>
#include <sstream>

#include "util/file.h"

namespace dora {

bool ReadTextFile(const std::string& path, const std::string& what, ConfigErrors* errors, std::string* out) {
  auto text = ReadRegularFile(path);
  if (!text.ok()) {
    errors->errors.push_back(path + ": cannot read " + what + ": " + text.status().message);
    return false;
  }
  *out = std::move(text.value());
  return true;
}

namespace {

std::string Where(const std::string& source, const YAML::Mark& m) {
  return source + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// Walks every mapping of the document. yaml-cpp keeps both pairs of a
// duplicated key and answers lookups with the first, silently: each later
// one is an error naming both places. Aliases are walked where they are used,
// so the walk is bounded in nodes (an alias bomb is refused) and in depth.
class DuplicateFinder {
 public:
  DuplicateFinder(const std::string& source, ConfigErrors* errors) : source_(source), errors_(errors) {}

  bool Walk(const YAML::Node& node, int depth) {
    if (++visited_ > kMaxNodes || depth > kMaxDepth) {
      errors_->errors.push_back(source_ + ": invalid YAML: more than " + std::to_string(kMaxNodes) +
                                " nodes or " + std::to_string(kMaxDepth) +
                                " levels (after expanding aliases)");
      return false;
    }
    if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!Walk(item, depth + 1)) return false;
      }
    } else if (node.IsMap()) {
      std::map<std::string, YAML::Mark> seen;
      for (const auto& kv : node) {
        if (kv.first.IsScalar()) {
          auto [it, fresh] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
          if (!fresh)
            errors_->errors.push_back(Where(source_, kv.first.Mark()) + ": duplicate key \"" +
                                      kv.first.Scalar() + "\" (first at " + Where(source_, it->second) + ")");
        }
        if (!Walk(kv.second, depth + 1)) return false;
      }
    }
    return true;
  }

 private:
  static constexpr int kMaxNodes = 200000;
  static constexpr int kMaxDepth = 64;
  const std::string& source_;
  ConfigErrors* errors_;
  int visited_ = 0;
};

}  // namespace

bool LoadYaml(const std::string& text, const std::string& source, ConfigErrors* errors, YAML::Node* root) {
  try {
    *root = YAML::Load(text);
    size_t before = errors->errors.size();
    DuplicateFinder(source, errors).Walk(*root, 0);
    return errors->errors.size() == before;
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

void YamlReader::Locate(const YAML::Node& node, const std::string& path) {
  if (!locations_ || !node.IsDefined() || node.Mark().line < 0) return;
  locations_->emplace(path, Where(source_, node.Mark()));
}

bool YamlReader::OpenMap(const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) return false;
  if (!node.IsMap()) {
    Error(node, path, "expected a mapping");
    return false;
  }
  for (const auto& kv : node) Locate(kv.first, Join(path, kv.first.IsScalar() ? kv.first.Scalar() : ""));
  return true;
}

void YamlReader::RejectUnknown(const YAML::Node& node, const std::string& path,
                               const std::set<std::string>& known) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (known.count(key) != 0) continue;
    std::string options;
    for (const auto& k : known) options += (options.empty() ? "" : ", ") + k;
    Error(kv.first, Join(path, key), "unknown key (known keys: " + options + ")");
  }
}

bool YamlReader::Map(const YAML::Node& node, const std::string& path, const std::set<std::string>& known) {
  if (!OpenMap(node, path)) return false;
  RejectUnknown(node, path, known);
  return true;
}

}  // namespace dora
