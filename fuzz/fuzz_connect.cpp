// Fuzzes the connect collector's handling of what a Kafka Connect worker
// sends: the body of GET /connectors?expand=status&expand=info walked by
// ParseConnectors (connector and task states, workers, traces reduced with
// the connector's secret config values), and ReduceTrace on raw text, then
// rendered as the collector does. Every label value must stay valid for the
// exposition format (the builder escapes; ReduceTrace keeps printable ASCII).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "collectors/connect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string line = dora::ReduceTrace(text, {"secret-value", text.substr(0, 8)}, 200);
  if (line.size() > 200) __builtin_trap();
  for (char c : line)
    if (c < 0x20 || c > 0x7e) __builtin_trap();
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return 0;
  dora::ConnectProbe probe;
  std::string error;
  if (dora::ParseConnectors(json, 50, 100, &probe, &error)) {
    probe.up = true;
    dora::MetricsBuilder out;
    dora::RenderConnectProbe("fuzz", probe, 0, out);
    (void)out.Render();
  }
  return 0;
}
