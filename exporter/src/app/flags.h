#pragma once
// Command-line flags. Flags override the config file; kafka_exporter's flag
// names are accepted so existing deployments keep their arguments.
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace dora {

struct Flags {
  std::string config_file;
  bool check_config = false;
  bool once = false;
  bool version = false;
  bool help = false;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::optional<std::string> listen_address;
  std::optional<std::string> telemetry_path;
  std::optional<std::string> web_config_file;
  std::vector<std::string> kafka_servers;
  std::vector<std::string> schema_registry_urls;
  std::optional<int> sharding_index;  // a StatefulSet pod's ordinal (docs/deployment.md)
  std::optional<int> sharding_count;
};

Result<Flags> ParseFlags(int argc, const char* const* argv);
void ApplyFlags(const Flags& flags, Config* config);
std::string UsageText();

}  // namespace dora
