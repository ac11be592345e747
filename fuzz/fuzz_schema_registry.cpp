// Fuzzes what the schema_registry collector exposes as pure functions: URL
// parsing (ParseRegistryUrl), the registry label (credentials stripped) and
// path-segment encoding, plus nlohmann's non-throwing parse of a response body
// walked the way the collector reads GET /subjects and GET /config. The
// collector's own response handling lives in a private class of
// schema_registry.cpp and is not reachable from here.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "collectors/schema_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto url = dora::ParseRegistryUrl(text);
  if (url) (void)url->origin();
  dora::SchemaRegistryEndpoint e;
  e.url = text;
  (void)dora::RegistryLabel(e);
  (void)dora::EncodePathSegment(text);
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_discarded()) {
    if (json.is_array()) {
      for (const auto& s : json)
        if (s.is_string()) (void)dora::EncodePathSegment(s.get<std::string>());
    } else if (json.is_object()) {
      for (const char* f : {"compatibilityLevel", "compatibility", "mode"}) {
        auto it = json.find(f);
        if (it != json.end() && it->is_string()) (void)it->get<std::string>();
      }
    }
  }
  return 0;
}
