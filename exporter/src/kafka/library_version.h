#pragma once
// The version of the librdkafka the exporter runs with (--version and the
// librdkafka_version label of kafka_exporter_build_info), so nothing outside
// kafka/ needs librdkafka's header for it.
#include <string>

namespace dora {

// The runtime library's version string, e.g. "2.0.2".
std::string KafkaLibraryVersion();

}  // namespace dora
