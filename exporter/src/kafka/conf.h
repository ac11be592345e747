#pragma once
// A librdkafka configuration built from KafkaConfig (kafka/properties.h).
// Internal to kafka/: it includes librdkafka's header.
#include <map>
#include <string>

#include "kafka/handle.h"
#include "kafka/properties.h"

namespace dora {

// Builds a conf; the error names the property (never the value of a secret one).
Result<ConfPtr> BuildKafkaConf(const KafkaConfig& config,
                               const std::map<std::string, std::string>& extra = {});

}  // namespace dora
