#include "incidents/avro.h"

#include <avro.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dora::incidents {
namespace {

using Json = nlohmann::json;

// docs/incident-event.avsc holds the same (tests/unit/test_incident_avro.cpp).
const char kSchema[] = R"({
  "type": "record",
  "name": "IncidentEvent",
  "namespace": "dora.kafka.exporter",
  "doc": "One transition of an alert dora-kafka-exporter evaluates itself (docs/incident-events.md). The daemon never classifies an incident as major.",
  "fields": [
    {"name": "schema_version", "type": "int"},
    {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "Unique per event, the same on every delivery: deduplicate by it."},
    {"name": "event_type", "type": "string", "doc": "opened, renotified or closed."},
    {"name": "incident_id", "type": "string", "doc": "The incident (one alert identity's firing episode); the message key."},
    {"name": "sequence", "type": "long", "doc": "The event's number within its incident: opened 0, then one more per event."},
    {"name": "alertname", "type": "string"},
    {"name": "severity", "type": ["null", "string"], "default": null},
    {"name": "labels", "type": {"type": "map", "values": "string"}},
    {"name": "annotations", "type": {"type": "map", "values": "string"}},
    {"name": "value", "type": ["null", "double"], "default": null},
    {"name": "detected_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "started_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "resolved_at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}], "default": null},
    {"name": "duration_seconds", "type": "double"},
    {"name": "close_reason", "type": ["null", "string"], "default": null, "doc": "closed: resolved, rule_disabled or restart."},
    {"name": "emitted_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "awareness_deadline", "type": {"type": "long", "logicalType": "timestamp-millis"}, "doc": "detected_at + 24 h."},
    {"name": "cluster_id", "type": ["null", "string"], "default": null},
    {"name": "instance", "type": "string"},
    {"name": "affected", "type": {
      "type": "record",
      "name": "Affected",
      "fields": [
        {"name": "topics", "type": {"type": "array", "items": "string"}},
        {"name": "consumer_groups", "type": {"type": "array", "items": "string"}},
        {"name": "brokers", "type": {"type": "array", "items": "string"}},
        {"name": "partitions", "type": {"type": "array", "items": "string"}}
      ]
    }}
  ]
}
)";

Status Bad(const std::string& what) { return Status::Error(Reason::kInternal, "avro: " + what); }

// Each setter answers a message on failure, "" when it worked.
struct Writer {
  std::string error;

  bool Field(avro_value_t* parent, const char* name, avro_value_t* out) {
    if (avro_value_get_by_name(parent, name, out, nullptr) != 0)
      error = std::string(name) + ": " + avro_strerror();
    return error.empty();
  }
  void String(avro_value_t* v, const Json& j, const char* name) {
    if (!j.is_string()) {
      error = std::string(name) + ": not a string";
      return;
    }
    if (avro_value_set_string(v, j.get_ref<const std::string&>().c_str()) != 0)
      error = std::string(name) + ": " + avro_strerror();
  }
  // A ["null", T] union: branch 0 for null, 1 for the value set by `set`.
  template <typename F>
  void Optional(avro_value_t* v, const Json& j, const char* name, F&& set) {
    avro_value_t branch;
    if (avro_value_set_branch(v, j.is_null() ? 0 : 1, &branch) != 0) {
      error = std::string(name) + ": " + avro_strerror();
      return;
    }
    if (j.is_null()) {
      avro_value_set_null(&branch);
    } else {
      set(&branch);
    }
  }
  void Time(avro_value_t* v, const Json& j, const char* name) {
    int64_t ms = 0;
    if (!j.is_string() || !ParseRfc3339Millis(j.get<std::string>(), &ms)) {
      error = std::string(name) + ": not an RFC 3339 time";
      return;
    }
    avro_value_set_long(v, ms);
  }
  void Map(avro_value_t* v, const Json& j, const char* name) {
    if (!j.is_object()) {
      error = std::string(name) + ": not an object";
      return;
    }
    for (const auto& [k, val] : j.items()) {
      avro_value_t e;
      if (avro_value_add(v, k.c_str(), &e, nullptr, nullptr) != 0) {
        error = std::string(name) + ": " + avro_strerror();
        return;
      }
      String(&e, val, name);
      if (!error.empty()) return;
    }
  }
  void Array(avro_value_t* v, const Json& j, const char* name) {
    if (!j.is_array()) {
      error = std::string(name) + ": not an array";
      return;
    }
    for (const auto& item : j) {
      avro_value_t e;
      if (avro_value_append(v, &e, nullptr) != 0) {
        error = std::string(name) + ": " + avro_strerror();
        return;
      }
      String(&e, item, name);
      if (!error.empty()) return;
    }
  }
};

}  // namespace

struct AvroEncoder::Impl {
  avro_schema_t schema = nullptr;
  avro_value_iface_t* iface = nullptr;
  ~Impl() {
    if (iface != nullptr) avro_value_iface_decref(iface);
    if (schema != nullptr) avro_schema_decref(schema);
  }
};

const std::string& AvroSchemaJson() {
  static const std::string kText = kSchema;
  return kText;
}

std::string AvroSubject(const std::string& strategy, const std::string& topic) {
  if (strategy == "record") return kAvroRecordName;
  if (strategy == "topic_record") return topic + "-" + kAvroRecordName;
  return topic + "-value";
}

