#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "app/flags.h"
#include "config/flatten.h"
#include "config/loader.h"

using namespace dora;

namespace {
Config Parse(const std::string& text, ConfigErrors* errors) { return ParseConfig(text, "test.yaml", errors); }

bool Contains(const ConfigErrors& e, const std::string& needle) {
  for (const auto& s : e.errors)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

void CollectLeafPaths(const YAML::Node& n, const std::string& path, std::set<std::string>* out) {
  if (n.IsMap() && !path.empty() && n.size() == 0) {
    out->insert(path);
    return;
  }
  if (n.IsMap()) {
    for (const auto& kv : n)
      CollectLeafPaths(kv.second, path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar(), out);
    return;
  }
  out->insert(path);
}
}  // namespace

TEST_CASE("config/exporter.yaml lists every key with exactly the built-in defaults", "[config]") {
  ConfigErrors errors;
  Config loaded = LoadConfigFile(std::string(DORA_SOURCE_DIR) + "/config/exporter.yaml", &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  FlatConfig want = FlattenConfig(Config{});
  FlatConfig got = FlattenConfig(loaded);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].first);
    CHECK(got[i] == want[i]);
  }
  // Every key of the model is spelled out in the file (not just defaulted).
  std::set<std::string> leaves;
  CollectLeafPaths(YAML::LoadFile(std::string(DORA_SOURCE_DIR) + "/config/exporter.yaml"), "", &leaves);
  for (const auto& [path, value] : want) {
    INFO(path);
    CHECK(leaves.count(path) == 1);
  }
  CHECK(leaves.size() == want.size());
}

TEST_CASE("unknown keys are errors naming file:line:column and the key path", "[config]") {
  ConfigErrors errors;
  Parse(
      "kafka:\n  bootstrap_servers: [a:1]\n  bootstrap_server: b\ncollectors:\n  cluster:\n    intervall: "
      "5s\n",
      &errors);
  REQUIRE(errors.errors.size() == 2);
  CHECK(Contains(errors, "test.yaml:3:3: kafka.bootstrap_server: unknown key"));
  CHECK(Contains(errors, "test.yaml:6:5: collectors.cluster.intervall: unknown key"));
}

TEST_CASE("every bad value is reported, not only the first", "[config]") {
  ConfigErrors errors;
  Parse(
      "collectors:\n  cluster:\n    interval: soon\n    enabled: maybe\n  offsets:\n    "
      "partitions_per_request: many\n",
      &errors);
  REQUIRE(errors.errors.size() == 3);
  CHECK(Contains(errors, "test.yaml:3:15: collectors.cluster.interval: expected a duration"));
  CHECK(
      Contains(errors, "test.yaml:4:14: collectors.cluster.enabled: expected true or false, got \"maybe\""));
  CHECK(Contains(errors, "test.yaml:6:29: collectors.offsets.partitions_per_request: expected an integer"));
}

TEST_CASE("invalid YAML names the position", "[config]") {
  ConfigErrors errors;
  Parse("kafka:\n  bootstrap_servers: [a:1\n", &errors);
  REQUIRE(errors.errors.size() == 1);
  CHECK(errors.errors[0].rfind("test.yaml:", 0) == 0);
  CHECK(Contains(errors, "invalid YAML"));
}

TEST_CASE("an unreadable file is one error naming it", "[config]") {
  ConfigErrors errors;
  LoadConfigFile("/nonexistent/dora.yaml", &errors);
  REQUIRE(errors.errors.size() == 1);
  CHECK(Contains(errors, "/nonexistent/dora.yaml: cannot read config file"));
}

TEST_CASE("values are parsed into the model", "[config]") {
  ConfigErrors errors;
  Config c = Parse(
      "kafka:\n  bootstrap_servers: [k1:9092, k2:9092]\n  properties: {security.protocol: SASL_SSL}\n"
      "collectors:\n  cluster: {interval: 1m30s, timeout: 250ms}\n"
      "  consumer_groups:\n    groups: {exclude: ['^console-']}\n    granularity: topic\n",
      &errors);
  INFO(errors.Joined());
  REQUIRE(errors.empty());
  CHECK(c.kafka.bootstrap_servers == std::vector<std::string>{"k1:9092", "k2:9092"});
  CHECK(c.kafka.properties.at("security.protocol") == "SASL_SSL");
  CHECK(c.collectors.cluster.interval == Millis(90000));
  CHECK(c.collectors.cluster.timeout == Millis(250));
  CHECK(c.collectors.consumer_groups.groups.exclude == std::vector<std::string>{"^console-"});
  CHECK(c.collectors.consumer_groups.groups.include == std::vector<std::string>{".*"});
  CHECK(c.collectors.consumer_groups.granularity == "topic");
}

