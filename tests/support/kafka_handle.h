#pragma once
// A bare librdkafka handle from literal properties, for the test support and
// the benchmark's cluster tools (the daemon builds its handles from its config
// in kafka/client.cpp). No Catch2 here: bench/ compiles this file too.
#include <librdkafka/rdkafka.h>

#include <map>
#include <string>

namespace dora::test {

// Throws std::runtime_error naming the property librdkafka rejected. With
// log_errors, librdkafka's errors (level <= 3) go to stderr; otherwise its log
// is dropped.
rd_kafka_t* NewHandle(rd_kafka_type_t type, const std::map<std::string, std::string>& props,
                      bool log_errors = false);

}  // namespace dora::test
