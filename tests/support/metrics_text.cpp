#include "support/metrics_text.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "metrics/catalogue.h"

namespace dora::test {

std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string key = line.substr(i, eq - i);
        i = eq + 2;  // skip ="
        std::string val;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            char n = line[i + 1];
            val += n == 'n' ? '\n' : n;
            i += 2;
          } else {
            val += line[i++];
          }
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = val;
      }
      ++i;  // }
    }
    while (i < line.size() && line[i] == ' ') ++i;
    std::string v = line.substr(i);
    if (auto sp = v.find(' '); sp != std::string::npos) v = v.substr(0, sp);  // timestamp
    if (v == "+Inf")
      s.value = 1.0 / 0.0;
    else if (v == "-Inf")
      s.value = -1.0 / 0.0;
    else
      s.value = std::strtod(v.c_str(), nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Sample> FindAll(const std::vector<Sample>& samples, const std::string& name,
                            const std::map<std::string, std::string>& labels) {
  std::vector<Sample> out;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) out.push_back(s);
  }
  return out;
}

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& name,
                           const std::map<std::string, std::string>& labels) {
  auto all = FindAll(samples, name, labels);
  if (all.size() != 1) return std::nullopt;
  return all[0].value;
}

std::set<std::string> DocumentedMetrics() {
  std::set<std::string> out;
  for (const DocumentedFamily& d : DocumentedFamilies(ReadSourceFile("docs/metrics.md"))) out.insert(d.name);
  return out;
}

std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/" + relative_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<DocumentedFamily> DocumentedFamilies(const std::string& markdown) {
  std::vector<DocumentedFamily> out;
  std::istringstream in(markdown);
  std::regex row(R"(^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \| ([a-z]+) \| ([^|]*)\| [^|]*\| ([^|]*)\|\s*$)");
  std::string section;
  std::smatch m;
  auto trim = [](std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) section = line.substr(3);
    if (!std::regex_match(line, m, row)) continue;
    out.push_back({m[1], m[2], trim(m[3]), section, trim(m[4])});
  }
  return out;
}

namespace {

// The collector a docs/metrics.md section is about: its heading's first word,
// lower case ("Exporter (always)": exporter, "cluster: topic conformance": cluster).
std::string SectionCollector(const std::string& section) {
  std::string out = section.substr(0, section.find_first_of(": "));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const metrics::FamilyDef* Lookup(std::string_view name) {
  const size_t i = metrics::IndexOf(name);
  return i < metrics::kCatalogueSize ? &metrics::kCatalogue[i] : nullptr;
}

}  // namespace

std::vector<std::string> DocsCatalogueMismatches(const std::string& markdown) {
  std::vector<std::string> out;
  std::set<std::string> documented;
  for (const DocumentedFamily& d : DocumentedFamilies(markdown)) {
    if (!documented.insert(d.name).second) out.push_back(d.name + ": documented twice");
    const metrics::FamilyDef* def = Lookup(d.name);
    if (def == nullptr) {
      out.push_back(d.name + ": documented, not in the catalogue");
      continue;
    }
    if (d.type != TypeName(def->type)) {
      out.push_back(d.name + ": type " + d.type + " documented, " + std::string(TypeName(def->type)) +
                    " in the catalogue");
    }
    if (d.labels != def->labels) {
      out.push_back(d.name + ": labels \"" + d.labels + "\" documented, \"" + std::string(def->labels) +
                    "\" in the catalogue");
    }
    if (SectionCollector(d.section) != def->collector) {
      out.push_back(d.name + ": documented under \"" + d.section + "\", collector " +
                    std::string(def->collector) + " in the catalogue");
    }
    if (d.source != def->source) {
      out.push_back(d.name + ": source \"" + d.source + "\" documented, \"" + std::string(def->source) +
                    "\" in the catalogue");
    }
  }
  for (const metrics::FamilyDef& def : metrics::kCatalogue) {
    if (documented.count(std::string(def.name)) == 0) {
      out.push_back(std::string(def.name) + ": in the catalogue, not documented");
    }
  }
  return out;
}

std::vector<std::string> ExpositionCatalogueMismatches(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const bool help = line[2] == 'H';
      const size_t space = line.find(' ', 7);
      const std::string name = line.substr(7, space - 7);
      std::string rest = space == std::string::npos ? "" : line.substr(space + 1);
      const metrics::FamilyDef* def = Lookup(name);
      if (def == nullptr) {
        if (help) out.push_back(name + ": exported, not in the catalogue");
        continue;
      }
      if (help) {
        std::string unescaped;
        for (size_t i = 0; i < rest.size(); ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) {
            ++i;
            unescaped += rest[i] == 'n' ? '\n' : rest[i];
          } else {
            unescaped += rest[i];
          }
        }
        if (unescaped != def->help)
          out.push_back(name + ": HELP \"" + unescaped + "\" is not the catalogue's");
      } else if (rest != TypeName(def->type)) {
        out.push_back(name + ": TYPE " + rest + ", " + std::string(TypeName(def->type)) +
                      " in the catalogue");
      }
    }
  }
  for (const Sample& s : ParseExposition(text)) {
    const metrics::FamilyDef* def = Lookup(s.name);
    bool bucket = false;
    if (def == nullptr) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string_view sv(suffix);
        if (s.name.size() > sv.size() && s.name.compare(s.name.size() - sv.size(), sv.size(), sv) == 0) {
          def = Lookup(std::string_view(s.name).substr(0, s.name.size() - sv.size()));
          if (def != nullptr && def->type != MetricType::kHistogram) def = nullptr;
          bucket = def != nullptr && sv == "_bucket";
          if (def != nullptr) break;
        }
      }
    }
    if (def == nullptr) {
      out.push_back(s.name + ": a sample of no catalogue family");
      continue;
    }
    // An alert's series carry every label of the alert.
    if (def->collector == "alerting") continue;
    const std::vector<std::string_view> names = metrics::LabelNames(*def);
    for (const auto& [label, value] : s.labels) {
      if (bucket && label == "le") continue;
      if (std::find(names.begin(), names.end(), label) == names.end()) {
        out.push_back(s.name + ": label " + label + " is not in the catalogue's (" +
                      std::string(def->labels) + ")");
      }
    }
  }
  return out;
}

std::set<std::string> ExportedFamilies(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) out.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return out;
}

bool IsValidUtf8(const std::string& text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

}  // namespace dora::test
