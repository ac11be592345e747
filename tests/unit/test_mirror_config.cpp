// collectors.mirror's keys: a flow must join kafka.name and the peer's name,
// the peer needs brokers, and errors name the file, line and key.
#include <catch2/catch.hpp>

#include "config/flatten.h"
#include "config/loader.h"

using namespace dora;

namespace {

ConfigErrors Check(const std::string& yaml) {
  ConfigErrors errors;
  Config c = ParseConfig(yaml, "mirror.yaml", &errors);
  if (errors.empty()) ValidateConfig(c, &errors);
  return errors;
}

bool Has(const ConfigErrors& e, const std::string& text) {
  for (const auto& m : e.errors)
    if (m.find(text) != std::string::npos) return true;
  return false;
}

const char* kGood =
    "kafka: {name: primary}\n"
    "collectors:\n"
    "  mirror:\n"
    "    enabled: true\n"
    "    peer: {name: dr, bootstrap_servers: ['dr:9092']}\n"
    "    flows:\n"
    "      - {source: primary, target: dr, topics: {include: [orders]}}\n"
    "      - {source: dr, target: primary, replication_policy: identity, probe_topic: ''}\n";

}  // namespace

TEST_CASE("mirror config: flows both ways between kafka.name and the peer load", "[mirror][config]") {
  ConfigErrors errors;
  Config c = ParseConfig(kGood, "mirror.yaml", &errors);
  ValidateConfig(c, &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  REQUIRE(c.collectors.mirror.flows.size() == 2);
  CHECK(c.collectors.mirror.flows[0].topics.include == std::vector<std::string>{"orders"});
  CHECK(c.collectors.mirror.flows[0].replication_policy == "default");
  CHECK(c.collectors.mirror.flows[1].replication_policy == "identity");
  CHECK(c.collectors.mirror.flows[1].probe_topic.empty());
  CHECK(c.collectors.mirror.peer.bootstrap_servers == std::vector<std::string>{"dr:9092"});
  // The dump names each flow's keys.
  bool dumped = false;
  for (const auto& [k, v] : FlattenConfig(c))
    if (k == "collectors.mirror.flows[1].replication_policy" && v == "identity") dumped = true;
  CHECK(dumped);
}

TEST_CASE("mirror config: bad flows and a missing peer are errors naming the key", "[mirror][config]") {
  auto e = Check(
      "collectors:\n  mirror:\n    enabled: true\n    flows:\n"
      "      - {source: primary, target: elsewhere, replication_policy: mirror}\n");
  INFO(e.Joined());
  CHECK(Has(e, "kafka.name: required when collectors.mirror is enabled"));
  CHECK(Has(e, "collectors.mirror.peer.name: required"));
  CHECK(Has(e, "collectors.mirror.peer.bootstrap_servers: at least one broker address"));
  CHECK(Has(e, "mirror.yaml:5:"));
  CHECK(Has(e, "collectors.mirror.flows[0].replication_policy: expected default or identity"));

  e = Check(
      "kafka: {name: primary}\ncollectors:\n  mirror:\n    enabled: true\n"
      "    peer: {name: dr, bootstrap_servers: ['dr:9092'], property_files: {sasl.password: "
      "/nonexistent/pw}}\n"
      "    flows:\n      - {source: primary, target: nowhere}\n      - {source: primary, target: dr, "
      "probe_topic: 'bad topic'}\n");
  INFO(e.Joined());
  CHECK(Has(e, "collectors.mirror.flows[0].source: the flow primary->nowhere must join kafka.name"));
  CHECK(Has(e, "collectors.mirror.flows[1].probe_topic"));
  CHECK(Has(e, "collectors.mirror.peer.property_files.sasl.password"));
  e = Check("collectors:\n  mirror:\n    flows:\n      - {source: a, target: b, unknown: 1}\n");
  CHECK(Has(e, "collectors.mirror.flows[0].unknown: unknown key"));
}

TEST_CASE("mirror config: disabled by default, and a peer alone is no error", "[mirror][config]") {
  Config c;
  CHECK_FALSE(c.collectors.mirror.enabled);
  CHECK(c.collectors.mirror.flows.empty());
  CHECK(c.collectors.mirror.peer.bootstrap_servers.empty());
  auto e = Check("collectors:\n  mirror:\n    peer: {name: dr}\n");
  INFO(e.Joined());
  CHECK(e.empty());
}
