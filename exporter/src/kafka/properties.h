#pragma once
// Turning KafkaConfig into a librdkafka configuration. Secret values (from
// property_files / property_env) are resolved here and never logged.
#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace dora {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// All librdkafka properties the config asks for, secrets resolved, in the order
// they are applied: defaults, bootstrap_servers/client_id, properties, files, env, extra.
Result<std::map<std::string, std::string>> ResolveKafkaProperties(
    const KafkaConfig& config, const std::map<std::string, std::string>& extra = {});

// Builds a conf; the error names the property (never the value of a secret one).
Result<ConfPtr> BuildKafkaConf(const KafkaConfig& config,
                               const std::map<std::string, std::string>& extra = {});

// Validation for ValidateConfig: one message per bad property.
std::vector<std::string> CheckKafkaProperties(const KafkaConfig& config);

}  // namespace dora
