// Fuzzes the librdkafka statistics parser of the broker_stats collector
// (ParseBrokerStats, pure) and renders what it accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collectors/broker_stats.h"
#include "metrics/builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string json(reinterpret_cast<const char*>(data), size);
  auto parsed = dora::ParseBrokerStats(json);
  if (parsed.ok()) {
    dora::MetricsBuilder out;
    dora::RenderBrokerStats(parsed.value(), out);
    (void)out.Render();
  }
  return 0;
}
