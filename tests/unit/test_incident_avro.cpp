// Incident events in Avro (incidents/avro.h, incidents/avro_registry.h): the
// schema file equals the built-in schema, an event encodes in the Confluent
// wire format and reads back with libavro's own reader, the subject names,
// and the registration against a fake registry. (The independent decoder,
// python3-avro, reads what a real broker returned in
// tests/integration/test_incident_events.cpp.)
#include <avro.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "incidents/avro.h"
#include "incidents/avro_registry.h"
#include "incidents/event.h"
#include "support/fake_registry.h"

using namespace dora;
using namespace dora::incidents;
using Json = nlohmann::json;

namespace {

std::string EventJson(bool closed) {
  alerting::Alert a;
  a.labels = {{"alertname", "KafkaTopicPartitionOffline"},
              {"severity", "page"},
              {"topic", "incident-events"},
              {"partition", "3"}};
  a.annotations = {{"summary", "Partition 3 of incident-events is offline"}};
  a.state = closed ? alerting::AlertState::kResolved : alerting::AlertState::kFiring;
  a.value = 1;
  a.active_at = alerting::SysTime(std::chrono::milliseconds(1'700'000'000'250));
  a.fired_at = a.active_at + std::chrono::minutes(1);
  a.resolved_at = a.fired_at + std::chrono::minutes(9);
  IncidentEvent e = EventFromAlert(closed ? EventType::kClosed : EventType::kOpened, a, a.fired_at);
  e.event_id = "0b6f9a0e-2f4c-4d5e-9b1a-7c3e2d1f0a9b";
  e.sequence = closed ? 1 : 0;
  e.instance = "exporter-0";
  if (closed) e.cluster_id = "q1Sh-9_ISia_zwGINzRvyQ";
  return ToJson(e);
}

// A field of a record read back by libavro.
std::string Str(avro_value_t* record, const char* name) {
  avro_value_t f;
  REQUIRE(avro_value_get_by_name(record, name, &f, nullptr) == 0);
  const char* s = nullptr;
  size_t size = 0;
  if (avro_value_get_type(&f) == AVRO_UNION) {
    int disc = -1;
    avro_value_t b;
    REQUIRE(avro_value_get_discriminant(&f, &disc) == 0);
    if (disc == 0) return "<null>";
    REQUIRE(avro_value_get_current_branch(&f, &b) == 0);
    REQUIRE(avro_value_get_string(&b, &s, &size) == 0);
    return std::string(s, size - 1);
  }
  REQUIRE(avro_value_get_string(&f, &s, &size) == 0);
  return std::string(s, size - 1);  // size counts the NUL
}

int64_t Long(avro_value_t* record, const char* name) {
  avro_value_t f;
  int64_t v = 0;
  REQUIRE(avro_value_get_by_name(record, name, &f, nullptr) == 0);
  if (avro_value_get_type(&f) == AVRO_UNION) {
    avro_value_t b;
    REQUIRE(avro_value_get_current_branch(&f, &b) == 0);
    REQUIRE(avro_value_get_long(&b, &v) == 0);
    return v;
  }
  REQUIRE(avro_value_get_long(&f, &v) == 0);
  return v;
}

}  // namespace

TEST_CASE("docs/incident-event.avsc is the schema the daemon registers", "[incidents][avro]") {
  std::ifstream in(std::string(DORA_SOURCE_DIR) + "/docs/incident-event.avsc");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(Json::parse(ss.str()) == Json::parse(AvroSchemaJson()));
  // Every member of the JSON event is a field of the record, in the same order.
  const Json schema = Json::parse(AvroSchemaJson());
  const nlohmann::ordered_json event = nlohmann::ordered_json::parse(EventJson(false));
  std::vector<std::string> fields, members;
  for (const auto& f : schema["fields"]) fields.push_back(f["name"]);
  for (const auto& m : event.items()) members.push_back(m.key());
  CHECK(fields == members);
}