TEST_CASE("validation names bad librdkafka properties and bad values", "[config]") {
  ConfigErrors errors;
  Config c = Parse(
      "kafka:\n  properties: {no.such.property: x, sasl.password: s3cr3t-value, security.protocol: "
      "carrier-pigeon}\n"
      "log: {level: loud}\ncollectors:\n  consumer_groups:\n    groups: {include: ['(']}\n",
      &errors);
  REQUIRE(errors.empty());
  ValidateConfig(c, &errors);
  CHECK(Contains(errors,
                 "kafka.properties.no.such.property: No such configuration property: \"no.such.property\""));
  CHECK(Contains(errors, "kafka.properties.security.protocol:"));
  CHECK(Contains(errors, "log.level: expected one of"));
  CHECK(Contains(errors, "collectors.consumer_groups.groups.include[0]: invalid regular expression"));
  for (const auto& e : errors.errors) CHECK(e.find("s3cr3t-value") == std::string::npos);
}

TEST_CASE("the probe topic must be a name Kafka accepts", "[config]") {
  auto errors_for = [](const std::string& topic) {
    ConfigErrors errors;
    Config c = Parse("collectors:\n  probe: {enabled: true, topic: '" + topic + "'}\n", &errors);
    REQUIRE(errors.empty());
    ValidateConfig(c, &errors);
    return errors;
  };
  CHECK(errors_for(std::string(249, 'p')).empty());
  CHECK(errors_for("__dora.probe-1_x").empty());
  CHECK(Contains(errors_for(std::string(250, 'p')),
                 "collectors.probe.topic: longer than Kafka's limit of 249 characters (250)"));
  for (const char* bad : {"probe topic", "probe/1", "caf\xc3\xa9", ".", ".."}) {
    INFO(bad);
    CHECK(Contains(errors_for(bad), "is not a legal Kafka topic name"));
  }
}

TEST_CASE("secret files and environment variables are checked without printing them", "[config]") {
  ConfigErrors errors;
  Config c;
  c.kafka.property_files["sasl.password"] = "/nonexistent/secret";
  c.kafka.property_env["sasl.username"] = "DORA_TEST_UNSET_VARIABLE";
  c.kafka.property_env["no.such.thing"] = "HOME";
  ValidateConfig(c, &errors);
  CHECK(Contains(errors, "kafka.property_files.sasl.password: cannot read \"/nonexistent/secret\""));
  CHECK(Contains(
      errors, "kafka.property_env.sasl.username: environment variable DORA_TEST_UNSET_VARIABLE is not set"));
  CHECK(Contains(errors, "kafka.property_env.no.such.thing: No such configuration property"));
}

TEST_CASE("flags override the file and accept kafka_exporter's names", "[config][flags]") {
  const char* argv[] = {"x",
                        "--kafka.server=a:1",
                        "--kafka.server",
                        "b:2",
                        "--web.listen-address=127.0.0.1:9999",
                        "--log.level=debug",
                        "--schema-registry.url=http://127.0.0.1:8081"};
  auto f = ParseFlags(7, argv);
  REQUIRE(f.ok());
  Config c;
  ApplyFlags(f.value(), &c);
  CHECK(c.kafka.bootstrap_servers == std::vector<std::string>{"a:1", "b:2"});
  CHECK(c.web.listen_address == "127.0.0.1:9999");
  CHECK(c.log.level == "debug");
  REQUIRE(c.collectors.schema_registry.registries.size() == 1);
  CHECK(c.collectors.schema_registry.registries[0].url == "http://127.0.0.1:8081");

  const char* bad[] = {"x", "--no-such-flag"};
  auto b = ParseFlags(2, bad);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message == "unknown flag --no-such-flag (see --help)");
  const char* novalue[] = {"x", "--config"};
  CHECK(ParseFlags(2, novalue).status().message == "flag --config needs a value");
}

