#pragma once
// Turning KafkaConfig into librdkafka properties. Secret values (from
// property_files / property_env, util/secret.h) are resolved here and never
// logged. The librdkafka conf built from them is kafka/conf.h (internal to kafka/).
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace dora {

// All librdkafka properties the config asks for, secrets resolved, in the order
// they are applied: defaults, bootstrap_servers/client_id, properties, files, env, extra.
Result<std::map<std::string, std::string>> ResolveKafkaProperties(
    const KafkaConfig& config, const std::map<std::string, std::string>& extra = {});

// Validation for ValidateConfig: one message per bad property, each
// "<section>.properties.<name>: ..." (section: where the connection is declared).
std::vector<std::string> CheckKafkaProperties(const KafkaConfig& config,
                                              const std::string& section = "kafka");

}  // namespace dora
