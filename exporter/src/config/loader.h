#pragma once
// YAML loading and validation. Every error names file:line:column and the key
// path; all errors are collected, not just the first. Unknown keys are errors.
#include <string>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace dora {

struct ConfigErrors {
  std::vector<std::string> errors;
  bool empty() const { return errors.empty(); }
  std::string Joined() const;
};

// Parses YAML text; `source` names the file in messages. On error, returns the
// defaults-filled Config and fills `errors`.
Config ParseConfig(const std::string& yaml_text, const std::string& source, ConfigErrors* errors);

// Reads and parses a file (unreadable file -> one error naming it).
Config LoadConfigFile(const std::string& path, ConfigErrors* errors);

// Semantic checks that need the whole config (ranges, regexes, librdkafka
// properties, addresses). Appends to `errors`.
void ValidateConfig(const Config& config, ConfigErrors* errors);

// Host and port of a "host:port" / ":port" / "[v6]:port" listen address.
bool ParseListenAddress(const std::string& addr, std::string* host, int* port);

}  // namespace dora
