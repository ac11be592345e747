#include "app/flags.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace dora {

std::string UsageText() {
  return R"(Usage: dora-kafka-exporter [flags]

Prometheus exporter and alerting companion for Apache Kafka.

Flags:
  --config FILE                 YAML configuration (see config/exporter.yaml); optional
  --check-config                validate the configuration and exit (0 good, 2 bad)
  --once                        run every collector once, print the metrics, exit
  --version                     print the version and exit
  --log-level LEVEL             trace|debug|info|warn|error (also --log.level)
  --log-format FORMAT           text|json (also --log.format)
  --kafka.server HOST:PORT      bootstrap broker; repeatable; replaces kafka.bootstrap_servers
  --web.listen-address ADDR     listen address, default :9308
  --web.telemetry-path PATH     metrics path, default /metrics
  --web.config.file FILE        exporter-toolkit web config (TLS, basic auth)
  --schema-registry.url URL     schema registry to probe; repeatable
  --sharding.index N            this daemon's shard, 0 .. sharding.count-1 (a StatefulSet ordinal)
  --sharding.count N            daemons the consumer groups are split over (docs/deployment.md)
  -h, --help                    show this help
)";
}

namespace {
// A whole decimal number that fits an int, or nothing.
std::optional<int> ParseInt(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX) return std::nullopt;
  return static_cast<int>(v);
}
}  // namespace

Result<Flags> ParseFlags(int argc, const char* const* argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto take = [&](std::string* out) -> bool {
      if (has_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    auto missing = [&]() { return Status::Error(Reason::kConfig, "flag " + name + " needs a value"); };
    std::string v;
    if (name == "--config" || name == "--config.file") {
      if (!take(&f.config_file)) return missing();
    } else if (name == "--check-config") {
      f.check_config = true;
    } else if (name == "--once") {
      f.once = true;
    } else if (name == "--version") {
      f.version = true;
    } else if (name == "-h" || name == "--help") {
      f.help = true;
    } else if (name == "--log-level" || name == "--log.level") {
      if (!take(&v)) return missing();
      f.log_level = v;
    } else if (name == "--log-format" || name == "--log.format") {
      if (!take(&v)) return missing();
      f.log_format = v;
    } else if (name == "--kafka.server") {
      if (!take(&v)) return missing();
      f.kafka_servers.push_back(v);
    } else if (name == "--web.listen-address") {
      if (!take(&v)) return missing();
      f.listen_address = v;
    } else if (name == "--web.telemetry-path") {
      if (!take(&v)) return missing();
      f.telemetry_path = v;
    } else if (name == "--web.config.file") {
      if (!take(&v)) return missing();
      f.web_config_file = v;
    } else if (name == "--schema-registry.url") {
      if (!take(&v)) return missing();
      f.schema_registry_urls.push_back(v);
    } else if (name == "--sharding.index" || name == "--sharding.count") {
      if (!take(&v)) return missing();
      auto n = ParseInt(v);
      if (!n)
        return Status::Error(Reason::kConfig,
                             "flag " + name + ": expected a whole number, got \"" + v + "\"");
      (name == "--sharding.index" ? f.sharding_index : f.sharding_count) = *n;
    } else {
      return Status::Error(Reason::kConfig, "unknown flag " + name + " (see --help)");
    }
  }
  return f;
}

void ApplyFlags(const Flags& f, Config* c) {
  auto set = [c](const char* path, const char* flag) { c->locations[path] = std::string("flag ") + flag; };
  if (f.log_level) {
    c->log.level = *f.log_level;
    set("log.level", "--log.level");
  }
  if (f.log_format) {
    c->log.format = *f.log_format;
    set("log.format", "--log.format");
  }
  if (f.listen_address) {
    c->web.listen_address = *f.listen_address;
    set("web.listen_address", "--web.listen-address");
  }
  if (f.telemetry_path) {
    c->web.telemetry_path = *f.telemetry_path;
    set("web.telemetry_path", "--web.telemetry-path");
  }
  if (f.web_config_file) {
    c->web.config_file = *f.web_config_file;
    set("web.config_file", "--web.config.file");
  }
  if (!f.kafka_servers.empty()) {
    c->kafka.bootstrap_servers = f.kafka_servers;
    set("kafka.bootstrap_servers", "--kafka.server");
  }
  if (f.sharding_index) {
    c->sharding.index = *f.sharding_index;
    set("sharding.index", "--sharding.index");
  }
  if (f.sharding_count) {
    c->sharding.count = *f.sharding_count;
    set("sharding.count", "--sharding.count");
  }
  for (const auto& url : f.schema_registry_urls) {
    SchemaRegistryEndpoint e;
    e.url = url;
    e.name = url;
    e.timeout = c->collectors.schema_registry.timeout;
    set(("collectors.schema_registry.registries[" +
         std::to_string(c->collectors.schema_registry.registries.size()) + "]")
            .c_str(),
        "--schema-registry.url");
    c->collectors.schema_registry.registries.push_back(e);
  }
}

}  // namespace dora
