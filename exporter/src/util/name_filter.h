#pragma once
// Include/exclude regex lists (ECMAScript, full match); exclude wins. Decisions
// are memoised per name, so each name's regexes run once. Not thread-safe: one
// filter per collector.
#include <regex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"

namespace dora {

class NameFilter {
 public:
  explicit NameFilter(const RegexFilter& spec);
  bool Matches(const std::string& name);

 private:
  std::vector<std::regex> include_, exclude_;
  std::unordered_map<std::string, bool> memo_;
};

}  // namespace dora
