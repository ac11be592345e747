// A family the metric catalogue lacks must not compile (DORA_METRIC,
// metrics/catalogue.h). tests/CMakeLists.txt compiles this file once per
// DORA_CASE: case 0 (a catalogue name) must compile, case 1 must stop at the
// catalogue's static_assert.
#include "metrics/builder.h"
#include "metrics/catalogue.h"

namespace {

[[maybe_unused]] void Use(dora::MetricsBuilder& out) {
#if DORA_CASE == 0
  out.Add(out.Family(DORA_METRIC("kafka_brokers")), {}, 3);
#elif DORA_CASE == 1
  out.Add(out.Family(DORA_METRIC("kafka_brokers_typo")), {}, 3);
#else
#error "unknown DORA_CASE"
#endif
}

}  // namespace
