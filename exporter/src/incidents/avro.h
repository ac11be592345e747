#pragma once
// Incident events in Avro (`incidents.format: avro`): the schema
// (docs/incident-event.avsc is a copy, kept equal by a unit test), the
// subject it is registered under, and the encoding of one event (the JSON of
// incidents/event.h, as the spool holds it) into the Confluent wire format:
// a zero byte, the schema id (4 bytes, big-endian), the Avro binary. The
// encoding is Debian's libavro (avro-c), not ours.
//
// Compatibility: every field a later version adds must have a default, and
// open sets (event_type, close_reason) are strings, not enums, so that a new
// value is a new schema version and never a breaking one.
//
// AvroEncoder is used from one thread at a time (the publisher's).
#include <cstdint>
#include <memory>
#include <string>

#include "util/status.h"

namespace dora::incidents {

// The record's full name (namespace.name).
inline constexpr char kAvroRecordName[] = "dora.kafka.exporter.IncidentEvent";

// The Avro schema (JSON text).
const std::string& AvroSchemaJson();

// The subject for `strategy` (incidents.subject_name_strategy): "topic":
// "<topic>-value"; "record": the record's full name; "topic_record":
// "<topic>-<full name>" (Confluent's TopicNameStrategy, RecordNameStrategy,
// TopicRecordNameStrategy).
std::string AvroSubject(const std::string& strategy, const std::string& topic);

class AvroEncoder {
 public:
  // Fails (reason "internal") only if libavro refuses the schema.
  static Result<std::unique_ptr<AvroEncoder>> Create();
  ~AvroEncoder();
  AvroEncoder(const AvroEncoder&) = delete;
  AvroEncoder& operator=(const AvroEncoder&) = delete;

  // The Avro binary of one event's JSON (no framing). Fails (reason
  // "internal") on JSON that is not an incident event.
  Result<std::string> Encode(const std::string& event_json) const;
  // Encode with the Confluent framing for `schema_id`.
  Result<std::string> EncodeFramed(const std::string& event_json, int32_t schema_id) const;

  struct Impl;

 private:
  explicit AvroEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "2026-12-07T08:00:00.250Z" -> unix milliseconds; false when not in that form.
bool ParseRfc3339Millis(const std::string& text, int64_t* ms);

}  // namespace dora::incidents
