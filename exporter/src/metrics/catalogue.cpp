#include "metrics/catalogue.h"

namespace dora::metrics {
namespace {

constexpr bool NamesUnique() {
  for (size_t i = 0; i < kCatalogueSize; ++i) {
    for (size_t j = i + 1; j < kCatalogueSize; ++j) {
      if (kCatalogue[i].name == kCatalogue[j].name) return false;
    }
  }
  return true;
}
static_assert(NamesUnique(), "a metric family is declared twice in the catalogue");

}  // namespace

std::vector<std::string_view> LabelNames(const FamilyDef& def) {
  std::vector<std::string_view> out;
  std::string_view rest = def.labels;
  while (!rest.empty()) {
    const size_t comma = rest.find(", ");
    out.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 2);
  }
  return out;
}

}  // namespace dora::metrics
