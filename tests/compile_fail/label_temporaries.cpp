// Label values that would view a temporary std::string must not compile (see
// LabelValue in metrics/builder.h). tests/CMakeLists.txt compiles this file
// once per DORA_CASE: case 0 (lvalues, literals) must compile, every other
// case must be rejected with a use of LabelValue's deleted constructor.
#include <string>
#include <vector>

#include "metrics/builder.h"

namespace {

[[maybe_unused]] std::string Name() { return "by-value"; }

[[maybe_unused]] void Use(dora::MetricsBuilder& out, const std::string* member, int id) {
  auto f = out.Family({"f", dora::MetricType::kGauge, "", "", "", "help"});
  const std::string named = std::to_string(id);
  const std::string none;
  const std::string& chosen = member != nullptr ? *member : none;
#if DORA_CASE == 0
  out.Add(f, {{"id", named}, {"member", chosen}, {"kind", "literal"}}, 1);
  const std::vector<dora::Label> labels = {{"id", named}, {"member", chosen}};
  out.Add(f, labels, 1);
#elif DORA_CASE == 1
  // A ternary of a string and a literal is a temporary std::string.
  const std::vector<dora::Label> labels = {{"member", member != nullptr ? *member : ""}};
  out.Add(f, labels, 1);
#elif DORA_CASE == 2
  out.Add(f, {{"id", std::to_string(id)}}, 1);
#elif DORA_CASE == 3
  const std::vector<dora::Label> labels = {{"name", Name()}};
  out.Add(f, labels, 1);
#else
#error "unknown DORA_CASE"
#endif
  (void)named;
  (void)chosen;
}

}  // namespace