bool ParseRfc3339Millis(const std::string& text, int64_t* ms) {
  std::tm tm{};
  int millis = 0;
  char z = 0;
  if (text.size() != 24 ||
      std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis, &z) != 8 ||
      z != 'Z')
    return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *ms = static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
  return true;
}

AvroEncoder::AvroEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AvroEncoder::~AvroEncoder() = default;

Result<std::unique_ptr<AvroEncoder>> AvroEncoder::Create() {
  auto impl = std::make_unique<Impl>();
  if (avro_schema_from_json_length(kSchema, sizeof kSchema - 1, &impl->schema) != 0)
    return Bad(std::string("schema: ") + avro_strerror());
  impl->iface = avro_generic_class_from_schema(impl->schema);
  if (impl->iface == nullptr) return Bad(std::string("schema: ") + avro_strerror());
  return std::unique_ptr<AvroEncoder>(new AvroEncoder(std::move(impl)));
}

Result<std::string> AvroEncoder::Encode(const std::string& event_json) const {
  const Json j = Json::parse(event_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Bad("the event is not a JSON object");
  avro_value_t root;
  if (avro_generic_value_new(impl_->iface, &root) != 0) return Bad(avro_strerror());
  Writer w;
  auto get = [&](const char* name) -> const Json& {
    static const Json kNull;
    auto it = j.find(name);
    return it == j.end() ? kNull : *it;
  };
  avro_value_t f;
  auto string = [&](const char* name) {
    if (w.error.empty() && w.Field(&root, name, &f)) w.String(&f, get(name), name);
  };
  auto opt_string = [&](const char* name) {
    if (w.error.empty() && w.Field(&root, name, &f))
      w.Optional(&f, get(name), name, [&](avro_value_t* b) { w.String(b, get(name), name); });
  };
  auto time = [&](const char* name) {
    if (w.error.empty() && w.Field(&root, name, &f)) w.Time(&f, get(name), name);
  };
  if (w.Field(&root, "schema_version", &f)) {
    if (!get("schema_version").is_number_integer()) w.error = "schema_version: not an integer";
    if (w.error.empty()) avro_value_set_int(&f, get("schema_version").get<int32_t>());
  }
  string("event_id");
  string("event_type");
  string("incident_id");
  if (w.error.empty() && w.Field(&root, "sequence", &f)) {
    if (!get("sequence").is_number_integer()) w.error = "sequence: not an integer";
    if (w.error.empty()) avro_value_set_long(&f, get("sequence").get<int64_t>());
  }
  string("alertname");
  opt_string("severity");
  if (w.error.empty() && w.Field(&root, "labels", &f)) w.Map(&f, get("labels"), "labels");
  if (w.error.empty() && w.Field(&root, "annotations", &f)) w.Map(&f, get("annotations"), "annotations");
  if (w.error.empty() && w.Field(&root, "value", &f)) {
    const Json& v = get("value");
    if (!v.is_null() && !v.is_number()) w.error = "value: not a number";
    if (w.error.empty())
      w.Optional(&f, v, "value", [&](avro_value_t* b) { avro_value_set_double(b, v.get<double>()); });
  }
  time("detected_at");
  time("started_at");
  if (w.error.empty() && w.Field(&root, "resolved_at", &f))
    w.Optional(&f, get("resolved_at"), "resolved_at",
               [&](avro_value_t* b) { w.Time(b, get("resolved_at"), "resolved_at"); });
  if (w.error.empty() && w.Field(&root, "duration_seconds", &f)) {
    if (!get("duration_seconds").is_number()) w.error = "duration_seconds: not a number";
    if (w.error.empty()) avro_value_set_double(&f, get("duration_seconds").get<double>());
  }
  opt_string("close_reason");
  time("emitted_at");
  time("awareness_deadline");
  opt_string("cluster_id");
  string("instance");
  avro_value_t affected;
  if (w.error.empty() && w.Field(&root, "affected", &affected)) {
    const Json& a = get("affected");
    for (const char* list : {"topics", "consumer_groups", "brokers", "partitions"}) {
      if (!w.error.empty()) break;
      if (!a.is_object()) {
        w.error = "affected: not an object";
        break;
      }
      auto it = a.find(list);
      if (it == a.end()) {
        w.error = std::string("affected.") + list + ": missing";
        break;
      }
      if (w.Field(&affected, list, &f)) w.Array(&f, *it, list);
    }
  }
  std::string out;
  if (w.error.empty()) {
    size_t size = 0;
    if (avro_value_sizeof(&root, &size) != 0) {
      w.error = avro_strerror();
    } else {
      out.assign(size, '\0');
      avro_writer_t writer = avro_writer_memory(out.data(), static_cast<int64_t>(out.size()));
      if (writer == nullptr || avro_value_write(writer, &root) != 0) w.error = avro_strerror();
      if (writer != nullptr) avro_writer_free(writer);
    }
  }
  avro_value_decref(&root);
  if (!w.error.empty()) return Bad(w.error);
  return out;
}

Result<std::string> AvroEncoder::EncodeFramed(const std::string& event_json, int32_t schema_id) const {
  auto body = Encode(event_json);
  if (!body.ok()) return body.status();
  std::string out(5, '\0');
  const auto id = static_cast<uint32_t>(schema_id);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((id >> (8 * (3 - i))) & 0xff);
  return out + body.value();
}

}  // namespace dora::incidents