TEST_CASE("listen addresses", "[config]") {
  std::string host;
  int port = 0;
  REQUIRE(ParseListenAddress(":9308", &host, &port));
  CHECK(host == "0.0.0.0");
  CHECK(port == 9308);
  REQUIRE(ParseListenAddress("[::1]:80", &host, &port));
  CHECK(host == "::1");
  CHECK_FALSE(ParseListenAddress("9308", &host, &port));
  CHECK_FALSE(ParseListenAddress("a:99999", &host, &port));
}

TEST_CASE("config dump redacts secret-named properties", "[config]") {
  Config c;
  c.kafka.properties["sasl.password"] = "hunter2";
  c.kafka.properties["sasl.username"] = "exporter";
  std::string all;
  for (const auto& [k, v] : FlattenConfig(c)) all += k + "=" + v + "\n";
  CHECK(all.find("hunter2") == std::string::npos);
  CHECK(all.find("sasl.password: <redacted>") != std::string::npos);
  CHECK(all.find("sasl.username: exporter") != std::string::npos);
}

TEST_CASE("config dump redacts the user and password of endpoint URLs", "[config][secret]") {
  Config c;
  AlertmanagerEndpoint am;
  am.name = "am";
  am.url = "https://pager:s3cr3t-pw@am.example:9093/";
  c.alerting.alertmanagers.push_back(am);
  std::string all;
  for (const auto& [k, v] : FlattenConfig(c)) all += k + "=" + v + "\n";
  CHECK(all.find("s3cr3t-pw") == std::string::npos);
  CHECK(all.find("pager") == std::string::npos);
  CHECK(all.find("url: https://[redacted]@am.example:9093/") != std::string::npos);
}

TEST_CASE("duplicate keys are errors at the second place, naming the first", "[config][fail-closed]") {
  ConfigErrors e;
  Parse("collectors:\n  offsets:\n    interval: 5s\n    timeout: 2s\n    interval: 1s\n", &e);
  REQUIRE(e.errors.size() == 1);
  CHECK(e.errors[0] == "test.yaml:5:5: duplicate key \"interval\" (first at test.yaml:3:5)");
  // Inside free-form maps (librdkafka properties) too, and in flow style.
  ConfigErrors f;
  Parse("kafka: {properties: {acks: all, acks: '1'}}\n", &f);
  REQUIRE(f.errors.size() == 1);
  CHECK(f.errors[0].find("duplicate key \"acks\"") != std::string::npos);
  // Distinct keys are fine.
  ConfigErrors g;
  Parse("kafka: {properties: {acks: all, linger.ms: '5'}}\n", &g);
  CHECK(g.empty());
}

TEST_CASE("an alias bomb is refused, not expanded", "[config][fail-closed]") {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev)
    text += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  ConfigErrors e;
  Parse(text, &e);
  REQUIRE_FALSE(e.empty());
  CHECK(e.errors[0].find("test.yaml: invalid YAML: more than 200000 nodes") == 0);
}

TEST_CASE("durations over a day are refused at their place", "[config]") {
  ConfigErrors e;
  Parse("retry:\n  max_backoff: 25h\n", &e);
  REQUIRE(e.errors.size() == 1);
  CHECK(e.errors[0] == "test.yaml:2:16: retry.max_backoff: must be at most 24h, got \"25h\"");
  ConfigErrors big;
  Parse("retry:\n  max_backoff: 999999999d999999999d\n", &big);
  REQUIRE(big.errors.size() == 1);
  CHECK(big.errors[0].find("retry.max_backoff: expected a duration") != std::string::npos);
}

TEST_CASE("the hot partition share is a share", "[config]") {
  auto errors_for = [](const std::string& share) {
    ConfigErrors errors;
    Config c = Parse("collectors:\n  offsets: {hot_partition_share: " + share + "}\n", &errors);
    REQUIRE(errors.empty());
    ValidateConfig(c, &errors);
    return errors;
  };
  CHECK(errors_for("0.5").empty());
  CHECK(errors_for("1").empty());
  for (const char* bad : {"0", "-0.1", "1.01"}) {
    INFO(bad);
    CHECK(Contains(errors_for(bad), "collectors.offsets.hot_partition_share: expected a share above 0"));
  }
}
