#include "kafka/library_version.h"

#include <librdkafka/rdkafka.h>

namespace dora {

std::string KafkaLibraryVersion() { return rd_kafka_version_str(); }

}  // namespace dora
