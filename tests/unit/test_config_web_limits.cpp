// The web.* connection-limit keys: read from the YAML, validated.
#include <catch2/catch.hpp>

#include "config/loader.h"

using namespace dora;

namespace {
bool Contains(const ConfigErrors& e, const std::string& needle) {
  for (const auto& s : e.errors)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST_CASE("web connection limits are read from the YAML", "[config]") {
  ConfigErrors errors;
  Config c = ParseConfig(
      "web:\n  header_timeout: 3s\n  idle_timeout: 1m\n  write_timeout: 5s\n  max_connections: 200\n"
      "  max_connections_per_address: 20\n",
      "test.yaml", &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  ValidateConfig(c, &errors);
  CHECK_FALSE(Contains(errors, "web."));
  CHECK(c.web.header_timeout == Millis(3000));
  CHECK(c.web.idle_timeout == Millis(60000));
  CHECK(c.web.write_timeout == Millis(5000));
  CHECK(c.web.max_connections == 200);
  CHECK(c.web.max_connections_per_address == 20);
}

TEST_CASE("web connection limits out of range are errors naming the key", "[config]") {
  ConfigErrors errors;
  Config c =
      ParseConfig("web:\n  header_timeout: 0s\n  max_connections: 0\n  max_connections_per_address: 5\n",
                  "test.yaml", &errors);
  REQUIRE(errors.empty());
  ValidateConfig(c, &errors);
  CHECK(Contains(errors, "web.header_timeout: must be greater than 0"));
  CHECK(Contains(errors, "web.max_connections: must be at least 1, got 0"));
  CHECK(Contains(errors,
                 "web.max_connections_per_address: must be between 1 and web.max_connections (0), got 5"));
  ConfigErrors bad;
  ParseConfig("web:\n  max_connections: lots\n", "test.yaml", &bad);
  CHECK(Contains(bad, "test.yaml:2:20: web.max_connections: expected an integer"));
}
