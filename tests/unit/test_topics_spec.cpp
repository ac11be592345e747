// config/topics.yaml: the topic conformance declarations and their errors.
#include <catch2/catch.hpp>
#include <string>

#include "config/topics_spec.h"

using namespace dora;

namespace {

bool Has(const ConfigErrors& e, const std::string& needle) {
  for (const auto& m : e.errors)
    if (m.find(needle) != std::string::npos) return true;
  return false;
}

std::string All(const ConfigErrors& e) {
  std::string s;
  for (const auto& m : e.errors) s += m + "\n";
  return s;
}

}  // namespace

TEST_CASE("topics file: the shipped config/topics.yaml loads without errors", "[topics_spec]") {
  ConfigErrors e;
  TopicsSpec spec = LoadTopicsSpec(std::string(DORA_SOURCE_DIR) + "/config/topics.yaml", &e);
  INFO(All(e));
  CHECK(e.errors.empty());
  REQUIRE(spec.topics.size() > 10);
  bool audit = false, dlq = false;
  for (const auto& t : spec.topics) {
    if (t.name == "audit-logs") {
      audit = true;
      CHECK(t.partitions == 12);  // from defaults
      CHECK(t.replication_factor == 3);
      CHECK(t.min_insync_replicas == 2);
    }
    dlq = dlq || (!t.pattern.empty() && t.name.empty());
  }
  CHECK(audit);
  CHECK(dlq);
}

TEST_CASE("topics file: defaults apply, entries override them, unset checks stay off", "[topics_spec]") {
  ConfigErrors e;
  TopicsSpec spec = ParseTopicsSpec(
      "defaults: {partitions: 12, replication_factor: 3}\n"
      "topics:\n"
      "  - name: audit-logs\n"
      "    retention_ms: -1\n"
      "  - name: agent-events\n"
      "    partitions: 6\n"
      "  - pattern: 'dlq-.*'\n",
      "t.yaml", &e);
  INFO(All(e));
  REQUIRE(e.errors.empty());
  REQUIRE(spec.topics.size() == 3);
  CHECK(spec.topics[0].partitions == 12);
  CHECK(spec.topics[0].replication_factor == 3);
  CHECK(spec.topics[0].min_insync_replicas == -1);  // not checked
  CHECK(spec.topics[0].retention_ms == -1);         // forever, checked
  CHECK(spec.topics[1].partitions == 6);
  CHECK(spec.topics[1].retention_ms == -2);  // not checked
  CHECK(spec.topics[2].pattern == "dlq-.*");
  CHECK(spec.topics[2].name.empty());
}

TEST_CASE("topics file: every error names file, line, column and key", "[topics_spec]") {
  SECTION("unknown keys, with the known ones listed") {
    ConfigErrors e;
    ParseTopicsSpec(
        "defaults: {partitions: 12, replicas: 3}\n"
        "topics:\n"
        "  - name: audit-logs\n"
        "    partitons: 6\n"
        "extra: 1\n",
        "t.yaml", &e);
    INFO(All(e));
    CHECK(e.errors.size() == 3);
    CHECK(Has(e, "t.yaml:1:28: defaults.replicas: unknown key (known keys: "));
    CHECK(Has(e,
              "t.yaml:4:5: topics[0].partitons: unknown key (known keys: min_insync_replicas, name, "
              "partitions, pattern, replication_factor, retention_ms)"));
    CHECK(Has(e, "t.yaml:5:1: extra: unknown key (known keys: defaults, topics)"));
  }
  SECTION("bad values") {
    ConfigErrors e;
    ParseTopicsSpec(
        "topics:\n"
        "  - name: a\n"
        "    partitions: 0\n"
        "  - name: b\n"
        "    retention_ms: soon\n"
        "  - name: a\n"
        "  - pattern: '('\n"
        "  - name: c\n"
        "    pattern: c.*\n"
        "  - just-a-string\n",
        "t.yaml", &e);
    INFO(All(e));
    CHECK(Has(e, "t.yaml:3:17: topics[0].partitions: expected an integer >= 1, got \"0\""));
    CHECK(Has(e, "t.yaml:5:19: topics[1].retention_ms: expected an integer >= -1, got \"soon\""));
    CHECK(Has(e, "t.yaml:6:11: topics[2].name: duplicate topic \"a\""));
    CHECK(Has(e, "t.yaml:7:14: topics[3].pattern: invalid regular expression"));
    CHECK(Has(e, "t.yaml:8:5: topics[4]: needs exactly one of name or pattern"));
    CHECK(Has(e, "t.yaml:10:5: topics[5]: expected a mapping with name or pattern"));
    CHECK(e.errors.size() == 6);
  }
  SECTION("shape") {
    ConfigErrors e;
    ParseTopicsSpec("defaults: [1]\ntopics: {a: 1}\n", "t.yaml", &e);
    INFO(All(e));
    CHECK(Has(e, "t.yaml:1:11: defaults: expected a mapping"));
    CHECK(Has(e, "t.yaml:2:9: topics: expected a list"));
  }
  SECTION("not YAML, not a mapping, no file") {
    ConfigErrors e;
    ParseTopicsSpec("topics: [a, b\n", "t.yaml", &e);
    CHECK(Has(e, "t.yaml:2:1: invalid YAML: "));
    ConfigErrors e2;
    ParseTopicsSpec("- a\n", "t.yaml", &e2);
    CHECK(Has(e2, "t.yaml: expected a mapping with defaults and topics"));
    ConfigErrors e3;
    LoadTopicsSpec("/nonexistent/topics.yaml", &e3);
    CHECK(Has(e3, "/nonexistent/topics.yaml: cannot read topics file: No such file or directory"));
  }
}
