#include "support/metrics_text.h"

#include <cstdlib>
#include <sstream>

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

}  // namespace dora::test