TEST_CASE("an event encodes in the Confluent wire format and reads back", "[incidents][avro]") {
  auto enc = AvroEncoder::Create();
  REQUIRE(enc.ok());
  for (bool closed : {false, true}) {
    auto framed = enc.value()->EncodeFramed(EventJson(closed), 0x01020304);
    INFO(framed.status().message);
    REQUIRE(framed.ok());
    const std::string& bytes = framed.value();
    REQUIRE(bytes.size() > 5);
    CHECK(bytes.substr(0, 5) == std::string("\x00\x01\x02\x03\x04", 5));
    avro_schema_t schema = nullptr;
    REQUIRE(avro_schema_from_json_length(AvroSchemaJson().data(), AvroSchemaJson().size(), &schema) == 0);
    avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    REQUIRE(avro_generic_value_new(iface, &v) == 0);
    avro_reader_t r = avro_reader_memory(bytes.data() + 5, static_cast<int64_t>(bytes.size() - 5));
    REQUIRE(avro_value_read(r, &v) == 0);
    CHECK(Str(&v, "event_id") == "0b6f9a0e-2f4c-4d5e-9b1a-7c3e2d1f0a9b");
    CHECK(Str(&v, "event_type") == (closed ? "closed" : "opened"));
    CHECK(Str(&v, "alertname") == "KafkaTopicPartitionOffline");
    CHECK(Str(&v, "severity") == "page");
    CHECK(Long(&v, "sequence") == (closed ? 1 : 0));
    CHECK(Long(&v, "detected_at") == 1'700'000'000'250);
    CHECK(Long(&v, "started_at") == 1'700'000'060'250);
    CHECK(Long(&v, "awareness_deadline") == 1'700'000'000'250 + 24LL * 3600 * 1000);
    CHECK(Str(&v, "cluster_id") == (closed ? "q1Sh-9_ISia_zwGINzRvyQ" : "<null>"));
    CHECK(Str(&v, "close_reason") == (closed ? "resolved" : "<null>"));
    if (closed) CHECK(Long(&v, "resolved_at") == 1'700'000'600'250);
    avro_value_t labels, topic, affected, partitions, first;
    REQUIRE(avro_value_get_by_name(&v, "labels", &labels, nullptr) == 0);
    REQUIRE(avro_value_get_by_name(&labels, "topic", &topic, nullptr) == 0);
    const char* s = nullptr;
    size_t n = 0;
    REQUIRE(avro_value_get_string(&topic, &s, &n) == 0);
    CHECK(std::string(s) == "incident-events");
    REQUIRE(avro_value_get_by_name(&v, "affected", &affected, nullptr) == 0);
    REQUIRE(avro_value_get_by_name(&affected, "partitions", &partitions, nullptr) == 0);
    REQUIRE(avro_value_get_by_index(&partitions, 0, &first, nullptr) == 0);
    REQUIRE(avro_value_get_string(&first, &s, &n) == 0);
    CHECK(std::string(s) == "incident-events/3");
    avro_reader_free(r);
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
  }
  // Not an event: an error, never a crash.
  CHECK_FALSE(enc.value()->Encode("{}").ok());
  CHECK_FALSE(enc.value()->Encode("not json").ok());
  Json bad = Json::parse(EventJson(false));
  bad["detected_at"] = "yesterday";
  auto r = enc.value()->Encode(bad.dump());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message == "avro: detected_at: not an RFC 3339 time");
}

TEST_CASE("the schema's subject follows the configured naming strategy", "[incidents][avro]") {
  CHECK(AvroSubject("topic", "incident-events") == "incident-events-value");
  CHECK(AvroSubject("record", "incident-events") == "dora.kafka.exporter.IncidentEvent");
  CHECK(AvroSubject("topic_record", "incident-events") ==
        "incident-events-dora.kafka.exporter.IncidentEvent");
  int64_t ms = 0;
  CHECK(ParseRfc3339Millis("2026-12-07T08:00:00.250Z", &ms));
  CHECK(ms == 1'796'630'400'250);
  CHECK_FALSE(ParseRfc3339Millis("2026-12-07T08:00:00Z", &ms));
}

TEST_CASE("the schema is registered once under its subject and its id kept", "[incidents][avro]") {
  dora::test::FakeRegistry registry;
  REQUIRE(registry.running());
  HttpEndpoint endpoint;
  endpoint.url = registry.url();
  AvroRegistration reg(endpoint, AvroSubject("topic", "incident-events"));
  auto id = reg.Id();
  INFO(id.status().message);
  REQUIRE(id.ok());
  CHECK(id.value() == 100);
  CHECK(reg.Id().value() == 100);
  auto seen = registry.Registered();
  REQUIRE(seen.size() == 1);  // the second Id() did not ask again
  CHECK(seen[0].first == "incident-events-value");
  CHECK(Json::parse(seen[0].second) == Json::parse(AvroSchemaJson()));
  // Another daemon registering the same schema gets the same id.
  AvroRegistration other(endpoint, AvroSubject("topic", "incident-events"));
  CHECK(other.Id().value() == 100);
  // A registry that fails: an error naming the subject, retried by the next call.
  registry.SetFailure(dora::test::FakeRegistry::Failure::kHttp500);
  AvroRegistration failing(endpoint, "incident-events-value");
  auto err = failing.Id();
  REQUIRE_FALSE(err.ok());
  CHECK(err.status().message.find("registering under incident-events-value") != std::string::npos);
  CHECK(err.status().message.find("HTTP 500") != std::string::npos);
  registry.SetFailure(dora::test::FakeRegistry::Failure::kNone);
  CHECK(failing.Id().value() == 100);
}
