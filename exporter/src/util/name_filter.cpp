#include "util/name_filter.h"

namespace dora {

NameFilter::NameFilter(const RegexFilter& spec) {
  // Patterns were validated with the config; an invalid one here matches nothing.
  auto compile = [](const std::vector<std::string>& in, std::vector<std::regex>* out) {
    for (const auto& p : in) {
      try {
        out->emplace_back(p, std::regex::ECMAScript | std::regex::optimize);
      } catch (const std::regex_error&) {
      }
    }
  };
  compile(spec.include, &include_);
  compile(spec.exclude, &exclude_);
}

bool NameFilter::Matches(const std::string& name) {
  auto it = memo_.find(name);
  if (it != memo_.end()) return it->second;
  bool ok = false;
  for (const auto& re : include_) {
    if (std::regex_match(name, re)) {
      ok = true;
      break;
    }
  }
  if (ok) {
    for (const auto& re : exclude_) {
      if (std::regex_match(name, re)) {
        ok = false;
        break;
      }
    }
  }
  if (memo_.size() > 100000) memo_.clear();  // bound memory under name churn
  memo_[name] = ok;
  return ok;
}

}  // namespace dora
