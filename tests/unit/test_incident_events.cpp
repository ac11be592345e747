// Incident events (incidents/event.h): the evaluator's transition hook, the
// event's fields and ids, and every produced event against the JSON Schema
// in docs/incident-event.schema.json.
#include <catch2/catch.hpp>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "alerting/evaluator.h"
#include "incidents/event.h"
#include "support/json_schema.h"

using namespace dora;
using namespace dora::alerting;
using namespace dora::incidents;
using dora::test::ValidateJsonSchema;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

nlohmann::json Schema() {
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/docs/incident-event.schema.json");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

struct Seen {
  Alert alert;
  bool dropped;
};

// An evaluator with a clock under the test's control and every transition recorded.
struct Fixture {
  SysTime now = SysTime(seconds(1'700'000'000));
  AlertingConfig config;
  std::unique_ptr<Evaluator> eval;
  std::vector<Seen> seen;
  void Make() {
    eval = std::make_unique<Evaluator>(config, nullptr, [this] { return now; });
    eval->OnTransition([this](const Alert& a, bool dropped) { seen.push_back({a, dropped}); });
  }
  void Lag(std::map<std::string, double> groups) {
    RunInputs run;
    run.collector = "consumer_groups";
    run.published = run.success = true;
    auto& s = run.samples["kafka_consumergroup_lag_sum"];
    for (auto& [g, v] : groups) s.push_back({{{"consumergroup", g}, {"topic", "t"}}, v});
    eval->OnRun(std::move(run));
  }
};

Alert FiringAlert() {
  Alert a;
  a.labels = {{"alertname", "KafkaTopicPartitionOffline"},
              {"severity", "page"},
              {"topic", "incident-events"},
              {"partition", "3"}};
  a.annotations = {{"summary", "Partition 3 of incident-events is offline"},
                   {"description", "No leader."},
                   {"runbook_url", "https://example/runbooks.md#kafkatopicpartitionoffline"}};
  a.state = AlertState::kFiring;
  a.value = 1;
  a.active_at = SysTime(std::chrono::milliseconds(1'700'000'000'250));
  a.fired_at = a.active_at + minutes(1);
  return a;
}

}  // namespace

TEST_CASE("the evaluator calls the transition hook once when an alert fires and once when it resolves",
          "[incidents]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = seconds(30);
  f.Make();
  const SysTime start = f.now;
  f.Lag({{"orders", 20000}});  // pending: no transition
  CHECK(f.seen.empty());
  f.now += seconds(30);
  f.Lag({{"orders", 20500}});  // fires
  REQUIRE(f.seen.size() == 1);
  CHECK(f.seen[0].alert.state == AlertState::kFiring);
  CHECK_FALSE(f.seen[0].dropped);
  CHECK(f.seen[0].alert.active_at == start);
  CHECK(f.seen[0].alert.fired_at == start + seconds(30));
  CHECK(f.seen[0].alert.value == 20500);
  CHECK(f.seen[0].alert.annotations.count("summary") == 1);
  f.now += seconds(15);
  f.Lag({{"orders", 21000}});  // still firing: nothing
  CHECK(f.seen.size() == 1);
  f.now += seconds(15);
  f.Lag({{"orders", 10}});  // resolves
  REQUIRE(f.seen.size() == 2);
  CHECK(f.seen[1].alert.state == AlertState::kResolved);
  CHECK(f.seen[1].alert.resolved_at == start + seconds(60));
  CHECK(f.seen[1].alert.value == 21000);  // the last true evaluation's
  f.now += seconds(15);
  f.Lag({{"orders", 10}});  // kept resolved: nothing
  CHECK(f.seen.size() == 2);
  // A pending alert that turns false never fired: no transition.
  f.Lag({{"orders", 20000}});
  f.now += seconds(10);
  f.Lag({{"orders", 10}});
  CHECK(f.seen.size() == 2);
}

TEST_CASE("a reload that disables a rule passes its firing alerts as dropped", "[incidents]") {
  Fixture f;
  f.config.rules["KafkaConsumerGroupLagHigh"].for_duration = seconds(0);
  f.Make();
  f.Lag({{"orders", 20000}, {"billing", 30000}});
  REQUIRE(f.seen.size() == 2);
  AlertingConfig off = f.config;
  off.rules["KafkaConsumerGroupLagHigh"].enabled = false;
  f.eval->Configure(off);
  REQUIRE(f.seen.size() == 4);
  for (size_t i = 2; i < 4; ++i) {
    CHECK(f.seen[i].dropped);
    CHECK(f.seen[i].alert.state == AlertState::kFiring);
  }
  const Alert dropped = f.seen[2].alert;
  const IncidentEvent e = EventFromAlert(EventType::kClosed, dropped, f.now + seconds(1));
  CHECK(e.close_reason == "rule_disabled");
  CHECK(e.resolved_at == f.now + seconds(1));
  CHECK(e.incident_id == IncidentId(dropped.labels, dropped.active_at));
}

TEST_CASE("an incident's id is stable for one firing episode and new for the next", "[incidents]") {
  Alert a = FiringAlert();
  const std::string id = IncidentId(a.labels, a.active_at);
  CHECK(id.size() == 36);
  CHECK(id[14] == '8');  // UUID version 8
  CHECK(IncidentId(a.labels, a.active_at) == id);
  const IncidentEvent opened = EventFromAlert(EventType::kOpened, a, a.fired_at);
  a.state = AlertState::kResolved;
  a.resolved_at = a.fired_at + minutes(10);
  const IncidentEvent closed = EventFromAlert(EventType::kClosed, a, a.resolved_at);
  CHECK(opened.incident_id == id);
  CHECK(closed.incident_id == id);
  CHECK(closed.close_reason == "resolved");
  // Same alert, a later episode; or another label value: other incidents.
  CHECK(IncidentId(a.labels, a.active_at + std::chrono::milliseconds(1)) != id);
  Labels other = a.labels;
  other["partition"] = "4";
  CHECK(IncidentId(other, a.active_at) != id);
  // Label boundaries matter: {a: "bc"} is not {ab: "c"}.
  CHECK(IncidentId({{"a", "bc"}}, a.active_at) != IncidentId({{"ab", "c"}}, a.active_at));
}

TEST_CASE("event ids are random version-4 UUIDs", "[incidents]") {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(NewEventId());
  CHECK(ids.size() == 1000);
  for (const auto& id : ids) {
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '4');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
  }
}

TEST_CASE("an event carries the issue's fields and validates against the JSON Schema", "[incidents]") {
  const nlohmann::json schema = Schema();
  Alert a = FiringAlert();
  IncidentEvent e = EventFromAlert(EventType::kOpened, a, a.fired_at + seconds(2));
  e.event_id = NewEventId();
  e.cluster_id = "q1Sh-9_ISia_zwGINzRvyQ";
  e.instance = "exporter-0:9308";
  const nlohmann::json j = nlohmann::json::parse(ToJson(e));
  INFO(j.dump(2));
  CHECK(ValidateJsonSchema(schema, j).empty());
  CHECK(j["schema_version"] == 1);
  CHECK(j["event_id"] == e.event_id);
  CHECK(j["event_type"] == "opened");
  CHECK(j["incident_id"] == IncidentId(a.labels, a.active_at));
  CHECK(j["sequence"] == 0);
  CHECK(j["alertname"] == "KafkaTopicPartitionOffline");
  CHECK(j["severity"] == "page");
  CHECK(j["labels"]["topic"] == "incident-events");
  CHECK(j["annotations"]["runbook_url"] == "https://example/runbooks.md#kafkatopicpartitionoffline");
  CHECK(j["value"] == 1.0);
  CHECK(j["detected_at"] == "2023-11-14T22:13:20.250Z");
  CHECK(j["started_at"] == "2023-11-14T22:14:20.250Z");
  CHECK(j["resolved_at"].is_null());
  CHECK(j["close_reason"].is_null());
  CHECK(j["emitted_at"] == "2023-11-14T22:14:22.250Z");
  CHECK(j["duration_seconds"] == Approx(62.0));
  CHECK(j["awareness_deadline"] == "2023-11-15T22:13:20.250Z");
  CHECK(j["cluster_id"] == "q1Sh-9_ISia_zwGINzRvyQ");
  CHECK(j["instance"] == "exporter-0:9308");
  CHECK(j["affected"]["topics"] == nlohmann::json::array({"incident-events"}));
  CHECK(j["affected"]["partitions"] == nlohmann::json::array({"incident-events/3"}));
  CHECK(j["affected"]["consumer_groups"].empty());
  CHECK(j["affected"]["brokers"].empty());

  // closed: resolved_at, duration to it, close_reason; unknown cluster id: null.
  a.state = AlertState::kResolved;
  a.resolved_at = a.fired_at + minutes(9);
  IncidentEvent c = EventFromAlert(EventType::kClosed, a, a.resolved_at + seconds(1));
  c.event_id = NewEventId();
  c.sequence = 3;
  c.instance = "exporter-0:9308";
  const nlohmann::json k = nlohmann::json::parse(ToJson(c));
  CHECK(ValidateJsonSchema(schema, k).empty());
  CHECK(k["event_type"] == "closed");
  CHECK(k["resolved_at"] == "2023-11-14T22:23:20.250Z");
  CHECK(k["duration_seconds"] == Approx(600.0));
  CHECK(k["close_reason"] == "resolved");
  CHECK(k["cluster_id"].is_null());
  CHECK(k["sequence"] == 3);

  // renotified, a group alert, a value that is not finite, invalid UTF-8.
  Alert g;
  g.labels = {{"alertname", "KafkaConsumerGroupLagHigh"},
              {"severity", "ticket"},
              {"consumergroup", "billing\xff"},
              {"broker", "2"}};
  g.state = AlertState::kFiring;
  g.value = std::numeric_limits<double>::infinity();
  g.active_at = a.active_at;
  g.fired_at = a.fired_at;
  IncidentEvent r = EventFromAlert(EventType::kRenotified, g, g.fired_at + minutes(60));
  r.event_id = NewEventId();
  r.sequence = 1;
  const nlohmann::json rj = nlohmann::json::parse(ToJson(r));
  CHECK(ValidateJsonSchema(schema, rj).empty());
  CHECK(rj["value"].is_null());
  CHECK(rj["affected"]["consumer_groups"].size() == 1);
  CHECK(rj["affected"]["brokers"] == nlohmann::json::array({"2"}));
  CHECK(rj["resolved_at"].is_null());
}

TEST_CASE("the schema validator rejects what the schema forbids", "[incidents]") {
  const nlohmann::json schema = Schema();
  IncidentEvent e = EventFromAlert(EventType::kOpened, FiringAlert(), FiringAlert().fired_at);
  e.event_id = NewEventId();
  nlohmann::json j = nlohmann::json::parse(ToJson(e));
  REQUIRE(ValidateJsonSchema(schema, j).empty());
  nlohmann::json missing = j;
  missing.erase("incident_id");
  CHECK(ValidateJsonSchema(schema, missing).size() == 1);
  nlohmann::json extra = j;
  extra["major"] = true;  // the daemon never classifies
  CHECK(ValidateJsonSchema(schema, extra).size() == 1);
  nlohmann::json bad_time = j;
  bad_time["detected_at"] = "yesterday";
  CHECK(ValidateJsonSchema(schema, bad_time).size() == 1);
  nlohmann::json bad_type = j;
  bad_type["event_type"] = "escalated";
  CHECK(ValidateJsonSchema(schema, bad_type).size() == 1);
}
